#!/usr/bin/env python
"""Large-file memory benchmark (issue 4): compress a >= 2 GB synthetic .dat in bounded memory.

1. Simulates a short synthetic clip (integrate-and-fire on a moving textured scene) and writes
   it to a .dat over and over, each repetition slightly varied (rolled sideways, every other
   one played backwards), until the file reaches ``--size-gb`` GiB. The big file is never held
   in memory: only the short clip is.
2. Compresses it with a fast conventional codec (default: jxl) in a child process and reports
   that process's peak RSS (``VmHWM``: the child's own high-water resident set, interpreter and
   imports included; see :mod:`spkc.eval.proc`), wall time and throughput (spike frames/s and MB/s
   of raw .dat input).
3. In another child: opens the .spkc, reads one frame in the middle and reports how many
   scenes that random access decoded (``Clip.stats.scenes_decoded``), its peak RSS and time.
4. Deletes the big files (unless ``--keep``).

    python tools/bench_memory.py                 # 2 GiB, the real test (~disk 2.1 GB)
    python tools/bench_memory.py --size-gb 0.05  # quick check

Exit status 1 when a peak RSS reaches ``--limit-gb`` (default 1.5).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GIB = 1024 ** 3


def make_big_dat(path: Path, size_gb: float, height: int, width: int, clip_frames: int,
                 seed: int = 0) -> dict:
    """Write a .dat of at least ``size_gb`` GiB by repeating a short simulated clip."""
    from spkc.io import DatWriter
    from spkc.io.dat import frame_bytes
    from spkc.spikes import integrate_and_fire, synthetic_intensity

    fb = frame_bytes(height, width)
    total = -(-int(size_gb * GIB) // fb)  # frames, rounded up: at least size_gb
    intensity = synthetic_intensity(clip_frames, height, width, seed=seed)
    clip = integrate_and_fire(intensity, gain=0.45, init="random", seed=seed)
    del intensity
    written = 0
    rep = 0
    t0 = time.perf_counter()
    with DatWriter(path, height, width) as w:
        while written < total:
            # small variations so no two repetitions are byte-identical
            block = np.roll(clip, shift=7 * rep, axis=2)
            if rep % 2:
                block = block[::-1]
            n = min(len(block), total - written)
            w.write(block[:n])
            written += n
            rep += 1
    return {"frames": written, "bytes": path.stat().st_size, "repetitions": rep,
            "seconds": time.perf_counter() - t0}


def _preload(codec: str) -> None:
    """Import what the stage will import, so ``baseline_rss`` covers the libraries."""
    import spkc.codecs.reconstructors  # noqa: F401
    import spkc.container  # noqa: F401
    import spkc.io  # noqa: F401
    from spkc.codecs import get_codec_class

    get_codec_class(codec)


def _child_compress(args: argparse.Namespace) -> None:
    from spkc.eval.proc import self_peak_rss_bytes, write_child_result
    from spkc.pipeline import compress

    _preload(args.codec)
    base = self_peak_rss_bytes()
    t0 = time.perf_counter()
    res = compress(args.src, args.dst, codec=args.codec, quality=args.quality,
                   frames_per_scene=args.frames_per_scene, height=args.height, width=args.width)
    write_child_result({"seconds": time.perf_counter() - t0, "baseline_rss": base,
                        **res.to_dict()})


def _child_access(args: argparse.Namespace) -> None:
    from spkc.eval.proc import self_peak_rss_bytes, write_child_result
    from spkc.pipeline import open as open_clip

    _preload(args.codec)
    base = self_peak_rss_bytes()
    t0 = time.perf_counter()
    with open_clip(args.dst) as clip:
        T = clip.shape[0]
        mid = T // 2
        frame = clip.spikes(mid, mid + 1)
        out = {"frame": mid, "num_frames": T, "num_scenes": clip.num_scenes,
               "scenes_decoded": clip.stats.scenes_decoded,
               "decoded_indices": list(clip.stats.decoded_indices),
               "spikes_in_frame": int(frame.sum()),
               "seconds": time.perf_counter() - t0, "baseline_rss": base}
    write_child_result(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-gb", type=float, default=2.0, help="size of the .dat in GiB")
    ap.add_argument("--dir", default=None, help="where to put the big file (default: a temp dir)")
    ap.add_argument("--codec", default="jxl")
    ap.add_argument("--quality", type=int, default=None)
    ap.add_argument("--frames-per-scene", type=int, default=32)
    ap.add_argument("--height", type=int, default=250)
    ap.add_argument("--width", type=int, default=400)
    ap.add_argument("--clip-frames", type=int, default=256,
                    help="frames of the short simulated clip that is repeated")
    ap.add_argument("--limit-gb", type=float, default=1.5, help="peak RSS limit (GiB)")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the big .dat and .spkc")
    ap.add_argument("--child", choices=["compress", "access"], help=argparse.SUPPRESS)
    ap.add_argument("--src", help=argparse.SUPPRESS)
    ap.add_argument("--dst", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child == "compress":
        _child_compress(args)
        return 0
    if args.child == "access":
        _child_access(args)
        return 0

    from spkc.eval.proc import run_measured

    work = Path(tempfile.mkdtemp(prefix="spkc-bigdat-", dir=args.dir))
    src, dst = work / "big.dat", work / "big.spkc"
    try:
        free = shutil.disk_usage(work).free
        need = args.size_gb * GIB * 1.05
        if free < need:
            print(f"not enough disk in {work}: {free / GIB:.1f} GiB free, need "
                  f"{need / GIB:.1f}", file=sys.stderr)
            return 2
        print(f"writing {args.size_gb:g} GiB synthetic .dat to {src} ...", flush=True)
        made = make_big_dat(src, args.size_gb, args.height, args.width, args.clip_frames)
        print(f"  {made['frames']} frames, {made['bytes'] / 1e9:.2f} GB in "
              f"{made['seconds']:.0f} s", flush=True)
        me = [sys.executable, os.path.abspath(__file__), "--src", str(src), "--dst", str(dst),
              "--codec", args.codec, "--frames-per-scene", str(args.frames_per_scene),
              "--height", str(args.height), "--width", str(args.width)]
        if args.quality is not None:
            me += ["--quality", str(args.quality)]
        print(f"compressing with {args.codec} in a child process ...", flush=True)
        comp = run_measured(me + ["--child", "compress"])
        if comp.returncode != 0:
            print(f"compress failed ({comp.returncode}):\n{comp.stderr_tail}", file=sys.stderr)
            return 1
        acc = run_measured(me + ["--child", "access"])
        if acc.returncode != 0:
            print(f"random access failed ({acc.returncode}):\n{acc.stderr_tail}",
                  file=sys.stderr)
            return 1
        c, a = comp.result, acc.result
        raw_mb = made["bytes"] / 1e6
        limit = args.limit_gb * GIB
        report = {
            "input": {"frames": made["frames"], "bytes": made["bytes"],
                      "height": args.height, "width": args.width,
                      "generated_seconds": made["seconds"]},
            "compress": {"codec": c["codec"], "quality": c["quality"],
                         "frames_per_scene": args.frames_per_scene,
                         "num_scenes": c["num_scenes"], "file_bytes": c["file_bytes"],
                         "ratio": c["ratio"], "bits_per_spike_pixel": c["bits_per_spike_pixel"],
                         "seconds": c["seconds"], "frames_per_s": made["frames"] / c["seconds"],
                         "mb_per_s": raw_mb / c["seconds"],
                         "peak_rss_bytes": comp.peak_rss_bytes,
                         "rusage_maxrss_bytes": comp.rusage_maxrss_bytes,
                         "baseline_rss_bytes": c["baseline_rss"]},
            "random_access": {"frame": a["frame"], "scenes_decoded": a["scenes_decoded"],
                              "decoded_indices": a["decoded_indices"],
                              "num_scenes": a["num_scenes"], "seconds": a["seconds"],
                              "peak_rss_bytes": acc.peak_rss_bytes},
            "peak_rss_method": "VmHWM of the stage's own child process (see spkc.eval.proc)",
            "limit_bytes": int(limit),
            "ok": comp.peak_rss_bytes < limit and acc.peak_rss_bytes < limit,
        }
        cr, ar = report["compress"], report["random_access"]
        print(f"compress : {made['frames']} frames ({raw_mb / 1e3:.2f} GB) -> "
              f"{cr['file_bytes'] / 1e6:.1f} MB ({cr['ratio']:.0f}x) in {cr['seconds']:.0f} s: "
              f"{cr['frames_per_s']:.0f} frames/s, {cr['mb_per_s']:.1f} MB/s; peak RSS "
              f"{cr['peak_rss_bytes'] / 2**20:.0f} MiB (after imports "
              f"{cr['baseline_rss_bytes'] / 2**20:.0f} MiB)")
        print(f"random access: frame {ar['frame']} decoded {ar['scenes_decoded']} of "
              f"{ar['num_scenes']} scenes {ar['decoded_indices']} in {ar['seconds']:.2f} s; "
              f"peak RSS {ar['peak_rss_bytes'] / 2**20:.0f} MiB")
        print(f"peak RSS limit {args.limit_gb} GiB: {'OK' if report['ok'] else 'EXCEEDED'}")
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
        return 0 if report["ok"] else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    sys.exit(main())
