"""Helpers shared by the conventional scene codecs.

Float scenes in [0, 1] <-> integer planes of 5..16 bits, edge padding to a block multiple,
validation of encoder input, options and decoded planes, lazy optional imports.
"""

from __future__ import annotations

import importlib
import struct
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import crc32c
import numpy as np

from spkc.errors import CodecUnavailableError, InputError, SceneCorruptError

#: install hint for the codecs that need optional libraries
CONVENTIONAL_EXTRA = "pip install spkc[conventional]"

MIN_SIZE = 8


def option_choice(codec: str, options: Mapping[str, Any], key: str, choices: Sequence[Any],
                  default: Any) -> Any:
    """``options[key]`` (or ``default``), which must be one of ``choices``."""
    value = options.get(key, default)
    if isinstance(value, bool) or value not in choices:
        raise InputError(f"{codec}: {key} must be one of {', '.join(map(str, choices))}, "
                         f"got {value!r}")
    return value


def option_number(codec: str, options: Mapping[str, Any], key: str, default: Any, *,
                  lo: float, hi: float = float("inf"), integer: bool = False,
                  lo_open: bool = False) -> Any:
    """``options[key]`` (or ``default``): an int (``integer``) or a number in [lo, hi]
    ((lo, hi] with ``lo_open``); bools are refused."""
    value = options.get(key, default)
    kinds = (int,) if integer else (int, float)
    ok = (not isinstance(value, bool) and isinstance(value, kinds)
          and (value > lo if lo_open else value >= lo) and value <= hi)
    if not ok:
        what = "an integer" if integer else "a number"
        bounds = (f"> {lo:g}" if lo_open else f">= {lo:g}") if hi == float("inf") \
            else f"in {lo:g}..{hi:g}"
        raise InputError(f"{codec}: {key} must be {what} {bounds}, got {value!r}")
    return value


def quality_setting(codec: str, options: Mapping[str, Any], key: str,
                    table: Mapping[int, Any], quality: int | None, **bounds: Any) -> Any:
    """The encoder setting ``key`` (e.g. QP): ``options[key]`` when given (checked with
    :func:`option_number` and ``bounds``), else ``table[quality]``."""
    if key in options:
        return option_number(codec, options, key, None, **bounds)
    if quality is not None and quality in table:
        return table[quality]
    raise InputError(f"{codec}: quality must be one of {list(table)}, got {quality}")


def optional_module(name: str) -> tuple[ModuleType | None, str]:
    """Import ``name`` if installed: (module, "") or (None, reason naming the extra)."""
    try:
        return importlib.import_module(name), ""
    except ImportError as exc:  # also covers a broken wheel (missing shared library)
        return None, f"python package {name!r} is not importable ({exc}); {CONVENTIONAL_EXTRA}"


def require_module(name: str, codec: str) -> ModuleType:
    """The optional module ``name``, or CodecUnavailableError saying why ``codec`` cannot run."""
    mod, reason = optional_module(name)
    if mod is None:
        raise CodecUnavailableError(f"codec {codec!r} cannot run here: {reason}")
    return mod


def check_scenes(scenes: np.ndarray, codec: str) -> np.ndarray:
    """Validate encoder input: (N, H, W) finite real array, H, W >= 8 -> float32 copy view.

    Values outside [0, 1] are clipped later by :func:`to_uint`; NaN/inf are refused because
    no integer code represents them.
    """
    arr = np.asarray(scenes)
    if arr.ndim != 3:
        raise InputError(f"{codec}: scenes must be (N, H, W), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{codec}: scenes must be real numbers, got dtype {arr.dtype}")
    n, h, w = arr.shape
    if h < MIN_SIZE or w < MIN_SIZE:
        raise InputError(f"{codec}: scenes must be at least {MIN_SIZE}x{MIN_SIZE}, got {h}x{w}")
    arr = arr.astype(np.float32, copy=False)
    if n and not np.isfinite(arr).all():
        raise InputError(f"{codec}: scenes contain NaN or infinite values")
    return arr


def check_shape(shape: tuple[int, int], codec: str) -> tuple[int, int]:
    """Validate a decode shape (H, W) -> tuple of two ints >= 8."""
    try:
        h, w = (int(v) for v in shape)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{codec}: decode shape must be (H, W), got {shape!r}") from exc
    if h < MIN_SIZE or w < MIN_SIZE:
        raise InputError(f"{codec}: decode shape must be at least {MIN_SIZE}x{MIN_SIZE}, "
                         f"got {h}x{w}")
    return h, w


def uint_dtype(bits: int) -> type[np.unsignedinteger]:
    """Smallest numpy dtype holding ``bits``-bit samples (uint8 up to 8 bits, else uint16)."""
    return np.uint8 if bits <= 8 else np.uint16


def to_uint(scenes: np.ndarray, bits: int) -> np.ndarray:
    """Float luminance (..., H, W) in [0, 1] -> integers round(x * (2**bits - 1)), clipped.

    Returns uint8 for bits <= 8, else uint16 (values < 2**bits, LSB-aligned).
    """
    top = (1 << bits) - 1
    q = np.rint(np.clip(scenes, 0.0, 1.0) * np.float32(top))
    return q.astype(uint_dtype(bits))


def from_uint(planes: np.ndarray, bits: int) -> np.ndarray:
    """Integer samples (..., H, W) of ``bits`` bits -> float32 q / (2**bits - 1) in [0, 1]."""
    return (planes.astype(np.float32) / np.float32((1 << bits) - 1)).astype(np.float32)


def padded_size(n: int, multiple: int) -> int:
    """``n`` rounded up to a multiple of ``multiple``."""
    return -(-n // multiple) * multiple


def pad_plane(plane: np.ndarray, multiple: int, minimum: int = 0) -> np.ndarray:
    """(H, W) plane -> (H', W'): multiples of ``multiple``, at least ``minimum``, edges replicated.

    Replicating the border (rather than zero fill) keeps the padded blocks smooth, so the
    padding costs few bits and does not ring into the visible area.
    """
    h, w = plane.shape
    ph = padded_size(max(h, minimum), multiple) - h
    pw = padded_size(max(w, minimum), multiple) - w
    if ph == 0 and pw == 0:
        return np.ascontiguousarray(plane)
    return np.pad(plane, ((0, ph), (0, pw)), mode="edge")


def check_plane(plane: np.ndarray, shape: tuple[int, int], bits: int, codec: str,
                exact: bool = False) -> np.ndarray:
    """Validate a decoded integer plane against the expected (H, W) and crop any padding.

    ``exact``: the plane must be exactly (H, W); otherwise it may be larger (padding) but
    must not exceed the padded size by a block (64 px). Samples >= 2**bits are corrupt.
    """
    h, w = shape
    if plane.ndim != 2:
        raise SceneCorruptError(f"{codec}: decoded image has shape {plane.shape}, not 2-D gray")
    ph, pw = plane.shape
    if (exact and (ph, pw) != (h, w)) or ph < h or pw < w or ph >= h + 64 or pw >= w + 64:
        raise SceneCorruptError(
            f"{codec}: decoded image is {ph}x{pw}, the file says the scene is {h}x{w}")
    plane = plane[:h, :w]
    if plane.size and int(plane.max()) >= (1 << bits):
        raise SceneCorruptError(f"{codec}: decoded samples exceed {bits} bits")
    return plane


def corrupt(codec: str, problem: str, exc: BaseException | None = None) -> SceneCorruptError:
    """A SceneCorruptError for one payload (the pipeline adds the file and scene index)."""
    detail = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return SceneCorruptError(f"{codec}: {problem}{detail}")


def get_payload(payload: object, key: str, codec: str) -> bytes:
    """``payload[key]`` as bytes; SceneCorruptError if the payload set lacks it."""
    if not isinstance(payload, dict) or key not in payload:
        raise corrupt(codec, f"payload set has no {key!r} stream")
    data = payload[key]
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise corrupt(codec, f"payload stream {key!r} is empty or not bytes")
    return bytes(data)


_CRC = struct.Struct("<I")


def seal(bitstream: bytes) -> bytes:
    """Prefix a codec bitstream with its CRC-32C (4 bytes, little endian).

    Image decoders conceal damage (FFmpeg's HEVC decoder returns a picture from half a
    slice); the checksum turns any damaged payload into a SceneCorruptError instead of a
    silently wrong scene, for 4 bytes per scene.
    """
    return _CRC.pack(crc32c.crc32c(bitstream)) + bitstream


def unseal(data: bytes, codec: str) -> bytes:
    """Check and strip the CRC-32C added by :func:`seal`; SceneCorruptError on mismatch."""
    if len(data) <= _CRC.size:
        raise corrupt(codec, f"payload of {len(data)} bytes is too short")
    (expected,) = _CRC.unpack_from(data)
    body = data[_CRC.size:]
    if crc32c.crc32c(body) != expected:
        raise corrupt(codec, "payload checksum mismatch (damaged bitstream)")
    return body
