"""``hevc``: HEVC coding of scenes through PyAV's libx265, decoded by FFmpeg's hevc.

With ``gop=1`` (all-intra) each scene is its own one-frame HEVC stream (Annex B: VPS, SPS,
PPS, one IDR slice), so every payload decodes alone: random access touches only the scenes it
needs. With ``gop=G > 1`` scenes are coded in groups of G: one low-delay HEVC stream per
group (an IDR key scene with the parameter sets, then P pictures, no B pictures, no scene-cut
key pictures), split into one packet per scene (see :mod:`spkc.codecs._video`); scene j of a
group decodes from the packets 0..j of its group. Inter files carry bitstream version "2"
so an install that only knows intra hevc refuses them by name. Payload
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
(x265 preset, default "medium"), ``gop`` (scenes per group, default 1 = all-intra),
``tune`` (default "psnr": disables psycho-visual tools that
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
    pad_plane,
    quality_setting,
    require_module,
    seal,
    to_uint,
    unseal,
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
from spkc.errors import CodecUnavailableError, SceneCorruptError

QP_FOR_QUALITY = {1: 44, 2: 40, 3: 36, 4: 32, 5: 28, 6: 24, 7: 20, 8: 16}
_PIX_FMT = {8: "gray", 10: "gray10le"}
_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
            "slower", "veryslow", "placebo")
_TUNES = ("psnr", "ssim", "grain", "fastdecode", "zerolatency", "none")
_BLOCK = 8
_MIN_SIZE = 16  # libx265 refuses pictures smaller than 16 px in either dimension


class HevcCodec(InterSceneCodec):
    """HEVC (x265) coding: all-intra (``gop=1``) or low-delay P groups of ``gop`` scenes."""

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
        if self.group_length > 1:
            # P scenes do not decode alone: a reader that only knows intra hevc must refuse
            self.version = "2"

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        return video_availability("libx265", "hevc", "the hevc decoder",
                                  tuple(_PIX_FMT.values()))

    def _x265_params(self, keyint: int = 1) -> str:
        params = [
            "log-level=none", f"qp={self.qp}", f"keyint={keyint}", f"min-keyint={keyint}",
            "bframes=0", "info=0", "hash=0", "frame-threads=1", "repeat-headers=1",
        ]
        if keyint > 1:  # exactly one key picture per group, wherever the content cuts
            params += ["scenecut=0", "open-gop=0"]
        return ":".join(params)

    def _encoder(self, av: Any, h: int, w: int, keyint: int = 1) -> Any:
        ctx = av.CodecContext.create("libx265", "w")
        ctx.width, ctx.height, ctx.pix_fmt = w, h, _PIX_FMT[self.bit_depth]
        ctx.time_base = fractions.Fraction(1, 1)
        opts = {"preset": self.preset, "x265-params": self._x265_params(keyint)}
        if self.tune != "none":
            opts["tune"] = self.tune
        ctx.options = opts
        return ctx

    def _encode_one(self, av: Any, plane: np.ndarray) -> bytes:
        plane = pad_plane(plane, _BLOCK, _MIN_SIZE)
        h, w = plane.shape
        fmt = _PIX_FMT[self.bit_depth]
        ctx = self._encoder(av, h, w)
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

    def encode_group(self, scenes: np.ndarray,
                     context: EncodeContext | None = None) -> list[Payloads]:
        """One group (n, H, W) float32 in [0, 1] -> n payload sets ``{"img": HEVC packet}``."""
        arr = check_scenes(scenes, self.name)
        av = require_module("av", "hevc")
        planes = to_uint(arr, self.bit_depth)
        if self.group_length == 1:
            return [{"img": seal(self._encode_one(av, plane))} for plane in planes]
        padded = [pad_plane(p, _BLOCK, _MIN_SIZE) for p in planes]
        h, w = padded[0].shape
        ctx = self._encoder(av, h, w, keyint=self.group_length)
        frames = []
        for i, plane in enumerate(padded):
            frame = av.VideoFrame.from_ndarray(plane, format=_PIX_FMT[self.bit_depth])
            frame.pts = i
            frames.append(frame)
        return [{"img": seal(p)} for p in encode_frames(ctx, frames, self.name)]

    def _read(self, frame: Any) -> np.ndarray:
        return check_format(frame, _PIX_FMT[self.bit_depth], self.name).to_ndarray()

    def decode_group(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """Payload sets of a group prefix -> scenes (n, H, W) float32 in [0, 1]."""
        if self.group_length == 1:
            return self.decode(payloads, shape)
        h, w = check_shape(shape, self.name)
        av = require_module("av", "hevc")
        packets = unseal_group(payloads, self.name)
        planes = decode_packets(av, "hevc", packets, self.name, self._read)
        return planes_to_scenes(planes, (h, w), self.bit_depth, self.name)

    def _decode_one(self, av: Any, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        ctx = av.CodecContext.create("hevc", "r")
        ctx.thread_count = 1
        try:
            frames = list(ctx.decode(av.Packet(data))) + list(ctx.decode(None))
        except Exception as exc:  # av.error.InvalidDataError and friends
            raise corrupt(self.name, "cannot decode HEVC bitstream", exc) from exc
        if len(frames) != 1:
            raise corrupt(self.name, f"HEVC bitstream holds {len(frames)} pictures, expected 1")
        plane = self._read(frames[0])
        return check_plane(plane, shape, self.bit_depth, self.name)

    def decode(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """N payload sets (consecutive groups) -> scenes (N, H, W) float32 in [0, 1]."""
        if self.group_length > 1:
            return super().decode(payloads, shape)
        h, w = check_shape(shape, self.name)
        av = require_module("av", "hevc")
        out = np.empty((len(payloads), h, w), np.float32)
        for i, payload in enumerate(payloads):
            try:
                data = unseal(get_payload(payload, "img", self.name), self.name)
                out[i] = from_uint(self._decode_one(av, data, (h, w)), self.bit_depth)
            except SceneCorruptError as exc:
                exc.scene = i  # the first scene (of a group or batch) that fails
                raise
        return out
