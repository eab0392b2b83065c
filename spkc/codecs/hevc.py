"""``hevc``: HEVC intra coding of each scene through PyAV's libx265, decoded by FFmpeg's hevc.

Each scene is its own one-frame HEVC stream (Annex B: VPS, SPS, PPS, one IDR slice), so every
payload decodes alone: random access touches only the scenes it needs. Payload
``{"img": CRC-32C (4 bytes LE) + stream}``: FFmpeg conceals truncated slices silently, the
checksum makes damage an error. Gray 4:0:0 at 8 bits (``gray``) or 10 bits (``gray10le``);
scenes are edge-padded to a multiple of 8 (and at least 16, x265's minimum) and
cropped on decode.

Quality -> constant QP (lower QP = finer quantisation = more bits; the same QP gives about the
same PSNR at 8 and 10 bits because HEVC scales its step size with the bit depth):

=======  ==  ==  ==  ==  ==  ==  ==  ==
quality   1   2   3   4   5   6   7   8
QP       44  40  36  32  28  24  20  16
=======  ==  ==  ==  ==  ==  ==  ==  ==

Options: ``bit_depth`` 8 | 10 (default 10), ``qp`` (0..51, overrides the table), ``preset``
(x265 preset, default "medium"), ``tune`` (default "psnr": disables psycho-visual tools that
trade PSNR for texture, since regenerated spikes follow the decoded luminance, not its look).

Decoding uses one thread; HEVC decoding is bit-exact by specification anyway.
x265's own log is silenced (``log-level=none``) and its SEI banner (encoder version and
settings, ~1-2 kB per stream) is switched off (``info=0``), as is the picture hash SEI.
"""

from __future__ import annotations

import fractions
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
    optional_module,
    pad_plane,
    quality_setting,
    require_module,
    seal,
    to_uint,
    unseal,
)
from spkc.codecs.base import EncodeContext, Payloads, SceneCodec
from spkc.errors import CodecUnavailableError

QP_FOR_QUALITY = {1: 44, 2: 40, 3: 36, 4: 32, 5: 28, 6: 24, 7: 20, 8: 16}
_PIX_FMT = {8: "gray", 10: "gray10le"}
_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
            "slower", "veryslow", "placebo")
_TUNES = ("psnr", "ssim", "grain", "fastdecode", "zerolatency", "none")
_BLOCK = 8
_MIN_SIZE = 16  # libx265 refuses pictures smaller than 16 px in either dimension


class HevcCodec(SceneCodec):
    """HEVC (x265) all-intra coding of each scene, one independent stream per scene."""

    name: ClassVar[str] = "hevc"
    version: ClassVar[str] = "1"
    qualities: ClassVar[tuple[int, ...]] = tuple(QP_FOR_QUALITY)
    default_quality: ClassVar[int] = 4

    def __init__(self, quality: int | None = None, device: str = "cpu", **options: Any) -> None:
        super().__init__(quality, device, **options)
        self.bit_depth: int = option_choice("hevc", options, "bit_depth", tuple(_PIX_FMT), 10)
        self.qp: int = quality_setting("hevc", options, "qp", QP_FOR_QUALITY, self.quality,
                                       lo=0, hi=51, integer=True)
        self.preset: str = option_choice("hevc", options, "preset", _PRESETS, "medium")
        self.tune: str = option_choice("hevc", options, "tune", _TUNES, "psnr")

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        av, reason = optional_module("av")
        if av is None:
            return False, reason
        try:
            enc = av.codec.Codec("libx265", "w")
            av.codec.Codec("hevc", "r")
        except Exception as exc:  # av raises UnknownCodecError / ValueError by version
            return False, f"this PyAV build lacks libx265 or the hevc decoder ({exc})"
        formats = {f.name for f in (enc.video_formats or ())}
        if not {"gray", "gray10le"} <= formats:
            return False, "this PyAV build's libx265 cannot code gray / gray10le"
        return True, ""

    def _x265_params(self) -> str:
        params = [
            "log-level=none", f"qp={self.qp}", "keyint=1", "min-keyint=1", "bframes=0",
            "info=0", "hash=0", "frame-threads=1", "repeat-headers=1",
        ]
        return ":".join(params)

    def _encode_one(self, av: Any, plane: np.ndarray) -> bytes:
        plane = pad_plane(plane, _BLOCK, _MIN_SIZE)
        h, w = plane.shape
        fmt = _PIX_FMT[self.bit_depth]
        ctx = av.CodecContext.create("libx265", "w")
        ctx.width, ctx.height, ctx.pix_fmt = w, h, fmt
        ctx.time_base = fractions.Fraction(1, 1)
        opts = {"preset": self.preset, "x265-params": self._x265_params()}
        if self.tune != "none":
            opts["tune"] = self.tune
        ctx.options = opts
        frame = av.VideoFrame.from_ndarray(plane, format=fmt)
        frame.pts = 0
        try:
            packets = list(ctx.encode(frame)) + list(ctx.encode(None))
        except Exception as exc:  # av.error.* from avcodec_open2 / send_frame
            raise CodecUnavailableError(f"hevc: libx265 failed to encode a {h}x{w} "
                                        f"picture: {exc}") from exc
        data = b"".join(bytes(p) for p in packets)
        if not data:
            raise CodecUnavailableError("hevc: libx265 produced no bitstream")
        return data

    def encode(self, scenes: np.ndarray, context: EncodeContext | None = None) -> list[Payloads]:
        """Scenes (N, H, W) float32 in [0, 1] -> N payload sets ``{"img": HEVC Annex B}``."""
        arr = check_scenes(scenes, self.name)
        av = require_module("av", "hevc")
        planes = to_uint(arr, self.bit_depth)
        return [{"img": seal(self._encode_one(av, plane))} for plane in planes]

    def _decode_one(self, av: Any, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        ctx = av.CodecContext.create("hevc", "r")
        ctx.thread_count = 1
        try:
            frames = list(ctx.decode(av.Packet(data))) + list(ctx.decode(None))
        except Exception as exc:  # av.error.InvalidDataError and friends
            raise corrupt(self.name, "cannot decode HEVC bitstream", exc) from exc
        if len(frames) != 1:
            raise corrupt(self.name, f"HEVC bitstream holds {len(frames)} pictures, expected 1")
        frame = frames[0]
        expected = _PIX_FMT[self.bit_depth]
        if frame.format.name != expected:
            raise corrupt(self.name, f"decoded picture is {frame.format.name}, "
                                     f"expected {expected}")
        plane = frame.to_ndarray()
        return check_plane(plane, shape, self.bit_depth, self.name)

    def decode(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """N payload sets -> scenes (N, H, W) float32 in [0, 1]."""
        h, w = check_shape(shape, self.name)
        av = require_module("av", "hevc")
        out = np.empty((len(payloads), h, w), np.float32)
        for i, payload in enumerate(payloads):
            data = unseal(get_payload(payload, "img", self.name), self.name)
            out[i] = from_uint(self._decode_one(av, data, (h, w)), self.bit_depth)
        return out
