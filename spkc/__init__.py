"""spkc: learned, scene-based compression of spike-camera streams.

Top level: :func:`open`, :func:`compress`, :func:`decompress` and the error types.
"""

from __future__ import annotations

from spkc._version import __version__
from spkc.errors import (
    CodecUnavailableError,
    CorruptFileError,
    InputError,
    MissingWeightsError,
    OutputError,
    SceneCorruptError,
    SpkcError,
    UnfinishedFileError,
    UnknownCodecError,
    UnsupportedVersionError,
)

__all__ = [
    "CodecUnavailableError",
    "CorruptFileError",
    "InputError",
    "MissingWeightsError",
    "OutputError",
    "SceneCorruptError",
    "SpkcError",
    "UnfinishedFileError",
    "UnknownCodecError",
    "UnsupportedVersionError",
    "__version__",
    "compress",
    "decompress",
    "open",
]


def __getattr__(name: str):
    # The pipeline imports torch and the codecs; keep `import spkc` cheap until they are used.
    if name in ("open", "compress", "decompress", "Clip"):
        from spkc import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'spkc' has no attribute {name!r}")
