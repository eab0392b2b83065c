#!/usr/bin/env python
"""Benchmark the conventional scene codecs: ms per scene, bytes, bpp and PSNR per quality.

Scenes are 250x400 frames of spkc's built-in synthetic scene (or gray PNGs given with
``--png``). Every available codec among raw/jxl/hevc/vtm is run at each quality; timings are
medians over ``--repeat`` runs, and ratios are against the ``raw`` codec at its default quality
measured in the same process (so they compare like with like on this machine)::

    python tools/bench_codecs.py                       # all available codecs, 4 scenes
    python tools/bench_codecs.py --codecs jxl --effort 1 3 7   # JPEG XL effort comparison
    python tools/bench_codecs.py --png ../shared/data/reds-spikes/203_part2.png

Columns: q (quality), param (the codec's own parameter), bytes/scene, bpp (bits per pixel),
PSNR (dB against the input scene), enc/dec ms per scene, and enc_x/dec_x = time relative to
raw (>1 is slower than raw).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from spkc.codecs import get_codec_class
from spkc.errors import SpkcError


def load_scenes(args: argparse.Namespace) -> np.ndarray:
    """(N, H, W) float32 in [0, 1]: PNGs converted to gray, or synthetic frames."""
    if args.png:
        from PIL import Image

        imgs = [np.asarray(Image.open(p).convert("L"), np.float32) / 255 for p in args.png]
        return np.stack(imgs).astype(np.float32)
    from spkc.spikes.synthetic import SyntheticScene

    scene = SyntheticScene(args.height, args.width, seed=args.seed)
    # frames far apart so the scenes differ (the objects move a few px per 100 frames)
    return np.stack([scene.frame(t) for t in range(0, 2000 * args.scenes, 2000)])


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median wall time (s) of ``fn()`` over ``repeat`` calls, and its last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def param_of(codec) -> str:
    for attr in ("bits", "distance", "qp"):
        if hasattr(codec, attr):
            return f"{attr}={getattr(codec, attr)}"
    return ""


def bench(codec, scenes: np.ndarray, repeat: int) -> dict:
    n, h, w = scenes.shape
    t_enc, payloads = timed(lambda: codec.encode(scenes), repeat)
    t_dec, dec = timed(lambda: codec.decode(payloads, (h, w)), repeat)
    nbytes = sum(len(b) for p in payloads for b in p.values()) / n
    return {"bytes": nbytes, "bpp": 8 * nbytes / (h * w), "psnr": psnr(dec, scenes),
            "enc_ms": 1000 * t_enc / n, "dec_ms": 1000 * t_dec / n}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--codecs", nargs="+", default=["raw", "jxl", "hevc", "vtm"])
    ap.add_argument("--scenes", type=int, default=4, help="synthetic scenes (default 4)")
    ap.add_argument("--height", type=int, default=250)
    ap.add_argument("--width", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png", nargs="+", type=Path, help="gray PNG scenes instead of synthetic")
    ap.add_argument("--repeat", type=int, default=3, help="timing repeats (median)")
    ap.add_argument("--bit-depth", type=int, default=10, choices=(8, 10),
                    help="jxl/hevc/vtm sample depth")
    ap.add_argument("--effort", type=int, nargs="+", default=[3], help="jxl effort(s)")
    ap.add_argument("--preset", nargs="+", default=["medium"], help="hevc x265 preset(s)")
    args = ap.parse_args(argv)

    scenes = load_scenes(args)
    n, h, w = scenes.shape
    print(f"# {n} scene(s) {h}x{w}, {'PNG' if args.png else 'synthetic'}; "
          f"median of {args.repeat}; bit depth {args.bit_depth} for jxl/hevc/vtm")

    raw_cls = get_codec_class("raw")
    ref = bench(raw_cls(), scenes, args.repeat)
    print(f"# reference raw q{raw_cls.default_quality}: {ref['bytes']:.0f} B/scene, "
          f"enc {ref['enc_ms']:.2f} ms, dec {ref['dec_ms']:.2f} ms per scene")
    header = (f"{'codec':<6} {'variant':<14} {'q':>2} {'param':<14} {'bytes':>8} {'bpp':>7} "
              f"{'PSNR':>6} {'enc_ms':>8} {'dec_ms':>8} {'enc_x':>7} {'dec_x':>7}")
    print(header)
    print("-" * len(header))
    for name in args.codecs:
        try:
            cls = get_codec_class(name)
        except SpkcError as exc:
            print(f"{name:<6} skipped: {exc}")
            continue
        ok, reason = cls.availability()
        if not ok:
            print(f"{name:<6} skipped: {reason}")
            continue
        variants: list[dict] = [{}]
        if name == "jxl":
            variants = [{"bit_depth": args.bit_depth, "effort": e} for e in args.effort]
        elif name == "hevc":
            variants = [{"bit_depth": args.bit_depth, "preset": p} for p in args.preset]
        elif name == "vtm":
            variants = [{"bit_depth": args.bit_depth}]
        for opts in variants:
            label = ",".join(f"{k[0]}{v}" for k, v in opts.items() if k != "bit_depth") or "-"
            for q in cls.qualities:
                codec = cls(quality=q, **opts)
                r = bench(codec, scenes, args.repeat)
                print(f"{name:<6} {label:<14} {q:>2} {param_of(codec):<14} {r['bytes']:>8.0f} "
                      f"{r['bpp']:>7.3f} {r['psnr']:>6.2f} {r['enc_ms']:>8.2f} "
                      f"{r['dec_ms']:>8.2f} {r['enc_ms'] / ref['enc_ms']:>7.2f} "
                      f"{r['dec_ms'] / ref['dec_ms']:>7.2f}")
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
