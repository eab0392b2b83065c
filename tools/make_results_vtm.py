#!/usr/bin/env python
"""VVC (VTM) anchor rows, learned-vs-VTM BD-rate and VTM speed: docs/results-vtm.md in one command.

    SPKC_VTM_DIR=../shared/tools/vtm python tools/make_results_vtm.py
    SPKC_VTM_DIR=../shared/tools/vtm python tools/make_results_vtm.py --quick   # 2 qualities

What it runs (every number on the page comes from this run or from the file it names):

1. ``spkc.eval.evaluate`` of the ``vtm`` codec (all intra, the paper's anchor) on every REDS
   clip against its ground-truth PNG (frame 151, affine fit, 101 frames per scene, as
   ``tools/make_results.py``), paired with the learned reconstructor (``vtm+learned``) and with
   TFP of radius 12 (``vtm+tfp12``), at ``--qualities``.
2. The rows to compare with (``--compare``: the learned codec, HEVC and JPEG XL with the same
   reconstructors) are read from ``--reference`` (docs/results.json, written by
   tools/make_results.py, whose commit the page names) -- re-encoding them would take the
   full results run; ``--fresh learned`` evaluates those now instead.
3. BD-rate/BD-PSNR of every row against ``vtm+learned`` and ``vtm+tfp12``, on scene PSNR vs
   ground truth and vs the uncoded scenes (codec fidelity).
4. Seconds per 250x400 scene of EncoderApp at each quality (``--timing-qualities``): the
   ground-truth PNG of the first clip at 10 bits, one EncoderApp at a time.

Writes docs/results-vtm.md, docs/results-vtm.json and docs/figures/rd_vtm.png. VTM is slow
(15-40 s per scene on one shared core), so the default run took 47 minutes on 2 cores shared
with other jobs; ``--reuse`` re-renders the page from the last run's JSON without encoding.
The low-delay (inter) VTM anchor is not here yet (it needs groups of scenes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from spkc.eval.anchors import results_rows, vtm_bd_pair, vtm_timing
from spkc.eval.pipelines import evaluate_pipeline

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "reds-spikes"
GT_FRAME = 151
ANCHORS = ("vtm+learned", "vtm+tfp12")


def _evaluate(clips: list[Path], data: Path, spec: str, qualities: list[int],
              frames_per_scene: int) -> tuple[list[dict], list[dict]]:
    """Evaluate ``codec[:recon[:radius]]`` on ``clips`` at the codec's own ``qualities``."""
    from spkc.codecs import get_codec_class

    own = get_codec_class(spec.split(":")[0]).qualities
    t0 = time.perf_counter()
    rows, skipped = evaluate_pipeline(clips, spec, [q for q in qualities if q in own] or
                                      list(own), gt=data, gt_frame=GT_FRAME,
                                      frames_per_scene=frames_per_scene)
    print(f"  {len(rows)} rows in {time.perf_counter() - t0:.0f} s", flush=True)
    return rows, skipped


def _plot(rows: list[dict], out: Path) -> None:
    """Scene PSNR vs ground truth and vs uncoded scenes against bits per spike-pixel, per clip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    from spkc.eval.report import _num

    clips = list(dict.fromkeys(r["clip"] for r in rows))
    metrics = [("scene_psnr", "scene PSNR vs ground truth (dB)"),
               ("scene_psnr_ref", "scene PSNR vs uncoded scene (dB)")]
    fig, axes = plt.subplots(len(metrics), len(clips), figsize=(6 * len(clips), 4.4 * 2),
                             dpi=100, squeeze=False)
    for j, clip in enumerate(clips):
        for i, (m, label) in enumerate(metrics):
            ax = axes[i][j]
            for codec in dict.fromkeys(r["codec"] for r in rows):
                pts = sorted((_num(r["bits_per_spike_pixel"]), _num(r.get(m))) for r in rows
                             if r["clip"] == clip and r["codec"] == codec
                             and _num(r.get(m)) is not None and np.isfinite(_num(r.get(m))))
                if not pts:
                    continue
                vtm = codec.startswith("vtm")
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "s-" if vtm else "o--",
                        lw=2.2 if vtm or codec == "learned" else 1.0, label=codec)
            ax.set_xscale("log")
            # minor-tick labels of a narrow log range collide; keep only the major ones
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("bits per spike-pixel")
            ax.set_ylabel(label)
            ax.set_title(clip)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA), help="directory of REDS .dat + .png")
    ap.add_argument("--out", default=str(REPO / "docs"), help="docs directory")
    ap.add_argument("--reference", default=str(REPO / "docs" / "results.json"),
                    help="results.json to take the comparison rows from")
    ap.add_argument("--qualities", default="2,3,4,5",
                    help="vtm qualities (QP 40, 36, 32, 28: the learned codec's rate range)")
    ap.add_argument("--pipelines", default="vtm:learned,vtm:tfp:12",
                    help="codec:reconstructor[:radius] specs to evaluate now")
    ap.add_argument("--compare",
                    default="learned,hevc+learned,jxl+learned,hevc+tfp12,jxl+tfp12",
                    help="row labels read from --reference")
    ap.add_argument("--fresh", default="", help="specs evaluated now instead of read, "
                    "e.g. learned (its own qualities)")
    ap.add_argument("--timing-qualities", default="1,2,3,4,5,6,7,8",
                    help="qualities timed on one 250x400 scene ('' skips)")
    ap.add_argument("--frames-per-scene", type=int, default=101)
    ap.add_argument("--quick", action="store_true", help="qualities 3,4; timing of q1 and q8")
    ap.add_argument("--reuse", action="store_true",
                    help="no evaluation: rewrite the page from the last results-vtm.json's "
                    "rows (timing runs unless --timing-qualities '')")
    args = ap.parse_args(argv)
    if args.quick:
        args.qualities, args.timing_qualities = "3,4", "1,8"

    from spkc.codecs.vtm import VtmCodec
    from spkc.eval import bd_table, format_bd_table, format_table
    from spkc.eval.report import format_skipped, git_commit, jsonable, machine_info

    ok, note = VtmCodec.availability()
    if not ok or note:
        print(f"make_results_vtm: error: vtm cannot encode here ({note or 'unavailable'}); "
              "set SPKC_VTM_DIR, e.g. to ../shared/tools/vtm", file=sys.stderr)
        return 1
    data = Path(args.data)
    clips = sorted(data.glob("*.dat"))
    if not clips:
        print(f"make_results_vtm: error: no .dat clips in {data}", file=sys.stderr)
        return 1
    docs = Path(args.out)
    (docs / "figures").mkdir(parents=True, exist_ok=True)
    qualities = [int(q) for q in args.qualities.split(",") if q]
    t_start = time.perf_counter()

    rows: list[dict] = []
    skipped: list[dict] = []
    json_path = docs / "results-vtm.json"
    prev: dict = {}
    if args.reuse:  # re-render the page from the last run's numbers
        prev = json.loads(json_path.read_text())
        rows, skipped, t_eval = prev["results"], prev["skipped"], prev.get("eval_seconds", 0)
        qualities = sorted({int(r["quality"]) for r in rows if r["codec"].startswith("vtm")})
    else:
        for spec in filter(None, args.pipelines.split(",")):
            r, s = _evaluate(clips, data, spec, qualities, args.frames_per_scene)
            rows += r
            skipped += s
        for spec in filter(None, args.fresh.split(",")):
            r, s = _evaluate(clips, data, spec, [], args.frames_per_scene)
            rows += r
            skipped += s
        t_eval = time.perf_counter() - t_start
        # checkpoint: a failure below must not cost the (long) evaluation
        json_path.write_text(json.dumps(jsonable({"results": rows, "skipped": skipped,
                                                  "eval_seconds": t_eval, "timing": [],
                                                  "commit": git_commit()}),
                                        indent=1, allow_nan=False) + "\n")
    fresh_labels = {r["codec"] for r in rows}
    wanted = [c for c in args.compare.split(",") if c and c not in fresh_labels]
    ref_rows, ref_commit = results_rows(Path(args.reference), wanted) if wanted else ([], "")
    all_rows = rows + ref_rows

    bd = [e for a in ANCHORS for m in ("scene_psnr", "scene_psnr_ref")
          for e in bd_table(all_rows, a, metric=m) if vtm_bd_pair(e)]
    tq = [int(q) for q in args.timing_qualities.split(",") if q]
    if tq:
        timing = vtm_timing(clips[0].with_suffix(".png"), tq)
    else:  # with --reuse: the last run's timing table, if any
        timing = prev.get("timing", []) if args.reuse else []
    _plot(all_rows, docs / "figures" / "rd_vtm.png")

    total = time.perf_counter() - t_start
    m = machine_info()
    commit = git_commit() or "unknown"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    L = ["# spkc results: VVC (VTM) anchor", "",
         "Generated by `SPKC_VTM_DIR=../shared/tools/vtm python tools/make_results_vtm.py"
         f"{' --quick' if args.quick else ''}` -- do not edit by hand. "
         "Companion of [results.md](results.md).", "",
         (f"* commit `{commit}`; date {when}; took {total / 60:.1f} min "
          f"(VTM evaluation {t_eval / 60:.1f} min)" if not args.reuse else
          f"* page re-rendered at commit `{commit}` on {when} with `--reuse`: the rows are "
          f"those of the last full run ({t_eval / 60:.1f} min of VTM evaluation; its commit: "
          f"{prev.get('commit') or 'the previous version of this page in git'})"),
         f"* machine: {m['cpu']}, {m['cores']} cores (shared with other jobs), "
         f"Python {m['python']}, torch {m.get('torch')}",
         "* codec: VTM 23.13 EncoderApp, all-intra configuration (`encoder_intra_vtm.cfg`), "
         "10-bit 4:0:0, one picture per scene (the `vtm` codec's defaults); VTM's low-delay "
         "(inter) configuration is not run: spkc does not code groups of scenes yet",
         f"* data: {', '.join(c.name for c in clips)} (REDS spikes, 250x400, ground truth at "
         f"frame {GT_FRAME}); {args.frames_per_scene} frames per scene, as in results.md",
         f"* VTM rows (evaluated now): {', '.join(dict.fromkeys(r['codec'] for r in rows))} at "
         f"qualities {', '.join(map(str, qualities))} (QP "
         f"{', '.join(str(VtmCodec(quality=q).qp) for q in qualities)}); `vtm+learned` codes "
         "the learned reconstructor's scenes, `vtm+tfp12` TFP's with radius 12"]
    if ref_rows:
        L.append(f"* comparison rows {', '.join(dict.fromkeys(r['codec'] for r in ref_rows))} "
                 f"read from `{Path(args.reference).name}` (tools/make_results.py"
                 f"{', commit `' + ref_commit + '`' if ref_commit else ''}), not re-encoded")
    L += ["", "## Rate-distortion", "",
          "Same metrics as results.md: scene PSNR/SSIM at frame 151 against the ground truth "
          "after an affine fit; PSNR ref against the uncoded scene (codec fidelity).", "",
          "![RD vtm](figures/rd_vtm.png)", "",
          format_table(rows, markdown=True), ""]
    if skipped:
        L += ["Not run:", ""] + [f"* {s}" for s in format_skipped(skipped).splitlines()] + [""]
    learned_bd = [e for e in bd if e["codec"] == "learned"]
    other_bd = [e for e in bd if e["codec"] != "learned"]
    L += ["## Bjontegaard deltas against VTM", "",
          "BD-rate: % bits against the VTM anchor at equal PSNR (negative = fewer bits than "
          "VTM); BD-PSNR: dB at equal rate. pchip over log bits per spike-pixel, on the "
          "overlap of the two curves. The paper (SpikeCodec) reports -6.14 % BD-rate against "
          "VTM; here `learned` against `vtm+learned` is the like-for-like pair (same "
          "reconstructor, the codec differs). Against the ground truth the curves saturate at "
          "the reconstructor's ceiling, so the codec-fidelity metric (PSNR ref) is the better "
          "conditioned of the two.", "",
          "Learned codec against VTM:", "",
          format_bd_table(learned_bd, markdown=True) if learned_bd else "(no learned rows)", "",
          "HEVC and JPEG XL against VTM, coding the same reconstructor's scenes:", "",
          format_bd_table(other_bd, markdown=True) if other_bd else "(no rows)", ""]
    if timing:
        L += ["## VTM speed", "",
              "EncoderApp on one 250x400 scene (the first clip's ground-truth image, 10 bits), "
              "one process at a time, wall seconds; the machine's 1-minute load average when "
              "each run started is shown because the 2 cores were shared. The `vtm` codec "
              "runs one EncoderApp per core on independent scenes, and gives each run "
              "max(600 s, 5 ms per pixel) before calling it hung.", "",
              "| quality | QP | encode s | decode s | bytes | bpp | PSNR dB | load |",
              "|---|---|---|---|---|---|---|---|"]
        L += [f"| {t['quality']} | {t['qp']} | {t['encode_s']:.1f} | {t['decode_s']:.2f} | "
              f"{t['bytes']} | {t['bpp']:.3f} | {t['psnr']:.2f} | {t['loadavg']:.1f} |"
              for t in timing]
        L += [""]
    L += ["Raw numbers: [results-vtm.json](results-vtm.json).", ""]
    (docs / "results-vtm.md").write_text("\n".join(L))
    json_path.write_text(json.dumps(jsonable(
        {"results": rows, "reference_rows": ref_rows, "skipped": skipped, "bd": bd,
         "timing": timing, "eval_seconds": t_eval,
         "commit": prev.get("commit") if args.reuse else git_commit()}),
        indent=1, allow_nan=False) + "\n")
    print(f"wrote {docs / 'results-vtm.md'} in {total / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
