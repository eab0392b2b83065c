"""Fidelity between scene times: linear blending vs motion-compensated interpolation.

The measurements and tables behind docs/results-motion.md (``tools/motion_results.py`` keeps
the arguments, figures and file writing). :func:`synth_rows` measures every frame of a
fast-moving synthetic clip against its true luminance (:func:`spkc.eval.allframe.
allframe_metrics`); :func:`reds_rows` scores frame 151 of REDS clips with the scene grid shifted
to each offset (:func:`spkc.eval.allframe.offset_psnr`) and the spike fidelity of whole clips.
"Equal bits" compares a motion point with the linear curve interpolated in log rate at the
motion point's rate (:func:`spkc.metrics.rd_curves.interp_at`), side information included.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spkc.metrics.rd_curves import interp_at

__all__ = ["offset_groups", "reds_rows", "reds_section", "side_bytes", "synth_rows",
           "synth_section"]

Row = dict[str, Any]


def _log(msg: str) -> None:
    print(msg, flush=True)


def _fmt(x: float | None, nd: int = 2) -> str:
    return "—" if x is None else f"{x:.{nd}f}"


def side_bytes(path: str | Path) -> int:
    """Bytes of motion side information (every scene's motion payload) in a .spkc file."""
    from spkc.container import SpkcReader
    from spkc.spikes.warp import MOTION_PAYLOAD

    with SpkcReader(path) as r:
        return sum(len(r.scene_payloads(k).get(MOTION_PAYLOAD, b""))
                   for k in range(r.num_scenes))


def synth_rows(*, frames: int, height: int, width: int, speed: float, seed: int,
               qualities: Sequence[int], motion_qualities: Sequence[int], codec: str,
               frames_per_scene: int, options: Mapping[str, Any],
               save: Callable[[Row], None] | None = None,
               log: Callable[[str], None] = _log) -> Row:
    """Compress a synthetic clip (and its ground-truth video) with every quality x
    interpolation and measure every frame; ``{"config", "rows"}``, handed to ``save`` after
    each row."""
    from spkc import pipeline as spkc  # open/compress without importing the package root
    from spkc.eval.allframe import allframe_metrics, load_gt_video
    from spkc.io import read_spikes
    from spkc.spikes.synthetic import SyntheticScene, simulate_to_file

    res: Row = {"config": {"frames": frames, "height": height, "width": width, "speed": speed,
                           "seed": seed, "options": dict(options),
                           "frames_per_scene": frames_per_scene, "codec": codec},
                "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        src, gtp = Path(tmp) / "syn.npy", Path(tmp) / "gt.npy"
        scene = SyntheticScene(height, width, seed, speed=speed)
        gt = np.empty((frames, height, width), np.float32)
        for t in range(0, frames, 64):
            gt[t:t + 64] = scene.frames(t, min(64, frames - t))
        np.save(gtp, gt)
        simulate_to_file(src, (gt[t:t + 64] for t in range(0, frames, 64)),
                         height, width, frames, seed=seed)
        gtv = load_gt_video(gtp)
        raw = read_spikes(src)
        plan = [("linear", q) for q in qualities] + [("motion", q) for q in motion_qualities]
        for interp, q in plan:
            dst = Path(tmp) / f"{interp}{q}.spkc"
            t0 = time.perf_counter()
            r = spkc.compress(src, dst, quality=q, codec=codec,
                              frames_per_scene=frames_per_scene, interpolation=interp,
                              codec_options=dict(options))
            enc = time.perf_counter() - t0
            m = allframe_metrics(dst, gtv, raw)
            side = side_bytes(dst)
            row = {"interpolation": interp, "quality": q, "encode_seconds": enc,
                   "file_bytes": r.file_bytes, "side_bytes": side, **m}
            res["rows"].append(row)
            log(f"synth {interp} q{q}: {m['bits_per_spike_pixel']:.5f} b/sp, mean "
                f"{m['psnr_mean']:.2f} dB, worst {m['psnr_worst']:.2f}, ISI "
                f"{m['isi_psnr']:.2f}, FR {m['firing_rate_psnr']:.2f}, side {side} B, "
                f"{enc:.0f} s")
            if save is not None:
                save(res)
    return res


def reds_rows(clips: Sequence[Path], *, offsets: Sequence[int], qualities: Sequence[int],
              motion_qualities: Sequence[int], full_quality: int | None, codec: str,
              frames_per_scene: int, options: Mapping[str, Any],
              full_options: Mapping[str, Any], previous: Row | None = None,
              save: Callable[[Row], None] | None = None,
              log: Callable[[str], None] = _log) -> Row:
    """Frame 151 of each REDS clip (ground truth beside it as .png) at every scene-grid
    offset, per interpolation and quality; at ``full_quality`` also the spike fidelity of
    the whole clip (codec options ``options`` updated by ``full_options``).

    ``previous`` (an earlier result) is kept when its config matches: its groups are not
    measured again. ``{"config", "rows", "full"}``, handed to ``save`` after each group."""
    from spkc import pipeline as spkc  # open/compress without importing the package root
    from spkc.eval.allframe import offset_psnr, spike_fidelity
    from spkc.eval.engine import load_ground_truth
    from spkc.io import read_spikes

    offsets = list(offsets)
    res: Row = {"config": {"offsets": offsets, "options": dict(options), "codec": codec,
                           "frames_per_scene": frames_per_scene, "gt_frame": 151},
                "rows": [], "full": []}
    if previous is not None and previous["config"] == res["config"]:
        res = previous
    done = {(r["clip"], r["interpolation"], r["quality"]) for r in res["rows"]}
    for c in clips:
        gt = load_ground_truth(c.with_suffix(".png"), c)
        raw = read_spikes(c)
        for interp in ("linear", "motion"):
            for q in qualities if interp == "linear" else motion_qualities:
                if (c.name, interp, q) in done:
                    continue
                kw = {"quality": q, "interpolation": interp, "codec": codec,
                      "codec_options": dict(options)}
                t0 = time.perf_counter()
                rows = offset_psnr(c, gt, 151, offsets, frames_per_scene=frames_per_scene,
                                   compress_kw=kw)
                for r in rows:
                    res["rows"].append({"clip": c.name, "interpolation": interp, "quality": q,
                                        **r})
                ps = [r["psnr"] for r in rows]
                log(f"reds {c.name} {interp} q{q}: offsets mean {np.mean(ps):.2f} dB, "
                    f"aligned {rows[offsets.index(0)]['psnr'] if 0 in offsets else 'n/a'}, "
                    f"{time.perf_counter() - t0:.0f} s")
                if save is not None:
                    save(res)
                if q != full_quality:
                    continue
                opts = {**kw["codec_options"], **full_options}
                with tempfile.TemporaryDirectory() as tmp:
                    dst = Path(tmp) / "full.spkc"
                    r = spkc.compress(c, dst, frames_per_scene=frames_per_scene,
                                      **{**kw, "codec_options": opts})
                    with spkc.open(dst) as clip:
                        dec = clip.spikes()
                    fid = spike_fidelity(dec, raw, frames_per_scene)
                    res["full"].append({"clip": c.name, "interpolation": interp, "quality": q,
                                        "options": opts,
                                        "bits_per_spike_pixel": r.bits_per_spike_pixel,
                                        "side_bytes": side_bytes(dst), **fid})
                    log(f"reds {c.name} {interp} q{q} full clip: {fid}")
                if save is not None:
                    save(res)
    return res


# -- tables ------------------------------------------------------------------------------------
def synth_section(s: Row) -> list[str]:
    """Markdown lines of the synthetic-clip section (table and equal-bits table) of a
    :func:`synth_rows` result."""
    cfg = s["config"]
    lines = ["## Synthetic clip, every frame", "",
             f"{cfg['frames']} frames of {cfg['height']}x{cfg['width']}, built-in scene at "
             f"speed {cfg['speed']} (seed {cfg['seed']}), scenes every "
             f"{cfg['frames_per_scene']} frames, {cfg.get('codec', 'learned')} codec options "
             f"`{json.dumps(cfg['options'])}`. Scene PSNR of `clip.scene_at(t)` against "
             "the true luminance at every frame after one affine fit per clip.", "",
             "Command: `python tools/motion_results.py synth --frames "
             f"{cfg['frames']} --height {cfg['height']} --width {cfg['width']} --speed "
             f"{cfg['speed']}" + "".join(f" -O {k}={json.dumps(v)}"
                                         for k, v in cfg["options"].items()) + "`", "",
             "| interpolation | q | bits/spike-pixel | side info | mean PSNR | worst | "
             "pooled | mean between scene times | ISI-PSNR | FR-PSNR |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in s["rows"]:
        lines.append(f"| {r['interpolation']} | {r['quality']} | "
                     f"{r['bits_per_spike_pixel']:.5f} | "
                     f"{100 * r['side_bytes'] / r['file_bytes']:.1f} % | "
                     f"{r['psnr_mean']:.2f} | {r['psnr_worst']:.2f} | "
                     f"{r['psnr_pooled']:.2f} | {_fmt(r.get('psnr_mean_between'))} | "
                     f"{r['isi_psnr']:.2f} | "
                     f"{r['firing_rate_psnr']:.2f} |")
    lin = [r for r in s["rows"] if r["interpolation"] == "linear"]
    lines += ["", "At equal bits (motion point vs linear curve at its rate):", "",
              "| q | bits/spike-pixel | mean PSNR motion | linear | Δ | ISI-PSNR motion | "
              "linear | Δ |", "|---|---|---|---|---|---|---|---|"]
    for r in s["rows"]:
        if r["interpolation"] != "motion":
            continue
        b = r["bits_per_spike_pixel"]
        lp = interp_at([(x["bits_per_spike_pixel"], x["psnr_mean"]) for x in lin], b)
        li = interp_at([(x["bits_per_spike_pixel"], x["isi_psnr"]) for x in lin], b)
        lines.append(f"| {r['quality']} | {b:.5f} | {r['psnr_mean']:.2f} | {_fmt(lp)} | "
                     f"{_fmt(None if lp is None else r['psnr_mean'] - lp, 2)} | "
                     f"{r['isi_psnr']:.2f} | {_fmt(li)} | "
                     f"{_fmt(None if li is None else r['isi_psnr'] - li, 2)} |")
    return lines


def offset_groups(rows: Sequence[Row]) -> dict[tuple[str, str, int], list[Row]]:
    """REDS offset rows grouped by (clip, interpolation, quality), in first-seen order."""
    groups: dict[tuple[str, str, int], list[Row]] = {}
    for r in rows:
        groups.setdefault((r["clip"], r["interpolation"], r["quality"]), []).append(r)
    return groups


def reds_section(s: Row, title: str, command: str) -> list[str]:
    """Markdown lines of one REDS section (offset table, equal-bits table, whole-clip spike
    fidelity) of a :func:`reds_rows` result; ``command`` is the stage's arguments."""
    cfg = s["config"]
    lines = [f"## {title}", "",
             f"Offsets {cfg['offsets']} frames from the centre of the scene holding frame "
             f"151 (0 = aligned: the figure earlier tables report), scenes every "
             f"{cfg['frames_per_scene']} frames, {cfg.get('codec', 'learned')} codec options "
             f"`{json.dumps(cfg['options'])}`; each offset is a clip cut to start where "
             "that grid starts (one scene before frame 151's, two after). PSNR after an "
             "affine fit, as elsewhere.", "",
             f"Command: `python tools/motion_results.py reds {command}`",
             "", "| clip | interpolation | q | bits/spike-pixel | aligned | "
             "offset-averaged | worst offset | aligned − averaged |",
             "|---|---|---|---|---|---|---|---|"]
    summary = {}
    for (clip, interp, q), rows in offset_groups(s["rows"]).items():
        ps = [r["psnr"] for r in rows]
        al = next((r["psnr"] for r in rows if r["offset"] == 0), None)
        bits = float(np.mean([r["bits_per_spike_pixel"] for r in rows]))
        summary[(clip, interp, q)] = (bits, float(np.mean(ps)), al)
        lines.append(f"| {clip} | {interp} | {q} | {bits:.5f} | {_fmt(al)} | "
                     f"{np.mean(ps):.2f} | {min(ps):.2f} | "
                     f"{_fmt(None if al is None else al - np.mean(ps))} |")
    lines += ["", "Offset-averaged PSNR at equal bits:", "",
              "| clip | q | bits/spike-pixel | motion | linear | Δ |",
              "|---|---|---|---|---|---|"]
    for (clip, interp, q), (bits, avg, _) in summary.items():
        if interp != "motion":
            continue
        lp = interp_at([(b, a) for (c2, i2, _), (b, a, _) in summary.items()
                        if c2 == clip and i2 == "linear"], bits)
        lines.append(f"| {clip} | {q} | {bits:.5f} | {avg:.2f} | {_fmt(lp)} | "
                     f"{_fmt(None if lp is None else avg - lp)} |")
    if s.get("full"):
        fo = json.dumps(s["full"][0].get("options", {}))
        lines += ["", f"Spike fidelity of the whole clips (301 frames; codec options "
                  f"`{fo}`):", "",
                  "| clip | interpolation | q | bits/spike-pixel | side info bytes | "
                  "ISI-PSNR | FR-PSNR |", "|---|---|---|---|---|---|---|"]
        for r in s["full"]:
            lines.append(f"| {r['clip']} | {r['interpolation']} | {r['quality']} | "
                         f"{r['bits_per_spike_pixel']:.5f} | {r['side_bytes']} | "
                         f"{r['isi_psnr']:.2f} | {r['firing_rate_psnr']:.2f} |")
    return lines
