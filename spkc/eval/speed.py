"""Throughput and peak memory of read, simulate, compress and decompress, per codec and device.

The measuring side of ``tools/bench.py`` (which keeps the arguments, the presets plot and
file writing). Every stage runs in its own child process (``python -m spkc.eval.speed STAGE
JSON``, see :func:`run_child`); its time is measured inside the child (imports excluded) and
its peak memory is the child's own high-water resident set (:mod:`spkc.eval.proc`). Reference
rows: ``zstd -19`` and ``xz -9`` on the same .dat in the same run. :func:`preset_summary`
builds the presets' trade-off (spkc/pipeline/presets.json, shown by ``spkc compress --help``),
:func:`rd_verdict` checks the fast preset against TFP + JPEG XL and :func:`speed_markdown`
writes docs/results-speed.md.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["STAGES", "format_bench", "preset_summary", "rd_verdict", "run_bench", "run_child",
           "speed_markdown", "split_preset", "tile_dat"]


# -- stages (run in a child process) -----------------------------------------------------------
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


def split_preset(spec: str | None) -> tuple[str | None, dict]:
    """"medium:refine=5,precision=float32" -> ("medium", {"refine": 5, ...}): a preset with
    codec options overriding it (values JSON, else strings), to measure variants."""
    if not spec:
        return None, {}
    name, _, rest = spec.partition(":")
    opts = {}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        try:
            opts[k] = json.loads(v)
        except json.JSONDecodeError:
            opts[k] = v
    return name, opts


def _preset_kwargs(spec: str | None) -> dict:
    name, opts = split_preset(spec)
    return {"preset": name, "codec_options": opts or None}


def stage_compress(a: dict) -> dict:
    from spkc.codecs import get_codec_class
    from spkc.pipeline import compress

    get_codec_class(a["codec"])
    t0 = time.perf_counter()
    r = compress(a["src"], a["dst"], codec=a["codec"], quality=a["quality"],
                 frames_per_scene=a["frames_per_scene"], height=a["height"], width=a["width"],
                 device=a["device"], **_preset_kwargs(a.get("preset")))
    dt = time.perf_counter() - t0
    return {"frames": r.num_frames, "seconds": dt, "out_bytes": r.file_bytes,
            "quality": r.quality, "reconstructor": r.reconstructor,
            "bits_per_spike_pixel": r.bits_per_spike_pixel}


def stage_decompress(a: dict) -> dict:
    from spkc.pipeline import decompress
    from spkc.pipeline import open as open_clip

    with open_clip(a["dst"]) as c:
        T = c.shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        decompress(a["dst"], Path(tmp) / "out.dat", device=a["device"])
        dt = time.perf_counter() - t0
    out = {"frames": T, "seconds": dt}
    if a.get("gt"):  # after the timing: the scene at the ground-truth frame against it
        out["scene_psnr"] = _gt_psnr(a["dst"], a["gt"], a["gt_frame"])
    return out


def _gt_psnr(path: str, gt: str, gt_frame: int) -> float:
    """PSNR (dB, affine fit, as spkc eval) of the decoded scene at ``gt_frame`` vs ``gt``."""
    from spkc.eval.engine import load_ground_truth
    from spkc.metrics import psnr
    from spkc.pipeline import open as open_clip

    with open_clip(path) as c:
        return float(psnr(c.scene_at(int(gt_frame)), load_ground_truth(gt, path), peak=1.0,
                          affine_fit=True))


def stage_rd(a: dict) -> dict:
    """Rate-distortion points (no timing): ``a["points"]`` = [{"label", "codec", "quality",
    "preset", "radius"}, ...] -> each with bits/spike-pixel and scene PSNR vs the ground
    truth."""
    from spkc.pipeline import compress

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        dst = str(Path(tmp) / "rd.spkc")
        for pt in a["points"]:
            r = compress(a["src"], dst, codec=pt["codec"], quality=pt["quality"],
                         frames_per_scene=a["frames_per_scene"], height=a["height"],
                         width=a["width"], radius=pt.get("radius"),
                         **_preset_kwargs(pt.get("preset")))
            out.append({**pt, "bits_per_spike_pixel": r.bits_per_spike_pixel,
                        "reconstructor": r.reconstructor,
                        "scene_psnr": _gt_psnr(dst, a["gt"], a["gt_frame"])})
    return {"frames": 0, "seconds": 0.0, "points": out}


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
          "decompress": stage_decompress, "zstd": stage_zstd, "xz": stage_xz, "rd": stage_rd}


def run_child(stage: str, args_json: str) -> int:
    """In a child process: run ``stage`` (a key of :data:`STAGES`) on its JSON arguments and
    hand back its result with the baseline RSS (after imports) to the measuring parent."""
    from spkc.eval.proc import self_peak_rss_bytes, write_child_result

    a = json.loads(args_json)
    if a.get("threads") and stage not in ("zstd", "xz", "read"):  # those never import torch
        import torch

        torch.set_num_threads(int(a["threads"]))
    _preload()
    base = self_peak_rss_bytes()
    out = STAGES[stage](a)
    out["baseline_rss_bytes"] = base
    write_child_result(out)
    return 0



# -- parent ------------------------------------------------------------------------------------
def tile_dat(src: Path, dst: Path, times: int, frame_bytes: int) -> None:
    """``dst``: the .dat ``src`` played ``times`` times, every other time backwards (a clip
    ``times`` as long with the same content and no jump where the copies meet)."""
    import numpy as np

    frames = np.fromfile(src, np.uint8).reshape(-1, frame_bytes)
    with open(dst, "wb") as f:
        for i in range(times):
            f.write((frames[::-1] if i % 2 else frames).tobytes())


def run_bench(src: Path, configs: list[tuple[str, int | None]], devices: list[str],
              height: int = 250, width: int = 400, frames_per_scene: int = 32,
              sim_frames: int = 300, timeout: float = 1800.0, log=print,
              presets: list[str] | None = None, gt: str | None = None, gt_frame: int = 151,
              repeat: int = 1, rd: bool = False, long_factor: int = 0,
              basic: bool = True, quality_frames_per_scene: int = 101,
              threads: int = 1) -> dict:
    """Run every stage in a child process; returns ``{"rows": [...], "skipped": [...]}``.

    ``presets``: also compress (learned codec, default quality) and decompress with each
    encoder preset; their quality (scene PSNR at ``gt_frame`` against ``gt``, bits) is
    measured with ``quality_frames_per_scene`` frames per scene (101: a scene time on frame
    151); ``repeat``: run
    each timed stage that many times and keep the fastest (the machine is shared: the fastest
    run is the least disturbed one; peak RSS is the largest of the runs); ``rd``: the fast
    preset's RD points against TFP + JPEG XL at several windows (needs ``gt``);
    ``long_factor``: compress a clip that many times as long with the default preset (peak
    RSS flat in clip length?). ``basic``: the read and simulate stages. ``threads``: torch
    threads of every stage (1: a per-core comparison with single-threaded zstd -19, and no
    OpenMP threads spinning against other processes on a shared machine; 0: torch's default).
    """
    from spkc.codecs import get_codec_class
    from spkc.errors import SpkcError
    from spkc.eval.proc import run_measured
    from spkc.io import dat_num_frames
    from spkc.io.dat import frame_bytes
    from spkc.pipeline.presets import DEFAULT_PRESET

    frames = dat_num_frames(src, height, width)
    raw_bytes = frames * height * width / 8
    base = {"src": str(src), "height": height, "width": width,
            "frames_per_scene": frames_per_scene, "sim_frames": sim_frames,
            "gt": gt, "gt_frame": gt_frame, "threads": threads}
    rows: list[dict] = []
    skipped: list[dict] = []
    extra_out: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="spkc-bench-"))

    def child(stage: str, a: dict):
        return run_measured([sys.executable, "-m", __name__, stage, json.dumps(a)],
                            timeout=timeout)

    def run(stage: str, label: dict, extra: dict, times: int | None = None) -> dict | None:
        a = {**base, **extra}
        best = None
        peak = 0
        for _ in range(max(1, repeat if times is None else times)):
            r = child(stage, a)
            if r.returncode != 0:
                last = r.stderr_tail.strip().splitlines()[-1:] or ["(no output)"]
                skipped.append({**label, "reason": f"exit {r.returncode}: {last[0]}"})
                log(f"  {label}: FAILED {last[0]}")
                return None
            peak = max(peak, r.peak_rss_bytes)
            if best is None or r.result["seconds"] < best.result["seconds"]:
                best = r
        res = best.result
        fr = res["frames"]
        mb = fr * height * width / 8 / 1e6
        row = {**label, "frames": fr, "seconds": res["seconds"],
               "frames_per_s": fr / res["seconds"], "mb_per_s": mb / res["seconds"],
               "peak_rss_bytes": peak,
               "baseline_rss_bytes": res.get("baseline_rss_bytes")}
        if "out_bytes" in res:
            row["out_bytes"] = res["out_bytes"]
            row["ratio"] = fr * height * width / 8 / res["out_bytes"]
        for k in ("quality", "reconstructor", "bits_per_spike_pixel", "scene_psnr"):
            if k in res:
                row[k] = res[k]
        rows.append(row)
        if "decode_seconds" in res:  # reference compressors: decode row from the same run
            td = res["decode_seconds"]
            rows.append({**label, "stage": "decompress", "frames": fr,
                         "seconds": td, "frames_per_s": fr / td, "mb_per_s": mb / td,
                         "peak_rss_bytes": peak,
                         "baseline_rss_bytes": res.get("baseline_rss_bytes"),
                         "out_bytes": res["out_bytes"], "ratio": row["ratio"]})
        tag = f" preset={label['preset']}" if "preset" in label else ""
        log(f"  {label['stage']:<10} {label['codec']:<9} {label.get('device', '')}{tag}: "
            f"{row['frames_per_s']:.0f} frames/s, peak RSS {peak / 2**20:.0f} MiB", flush=True)
        return row

    def code_and_decode(codec: str, q: int | None, dev: str, preset: str | None) -> None:
        dst = tmp / f"{codec}-{q}-{dev}-{preset}.spkc"
        label = {"stage": "compress", "codec": codec, "device": dev}
        if preset:
            label["preset"] = preset
        extra = {"codec": codec, "quality": q, "device": dev, "dst": str(dst), "preset": preset}
        if run("compress", label, extra) is None:
            return
        crow = rows[-1]
        d = run("decompress", {**label, "stage": "decompress", "quality": crow.get("quality")},
                {"dst": str(dst), "device": dev, "gt": None})
        if d is not None:
            d["ratio"], d["out_bytes"] = crow["ratio"], crow["out_bytes"]
        dst.unlink(missing_ok=True)

    try:
        if basic:
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
                code_and_decode(codec, q, dev, None)
        for name in presets or []:
            for dev in devices:
                code_and_decode("learned", None, dev, name)
        if long_factor > 1:
            long_src = tmp / "long.dat"
            tile_dat(src, long_src, long_factor, frame_bytes(height, width))
            for label_stage, path in (("compress-1x", src),
                                      (f"compress-{long_factor}x", long_src)):
                run("compress", {"stage": label_stage, "codec": "learned", "device": "cpu",
                                 "preset": DEFAULT_PRESET},
                    {"src": str(path), "codec": "learned", "quality": None, "device": "cpu",
                     "dst": str(tmp / "long.spkc"), "preset": DEFAULT_PRESET}, times=1)
            long_src.unlink(missing_ok=True)
        if gt and (presets or rd):
            # quality at a layout that puts a scene time on the ground-truth frame (as
            # tools/make_results.py does): at 32 frames per scene frame 151 is interpolated
            # between two scenes and that, not the encoder, dominates its PSNR
            points = [{"label": f"preset {p}", "codec": "learned", "quality": None,
                       "preset": p} for p in presets or []]
            if rd:
                points += [{"label": "fast", "codec": "learned", "quality": q,
                            "preset": "fast"} for q in (1, 2, 3, 4)]
                points += [{"label": f"TFP({2 * r + 1}) + jxl", "codec": "jxl", "quality": q,
                            "radius": r} for r in (4, 8, 12, 20) for q in range(1, 9)]
            r = child("rd", {**base, "points": points,
                             "frames_per_scene": quality_frames_per_scene})
            if r.returncode != 0:
                last = r.stderr_tail.strip().splitlines()[-1:] or ["(no output)"]
                skipped.append({"stage": "rd", "codec": "-", "reason": last[0]})
            else:
                pts = r.result["points"]
                for row in rows:
                    q = next((x for x in pts if x["label"] == f"preset {row.get('preset')}"),
                             None)
                    if q is not None and row["stage"] == "compress":
                        row["quality_bits_per_spike_pixel"] = q["bits_per_spike_pixel"]
                        row["scene_psnr"] = q["scene_psnr"]
                if rd:
                    extra_out["rd"] = rd_verdict([x for x in pts
                                                  if not x["label"].startswith("preset ")])
                    log(f"  rd: {extra_out['rd']['verdict']}", flush=True)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    ref = {(r["codec"], r["stage"]): r["frames_per_s"] for r in rows
           if r["codec"] == "zstd-19"}
    for r in rows:
        stage = r["stage"] if r["stage"] in ("compress", "decompress") else "compress"
        z = ref.get(("zstd-19", stage))
        # the clip-length rows measure memory; they are timed once, on other clips than zstd
        r["speed_vs_zstd19"] = r["frames_per_s"] / z if z and r["stage"] in (
            "compress", "decompress") else None
    return {"src": str(src), "frames": frames, "height": height, "width": width,
            "frames_per_scene": frames_per_scene, "raw_bytes": raw_bytes, "rows": rows,
            "skipped": skipped, "gt": gt, "gt_frame": gt_frame, "repeat": repeat,
            "quality_frames_per_scene": quality_frames_per_scene, "threads": threads,
            **extra_out,
            "peak_rss_method": "VmHWM (own high-water RSS) of each stage's child process, "
                               "interpreter and imports included; baseline_rss_bytes = after "
                               "imports",
            "timing": f"inside the child, imports excluded; the fastest of {repeat} run(s)"}


def rd_verdict(points: list[dict]) -> dict:
    """Whether every point of the fast preset lies above the TFP + JPEG XL envelope: for each
    fast point, the best PSNR any TFP + JPEG XL point reaches at no more bits."""
    fast = sorted((p for p in points if p["label"] == "fast"),
                  key=lambda p: p["bits_per_spike_pixel"])
    other = [p for p in points if p["label"] != "fast"]
    checks = []
    for p in fast:
        cheaper = [o["scene_psnr"] for o in other
                   if o["bits_per_spike_pixel"] <= p["bits_per_spike_pixel"]]
        env = max(cheaper) if cheaper else None
        checks.append({"quality": p["quality"], "bits": p["bits_per_spike_pixel"],
                       "psnr": p["scene_psnr"], "envelope_psnr": env})
    above = all(c["envelope_psnr"] is None or c["psnr"] > c["envelope_psnr"] for c in checks)
    best_other = max(o["scene_psnr"] for o in other) if other else None
    verdict = ("fast is above the TFP + JPEG XL envelope at every point" if above else
               "fast is NOT above the TFP + JPEG XL envelope at every point")
    if best_other is not None:
        verdict += (f" (fast {min(c['psnr'] for c in checks):.2f}-"
                    f"{max(c['psnr'] for c in checks):.2f} dB at "
                    f"{checks[0]['bits']:.4f}-{checks[-1]['bits']:.4f} bits/spike-pixel; best "
                    f"TFP + JPEG XL point at any rate {best_other:.2f} dB)")
    return {"points": points, "checks": checks, "above_envelope": above, "verdict": verdict}


def format_bench(doc: dict, markdown: bool = False) -> str:
    """The benchmark rows as a text (or Markdown) table."""
    head = ["stage", "codec", "preset", "q", "device", "frames/s", "MB/s", "ratio",
            "bits/spike-px", "PSNR dB*", "speed/zstd", "peak RSS MiB"]
    body = []
    for r in doc["rows"]:
        sv = r.get("speed_vs_zstd19")
        bits = r.get("bits_per_spike_pixel")
        ps = r.get("scene_psnr")
        body.append([r["stage"], r["codec"], r.get("preset", ""),
                     str(r.get("quality", "") or ""),
                     r.get("device", ""), f"{r['frames_per_s']:.0f}", f"{r['mb_per_s']:.1f}",
                     f"{r['ratio']:.2f}" if "ratio" in r else "",
                     f"{bits:.5f}" if bits is not None else "",
                     f"{ps:.2f}" if ps is not None else "",
                     f"{sv:.3g}x" if sv else "", f"{r['peak_rss_bytes'] / 2**20:.0f}"])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
    else:
        w = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
        lines = ["  ".join(h.rjust(x) for h, x in zip(head, w, strict=True))]
        lines += ["  ".join(c.rjust(x) for c, x in zip(b, w, strict=True)) for b in body]
    if any(r.get("scene_psnr") is not None for r in doc["rows"]):
        lines.append(("\n" if markdown else "") + f"* PSNR of the scene at frame "
                     f"{doc.get('gt_frame')} against the ground truth, measured at "
                     f"{doc.get('quality_frames_per_scene')} frames per scene")
    for s in doc["skipped"]:
        lines.append(("* " if markdown else "") + f"skipped {s['stage']} {s['codec']}: "
                     f"{s['reason']}")
    return "\n".join(lines)


def preset_summary(doc: dict) -> dict:
    """Per preset (cpu): compress/decompress frames/s, ratios to zstd -19, bits, PSNR, RSS."""
    out = []
    for r in doc["rows"]:
        if r.get("device") != "cpu" or "preset" not in r or r["stage"] != "compress":
            continue
        d = next((x for x in doc["rows"] if x["stage"] == "decompress"
                  and x.get("preset") == r["preset"] and x.get("device") == "cpu"), None)
        out.append({
            "preset": r["preset"], "codec": r["codec"], "quality": r.get("quality"),
            "reconstructor": r.get("reconstructor"),
            "compress_frames_per_s": r["frames_per_s"],
            "compress_vs_zstd19": r["speed_vs_zstd19"],
            "decompress_frames_per_s": d["frames_per_s"] if d else None,
            "decompress_vs_zstd19": d["speed_vs_zstd19"] if d else None,
            "bits_per_spike_pixel": r.get("bits_per_spike_pixel"),
            "ratio": r.get("ratio"), "scene_psnr": r.get("scene_psnr"),
            "quality_bits_per_spike_pixel": r.get("quality_bits_per_spike_pixel"),
            "quality_frames_per_scene": doc.get("quality_frames_per_scene"),
            "compress_peak_rss_mib": r["peak_rss_bytes"] / 2**20,
        })
    return {"clip": Path(doc["src"]).name, "gt_frame": doc.get("gt_frame"),
            "quality_frames_per_scene": doc.get("quality_frames_per_scene"),
            "threads": doc.get("threads"),
            "machine_summary": f"{doc['machine']['cpu']}, {doc['machine']['cores']} cores",
            "created": doc.get("created"), "commit": doc.get("commit"),
            "zstd19_compress_frames_per_s": next(
                (r["frames_per_s"] for r in doc["rows"]
                 if r["codec"] == "zstd-19" and r["stage"] == "compress"), None),
            "presets": out}


def speed_markdown(doc: dict, plot_name: str | None = None) -> str:
    """docs/results-speed.md: the presets' trade-off, every row, the RD check, RSS vs length."""
    m = doc["machine"]
    lines = ["# Speed results", "",
             f"Generated by `python tools/bench.py {doc.get('argv', '')}` "
             f"({doc.get('created')}, commit {doc.get('commit')}) on {m['cpu']}, "
             f"{m['cores']} cores, torch {m.get('torch')}, GPU: {m.get('gpu') or 'none'}. "
             f"Clip: `{Path(doc['src']).name}` ({doc['frames']} frames, {doc['height']}x"
             f"{doc['width']}), {doc['frames_per_scene']} frames per scene, "
             f"{doc.get('threads') or 'default'} torch thread(s) per stage. {doc['timing']}; "
             f"the machine is shared, so absolute figures move with its load — the ratios "
             f"to zstd -19 (run in the same session) are the comparable ones.", ""]
    summ = preset_summary(doc)
    qs = doc.get("quality_frames_per_scene")
    if summ["presets"]:
        lines += ["## Encoder presets (learned codec, default quality)", "",
                  f"Speed, ratio and bits at {doc['frames_per_scene']} frames per scene (the "
                  f"default); quality (scene PSNR against the ground truth at frame "
                  f"{doc.get('gt_frame')}, affine fit, as `spkc eval`) and its bits at {qs} "
                  f"frames per scene, which puts a scene time on that frame.", "",
                  "| preset | reconstructor | compress frames/s | vs zstd -19 | decompress "
                  "frames/s | ratio | bits/spike-pixel | bits/spike-pixel "
                  f"(S={qs}) | scene PSNR dB (S={qs}) | compress peak RSS MiB |",
                  "|---|---|---|---|---|---|---|---|---|---|"]

        def f(x, fmt):
            return "-" if x is None else format(x, fmt)

        for p in summ["presets"]:
            lines.append(
                f"| {p['preset']} | {p['reconstructor']} | {p['compress_frames_per_s']:.0f} | "
                f"{p['compress_vs_zstd19']:.2f}x | {f(p['decompress_frames_per_s'], '.0f')} | "
                f"{p['ratio']:.0f}x | {p['bits_per_spike_pixel']:.5f} | "
                f"{f(p['quality_bits_per_spike_pixel'], '.5f')} | {f(p['scene_psnr'], '.2f')} "
                f"| {p['compress_peak_rss_mib']:.0f} |")
        lines.append("")
    if plot_name:
        lines += [f"![presets]({plot_name})", ""]
    lines += ["## Every stage", "", format_bench(doc, markdown=True), ""]
    if "rd" in doc:
        lines += ["## fast preset against TFP + JPEG XL", "", doc["rd"]["verdict"] + ".", "",
                  "| fast q | bits/spike-pixel | PSNR dB | best TFP + JPEG XL PSNR at no more "
                  "bits |", "|---|---|---|---|"]
        for c in doc["rd"]["checks"]:
            env = "-" if c["envelope_psnr"] is None else f"{c['envelope_psnr']:.2f}"
            lines.append(f"| {c['quality']} | {c['bits']:.5f} | {c['psnr']:.2f} | {env} |")
        lines += ["", "TFP + JPEG XL points (windows 9, 17, 25, 41 frames; qualities 1-8): "
                  + ", ".join(f"{p['label']} q{p['quality']} {p['bits_per_spike_pixel']:.4f}/"
                              f"{p['scene_psnr']:.2f}" for p in doc["rd"]["points"]
                              if p["label"] != "fast"), ""]
    long_rows = [r for r in doc["rows"] if r["stage"].startswith("compress-")]
    if long_rows:
        lines += ["## Compress peak RSS against clip length (default preset)", "",
                  "Each timed once (for memory, not speed: the 1x row repeats the medium "
                  "compress row above minutes later, and the difference in frames/s is the "
                  "machine's load).", "",
                  "| clip | frames | frames/s | peak RSS MiB |", "|---|---|---|---|"]
        for r in long_rows:
            lines.append(f"| {r['stage'].removeprefix('compress-')} | {r['frames']} | "
                         f"{r['frames_per_s']:.0f} | {r['peak_rss_bytes'] / 2**20:.0f} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # the child of run_bench: STAGE ARGS_JSON
    sys.exit(run_child(sys.argv[1], sys.argv[2]))
