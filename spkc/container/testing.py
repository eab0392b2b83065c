"""Helpers shared by the container tests and tools/fuzz_container.py (no pytest dependency)."""

from __future__ import annotations

import os

from spkc.container.reader import SpkcReader
from spkc.errors import SceneCorruptError, SpkcError


def exercise(path: str | os.PathLike) -> dict:
    """Open ``path`` and touch every reader entry point; return what could be read.

    Raises only :class:`SpkcError` (from ``open``); per-scene and metadata failures are caught
    and reported, so any other exception escaping is a bug. Returns a dict with ``complete``,
    ``num_scenes``, ``num_frames``, ``header``, ``scenes`` ({k: payloads or None}), ``metadata``
    (dict or None) and ``report`` (VerifyReport).
    """
    with SpkcReader(path) as r:
        out: dict = {"complete": r.complete, "num_scenes": r.num_scenes,
                     "num_frames": r.num_frames, "scenes": {}, "header": r.header}
        try:
            out["metadata"] = r.metadata
        except SpkcError:
            out["metadata"] = None
        for k in range(r.num_scenes):
            try:
                out["scenes"][k] = r.scene_payloads(k)
            except SceneCorruptError as exc:
                assert exc.scene == k, (exc.scene, k)
                assert r.path in str(exc)
                out["scenes"][k] = None
            first, n = r.scene_frames(k)
            assert r.scene_for_frame(first) == k and r.scene_for_frame(first + n - 1) == k
        r.payload_bytes()
        out["report"] = r.verify()
        return out
