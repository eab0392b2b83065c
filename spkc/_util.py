"""Small helpers shared across layers (no spkc imports beyond errors)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spkc.errors import InputError


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


#: suffix of a file stored as one zstd frame (read back by :func:`read_maybe_zstd`)
ZSTD_SUFFIX = ".zst"
#: largest decompressed size accepted (a bound against damaged or hostile frames)
MAX_DECOMPRESSED_BYTES = 256 << 20


def read_maybe_zstd(path: str | os.PathLike) -> bytes:
    """The content of ``path``: its bytes, or, for a name ending in ``.zst``, the bytes of the
    zstd frame it holds. Raises ``OSError`` (unreadable) or ``ValueError`` (not a valid frame)."""
    data = Path(path).read_bytes()
    if not str(path).endswith(ZSTD_SUFFIX):
        return data
    import zstandard

    try:
        return zstandard.ZstdDecompressor().decompress(
            data, max_output_size=MAX_DECOMPRESSED_BYTES)
    except zstandard.ZstdError as exc:
        raise ValueError(f"not a valid zstd frame: {exc}") from exc


def sha256_content(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's content (after zstd decompression for ``*.zst``): a file keeps
    its identity whether it is stored plain or compressed."""
    if not str(path).endswith(ZSTD_SUFFIX):
        return sha256_file(path)
    return hashlib.sha256(read_maybe_zstd(path)).hexdigest()


def parse_key_values(items: Iterable[str], what: str = "option") -> dict[str, Any]:
    """``["steps=10", "name=x.h5"]`` -> ``{"steps": 10, "name": "x.h5"}`` (JSON values when
    they parse, strings otherwise)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"{what} {item!r} is not KEY=VALUE")
        key, value = item.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
