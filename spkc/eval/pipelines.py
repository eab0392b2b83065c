"""RD points of named coding pipelines on clips, and the envelope of the conventional ones.

What ``tools/training_report.py`` measures (it keeps the arguments, printing, figure and
files): a *pipeline* is (label, codec, reconstructor, radius, qualities, codec options);
:func:`run_rows` evaluates every pipeline on every clip at frame :data:`GT_FRAME` with
:data:`FRAMES_PER_SCENE` frames per scene (in worker processes), :func:`envelope_bd_rows` gives
the Bjontegaard deltas of the learned codec against the envelope of the conventional pipelines
(their Pareto frontier), against the baseline and against each pipeline, and
:func:`matched_spike_rows` the spike fidelity of every pipeline at the learned codec's rates.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from spkc.metrics.rd_curves import frontier_bd, interp_at

__all__ = ["ENVELOPE", "FRAMES_PER_SCENE", "GT_FRAME", "Pipeline", "codec_options",
           "conventional_points", "curve", "describe_recon", "describe_weights",
           "decoded_panels", "envelope_bd_rows", "envelope_verdicts", "evaluate_pipeline",
           "matched_spike_rows", "run_rows", "spread"]

GT_FRAME = 151
FRAMES_PER_SCENE = 101
ENVELOPE = "conventional envelope"
Pipeline = tuple[str, str, str | None, int | None, list[int], dict]


def codec_options(weights_version: int | None, config: str | None) -> dict[str, Any]:
    """Options of a learned codec under test: only what was asked for (else its defaults)."""
    return ({"weights_version": weights_version} if weights_version else {}) | (
        {"config": config} if config else {})


def describe_weights(codec: str, options: dict[str, Any], qualities: list[int]) -> str:
    """The weights files (and refinement) a learned codec with ``options`` uses, e.g.
    ``learned-bisoam-broad-q{1,2,3,4}-v6 (refine 100)``: the report names what it measured."""
    from spkc.codecs import get_codec

    codecs = [get_codec(codec, quality=q, **options) for q in qualities]
    stems = [c.weights_name.split(".", 1)[0] for c in codecs]
    q0 = f"-q{qualities[0]}-"
    if stems == [stems[0].replace(q0, f"-q{q}-") for q in qualities]:
        stems = [stems[0].replace(q0, "-q{" + ",".join(map(str, qualities)) + "}-")]
    refine = codecs[0].get_config().get("refine")
    return ", ".join(stems) + ("" if refine is None else f" (refine {refine})")


def describe_recon() -> str:
    """The default learned reconstructor's config and the start of its weights' SHA-256."""
    from spkc.codecs.reconstructors import get_reconstructor

    cfg = get_reconstructor("learned").get_config()
    return f"learned {cfg.get('config')} (weights sha256 {str(cfg.get('sha256'))[:12]}…)"


def _run_one(task: tuple[Path, str, str, str | None, int | None, int, dict, int]
             ) -> dict[str, Any]:
    """One RD point (runs in a worker process with ``threads`` torch threads)."""
    import torch

    from spkc.eval.engine import evaluate_run, load_ground_truth

    clip, label, codec, recon, radius, q, options, threads = task
    torch.set_num_threads(threads)
    row = evaluate_run(clip, codec, q, gt=load_ground_truth(clip.with_suffix(".png"), clip),
                       gt_frame=GT_FRAME, frames_per_scene=FRAMES_PER_SCENE,
                       reconstructor=recon, radius=radius, codec_options=options or None,
                       # the published figures: 0.1.0's encoder (medium reconstructor, float32,
                       # refinement as the options say); TFP pipelines keep their defaults
                       preset="slow" if codec in ("learned", "baseline") or recon == "learned"
                       else None)
    row["pipeline"] = label
    row["codec_options"] = dict(options)
    return row


def run_rows(clips: list[Path], pipelines: list[Pipeline], progress: bool, jobs: int = 1
             ) -> list[dict[str, Any]]:
    """Evaluate (label, codec, reconstructor, radius, qualities, codec options) pipelines on
    every clip, ``jobs`` runs at a time (one torch thread each when ``jobs`` > 1); rows come
    back in task order whatever the completion order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    threads = 1 if jobs > 1 else max(1, os.cpu_count() or 1)
    tasks = [(clip, label, codec, recon, radius, q, options, threads)
             for clip in clips
             for label, codec, recon, radius, qualities, options in pipelines
             for q in qualities]
    rows: list[dict[str, Any] | None] = [None] * len(tasks)
    with tqdm(total=len(tasks), unit="run", desc="rd", disable=not progress,
              dynamic_ncols=True) as bar:
        if jobs <= 1:
            for i, t in enumerate(tasks):
                bar.set_postfix_str(f"{t[0].name} {t[1]} q{t[5]}", refresh=True)
                rows[i] = _run_one(t)
                bar.update(1)
        else:
            # spawn, not fork: a forked child of a process that already ran torch's OpenMP
            # pool can hang
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = {pool.submit(_run_one, t): i for i, t in enumerate(tasks)}
                for f in as_completed(futures):
                    rows[futures[f]] = f.result()
                    bar.update(1)
    return [r for r in rows if r is not None]


def curve(rows: list[dict], clip: str, label: str, metric: str = "scene_psnr"
          ) -> list[tuple[float, float]]:
    """(bits per spike-pixel, ``metric``) of one pipeline on one clip."""
    return [(r["bits_per_spike_pixel"], r[metric]) for r in rows
            if r["clip"] == clip and r["pipeline"] == label and r.get(metric) is not None]


def conventional_points(rows: list[dict], clip: str, conventional: list[str]
                        ) -> list[tuple[float, float]]:
    """Every conventional pipeline's points on ``clip``: their Pareto frontier is the envelope."""
    return [p for lab in conventional for p in curve(rows, clip, lab)]


def envelope_bd_rows(rows: list[dict], clips: list[str], conventional: list[str]
                     ) -> list[dict[str, Any]]:
    """Per clip: learned vs the conventional envelope, the baseline and each conventional
    pipeline, and baseline vs the envelope (BD on Pareto frontiers, :func:`frontier_bd`)."""
    bd_rows = []
    for c in clips:
        anchors = [(ENVELOPE, conventional_points(rows, c, conventional)),
                   ("baseline", curve(rows, c, "baseline"))]
        anchors += [(lab, curve(rows, c, lab)) for lab in conventional]
        tests = [("learned", a) for a in anchors] + [("baseline", anchors[0])]
        for test, (anchor, pts) in tests:
            br, bp, note, side = frontier_bd(pts, curve(rows, c, test))
            bd_rows.append({"clip": c, "test": test, "anchor": anchor, "bd_rate": br,
                            "bd_psnr": bp, "side": side, "note": note})
    return bd_rows


def envelope_verdicts(bd_rows: list[dict], target: float
                      ) -> tuple[bool, list[tuple[str, bool, str]]]:
    """(met, [(clip, met, BD-rate text)]): learned vs the envelope at or below ``target`` %
    on every clip (a learned curve entirely above the envelope counts as -100 %)."""
    verdicts = []
    for b in bd_rows:
        if b["test"] == "learned" and b["anchor"] == ENVELOPE:
            v = b["bd_rate"]
            ok = b["side"] == "above" or (v is not None and v <= target)
            if b["side"] == "above":
                txt = "-> -100 %"
            else:
                txt = "n/a" if v is None else f"{v:+.1f} %"
            verdicts.append((b["clip"], ok, txt))
    return all(ok for _, ok, _ in verdicts), verdicts


def matched_spike_rows(rows: list[dict], clip: str, labels: list[str]
                       ) -> tuple[list[float], list[dict[str, Any]]]:
    """(the learned codec's rates on ``clip``, per pipeline its ISI-PSNR and firing-rate PSNR
    interpolated in log rate at those rates; None outside its curve)."""
    rates = sorted(p[0] for p in curve(rows, clip, "learned"))
    out = []
    for lab in labels:
        out.append({"clip": clip, "pipeline": lab, "rates": rates,
                    "isi_psnr": [interp_at(curve(rows, clip, lab, "isi_psnr"), r)
                                 for r in rates],
                    "firing_rate_psnr": [interp_at(curve(rows, clip, lab, "firing_rate_psnr"), r)
                                         for r in rates]})
    return rates, out


def evaluate_pipeline(clips: list[Path], spec: str, qualities: list[int], *, gt: Path,
                      gt_frame: int, frames_per_scene: int, progress: bool = False,
                      preset: str | None = None) -> tuple[list[dict[str, Any]], list[dict]]:
    """(rows, skipped) of ``spkc.eval.evaluate`` for the pipeline ``codec[:recon[:radius]]``,
    each row's ``codec`` the pipeline's label (``codec+reconRADIUS``, e.g. ``hevc+tfp12``)."""
    from spkc.eval.engine import evaluate

    codec, *rest = spec.split(":")
    recon = rest[0] if rest else None
    radius = int(rest[1]) if len(rest) > 1 else None
    label = codec if recon is None else f"{codec}+{recon}{radius if radius else ''}"
    print(f"eval {label} q{qualities} on {len(clips)} clips ...", flush=True)
    rep = evaluate(clips, [codec], qualities, gt=gt, gt_frame=gt_frame,
                   frames_per_scene=frames_per_scene, reconstructor=recon, radius=radius,
                   anchor=None, progress=progress, preset=preset)
    for r in rep.rows:
        r["codec"] = label
    return rep.rows, rep.skipped


def spread(qualities: tuple[int, ...], n: int) -> list[int]:
    """Up to ``n`` qualities evenly spread over ``qualities`` (ends included)."""
    qs = sorted(qualities)
    if len(qs) <= n:
        return qs
    idx = np.unique(np.round(np.linspace(0, len(qs) - 1, n)).astype(int))
    return [qs[i] for i in idx]


def decoded_panels(src: Path, codec: str, qualities: tuple[int, ...], frames_per_scene: int,
                   gt_frame: int) -> tuple[list[tuple[str, np.ndarray, float | None]],
                                           list[dict[str, Any]]]:
    """The scene holding ``gt_frame``: uncoded (the coding reconstructor on the raw spikes,
    scaled as coded) and decoded after coding ``src`` at each quality (learned codecs at the
    slow preset). (panels: (title, image, PSNR vs uncoded or None), info per quality)."""
    import tempfile

    from spkc.codecs.reconstructors import reconstructor_from_config
    from spkc.eval.engine import reconstruct_scenes
    from spkc.io import open_spikes
    from spkc.metrics import psnr
    from spkc.pipeline import compress
    from spkc.pipeline import open as open_clip

    k = gt_frame // frames_per_scene
    panels = []
    info = []
    with tempfile.TemporaryDirectory() as tmp:
        decoded = []
        for q in qualities:
            p = Path(tmp) / f"q{q}.spkc"
            r = compress(src, p, codec=codec, quality=q, frames_per_scene=frames_per_scene,
                         preset="slow" if codec in ("learned", "baseline") else None)
            with open_clip(p) as clip:
                scene = clip.scene(k)
                h = clip.header
                full = clip.regen.rate_scale
            decoded.append((q, r.bits_per_spike_pixel, r.ratio, scene))
        rcfg = dict(h.reconstructor_config)
        gain = float(rcfg.pop("rate_gain", 1.0))
        recon = reconstructor_from_config({"name": h.reconstructor, **rcfg})
        with open_spikes(src) as s:
            rates = reconstruct_scenes(s, recon, frames_per_scene)
        ref = np.clip(rates[k] * (gain / full), 0, 1).astype(np.float32)
    panels.append((f"source {h.reconstructor.upper()} (uncoded), scene {k}", ref, None))
    for q, bits, ratio, scene in decoded:
        d = psnr(scene, ref)
        panels.append((f"{codec} q{q}: {bits:.4f} bits/spike-px ({ratio:.0f}x)\n"
                       f"{d:.1f} dB vs uncoded", scene, d))
        info.append({"codec": codec, "quality": q, "bits_per_spike_pixel": bits,
                     "ratio": ratio, "psnr_vs_uncoded": d})
    return panels, info
