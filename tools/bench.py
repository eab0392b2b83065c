#!/usr/bin/env python
"""Throughput and peak memory of read, simulate, compress and decompress, per codec and device.

Every stage runs in its own child process; its time is measured inside the child (imports
excluded) and its peak memory is the child's own high-water resident set (``VmHWM``; the stage's
own process, interpreter and imports included; see :mod:`spkc.eval.proc` for why not
``ru_maxrss``). Reference rows on
the same .dat in the same run: ``zstd -19`` (python zstandard, level 19) and ``xz -9`` (python
lzma, preset 9), compress and decompress. Columns ``speed/zstd`` divide a stage's frames/s by
zstd -19's compress (or decompress) frames/s from this run.

    python tools/bench.py                                   # REDS clip if ../shared is present
    python tools/bench.py --src clip.dat --configs jxl:4,hevc:4,raw:3 --devices cpu,cuda
    python tools/bench.py --json docs/bench.json

Throughput: spike frames/s and MB/s of raw 1-bit input (H*W/8 bytes per frame).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from spkc.eval.speed import STAGES, run_bench, run_child, split_preset
from spkc.eval.speed_report import format_bench, preset_summary, speed_markdown

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SRC = REPO.parent / "shared" / "data" / "reds-spikes" / "203_part2.dat"


# -- parent ------------------------------------------------------------------------------------
def _configs(text: str | None) -> list[tuple[str, int | None]]:
    from spkc.codecs import list_codecs

    if not text:
        return [(c.name, None) for c in list_codecs() if c.available]
    out = []
    for item in text.split(","):
        name, _, q = item.strip().partition(":")
        out.append((name, int(q) if q else None))
    return out


def plot_presets(doc: dict, path: Path) -> None:
    """frames/s against scene PSNR and bits of each preset (one PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summ = preset_summary(doc)["presets"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    z = preset_summary(doc)["zstd19_compress_frames_per_s"]
    for p in summ:
        axes[0].scatter(p["compress_frames_per_s"], p["scene_psnr"] or 0)
        axes[0].annotate(p["preset"], (p["compress_frames_per_s"], p["scene_psnr"] or 0))
        axes[1].scatter(p["compress_frames_per_s"], p["bits_per_spike_pixel"])
        axes[1].annotate(p["preset"], (p["compress_frames_per_s"], p["bits_per_spike_pixel"]))
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("compress frames/s (log)")
        if z:
            ax.axvline(z, color="gray", ls="--", lw=1)
            ax.text(z, ax.get_ylim()[0], " zstd -19", color="gray", va="bottom")
    axes[0].set_ylabel(f"scene PSNR vs GT, dB ({doc.get('quality_frames_per_scene')} fr/scene)")
    axes[1].set_ylabel(f"bits per spike-pixel ({doc['frames_per_scene']} fr/scene)")
    fig.suptitle(f"encoder presets on {Path(doc['src']).name}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(doc: dict, args, presets: bool) -> None:
    """--plot, --markdown and --write-presets of ``doc``."""
    if args.plot and presets:
        plot_presets(doc, Path(args.plot))
        print(f"wrote {args.plot}")
    if args.markdown:
        rel = (os.path.relpath(args.plot, Path(args.markdown).parent)
               if args.plot and presets else None)
        Path(args.markdown).write_text(speed_markdown(doc, rel) + "\n")
        print(f"wrote {args.markdown}")
    if args.write_presets and presets:
        Path(args.write_presets).write_text(json.dumps(preset_summary(doc), indent=1) + "\n")
        print(f"wrote {args.write_presets}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=None, help=f".dat input (default {DEFAULT_SRC}, or a "
                    "simulated 301-frame clip when absent)")
    ap.add_argument("--configs", default=None,
                    help="codec[:quality],... (default: every available codec, its default "
                         "quality; none with --presets)")
    ap.add_argument("--presets", default=None,
                    help="encoder presets to run with the learned codec, ';'-separated: "
                         "fast;medium;slow or 'all'; a variant overrides codec options: "
                         "'medium:refine=5'")
    ap.add_argument("--gt", default=None,
                    help="ground-truth PNG of the clip (default: the .png beside --src)")
    ap.add_argument("--gt-frame", type=int, default=151)
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per timed stage; the fastest is kept (shared machines)")
    ap.add_argument("--rd", action="store_true",
                    help="check the fast preset's RD points against TFP + JPEG XL")
    ap.add_argument("--long-factor", type=int, default=0,
                    help="also compress a clip this many times as long (peak RSS vs length)")
    ap.add_argument("--no-basic", action="store_true", help="skip the read/simulate stages")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads per stage (default 1: per core, like zstd -19; 0 = "
                         "torch's default)")
    ap.add_argument("--devices", default=None,
                    help="comma-separated torch devices (default: cpu, plus cuda if present)")
    ap.add_argument("--height", type=int, default=250)
    ap.add_argument("--width", type=int, default=400)
    ap.add_argument("--frames-per-scene", type=int, default=32)
    ap.add_argument("--sim-frames", type=int, default=300, help="frames for the simulate stage")
    ap.add_argument("--json", default="bench.json", help="output JSON ('' for none)")
    ap.add_argument("--markdown", default=None,
                    help="also write the results as Markdown (e.g. docs/results-speed.md)")
    ap.add_argument("--plot", default=None, help="PNG of the presets' trade-off")
    ap.add_argument("--write-presets", default=None,
                    help="write the preset summary JSON (spkc/pipeline/presets.json is what "
                         "`spkc compress --help` shows)")
    ap.add_argument("--from-json", default=None,
                    help="write --markdown/--plot/--write-presets from an earlier --json "
                         "instead of measuring")
    ap.add_argument("--child", choices=sorted(STAGES), help=argparse.SUPPRESS)
    ap.add_argument("--child-args", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return run_child(args.child, args.child_args)

    if args.from_json:
        doc = json.loads(Path(args.from_json).read_text())
        for r in doc["rows"]:
            if r["stage"] not in ("compress", "decompress"):
                r["speed_vs_zstd19"] = None
        write_reports(doc, args, presets=any("preset" in r for r in doc["rows"]))
        return 0

    import torch

    devices = (args.devices.split(",") if args.devices else
               ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    presets = None
    if args.presets:
        from spkc.pipeline.presets import PRESET_NAMES

        presets = list(PRESET_NAMES) if args.presets == "all" else args.presets.split(";")
        bad = [p for p in presets if split_preset(p)[0] not in PRESET_NAMES]
        if bad:
            print(f"bench: error: unknown preset(s) {bad}", file=sys.stderr)
            return 1
    tmp = None
    src = Path(args.src) if args.src else DEFAULT_SRC
    if not src.is_file():
        if args.src:
            print(f"bench: error: {src}: no such file", file=sys.stderr)
            return 1
        from spkc.spikes import simulate_sample

        tmp = tempfile.TemporaryDirectory()
        src = Path(tmp.name) / "simulated.dat"
        simulate_sample(src, num_frames=301, height=args.height, width=args.width)
    gt = args.gt or (str(src.with_suffix(".png")) if src.with_suffix(".png").is_file() else None)
    configs = _configs(args.configs) if (args.configs or not presets) else []
    print(f"bench on {src} (devices: {', '.join(devices)})", flush=True)
    doc = run_bench(src, configs, devices, args.height, args.width,
                    args.frames_per_scene, args.sim_frames, presets=presets, gt=gt,
                    gt_frame=args.gt_frame, repeat=args.repeat, rd=args.rd,
                    long_factor=args.long_factor, basic=not args.no_basic,
                    threads=args.threads)
    from spkc.eval.report import git_commit, machine_info

    doc["machine"] = machine_info()
    doc["commit"] = git_commit()
    doc["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    doc["argv"] = " ".join(sys.argv[1:] if argv is None else argv)
    print(format_bench(doc))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.json}")
    write_reports(doc, args, presets=bool(presets))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
