"""Streaming glue: compress, decompress and open .spkc files."""

from spkc.pipeline.clip import Clip, ClipReport, DecodeStats, open
from spkc.pipeline.compress import DEFAULT_FRAMES_PER_SCENE, CompressResult, compress
from spkc.pipeline.decompress import decompress
from spkc.pipeline.stream import StreamClip

__all__ = [
    "DEFAULT_FRAMES_PER_SCENE",
    "Clip",
    "ClipReport",
    "CompressResult",
    "DecodeStats",
    "StreamClip",
    "compress",
    "decompress",
    "open",
]
