"""Lossless coding measurements: the ``exact`` codec against zstd -19 and xz -9.

Used by ``tools/bench_lossless.py`` (arguments, printing, the figure and file writing): clip
simulation (the synthetic sample and a sparse low-light-like clip), ratio and encode/decode
speed rows (wall and CPU seconds), peak memory of child processes, the block-size and noise
sweeps, and the docs/results-lossless.md page.
"""

from __future__ import annotations

import lzma
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["REPEATS", "SPARSE", "bench_exact", "bench_general", "child_memory", "clip_row",
           "lossless_page", "make_sparse", "make_synthetic", "memory_rows", "print_clip_row",
           "sweep"]

#: decodes are timed this many times and the fastest kept (encodes once: they are slow for xz)
REPEATS = 3
SPARSE = {"gain": 0.05, "dark_current": 0.004, "noise_std": 0.01, "seed": 1}


def make_sparse(path: Path, frames: int = 1024, noise_std: float = SPARSE["noise_std"]) -> None:
    """A 250x400 clip resembling a low-light capture (:data:`SPARSE`) written to ``path``."""
    from spkc.spikes.synthetic import SyntheticScene, simulate_to_file

    scene = SyntheticScene(250, 400, SPARSE["seed"])
    blocks = (scene.frames(t, min(64, frames - t)) for t in range(0, frames, 64))
    simulate_to_file(path, blocks, 250, 400, frames, gain=SPARSE["gain"],
                     dark_current=SPARSE["dark_current"], noise_std=noise_std,
                     seed=SPARSE["seed"])


def make_synthetic(path: Path) -> None:
    """The built-in 400-frame synthetic sample (``spkc simulate --synthetic``) at ``path``."""
    from spkc.spikes.synthetic import simulate_sample

    simulate_sample(path, 400)  # what `spkc simulate --synthetic -o path` writes


def bench_exact(src: Path, work: Path, block: int | None = None) -> dict[str, Any]:
    """Ratio, encode/decode frames/s (wall and CPU) of the ``exact`` codec on ``src``; decodes
    best of :data:`REPEATS`, checked equal to the source (``"exact"``)."""
    from spkc import pipeline as spkc
    from spkc.io import read_spikes

    dst = work / (src.stem + ".spkc")
    opts = {} if block is None else {"block_frames": block}
    t0, c0 = time.perf_counter(), time.process_time()
    res = spkc.compress(src, dst, codec="exact", codec_options=opts)
    enc, enc_cpu = time.perf_counter() - t0, time.process_time() - c0
    dec = dec_cpu = float("inf")
    for _ in range(REPEATS):  # best of REPEATS, as for zstd / xz below
        t0, c0 = time.perf_counter(), time.process_time()
        n = 0
        with spkc.open(dst) as clip:
            for part in clip.iter_spikes():
                n += len(part)
        dec = min(dec, time.perf_counter() - t0)
        dec_cpu = min(dec_cpu, time.process_time() - c0)
    ref = read_spikes(src)
    with spkc.open(dst) as clip:
        ok = n == len(ref) and all(np.array_equal(part, ref[k * clip.block_frames:][:len(part)])
                                   for k, part in enumerate(clip.iter_spikes()))
    T = res.num_frames
    return {"ratio": res.ratio, "enc_fps": T / enc, "dec_fps": T / dec,
            "enc_cpu_fps": T / enc_cpu, "dec_cpu_fps": T / dec_cpu,
            "exact": ok, "bytes": res.file_bytes}


def bench_general(raw: bytes, frames: int, which: str) -> dict[str, Any]:
    """Ratio and frames/s of ``"zstd -19"`` or ``"xz -9"`` on the raw bytes in memory."""
    import zstandard

    if which == "zstd -19":
        comp = zstandard.ZstdCompressor(level=19).compress
        decomp = zstandard.ZstdDecompressor().decompress
    else:
        def comp(b: bytes) -> bytes:
            return lzma.compress(b, preset=9)
        decomp = lzma.decompress
    t0, c0 = time.perf_counter(), time.process_time()
    packed = comp(raw)
    enc, enc_cpu = time.perf_counter() - t0, time.process_time() - c0
    dec = dec_cpu = float("inf")
    for _ in range(REPEATS):
        t0, c0 = time.perf_counter(), time.process_time()
        back = decomp(packed)
        dec = min(dec, time.perf_counter() - t0)
        dec_cpu = min(dec_cpu, time.process_time() - c0)
    assert back == raw
    return {"ratio": len(raw) / len(packed), "enc_fps": frames / enc, "dec_fps": frames / dec,
            "enc_cpu_fps": frames / enc_cpu, "dec_cpu_fps": frames / dec_cpu}


def child_memory(src: str, block: int) -> None:
    """In a child process: compress + full decode of ``src`` with ``exact``; peak RSS back."""
    from spkc import pipeline as spkc
    from spkc.eval.proc import write_child_result

    with tempfile.TemporaryDirectory() as d:
        dst = Path(d) / "m.spkc"
        spkc.compress(src, dst, codec="exact", codec_options={"block_frames": block})
        with spkc.open(dst) as clip:
            for _ in clip.iter_spikes():
                pass
    write_child_result({"block": block})


def memory_rows(work: Path, sparse: Path, child_argv: list[str]) -> list[dict[str, Any]]:
    """Peak RSS of children compressing + decoding the sparse clip (and it twice over) at
    several block sizes; each child is ``child_argv + [src, block]`` and calls
    :func:`child_memory`."""
    from spkc.eval.proc import run_measured
    from spkc.io import read_spikes, write_spikes

    double = work / "sparse_x2.dat"
    s = read_spikes(sparse)
    write_spikes(double, np.concatenate([s, s]))
    del s
    rows = []
    for src, frames, block in ((sparse, 1024, 128), (sparse, 1024, 256), (double, 2048, 256),
                               (double, 2048, 512)):
        r = run_measured([*child_argv, str(src), str(block)], timeout=600)
        rows.append({"frames": frames, "block": block,
                     "block_mb": block * 250 * 400 / 1e6,
                     "peak_mb": r.peak_rss_bytes / 1e6 if r.peak_rss_bytes else float("nan")})
    return rows


def sweep(work: Path, clips: dict[str, Path]
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Ratio/decode speed of ``exact`` against the block size (clips "synthetic", "sparse"),
    and the sparse clip's ratio (exact, xz -9) against the simulated noise."""
    from spkc.io import read_spikes

    rows = []
    for name in ("synthetic", "sparse"):
        for block in (64, 128, 256, 512, 1024):
            r = bench_exact(clips[name], work, block)
            rows.append({"clip": name, "block": block, **r})
    noise_rows = []
    for noise in (0.0, 0.005, 0.01, 0.02):
        p = work / f"sparse_noise{noise}.dat"
        make_sparse(p, noise_std=noise)
        raw = p.read_bytes()
        x = bench_general(raw, 1024, "xz -9")
        e = bench_exact(p, work)
        s = read_spikes(p)
        noise_rows.append({"noise": noise, "rate": float(s.mean()), "exact": e["ratio"],
                           "xz": x["ratio"], "x_xz": e["ratio"] / x["ratio"]})
    return rows, noise_rows


def clip_row(name: str, src: Path, work: Path) -> dict[str, Any]:
    """One clip (a 250x400 .dat) coded by exact, zstd -19 and xz -9: ``res`` per coder and the
    ``checks`` of the issue (ratio >= 2x xz, encode faster than zstd, decode >= 1000 f/s)."""
    raw = src.read_bytes()
    frames = len(raw) // (250 * 400 // 8)
    rate = float(np.unpackbits(np.frombuffer(raw, np.uint8)).mean())
    res = {"exact": bench_exact(src, work),
           "zstd -19": bench_general(raw, frames, "zstd -19"),
           "xz -9": bench_general(raw, frames, "xz -9")}
    e, z, x = res["exact"], res["zstd -19"], res["xz -9"]
    checks = {"exact round trip": e["exact"],
              "ratio >= 2x xz -9": e["ratio"] / x["ratio"] >= 2.0,
              "encode faster than zstd -19": e["enc_cpu_fps"] / z["enc_cpu_fps"] >= 1.0,
              "decode >= 1000 frames/s": e["dec_cpu_fps"] >= 1000}
    return {"clip": name, "frames": frames, "rate": rate, "res": res, "checks": checks}


def print_clip_row(row: dict[str, Any]) -> None:
    """The lines the benchmark prints for one :func:`clip_row`."""
    name, frames, rate, res, checks = (row[k] for k in ("clip", "frames", "rate", "res",
                                                          "checks"))
    for coder, r in res.items():
        print(f"{name:12s} {frames:6d} {rate:6.3f} {coder:9s} {r['ratio']:7.3f} "
              f"{r['enc_fps']:8.0f} {r['dec_fps']:8.0f} {r['enc_cpu_fps']:8.0f} "
              f"{r['dec_cpu_fps']:8.0f}")
    e, z, x = res["exact"], res["zstd -19"], res["xz -9"]
    print(f"{'':12s} exact/xz {e['ratio'] / x['ratio']:.2f}x, encode speed/zstd "
          f"{e['enc_cpu_fps'] / z['enc_cpu_fps']:.1f}x (cpu) "
          f"{e['enc_fps'] / z['enc_fps']:.1f}x (wall); "
          + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()))


def lossless_page(rows: list[dict[str, Any]], mem: list[dict[str, Any]],
                  sw: list[dict[str, Any]], noise: list[dict[str, Any]], took: float,
                  commit: str) -> list[str]:
    """Lines of docs/results-lossless.md from :func:`clip_row` rows, :func:`memory_rows` and
    :func:`sweep` (figure ``figures/lossless.png`` referenced, not drawn)."""
    from spkc.codecs.exact import ExactCodec

    L = ["# Lossless coding (`exact`) against zstd -19 and xz -9", "",
         "Generated by `python tools/bench_lossless.py --sweep --write` -- do not edit by hand.",
         "",
         f"* commit `{commit}`; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; took "
         f"{took:.0f} s",
         f"* machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
         f"(shared with other jobs: wall times vary +-20 % between runs), Python "
         f"{platform.python_version()}",
         f"* `exact` v{ExactCodec.version}, default block {ExactCodec.default_block_frames} "
         "frames; bitstream in [spec/exact.md](../spec/exact.md)",
         "* ratio: raw 1-bit size (`T*H*W/8`, the .dat size) / coded size (`exact`: the whole "
         ".spkc file, header and index included)",
         "* `exact` encode: `spkc.compress(src.dat, dst.spkc, codec=\"exact\")` including reading"
         " the .dat and writing the file; decode: `spkc.open(dst).iter_spikes()` over the whole "
         "clip, then compared with the source (every clip decoded exactly); zstd/xz: the "
         "python bindings on the raw bytes in memory; decodes best of 3, encodes once",
         "* sparse: the synthetic scene generator (seed 1) with gain 0.05, dark current 0.004, "
         "accumulator noise 0.01/frame, 1024 frames", "",
         "![lossless](figures/lossless.png)", "",
         "| clip | frames | rate | coder | ratio | encode frames/s (cpu) | decode frames/s "
         "(cpu) | encode frames/s (wall) | decode frames/s (wall) |",
         "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for coder, v in r["res"].items():
            L.append(f"| {r['clip']} | {r['frames']} | {r['rate']:.3f} | {coder} | "
                     f"{v['ratio']:.3f} | {v['enc_cpu_fps']:.0f} | {v['dec_cpu_fps']:.0f} | "
                     f"{v['enc_fps']:.0f} | {v['dec_fps']:.0f} |")
    L += ["", "## Targets", "",
          "Speeds in CPU seconds of the benchmark process (see the machine line above).", "",
          "| clip | exact / xz -9 ratio (target >= 2) | encode speed exact / zstd -19 "
          "(target >= 1) | decode frames/s (target >= 1000) |", "|---|---|---|---|"]
    for r in rows:
        e, z, x = r["res"]["exact"], r["res"]["zstd -19"], r["res"]["xz -9"]
        ok = r["checks"]
        L.append(f"| {r['clip']} | {e['ratio'] / x['ratio']:.2f} "
                 f"{'met' if ok['ratio >= 2x xz -9'] else '**missed**'} | "
                 f"{e['enc_cpu_fps'] / z['enc_cpu_fps']:.1f} "
                 f"{'met' if ok['encode faster than zstd -19'] else '**missed**'} | "
                 f"{e['dec_cpu_fps']:.0f} "
                 f"{'met' if ok['decode >= 1000 frames/s'] else '**missed**'} |")
    sections = (
        (mem, "Peak memory",
         "Resident high-water mark of a child process that compresses the sparse clip and "
         "decodes it in full (interpreter, numpy and torch imports included):",
         "| frames | block | block as 1-byte pixels | peak RSS |",
         lambda m: f"| {m['frames']} | {m['block']} | {m['block_mb']:.0f} MB | "
                   f"{m['peak_mb']:.0f} MB |"),
        (sw, "Block size",
         "Blocks decode independently (random access, damage confinement); each starts its "
         "context model and every pixel's history afresh, so short blocks cost ratio.",
         "| clip | block | ratio | decode frames/s (cpu) |",
         lambda r: f"| {r['clip']} | {r['block']} | {r['ratio']:.3f} | "
                   f"{r['dec_cpu_fps']:.0f} |"),
        (noise, "Sparse clip against simulated noise",
         "Same scene, gain and dark current; accumulator noise per frame (fraction of the "
         "threshold) varied. Noise makes intervals unpredictable for `exact` but hardly "
         "changes what xz finds.",
         "| noise | rate | exact | xz -9 | exact / xz |",
         lambda r: f"| {r['noise']} | {r['rate']:.4f} | {r['exact']:.2f} | {r['xz']:.2f} | "
                   f"{r['x_xz']:.2f} |"))
    for items, title, intro, header, row in sections:
        if items:
            L += ["", f"## {title}", "", intro, "", header,
                  "|" + "---|" * (header.count("|") - 1), *map(row, items)]
    return L

