"""Peak-memory measurement of benchmark stages (spkc.eval.proc)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from spkc.eval.proc import run_measured

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

MiB = 2**20
_CHILD = ("import sys; from spkc.eval.proc import write_child_result; "
          "b = bytearray(int(sys.argv[1]) * 2**20); b[::4096] = b'x' * len(b[::4096]); "
          "write_child_result({'n': len(b)})")


def test_child_peak_counts_its_own_allocation():
    small = run_measured([sys.executable, "-c", _CHILD, "1"], timeout=60)
    big = run_measured([sys.executable, "-c", _CHILD, "200"], timeout=60)
    assert small.returncode == big.returncode == 0
    assert big.result["n"] == 200 * MiB
    assert big.peak_rss_bytes - small.peak_rss_bytes > 180 * MiB


def test_child_peak_is_not_the_parents():
    # ru_maxrss of a child inherits the parent's RSS at fork; VmHWM does not
    ballast = np.ones(400 * MiB, np.uint8)
    run = run_measured([sys.executable, "-c", _CHILD, "1"], timeout=60)
    assert run.returncode == 0
    assert run.peak_rss_bytes < 200 * MiB
    assert run.rusage_maxrss_bytes >= run.peak_rss_bytes
    del ballast


def test_failing_child_reports_status_and_stderr():
    run = run_measured([sys.executable, "-c", "raise SystemExit('boom')"], timeout=60)
    assert run.returncode == 1 and "boom" in run.stderr_tail and run.result == {}
