"""Format-agnostic streaming access to spike files, chosen by extension.

========  ======================================  =========================================
ext       reading                                 writing
========  ======================================  =========================================
.dat      seek + read of the frames asked for     append (DatWriter)
.npy      memory map                              open_memmap (needs num_frames)
.npz      whole array loaded on open (zip)        whole array only (write_spikes)
.h5/.hdf5 dataset slicing, chunked by frames      append to a resizable dataset
========  ======================================  =========================================
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from spkc.errors import InputError, OutputError
from spkc.io import dat as _dat
from spkc.io import hdf5 as _h5
from spkc.io import npy as _npy
from spkc.io._common import (
    PathLike,
    SpikeWriter,
    as_spikes,
    check_block,
    check_input_file,
    check_range,
)

READ_EXTENSIONS = (".dat", ".npy", ".npz", ".h5", ".hdf5")
WRITE_EXTENSIONS = (".dat", ".npy", ".h5", ".hdf5")


def _ext(path: PathLike) -> str:
    return Path(path).suffix.lower()


class SpikeSource:
    """A readable spike file. ``shape`` is (T, H, W); ``read`` returns (n, H, W) bool."""

    def __init__(self, path: PathLike, shape: tuple[int, int, int]) -> None:
        self.path = Path(path)
        self._shape = (int(shape[0]), int(shape[1]), int(shape[2]))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(T, H, W)."""
        return self._shape

    @property
    def num_frames(self) -> int:
        return self._shape[0]

    @property
    def height(self) -> int:
        return self._shape[1]

    @property
    def width(self) -> int:
        return self._shape[2]

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames ``[start, stop)`` -> (n, H, W) bool; InputError if outside ``[0, T]``."""
        start, stop = check_range(start, stop, self.num_frames, self.path)
        return self._read(start, stop)

    def _read(self, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError

    def iter_blocks(self, block: int = 256, start: int = 0,
                    stop: int | None = None) -> Iterator[np.ndarray]:
        """Yield (n <= block, H, W) bool blocks covering ``[start, stop)``."""
        block = check_block(block, self.path)
        start, stop = check_range(start, stop, self.num_frames, self.path)
        for t in range(start, stop, block):
            yield self._read(t, min(t + block, stop))

    def close(self) -> None:
        """Release the file (idempotent)."""

    def __enter__(self) -> SpikeSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, shape={self.shape})"


class DatSource(SpikeSource):
    """PKU .dat source; keeps one file handle and seeks to each request."""

    def __init__(self, path: PathLike, height: int = _dat.DEFAULT_HEIGHT,
                 width: int = _dat.DEFAULT_WIDTH) -> None:
        n = _dat.dat_num_frames(path, height, width)
        super().__init__(path, (n, height, width))
        self._fb = _dat.frame_bytes(height, width)
        self._f = _dat._open_read(path)

    def _read(self, start: int, stop: int) -> np.ndarray:
        if self._f is None:
            raise InputError("read after close", self.path)
        self._f.seek(start * self._fb)
        buf = _dat._read_exact(self._f, self.path, (stop - start) * self._fb)
        return _dat.decode_frames(buf, self.height, self.width)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


class ArraySource(SpikeSource):
    """Source over an array-like (numpy memmap / ndarray / h5py dataset)."""

    def __init__(self, path: PathLike, array, owner=None) -> None:
        super().__init__(path, array.shape)
        self._arr = array
        self._owner = owner  # e.g. the h5py.File to close

    def _read(self, start: int, stop: int) -> np.ndarray:
        if self._arr is None:
            raise InputError("read after close", self.path)
        try:
            # Always a private copy: a view would expose the read-only memmap (or the cached
            # .npz array) to callers that modify their block in place.
            block = np.array(self._arr[start:stop])
        except OSError as exc:  # h5py raises OSError on damaged chunks
            raise InputError(f"cannot read frames {start}:{stop}: {exc}", self.path) from exc
        return as_spikes(block, self.path)

    def close(self) -> None:
        self._arr = None
        if self._owner is not None:
            owner, self._owner = self._owner, None
            owner.close()


def open_spikes(path: PathLike, height: int = _dat.DEFAULT_HEIGHT,
                width: int = _dat.DEFAULT_WIDTH) -> SpikeSource:
    """Open a spike file for streaming reads, by extension (.dat, .npy, .npz, .h5, .hdf5).

    ``height``/``width`` are used only for .dat (other formats store their shape).
    """
    check_input_file(path)  # missing / directory / empty first: clearer than "unknown extension"
    ext = _ext(path)
    if ext == ".dat":
        return DatSource(path, height, width)
    if ext == ".npy":
        return ArraySource(path, _npy.load_npy(path, mmap=True))
    if ext == ".npz":
        return ArraySource(path, _npy.load_npz(path))
    if ext in (".h5", ".hdf5"):
        f, ds = _h5.open_h5(path)
        return ArraySource(path, ds, owner=f)
    raise InputError(f"unknown spike file extension {ext or '(none)'!r}; "
                     f"expected one of {', '.join(READ_EXTENSIONS)}", path)


def open_spike_writer(path: PathLike, height: int, width: int,
                      num_frames: int | None = None) -> SpikeWriter:
    """Open an appending writer by extension: .dat, .npy (needs ``num_frames``), .h5/.hdf5.

    Returns a DatWriter, NpyWriter or H5Writer (all with ``write((n, H, W) bool)`` and
    ``close()``; context managers). Writes go straight to ``path``; callers wanting atomic
    output write to a temporary name and rename.
    """
    ext = _ext(path)
    if ext == ".dat":
        return _dat.DatWriter(path, height, width)
    if ext == ".npy":
        if num_frames is None:
            raise OutputError("writing .npy needs the number of frames up front "
                              "(or write .dat / .h5, which append)", path)
        return _npy.NpyWriter(path, height, width, num_frames)
    if ext in (".h5", ".hdf5"):
        return _h5.H5Writer(path, height, width, num_frames)
    raise OutputError(f"cannot stream-write extension {ext or '(none)'!r}; "
                      f"use one of {', '.join(WRITE_EXTENSIONS)}", path)


def read_spikes(path: PathLike, height: int = _dat.DEFAULT_HEIGHT,
                width: int = _dat.DEFAULT_WIDTH, start: int = 0,
                stop: int | None = None) -> np.ndarray:
    """Read frames ``[start, stop)`` of any supported spike file -> (T, H, W) bool."""
    with open_spikes(path, height, width) as src:
        return src.read(start, stop)


def write_spikes(path: PathLike, spikes: np.ndarray) -> None:
    """Write (T, H, W) bool spikes; format by extension (.dat, .npy, .npz, .h5, .hdf5)."""
    ext = _ext(path)
    if ext == ".dat":
        _dat.write_dat(path, spikes)
    elif ext == ".npy":
        _npy.write_npy(path, spikes)
    elif ext == ".npz":
        _npy.write_npz(path, spikes)
    elif ext in (".h5", ".hdf5"):
        _h5.write_h5(path, spikes)
    else:
        raise OutputError(f"unknown spike file extension {ext or '(none)'!r}; "
                          f"expected one of {', '.join(READ_EXTENSIONS)}", path)
