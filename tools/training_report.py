#!/usr/bin/env python
"""Where the shipped learned weights stand against the training targets, in one run.

    python tools/training_report.py                 # needs ../shared/data/reds-spikes
    python tools/training_report.py --quick         # fewer conventional points
    python tools/training_report.py --jobs 1        # one process (default: one per core)

Everything is measured in this run on every REDS clip with a ground-truth PNG, at frame 151,
scene PSNR after a least-squares affine fit (as docs/results.md), 101 frames per scene so that a
coded scene sits on frame 151:

1. Reconstruction alone (no compression): the learned reconstructor as the encoder runs it
   (and without test-time augmentation, ``tta=1``) beside TFP at several windows and TFI.
2. Rate-distortion points of the default codec (``learned``), ``baseline`` and the conventional
   pipelines {TFP at several windows, TFI} x {JPEG XL, HEVC} x qualities (plus one point below
   quality 1: HEVC QP 48, JPEG XL distance 18). The *best conventional pipeline* is their
   envelope: at each rate the best PSNR any of them reaches (the Pareto frontier of all their
   points).
3. Bjontegaard deltas (piecewise-cubic, on Pareto frontiers): learned vs that envelope (target:
   BD-rate <= -30 %), learned vs baseline (SpikeCodec reports -2.5 % for BiSOAM), learned vs each
   conventional pipeline.
4. ISI-PSNR and firing-rate PSNR of the regenerated spikes against the source, per codec, at
   matched rates (each curve interpolated in log-rate at the learned codec's rates).

Writes the rows as JSON (``--json``) and one RD figure per clip with the envelope
(``--figures``). Pass ``--learned-weights-version N`` to measure other installed weights.
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

from spkc.eval.pipelines import (
    ENVELOPE,
    GT_FRAME,
    Pipeline,
    codec_options,
    conventional_points,
    curve,
    describe_recon,
    describe_weights,
    envelope_bd_rows,
    envelope_verdicts,
    matched_spike_rows,
    run_rows,
)
from spkc.metrics.rd_curves import pareto
from spkc.train.data import write_held_out_clips
from spkc.train.validate import reconstruction_psnrs

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "reds-spikes"
TARGET_BD_RATE = -30.0
PAPER_BISOAM_VS_BASELINE = -2.5
#: codec options of the extra low-rate point of each conventional pipeline
LOW_RATE_SETTING = {"hevc": {"qp": 48}, "jxl": {"distance": 18.0}}
HELD_OUT_SEED = 2026  #: the held-out clips are the same in every run


def _fmt(v: float | None, spec: str, missing: str = "n/a") -> str:
    return missing if v is None else format(v, spec)


def plot(rows: list[dict], clip: str, conventional: list[str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    for label in conventional:
        pts = sorted(curve(rows, clip, label))
        if pts:
            ax.plot(*zip(*pts, strict=True), ".-", lw=0.8, alpha=0.5, label=label)
    env = pareto(conventional_points(rows, clip, conventional))
    if env:
        ax.plot(*zip(*env, strict=True), "k--", lw=1.6, label=ENVELOPE)
    for label, style in (("baseline", "s-"), ("learned", "o-")):
        pts = sorted(curve(rows, clip, label))
        if pts:
            ax.plot(*zip(*pts, strict=True), style, lw=2, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("bits per spike-pixel")
    ax.set_ylabel(f"scene PSNR at frame {GT_FRAME} (dB, affine fit)")
    ax.set_title(f"clip {clip}", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="directory of .dat + .png clips")
    ap.add_argument("--tfp-radii", default="12,20", help="TFP windows of the conventional "
                    "pipelines (the best uncoded window per clip is added)")
    ap.add_argument("--conv-qualities", default="1,2,3,4")
    ap.add_argument("--held-out", type=int, default=1,
                    help="also simulate this many clips from BSDS500 val images no network "
                         "trained on (needs ../shared/data/bsds500; 0: REDS only)")
    ap.add_argument("--learned-weights-version", type=int, default=None)
    ap.add_argument("--baseline-weights-version", type=int, default=None)
    ap.add_argument("--learned-config", default=None,
                    help="learned-codec config (e.g. wide) of candidate weights; with "
                         "--learned-weights-version N they are read as "
                         "learned-bisoam-CONFIG-qQ-vN.safetensors, also from $SPKC_WEIGHTS_PATH")
    ap.add_argument("--baseline-config", default=None)
    ap.add_argument("--quick", action="store_true", help="TFP windows 12 and best, TFI; "
                    "qualities 1,3")
    ap.add_argument("--json", type=Path, default=None, help="write all rows and tables here")
    ap.add_argument("--figures", type=Path, default=None,
                    help="directory for training_report_clip<i>.png")
    ap.add_argument("--markdown", type=Path, default=None,
                    help="also write the printed report (and figure links) as markdown")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="runs evaluated at a time, in worker processes (default: one per core)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    clips = sorted(c for c in args.data.glob("*.dat") if c.with_suffix(".png").is_file())
    if not clips:
        say(f"no .dat clips with a ground-truth .png in {args.data}; nothing to report")
        return 0
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="spkc-report-"))
    try:
        if args.held_out > 0:
            from spkc.errors import SpkcError

            try:
                for path, stats in write_held_out_clips(args.held_out, HELD_OUT_SEED, tmp):
                    say(f"held-out clip {path.name}: {stats}")
                    clips.append(path)
            except SpkcError as exc:
                say(f"[held-out clips left out: {exc}]")
        return _report(args, clips, t0, say, lines, argv)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _report(args: argparse.Namespace, clips: list[Path], t0: float, say, lines: list[str],
            argv: list[str] | None) -> int:
    from spkc.codecs import get_codec_class

    radii = [int(r) for r in args.tfp_radii.split(",")]
    conv_q = [int(q) for q in args.conv_qualities.split(",")]
    if args.quick:
        radii, conv_q = [12], [1, 3]

    # 1. reconstruction alone
    all_radii = sorted(set(radii) | {2, 4, 8, 12, 16, 20, 25, 30})
    rec = reconstruction_psnrs(clips, all_radii)
    tfp_names = [k for k in rec if k.startswith("tfp")]
    best_tfp = {c.name: max(tfp_names, key=lambda k: rec[k][c.name]) for c in clips}
    say(f"\n1. Reconstruction alone at frame {GT_FRAME} (PSNR dB vs ground truth, affine fit)")
    say(f"{'reconstructor':>14} " + " ".join(f"{c.name:>14}" for c in clips) + f" {'mean':>7}")
    for name, res in rec.items():
        tags = [c.name for c in clips if best_tfp[c.name] == name]
        mean = float(np.mean(list(res.values())))
        say(f"{name:>14} " + " ".join(f"{res[c.name]:14.2f}" for c in clips)
            + f" {mean:7.2f}" + (f"   best TFP window on {', '.join(tags)}" if tags else ""))
    best_conv = {c.name: max(rec[best_tfp[c.name]][c.name], rec["tfi"][c.name]) for c in clips}
    gains = [rec["learned"][c.name] - best_conv[c.name] for c in clips]
    say("learned - best(TFP best window, TFI): " + ", ".join(f"{g:+.2f} dB" for g in gains))

    # 2. rate-distortion rows
    for r in {int(best_tfp[c.name][3:]) // 2 for c in clips}:
        if r not in radii:
            radii.append(r)
    learned_opts = codec_options(args.learned_weights_version, args.learned_config)
    base_opts = codec_options(args.baseline_weights_version, args.baseline_config)
    lq = list(get_codec_class("learned").qualities)
    bq = list(get_codec_class("baseline").qualities)
    pipelines: list[Pipeline] = [
        ("learned", "learned", None, None, lq, learned_opts),
        ("baseline", "baseline", None, None, bq, base_opts),
    ]
    conventional = []
    for codec in ("hevc", "jxl"):
        ok, why = get_codec_class(codec).availability()
        if not ok:
            say(f"[{codec} unavailable: {why}; left out of the envelope]")
            continue
        labels = []
        for recon, r in [*(("tfp", r) for r in sorted(radii)), ("tfi", None)]:
            label = f"{codec}+{recon}{'' if r is None else 2 * r + 1}"
            pipelines.append((label, codec, recon, r, conv_q, {}))
            # one point below quality 1, so the envelope also spans the learned codec's
            # lowest PSNRs (BD integrates over the PSNR range both curves cover)
            pipelines.append((label, codec, recon, r, [1], LOW_RATE_SETTING[codec]))
            labels.append(label)
        conventional += labels
    say("\nunder test: " + "; ".join(
        f"{name} = {describe_weights(name, opts, q)}"
        for name, _, _, _, q, opts in pipelines[:2]) + f"; reconstructor {describe_recon()}")
    rows = run_rows(clips, pipelines, progress=not args.no_progress, jobs=args.jobs)

    # 3. Bjontegaard deltas
    say("\n2./3. Bjontegaard deltas of scene PSNR vs bits per spike-pixel (Pareto frontiers, "
        "piecewise cubic)")
    say(f"{'clip':>14} {'test':>9} {'anchor':>22} {'BD-rate %':>10} {'BD-PSNR dB':>10}  note")
    bd_rows = envelope_bd_rows(rows, [c.name for c in clips], conventional)
    for b in bd_rows:
        say(f"{b['clip']:>14} {b['test']:>9} {b['anchor']:>22} {_fmt(b['bd_rate'], '10.1f'):>10} "
            f"{_fmt(b['bd_psnr'], '+10.2f'):>10}  {b['note']}")
    met, verdicts = envelope_verdicts(bd_rows, TARGET_BD_RATE)
    say(f"target: learned vs {ENVELOPE} BD-rate <= {TARGET_BD_RATE:.0f} % on every clip: "
        f"{'MET' if met else 'NOT MET'} ("
        + ", ".join(f"{c}: {txt} {'met' if ok else 'not met'}" for c, ok, txt in verdicts)
        + ")")
    lb = [b["bd_rate"] for b in bd_rows if b["test"] == "learned" and b["anchor"] == "baseline"]
    say("learned vs baseline BD-rate: "
        + ", ".join("n/a" if v is None else f"{v:+.1f} %" for v in lb)
        + f" (SpikeCodec reports {PAPER_BISOAM_VS_BASELINE} % for BiSOAM)")

    # 4. spike fidelity at matched rates
    say("\n4. Regenerated spikes vs source at matched rates (interpolated in log-rate at the "
        "learned codec's rates; '-' = outside that curve's range)")
    labels = ["learned", "baseline", *conventional]
    spike_rows = []
    for c in clips:
        rates, sp = matched_spike_rows(rows, c.name, labels)
        spike_rows += sp
        say(f"{c.name}: bits per spike-pixel " + ", ".join(f"{r:.5f}" for r in rates))
        say(f"{'pipeline':>16} " + " ".join(f"{'ISI@' + str(i + 1):>7}" for i in range(
            len(rates))) + " " + " ".join(f"{'FR@' + str(i + 1):>7}" for i in range(len(rates))))
        for r in sp:
            say(f"{r['pipeline']:>16} " + " ".join(f"{_fmt(v, '.2f', '-'):>7}"
                                                   for v in r["isi_psnr"] + r["firing_rate_psnr"]))

    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        for i, c in enumerate(clips, 1):
            out = args.figures / f"training_report_clip{i}.png"
            plot(rows, c.name, conventional, out)
            print(f"figure: {out}")
    if args.json:
        from spkc.eval.report import git_commit, jsonable, machine_info

        args.json.write_text(json.dumps(jsonable({
            "commit": git_commit(REPO), "machine": machine_info(),
            "reconstruction": rec, "rows": rows, "bd": bd_rows, "spikes": spike_rows,
            "target_met": met}), indent=1) + "\n")
        print(f"json: {args.json}")
    say(f"\n({time.perf_counter() - t0:.0f} s)")
    if args.markdown:
        from spkc.eval.report import git_commit, machine_info

        figs = ""
        if args.figures:
            rel = Path(os.path.relpath(args.figures, args.markdown.parent))
            figs = "".join(f"![clip {i}]({(rel / f'training_report_clip{i}.png').as_posix()})\n"
                           for i in range(1, len(clips) + 1))
        mi = machine_info()
        args.markdown.write_text(
            "# Training report\n\nGenerated by `python tools/training_report.py"
            + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
            + f"` at commit {git_commit(REPO)} on {mi['cpu']} ({mi['cores']} cores, "
            f"GPU: {mi.get('gpu') or 'none'}); do not edit by hand."
            + "\n\n" + figs + "\n```\n" + "\n".join(lines).strip() + "\n```\n")
        print(f"markdown: {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
