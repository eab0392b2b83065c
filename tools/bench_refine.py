#!/usr/bin/env python
"""Encoder-side latent refinement: what each number of steps buys, and what it costs.

    python tools/bench_refine.py                       # REDS clips in ../shared/data
    python tools/bench_refine.py --steps 0,50,100 --qualities 1,4 --codec baseline

For every clip with a ground-truth PNG, every quality and every ``refine`` setting it
compresses the clip through the full pipeline (``spkc.eval.evaluate_run``: learned
reconstruction, 101 frames per scene so a coded scene sits on frame 151) and prints the file's
bits per spike-pixel, the scene PSNR against the ground truth (affine fit) and against the
uncoded reconstruction, and the encode time as a ratio to ``refine=0`` measured in the same
process (machines here are noisy: compare ratios, not seconds). Optional: ``--png`` plots
scene PSNR against rate per clip.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "reds-spikes"
GT_FRAME = 151
FRAMES_PER_SCENE = 101


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="directory of .dat + .png clips")
    ap.add_argument("--codec", default="learned", choices=["learned", "baseline"])
    ap.add_argument("--steps", type=_ints, default=[0, 25, 50, 100, 200])
    ap.add_argument("--qualities", type=_ints, default=[1, 4])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    ap.add_argument("--png", type=Path, default=None, help="write an RD plot here")
    args = ap.parse_args(argv)

    import torch
    from tqdm import tqdm

    from spkc.eval.engine import evaluate_run, load_ground_truth

    if args.threads:
        torch.set_num_threads(args.threads)
    clips = sorted(c for c in args.data.glob("*.dat") if c.with_suffix(".png").is_file())
    if not clips:
        print(f"no .dat clips with a ground-truth .png in {args.data}; nothing to measure")
        return 0
    steps = sorted(set(args.steps) | {0})
    runs = [(c, q, s) for c in clips for q in args.qualities for s in steps]
    rows = []
    for clip, q, s in tqdm(runs, desc="runs", unit="run"):
        gt = load_ground_truth(clip.with_suffix(".png"), clip)
        row = evaluate_run(clip, args.codec, q, gt=gt, gt_frame=GT_FRAME,
                           frames_per_scene=FRAMES_PER_SCENE, reconstructor="learned",
                           codec_options={"refine": s}, preset="slow")
        rows.append((clip.name, q, s, row))
    base = {(c, q): r for c, q, s, r in rows if s == 0}
    print(f"{args.codec}, {FRAMES_PER_SCENE} frames per scene, scene at frame {GT_FRAME}")
    print(f"{'clip':>14} {'q':>2} {'refine':>6} {'bits/sp-px':>10} {'rate x':>7} "
          f"{'PSNR gt':>8} {'d gt':>6} {'PSNR rec':>8} {'d rec':>6} {'encode x':>8}")
    for c, q, s, r in rows:
        b = base[(c, q)]
        print(f"{c:>14} {q:>2} {s:>6} {r['bits_per_spike_pixel']:>10.5f} "
              f"{r['bits_per_spike_pixel'] / b['bits_per_spike_pixel']:>7.3f} "
              f"{r['scene_psnr']:>8.2f} {r['scene_psnr'] - b['scene_psnr']:>+6.2f} "
              f"{r['scene_psnr_ref']:>8.2f} {r['scene_psnr_ref'] - b['scene_psnr_ref']:>+6.2f} "
              f"{r['encode_seconds'] / b['encode_seconds']:>8.2f}")
    if args.png:
        _plot(rows, steps, args.png)
        print(f"figure: {args.png}")
    return 0


def _plot(rows: list, steps: list[int], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clips = sorted({c for c, *_ in rows})
    fig, axes = plt.subplots(1, len(clips), figsize=(5 * len(clips), 4), squeeze=False)
    for ax, clip in zip(axes[0], clips, strict=True):
        for s in steps:
            pts = sorted((r["bits_per_spike_pixel"], r["scene_psnr"])
                         for c, _, st, r in rows if c == clip and st == s)
            ax.plot(*zip(*pts, strict=True), "o-", label=f"refine={s}")
        ax.set(title=clip, xlabel="bits per spike-pixel", ylabel="scene PSNR vs GT (dB)")
        ax.xaxis.set_major_locator(plt.MaxNLocator(5))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
