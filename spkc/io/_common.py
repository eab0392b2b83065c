"""Helpers shared by the spike-format readers and writers (validation, dtype rules)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spkc.errors import InputError, OutputError

PathLike = str | os.PathLike


def check_input_file(path: PathLike) -> int:
    """Raise :class:`InputError` unless ``path`` is an existing, non-empty regular file.

    Returns the file size in bytes.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", p)
    if p.is_dir():
        raise InputError("is a directory, not a spike file", p)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot stat file: {exc.strerror or exc}", p) from exc
    if size == 0:
        raise InputError("file is empty", p)
    return size


def check_frame_shape(height: int, width: int, path: PathLike | None = None,
                      need_bytes: bool = False) -> tuple[int, int]:
    """Validate a frame size; with ``need_bytes`` also require H*W % 8 == 0 (PKU .dat)."""
    try:
        h, w = int(height), int(width)
    except (TypeError, ValueError) as exc:
        raise InputError(f"frame size must be integers, got {height!r}x{width!r}", path) from exc
    if h <= 0 or w <= 0:
        raise InputError(f"frame size must be positive, got {h}x{w}", path)
    if need_bytes and (h * w) % 8:
        raise InputError(f"frame size {h}x{w} has {h * w} pixels, not a multiple of 8 "
                         "(a .dat frame is a whole number of bytes)", path)
    return h, w


def as_spikes(arr: np.ndarray, path: PathLike | None, *, shape_hw: tuple[int, int] | None = None,
              writing: bool = False) -> np.ndarray:
    """Return ``arr`` as a (n, H, W) bool array.

    bool passes through; integer arrays count any nonzero value as a spike; other dtypes and
    wrong ranks raise (InputError when reading, OutputError when writing). A 2-D (H, W) array
    is one frame. ``shape_hw`` enforces the frame size.
    """
    err = OutputError if writing else InputError
    a = np.asarray(arr)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise err(f"spikes must be (T, H, W) or (H, W), got shape {a.shape}", path)
    if shape_hw is not None and a.shape[1:] != tuple(shape_hw):
        raise err(f"frame size {a.shape[1]}x{a.shape[2]} does not match "
                  f"{shape_hw[0]}x{shape_hw[1]}", path)
    if a.dtype == np.bool_:
        return a
    if np.issubdtype(a.dtype, np.integer):
        return a != 0
    raise err(f"spikes must be bool or integer, got dtype {a.dtype}", path)


def check_range(start: int, stop: int | None, total: int, path: PathLike | None) -> tuple[int, int]:
    """Validate a frame range ``[start, stop)`` against ``total`` frames (stop None = end)."""
    try:
        start = int(start)
        stop = total if stop is None else int(stop)
    except (TypeError, ValueError) as exc:
        raise InputError(f"frame range must be integers, got {start!r}:{stop!r}", path) from exc
    if start < 0 or stop < start or stop > total:
        raise InputError(f"frame range {start}:{stop} outside the {total} frames of the file",
                         path)
    return start, stop


def check_block(block: int, path: PathLike | None) -> int:
    try:
        b = int(block)
    except (TypeError, ValueError) as exc:
        raise InputError(f"block size must be an integer, got {block!r}", path) from exc
    if b <= 0:
        raise InputError(f"block size must be positive, got {b}", path)
    return b


class SpikeWriter:
    """Base of the appending spike writers (.dat, .npy, .h5): ``write((n, H, W) bool)`` then
    ``close()``; context manager. ``frames_written`` counts frames so far."""

    path: Path
    height: int
    width: int
    frames_written: int

    def write(self, block: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> SpikeWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
            return
        # Do not mask the original error with a complaint from close (e.g. frame count).
        try:
            self.close()
        except OutputError:
            pass
