"""Run a benchmark stage in its own process and measure its peak memory.

Peak memory is the child's own high-water resident set, ``VmHWM`` of ``/proc/self/status``,
read by the child when its stage is done. It counts everything the stage's process touched,
interpreter and imports included (``baseline_rss`` -- the same after the imports, before the
stage -- is reported beside it, so the stage's own growth can be read off).

Why not ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` / ``os.wait4``: on Linux a child's
``ru_maxrss`` keeps the high-water mark of the address space it had *before* ``exec``, i.e.
the forking parent's RSS, so a stage launched from a large parent reads as large as the
parent. ``wait4``'s value is kept as ``rusage_maxrss_bytes`` (an upper bound) and is the
fallback where ``/proc`` is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class StageRun:
    """One measured child process: its exit status, JSON result, peak RSS and wall time."""

    returncode: int
    result: dict[str, Any]
    #: the child's own peak RSS (VmHWM it reported), else rusage_maxrss_bytes
    peak_rss_bytes: int
    wall_seconds: float
    stderr_tail: str
    #: os.wait4 ru_maxrss: an upper bound (includes the parent's RSS at fork)
    rusage_maxrss_bytes: int


def _maxrss_bytes(ru_maxrss: int) -> int:
    # Linux: KiB; macOS: bytes
    return int(ru_maxrss) if sys.platform == "darwin" else int(ru_maxrss) * 1024


def self_peak_rss_bytes() -> int:
    """Peak RSS of this process image so far (bytes): VmHWM, else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    import resource

    return _maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def run_measured(argv: list[str], timeout: float | None = None,
                 env: dict[str, str] | None = None) -> StageRun:
    """Run ``argv`` (a child that writes one JSON object to the file named by the environment
    variable ``SPKC_BENCH_RESULT``) and return its result with its own peak RSS."""
    with tempfile.TemporaryDirectory(prefix="spkc-bench-") as tmp:
        res_path = os.path.join(tmp, "result.json")
        err_path = os.path.join(tmp, "stderr.txt")
        child_env = dict(os.environ if env is None else env)
        child_env["SPKC_BENCH_RESULT"] = res_path
        t0 = time.perf_counter()
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=child_env)
            deadline = None if timeout is None else t0 + timeout
            while True:
                # wait4 reaps the child and returns its own rusage (not other children's)
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if deadline is not None and time.perf_counter() > deadline:
                    proc.kill()
                    pid, status, ru = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        result: dict[str, Any] = {}
        if os.path.exists(res_path):
            with open(res_path) as f:
                result = json.load(f)
        with open(err_path, "rb") as f:
            tail = f.read()[-2000:].decode(errors="replace")
        upper = _maxrss_bytes(ru.ru_maxrss)
        peak = int(result.get("peak_rss_bytes", upper))
        return StageRun(proc.returncode, result, peak, wall, tail, upper)


def write_child_result(result: dict[str, Any]) -> None:
    """In a child started by :func:`run_measured`: hand ``result`` back to the parent, with the
    child's peak RSS so far added as ``peak_rss_bytes`` (call it when the stage is done)."""
    result = {**result, "peak_rss_bytes": self_peak_rss_bytes()}
    path = os.environ.get("SPKC_BENCH_RESULT")
    if path is None:
        print(json.dumps(result))
        return
    with open(path, "w") as f:
        json.dump(result, f)
