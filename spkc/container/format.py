"""Byte-level building blocks of the .spkc format (see spec/spkc.md): preamble, varints, chunks.

Everything here works on ``bytes``; nothing knows about codecs. Parsing helpers raise the private
:class:`Malformed`, which the reader turns into a :class:`spkc.SpkcError` naming the file (and the
scene) -- it never escapes the package.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import crc32c
import zstandard

# -- file preamble --------------------------------------------------------------------------------
#: PNG-style signature: a high-bit byte (catches 7-bit transports), the name, CR LF (catches
#: newline conversion), ^Z (stops `type` on DOS), LF.
SIGNATURE = b"\x89SPKC\r\n\x1a"  # 8 bytes
VERSION_MAJOR = 1
VERSION_MINOR = 0
PREAMBLE_SIZE = 16  # signature(8) major(u16) minor(u16) crc32c(u32)

# -- chunk types --------------------------------------------------------------------------------
# PNG convention: first letter upper case = critical (a reader must understand it), lower case =
# ancillary (a reader may skip it).
T_HEADER = b"SPKH"
T_KEYS = b"PKEY"
T_SCENE = b"SCNE"
T_META = b"meta"
T_INDEX = b"sidx"
T_END = b"SEND"
#: format 1.1, ancillary: one block of the exact layer (spec/exact.md, 7) and their index
T_XBLOCK = b"xblk"
T_XINDEX = b"xidx"
KNOWN_TYPES = (T_HEADER, T_KEYS, T_SCENE, T_META, T_INDEX, T_END, T_XBLOCK, T_XINDEX)

MAX_VARINT_BYTES = 9  # values < 2**63
#: smallest possible SCNE chunk: type(4) len(1) scene_index(1) descriptor(1) crc(4)
MIN_SCENE_CHUNK = 11
END_BODY_SIZE = 32  # index_offset, num_scenes, num_frames, payload_bytes: u64 each
END_CHUNK_SIZE = 4 + 1 + END_BODY_SIZE + 4
#: upper bound on decompressed JSON blobs (header, metadata); bounds memory on hostile input.
MAX_JSON_BYTES = 16 << 20
#: JSON blobs at least this long are zstd-compressed when that makes them smaller.
COMPRESS_THRESHOLD = 512

# scene descriptor bits
DESC_HAS_NUM_FRAMES = 1
DESC_LOST = 2
DESC_KEYSET_SHIFT = 2

#: xblk descriptor bit: the block was lost before a repair (placeholder, no payload)
XBLK_LOST = 1

BLOB_RAW = 0
BLOB_ZSTD = 1


class Malformed(Exception):
    """Internal: bytes that do not parse. Always converted to a SpkcError before leaving."""


def is_critical(ctype: bytes) -> bool:
    return 65 <= ctype[0] <= 90


def valid_type(ctype: bytes) -> bool:
    return len(ctype) == 4 and all(65 <= c <= 90 or 97 <= c <= 122 for c in ctype)


# -- preamble -------------------------------------------------------------------------------------
def make_preamble(major: int = VERSION_MAJOR, minor: int = VERSION_MINOR) -> bytes:
    head = SIGNATURE + struct.pack("<HH", major, minor)
    return head + struct.pack("<I", crc32c.crc32c(head))


def parse_preamble(buf: bytes) -> tuple[int, int]:
    """-> (major, minor); raises Malformed with a reason."""
    if len(buf) < PREAMBLE_SIZE:
        raise Malformed(f"file is {len(buf)} bytes, shorter than the {PREAMBLE_SIZE}-byte preamble")
    if buf[:8] != SIGNATURE:
        raise Malformed("no .spkc signature (not a .spkc file, or its first bytes are damaged)")
    (crc,) = struct.unpack_from("<I", buf, 12)
    if crc32c.crc32c(buf[:12]) != crc:
        raise Malformed("preamble checksum mismatch (version field damaged)")
    major, minor = struct.unpack_from("<HH", buf, 8)
    return major, minor


# -- varints (unsigned LEB128) -------------------------------------------------------------------
def uvarint(value: int) -> bytes:
    if value < 0 or value >= 1 << 63:
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_uvarint(buf: bytes | memoryview, pos: int, end: int | None = None) -> tuple[int, int]:
    """Decode one varint at ``pos`` (not past ``end``) -> (value, next position)."""
    end = len(buf) if end is None else end
    value = 0
    shift = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= end:
            raise Malformed("varint runs past the end of its field")
        b = buf[pos + i]
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            if i and b == 0:
                raise Malformed("varint is not minimally encoded")
            return value, pos + i + 1
        shift += 7
    raise Malformed(f"varint longer than {MAX_VARINT_BYTES} bytes")


# -- chunks ----------------------------------------------------------------------------------------
def chunk_head(ctype: bytes, length: int) -> bytes:
    return ctype + uvarint(length)


def make_chunk(ctype: bytes, data: bytes) -> bytes:
    head = chunk_head(ctype, len(data))
    crc = crc32c.crc32c(data, crc32c.crc32c(head))
    return head + data + struct.pack("<I", crc)


def parse_chunk_head(buf: bytes | memoryview, avail: int) -> tuple[bytes, int, int]:
    """Parse type + length from the first bytes of a chunk.

    ``buf`` holds at least min(14, avail) bytes from the chunk start; ``avail`` is how many file
    bytes remain from there. -> (type, head length, data length); raises Malformed if the chunk
    cannot fit.
    """
    if avail < 4 + 1 + 4:
        raise Malformed("truncated chunk (fewer than 9 bytes left)")
    ctype = bytes(buf[:4])
    if not valid_type(ctype):
        raise Malformed(f"invalid chunk type {ctype!r}")
    length, hlen = read_uvarint(buf, 4, min(len(buf), avail))
    if hlen + length + 4 > avail:
        raise Malformed(
            f"chunk {ctype.decode('ascii')} claims {length} data bytes but only "
            f"{max(avail - hlen - 4, 0)} remain in the file"
        )
    return ctype, hlen, length


def check_chunk_crc(chunk: bytes | memoryview, hlen: int, length: int) -> bool:
    """True if the CRC-32C stored after the data matches type+length+data."""
    (stored,) = struct.unpack_from("<I", chunk, hlen + length)
    return crc32c.crc32c(chunk[: hlen + length]) == stored


# -- JSON blobs (header, metadata) ----------------------------------------------------------------
def encode_json_blob(obj: Any, compress_threshold: int = COMPRESS_THRESHOLD) -> bytes:
    """u8 method (0 raw, 1 zstd) + UTF-8 JSON (compact, NaN/inf rejected by the caller)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    raw = text.encode("utf-8")
    if len(raw) >= compress_threshold:
        packed = zstandard.ZstdCompressor(level=19).compress(raw)
        if len(packed) < len(raw):
            return bytes([BLOB_ZSTD]) + packed
    return bytes([BLOB_RAW]) + raw


def bounded_zstd_decompress(data: bytes, limit: int) -> bytes:
    """Decompress one zstd frame, refusing output beyond ``limit`` bytes (zip-bomb guard)."""
    try:
        declared = zstandard.frame_content_size(data)
        if declared > limit:
            raise Malformed(f"zstd frame declares {declared} bytes, more than the {limit} allowed")
        dctx = zstandard.ZstdDecompressor()
        if declared >= 0:
            out = dctx.decompress(data)
        else:
            out = dctx.decompress(data, max_output_size=limit)
        if len(out) > limit:
            raise Malformed(f"zstd data expands beyond {limit} bytes")
        return out
    except zstandard.ZstdError as exc:
        raise Malformed(f"zstd data is damaged ({exc})") from None


def decode_json_blob(data: bytes, what: str) -> Any:
    if not data:
        raise Malformed(f"{what} is empty")
    method = data[0]
    body = data[1:]
    if method == BLOB_ZSTD:
        body = bounded_zstd_decompress(body, MAX_JSON_BYTES)
    elif method != BLOB_RAW:
        raise Malformed(f"{what} uses unknown compression method {method}")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Malformed(f"{what} is not valid UTF-8 JSON ({type(exc).__name__})") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def is_finite_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
