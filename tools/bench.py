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

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SRC = REPO.parent / "shared" / "data" / "reds-spikes" / "203_part2.dat"


# -- stages (run in the child) -----------------------------------------------------------------
def _preload() -> None:
    import spkc.codecs.reconstructors  # noqa: F401
    import spkc.container  # noqa: F401
    import spkc.io  # noqa: F401
    import spkc.pipeline  # noqa: F401


def stage_read(a: dict) -> dict:
    from spkc.io import open_spikes

    t0 = time.perf_counter()
    n = 0
    with open_spikes(a["src"], height=a["height"], width=a["width"]) as s:
        for block in s.iter_blocks(256):
            n += len(block)
    return {"frames": n, "seconds": time.perf_counter() - t0}


def stage_simulate(a: dict) -> dict:
    from spkc.spikes import simulate_sample

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        info = simulate_sample(Path(tmp) / "sim.dat", num_frames=a["sim_frames"],
                               height=a["height"], width=a["width"])
        dt = time.perf_counter() - t0
    return {"frames": info["shape"][0], "seconds": dt, "mean_rate": info["mean_rate"]}


def stage_compress(a: dict) -> dict:
    from spkc.codecs import get_codec_class
    from spkc.pipeline import compress

    get_codec_class(a["codec"])
    t0 = time.perf_counter()
    r = compress(a["src"], a["dst"], codec=a["codec"], quality=a["quality"],
                 frames_per_scene=a["frames_per_scene"], height=a["height"], width=a["width"],
                 device=a["device"])
    dt = time.perf_counter() - t0
    return {"frames": r.num_frames, "seconds": dt, "out_bytes": r.file_bytes,
            "quality": r.quality, "reconstructor": r.reconstructor}


def stage_decompress(a: dict) -> dict:
    from spkc.pipeline import decompress
    from spkc.pipeline import open as open_clip

    with open_clip(a["dst"]) as c:
        T = c.shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        decompress(a["dst"], Path(tmp) / "out.dat", device=a["device"])
        dt = time.perf_counter() - t0
    return {"frames": T, "seconds": dt}


def _frames_of(a: dict) -> int:
    from spkc.io import dat_num_frames

    return dat_num_frames(a["src"], a["height"], a["width"])


def stage_zstd(a: dict) -> dict:
    import zstandard

    data = Path(a["src"]).read_bytes()
    t0 = time.perf_counter()
    comp = zstandard.ZstdCompressor(level=19).compress(data)
    tc = time.perf_counter() - t0
    t0 = time.perf_counter()
    back = zstandard.ZstdDecompressor().decompress(comp)
    td = time.perf_counter() - t0
    assert back == data
    return {"frames": _frames_of(a), "seconds": tc, "decode_seconds": td,
            "out_bytes": len(comp)}


def stage_xz(a: dict) -> dict:
    import lzma

    data = Path(a["src"]).read_bytes()
    t0 = time.perf_counter()
    comp = lzma.compress(data, preset=9)
    tc = time.perf_counter() - t0
    t0 = time.perf_counter()
    back = lzma.decompress(comp)
    td = time.perf_counter() - t0
    assert back == data
    return {"frames": _frames_of(a), "seconds": tc, "decode_seconds": td,
            "out_bytes": len(comp)}


STAGES = {"read": stage_read, "simulate": stage_simulate, "compress": stage_compress,
          "decompress": stage_decompress, "zstd": stage_zstd, "xz": stage_xz}


def _child(stage: str, args_json: str) -> int:
    from spkc.eval.proc import self_peak_rss_bytes, write_child_result

    a = json.loads(args_json)
    _preload()
    base = self_peak_rss_bytes()
    out = STAGES[stage](a)
    out["baseline_rss_bytes"] = base
    write_child_result(out)
    return 0


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


def run_bench(src: Path, configs: list[tuple[str, int | None]], devices: list[str],
              height: int = 250, width: int = 400, frames_per_scene: int = 32,
              sim_frames: int = 300, timeout: float = 1800.0, log=print) -> dict:
    """Run every stage in a child process; returns ``{"rows": [...], "skipped": [...]}``."""
    from spkc.codecs import get_codec_class
    from spkc.errors import SpkcError
    from spkc.eval.proc import run_measured
    from spkc.io import dat_num_frames

    frames = dat_num_frames(src, height, width)
    raw_bytes = frames * height * width / 8
    base = {"src": str(src), "height": height, "width": width,
            "frames_per_scene": frames_per_scene, "sim_frames": sim_frames}
    rows: list[dict] = []
    skipped: list[dict] = []
    tmp = Path(tempfile.mkdtemp(prefix="spkc-bench-"))

    def run(stage: str, label: dict, extra: dict) -> dict | None:
        a = {**base, **extra}
        r = run_measured([sys.executable, os.path.abspath(__file__), "--child", stage,
                          "--child-args", json.dumps(a)], timeout=timeout)
        if r.returncode != 0:
            last = r.stderr_tail.strip().splitlines()[-1:] or ["(no output)"]
            skipped.append({**label, "reason": f"exit {r.returncode}: {last[0]}"})
            log(f"  {label}: FAILED {last[0]}")
            return None
        res = r.result
        fr = res["frames"]
        mb = fr * height * width / 8 / 1e6
        row = {**label, "frames": fr, "seconds": res["seconds"],
               "frames_per_s": fr / res["seconds"], "mb_per_s": mb / res["seconds"],
               "peak_rss_bytes": r.peak_rss_bytes,
               "baseline_rss_bytes": res.get("baseline_rss_bytes")}
        if "out_bytes" in res:
            row["out_bytes"] = res["out_bytes"]
            row["ratio"] = raw_bytes / res["out_bytes"]
        for k in ("quality", "reconstructor"):
            if k in res:
                row[k] = res[k]
        rows.append(row)
        if "decode_seconds" in res:  # reference compressors: decode row from the same run
            rows.append({**label, "stage": "decompress", "frames": fr,
                         "seconds": res["decode_seconds"],
                         "frames_per_s": fr / res["decode_seconds"],
                         "mb_per_s": mb / res["decode_seconds"],
                         "peak_rss_bytes": r.peak_rss_bytes,
                         "baseline_rss_bytes": res.get("baseline_rss_bytes"),
                         "out_bytes": res["out_bytes"], "ratio": row["ratio"]})
        log(f"  {label['stage']:<10} {label['codec']:<9} {label.get('device', '')}: "
            f"{row['frames_per_s']:.0f} frames/s, peak RSS {r.peak_rss_bytes / 2**20:.0f} MiB")
        return row

    try:
        run("read", {"stage": "read", "codec": "-", "device": "cpu"}, {})
        run("simulate", {"stage": "simulate", "codec": "-", "device": "cpu"}, {})
        run("zstd", {"stage": "compress", "codec": "zstd-19", "device": "cpu"}, {})
        run("xz", {"stage": "compress", "codec": "xz-9", "device": "cpu"}, {})
        for codec, q in configs:
            try:
                cls = get_codec_class(codec)
                ok, why = cls.availability()
            except SpkcError as exc:
                ok, why = False, exc.problem
            if not ok:
                skipped.append({"stage": "compress", "codec": codec, "quality": q,
                                "reason": why})
                continue
            for dev in devices:
                dst = tmp / f"{codec}-{q}-{dev}.spkc"
                label = {"stage": "compress", "codec": codec, "device": dev}
                if run("compress", label, {"codec": codec, "quality": q, "device": dev,
                                           "dst": str(dst)}) is None:
                    continue
                run("decompress", {"stage": "decompress", "codec": codec, "device": dev,
                                   "quality": rows[-1].get("quality")},
                    {"dst": str(dst), "device": dev})
                rows[-1]["ratio"] = rows[-2]["ratio"]
                rows[-1]["out_bytes"] = rows[-2]["out_bytes"]
                dst.unlink(missing_ok=True)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    ref = {(r["codec"], r["stage"]): r["frames_per_s"] for r in rows
           if r["codec"] == "zstd-19"}
    for r in rows:
        z = ref.get(("zstd-19", r["stage"]))
        r["speed_vs_zstd19"] = r["frames_per_s"] / z if z and r["stage"] in (
            "compress", "decompress") else None
    return {"src": str(src), "frames": frames, "height": height, "width": width,
            "frames_per_scene": frames_per_scene, "raw_bytes": raw_bytes, "rows": rows,
            "skipped": skipped,
            "peak_rss_method": "VmHWM (own high-water RSS) of each stage's child process, "
                               "interpreter and imports included; baseline_rss_bytes = after "
                               "imports",
            "timing": "inside the child, imports excluded; one run each"}


def format_bench(doc: dict, markdown: bool = False) -> str:
    """The benchmark rows as a text (or Markdown) table."""
    head = ["stage", "codec", "q", "device", "frames/s", "MB/s", "ratio", "speed/zstd",
            "peak RSS MiB"]
    body = []
    for r in doc["rows"]:
        sv = r.get("speed_vs_zstd19")
        body.append([r["stage"], r["codec"], str(r.get("quality", "") or ""),
                     r.get("device", ""), f"{r['frames_per_s']:.0f}", f"{r['mb_per_s']:.1f}",
                     f"{r['ratio']:.2f}" if "ratio" in r else "",
                     f"{sv:.3g}x" if sv else "", f"{r['peak_rss_bytes'] / 2**20:.0f}"])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
    else:
        w = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
        lines = ["  ".join(h.rjust(x) for h, x in zip(head, w, strict=True))]
        lines += ["  ".join(c.rjust(x) for c, x in zip(b, w, strict=True)) for b in body]
    for s in doc["skipped"]:
        lines.append(("* " if markdown else "") + f"skipped {s['stage']} {s['codec']}: "
                     f"{s['reason']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=None, help=f".dat input (default {DEFAULT_SRC}, or a "
                    "simulated 301-frame clip when absent)")
    ap.add_argument("--configs", default=None,
                    help="codec[:quality],... (default: every available codec, its default "
                         "quality)")
    ap.add_argument("--devices", default=None,
                    help="comma-separated torch devices (default: cpu, plus cuda if present)")
    ap.add_argument("--height", type=int, default=250)
    ap.add_argument("--width", type=int, default=400)
    ap.add_argument("--frames-per-scene", type=int, default=32)
    ap.add_argument("--sim-frames", type=int, default=300, help="frames for the simulate stage")
    ap.add_argument("--json", default="bench.json", help="output JSON ('' for none)")
    ap.add_argument("--child", choices=sorted(STAGES), help=argparse.SUPPRESS)
    ap.add_argument("--child-args", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(args.child, args.child_args)

    import torch

    devices = (args.devices.split(",") if args.devices else
               ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
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
    print(f"bench on {src} (devices: {', '.join(devices)})", flush=True)
    doc = run_bench(src, _configs(args.configs), devices, args.height, args.width,
                    args.frames_per_scene, args.sim_frames)
    from spkc.eval.report import git_commit, machine_info

    doc["machine"] = machine_info()
    doc["commit"] = git_commit()
    doc["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    print(format_bench(doc))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.json}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
