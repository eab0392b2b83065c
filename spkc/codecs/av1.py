"""``av1``: AV1 coding of scenes through PyAV's libsvtav1 encoder and libdav1d decoder.

A scene goes into the luma plane of a 10-bit (``yuv420p10le``) or 8-bit (``yuv420p``) picture;
SVT-AV1 has no 4:0:0 input, so the chroma planes hold the constant mid value (they cost a few
bytes per picture and are ignored on decode). Scenes are edge-padded to a multiple of 8 and
cropped on decode.

``gop=1`` codes every scene as its own key frame (all-intra; one temporal unit per scene).
``gop=G > 1`` codes groups of G scenes as one low-delay SVT-AV1 stream (``pred-struct=1``: a
key frame, then inter frames referencing earlier ones, no reordering, scene-change detection
off), split into one temporal unit (packet) per scene; scene j of a group decodes from the
packets 0..j of its group (see :mod:`spkc.codecs._video`). Payload
``{"img": CRC-32C (4 bytes LE) + temporal unit}``.

Quality -> constant QP (SVT-AV1's 1..63 scale, lower = finer):

=======  ==  ==  ==  ==  ==  ==  ==  ==
quality   1   2   3   4   5   6   7   8
QP       58  52  46  40  34  28  22  16
=======  ==  ==  ==  ==  ==  ==  ==  ==

Options: ``bit_depth`` 8 | 10 (default 10), ``qp`` (1..63, overrides the table), ``preset``
(SVT-AV1 preset 0..13, default 8), ``gop`` (scenes per group, default 1).
Encoding runs on one SVT thread (``lp=1``); decoding on one dav1d thread. AV1 decoding is
exact by specification (integer transforms and filters), so scenes are bit-exact everywhere.
"""

from __future__ import annotations

import fractions
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from spkc.codecs._image import (
    check_scenes,
    check_shape,
    option_choice,
    pad_plane,
    quality_setting,
    require_module,
    seal,
    to_uint,
)
from spkc.codecs._video import (
    check_format,
    decode_packets,
    encode_frames,
    planes_to_scenes,
    unseal_group,
    video_availability,
)
from spkc.codecs.base import EncodeContext, InterSceneCodec, Payloads
from spkc.errors import SceneCorruptError

QP_FOR_QUALITY = {1: 58, 2: 52, 3: 46, 4: 40, 5: 34, 6: 28, 7: 22, 8: 16}
_PIX_FMT = {8: "yuv420p", 10: "yuv420p10le"}
_BLOCK = 8


class Av1Codec(InterSceneCodec):
    """AV1 (SVT-AV1 encoder, dav1d decoder): all-intra or low-delay groups of ``gop`` scenes."""

    name: ClassVar[str] = "av1"
    version: ClassVar[str] = "1"
    qualities: ClassVar[tuple[int, ...]] = tuple(QP_FOR_QUALITY)
    default_quality: ClassVar[int] = 4

    def __init__(self, quality: int | None = None, device: str = "cpu", **options: Any) -> None:
        super().__init__(quality, device, **options)
        self.bit_depth: int = option_choice("av1", options, "bit_depth", tuple(_PIX_FMT), 10)
        self.qp: int = quality_setting("av1", options, "qp", QP_FOR_QUALITY, self.quality,
                                       lo=1, hi=63, integer=True)
        self.preset: int = option_choice("av1", options, "preset", tuple(range(14)), 8)

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        return video_availability("libsvtav1", "libdav1d", "libdav1d", tuple(_PIX_FMT.values()))

    def _encoder(self, av: Any, h: int, w: int, keyint: int) -> Any:
        # SVT-AV1 logs its banner at "info" level to stderr unless told otherwise
        os.environ.setdefault("SVT_LOG", "1")
        ctx = av.CodecContext.create("libsvtav1", "w")
        ctx.width, ctx.height, ctx.pix_fmt = w, h, _PIX_FMT[self.bit_depth]
        ctx.time_base = fractions.Fraction(1, 25)
        params = [f"keyint={keyint}", "rc=0", "scd=0", "lp=1", "enable-tpl-la=0"]
        if keyint > 1:
            params.append("pred-struct=1")  # low delay: one packet per picture, in order
        ctx.options = {"preset": str(self.preset), "qp": str(self.qp),
                       "svtav1-params": ":".join(params)}
        return ctx

    def _frame(self, av: Any, plane: np.ndarray, pts: int) -> Any:
        h, w = plane.shape
        frame = av.VideoFrame(w, h, _PIX_FMT[self.bit_depth])
        dtype = plane.dtype
        mid = 1 << (self.bit_depth - 1)
        for i, p in enumerate(frame.planes):
            rows = h if i == 0 else (h + 1) // 2
            cols = p.line_size // dtype.itemsize
            buf = np.full((rows, cols), mid, dtype)
            if i == 0:
                buf[:, :w] = plane
                buf[:, w:] = plane[:, -1:]
            p.update(buf.astype(dtype.newbyteorder("<"), copy=False).tobytes())
        frame.pts = pts
        return frame

    def _encode(self, av: Any, planes: np.ndarray, keyint: int) -> list[bytes]:
        padded = [pad_plane(p, _BLOCK) for p in planes]
        h, w = padded[0].shape
        ctx = self._encoder(av, h, w, keyint)
        return encode_frames(ctx, [self._frame(av, p, i) for i, p in enumerate(padded)],
                             self.name)

    def encode_group(self, scenes: np.ndarray,
                     context: EncodeContext | None = None) -> list[Payloads]:
        """One group (n, H, W) float32 in [0, 1] -> n payload sets ``{"img": AV1 TU}``."""
        arr = check_scenes(scenes, self.name)
        av = require_module("av", "av1")
        planes = to_uint(arr, self.bit_depth)
        if self.group_length == 1:
            packets = [self._encode(av, planes[i:i + 1], 1)[0] for i in range(len(planes))]
        else:
            packets = self._encode(av, planes, self.group_length)
        return [{"img": seal(p)} for p in packets]

    def _read(self, frame: Any) -> np.ndarray:
        luma = check_format(frame, _PIX_FMT[self.bit_depth], self.name).planes[0]
        dtype = np.dtype(np.uint16 if self.bit_depth > 8 else np.uint8).newbyteorder("<")
        rows = np.frombuffer(luma, dtype).reshape(luma.height, -1)
        return rows[:, :luma.width].astype(dtype.newbyteorder("="))

    def decode_group(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """Payload sets of a group prefix -> scenes (n, H, W) float32 in [0, 1]."""
        h, w = check_shape(shape, self.name)
        av = require_module("av", "av1")
        packets = unseal_group(payloads, self.name)
        if self.group_length == 1:
            planes = []
            for j, p in enumerate(packets):
                try:
                    planes += decode_packets(av, "libdav1d", [p], self.name, self._read)
                except SceneCorruptError as exc:
                    exc.scene = j
                    raise
        else:
            planes = decode_packets(av, "libdav1d", packets, self.name, self._read)
        return planes_to_scenes(planes, (h, w), self.bit_depth, self.name)
