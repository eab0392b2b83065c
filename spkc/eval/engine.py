"""Evaluation of scene codecs on spike clips: every clip x codec x quality, one row each.

A row (see :data:`ROW_FIELDS`) holds

* rate: total bits per spike-pixel (whole file), bits per pixel per scene (payload bits /
  (H*W), mean and per scene), compression ratio against 1 bit per spike-pixel;
* scene quality: PSNR/SSIM of the decoded scene against the ground truth at ``gt_frame`` when
  one is given (``Clip.scene_at(gt_frame)``, optional affine fit), otherwise against the
  *reference scenes* -- the scenes the pipeline coded, i.e. the same reconstructor on the raw
  spikes with the same per-clip scale, before coding. ``scene_psnr`` pools the squared error of
  all scenes (one PSNR over the (K, H, W) stack); ``scene_ssim`` is the mean per-scene SSIM;
* spike fidelity: ISI-PSNR and firing-rate PSNR of the regenerated against the source spikes;
* downstream fidelity (SpikeCodec paper, section 5.6): scenes reconstructed with one
  reconstructor (``downstream``: "tfp" by default, "tfi", or "same" = the coding reconstructor)
  and the coding layout and radius from the regenerated spikes and from the raw spikes, PSNR
  between the two (pooled over scenes, both mapped to [0, 1] with the clip's scale);
* encode seconds (``spkc.compress``) and decode seconds (open + regenerate every frame).

Codecs that cannot run here, or qualities a codec does not have, are reported in ``skipped``
with the reason; they are never dropped silently.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spkc.errors import (
    CodecUnavailableError,
    InputError,
    MissingWeightsError,
    UnknownCodecError,
)
from spkc.eval.plan import plan_runs
from spkc.eval.types import LIST_FIELDS, ROW_FIELDS, EvalReport  # noqa: F401 - re-exported


# -- inputs ------------------------------------------------------------------------------------
def load_ground_truth(gt: str | os.PathLike | None, clip: str | os.PathLike
                      ) -> np.ndarray | None:
    """Ground-truth scene for ``clip``: (H, W) float32 in [0, 1], or None.

    ``gt`` is a PNG (8- or 16-bit gray; colour is converted to luma) or a directory holding
    ``<clip stem>.png``; a directory without that file gives None (no ground truth).
    """
    if gt is None:
        return None
    p = Path(gt)
    if p.is_dir():
        p = p / f"{Path(clip).stem}.png"
        if not p.is_file():
            return None
    elif not p.is_file():
        raise InputError("ground truth not found", p)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64) / 65535.0
            else:
                arr = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InputError(f"cannot read ground-truth image: {exc}", p) from exc
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


def _clean_recon_config(cfg: dict[str, Any]) -> dict[str, Any]:
    out = dict(cfg)
    out.pop("rate_gain", None)
    return out


def reconstruct_scenes(source, recon, frames_per_scene: int, batch_size: int = 4) -> np.ndarray:
    """Reconstructor output for every scene of ``source`` (a SpikeSource): (K, H, W) float32.

    Same layout and reflect padding as :func:`spkc.compress`, so scene k here is the scene the
    pipeline coded (before its per-clip scale).
    """
    from spkc.pipeline.layout import SceneLayout, iter_scene_batches

    layout = SceneLayout(source.shape[0], frames_per_scene)
    parts = [recon.reconstruct(b.windows)
             for b in iter_scene_batches(source, layout, recon.radius, 0, batch_size)]
    return np.concatenate(parts).astype(np.float32)


#: reconstructed scenes by (reconstructor config, window digest): one reconstruction of a
#: window serves every codec and quality of a run that uses the same reconstructor
_SCENE_MEMO: OrderedDict[tuple[str, bytes], np.ndarray] = OrderedDict()
_SCENE_MEMO_SIZE = 256  # (H, W) float32 each: ~100 MB at 250x400


def _memo_reconstructor(recon):
    """``recon`` wrapped so that each window it has already reconstructed (with the same
    config) is returned from memory instead of recomputed; same name, radius and config."""
    import hashlib

    from spkc.codecs.reconstructors import Reconstructor

    class _Memo(Reconstructor):
        name = recon.name

        def __init__(self) -> None:
            self.radius = recon.radius
            self.options = dict(recon.options)
            self._key = json.dumps(recon.get_config(), sort_keys=True, default=str)

        def get_config(self) -> dict[str, Any]:
            return recon.get_config()

        def identity(self) -> dict[str, str]:
            return recon.identity()

        def reconstruct(self, windows: np.ndarray) -> np.ndarray:
            w = np.ascontiguousarray(windows)
            if w.ndim == 3:
                w = w[None]
            keys = [(self._key, str(x.shape).encode() + hashlib.blake2b(
                x.view(np.uint8) if x.dtype == np.bool_ else x, digest_size=16).digest())
                for x in w]
            todo = [i for i, k in enumerate(keys) if k not in _SCENE_MEMO]
            if todo:
                fresh = recon.reconstruct(w[todo])
                for i, r in zip(todo, fresh, strict=True):
                    r = np.array(r, np.float32)
                    r.setflags(write=False)
                    _SCENE_MEMO[keys[i]] = r
                while len(_SCENE_MEMO) > _SCENE_MEMO_SIZE:
                    _SCENE_MEMO.popitem(last=False)
            out = []
            for k in keys:
                _SCENE_MEMO.move_to_end(k)
                out.append(_SCENE_MEMO[k])
            return np.stack(out)

    return _Memo()


_REF_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()
_REF_CACHE_SIZE = 8


def _reference_rates(src: Path, recon, frames_per_scene: int, height: int, width: int
                     ) -> np.ndarray:
    """:func:`reconstruct_scenes` of the file ``src``, remembered for the last few (file,
    reconstructor config, layout): every codec and quality evaluated on a clip with the same
    reconstructor shares one reconstruction (the learned one is the slow part of a run)."""
    from spkc.io import open_spikes

    st = src.stat()
    key = (str(src.resolve()), st.st_size, st.st_mtime_ns,
           json.dumps(recon.get_config(), sort_keys=True, default=str),
           int(frames_per_scene), int(height), int(width))
    if key in _REF_CACHE:
        _REF_CACHE.move_to_end(key)
        return _REF_CACHE[key]
    with open_spikes(src, height=height, width=width) as source:
        rates = reconstruct_scenes(source, _memo_reconstructor(recon), frames_per_scene)
    rates.setflags(write=False)
    _REF_CACHE[key] = rates
    while len(_REF_CACHE) > _REF_CACHE_SIZE:
        _REF_CACHE.popitem(last=False)
    return rates


#: the source spikes' TFI and firing-rate maps of the last clip: every run on a clip compares
#: its regenerated spikes with the same maps (the definitions of spkc.metrics.isi_psnr and
#: firing_rate_psnr), so they are computed once per clip instead of once per run
_SOURCE_MAPS: dict[tuple, np.ndarray] = {}


def _source_map(src: Path, raw: np.ndarray, kind: str, window: int,
                make: Callable[[], np.ndarray]) -> np.ndarray:
    st = src.stat()
    key = (str(src.resolve()), st.st_size, st.st_mtime_ns, raw.shape, kind, int(window))
    if key not in _SOURCE_MAPS:
        for k in [k for k in _SOURCE_MAPS if k[:4] != key[:4] or k[4] == kind]:
            del _SOURCE_MAPS[k]  # one clip, one map of each kind: bounded memory
        m = make()
        m.setflags(write=False)
        _SOURCE_MAPS[key] = m
    return _SOURCE_MAPS[key]


class _MemorySource:
    """A SpikeSource over an in-memory (T, H, W) bool array (regenerated spikes)."""

    def __init__(self, spikes: np.ndarray) -> None:
        self._s = spikes
        self.shape = spikes.shape

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        return self._s[start:stop]


def _scale(rates: np.ndarray, gain: float, full_scale: float) -> np.ndarray:
    """Reconstructor units -> scene luminance in [0, 1], as the pipeline maps them."""
    return np.clip(rates * (gain / full_scale), 0.0, 1.0).astype(np.float32)


def _finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if np.isnan(x) else x


# -- one run -----------------------------------------------------------------------------------
def evaluate_run(src: str | os.PathLike, codec: str, quality: int, *,
                 gt: np.ndarray | None = None, gt_frame: int = 151,
                 frames_per_scene: int = 32, reconstructor: str | None = None,
                 radius: int | None = None, affine: bool | None = None,
                 rate_window: int | None = None, downstream: str = "tfp",
                 height: int = 250, width: int = 400,
                 device: str = "cpu", workdir: str | os.PathLike | None = None,
                 keep: str | os.PathLike | None = None,
                 raw_spikes: np.ndarray | None = None,
                 codec_options: Mapping[str, Any] | None = None,
                 reconstructor_options: Mapping[str, Any] | None = None,
                 group_length: int | None = None,
                 preset: str | None = None) -> dict[str, Any]:
    """Compress ``src`` with ``codec`` at ``quality``, decode it and measure one result row.

    ``gt``: (H, W) float32 ground truth in [0, 1] at frame ``gt_frame`` (or None: compare with
    the reference scenes). ``affine`` None means "fit when comparing with a ground truth".
    ``rate_window``: frames of the firing-rate map (None: ``frames_per_scene``).
    ``downstream``: reconstructor of the downstream-fidelity check ("tfp", "tfi", "same").
    ``raw_spikes``: the source (T, H, W) bool if already loaded. ``keep``: path to keep the
    .spkc file at (default: a temporary file, deleted). ``codec_options``: passed to the
    codec (e.g. ``{"weights_version": 2}`` for the learned codec); ``reconstructor_options``
    to the reconstructor (e.g. ``{"tta": 1}``). ``group_length``: scenes per group for codecs
    that code groups (option ``gop``; None = the codec's default); intra codecs ignore it.
    The row records the file's group length and the payload bytes of key scenes and of
    predicted scenes.
    ``preset``: the encoder preset (None: the default one).
    """
    from spkc.codecs.reconstructors import reconstructor_from_config
    from spkc.io import read_spikes
    from spkc.metrics import affine_fit, psnr, ssim
    from spkc.pipeline import compress
    from spkc.pipeline import open as open_clip
    from spkc.pipeline.compress import build_reconstructor, encoder_settings
    from spkc.spikes.maps import firing_rate_map, isi_map
    from spkc.spikes.regenerate import interpolated_luminance, luminance_q16

    src = Path(src)
    codec_options = _with_group_length(codec, codec_options, group_length)
    tmp = tempfile.mkdtemp(prefix="spkc-eval-", dir=workdir)
    try:
        dst = Path(keep) if keep is not None else Path(tmp) / f"{src.stem}.{codec}.q{quality}.spkc"
        settings = encoder_settings(codec, preset, reconstructor, reconstructor_options,
                                    codec_options, device=device)
        recon_used = _memo_reconstructor(build_reconstructor(settings, radius, device, src))
        res = compress(src, dst, codec=codec, quality=quality, frames_per_scene=frames_per_scene,
                       reconstructor=recon_used, height=height, width=width,
                       device=device, codec_options=codec_options,
                       reconstructor_options=reconstructor_options, preset=preset)
        t0 = time.perf_counter()
        with open_clip(dst, device=device) as clip:
            dec = clip.spikes()
            decode_seconds = time.perf_counter() - t0
            T, H, W = clip.shape
            K = clip.num_scenes
            header = clip.header
            dec_scenes = np.stack([clip.scene(k) for k in range(K)])
            scene_bytes = _scene_payload_bytes(clip, K)
            if gt is not None:
                _check_gt(gt, gt_frame, clip.shape, src)
            gt_test = clip.scene_at(int(gt_frame)) if gt is not None else None
            centres2 = getattr(clip, "_centres2", None)
            interp = clip.regen.interpolation
            full_scale = clip.regen.rate_scale
        rcfg = dict(header.reconstructor_config)
        gain = float(rcfg.get("rate_gain", 1.0))
        recon = reconstructor_from_config({"name": header.reconstructor,
                                           **_clean_recon_config(rcfg)})
        ref_rates = _reference_rates(src, recon, frames_per_scene, height, width)
        raw = raw_spikes if raw_spikes is not None else read_spikes(src, height, width)
        ref_scenes = _scale(ref_rates, gain, full_scale)
        if downstream == "same":
            dn_recon, dn_raw = recon, ref_scenes
        else:
            dn_recon = reconstructor_from_config({"name": downstream, "radius": recon.radius})
            dn_raw = _scale(_reference_rates(src, dn_recon, frames_per_scene, height, width),
                            gain, full_scale)
        dn_scenes = _scale(reconstruct_scenes(_MemorySource(dec), dn_recon, frames_per_scene),
                           gain, full_scale)

        use_affine = (gt is not None) if affine is None else bool(affine)
        psnr_uncoded: float | None = None
        if gt is not None:
            _check_gt(gt, gt_frame, (T, H, W), src)
            target = "gt"
            test = gt_test
            scene_psnr = psnr(test, gt, peak=1.0, affine_fit=use_affine)
            scene_ssim = ssim(affine_fit(test, gt) if use_affine else test, gt)
            # the same frame from the uncoded scenes: what the codec could reach at best
            k = int(gt_frame) // frames_per_scene
            ref_q = {j: luminance_q16(ref_scenes[j]) for j in range(K)}
            if centres2 is not None:
                unc = interpolated_luminance(int(gt_frame), k, ref_q.__getitem__, centres2, interp)
            else:
                unc = ref_scenes[k]
            psnr_uncoded = psnr(np.asarray(unc, np.float32), gt, peak=1.0, affine_fit=use_affine)
        else:
            target = "reference"
            scene_psnr = psnr(dec_scenes, ref_scenes, peak=1.0,
                              affine_fit=use_affine)
            scene_ssim = float(np.mean([
                ssim(affine_fit(d, r) if use_affine else d, r)
                for d, r in zip(dec_scenes, ref_scenes, strict=True)]))
        window = int(rate_window or frames_per_scene)
        row: dict[str, Any] = {
            "clip": src.name, "codec": codec, "quality": int(quality),
            "reconstructor": header.reconstructor, "frames_per_scene": int(frames_per_scene),
            "radius": int(recon.radius), "num_frames": int(T), "height": int(H),
            "width": int(W), "num_scenes": int(K),
            "file_bytes": int(res.file_bytes), "payload_bytes": int(res.payload_bytes),
            "bits_per_spike_pixel": float(res.bits_per_spike_pixel),
            "bpp_per_scene": float(np.mean(scene_bytes) * 8 / (H * W)),
            "ratio": float(res.ratio),
            "scene_target": target, "affine": use_affine,
            "scene_psnr": _finite_or_none(scene_psnr),
            "scene_ssim": _finite_or_none(scene_ssim),
            "scene_psnr_uncoded": _finite_or_none(psnr_uncoded),
            "scene_psnr_ref": _finite_or_none(psnr(dec_scenes, ref_scenes, peak=1.0)),
            "isi_psnr": _finite_or_none(psnr(1.0 / isi_map(dec), _source_map(
                src, raw, "tfi", 0, lambda: 1.0 / isi_map(raw)), peak=1.0)),
            "firing_rate_psnr": _finite_or_none(psnr(firing_rate_map(dec, window), _source_map(
                src, raw, "rate", window, lambda: firing_rate_map(raw, window)), peak=1.0)),
            "rate_window": window,
            "downstream_reconstructor": dn_recon.name,
            "downstream_psnr": _finite_or_none(psnr(dn_scenes, dn_raw, peak=1.0)),
            "encode_seconds": float(res.seconds), "decode_seconds": float(decode_seconds),
            "bpp_scenes": [float(b * 8 / (H * W)) for b in scene_bytes],
            **_group_split(int(header.group_length), scene_bytes),
        }
        return row
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_gt(gt: np.ndarray, gt_frame: int, shape: tuple[int, int, int],
              src: str | os.PathLike) -> None:
    T, H, W = shape
    if gt.shape != (H, W):
        raise InputError(f"ground truth is {gt.shape[1]}x{gt.shape[0]}, clip is {W}x{H}", src)
    if not 0 <= gt_frame < T:
        raise InputError(f"--gt-frame {gt_frame} outside the clip's {T} frames", src)


def _with_group_length(codec: str, options: Mapping[str, Any] | None,
                       group_length: int | None) -> dict[str, Any] | None:
    """``options`` plus ``gop=group_length`` when ``codec`` codes groups of scenes."""
    if group_length is None:
        return None if options is None else dict(options)
    from spkc.codecs import get_codec_class
    from spkc.codecs.base import InterSceneCodec

    if not issubclass(get_codec_class(codec), InterSceneCodec):
        return None if options is None else dict(options)
    return {**dict(options or {}), "gop": int(group_length)}


def _group_split(group_length: int, scene_bytes: Sequence[int]) -> dict[str, int]:
    """Group length and payload bytes of key scenes / predicted scenes."""
    key = sum(b for k, b in enumerate(scene_bytes) if k % group_length == 0)
    return {"group_length": group_length, "key_payload_bytes": int(key),
            "inter_payload_bytes": int(sum(scene_bytes) - key)}


def _scene_payload_bytes(clip, num_scenes: int) -> list[int]:
    """Payload bytes of every scene (all named bitstreams together), from the container."""
    return [clip.scene_payload_bytes(k) for k in range(num_scenes)]


# -- many runs ---------------------------------------------------------------------------------
def evaluate(clips: Iterable[str | os.PathLike], codecs: Sequence[str] | None = None,
             qualities: Sequence[int] | None = None, *, gt: str | os.PathLike | None = None,
             gt_frame: int = 151, frames_per_scene: int = 32, reconstructor: str | None = None,
             radius: int | None = None, affine: bool | None = None, anchor: str | None = "jxl",
             rate_window: int | None = None, downstream: str = "tfp", height: int = 250,
             width: int = 400, device: str = "cpu", progress: bool = False,
             on_row: Callable[[dict[str, Any]], None] | None = None,
             codec_options: Mapping[str, Any] | None = None,
             group_length: int | None = None,
             preset: str | None = None) -> EvalReport:
    """Evaluate every clip x codec x quality; returns rows, skipped runs and the BD table.

    ``gt``: a PNG (only with a single clip) or a directory of ``<clip stem>.png``.
    ``preset``: the encoder preset of every run (None: the default). Every run that uses the
    same reconstructor config reuses the scenes it reconstructed for the others.
    """
    from spkc.eval.report import bd_table
    from spkc.pipeline.presets import get_preset

    if downstream not in ("tfp", "tfi", "same"):
        raise InputError(f"downstream reconstructor must be tfp, tfi or same, got {downstream!r}")
    clips = [Path(c) for c in clips]
    if not clips:
        raise InputError("no clips to evaluate")
    for c in clips:
        if not c.is_file():
            raise InputError("no such clip", c)
    if gt is not None and Path(gt).is_file() and len(clips) > 1:
        raise InputError("one ground-truth PNG for several clips; pass a directory holding "
                         "<clip>.png instead", gt)
    runs, skipped = plan_runs(codecs, qualities)
    report = EvalReport(skipped=skipped, config={
        "clips": [str(c) for c in clips], "codecs": list(codecs) if codecs else None,
        "qualities": list(qualities) if qualities else None,
        "gt": None if gt is None else str(gt), "gt_frame": int(gt_frame),
        "frames_per_scene": int(frames_per_scene), "reconstructor": reconstructor,
        "radius": radius, "affine": affine, "anchor": anchor, "rate_window": rate_window,
        "downstream": downstream, "group_length": group_length,
        "height": height, "width": width, "device": device,
        "preset": get_preset(preset).name,
    })
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(clips) * len(runs), unit="run", desc="eval", dynamic_ncols=True)
    try:
        from spkc.io import read_spikes

        for c in clips:
            g = load_ground_truth(gt, c)
            raw = read_spikes(c, height, width)
            if g is not None:
                _check_gt(g, gt_frame, raw.shape, c)
            for codec, q in runs:
                if bar is not None:
                    bar.set_postfix_str(f"{c.name} {codec} q{q}", refresh=True)
                try:
                    row = evaluate_run(c, codec, q, gt=g, gt_frame=gt_frame,
                                       frames_per_scene=frames_per_scene,
                                       reconstructor=reconstructor, radius=radius,
                                       affine=affine, rate_window=rate_window,
                                       downstream=downstream, height=height,
                                       width=width, device=device, raw_spikes=raw,
                                       codec_options=codec_options,
                                       group_length=group_length, preset=preset)
                except (CodecUnavailableError, MissingWeightsError, UnknownCodecError) as exc:
                    # e.g. missing learned weights: reported, never dropped silently
                    report.skipped.append({"codec": codec, "quality": q, "clip": c.name,
                                           "reason": exc.problem})
                else:
                    report.rows.append(row)
                    if on_row is not None:
                        on_row(row)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if anchor:
        report.bd = bd_table(report.rows, anchor)
        if any(r["scene_target"] == "gt" for r in report.rows):
            # against a ground truth the curves saturate at the reconstructor's ceiling; the
            # codecs' own fidelity (vs the uncoded scenes) separates them better
            report.bd += bd_table(report.rows, anchor, metric="scene_psnr_ref")
    return report
