"""``raw``: quantised scenes, predictive residuals and zstd -- core dependencies only.

Each scene is quantised to ``bits`` bits (round(x * (2**bits - 1))), predicted from its
neighbours, and the residuals are zstd-compressed. The integer plane is reproduced exactly,
so the decoded scene is ``q / (2**bits - 1)`` as float32: error at most half a step.

Quality -> bits: 1 -> 5, 2 -> 6, 3 -> 8, 4 -> 10 (option ``bits`` in 1..16 overrides it).

Predictors (the encoder keeps the one whose residuals a fast zstd pass compresses best; all
decode with vectorised cumulative sums, no per-pixel loop): 0 none, 1 left, 2 up, 3 planar
(left + up - upleft). Residuals are taken modulo 2**bits and zig-zag mapped, so they fit the
sample width; residuals wider than 8 bits are stored as a low-byte plane then a high-byte
plane (the high bytes are mostly zero and compress to almost nothing).

Payload ``{"img": header + zstd frame}``; header (little endian): magic ``b"SR"``, format
version u8 (=1), bits u8, predictor u8, height u16, width u16; the zstd frame carries its
content checksum, so damage is detected.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import zstandard

from spkc.codecs._image import (
    check_scenes,
    check_shape,
    corrupt,
    from_uint,
    get_payload,
    to_uint,
)
from spkc.codecs.base import EncodeContext, Payloads, SceneCodec
from spkc.errors import InputError

BITS_FOR_QUALITY = {1: 5, 2: 6, 3: 8, 4: 10}
_HEADER = struct.Struct("<2sBBBHH")
_MAGIC = b"SR"
_FORMAT = 1
PREDICTORS = {0: "none", 1: "left", 2: "up", 3: "planar"}


def _residuals(q: np.ndarray, predictor: int, bits: int) -> np.ndarray:
    """(H, W) integer plane -> residuals modulo 2**bits (int64) for ``predictor``."""
    r = q.astype(np.int64)
    # np.diff with prepend=0 makes the first row/column predicted from 0; the decoder's
    # cumulative sum inverts it exactly.
    if predictor in (1, 3):
        r = np.diff(r, axis=1, prepend=0)
    if predictor in (2, 3):
        r = np.diff(r, axis=0, prepend=0)
    return r & ((1 << bits) - 1)


def _reconstruct(res: np.ndarray, predictor: int, bits: int) -> np.ndarray:
    """Inverse of :func:`_residuals`: residuals (H, W) -> integer plane modulo 2**bits."""
    q = res.astype(np.int64)
    if predictor in (2, 3):
        q = np.cumsum(q, axis=0)
    if predictor in (1, 3):
        q = np.cumsum(q, axis=1)
    return q & ((1 << bits) - 1)


def _zigzag(r: np.ndarray, bits: int) -> np.ndarray:
    """Modular residuals in [0, 2**bits) -> signed in [-2**(bits-1), 2**(bits-1)) -> zig-zag."""
    half = 1 << (bits - 1)
    s = np.where(r >= half, r - (1 << bits), r)
    return np.where(s >= 0, 2 * s, -2 * s - 1)


def _unzigzag(z: np.ndarray, bits: int) -> np.ndarray:
    s = np.where(z & 1, -((z + 1) >> 1), z >> 1)
    return s & ((1 << bits) - 1)


def _pack(z: np.ndarray, bits: int) -> bytes:
    if bits <= 8:
        return z.astype(np.uint8).tobytes()
    z16 = z.astype(np.uint16)
    return (z16 & 0xFF).astype(np.uint8).tobytes() + (z16 >> 8).astype(np.uint8).tobytes()


def _unpack(data: bytes, bits: int, h: int, w: int) -> np.ndarray:
    n = h * w
    if bits <= 8:
        return np.frombuffer(data, np.uint8).reshape(h, w).astype(np.int64)
    planes = np.frombuffer(data, np.uint8).astype(np.int64)
    return (planes[:n] | (planes[n:] << 8)).reshape(h, w)


class RawSceneCodec(SceneCodec):
    """Lossless-at-``bits`` scene codec: quantise, predict, zstd. Needs no optional library.

    Options: ``bits`` (1..16, overrides the quality table), ``level`` (zstd level, default 9).
    """

    name: ClassVar[str] = "raw"
    version: ClassVar[str] = "1"
    qualities: ClassVar[tuple[int, ...]] = (1, 2, 3, 4)
    default_quality: ClassVar[int] = 3

    def __init__(self, quality: int | None = None, device: str = "cpu", **options: Any) -> None:
        super().__init__(quality, device, **options)
        if self.quality not in BITS_FOR_QUALITY and "bits" not in options:
            raise InputError(f"raw: quality must be one of {list(self.qualities)}, "
                             f"got {self.quality}")
        bits = options.get("bits", BITS_FOR_QUALITY.get(self.quality))
        if not isinstance(bits, int) or not 1 <= bits <= 16:
            raise InputError(f"raw: bits must be an integer in 1..16, got {bits!r}")
        level = options.get("level", 9)
        if not isinstance(level, int) or not 1 <= level <= 22:
            raise InputError(f"raw: zstd level must be an integer in 1..22, got {level!r}")
        self.bits = bits
        self.level = level

    def encode(self, scenes: np.ndarray, context: EncodeContext | None = None) -> list[Payloads]:
        """Scenes (N, H, W) float32 in [0, 1] -> N payload sets ``{"img": bytes}``."""
        arr = check_scenes(scenes, self.name)
        _, h, w = arr.shape
        if h > 0xFFFF or w > 0xFFFF:
            raise InputError(f"raw: scenes larger than 65535 px per side are not supported "
                             f"({h}x{w})")
        cctx = zstandard.ZstdCompressor(level=self.level, write_checksum=True)
        # The predictor is chosen by a fast zstd pass (level 1): it ranks the candidates
        # like the final level does, at a fraction of the cost of 4 full compressions.
        probe = zstandard.ZstdCompressor(level=1)
        out: list[Payloads] = []
        for q in to_uint(arr, self.bits):
            packed = [_pack(_zigzag(_residuals(q, p, self.bits), self.bits), self.bits)
                      for p in PREDICTORS]
            best = min(PREDICTORS, key=lambda p: len(probe.compress(packed[p])))
            header = _HEADER.pack(_MAGIC, _FORMAT, self.bits, best, h, w)
            out.append({"img": header + cctx.compress(packed[best])})
        return out

    def decode(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """N payload sets -> scenes (N, H, W) float32, exactly q / (2**bits - 1)."""
        h, w = check_shape(shape, self.name)
        out = np.empty((len(payloads), h, w), np.float32)
        dctx = zstandard.ZstdDecompressor()
        nbytes = h * w * (1 if self.bits <= 8 else 2)
        for i, payload in enumerate(payloads):
            data = get_payload(payload, "img", self.name)
            if len(data) < _HEADER.size:
                raise corrupt(self.name, f"payload of {len(data)} bytes is shorter than its "
                                         "header")
            magic, fmt, bits, pred, ph, pw = _HEADER.unpack_from(data)
            if magic != _MAGIC or fmt != _FORMAT:
                raise corrupt(self.name, "payload does not start with a raw-codec header")
            if bits != self.bits or pred not in PREDICTORS or (ph, pw) != (h, w):
                raise corrupt(self.name, f"payload header says {bits} bits, predictor {pred}, "
                                         f"{ph}x{pw}; expected {self.bits} bits, {h}x{w}")
            try:
                body = dctx.decompress(data[_HEADER.size:], max_output_size=nbytes)
            except zstandard.ZstdError as exc:
                raise corrupt(self.name, "zstd stream is damaged", exc) from exc
            if len(body) != nbytes:
                raise corrupt(self.name, f"residuals are {len(body)} bytes, expected {nbytes}")
            z = _unpack(body, self.bits, h, w)
            if int(z.max(initial=0)) >= (1 << self.bits):
                raise corrupt(self.name, f"residuals exceed {self.bits} bits")
            q = _reconstruct(_unzigzag(z, self.bits), pred, self.bits)
            out[i] = from_uint(q, self.bits)
        return out
