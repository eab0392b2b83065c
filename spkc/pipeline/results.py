"""Result records of the pipeline (shared by scene and spike-stream files, no pipeline imports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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


@dataclass
class ClipReport:
    """Result of :meth:`Clip.verify`: container damage plus scenes the codec cannot decode."""

    path: str
    num_scenes: int
    bad_scenes: dict[int, str]
    container: Any

    @property
    def ok(self) -> bool:
        return not self.bad_scenes and bool(getattr(self.container, "ok", True))
