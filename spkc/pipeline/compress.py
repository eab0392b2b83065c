"""spikes -> .spkc: read in blocks, reconstruct scenes, code them, append them to the container."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from spkc import __version__
from spkc.codecs import DEFAULT_CODEC, EncodeContext, get_codec
from spkc.errors import InputError, OutputError, SpkcError
from spkc.pipeline.layout import SceneBatch, SceneLayout, iter_scene_batches
from spkc.spikes.regenerate import RegenParams

DEFAULT_FRAMES_PER_SCENE = 32
#: motion-compensated interpolation: +2.0 dB at frames between scene times on REDS at equal
#: bits (docs/results-motion.md); "linear" writes format 1.0 files as before
DEFAULT_INTERPOLATION = "motion"
#: quantile of the first batch's rates mapped to full-scale luminance, and headroom above it
_FULL_SCALE_QUANTILE = 0.999
_HEADROOM = 1.1


@dataclass
class CompressResult:
    """What :func:`compress` did. Sizes in bytes, rates in bits per spike-pixel."""

    path: str
    num_frames: int
    height: int
    width: int
    num_scenes: int
    codec: str
    quality: int
    reconstructor: str
    file_bytes: int
    payload_bytes: int
    bits_per_spike_pixel: float
    ratio: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_reconstructor(codec_name: str) -> str:
    """The learned codecs pair with the learned reconstructor; conventional ones with TFP."""
    return "learned" if codec_name in ("learned", "baseline") else "tfp"


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
    reconstructor: str | None = None,
    radius: int | None = None,
    height: int = 250,
    width: int = 400,
    frame_rate: float = 20000.0,
    device: str = "cpu",
    batch_size: int = 4,
    metadata: Mapping[str, Any] | None = None,
    seed: int = 0,
    interpolation: str = DEFAULT_INTERPOLATION,
    motion_block: int = 24,
    reset: str = "soft",
    codec_options: Mapping[str, Any] | None = None,
    reconstructor_options: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> CompressResult:
    """Compress a spike recording (.dat/.npy/.npz/.h5) into a .spkc file.

    ``height``/``width`` describe headerless .dat input; ``frames_per_scene`` (S) sets the rate:
    one coded scene per S frames; ``radius`` (R) the reconstructor's window (2R+1 frames);
    ``codec_options`` / ``reconstructor_options`` go to the scene codec / the reconstructor
    (e.g. ``{"refine": 0}`` / ``{"tta": 1}`` for the fastest learned encode).
    ``interpolation``: luminance between scene times, "motion" (default: motion-compensated,
    with block motion side information per scene pair of ``motion_block``-pixel blocks;
    format 1.1), "linear" (format 1.0) or "hold".
    The output appears at ``dst`` only when complete; on any error nothing is left there.
    """
    # heavy imports here so `import spkc` stays light
    from spkc.codecs.reconstructors import get_reconstructor
    from spkc.container import Header, SpkcWriter
    from spkc.io import open_spikes

    t0 = time.perf_counter()
    if frames_per_scene < 1 or frames_per_scene > 65535:
        raise InputError(f"frames_per_scene must be in 1..65535, got {frames_per_scene}", src)
    dst = Path(dst)
    scene_codec = get_codec(codec, quality=quality, device=device, **dict(codec_options or {}))
    rname = reconstructor or default_reconstructor(codec)
    recon_kw: dict[str, Any] = dict(reconstructor_options or {})
    if radius is not None:
        recon_kw["radius"] = radius
    if rname == "learned":
        recon_kw.setdefault("device", device)
    recon = get_reconstructor(rname, **recon_kw)
    if recon.options:  # kept when reading headers (newer writers), an error when asked for
        raise InputError(f"reconstructor {rname!r} has no option(s) "
                         f"{', '.join(sorted(recon.options))}", src)
    context = int(scene_codec.wants_spike_context)

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
        )
        meta: dict[str, Any] = {
            "source": Path(src).name,
            "source_frames": int(T),
            "capture_rate_hz": float(frame_rate),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "writer": f"spkc {__version__}",
        }
        meta.update(dict(metadata or {}))
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=T, unit="frame", unit_scale=True, desc=f"compress {codec}",
                       dynamic_ncols=True)
        payload_bytes = 0
        try:
            motion = None
            if regen.interpolation == "motion":
                from spkc.pipeline.motion_side import MotionSideInfo

                motion = MotionSideInfo(source, layout, full_scale, block=motion_block)
            with SpkcWriter(dst, header, metadata=meta, keep_partial_on_error=False,
                            minor=1 if motion is not None else 0) as writer:
                batch: SceneBatch | None = first
                batch_rates = rates
                while batch is not None:
                    scenes = np.clip(batch_rates * (gain / full_scale), 0.0, 1.0)
                    ctx = EncodeContext(spikes_before=batch.before, spikes_after=batch.after,
                                        device=device)
                    payload_sets = scene_codec.encode(scenes.astype(np.float32), ctx)
                    done = 0
                    for i, (k, payloads) in enumerate(zip(batch.scenes, payload_sets,
                                                          strict=True)):
                        ready = ([(payloads, layout.count(int(k)))] if motion is None
                                 else motion.push(int(k), payloads, scenes[i]))
                        for pay, n in ready:
                            writer.add_scene(pay, n)
                            payload_bytes += sum(len(v) for v in pay.values())
                        done += layout.count(int(k))
                    if bar is not None:
                        raw_bytes = (bar.n + done) * H * W / 8
                        bar.set_postfix(ratio=f"{raw_bytes / max(payload_bytes, 1):.0f}x",
                                        refresh=False)
                        bar.update(done)
                    batch = next(batches, None)
                    if batch is not None:
                        batch_rates = recon.reconstruct(batch.windows)
                for pay, n in (motion.flush() if motion is not None else ()):
                    writer.add_scene(pay, n)
                    payload_bytes += sum(len(v) for v in pay.values())
        except SpkcError:
            raise
        except OSError as exc:
            raise OutputError(f"cannot write: {exc.strerror or exc}", dst) from exc
        finally:
            if bar is not None:
                bar.close()
    file_bytes = dst.stat().st_size
    bits = file_bytes * 8 / (T * H * W)
    return CompressResult(
        path=str(dst), num_frames=T, height=H, width=W, num_scenes=layout.num_scenes,
        codec=scene_codec.name, quality=scene_codec.quality, reconstructor=recon.name,
        file_bytes=file_bytes, payload_bytes=payload_bytes, bits_per_spike_pixel=bits,
        ratio=(T * H * W / 8) / file_bytes, seconds=time.perf_counter() - t0,
    )
