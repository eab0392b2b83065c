"""Types shared by the evaluation engine and its reporting (:mod:`spkc.eval.engine`,
:mod:`spkc.eval.report`), in their own module so that neither imports the other for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: every field of a result row, in CSV column order
ROW_FIELDS: tuple[str, ...] = (
    "clip", "codec", "quality", "reconstructor", "frames_per_scene", "radius",
    "num_frames", "height", "width", "num_scenes",
    "file_bytes", "payload_bytes", "bits_per_spike_pixel", "bpp_per_scene", "ratio",
    "scene_target", "affine", "scene_psnr", "scene_ssim", "scene_psnr_uncoded",
    "scene_psnr_ref",
    "isi_psnr", "firing_rate_psnr", "rate_window", "downstream_reconstructor", "downstream_psnr",
    "encode_seconds", "decode_seconds",
)
#: fields that are lists (JSON only; not in the CSV)
LIST_FIELDS: tuple[str, ...] = ("bpp_scenes",)


@dataclass
class EvalReport:
    """Everything ``spkc eval`` produced: result rows, skipped runs, BD table, settings."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    bd: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
