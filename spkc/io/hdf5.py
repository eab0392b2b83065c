"""HDF5 spike files: dataset ``spikes``, (T, H, W) **bool** (HDF5 enum of int8, one byte per
pixel), chunked by frames and gzip-compressed (level 1: spike data compresses poorly anyway,
so speed wins). Attributes ``height`` and ``width`` are written for readers that want them.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from spkc.errors import InputError, OutputError
from spkc.io._common import PathLike, SpikeWriter, as_spikes, check_frame_shape, check_input_file

DATASET = "spikes"
_GZIP_LEVEL = 1


def _chunk_frames(height: int, width: int) -> int:
    # ~1 MiB chunks: big enough for gzip, small enough that slicing a few frames is cheap.
    return max(1, min(256, (1 << 20) // max(1, height * width)))


def open_h5(path: PathLike) -> tuple[h5py.File, h5py.Dataset]:
    """Open an HDF5 spike file read-only -> (file, dataset); caller closes the file."""
    check_input_file(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"not a readable HDF5 file: {exc}", path) from exc
    try:
        if DATASET not in f or not isinstance(f[DATASET], h5py.Dataset):
            has = ", ".join(list(f.keys())[:5]) or "none"
            raise InputError(f"no dataset {DATASET!r} (has: {has})", path)
        ds = f[DATASET]
        if ds.ndim != 3:
            raise InputError(f"dataset {DATASET!r} must be (T, H, W), got shape {ds.shape}", path)
        if not (ds.dtype == np.bool_ or np.issubdtype(ds.dtype, np.integer)):
            raise InputError(f"dataset {DATASET!r} must be bool or integer, got {ds.dtype}", path)
    except BaseException:
        f.close()
        raise
    return f, ds


def read_h5(path: PathLike) -> np.ndarray:
    """Read a whole HDF5 spike file -> (T, H, W) bool."""
    f, ds = open_h5(path)
    with f:
        try:
            arr = ds[()]
        except OSError as exc:
            raise InputError(f"cannot read dataset {DATASET!r}: {exc}", path) from exc
    return as_spikes(arr, path)


class H5Writer(SpikeWriter):
    """Appending HDF5 writer (dataset ``spikes``, resizable along T unless num_frames given)."""

    def __init__(self, path: PathLike, height: int, width: int,
                 num_frames: int | None = None) -> None:
        self.path = Path(path)
        self.height, self.width = check_frame_shape(height, width, path)
        self.num_frames = None if num_frames is None else int(num_frames)
        self.frames_written = 0
        try:
            self._f = h5py.File(self.path, "w")
        except OSError as exc:
            raise OutputError(f"cannot create HDF5 file: {exc}", path) from exc
        n0 = 0 if self.num_frames is None else self.num_frames
        ct = _chunk_frames(self.height, self.width)
        try:
            self._ds = self._f.create_dataset(
                DATASET, shape=(n0, self.height, self.width), dtype=np.bool_,
                maxshape=(None, self.height, self.width),
                chunks=(ct, self.height, self.width),
                compression="gzip", compression_opts=_GZIP_LEVEL)
            self._ds.attrs["height"] = self.height
            self._ds.attrs["width"] = self.width
        except (OSError, ValueError) as exc:
            self._f.close()
            raise OutputError(f"cannot create dataset: {exc}", path) from exc

    def write(self, block: np.ndarray) -> None:
        """Append (n, H, W) bool frames."""
        if self._f is None:
            raise OutputError("write after close", self.path)
        spikes = as_spikes(block, self.path, shape_hw=(self.height, self.width), writing=True)
        n = spikes.shape[0]
        end = self.frames_written + n
        try:
            if end > self._ds.shape[0]:
                if self.num_frames is not None:
                    raise OutputError(f"too many frames: {end} > the {self.num_frames} declared",
                                      self.path)
                self._ds.resize(end, axis=0)
            self._ds[self.frames_written:end] = spikes
        except OSError as exc:
            raise OutputError(f"write failed: {exc}", self.path) from exc
        self.frames_written = end

    def close(self) -> None:
        if self._f is None:
            return
        f, self._f = self._f, None
        try:
            f.close()
        except OSError as exc:
            raise OutputError(f"close failed: {exc}", self.path) from exc
        if self.num_frames is not None and self.frames_written != self.num_frames:
            raise OutputError(f"only {self.frames_written} of the {self.num_frames} declared "
                              "frames were written", self.path)


def write_h5(path: PathLike, spikes: np.ndarray) -> None:
    """Write (T, H, W) bool spikes to HDF5 dataset ``spikes`` (chunked, gzip)."""
    arr = as_spikes(spikes, path, writing=True)
    with H5Writer(path, arr.shape[1], arr.shape[2], num_frames=arr.shape[0]) as w:
        w.write(arr)
