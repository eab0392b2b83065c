"""The learned scene codec's payload framing: each scene is ``{"z", "y", "meta"}`` bytes;
``meta`` is ``META`` = magic ``LSC1``, height, width (uint16) and a CRC-32C of the decoded
symbols, so a corrupted or desynchronised stream is detected instead of decoded wrongly."""

from __future__ import annotations

import struct
from collections.abc import Mapping

import crc32c
import numpy as np

from spkc.errors import SceneCorruptError

META = struct.Struct("<4sHHI")
MAGIC = b"LSC1"


def pack_meta(h: int, w: int, crc: int) -> bytes:
    """The meta record of an (h, w) scene whose symbols have CRC-32C ``crc``."""
    return META.pack(MAGIC, h, w, crc)


def words(b: bytes) -> np.ndarray:
    """A coded stream's bytes -> uint32 words (little-endian; constriction's unit)."""
    if not isinstance(b, (bytes, bytearray, memoryview)) or len(b) % 4:
        raise ValueError("stream length is not a multiple of 4 bytes")
    return np.frombuffer(bytes(b), dtype=np.uint32).copy()


def parse_meta(p: Mapping[str, bytes], n: int) -> tuple[int, int, int]:
    """(height, width, crc) of payload set ``p``, scene ``n`` of its batch (for errors)."""
    try:
        magic, h, w, crc = META.unpack(p["meta"])
    except (KeyError, TypeError, struct.error) as exc:
        raise SceneCorruptError(f"scene payload has no valid meta record ({exc})",
                                scene=n) from exc
    if magic != MAGIC or h == 0 or w == 0:
        raise SceneCorruptError("scene payload meta record is damaged", scene=n)
    return h, w, crc


def symbols_crc(h: int, w: int, z_sym: np.ndarray, y_sym: np.ndarray) -> int:
    """CRC-32C over the scene shape and all symbols (int16 little-endian, z then y)."""
    crc = crc32c.crc32c(struct.pack("<HH", h, w))
    crc = crc32c.crc32c(np.asarray(z_sym).astype("<i2").tobytes(), crc)
    return crc32c.crc32c(y_sym.astype("<i2").tobytes(), crc)
