"""Where scenes sit in time and which spike frames each one needs.

Scene k covers frames ``[k*S, k*S + n_k)`` (``n_k = S`` except maybe the last). Its *time* is
frame ``c_k = k*S + n_k // 2``; the reconstructor sees the window ``c_k-R .. c_k+R`` and the
attention modules ``L`` frames before / after ``c_k``. Frames outside the clip are mirrored back
into it (reflect padding), so every scene sees a full window even at the ends of a clip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SceneLayout:
    """Scene segmentation of a clip of ``num_frames`` frames, ``frames_per_scene`` per scene."""

    num_frames: int
    frames_per_scene: int

    @property
    def num_scenes(self) -> int:
        return -(-self.num_frames // self.frames_per_scene)

    def first(self, k: int) -> int:
        return k * self.frames_per_scene

    def count(self, k: int) -> int:
        return min(self.frames_per_scene, self.num_frames - k * self.frames_per_scene)

    def centre(self, k: int) -> int:
        """Scene time of k (a frame index)."""
        return self.first(k) + self.count(k) // 2

    def firsts_counts(self) -> tuple[np.ndarray, np.ndarray]:
        firsts = np.arange(self.num_scenes, dtype=np.int64) * self.frames_per_scene
        return firsts, np.minimum(self.frames_per_scene, self.num_frames - firsts)

    def scene_of(self, t: int) -> int:
        return t // self.frames_per_scene


def reflect_index(idx: np.ndarray, n: int) -> np.ndarray:
    """Mirror frame indices into ``[0, n)`` (..., 2, 1, 0, 1, 2, ... n-2, n-1, n-2, ...)."""
    idx = np.asarray(idx, np.int64)
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    m = np.mod(idx, period)
    return np.where(m < n, m, period - m)


@dataclass
class SceneBatch:
    """Spike material for a batch of consecutive scenes.

    scenes: scene indices (N,); windows: (N, 2R+1, H, W) bool centred on each scene time;
    before / after: (N, L, H, W) bool, the L frames before / after the scene time (or None);
    segment_spikes: number of spikes inside each scene's own frames (N,) (for statistics).
    """

    scenes: np.ndarray
    windows: np.ndarray
    before: np.ndarray | None
    after: np.ndarray | None
    segment_spikes: np.ndarray


def iter_scene_batches(source, layout: SceneLayout, radius: int, context: int,
                       batch_size: int, start_scene: int = 0) -> Iterator[SceneBatch]:
    """Read ``source`` (a :class:`spkc.io.SpikeSource`) once, batch by batch.

    Memory is bounded by ``batch_size * frames_per_scene + 2 * max(radius, context)`` frames.
    """
    T = layout.num_frames
    halo = max(radius, context)
    for k0 in range(start_scene, layout.num_scenes, batch_size):
        ks = np.arange(k0, min(k0 + batch_size, layout.num_scenes))
        centres = np.array([layout.centre(int(k)) for k in ks])
        lo = max(0, int(centres.min()) - halo)
        hi = min(T, max(int(centres.max()) + halo + 1, layout.first(int(ks[-1])) +
                        layout.count(int(ks[-1]))))
        first_needed = min(lo, layout.first(int(ks[0])))
        block = source.read(first_needed, hi)
        # reflected indices can land outside the block read for the batch near the clip ends
        def frames(idx: np.ndarray, block=block, base=first_needed) -> np.ndarray:
            r = reflect_index(idx, T)
            inside = (r >= base) & (r < base + len(block))
            if inside.all():
                return block[r - base]
            out = np.empty((len(r),) + block.shape[1:], bool)
            out[inside] = block[r[inside] - base]
            for j in np.nonzero(~inside)[0]:  # only at the clip ends, a few frames
                out[j] = source.read(int(r[j]), int(r[j]) + 1)[0]
            return out

        offs = np.arange(-radius, radius + 1)
        windows = np.stack([frames(c + offs) for c in centres])
        before = after = None
        if context > 0:
            before = np.stack([frames(np.arange(c - context, c)) for c in centres])
            after = np.stack([frames(np.arange(c + 1, c + 1 + context)) for c in centres])
        seg = np.array([int(frames(np.arange(layout.first(int(k)), layout.first(int(k)) +
                                              layout.count(int(k)))).sum()) for k in ks])
        yield SceneBatch(ks, windows, before, after, seg)
