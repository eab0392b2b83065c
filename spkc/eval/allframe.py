"""Fidelity at every frame, not only at scene times.

* :func:`allframe_metrics`: a decoded clip against a ground-truth luminance video (T, H, W)
  (``spkc simulate --synthetic --gt-video``): scene PSNR of ``clip.scene_at(t)`` at every frame
  after **one** least-squares affine fit for the whole clip (the clip's photometric scale is
  unknown; one fit for all frames cannot hide interpolation errors the way a per-frame fit
  would), its mean, worst and pooled value, PSNR against the frame's distance from the nearest
  scene time, and ISI / firing-rate PSNR of the regenerated spikes against the source.
* :func:`offset_psnr`: for clips with one ground-truth frame (REDS, frame 151) the scene grid
  is shifted by dropping the first ``s`` frames, so the ground-truth frame falls at each offset
  from a scene time; the mean over offsets is the figure a user gets at an arbitrary frame, the
  offset-0 one (ground truth at the reconstructor's window centre) what aligned figures show.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spkc.errors import InputError


def load_gt_video(path: str | os.PathLike) -> np.ndarray:
    """A ground-truth luminance video: .npy (T, H, W), float in [0, 1] or uint8/uint16 (scaled
    by the dtype's maximum), memory-mapped. Returns the array (float conversion is per frame)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("ground-truth video not found", p)
    try:
        arr = np.load(p, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read ground-truth video: {exc}", p) from exc
    if arr.ndim != 3:
        raise InputError(f"ground-truth video must be (T, H, W), got shape {arr.shape}", p)
    if not (np.issubdtype(arr.dtype, np.floating) or arr.dtype in (np.uint8, np.uint16)):
        raise InputError(f"ground-truth video dtype {arr.dtype} (want float, uint8 or uint16)", p)
    return arr


def gt_frame(video: np.ndarray, t: int) -> np.ndarray:
    """Frame t of a ground-truth video as float64 in [0, 1]."""
    f = np.asarray(video[t])
    if f.dtype == np.uint8:
        return f / 255.0
    if f.dtype == np.uint16:
        return f / 65535.0
    return f.astype(np.float64)


def _psnr_from_mse(mse: float) -> float:
    return float("inf") if mse <= 0 else float(10 * np.log10(1.0 / mse))


def _tiled_sse(a: np.ndarray, b: np.ndarray, fn, tile: int = 64) -> tuple[float, int]:
    """Sum of squared differences of fn(a) and fn(b) computed over column tiles (fn maps a
    (T, H, w) stream to (T, H, w) floats along time only), and the element count."""
    sse = 0.0
    n = 0
    for x in range(0, a.shape[2], tile):
        d = fn(np.ascontiguousarray(a[:, :, x:x + tile])).astype(np.float64) - \
            fn(np.ascontiguousarray(b[:, :, x:x + tile]))
        sse += float(np.sum(d * d))
        n += d.size
    return sse, n


def spike_fidelity(test: np.ndarray, ref: np.ndarray, window: int) -> dict[str, float]:
    """ISI-PSNR and firing-rate PSNR (spkc.metrics definitions), in bounded memory."""
    from spkc.spikes.maps import firing_rate_map, isi_map

    if test.shape != ref.shape:
        raise InputError(f"spike streams differ in shape: {test.shape} vs {ref.shape}")
    sse, n = _tiled_sse(test, ref, lambda s: 1.0 / isi_map(s))
    sse_fr, n_fr = _tiled_sse(test, ref, lambda s: firing_rate_map(s, window))
    return {"isi_psnr": _psnr_from_mse(sse / n), "firing_rate_psnr": _psnr_from_mse(sse_fr / n_fr)}


def allframe_metrics(clip_path: str | os.PathLike, gt_video: np.ndarray,
                     source_spikes: np.ndarray | None = None,
                     rate_window: int | None = None) -> dict[str, Any]:
    """Scene and spike fidelity of a .spkc file at every frame.

    ``gt_video``: (T, H, W) ground-truth luminance (see :func:`load_gt_video`);
    ``source_spikes``: (T, H, W) bool, the spikes that were compressed (for ISI / firing-rate
    PSNR; skipped when None). Returns a dict: ``psnr_mean`` (mean of per-frame PSNRs),
    ``psnr_worst``, ``psnr_pooled`` (one PSNR over all frames), ``psnr_frames`` (list),
    ``psnr_by_distance`` ({half-frames from the nearest scene time: pooled PSNR}, frames
    between the first and last scene time only), ``psnr_mean_between`` / ``psnr_mean_ends``
    (mean PSNR of the frames between the first and last scene time / outside them),
    ``affine`` (slope, offset), ``bits_per_spike_pixel``, ``isi_psnr``, ``firing_rate_psnr``.
    """
    from spkc import pipeline as spkc  # open/compress without importing the package root

    with spkc.open(clip_path) as clip:
        T, H, W = clip.shape
        if gt_video.shape != (T, H, W):
            raise InputError(f"ground-truth video is {gt_video.shape}, clip is {(T, H, W)}",
                             clip_path)
        c2 = np.asarray(clip._centres2)
        # per-frame moments, so one global affine fit needs a single decoding pass
        mom = np.zeros((T, 6))
        for t in range(T):
            x = clip.scene_at(t).astype(np.float64)
            y = gt_frame(gt_video, t)
            mom[t] = (x.sum(), (x * x).sum(), (x * y).sum(), y.sum(), (y * y).sum(), x.size)
        bits = clip.bits_per_spike_pixel
        S = int(clip.header.frames_per_scene)
        spikes = clip.spikes() if source_spikes is not None else None
    sx, sxx, sxy, sy, syy, n = mom.sum(axis=0)
    var = sxx / n - (sx / n) ** 2
    slope = ((sxy / n - sx * sy / n / n) / var) if var > 0 else 0.0
    off = sy / n - slope * sx / n
    # sum over pixels of (slope*x + off - y)^2, per frame
    sse = (slope ** 2 * mom[:, 1] + 2 * slope * off * mom[:, 0] - 2 * slope * mom[:, 2]
           + off ** 2 * mom[:, 5] - 2 * off * mom[:, 3] + mom[:, 4])
    sse = np.maximum(sse, 0.0)
    mse = sse / mom[:, 5]
    frames = [_psnr_from_mse(m) for m in mse]
    t2 = 2 * np.arange(T)
    dist2 = np.min(np.abs(t2[:, None] - c2[None, :]), axis=1)
    # frames before the first / after the last scene time hold an end scene whatever the
    # interpolation: they are reported apart, not mixed into the distance curve
    inner = (t2 >= c2[0]) & (t2 <= c2[-1])
    by_d = {}
    for d in np.unique(dist2[inner]):
        sel = inner & (dist2 == d)
        by_d[int(d)] = _psnr_from_mse(float(sse[sel].sum() / mom[sel, 5].sum()))
    inner_psnr = [frames[i] for i in np.nonzero(inner)[0]]
    out: dict[str, Any] = {
        "num_frames": int(T), "bits_per_spike_pixel": float(bits),
        "psnr_mean": float(np.mean(frames)), "psnr_worst": float(np.min(frames)),
        "psnr_pooled": _psnr_from_mse(float(sse.sum() / mom[:, 5].sum())),
        "psnr_frames": frames, "psnr_by_distance": by_d,
        "psnr_mean_between": float(np.mean(inner_psnr)) if inner_psnr else None,
        "psnr_mean_ends": (float(np.mean([frames[i] for i in np.nonzero(~inner)[0]]))
                           if (~inner).any() else None),
        "affine": [float(slope), float(off)],
    }
    if spikes is not None:
        out.update(spike_fidelity(spikes, np.asarray(source_spikes), int(rate_window or S)))
    return out


def offset_psnr(src: str | os.PathLike, gt: np.ndarray, gt_frame_index: int,
                offsets: Sequence[int], *, frames_per_scene: int = 32,
                scenes_around: int = 2, height: int = 250, width: int = 400,
                compress_kw: Mapping[str, Any] | None = None,
                workdir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """PSNR of the ground-truth frame with the scene grid shifted to each offset.

    ``offsets``: frames from the reconstructor's window centre of the scene that holds the
    ground-truth frame (``-S//2 .. S - S//2 - 1``; 0 = aligned). For each offset the clip is
    cut to start ``s`` frames later (so frame ``gt_frame_index`` lands there) and to end
    ``scenes_around`` scenes after that scene, compressed with ``compress_kw`` and the decoded
    ``scene_at`` compared with ``gt`` (H, W) after an affine fit. Rows: offset, shift, psnr,
    bits_per_spike_pixel, file_bytes, frames.
    """
    from spkc import pipeline as spkc  # open/compress without importing the package root
    from spkc.io import read_spikes, write_npy
    from spkc.metrics import psnr

    S = int(frames_per_scene)
    raw = read_spikes(src, height, width)
    rows = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for off in offsets:
            pos = S // 2 + int(off)  # position of the gt frame inside its segment
            if not 0 <= pos < S:
                raise InputError(f"offset {off} outside -{S // 2}..{S - S // 2 - 1}")
            # drop frames so that (gt - shift) % S == pos, keeping as many scenes before it
            shift = (gt_frame_index - pos) % S
            # keep one scene before the ground truth's (less to encode, same neighbourhood)
            shift += max(0, (gt_frame_index - shift) // S - 1) * S
            t_gt = gt_frame_index - shift
            k = t_gt // S
            stop = min(len(raw) - shift, (k + 1 + scenes_around) * S)
            part = raw[shift:shift + stop]
            p_src = Path(tmp) / f"cut{off}.npy"
            p_dst = Path(tmp) / f"cut{off}.spkc"
            write_npy(p_src, part)
            res = spkc.compress(p_src, p_dst, frames_per_scene=S, **dict(compress_kw or {}))
            with spkc.open(p_dst) as clip:
                test = clip.scene_at(t_gt)
            rows.append({"offset": int(off), "shift": int(shift), "frames": int(len(part)),
                         "psnr": float(psnr(test, gt, peak=1.0, affine_fit=True)),
                         "bits_per_spike_pixel": float(res.bits_per_spike_pixel),
                         "file_bytes": int(res.file_bytes)})
    return rows


def extra_rows(clips: Sequence[str | os.PathLike], runs: Sequence[tuple[str, int]], *,
               gt_video: str | os.PathLike | None = None, gt: str | os.PathLike | None = None,
               gt_frame_index: int = 151, offsets: Sequence[int] | None = None,
               frames_per_scene: int = 32, height: int = 250, width: int = 400,
               compress_kw: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """``spkc eval --gt-video`` / ``--offsets``: one row per clip x (codec, quality) with the
    all-frame figures (mean / worst / pooled PSNR, ISI / firing-rate PSNR) and/or the
    offset-averaged and aligned PSNR of the ground-truth frame."""
    from spkc import pipeline as spkc  # open/compress without importing the package root
    from spkc.eval.engine import load_ground_truth
    from spkc.io import read_spikes

    video = load_gt_video(gt_video) if gt_video is not None else None
    if video is not None and len(clips) != 1:
        raise InputError("--gt-video is the ground truth of one clip; give one clip", gt_video)
    rows = []
    for c in clips:
        raw = read_spikes(c, height, width)
        g = load_ground_truth(gt, c) if offsets else None
        for codec, q in runs:
            kw = {"codec": codec, "quality": q, **dict(compress_kw or {})}
            row: dict[str, Any] = {"clip": Path(c).name, "codec": codec, "quality": int(q)}
            if video is not None:
                with tempfile.TemporaryDirectory() as tmp:
                    dst = Path(tmp) / "clip.spkc"
                    spkc.compress(c, dst, frames_per_scene=frames_per_scene, height=height,
                                  width=width, **kw)
                    m = allframe_metrics(dst, video, raw)
                row.update({k: m[k] for k in ("bits_per_spike_pixel", "psnr_mean", "psnr_worst",
                                              "psnr_pooled", "isi_psnr", "firing_rate_psnr")})
                row["psnr_by_distance"] = m["psnr_by_distance"]
            if offsets and g is not None:
                o = offset_psnr(c, g, gt_frame_index, offsets, frames_per_scene=frames_per_scene,
                                height=height, width=width, compress_kw=kw)
                row["psnr_offset_mean"] = float(np.mean([r["psnr"] for r in o]))
                row["psnr_aligned"] = next((r["psnr"] for r in o if r["offset"] == 0), None)
                row["offsets"] = o
            rows.append(row)
    return rows


def format_extra(rows: Sequence[Mapping[str, Any]]) -> str:
    """Plain-text table of :func:`extra_rows`."""
    cols = [("clip", "{}"), ("codec", "{}"), ("quality", "{}"),
            ("bits_per_spike_pixel", "{:.5f}"), ("psnr_mean", "{:.2f}"),
            ("psnr_worst", "{:.2f}"), ("isi_psnr", "{:.2f}"), ("firing_rate_psnr", "{:.2f}"),
            ("psnr_aligned", "{:.2f}"), ("psnr_offset_mean", "{:.2f}")]
    cols = [(k, f) for k, f in cols if any(r.get(k) is not None for r in rows)]
    head = " ".join(f"{k:>14s}" for k, _ in cols)
    body = [" ".join(f"{(f.format(r[k]) if r.get(k) is not None else '-'):>14s}"
                     for k, f in cols) for r in rows]
    return "\n".join([head, *body])
