#!/usr/bin/env python
"""Inter vs intra coding of scenes: BD-rate tables and an RD plot -> docs/results-temporal.md.

    python tools/temporal_results.py                  # long synthetic clip + REDS clips
    python tools/temporal_results.py --quick          # 400-frame clip, 2 group lengths

What it runs (every number on the page comes from this run):

1. Scenes: a synthetic clip of ``--frames`` frames (``spkc.spikes.synthetic``, 250x400 by
   default; its true luminance is known, so scenes are also scored against the ground truth)
   and, when ../shared/data is there, the REDS clips (ground truth at frame 151). Scenes every
   ``--frames-per-scene`` frames from ``--reconstructor`` (the shipped learned one by default),
   mapped to [0, 1] by the clip's rate scale (0.999 quantile x 1.1, as ``spkc.compress``).
   Reconstructions are cached in ``--cache`` (they dominate the run time on a CPU).
2. Each inter-capable codec (hevc, av1) codes the scenes through the scene-codec API
   (``InterSceneCodec.encode``, the code path of ``spkc.compress``) at each group length of
   ``--gops`` (1 = all-intra) and each QP of its ladder; decoded scenes are scored by PSNR
   against the uncoded scenes (pooled over all scenes) and against the ground truth (scene
   k vs the true luminance at its centre frame, one affine fit per clip and point).
   ``--learned`` (default ``baseline``, the learned codec without spike attention, so that
   scenes alone suffice) codes the same scenes intra (qualities 1-4, ``refine=0``: the fast
   encoder; the default 100 refinement steps cost ~10x the CPU time) as the learned reference.
3. BD-rate / BD-PSNR (VCEG-M33 cubic) of every group length against gop 1 of the same codec,
   and of every (codec, gop) against hevc all-intra and the learned intra codec; the bits
   split between key scenes and predicted scenes; an RD plot (PNG).

Rates are payload bits per scene pixel (bits / (K*H*W)); container framing adds ~15 bytes per
scene to every point alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from spkc.eval.temporal import (
    LEARNED,
    bd_table,
    default_group_note,
    evaluate_clip,
    fps_comparison,
    fps_table,
    make_synthetic,
    reconstruct,
    scale_scenes,
    write_page,
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "reds-spikes"
GT_FRAME = 151
def plot(rows: list[dict], clip: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    targets = ["psnr_uncoded"] + (["psnr_gt"] if any(r["psnr_gt"] is not None for r in rows
                                                      if r["clip"] == clip) else [])
    fig, axes = plt.subplots(1, len(targets), figsize=(6.5 * len(targets), 4.8), squeeze=False)
    for ax, target in zip(axes[0], targets, strict=True):
        for codec, style in (("hevc", "-"), ("av1", "--"), *((c, ":") for c in LEARNED)):
            gops = sorted({r["gop"] for r in rows if r["clip"] == clip and r["codec"] == codec})
            for gop in gops:
                pts = sorted((r["bpp"], r[target]) for r in rows if r["clip"] == clip
                             and r["codec"] == codec and r["gop"] == gop)
                if pts:
                    x, y = zip(*pts, strict=True)
                    ax.plot(x, y, style, marker="o", ms=3, label=f"{codec} gop {gop}")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("bits per scene pixel")
        ax.set_ylabel("PSNR (dB) vs " + ("uncoded scenes" if target == "psnr_uncoded"
                                         else "ground truth (affine fit)"))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Inter vs intra scene coding: {clip}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_fps(fps_rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    for k in sorted({(r["fps"], r["gop"]) for r in fps_rows}):
        pts = sorted((r["bits_per_spike_pixel"], r["psnr_frames_gt"]) for r in fps_rows
                     if (r["fps"], r["gop"]) == k)
        x, y = zip(*pts, strict=True)
        ax.plot(x, y, "-" if k[1] > 1 else "--", marker="o", ms=3,
                label=f"hevc, S={k[0]} frames/scene, gop {k[1]}")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("bits per spike-pixel (payload)")
    ax.set_ylabel("PSNR vs ground truth, every 8th frame (dB)")
    ax.set_title("Frames per scene: luminance between scene times", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=1600)
    ap.add_argument("--height", type=int, default=250)
    ap.add_argument("--width", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frames-per-scene", type=int, default=32)
    ap.add_argument("--gops", default="1,4,8,16,32")
    ap.add_argument("--codecs", default="hevc,av1")
    ap.add_argument("--reconstructor", default="learned")
    ap.add_argument("--learned", default="baseline",
                    help="learned intra codecs coded as the reference ('' skips)")
    ap.add_argument("--no-reds", action="store_true")
    ap.add_argument("--probe-qualities", default="2,4",
                    help="qualities of the learned temporal-prior probe ('' skips)")
    ap.add_argument("--fps-compare", default="16,32",
                    help="frames-per-scene values compared with hevc on the synthetic clip "
                         "('' skips)")
    ap.add_argument("--quick", action="store_true", help="400 frames, gops 1 and 8, no REDS")
    ap.add_argument("--cache", default=os.environ.get("SPKC_TEMPORAL_CACHE",
                                                      "/tmp/spkc-temporal-cache"))
    ap.add_argument("--out", default=str(REPO / "docs" / "results-temporal.md"))
    ap.add_argument("--render-only", action="store_true",
                    help="rewrite the page and figures from the JSON beside --out (no coding)")
    args = ap.parse_args(argv)
    if args.render_only:
        out = Path(args.out)
        render(out, json.loads(out.with_suffix(".json").read_text()))
        return 0
    if args.quick:
        args.frames, args.gops, args.no_reds, args.fps_compare = 400, "1,8", True, ""
        args.probe_qualities, args.learned = "4", ""
    gops = [int(g) for g in args.gops.split(",")]
    codecs = [c for c in args.codecs.split(",") if c]
    codecs += [c for c in args.learned.split(",") if c]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    fps = args.frames_per_scene

    from spkc.codecs import get_codec_class
    from spkc.spikes.synthetic import synthetic_intensity

    for c in codecs:
        ok, why = get_codec_class(c).availability()
        if not ok:
            print(f"codec {c} cannot run here: {why}", file=sys.stderr)
            return 1
    rows: list[dict] = []
    clips: list[str] = []
    # 1. the long synthetic clip
    name = f"synthetic-{args.frames}"
    src = make_synthetic(args.frames, args.height, args.width, args.seed, cache)
    print(f"reconstructing {name} ...", flush=True)
    scenes = scale_scenes(reconstruct(src, args.reconstructor, fps, cache,
                                      args.height, args.width))
    K = len(scenes)
    centres = np.arange(K) * fps + np.minimum(fps, args.frames - np.arange(K) * fps) // 2
    gt = np.stack([synthetic_intensity(1, args.height, args.width, args.seed, start=int(c))[0]
                   for c in centres])
    rows += evaluate_clip(name, scenes, gt, codecs, gops)
    clips.append(name)
    # 2. REDS clips (ground truth at frame 151 only)
    if not args.no_reds and DATA.is_dir():
        from PIL import Image

        for dat in sorted(DATA.glob("*.dat")):
            print(f"reconstructing {dat.stem} ...", flush=True)
            sc = scale_scenes(reconstruct(dat, args.reconstructor, fps, cache))
            gt_img = np.asarray(Image.open(dat.with_suffix(".png")).convert("L"),
                                np.float32) / 255.0
            rows += evaluate_clip(dat.stem, sc, gt_img, codecs, gops, gt_scene=GT_FRAME // fps)
            clips.append(dat.stem)
    fps_rows = fps_comparison(src, [int(f) for f in args.fps_compare.split(",") if f], cache,
                              frames=args.frames, height=args.height, width=args.width,
                              seed=args.seed, reconstructor=args.reconstructor
                              ) if args.fps_compare else []
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    cfg = {"quick": args.quick, "frames": args.frames, "frames_per_scene": fps,
           "reconstructor": args.reconstructor, "gops": gops, "codecs": codecs,
           "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "commit": commit, "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
           "clips": clips}
    probe = []
    if args.probe_qualities:
        sys.path.insert(0, str(REPO / "tools"))
        from temporal_prior_probe import measure

        for q in [int(x) for x in args.probe_qualities.split(",")]:
            print(f"learned temporal-prior probe, quality {q} ...", flush=True)
            probe.append(measure(scenes, q, max(gops)))
    render(out, {"config": cfg, "rows": rows, "fps_rows": fps_rows, "learned_probe": probe})
    return 0


def render(out: Path, data: dict) -> None:
    """Tables, figures and the page (plus its JSON) from the measurements in ``data``."""
    cfg, rows, fps_rows = data["config"], data["rows"], data["fps_rows"]
    clips = cfg.get("clips") or list(dict.fromkeys(r["clip"] for r in rows))
    fig_dir = out.parent / "figures"
    bd = []
    for clip in clips:
        bd += bd_table(rows, clip, "psnr_uncoded")
        bd += bd_table(rows, clip, "psnr_gt")
    figures = []
    for clip in clips[:1]:
        fig = fig_dir / f"temporal_rd_{clip}.png"
        plot(rows, clip, fig)
        figures.append(os.path.relpath(fig, out.parent))
    # default group length: the shortest group within 2 points of the best BD-rate (long
    # clip, uncoded target): longer groups cost random access and error spread
    note = default_group_note(bd, clips[0])
    fps_bd = fps_table(fps_rows)
    if fps_rows:
        fig = fig_dir / "temporal_fps.png"
        plot_fps(fps_rows, fig)
        figures.append(os.path.relpath(fig, out.parent))
    write_page(out, rows, bd, cfg, figures, note, fps_rows, fps_bd, data["learned_probe"])
    out.with_suffix(".json").write_text(json.dumps(
        {**data, "bd": bd, "fps_bd": fps_bd}, indent=1, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    raise SystemExit(main())
