"""Errors a user can meet. Every one is a :class:`SpkcError` naming the file and the problem."""

from __future__ import annotations

import os


class SpkcError(Exception):
    """Base of every error spkc raises on bad input, damaged files or missing resources.

    ``path`` is the file concerned (or ``None``); the message always names it when known.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.problem = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class InputError(SpkcError):
    """An input file is missing, unreadable, or not what its name or options say."""


class CorruptFileError(SpkcError):
    """A .spkc file (or part of it) is damaged: bad checksum, bad length, truncation."""


class UnfinishedFileError(CorruptFileError):
    """A .spkc file its writer did not finish (no end chunk: a crash or a cut copy). Its
    intact scenes are readable (``spkc.open``, ``spkc repair``); whole-file decoding refuses
    it unless asked to decode what is there."""


class SceneCorruptError(CorruptFileError):
    """One scene of a .spkc file cannot be decoded; ``scene`` is its index."""

    def __init__(self, message: str, path: str | os.PathLike | None = None,
                 scene: int | None = None) -> None:
        self.scene = scene
        super().__init__(message, path)


class BlockCorruptError(SceneCorruptError):
    """One block of a lossless (spike-stream) .spkc file cannot be decoded. ``block`` (also
    ``scene``, the container's name for the same chunk) is its index; ``frames`` its
    [first, stop) frame range."""

    def __init__(self, message: str, path: str | os.PathLike | None = None,
                 block: int | None = None, frames: tuple[int, int] | None = None) -> None:
        self.block = block
        self.frames = frames
        super().__init__(message, path, scene=block)


class UnsupportedVersionError(SpkcError):
    """A .spkc file uses a format major version (or critical feature) this reader lacks."""


class UnknownCodecError(SpkcError):
    """No scene codec (or reconstructor) of that name is registered."""


class CodecUnavailableError(SpkcError):
    """A scene codec is registered but cannot run here (missing library or binary)."""


class MissingWeightsError(SpkcError):
    """A file was made with learned weights this installation does not have."""


class OutputError(SpkcError):
    """An output file could not be written (disk full, permission, bad extension)."""
