"""Encoder side of motion-compensated interpolation: side information per scene pair.

Scene k's payload set carries the motion of the pair (k, k+1) as ``~motion``
(:mod:`spkc.spikes.warp`), so each scene is held back until the next one is reconstructed;
the estimator (:mod:`spkc.spikes.motion`) also reads short spike windows between the two scene
times straight from the source.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from spkc.pipeline.layout import SceneLayout
from spkc.spikes.motion import estimate_pair, tfp_target
from spkc.spikes.regenerate import scene_centres2
from spkc.spikes.warp import MOTION_PAYLOAD, encode_motion

#: where the intermediate targets sit between two scene times, and their half-window (frames)
TARGET_ALPHAS = (0.25, 0.5, 0.75)
TARGET_RADIUS = 4


class MotionSideInfo:
    """Hold each scene until its successor is known, then attach the pair's motion.

    ``source``: the SpikeSource being compressed; ``full_scale``: spikes/frame at scene
    luminance 1 (targets are firing rates in scene units). :meth:`push` takes scene k's
    payloads and its (H, W) float scene in [0, 1], yields (payloads, frame count) ready to be
    written, in order; :meth:`flush` yields the last one.
    """

    def __init__(self, source, layout: SceneLayout, full_scale: float, block: int = 24,
                 search: int = 48) -> None:
        self.source = source
        self.layout = layout
        self.full_scale = float(full_scale)
        self.block = int(block)
        self.search = int(search)
        firsts, counts = layout.firsts_counts()
        self.centres2 = scene_centres2(firsts, counts)
        self._pending: tuple[int, dict[str, bytes], np.ndarray] | None = None
        #: bytes of side information written so far
        self.side_bytes = 0

    def _targets(self, a: int) -> list[tuple[float, np.ndarray]]:
        T = self.layout.num_frames
        c2a, c2b = int(self.centres2[a]), int(self.centres2[a + 1])
        out = []
        for alpha in TARGET_ALPHAS:
            t = int(round((c2a + alpha * (c2b - c2a)) / 2))
            lo, hi = max(0, t - TARGET_RADIUS), min(T, t + TARGET_RADIUS + 1)
            alpha_t = (2 * t - c2a) / (c2b - c2a)  # the frame's own position in the pair
            if hi > lo and 0 < alpha_t < 1:
                out.append((alpha_t, tfp_target(self.source.read(lo, hi), self.full_scale)))
        return out

    def push(self, k: int, payloads: dict[str, bytes], scene: np.ndarray
             ) -> Iterator[tuple[dict[str, bytes], int]]:
        if self._pending is not None:
            a, pay, prev = self._pending
            field = estimate_pair(prev, scene, self._targets(a), block=self.block,
                                  search=self.search)
            if not field.is_identity():  # no payload = the linear blend, for free
                side = encode_motion(field)
                self.side_bytes += len(side)
                pay = {**pay, MOTION_PAYLOAD: side}
            yield pay, self.layout.count(a)
        self._pending = (int(k), dict(payloads), np.asarray(scene, np.float32))

    def flush(self) -> Iterator[tuple[dict[str, bytes], int]]:
        if self._pending is not None:
            a, pay, _ = self._pending
            self._pending = None
            yield pay, self.layout.count(a)
