"""Frame-range requests shared by the readers of a ``.spkc`` file.

:class:`spkc.pipeline.clip.Clip`, :class:`spkc.pipeline.stream.StreamClip` and the exact layer
(:class:`spkc.pipeline.exact_layer.ExactLayer`) all answer ``spikes(start, stop)`` and
``iter_spikes(block, start, stop)`` from pieces of decoded frames; this module holds the parts
they share: the range check, cutting block-coded frames to a request, assembling pieces and
re-blocking them, the description of the file they read, and the codec its header names.
Low level: numpy and :mod:`spkc.errors` (the codec registry only inside
:func:`codec_from_header`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from spkc.errors import InputError, SpkcError, UnsupportedVersionError


def codec_from_header(header, path: str, device: str) -> Any:
    """The codec ``header`` names, built from its config; SpkcError naming ``path`` when this
    install lacks it or decodes another bitstream version (identity is checked by the caller)."""
    from spkc.codecs import codec_from_config

    try:
        codec = codec_from_config(header.codec, dict(header.codec_config), device=device)
    except SpkcError as exc:
        if exc.path is None:  # name the file the user opened
            raise type(exc)(exc.problem, path) from exc
        raise
    if str(codec.version) != str(header.codec_version):
        raise UnsupportedVersionError(
            f"made with {header.codec} bitstream version {header.codec_version}; this install "
            f"decodes version {codec.version}", path)
    return codec


#: (first frame, spikes) pieces covering a request, in order
Parts = Iterable[tuple[int, np.ndarray]]


def frame_range(start: int | None, stop: int | None, num_frames: int,
                path: str) -> tuple[int, int]:
    """``start``/``stop`` (None: 0 / ``num_frames``) as ints; InputError naming ``path`` when
    [start, stop) is not within 0..num_frames."""
    T = num_frames
    start = 0 if start is None else int(start)
    stop = T if stop is None else int(stop)
    if start < 0 or stop > T or start > stop:
        raise InputError(f"frame range [{start}, {stop}) outside 0..{T}", path)
    return start, stop


def check_block(block: int, path: str) -> None:
    """InputError naming ``path`` unless ``block`` (frames per piece) is at least 1."""
    if block < 1:
        raise InputError(f"block must be >= 1, got {block}", path)


def iter_block_parts(start: int, stop: int, block_frames: int,
                     block_range: Callable[[int], tuple[int, int]],
                     block: Callable[[int], np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """(first frame, spikes) pieces covering [start, stop) of frames coded in blocks of
    ``block_frames``: ``block_range(k)`` is block k's [first, stop), ``block(k)`` its spikes."""
    if start >= stop:
        return
    B = block_frames
    for k in range(start // B, (stop - 1) // B + 1):
        first, end = block_range(k)
        lo, hi = max(start, first), min(stop, end)
        yield lo, block(k)[lo - first:hi - first]


def assemble(start: int, stop: int, height: int, width: int, parts: Parts) -> np.ndarray:
    """Frames [start, stop) as one (stop-start, H, W) bool array from ``parts``."""
    out = np.empty((stop - start, height, width), bool)
    for lo, part in parts:
        out[lo - start:lo - start + len(part)] = part
    return out


def iter_blocks(block: int | None, start: int, stop: int, parts: Parts,
                spikes: Callable[[int, int], np.ndarray], path: str) -> Iterator[np.ndarray]:
    """``iter_spikes`` of a block-coded reader: the coded pieces (``parts``) when ``block`` is
    None, else ``spikes(a, b)`` in pieces of ``block`` frames."""
    if block is None:
        for _, part in parts:
            yield part
        return
    check_block(block, path)
    for a in range(start, stop, block):
        yield spikes(a, min(a + block, stop))


class ReaderInfo:
    """Mixin: the description of a file read through a :class:`spkc.container.SpkcReader`
    (``header``, ``metadata``, ``shape``, sizes, ratio) and closing it. Needs ``_reader``."""

    _reader: Any

    def _open_reader(self, path: str | os.PathLike, device: str, batch_size: int,
                     conceal: bool) -> None:
        """Set ``path``, ``device``, ``batch_size``, ``conceal``, an empty ``concealed`` and
        open ``_reader`` (the host's ``__init__`` closes it when the rest of its setup fails)."""
        from spkc.container import SpkcReader

        self.path = os.fspath(path)
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self.conceal = bool(conceal)
        #: chunk -> (why it did not decode, what stands in for it); filled with ``conceal``
        self.concealed: dict[int, tuple[str, int]] = {}
        self._reader = SpkcReader(self.path)

    @property
    def header(self):
        """The file header (:class:`spkc.container.Header`)."""
        return self._reader.header

    @property
    def metadata(self) -> dict[str, Any]:
        return self._reader.metadata

    @property
    def shape(self) -> tuple[int, int, int]:
        """(T, H, W) of the decoded spike stream."""
        h = self._reader.header
        return (int(self._reader.num_frames), int(h.height), int(h.width))

    @property
    def complete(self) -> bool:
        """False when the file was not closed by its writer (recovered by forward scan)."""
        return bool(self._reader.complete)

    @property
    def file_bytes(self) -> int:
        return int(self._reader.file_size)

    @property
    def bits_per_spike_pixel(self) -> float:
        T, H, W = self.shape
        return self.file_bytes * 8 / max(T * H * W, 1)

    @property
    def ratio(self) -> float:
        """Compression ratio against 1 bit per spike-pixel raw."""
        T, H, W = self.shape
        return (T * H * W / 8) / max(self.file_bytes, 1)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
