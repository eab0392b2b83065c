"""Throughput and peak memory of read, simulate, compress and decompress, per codec and device.

The measuring side of ``tools/bench.py`` (which keeps the arguments, the presets plot and
file writing). Every stage runs in its own child process (``python -m spkc.eval.speed STAGE
JSON``, see :func:`run_child`); its time is measured inside the child (imports excluded) and
its peak memory is the child's own high-water resident set (:mod:`spkc.eval.proc`). Reference
rows: ``zstd -19`` and ``xz -9`` on the same .dat in the same run. :func:`preset_summary`
builds the presets' trade-off (spkc/pipeline/presets.json, shown by ``spkc compress --help``),
the tables and docs/results-speed.md are built by :mod:`spkc.eval.speed_report`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from spkc.eval.speed_report import rd_verdict

__all__ = ["STAGES", "run_bench", "run_child", "split_preset", "tile_dat"]


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


if __name__ == "__main__":  # the child of run_bench: STAGE ARGS_JSON
    sys.exit(run_child(sys.argv[1], sys.argv[2]))
