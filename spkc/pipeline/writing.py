"""What both writers of ``.spkc`` files (:func:`spkc.compress` for scene codecs,
:func:`spkc.pipeline.stream.compress_stream` for spike-stream codecs) set up the same way:
the file's metadata and the progress bar. No pipeline imports."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spkc.errors import OutputError, SpkcError


def file_metadata(src: str | os.PathLike, num_frames: int, frame_rate: float,
                  metadata: Mapping[str, Any] | None, *, source_format: bool = False,
                  **extra: Any) -> dict[str, Any]:
    """The metadata a writer records: the source, its frames (and, with ``source_format``,
    its file format), capture rate, creation time and writer, then ``extra``, then the
    caller's ``metadata`` (which wins)."""
    from spkc._version import __version__

    meta: dict[str, Any] = {"source": Path(src).name, "source_frames": int(num_frames)}
    if source_format:
        meta["source_format"] = Path(src).suffix.lower().lstrip(".")
    meta["capture_rate_hz"] = float(frame_rate)
    meta["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta["writer"] = f"spkc {__version__}"
    meta.update(extra)
    meta.update(dict(metadata or {}))
    return meta


def progress_bar(progress: bool, num_frames: int, codec: str):
    """A tqdm bar over ``num_frames`` frames named ``compress <codec>``; None without
    ``progress``."""
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=num_frames, unit="frame", unit_scale=True, desc=f"compress {codec}",
                dynamic_ncols=True)


@contextmanager
def writing(dst: str | os.PathLike, bar) -> Iterator[None]:
    """Around a writer's loop: an OSError becomes OutputError naming ``dst`` (SpkcError
    passes as it is), and the progress ``bar`` (or None) is closed however the loop ends."""
    try:
        yield
    except SpkcError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", dst) from exc
    finally:
        if bar is not None:
            bar.close()
