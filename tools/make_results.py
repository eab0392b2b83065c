#!/usr/bin/env python
"""Regenerate docs/results.md and docs/figures/*.png in one command.

    python tools/make_results.py                 # needs ../shared/data/reds-spikes
    python tools/make_results.py --quick         # 2 qualities per codec, no memory run

What it runs (all numbers on the page come from this run; nothing is typed by hand):

1. ``spkc.eval.evaluate`` on every REDS clip with its ground-truth PNG (frame 151, affine fit)
   for every registered codec (unavailable ones listed with the reason), up to
   ``--qualities-per-codec`` qualities spread over each codec's range: RD curves per clip
   (scene PSNR and ISI-PSNR against bits per spike-pixel), a BD table against ``--anchor``.
2. ``tools/bench.py`` on the first clip: throughput and peak RSS per stage, zstd -19 / xz -9.
3. ``tools/bench_memory.py --size-gb N`` (``--memory-gb 0`` skips): the large-file test.
4. A side-by-side picture: ground truth, the uncoded source reconstruction of the scene holding
   frame 151, and that scene decoded at a low and a high rate.

The page is stamped with the machine, date and git commit. Budget: < 30 min on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from spkc.eval.pipelines import decoded_panels, spread

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "reds-spikes"
GT_FRAME = 151


def side_by_side(src: Path, codec: str, qualities: tuple[int, int],
                 frames_per_scene: int, out: Path) -> list[dict]:
    """Figure: uncoded reconstruction | decoded at two rates (scene of GT_FRAME).

    The ground-truth image is left out on purpose: it belongs to ../shared/data, which the
    repository never copies.

    Returns what each panel shows (bits per spike-pixel and PSNR of the decoded scene against
    the uncoded one).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels, info = decoded_panels(src, codec, qualities, frames_per_scene, GT_FRAME)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), dpi=100)
    for ax, (title, img, _) in zip(axes, panels, strict=True):
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return info


def _md_rows(rows: list[dict]) -> str:
    from spkc.eval import format_table

    return format_table(rows, markdown=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA), help="directory of REDS .dat + .png")
    ap.add_argument("--out", default=str(REPO / "docs"), help="docs directory")
    ap.add_argument("--codecs", default=None, help="comma-separated (default: all registered)")
    ap.add_argument("--qualities-per-codec", type=int, default=4)
    ap.add_argument("--anchor", default="jxl")
    # 101 frames per scene centres scene 1 exactly on the ground-truth frame 151
    # (centre = k*S + S//2), so PSNR against the ground truth measures a coded scene, not a
    # blend of two scenes many frames away from it.
    ap.add_argument("--frames-per-scene", type=int, default=101)
    ap.add_argument("--pipelines", default="hevc:learned,jxl:learned,hevc:tfp:12,jxl:tfp:12",
                    help="extra codec:reconstructor[:radius] pairs, labelled codec+recon")
    ap.add_argument("--memory-gb", type=float, default=2.0,
                    help="size of the large-file memory test (0 skips it)")
    ap.add_argument("--quick", action="store_true", help="2 qualities per codec, no memory run")
    args = ap.parse_args(argv)
    if args.quick:
        args.qualities_per_codec, args.memory_gb = 2, 0.0

    from spkc.codecs import codec_names, get_codec_class
    from spkc.eval import bd_table, evaluate, format_bd_table, plot_rd
    from spkc.eval.pipelines import evaluate_pipeline
    from spkc.eval.plan import plan_runs
    from spkc.eval.report import format_skipped, git_commit, jsonable, machine_info

    t_start = time.perf_counter()
    data = Path(args.data)
    clips = sorted(data.glob("*.dat"))
    if not clips:
        print(f"make_results: error: no .dat clips in {data}", file=sys.stderr)
        return 1
    docs = Path(args.out)
    figs = docs / "figures"
    figs.mkdir(parents=True, exist_ok=True)

    # 1. evaluation ----------------------------------------------------------------------------
    names = args.codecs.split(",") if args.codecs else codec_names()
    _, unavailable = plan_runs(names, None)
    skipped_names = {s["codec"] for s in unavailable if s["quality"] is None}
    runnable = [n for n in names if n not in skipped_names]
    rows: list[dict] = []
    skipped = list(unavailable)
    for name in runnable:
        qs = spread(tuple(get_codec_class(name).qualities), args.qualities_per_codec)
        print(f"eval {name} q{qs} on {len(clips)} clips ...", flush=True)
        # learned codecs at the slow preset (0.1.0's encoder, the published figures); the
        # conventional ones keep their default TFP reconstructor
        rep = evaluate(clips, [name], qs, gt=data, gt_frame=GT_FRAME,
                       frames_per_scene=args.frames_per_scene, anchor=None, progress=True,
                       preset="slow" if name in ("learned", "baseline") else None)
        rows += rep.rows
        skipped += rep.skipped
    for spec in filter(None, args.pipelines.split(",")):
        if spec.split(":")[0] not in runnable:
            continue
        qs = spread(tuple(get_codec_class(spec.split(":")[0]).qualities),
                    args.qualities_per_codec)
        # the learned reconstructor in float32, medium config
        prow, pskip = evaluate_pipeline(clips, spec, qs, gt=data, gt_frame=GT_FRAME,
                                        frames_per_scene=args.frames_per_scene, progress=True,
                                        preset="slow")
        rows += prow
        skipped += pskip
    bd = bd_table(rows, args.anchor)
    bd_ref = bd_table(rows, args.anchor, metric="scene_psnr_ref")
    rd_paths = []
    # figures are named by clip index (the clip's name is in the title): the repository
    # keeps generated plots, never files named or shaped like the ../shared data
    for i, p in enumerate(plot_rd(rows, figs, ["scene_psnr", "scene_psnr_ref", "isi_psnr"],
                                  prefix="rd_")):
        rd_paths.append(p.replace(figs / f"rd_clip{i + 1}.png"))
    (docs / "results.json").write_text(json.dumps(jsonable(
        {"results": rows, "skipped": skipped, "bd": bd, "bd_ref": bd_ref}), indent=1,
        allow_nan=False) + "\n")
    t_eval = time.perf_counter() - t_start

    # 1b. reconstruction alone (no compression) ------------------------------------------------
    from spkc.codecs.reconstructors import LearnedReconstructor
    from spkc.train.validate import baselines, validate

    print("reconstructors alone ...", flush=True)
    recon_rows = baselines(data)
    learned_recon = LearnedReconstructor()
    recon_rows["learned"] = validate(learned_recon.reconstruct, learned_recon.radius, data)

    # 2. throughput ----------------------------------------------------------------------------
    from spkc.eval.speed import run_bench
    from spkc.eval.speed_report import format_bench

    print("bench ...", flush=True)
    bench_doc = run_bench(clips[0], [(n, None) for n in runnable], ["cpu"])
    (docs / "bench.json").write_text(json.dumps(bench_doc, indent=1) + "\n")

    # 3. memory --------------------------------------------------------------------------------
    mem = None
    if args.memory_gb > 0:
        print(f"memory test at {args.memory_gb} GiB ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            j = Path(tmp) / "mem.json"
            subprocess.run([sys.executable, str(REPO / "tools" / "bench_memory.py"),
                            "--size-gb", str(args.memory_gb), "--json", str(j)], check=False)
            if j.is_file():
                mem = json.loads(j.read_text())

    # 4. picture -------------------------------------------------------------------------------
    pic_codec = next((c for c in ("learned", "baseline", args.anchor, *runnable)
                      if c in runnable), None)
    pic_info: list[dict] = []
    if pic_codec is not None:
        qs = sorted(get_codec_class(pic_codec).qualities)
        pic_info = side_by_side(clips[0], pic_codec, (qs[0], qs[-1]),
                                args.frames_per_scene, figs / "side_by_side.png")

    # 5. page ----------------------------------------------------------------------------------
    commit = git_commit() or "unknown"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                            "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    m = machine_info()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    total = time.perf_counter() - t_start
    L = [
        "# spkc results",
        "",
        "Generated by `python tools/make_results.py` -- do not edit by hand.",
        "",
        "VVC (VTM) anchor rows and the learned codec's BD-rate against VTM: "
        "[results-vtm.md](results-vtm.md) (`tools/make_results_vtm.py`).",
        "",
        f"* commit `{commit}`{' (working tree had uncommitted changes)' if dirty else ''}",
        f"* date {when}; took {total / 60:.1f} min (evaluation {t_eval / 60:.1f} min)",
        f"* machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        f"torch {m.get('torch')}, GPU: {m.get('gpu') or 'none'}",
        f"* data: {', '.join(c.name for c in clips)} (REDS spikes, 250x400, ground truth at "
        f"frame {GT_FRAME}); {args.frames_per_scene} frames per scene, so that a scene time "
        f"falls exactly on frame {GT_FRAME}",
        "* rows named `codec+recon` pair a conventional codec with another reconstructor "
        "(`learned` network, or TFP with radius 12 = the best TFP window, 25 frames); plain "
        "codec names use their default reconstructor (learned for learned/baseline, TFP with "
        "radius 20 otherwise)",
        "* inter coding (groups of scenes, hevc/av1 inter vs intra on a long synthetic clip): "
        "[results-temporal.md](results-temporal.md), from `python tools/temporal_results.py`",
        "* these tables put a scene time on frame 151; what a user gets at any frame (scenes "
        "every 32 frames, frame 151 at every offset from a scene time; all-frame figures on a "
        "synthetic clip), with linear and motion-compensated interpolation: "
        "[results-motion.md](results-motion.md) (`python tools/motion_results.py`)",
        "",
        "## Rate-distortion",
        "",
        "PSNR/SSIM: `Clip.scene_at(151)` against the ground-truth PNG after a least-squares "
        "affine fit (the spike rate scale is unknown); the uncoded scenes score the ceiling "
        "below, so with TFP on this fast motion the reconstructor, not the codec, dominates. "
        "PSNR ref: every decoded scene against the same scene before coding (the codec's own "
        "fidelity). ISI-PSNR and "
        "firing-rate PSNR compare regenerated with source spikes; down-PSNR is the PSNR between "
        "scenes reconstructed from decoded and from source spikes (paper section 5.6).",
        "",
    ]
    for p in rd_paths:
        L += [f"![RD {p.stem}](figures/{p.name})", ""]
    L += [_md_rows(rows), ""]
    unc = {(r["clip"], f"{r['reconstructor']} R={r['radius']}"): r["scene_psnr_uncoded"]
           for r in rows}
    L += ["Uncoded ceiling (scene PSNR of the uncoded scenes vs ground truth, per "
          "reconstructor): " + ", ".join(f"{c} {rc}: {v:.2f} dB" for (c, rc), v in unc.items()
                                          if v is not None), ""]
    if skipped:
        L += ["Not run here:", ""] + [f"* {s}" for s in format_skipped(skipped).splitlines()]
        L += [""]
    clip_names = [k for k in recon_rows["learned"] if k != "mean"]
    L += ["## Reconstruction alone (no compression)", "",
          f"Scene PSNR at frame {GT_FRAME} against the ground truth after an affine fit, for "
          "each reconstructor on the raw spikes (TFPn = window mean over n frames, TFI = 1/ISI, "
          "learned = the shipped default network, `medium`).", "",
          "| reconstructor | " + " | ".join(clip_names) + " | mean |",
          "|---" * (len(clip_names) + 2) + "|"]
    for name, res in recon_rows.items():
        L.append(f"| {name} | " + " | ".join(f"{res[c]:.2f}" for c in clip_names)
                 + f" | {res['mean']:.2f} |")
    L += [""]
    L += [f"## Bjontegaard deltas vs {args.anchor}", "",
          "BD-rate: % bits against the anchor at equal scene PSNR (negative = fewer bits); "
          "BD-PSNR: dB at equal rate (positive = better). Piecewise-cubic (pchip) "
          "interpolation over log rate (bits per spike-pixel). Against the ground truth every "
          "curve saturates at the uncoded ceiling within about 1 dB, so BD-rate on that metric "
          "is ill-conditioned (a small PSNR wobble moves it by tens of percent); the codec "
          "fidelity table below compares the codecs themselves.", ""]
    for title, table in (("Scene PSNR vs ground truth", bd),
                         ("Scene PSNR vs uncoded scenes (codec fidelity)", bd_ref)):
        L += [f"{title}:", "",
              format_bd_table(table, markdown=True) if table
              else "(no codec besides the anchor ran)", ""]
    L += ["## Throughput and memory", "",
          f"`tools/bench.py` on {clips[0].name} ({bench_doc['frames']} frames), CPU, one run "
          "each while the machine may have been shared; peak RSS is each stage's own process "
          "(VmHWM, interpreter and imports included). speed/zstd: frames/s "
          "divided by zstd -19's in the same run.", "",
          format_bench(bench_doc, markdown=True), "",
          "Encoder presets (speed against bits and quality) and the speed figures: "
          "[results-speed.md](results-speed.md) (`tools/bench.py --presets all`).", ""]
    if mem is not None:
        c, a = mem["compress"], mem["random_access"]
        L += [f"Large file (`tools/bench_memory.py --size-gb {args.memory_gb:g}`): "
              f"{mem['input']['frames']} frames ({mem['input']['bytes'] / 1e9:.2f} GB) "
              f"compressed with {c['codec']} q{c['quality']} in {c['seconds']:.0f} s "
              f"({c['frames_per_s']:.0f} frames/s, {c['mb_per_s']:.1f} MB/s, {c['ratio']:.0f}x); "
              f"peak RSS {c['peak_rss_bytes'] / 2**20:.0f} MiB "
              f"(limit {mem['limit_bytes'] / 2**30:.1f} GiB: {'OK' if mem['ok'] else 'EXCEEDED'}). "
              f"Random access to frame {a['frame']} decoded {a['scenes_decoded']} of "
              f"{a['num_scenes']} scenes in {a['seconds']:.2f} s "
              f"(peak RSS {a['peak_rss_bytes'] / 2**20:.0f} MiB).", ""]
    else:
        L += ["Large-file memory test not run (`--memory-gb 0`).", ""]
    if pic_info:
        L += ["## Source reconstruction vs decoded scene", "",
              "![side by side](figures/side_by_side.png)", ""]
        L += [f"* {p['codec']} q{p['quality']}: {p['bits_per_spike_pixel']:.4f} bits per "
              f"spike-pixel ({p['ratio']:.0f}x), {p['psnr_vs_uncoded']:.2f} dB against the "
              "uncoded scene" for p in pic_info]
        L += [""]
    L += ["Raw numbers: [results.json](results.json), [bench.json](bench.json).", ""]
    L += ["Lossless coding (`exact` against zstd -19 and xz -9): "
          "[results-lossless.md](results-lossless.md) (`python tools/bench_lossless.py`).", ""]
    (docs / "results.md").write_text("\n".join(L))
    print(f"wrote {docs / 'results.md'} in {total / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
