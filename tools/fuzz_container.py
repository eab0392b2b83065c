#!/usr/bin/env python
"""Time-boxed hypothesis fuzzer for the .spkc container reader.

Usage: python tools/fuzz_container.py --seconds 600 [--crash-dir DIR] [--seed N]

Runs hypothesis batches, round robin over four targets, until the time is up:

* ``mutate``   valid files (several shapes) hit by byte/bit set, insert, delete, duplicate,
               truncate and CRC-valid chunk splices;
* ``garbage``  random bytes, bare or after a valid preamble + header;
* ``bitflip``  1-4 flipped bits in a valid file must be detected (verify not ok or open fails)
               and no damaged scene may be returned as good data;
* ``roundtrip`` arbitrary headers / metadata / payloads must come back exactly.

For every input the reader's whole surface is exercised (``spkc.container.testing.exercise``);
an exception that is not a ``SpkcError`` or a broken invariant is a failure. Prints executions,
failures and executions per second per target; failing inputs go to ``--crash-dir``.
Exit status 1 if anything failed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from spkc.container import Header, SpkcReader, SpkcWriter
from spkc.container import format as fmt
from spkc.container.testing import exercise
from spkc.errors import SpkcError

BATCH = 200


class Fuzz:
    def __init__(self, crash_dir: Path | None, workdir: Path) -> None:
        self.crash_dir = crash_dir
        self.path = workdir / "fuzz.spkc"
        self.execs: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.seen: set[str] = set()
        self.seeds = [self._make_seed(workdir, i) for i in range(4)]

    # -- seed corpus ---------------------------------------------------------------------
    @staticmethod
    def _make_seed(workdir: Path, i: int) -> tuple[bytes, list[dict[str, bytes]], dict]:
        rng = random.Random(i)
        p = workdir / f"seed{i}.spkc"
        n = [0, 1, 5, 12][i]
        h = Header(height=rng.randrange(1, 300), width=rng.randrange(1, 300),
                   frames_per_scene=rng.randrange(1, 50), codec=["raw", "jxl", "learned", "x"][i],
                   codec_config={"q": i, "tiles": [1, 2]}, regen={"gain": 0.3})
        meta = [{}, {"a": 1}, {"note": "spikes " * 200, "ok": True}, {"f": 0.5}][i]
        scenes = []
        with SpkcWriter(p, h, meta) as w:
            for k in range(n):
                keys = ["y", "z"] if k % 3 else ["img"]
                s = {key: rng.randbytes(rng.randrange(0, 60)) for key in keys}
                scenes.append(s)
                w.add_scene(s, h.frames_per_scene if k < n - 1 else 1)
        data = p.read_bytes()
        if i == 3:  # an unfinished file too
            with SpkcReader(p) as r:
                data = data[: r._index_offset]
        return data, scenes, meta

    # -- bookkeeping -------------------------------------------------------------------------
    def _fail(self, target: str, data: bytes, why: str) -> None:
        self.failures[target] = self.failures.get(target, 0) + 1
        key = why.splitlines()[-1][:200] if why else "?"
        if key not in self.seen:
            self.seen.add(key)
            print(f"[{target}] FAILURE: {key}", flush=True)
        if self.crash_dir is not None:
            self.crash_dir.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha256(data).hexdigest()[:16]
            (self.crash_dir / f"{target}-{name}.spkc").write_bytes(data)
            (self.crash_dir / f"{target}-{name}.txt").write_text(why)

    def run_bytes(self, target: str, data: bytes, check=None) -> None:
        self.execs[target] = self.execs.get(target, 0) + 1
        self.path.write_bytes(data)
        try:
            try:
                got = exercise(self.path)
            except SpkcError:
                got = None
            if check is not None:
                check(got)
        except Exception:  # noqa: BLE001 - every non-SpkcError is a finding
            self._fail(target, data, traceback.format_exc())

    # -- targets -------------------------------------------------------------------------
    def batch_mutate(self, s: int) -> None:
        ops = st.lists(st.tuples(st.sampled_from(
            ["set", "flip", "insert", "delete", "dup", "truncate", "chunk"]),
            st.integers(0, 1 << 30), st.binary(min_size=1, max_size=12)), min_size=1, max_size=6)

        @seed(s)
        @settings(max_examples=BATCH, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(st.integers(0, len(self.seeds) - 1), ops)
        def t(which, muts):
            b = bytearray(self.seeds[which][0])
            for op, pos, blob in muts:
                i = pos % (len(b) + 1)
                if op == "set" and b:
                    b[i % len(b)] = blob[0]
                elif op == "flip" and b:
                    b[i % len(b)] ^= 1 << (pos % 8)
                elif op == "insert":
                    b[i:i] = blob
                elif op == "delete":
                    del b[i : i + blob[0] % 32 + 1]
                elif op == "dup":
                    b[i:i] = b[i : i + blob[0]]
                elif op == "truncate":
                    del b[i:]
                elif op == "chunk":
                    types = [fmt.T_SCENE, fmt.T_KEYS, fmt.T_META, fmt.T_INDEX, fmt.T_END,
                             fmt.T_HEADER, b"xtra", b"XTRA"]
                    b[i:i] = fmt.make_chunk(types[pos % len(types)], blob * (blob[0] % 5))
            self.run_bytes("mutate", bytes(b))

        t()

    def batch_garbage(self, s: int) -> None:
        prefix = self.seeds[1][0]
        with SpkcReader(_write_tmp(self.path, prefix)) as r:
            start = r._data_start

        @seed(s)
        @settings(max_examples=BATCH, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(st.binary(max_size=3000), st.sampled_from([b"", None, b"SCNE", b"sidx", b"PKEY"]))
        def t(data, head):
            if head is None:
                self.run_bytes("garbage", data)
            else:
                self.run_bytes("garbage", prefix[:start] + head + data)

        t()

    def batch_bitflip(self, s: int) -> None:
        @seed(s)
        @settings(max_examples=BATCH, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(st.integers(1, len(self.seeds) - 1),
               st.lists(st.integers(0, 1 << 40), min_size=1, max_size=4, unique=True))
        def t(which, flips):
            good, scenes, meta = self.seeds[which]
            b = bytearray(good)
            bits = {f % (8 * len(b)) for f in flips}
            for bit in bits:
                b[bit // 8] ^= 1 << (bit % 8)

            def check(got):
                if got is None:
                    return
                if got["report"].ok:
                    raise AssertionError(f"bits {sorted(bits)} flipped and not detected")
                for k, pl in got["scenes"].items():
                    if pl is not None and (k >= len(scenes) or pl != scenes[k]):
                        raise AssertionError(f"scene {k} returned wrong data")
                if got["metadata"] not in (None, meta):
                    raise AssertionError("metadata returned wrong data")

            self.run_bytes("bitflip", bytes(b), check)

        t()

    def batch_roundtrip(self, s: int) -> None:
        jsonish = st.recursive(st.none() | st.booleans() | st.integers()
                               | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
                               lambda x: st.lists(x, max_size=3)
                               | st.dictionaries(st.text(max_size=5), x, max_size=3),
                               max_leaves=8)
        objs = st.dictionaries(st.text(max_size=6), jsonish, max_size=4)
        name = st.text(max_size=8)
        meta = st.dictionaries(st.text(max_size=10), st.text(max_size=300) | st.booleans()
                               | st.integers(-(2**63), 2**64 - 1)
                               | st.floats(allow_nan=False, allow_infinity=False), max_size=5)

        @seed(s)
        @settings(max_examples=BATCH // 4, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(st.integers(1, 65535), st.integers(1, 65535), st.integers(1, 100), objs, objs,
               name.filter(bool), meta, st.lists(st.dictionaries(name, st.binary(max_size=200),
                                                                 max_size=3), max_size=5))
        def t(hh, ww, fps, cfg, regen, codec, md, scenes):
            h = Header(height=hh, width=ww, frames_per_scene=fps, codec=codec, codec_config=cfg,
                       regen=regen)
            p = self.path.with_suffix(".rt.spkc")
            self.execs["roundtrip"] = self.execs.get("roundtrip", 0) + 1
            try:
                with SpkcWriter(p, h, md) as w:
                    for k, sc in enumerate(scenes):
                        w.add_scene(sc, fps if k < len(scenes) - 1 else 1)
                got = exercise(p)
                ok = (got["header"] == h and got["metadata"] == md and got["report"].ok
                      and [got["scenes"][k] for k in range(len(scenes))] == scenes)
                if not ok:
                    raise AssertionError("round trip mismatch")
            except Exception:  # noqa: BLE001
                self._fail("roundtrip", p.read_bytes() if p.exists() else b"",
                           traceback.format_exc())

        t()


def _write_tmp(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (s)")
    ap.add_argument("--crash-dir", type=Path, default=None, help="where to save failing inputs")
    ap.add_argument("--seed", type=int, default=0, help="first hypothesis seed")
    args = ap.parse_args(argv)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="spkc-fuzz-", dir=shm) as tmp:
        fz = Fuzz(args.crash_dir, Path(tmp))
        targets = [fz.batch_mutate, fz.batch_garbage, fz.batch_bitflip, fz.batch_roundtrip]
        t0 = time.monotonic()
        spent = {t.__name__: 0.0 for t in targets}
        s = args.seed
        last_print = t0
        while time.monotonic() - t0 < args.seconds:
            for target in targets:
                a = time.monotonic()
                try:
                    target(s)
                except Exception:  # noqa: BLE001 - hypothesis re-raises inside failures
                    fz._fail(target.__name__, b"", traceback.format_exc())
                spent[target.__name__] += time.monotonic() - a
                s += 1
            if time.monotonic() - last_print > 60:
                last_print = time.monotonic()
                print(f"  {last_print - t0:6.0f} s: {sum(fz.execs.values())} executions, "
                      f"{sum(fz.failures.values())} failures", flush=True)
        elapsed = time.monotonic() - t0
    total = sum(fz.execs.values())
    nfail = sum(fz.failures.values())
    print(f"fuzz_container: {elapsed:.0f} s, {total} executions "
          f"({total / elapsed:.0f}/s), {nfail} failures, {len(fz.seen)} distinct")
    for name, fn in zip(["mutate", "garbage", "bitflip", "roundtrip"], targets, strict=True):
        n = fz.execs.get(name, 0)
        t = spent[fn.__name__]
        print(f"  {name:9s} {n:9d} executions  {n / max(t, 1e-9):7.0f}/s  "
              f"{fz.failures.get(name, 0)} failures")
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
