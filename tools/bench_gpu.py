#!/usr/bin/env python
"""Encode and decode frames/s on one device (a GPU when there is one), in one short run.

For each preset: compress the clip on ``--device`` (warm-up run first, so model loading and
CUDA initialisation are not timed), then decode it on the same device; reports frames/s,
the file's bits, whether the decoded spikes equal a CPU decode of the same file (decoding
is exact on every device) and, with ``--profile``, the top operators of one encode and one
decode (torch.profiler). Writes a JSON for docs/results.md / docs/results-speed.md.

    python tools/bench_gpu.py --device cuda --json docs/bench-gpu.json
    python tools/bench_gpu.py --device cpu --frames 64 --presets fast   # a check on CPU

No figure from this script is in the docs until it has run on a GPU; the docs name the GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SRC = REPO.parent / "shared" / "data" / "reds-spikes" / "203_part2.dat"


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _top_ops(prof, n: int = 8) -> list[dict]:
    rows = []
    for e in sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total +
                    getattr(e, "self_device_time_total", 0), reverse=True)[:n]:
        rows.append({"op": e.key, "calls": e.count,
                     "self_cpu_ms": e.self_cpu_time_total / 1e3,
                     "self_device_ms": getattr(e, "self_device_time_total", 0) / 1e3})
    return rows


def bench_device(src: Path, device: str, presets: list[str], height: int = 250,
                 width: int = 400, frames_per_scene: int = 32, batch_size: int | None = None,
                 profile: bool = False, check_exact: bool = True, log=print) -> dict:
    """Per preset: {"preset", "encode_frames_per_s", "decode_frames_per_s", "bits...",
    "exact_vs_cpu", "profile"}; ``src`` a .dat/.npy clip."""
    import numpy as np
    import torch

    import spkc
    from spkc.io import open_spikes

    with open_spikes(src, height=height, width=width) as s:
        T = s.shape[0]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in presets:
            dst = Path(tmp) / f"{name}.spkc"
            kw = dict(preset=name, device=device, frames_per_scene=frames_per_scene,
                      height=height, width=width, batch_size=batch_size)
            spkc.compress(src, dst, **kw)  # warm-up: weights, kernels, CUDA context
            _sync(device)
            t0 = time.perf_counter()
            r = spkc.compress(src, dst, **kw)
            _sync(device)
            te = time.perf_counter() - t0
            with spkc.open(dst, device=device) as c:  # warm-up decode
                c.spikes(0, min(T, frames_per_scene))
            t0 = time.perf_counter()
            with spkc.open(dst, device=device, batch_size=batch_size or 4) as c:
                dec = c.spikes()
            _sync(device)
            td = time.perf_counter() - t0
            row = {"preset": name, "frames": T, "encode_seconds": te, "decode_seconds": td,
                   "encode_frames_per_s": T / te, "decode_frames_per_s": T / td,
                   "bits_per_spike_pixel": r.bits_per_spike_pixel, "ratio": r.ratio,
                   "reconstructor": r.reconstructor}
            if check_exact:
                with spkc.open(dst, device="cpu") as c:
                    row["exact_vs_cpu"] = bool(np.array_equal(dec, c.spikes()))
            if profile:
                acts = [torch.profiler.ProfilerActivity.CPU]
                if device.startswith("cuda"):
                    acts.append(torch.profiler.ProfilerActivity.CUDA)
                with torch.profiler.profile(activities=acts) as prof:
                    spkc.compress(src, dst, **kw)
                    _sync(device)
                row["encode_top_ops"] = _top_ops(prof)
                with torch.profiler.profile(activities=acts) as prof:
                    with spkc.open(dst, device=device) as c:
                        c.spikes()
                    _sync(device)
                row["decode_top_ops"] = _top_ops(prof)
            log(f"  {name}: encode {row['encode_frames_per_s']:.0f} frames/s, decode "
                f"{row['decode_frames_per_s']:.0f} frames/s, {r.bits_per_spike_pixel:.5f} "
                f"bits/spike-pixel" + (f", exact vs cpu: {row['exact_vs_cpu']}"
                                       if check_exact else ""))
            out.append(row)
    return {"src": str(src), "device": device, "frames": T, "height": height, "width": width,
            "frames_per_scene": frames_per_scene, "batch_size": batch_size, "rows": out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=None, help=f".dat clip (default {DEFAULT_SRC})")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--presets", default="fast,medium,slow")
    ap.add_argument("--frames", type=int, default=0,
                    help="simulate a clip of this many frames instead of --src")
    ap.add_argument("--height", type=int, default=250)
    ap.add_argument("--width", type=int, default=400)
    ap.add_argument("--frames-per-scene", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=None,
                    help="scenes per batch (default: the preset's)")
    ap.add_argument("--profile", action="store_true", help="top operators of each stage")
    ap.add_argument("--no-check", action="store_true", help="skip the CPU decode comparison")
    ap.add_argument("--json", default="bench-gpu.json")
    args = ap.parse_args(argv)

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("bench_gpu: error: no CUDA device here", file=sys.stderr)
        return 1
    tmp = tempfile.TemporaryDirectory()
    try:
        if args.frames:
            from spkc.spikes import simulate_sample

            src = Path(tmp.name) / "sim.dat"
            simulate_sample(src, num_frames=args.frames, height=args.height, width=args.width)
        else:
            src = Path(args.src) if args.src else DEFAULT_SRC
            if not src.is_file():
                print(f"bench_gpu: error: {src}: no such file", file=sys.stderr)
                return 1
        print(f"bench_gpu on {src}, device {args.device}", flush=True)
        doc = bench_device(src, args.device, args.presets.split(","), args.height, args.width,
                           args.frames_per_scene, args.batch_size, args.profile,
                           not args.no_check)
    finally:
        tmp.cleanup()
    from spkc.eval.report import git_commit, machine_info

    doc.update(machine=machine_info(), commit=git_commit(),
               created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               device_name=(torch.cuda.get_device_name(torch.device(args.device))
                            if args.device.startswith("cuda") else "cpu"))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
