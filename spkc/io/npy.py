"""``.npy`` / ``.npz`` spike arrays: (T, H, W) bool (integer arrays: nonzero = spike).

``.npz`` holds the array under key ``spk`` (or as its only array).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from spkc.errors import InputError, OutputError
from spkc.io._common import PathLike, SpikeWriter, as_spikes, check_frame_shape, check_input_file

NPZ_KEY = "spk"


def load_npy(path: PathLike, mmap: bool = True) -> np.ndarray:
    """Open a .npy spike array (memory-mapped by default); checks rank 3 and dtype, not values."""
    check_input_file(path)
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"not a readable .npy array: {exc}", path) from exc
    _check_array(arr, path)
    return arr


def load_npz(path: PathLike) -> np.ndarray:
    """Load the spike array of a .npz (key ``spk``, else its only array) into memory."""
    check_input_file(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            if NPZ_KEY in keys:
                key = NPZ_KEY
            elif len(keys) == 1:
                key = keys[0]
            else:
                raise InputError(f"no array named {NPZ_KEY!r} and {len(keys)} arrays "
                                 f"({', '.join(keys[:5]) or 'none'}); which one holds spikes?",
                                 path)
            arr = z[key]
    except InputError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise InputError(f"not a readable .npz archive: {exc}", path) from exc
    _check_array(arr, path)
    return arr


def _check_array(arr: np.ndarray, path: PathLike) -> None:
    if arr.ndim != 3:
        raise InputError(f"spike array must be (T, H, W), got shape {arr.shape}", path)
    if not (arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"spike array must be bool or integer, got dtype {arr.dtype}", path)


def read_npy(path: PathLike) -> np.ndarray:
    """Read a whole .npy -> (T, H, W) bool."""
    return np.array(as_spikes(load_npy(path, mmap=True), path), dtype=np.bool_, copy=True)


def read_npz(path: PathLike) -> np.ndarray:
    """Read a .npz -> (T, H, W) bool."""
    return np.ascontiguousarray(as_spikes(load_npz(path), path))


def write_npy(path: PathLike, spikes: np.ndarray) -> None:
    """Write (T, H, W) bool spikes as .npy (bool dtype)."""
    arr = as_spikes(spikes, path, writing=True)
    try:
        with open(path, "wb") as f:
            np.save(f, np.ascontiguousarray(arr), allow_pickle=False)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", path) from exc


def write_npz(path: PathLike, spikes: np.ndarray, compressed: bool = True) -> None:
    """Write (T, H, W) bool spikes as .npz under key ``spk`` (deflate-compressed by default)."""
    arr = as_spikes(spikes, path, writing=True)
    save = np.savez_compressed if compressed else np.savez
    try:
        with open(path, "wb") as f:
            save(f, **{NPZ_KEY: np.ascontiguousarray(arr)})
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", path) from exc


class NpyWriter(SpikeWriter):
    """Streaming .npy writer via ``np.lib.format.open_memmap``; needs ``num_frames`` up front.

    ``close()`` raises OutputError if fewer than ``num_frames`` frames were written.
    """

    def __init__(self, path: PathLike, height: int, width: int, num_frames: int) -> None:
        self.path = Path(path)
        self.height, self.width = check_frame_shape(height, width, path)
        if num_frames is None or int(num_frames) < 0:
            raise OutputError("a .npy writer needs the number of frames up front", path)
        self.num_frames = int(num_frames)
        self.frames_written = 0
        try:
            self._mm: np.memmap | None = np.lib.format.open_memmap(
                self.path, mode="w+", dtype=np.bool_,
                shape=(self.num_frames, self.height, self.width))
        except (OSError, ValueError) as exc:
            raise OutputError(f"cannot create: {exc}", path) from exc

    def write(self, block: np.ndarray) -> None:
        """Append (n, H, W) bool frames."""
        if self._mm is None:
            raise OutputError("write after close", self.path)
        spikes = as_spikes(block, self.path, shape_hw=(self.height, self.width), writing=True)
        n = spikes.shape[0]
        if self.frames_written + n > self.num_frames:
            raise OutputError(f"too many frames: {self.frames_written + n} > the "
                              f"{self.num_frames} declared", self.path)
        self._mm[self.frames_written:self.frames_written + n] = spikes
        self.frames_written += n

    def close(self) -> None:
        if self._mm is None:
            return
        mm, self._mm = self._mm, None
        try:
            mm.flush()
        except OSError as exc:
            raise OutputError(f"flush failed: {exc.strerror or exc}", self.path) from exc
        finally:
            del mm
        if self.frames_written != self.num_frames:
            raise OutputError(f"only {self.frames_written} of the {self.num_frames} declared "
                              "frames were written", self.path)

