"""PKU / Vidar ``.dat`` spike files.

Layout: frames back to back, no header; a frame is H*W bits; pixel i of a frame (row-major, rows
stored **bottom-up**) is bit ``i % 8`` (little-endian bit order) of byte ``i // 8``. Readers flip
the rows so that row 0 is the top of the image. Default frame size 250x400 (H x W).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from spkc.errors import InputError, OutputError
from spkc.io._common import (
    PathLike,
    SpikeWriter,
    as_spikes,
    check_block,
    check_frame_shape,
    check_input_file,
    check_range,
)

DEFAULT_HEIGHT = 250
DEFAULT_WIDTH = 400


def frame_bytes(height: int, width: int) -> int:
    """Bytes per .dat frame (H*W/8)."""
    return height * width // 8


def decode_frames(buf: np.ndarray, height: int, width: int) -> np.ndarray:
    """Raw .dat bytes (n*H*W/8,) uint8 -> (n, H, W) bool, rows flipped to top-down."""
    fb = frame_bytes(height, width)
    n = buf.size // fb
    if width % 8 == 0:
        # Rows are byte aligned: flip them at byte level, 8x less data than after unpacking.
        rows = buf.reshape(n, height, width // 8)[:, ::-1]
        bits = np.unpackbits(rows, axis=2, bitorder="little")
        return bits.view(np.bool_)
    bits = np.unpackbits(buf.reshape(n, fb), axis=1, bitorder="little")
    return np.ascontiguousarray(bits.reshape(n, height, width)[:, ::-1]).view(np.bool_)


def encode_frames(spikes: np.ndarray) -> bytes:
    """(n, H, W) bool -> raw .dat bytes (rows bottom-up, little-endian bit order)."""
    n, h, w = spikes.shape
    flipped = spikes[:, ::-1]
    if w % 8 == 0:
        return np.packbits(flipped, axis=2, bitorder="little").tobytes()
    return np.packbits(np.ascontiguousarray(flipped).reshape(n, h * w), axis=1,
                       bitorder="little").tobytes()


def dat_num_frames(path: PathLike, height: int = DEFAULT_HEIGHT, width: int = DEFAULT_WIDTH) -> int:
    """Number of frames in a .dat file; InputError if its size is not a whole number of frames."""
    h, w = check_frame_shape(height, width, path, need_bytes=True)
    size = check_input_file(path)
    fb = frame_bytes(h, w)
    if size % fb:
        raise InputError(
            f"file size {size} bytes is not a whole number of {h}x{w} frames "
            f"({fb} bytes per frame; {size // fb} frames and {size % fb} bytes left over) - "
            "wrong --height/--width or a truncated file?", path)
    return size // fb


def _read_exact(f, path: PathLike, nbytes: int) -> np.ndarray:
    buf = np.empty(nbytes, dtype=np.uint8)
    try:
        got = f.readinto(memoryview(buf))
    except OSError as exc:
        raise InputError(f"read failed: {exc.strerror or exc}", path) from exc
    if got != nbytes:
        raise InputError(f"file ended early: wanted {nbytes} bytes, got {got} "
                         "(was it truncated while reading?)", path)
    return buf


def _open_read(path: PathLike):
    try:
        return open(path, "rb")  # noqa: SIM115 - caller closes
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", path) from exc


def read_dat(path: PathLike, height: int = DEFAULT_HEIGHT, width: int = DEFAULT_WIDTH,
             start: int = 0, count: int | None = None) -> np.ndarray:
    """Read frames ``[start, start+count)`` of a .dat file -> (T, H, W) bool, row 0 = top.

    Only the bytes of the requested frames are read (seek). ``count=None`` reads to the end.
    """
    h, w = check_frame_shape(height, width, path, need_bytes=True)
    total = dat_num_frames(path, h, w)
    stop = None if count is None else int(start) + int(count)
    start, stop = check_range(start, stop, total, path)
    fb = frame_bytes(h, w)
    with _open_read(path) as f:
        f.seek(start * fb)
        buf = _read_exact(f, path, (stop - start) * fb)
    return decode_frames(buf, h, w)


def iter_dat(path: PathLike, height: int = DEFAULT_HEIGHT, width: int = DEFAULT_WIDTH,
             block: int = 256, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
    """Yield (n, H, W) bool blocks of at most ``block`` frames; memory bounded by the block."""
    h, w = check_frame_shape(height, width, path, need_bytes=True)
    block = check_block(block, path)
    total = dat_num_frames(path, h, w)
    stop = None if count is None else int(start) + int(count)
    start, stop = check_range(start, stop, total, path)
    fb = frame_bytes(h, w)
    with _open_read(path) as f:
        f.seek(start * fb)
        t = start
        while t < stop:
            n = min(block, stop - t)
            yield decode_frames(_read_exact(f, path, n * fb), h, w)
            t += n


class DatWriter(SpikeWriter):
    """Appending .dat writer: ``write((n, H, W) bool)`` any number of times, then ``close()``.

    The file is created (truncated) on construction. Usable as a context manager.
    """

    def __init__(self, path: PathLike, height: int = DEFAULT_HEIGHT,
                 width: int = DEFAULT_WIDTH) -> None:
        self.path = Path(path)
        self.height, self.width = check_frame_shape(height, width, path, need_bytes=True)
        self.frames_written = 0
        try:
            self._f: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise OutputError(f"cannot create: {exc.strerror or exc}", path) from exc

    def write(self, block: np.ndarray) -> None:
        """Append (n, H, W) (or one (H, W)) frames of spikes (bool, or integer nonzero = spike)."""
        if self._f is None:
            raise OutputError("write after close", self.path)
        spikes = as_spikes(block, self.path, shape_hw=(self.height, self.width), writing=True)
        try:
            self._f.write(encode_frames(spikes))
        except OSError as exc:
            raise OutputError(f"write failed: {exc.strerror or exc}", self.path) from exc
        self.frames_written += spikes.shape[0]

    def close(self) -> None:
        if self._f is not None:
            f, self._f = self._f, None
            try:
                f.close()
            except OSError as exc:
                raise OutputError(f"close failed: {exc.strerror or exc}", self.path) from exc


def write_dat(path: PathLike, spikes: np.ndarray) -> None:
    """Write (T, H, W) bool spikes as a .dat file (frame size taken from the array)."""
    arr = as_spikes(spikes, path, writing=True)
    with DatWriter(path, arr.shape[1], arr.shape[2]) as w:
        w.write(arr)
