"""Example spkc scene-codec plugin: each scene quantised to 8 bits and stored as raw bytes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spkc.codecs.base import EncodeContext, Payloads, SceneCodec
from spkc.errors import SceneCorruptError


class Demo8Codec(SceneCodec):
    """Scenes (N, H, W) float32 in [0, 1] -> one uint8 plane per scene, uncompressed."""

    name = "demo8"
    version = "1"
    qualities = (1,)
    default_quality = 1

    def encode(self, scenes: np.ndarray, context: EncodeContext | None = None) -> list[Payloads]:
        q = np.rint(np.clip(np.asarray(scenes, np.float32), 0, 1) * 255).astype(np.uint8)
        return [{"img": plane.tobytes()} for plane in q]

    def decode(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        h, w = shape
        out = np.empty((len(payloads), h, w), np.float32)
        for i, p in enumerate(payloads):
            data = p.get("img", b"")
            if len(data) != h * w:
                raise SceneCorruptError(f"demo8: payload is {len(data)} bytes, expected {h * w}")
            out[i] = np.frombuffer(data, np.uint8).reshape(h, w) / np.float32(255)
        return out
