"""Motion-compensated interpolation between two decoded scenes, in integer arithmetic
(spec/regeneration.md, "Motion-compensated interpolation").

A :class:`MotionField` describes one scene pair (a, a+1): a grid of ``block`` x ``block``
pixel blocks, each with a vector ``(vy, vx)`` in quarter pixels (where content at the pair's
grid position moves from scene a to scene a+1) and a blend mode (the encoder's occlusion
choice: 0 blends linearly in time, 1 leans on scene a, 2 on scene a+1). For a frame whose
linear blend weight is ``w`` (Q15), pixel p samples scene a at ``p - (w/2^15) v`` and scene
a+1 at ``p + (1 - w/2^15) v`` by fixed-point bilinear interpolation (1/64 pixel, replicated
border) and blends them with its mode's integer weight of scene a+1: ``w``, ``w^2`` or
``2w - w^2`` (in Q15) -- every mode shows scene a exactly at its own time and scene a+1 at
its own. Every step is integer arithmetic, so
numpy and torch, any device, give identical luminance; the all-zero field with mode 0 is the
linear blend bit for bit.

The field travels as a payload named ``~motion`` in scene a's payload set
(:func:`encode_motion` / :func:`decode_motion`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from spkc.errors import SceneCorruptError

#: payload name of a scene's motion side information; scene codecs never see it
MOTION_PAYLOAD = "~motion"
#: payload names starting with this character belong to the pipeline, not to the scene codec
RESERVED_PREFIX = "~"
MOTION_VERSION = 1
#: fractional bits of sampling positions (1/64 pixel)
POS_BITS = 6
#: vectors are in units of 1/2**VEC_BITS pixel (quarter pixels)
VEC_BITS = 2
WEIGHT_BITS = 15
#: largest |vector component| a decoder accepts, quarter pixels (1024 pixels)
MAX_VECTOR = 4096
MODES = (0, 1, 2)
_HEAD = struct.Struct("<BBHH")  # version, block, rows, cols


@dataclass(frozen=True)
class MotionField:
    """Block motion of one scene pair.

    block: block side, pixels (4..255). vy, vx: (rows, cols) int16 vectors in quarter pixels,
    rows = ceil(H / block), cols = ceil(W / block). mode: (rows, cols) uint8 in {0, 1, 2}.
    """

    block: int
    vy: np.ndarray
    vx: np.ndarray
    mode: np.ndarray

    @property
    def grid(self) -> tuple[int, int]:
        return (int(self.vy.shape[0]), int(self.vy.shape[1]))

    def is_identity(self) -> bool:
        return not (self.vy.any() or self.vx.any() or self.mode.any())

    def pixel_maps(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-pixel (vy, vx, mode) as (H, W) int64: each pixel takes its block's values."""
        rows = np.arange(height) // self.block
        cols = np.arange(width) // self.block
        pick = np.ix_(rows, cols)
        return (self.vy.astype(np.int64)[pick], self.vx.astype(np.int64)[pick],
                self.mode.astype(np.int64)[pick])


def grid_shape(height: int, width: int, block: int) -> tuple[int, int]:
    return (-(-int(height) // int(block)), -(-int(width) // int(block)))


def identity_field(height: int, width: int, block: int = 16) -> MotionField:
    rows, cols = grid_shape(height, width, block)
    z = np.zeros((rows, cols), np.int16)
    return MotionField(int(block), z, z.copy(), np.zeros((rows, cols), np.uint8))


# -- side information ----------------------------------------------------------------------------
def _zigzag(d: np.ndarray) -> np.ndarray:
    return np.where(d >= 0, 2 * d, -2 * d - 1).astype(np.uint16)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.int64)
    return np.where(z & 1, -((z + 1) >> 1), z >> 1)


def encode_motion(field: MotionField, level: int = 19) -> bytes:
    """Side information of a field: a 6-byte head (version u8, block u8, rows u16, cols u16)
    then zstd of ``lo(zy) lo(zx) hi(zy) hi(zx) mode`` (n bytes each, n = rows*cols, raster
    order): ``zy``/``zx`` are the zigzag-coded (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...)
    differences of consecutive vy / vx (the first against 0), split into low and high bytes
    so that zstd sees the mostly-zero high bytes as one run."""
    import zstandard

    rows, cols = field.grid
    vy = field.vy.astype(np.int64).ravel()
    vx = field.vx.astype(np.int64).ravel()
    if max(int(np.abs(vy).max(initial=0)), int(np.abs(vx).max(initial=0))) > MAX_VECTOR:
        raise ValueError(f"motion vector beyond +-{MAX_VECTOR} quarter pixels")
    zy = _zigzag(np.diff(vy, prepend=0))
    zx = _zigzag(np.diff(vx, prepend=0))
    planes = [zy & 0xFF, zx & 0xFF, zy >> 8, zx >> 8]
    body = b"".join(p.astype(np.uint8).tobytes() for p in planes) + \
        field.mode.astype(np.uint8).ravel().tobytes()
    return _HEAD.pack(MOTION_VERSION, int(field.block), rows, cols) + \
        zstandard.ZstdCompressor(level=level).compress(body)


def decode_motion(data: bytes, height: int, width: int, scene: int | None = None) -> MotionField:
    """Parse ``~motion`` side information for an H x W clip; damage -> SceneCorruptError."""
    import zstandard

    def bad(why: str) -> SceneCorruptError:
        where = "" if scene is None else f"scene {scene}: "
        return SceneCorruptError(f"{where}motion side information {why}", scene=scene)

    if len(data) < _HEAD.size:
        raise bad("is truncated")
    version, block, rows, cols = _HEAD.unpack_from(data)
    if version != MOTION_VERSION:
        raise bad(f"has unknown version {version}")
    if block < 4:
        raise bad(f"has block size {block} (< 4)")
    if (rows, cols) != grid_shape(height, width, block):
        raise bad(f"grid {rows}x{cols} does not fit a {height}x{width} frame in "
                  f"{block}-pixel blocks")
    n = rows * cols
    want = 5 * n
    try:
        body = zstandard.ZstdDecompressor().decompressobj().decompress(data[_HEAD.size:])
    except zstandard.ZstdError as exc:
        raise bad(f"does not decompress ({exc})") from None
    if len(body) != want:
        raise bad(f"holds {len(body)} bytes, expected {want}")
    b = np.frombuffer(body, np.uint8).astype(np.int64)
    vy = np.cumsum(_unzigzag(b[:n] | (b[2 * n:3 * n] << 8)))
    vx = np.cumsum(_unzigzag(b[n:2 * n] | (b[3 * n:4 * n] << 8)))
    mode = b[4 * n:].astype(np.uint8)
    if np.abs(vy).max(initial=0) > MAX_VECTOR or np.abs(vx).max(initial=0) > MAX_VECTOR:
        raise bad(f"holds a vector beyond +-{MAX_VECTOR} quarter pixels")
    if mode.max(initial=0) > 2:
        raise bad(f"holds blend mode {int(mode.max())} (known: 0, 1, 2)")
    return MotionField(int(block), vy.reshape(rows, cols).astype(np.int16),
                       vx.reshape(rows, cols).astype(np.int16),
                       mode.reshape(rows, cols).astype(np.uint8))


def split_payloads(payloads: dict[str, bytes]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(codec payloads, pipeline payloads): names starting with ``~`` go to the pipeline."""
    codec = {k: v for k, v in payloads.items() if not k.startswith(RESERVED_PREFIX)}
    own = {k: v for k, v in payloads.items() if k.startswith(RESERVED_PREFIX)}
    return codec, own


# -- warp (numpy) --------------------------------------------------------------------------------
def mode_weights(mode: np.ndarray, w: int) -> np.ndarray:
    """Q15 weight of scene a+1 per blend mode (int64, like ``mode``) at linear weight ``w``:
    mode 0 ``w``; mode 1 ``(w*w) >> 15`` (scene a kept longer: content scene a+1 does not
    show); mode 2 ``2w - ((w*w) >> 15)`` (scene a+1 sooner). All are 0 at w = 0 and 2^15 at
    w = 2^15."""
    w = int(w)
    sq = (w * w) >> WEIGHT_BITS
    return np.array([w, sq, 2 * w - sq], np.int64)[np.asarray(mode, np.int64)]



def _sample(L: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Fixed-point bilinear sample of integer image L (H, W) at positions y, x in 1/64 pixel
    (int64 arrays); outside positions replicate the border. Returns int64 (rounded)."""
    H, W = L.shape
    one = 1 << POS_BITS
    y0 = y >> POS_BITS
    x0 = x >> POS_BITS
    fy = y & (one - 1)
    fx = x & (one - 1)
    ya = np.clip(y0, 0, H - 1)
    yb = np.clip(y0 + 1, 0, H - 1)
    xa = np.clip(x0, 0, W - 1)
    xb = np.clip(x0 + 1, 0, W - 1)
    top = L[ya, xa] * (one - fx) + L[ya, xb] * fx
    bot = L[yb, xa] * (one - fx) + L[yb, xb] * fx
    return (top * (one - fy) + bot * fy + (1 << (2 * POS_BITS - 1))) >> (2 * POS_BITS)


class PairWarp:
    """Integer motion-compensated blend of one scene pair (numpy), for any number of frames.

    ``La``, ``Lb``: (H, W) integer luminance 0..65535 of scenes a and a+1; ``field``: their
    :class:`MotionField`. :meth:`luminance` gives the (H, W) int64 luminance for a Q15 weight.
    """

    def __init__(self, La: np.ndarray, Lb: np.ndarray, field: MotionField) -> None:
        self.La = np.asarray(La).astype(np.int64)
        self.Lb = np.asarray(Lb).astype(np.int64)
        H, W = self.La.shape
        self.vy, self.vx, mode = field.pixel_maps(H, W)
        self.mode = mode
        self.ry = (np.arange(H, dtype=np.int64) << POS_BITS)[:, None]
        self.rx = (np.arange(W, dtype=np.int64) << POS_BITS)[None, :]

    def luminance(self, w: int) -> np.ndarray:
        """Luminance (H, W) int64 0..65535 of the frame with Q15 blend weight ``w``."""
        shift = WEIGHT_BITS + VEC_BITS - POS_BITS
        wa, wb = int(w), (1 << WEIGHT_BITS) - int(w)
        A = _sample(self.La, self.ry - ((self.vy * wa) >> shift),
                    self.rx - ((self.vx * wa) >> shift))
        B = _sample(self.Lb, self.ry + ((self.vy * wb) >> shift),
                    self.rx + ((self.vx * wb) >> shift))
        return A + (((B - A) * mode_weights(self.mode, wa)) >> WEIGHT_BITS)


# -- warp (torch) --------------------------------------------------------------------------------
class PairWarpTorch:
    """Torch twin of :class:`PairWarp` (int64 on ``device``); identical results."""

    def __init__(self, La: Any, Lb: Any, field: MotionField, device: str = "cpu") -> None:
        import torch

        self.torch = torch
        self.La = torch.as_tensor(La, device=device).to(torch.int64)
        self.Lb = torch.as_tensor(Lb, device=device).to(torch.int64)
        H, W = self.La.shape
        vy, vx, mode = field.pixel_maps(H, W)
        self.vy = torch.as_tensor(vy, device=device)
        self.vx = torch.as_tensor(vx, device=device)
        self.mode = torch.as_tensor(mode, device=device)
        self.ry = (torch.arange(H, dtype=torch.int64, device=device) << POS_BITS)[:, None]
        self.rx = (torch.arange(W, dtype=torch.int64, device=device) << POS_BITS)[None, :]

    def _sample(self, L, y, x):
        torch = self.torch
        H, W = L.shape
        one = 1 << POS_BITS
        y0 = torch.bitwise_right_shift(y, POS_BITS)
        x0 = torch.bitwise_right_shift(x, POS_BITS)
        fy = torch.bitwise_and(y, one - 1)
        fx = torch.bitwise_and(x, one - 1)
        ya, yb = y0.clamp(0, H - 1), (y0 + 1).clamp(0, H - 1)
        xa, xb = x0.clamp(0, W - 1), (x0 + 1).clamp(0, W - 1)
        top = L[ya, xa] * (one - fx) + L[ya, xb] * fx
        bot = L[yb, xa] * (one - fx) + L[yb, xb] * fx
        return torch.bitwise_right_shift(top * (one - fy) + bot * fy + (1 << (2 * POS_BITS - 1)),
                                         2 * POS_BITS)

    def luminance(self, w: int):
        torch = self.torch
        shift = WEIGHT_BITS + VEC_BITS - POS_BITS
        wa, wb = int(w), (1 << WEIGHT_BITS) - int(w)
        rs = torch.bitwise_right_shift
        A = self._sample(self.La, self.ry - rs(self.vy * wa, shift),
                         self.rx - rs(self.vx * wa, shift))
        B = self._sample(self.Lb, self.ry + rs(self.vy * wb, shift),
                         self.rx + rs(self.vx * wb, shift))
        wm = torch.as_tensor(mode_weights(np.arange(3), wa), device=self.mode.device)[self.mode]
        return A + rs((B - A) * wm, WEIGHT_BITS)
