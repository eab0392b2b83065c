"""spikes -> .spkc: read in blocks, reconstruct scenes, code them, append them to the container."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spkc.codecs import DEFAULT_CODEC, EncodeContext, get_codec, get_codec_class
from spkc.codecs.base import InterSceneCodec
from spkc.codecs.stream_base import is_stream_codec
from spkc.errors import InputError, SpkcError
from spkc.pipeline.groups import GroupEncoder, group_length_of
from spkc.pipeline.layout import SceneBatch, SceneLayout, iter_scene_batches
from spkc.pipeline.results import CompressResult
from spkc.pipeline.writing import file_metadata, progress_bar, writing
from spkc.spikes.regenerate import RegenParams

if TYPE_CHECKING:
    from spkc.codecs.reconstructors import Reconstructor

DEFAULT_FRAMES_PER_SCENE = 32
#: scenes per group for codecs with inter coding when the caller does not choose: measured
#: by tools/temporal_results.py (docs/results-temporal.md: the shortest group within 2
#: points of the best BD-rate, for hevc and av1, on a 1,600-frame synthetic clip)
DEFAULT_GROUP_LENGTH = 32
#: motion-compensated interpolation: +2.0 dB at frames between scene times on REDS at equal
#: bits (docs/results-motion.md); "linear" writes format 1.0 files as before
DEFAULT_INTERPOLATION = "motion"
#: quantile of the first batch's rates mapped to full-scale luminance, and headroom above it
_FULL_SCALE_QUANTILE = 0.999
_HEADROOM = 1.1


def default_reconstructor(codec_name: str) -> str:
    """0.1.0's pairing: the learned codecs with the learned
    reconstructor, conventional ones with TFP. :func:`compress` now asks the preset
    (:func:`encoder_settings`)."""
    return "learned" if codec_name in ("learned", "baseline") else "tfp"


def with_group_length(codec: str, codec_options: Mapping[str, Any] | None,
                      group_length: int | None, src: str | os.PathLike | None = None
                      ) -> dict[str, Any]:
    """Codec options with ``gop`` set: ``group_length`` if given, else the option if given,
    else :data:`DEFAULT_GROUP_LENGTH` for codecs with inter coding (others: unchanged)."""
    options = dict(codec_options or {})
    inter = issubclass(get_codec_class(codec), InterSceneCodec)
    if group_length is not None:
        if isinstance(group_length, bool) or not isinstance(group_length, int) \
                or not 1 <= group_length <= 65535:
            raise InputError(f"group length must be an integer in 1..65535, got "
                             f"{group_length!r}", src)
        if not inter and group_length != 1:
            raise InputError(f"codec {codec!r} codes every scene alone (no inter coding); "
                             "group length must be 1", src)
        if inter:
            options["gop"] = group_length
    elif inter and "gop" not in options:
        cls_default = get_codec_class(codec).default_gop  # type: ignore[attr-defined]
        options["gop"] = cls_default if cls_default > 1 else DEFAULT_GROUP_LENGTH
    return options


def _learned_family(codec_name: str) -> bool:
    """Whether codec ``codec_name`` is (or derives from) the learned codec, so that presets
    set its refinement and pair it with the learned reconstructor."""
    from spkc.codecs import get_codec_class
    from spkc.codecs.learned import LearnedCodec

    try:
        return issubclass(get_codec_class(codec_name), LearnedCodec)
    except SpkcError:  # unknown or unavailable: get_codec reports it with its reason
        return False


def encoder_settings(codec: str, preset: str | None = None, reconstructor: str | None = None,
                     reconstructor_options: Mapping[str, Any] | None = None,
                     codec_options: Mapping[str, Any] | None = None,
                     batch_size: int | None = None, device: str = "cpu"):
    """The :class:`spkc.pipeline.presets.EncoderSettings` :func:`compress` uses for these
    arguments (``preset`` None: the default preset)."""
    from spkc.pipeline.presets import resolve

    return resolve(preset, codec, reconstructor, reconstructor_options, codec_options,
                   batch_size, device, learned_family=_learned_family(codec))


def build_reconstructor(settings, radius: int | None = None, device: str = "cpu",
                        src: str | os.PathLike | None = None):
    """The reconstructor of ``settings`` (:func:`encoder_settings`), with ``radius`` when
    given; an InputError naming ``src`` for options it does not have."""
    from spkc.codecs.reconstructors import get_reconstructor

    rname = settings.reconstructor
    recon_kw: dict[str, Any] = dict(settings.reconstructor_options)
    if radius is not None:
        recon_kw["radius"] = radius
    if rname == "learned":
        recon_kw.setdefault("device", device)
    recon = get_reconstructor(rname, **recon_kw)
    if recon.options:  # kept when reading headers (newer writers), an error when asked for
        raise InputError(f"reconstructor {rname!r} has no option(s) "
                         f"{', '.join(sorted(recon.options))}", src)
    return recon


def _fit_scale(rates: np.ndarray, segment_rates: np.ndarray) -> tuple[float, float]:
    """(gain from reconstructor units to spikes/frame, full-scale rate) from the first batch."""
    mean_r = rates.reshape(len(rates), -1).mean(axis=1).astype(np.float64)
    gain = float(segment_rates.sum() / mean_r.sum()) if mean_r.sum() > 0 else 1.0
    if not np.isfinite(gain) or gain <= 0:
        gain = 1.0
    top = float(np.quantile(rates * gain, _FULL_SCALE_QUANTILE)) * _HEADROOM
    full_scale = float(np.clip(top, 1.0 / 65536, 1.0))
    return gain, full_scale


def compress(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    codec: str = DEFAULT_CODEC,
    quality: int | None = None,
    frames_per_scene: int = DEFAULT_FRAMES_PER_SCENE,
    reconstructor: str | Reconstructor | None = None,
    radius: int | None = None,
    height: int = 250,
    width: int = 400,
    frame_rate: float = 20000.0,
    device: str = "cpu",
    batch_size: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    seed: int = 0,
    interpolation: str | None = None,
    motion_block: int = 24,
    reset: str = "soft",
    codec_options: Mapping[str, Any] | None = None,
    reconstructor_options: Mapping[str, Any] | None = None,
    progress: bool = False,
    group_length: int | None = None,
    preset: str | None = None,
    exact: bool = False,
    exact_block_frames: int | None = None,
) -> CompressResult:
    """Compress a spike recording (.dat/.npy/.npz/.h5) into a .spkc file.

    ``reconstructor``: a name, or a built :class:`~spkc.codecs.reconstructors.Reconstructor`
    (used as is: e.g. one that remembers its output across calls).
    ``height``/``width`` describe headerless .dat input; ``frames_per_scene`` (S) sets the rate:
    one coded scene per S frames; ``radius`` (R) the reconstructor's window (2R+1 frames);
    ``codec_options`` / ``reconstructor_options`` go to the scene codec / the reconstructor
    (e.g. ``{"refine": 0}`` / ``{"tta": 1}`` for the fastest learned encode).
    ``group_length`` (G): scenes per group for codecs with inter coding (the codec option
    ``gop``; default :data:`DEFAULT_GROUP_LENGTH`, 1 = all-intra, format 1.0); a key scene
    starts every group, random access decodes at most G + 1 scenes per frame.
    ``interpolation``: luminance between scene times, "motion" (motion-compensated,
    with block motion side information per scene pair of ``motion_block``-pixel blocks;
    format 1.1), "linear" (format 1.0) or "hold"; None: the preset's (fast: linear; medium
    and slow: :data:`DEFAULT_INTERPOLATION`).
    ``preset`` ("fast", "medium" -- the default --
    or "slow"; :mod:`spkc.pipeline.presets`) chooses the reconstructor, its options, the
    learned codec's refinement and the batch size (scenes per network call); explicit
    ``reconstructor``, ``radius``, ``batch_size`` and options override it.
    The output appears at ``dst`` only when complete; on any error nothing is left there.
    A spike-stream codec (``codec="exact"``: lossless) codes the spikes themselves in blocks
    (``codec_options={"block_frames": B}``); scene, reconstructor and regeneration arguments
    do not apply to it.
    ``exact``: also store the source spikes losslessly, as the file's exact layer (format 1.1,
    spec/exact.md section 7) in blocks of ``exact_block_frames`` frames (default: the
    ``exact`` codec's); ``spkc.open(dst).spikes(exact=True)`` returns them and
    :func:`spkc.pipeline.exact_layer.strip` drops them again. A lossless stream codec already
    stores the source: ``exact`` then changes nothing.
    """
    # heavy imports here so `import spkc` stays light
    from spkc.codecs.reconstructors import Reconstructor
    from spkc.container import Header, SpkcWriter
    from spkc.io import open_spikes

    t0 = time.perf_counter()
    if frames_per_scene < 1 or frames_per_scene > 65535:
        raise InputError(f"frames_per_scene must be in 1..65535, got {frames_per_scene}", src)
    dst = Path(dst)
    given = reconstructor if isinstance(reconstructor, Reconstructor) else None
    settings = encoder_settings(codec, preset, given.name if given else reconstructor,
                                reconstructor_options, codec_options, batch_size, device)
    batch_size = settings.batch_size
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}", src)
    options = with_group_length(codec, settings.codec_options, group_length, src)
    scene_codec = get_codec(codec, quality=quality, device=device, **options)
    if is_stream_codec(scene_codec):  # codes the spikes themselves: no scenes, no regeneration
        from spkc.pipeline.stream import compress_stream

        if exact and not getattr(scene_codec, "lossless", False):
            raise InputError(f"codec {codec!r} is a lossy stream codec; --exact needs a "
                             "scene codec or a lossless one", src)

        return compress_stream(src, dst, scene_codec, height=height, width=width,  # type: ignore[arg-type]
                               frame_rate=frame_rate, metadata=metadata, progress=progress)
    if interpolation is None:
        interpolation = settings.interpolation
    if given is not None:
        if radius is not None and int(radius) != given.radius:
            raise InputError(f"radius {radius} given with a reconstructor of radius "
                             f"{given.radius}", src)
        recon = given
    else:
        recon = build_reconstructor(settings, radius, device, src)
    context = int(scene_codec.wants_spike_context)
    layer_codec = None
    if exact:
        from spkc.pipeline.exact_layer import ExactLayerEncoder, layer_header, make_layer_codec

        layer_codec = make_layer_codec(exact_block_frames, src=src)
    elif exact_block_frames is not None:
        raise InputError("exact_block_frames needs exact=True (--exact)", src)

    with open_spikes(src, height=height, width=width) as source:
        T, H, W = source.shape
        if T == 0:
            raise InputError("no frames to compress", src)
        layout = SceneLayout(T, frames_per_scene)
        batches = iter_scene_batches(source, layout, recon.radius, context, batch_size)
        first = next(batches)
        rates = recon.reconstruct(first.windows)
        seg_rates = first.segment_spikes / np.array(
            [layout.count(int(k)) * H * W for k in first.scenes], np.float64)
        gain, full_scale = _fit_scale(rates, seg_rates)
        regen = RegenParams.for_rate_scale(full_scale, reset=reset, interpolation=interpolation,
                                           seed=seed)
        rcfg = recon.get_config()
        rcfg.pop("device", None)
        header = Header(
            height=H, width=W, frames_per_scene=frames_per_scene, frame_rate=float(frame_rate),
            codec=scene_codec.name, codec_version=str(scene_codec.version),
            codec_config=scene_codec.get_config(),
            reconstructor=recon.name,
            reconstructor_config={**rcfg, "rate_gain": gain},
            regen=regen.to_dict(),
            codec_identity={**scene_codec.identity(),
                            **{f"reconstructor_{k}": v for k, v in recon.identity().items()}},
            group_length=group_length_of(scene_codec),
            exact_layer=layer_header(layer_codec) if layer_codec is not None else None,
        )
        grouper = GroupEncoder(scene_codec) if isinstance(scene_codec, InterSceneCodec) \
            and scene_codec.group_length > 1 else None
        meta = file_metadata(src, T, frame_rate, metadata, preset=settings.preset)
        bar = progress_bar(progress, T, codec)
        payload_bytes = 0
        with writing(dst, bar):
            motion = None
            if regen.interpolation == "motion":
                from spkc.pipeline.motion_side import MotionSideInfo

                motion = MotionSideInfo(source, layout, full_scale, block=motion_block)
            with SpkcWriter(dst, header, metadata=meta, keep_partial_on_error=False,
                            minor=1 if motion is not None else 0) as writer:
                xenc = ExactLayerEncoder(source, writer, layer_codec) \
                    if layer_codec is not None else None
                # coded scenes come back in order (whole groups at a time with inter coding);
                # the motion side information of pair (k, k+1) needs both uncoded scenes
                pending: deque[tuple[int, np.ndarray]] = deque()

                def write(pay: dict[str, bytes], n: int) -> None:
                    nonlocal payload_bytes
                    writer.add_scene(pay, n)
                    payload_bytes += sum(len(v) for v in pay.values())

                def emit(payloads: dict[str, bytes], count: int) -> None:
                    k, scene = pending.popleft()
                    ready = ([(payloads, count)] if motion is None
                             else motion.push(k, payloads, scene))
                    for pay, n in ready:
                        write(pay, n)

                batch: SceneBatch | None = first
                batch_rates = rates
                while batch is not None:
                    scenes = np.clip(batch_rates * (gain / full_scale), 0.0, 1.0)
                    ctx = EncodeContext(spikes_before=batch.before, spikes_after=batch.after,
                                        device=device)
                    counts = [layout.count(int(k)) for k in batch.scenes]
                    if grouper is None:
                        coded = zip(scene_codec.encode(scenes.astype(np.float32), ctx), counts,
                                    strict=True)
                    else:  # inter coding: whole groups at a time
                        coded = grouper.add(scenes.astype(np.float32), counts, ctx)
                    pending.extend((int(k), scenes[i].astype(np.float32))
                                   for i, k in enumerate(batch.scenes))
                    done = 0
                    for payloads, count in coded:
                        emit(payloads, count)
                        done += count
                    if bar is not None:
                        raw_bytes = (bar.n + done) * H * W / 8
                        bar.set_postfix(ratio=f"{raw_bytes / max(payload_bytes, 1):.0f}x",
                                        refresh=False)
                        bar.update(done)
                    if xenc is not None:  # layer blocks whose frames are all written
                        xenc.advance(writer.num_frames)
                    batch = next(batches, None)
                    if batch is not None:
                        batch_rates = recon.reconstruct(batch.windows)
                for payloads, count in grouper.finish() if grouper is not None else ():
                    emit(payloads, count)
                    if bar is not None:
                        bar.update(count)
                for pay, n in (motion.flush() if motion is not None else ()):
                    write(pay, n)
                if xenc is not None:
                    xenc.finish()
    file_bytes = dst.stat().st_size
    bits = file_bytes * 8 / (T * H * W)
    return CompressResult(
        path=str(dst), num_frames=T, height=H, width=W, num_scenes=layout.num_scenes,
        codec=scene_codec.name, quality=scene_codec.quality, reconstructor=recon.name,
        file_bytes=file_bytes, payload_bytes=payload_bytes, bits_per_spike_pixel=bits,
        ratio=(T * H * W / 8) / file_bytes, seconds=time.perf_counter() - t0,
    )
