"""Small helpers shared across layers (no spkc imports beyond errors)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from typing import Any

from spkc.errors import InputError


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
