"""Helpers shared by several test modules (import as ``from _helpers import ...``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np


def if_spikes(shape: tuple[int, int, int], seed: int, rate_lo: float = 0.02,
              rate_hi: float = 0.4) -> np.ndarray:
    """Integrate-and-fire spikes of a smooth random rate map (what the model is built for)."""
    rng = np.random.default_rng(seed)
    T, H, W = shape
    rate = rate_lo + (rate_hi - rate_lo) * rng.random((1, H, W))
    acc = rng.random((H, W))
    out = np.zeros(shape, bool)
    for t in range(T):
        acc = acc + rate[0] * (1 + 0.1 * np.sin(t / 7.0))
        out[t] = acc >= 1
        acc[out[t]] -= 1
    return out


def kill_writer_after(script: str, args: list[str], flushed: int, timeout: float = 60) -> int:
    """Run ``python -c script *args``, a writer that prints the index of each chunk it has
    flushed, and SIGKILL it once it reports ``flushed`` (or after ``timeout`` seconds, or when
    it stops printing). Returns the last index it reported (-1: none)."""
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                            text=True)
    try:
        last = -1
        deadline = time.monotonic() + timeout
        while last < flushed and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            last = int(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    return last


def slow_exact_writer(call: str) -> str:
    """A script for :func:`kill_writer_after`: ``ExactCodec.encode_block`` slowed down and
    printing, before it codes block n, that block n-1 was handed to the writer (and so
    flushed); then ``call`` (which reads its paths from ``sys.argv``)."""
    return textwrap.dedent("""
        import sys, time
        import spkc
        from spkc.codecs.exact import ExactCodec
        enc = ExactCodec.encode_block
        n = [0]
        def slow(self, s):
            print(n[0] - 1, flush=True)
            n[0] += 1
            time.sleep(0.01)
            return enc(self, s)
        ExactCodec.encode_block = slow
    """) + textwrap.dedent(call)


def killed_exact_write(tmp_path: Path, call: str, spikes: np.ndarray,
                       flushed: int) -> tuple[Path, int]:
    """Save ``spikes`` as ``long.npy``, run ``call`` (reading it, writing ``k.spkc``) under
    :func:`slow_exact_writer` and kill it after block ``flushed``. Returns the ``.partial``
    file it left and the last block it reported flushed."""
    src = tmp_path / "long.npy"
    np.save(src, spikes)
    dst = tmp_path / "k.spkc"
    last = kill_writer_after(slow_exact_writer(call), [str(src), str(dst)], flushed)
    assert last >= flushed, "child did not write blocks"
    assert not dst.exists()
    return Path(str(dst) + ".partial"), last
