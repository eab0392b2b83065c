"""``jxl``: JPEG XL scenes through imagecodecs (libjxl), 8- or 10-bit gray.

Quality -> JPEG XL butteraugli distance (smaller distance = better quality = more bits):

=======  =====  =====  =====  =====  =====  =====  =====  =====
quality    1      2      3      4      5      6      7      8
distance  12.0   8.0    6.0    4.0    3.0    2.0    1.0    0.5
=======  =====  =====  =====  =====  =====  =====  =====  =====

Options: ``bit_depth`` 8 | 10 (default 10), ``distance`` (float 0..25, overrides the table;
0 means mathematically lossless at ``bit_depth``), ``effort`` (1..9, default 3: libjxl's
speed/size knob, lower is faster; tools/bench_codecs.py --effort compares them).

Payload ``{"img": CRC-32C (4 bytes LE) + JPEG XL codestream}``; the checksum makes a damaged
codestream an error rather than a silently wrong scene. Decoding runs libjxl single-threaded
so the pipeline's own parallelism is not oversubscribed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from spkc.codecs._image import (
    check_plane,
    check_scenes,
    check_shape,
    corrupt,
    from_uint,
    get_payload,
    option_choice,
    option_number,
    optional_module,
    quality_setting,
    require_module,
    seal,
    to_uint,
    unseal,
)
from spkc.codecs.base import EncodeContext, Payloads, SceneCodec

DISTANCE_FOR_QUALITY = {1: 12.0, 2: 8.0, 3: 6.0, 4: 4.0, 5: 3.0, 6: 2.0, 7: 1.0, 8: 0.5}


class JpegXLCodec(SceneCodec):
    """JPEG XL intra coding of each scene (imagecodecs.jpegxl_encode / jpegxl_decode)."""

    name: ClassVar[str] = "jxl"
    version: ClassVar[str] = "1"
    qualities: ClassVar[tuple[int, ...]] = tuple(DISTANCE_FOR_QUALITY)
    default_quality: ClassVar[int] = 4

    def __init__(self, quality: int | None = None, device: str = "cpu", **options: Any) -> None:
        super().__init__(quality, device, **options)
        self.bit_depth: int = option_choice("jxl", options, "bit_depth", (8, 10), 10)
        self.distance: float = float(quality_setting("jxl", options, "distance",
                                                     DISTANCE_FOR_QUALITY, self.quality,
                                                     lo=0.0, hi=25.0))
        self.effort: int = option_number("jxl", options, "effort", 3, lo=1, hi=9, integer=True)

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        mod, reason = optional_module("imagecodecs")
        if mod is None:
            return False, reason
        if not getattr(getattr(mod, "JPEGXL", None), "available", False):
            return False, "this imagecodecs build has no JPEG XL support; " \
                          "pip install --upgrade imagecodecs"
        return True, ""

    def encode(self, scenes: np.ndarray, context: EncodeContext | None = None) -> list[Payloads]:
        """Scenes (N, H, W) float32 in [0, 1] -> N payload sets ``{"img": codestream}``."""
        arr = check_scenes(scenes, self.name)
        ic = require_module("imagecodecs", "jxl")
        kwargs: dict[str, Any] = {"effort": self.effort, "bitspersample": self.bit_depth}
        # distance 0 in libjxl still takes the lossy (VarDCT) path at low effort; lossless
        # must be requested explicitly to be exact.
        if self.distance == 0.0:
            kwargs["lossless"] = True
        else:
            kwargs["distance"] = self.distance
        out: list[Payloads] = []
        for plane in to_uint(arr, self.bit_depth):
            out.append({"img": seal(bytes(ic.jpegxl_encode(plane, **kwargs)))})
        return out

    def decode(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """N payload sets -> scenes (N, H, W) float32 in [0, 1]."""
        h, w = check_shape(shape, self.name)
        ic = require_module("imagecodecs", "jxl")
        out = np.empty((len(payloads), h, w), np.float32)
        for i, payload in enumerate(payloads):
            data = unseal(get_payload(payload, "img", self.name), self.name)
            try:
                plane = np.asarray(ic.jpegxl_decode(data, numthreads=1))
            except Exception as exc:  # imagecodecs raises JpegxlError, ValueError, ...
                raise corrupt(self.name, "cannot decode JPEG XL codestream", exc) from exc
            expected = np.uint8 if self.bit_depth == 8 else np.uint16
            if plane.dtype != expected:
                raise corrupt(self.name, f"decoded samples are {plane.dtype}, expected "
                                         f"{np.dtype(expected).name} for {self.bit_depth}-bit")
            out[i] = from_uint(check_plane(plane, (h, w), self.bit_depth, self.name,
                                           exact=True), self.bit_depth)
        return out
