"""Integrate-and-fire regeneration of spikes from decoded scenes (spec/regeneration.md).

Everything after the decoded scenes is integer arithmetic, so numpy and torch, CPU and GPU give
the same spikes bit for bit, and a segment of frames depends only on the scenes next to it:

* luminance ``L = rint(scene * 65535)`` (int64, 0..65535);
* per-frame drive ``((L_a*(D-d) + L_b*d) * G) // D`` between the centres of the two scenes around
  the frame (``interpolation="linear"``) or ``L_k * G`` (``"hold"``), clipped to ``THETA - 1``;
* threshold ``THETA = 65535 * 65536``: a pixel with ``L = 65535`` fires ``G / 65536``
  spikes/frame;
* at the first frame of every scene segment the accumulator restarts from a hashed phase
  ``phase(seed, k, pixel)`` in ``[0, THETA)``, so random access never needs earlier scenes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spkc.errors import InputError

THETA = 65535 * 65536
LUMA_MAX = 65535
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class RegenParams:
    """Regeneration parameters stored in the file header (``Header.regen``).

    gain_q16: spikes/frame at full luminance, times 65536 (1..65536).
    reset: "soft" (subtract THETA) or "hard" (to 0) after a spike.
    interpolation: "linear" between scene centres, or "hold" (constant per segment).
    seed: seeds the per-segment start phases.
    """

    gain_q16: int
    reset: str = "soft"
    interpolation: str = "linear"
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= int(self.gain_q16) <= 65536:
            raise InputError(f"gain_q16 must be in 1..65536, got {self.gain_q16}")
        if self.reset not in ("soft", "hard"):
            raise InputError(f"reset must be 'soft' or 'hard', got {self.reset!r}")
        if self.interpolation not in ("linear", "hold"):
            raise InputError(
                f"interpolation must be 'linear' or 'hold', got {self.interpolation!r}")
        if not 0 <= int(self.seed) < 2**63:
            raise InputError(f"seed must be in [0, 2**63), got {self.seed}")

    @property
    def rate_scale(self) -> float:
        """Spikes/frame of a pixel at luminance 1.0."""
        return self.gain_q16 / 65536.0

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "gain_q16": int(self.gain_q16), "reset": self.reset,
                "interpolation": self.interpolation, "seed": int(self.seed)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegenParams:
        if int(d.get("version", 1)) != 1:
            raise InputError(f"unsupported regeneration version {d.get('version')}")
        return cls(gain_q16=int(d["gain_q16"]), reset=str(d.get("reset", "soft")),
                   interpolation=str(d.get("interpolation", "linear")),
                   seed=int(d.get("seed", 0)))

    @classmethod
    def for_rate_scale(cls, rate_scale: float, **kw: Any) -> RegenParams:
        """Params whose full-scale luminance fires ``rate_scale`` spikes/frame."""
        return cls(gain_q16=int(np.clip(round(rate_scale * 65536), 1, 65536)), **kw)


def luminance_q16(scene: np.ndarray) -> np.ndarray:
    """Scene (..., H, W) float32 in [0, 1] -> int64 luminance 0..65535 (round half to even)."""
    s = np.asarray(scene, dtype=np.float32)
    return np.clip(np.rint(s * np.float32(LUMA_MAX)), 0, LUMA_MAX).astype(np.int64)


def segment_phase(seed: int, scene: int, height: int, width: int) -> np.ndarray:
    """Start accumulator of every pixel for the segment of ``scene``: (H, W) int64 in [0, THETA).

    splitmix64 of ``seed*GOLDEN + scene*MIX1 + pixel*MIX2`` (mod 2**64, pixel = row*W + col),
    then ``((z >> 32) * THETA) >> 32``.
    """
    with np.errstate(over="ignore"):
        p = np.arange(height * width, dtype=np.uint64)
        z = (np.uint64(seed) * _GOLDEN + np.uint64(scene) * _MIX1 + p * _MIX2) & _M64
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
        phase = ((z >> np.uint64(32)) * np.uint64(THETA)) >> np.uint64(32)
    return phase.astype(np.int64).reshape(height, width)


def scene_centres2(firsts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Doubled centre frame of each scene: ``2*first + count - 1`` (int64)."""
    return 2 * np.asarray(firsts, np.int64) + np.asarray(counts, np.int64) - 1


def drive_weights(frames: np.ndarray, k: int, centres2: np.ndarray,
                  interpolation: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For frames of segment k: indices (a, b) of the scenes to blend and integer weights (d, D).

    drive = ((L_a*(D-d) + L_b*d) * G) // D. Before the first / after the last centre the end
    scene is held (a == b, d = 0, D = 1).
    """
    n = len(frames)
    K = len(centres2)
    t2 = 2 * np.asarray(frames, np.int64)
    if interpolation == "hold" or K == 1:
        a = np.full(n, k, np.int64)
        return a, a.copy(), np.zeros(n, np.int64), np.ones(n, np.int64)
    before = t2 < centres2[k]
    a = np.where(before, k - 1, k)
    b = a + 1
    hold = (a < 0) | (b >= K)
    a = np.clip(a, 0, K - 1)
    b = np.where(hold, a, np.clip(b, 0, K - 1))
    D = np.where(hold, 1, centres2[b] - centres2[a])
    d = np.where(hold, 0, t2 - centres2[a])
    return a, b, d, D


def regenerate_segment(k: int, frames: np.ndarray, luma: Callable[[int], np.ndarray],
                       centres2: np.ndarray, params: RegenParams) -> np.ndarray:
    """Spikes of the frames of segment k, numpy: (n, H, W) bool.

    ``frames``: absolute frame numbers of the whole segment k (the accumulator starts at its
    first frame); ``luma(j)``: int64 luminance (H, W) of scene j (from :func:`luminance_q16`).
    """
    a, b, d, D = drive_weights(frames, k, centres2, params.interpolation)
    La = np.stack([luma(int(j)) for j in a])
    Lb = np.stack([luma(int(j)) for j in b])
    w_b = d[:, None, None]
    w_a = (D - d)[:, None, None]
    drive = ((La * w_a + Lb * w_b) * np.int64(params.gain_q16)) // D[:, None, None]
    np.minimum(drive, THETA - 1, out=drive)
    H, W = La.shape[1:]
    acc0 = segment_phase(params.seed, k, H, W)
    if params.reset == "soft":
        # one spike at most per frame (drive < THETA) makes the sequential soft reset equal to
        # counting threshold crossings of the running sum
        c = np.cumsum(drive, axis=0) + acc0
        q = c // THETA
        prev = np.concatenate([np.zeros((1, H, W), np.int64), q[:-1]])
        return q > prev
    out = np.empty(drive.shape, bool)
    acc = acc0.copy()
    for i in range(len(drive)):  # hard reset is inherently sequential in time
        acc += drive[i]
        fired = acc >= THETA
        out[i] = fired
        acc[fired] = 0
    return out


def regenerate_segment_torch(k: int, frames: np.ndarray, luma: Callable[[int], Any],
                             centres2: np.ndarray, params: RegenParams, device: str = "cpu"):
    """Torch twin of :func:`regenerate_segment` (int64 on ``device``): (n, H, W) bool tensor.

    ``luma(j)`` returns an int64 tensor (H, W) on ``device``. Integer-only, hence identical to
    the numpy result on any device.
    """
    import torch

    a, b, d, D = drive_weights(frames, k, centres2, params.interpolation)
    La = torch.stack([luma(int(j)) for j in a])
    Lb = torch.stack([luma(int(j)) for j in b])
    dt = torch.as_tensor(d, device=device)[:, None, None]
    Dt = torch.as_tensor(D, device=device)[:, None, None]
    drive = torch.div((La * (Dt - dt) + Lb * dt) * int(params.gain_q16), Dt,
                      rounding_mode="floor")
    drive = torch.clamp(drive, max=THETA - 1)
    H, W = La.shape[1:]
    acc0 = torch.as_tensor(segment_phase(params.seed, k, H, W), device=device)
    if params.reset == "soft":
        q = torch.div(torch.cumsum(drive, dim=0) + acc0, THETA, rounding_mode="floor")
        prev = torch.cat([torch.zeros_like(q[:1]), q[:-1]])
        return q > prev
    out = torch.empty(drive.shape, dtype=torch.bool, device=device)
    acc = acc0.clone()
    for i in range(drive.shape[0]):
        acc += drive[i]
        fired = acc >= THETA
        out[i] = fired
        acc[fired] = 0
    return out


def interpolated_luminance(frame: int, k: int, luma: Callable[[int], np.ndarray],
                           centres2: np.ndarray, interpolation: str) -> np.ndarray:
    """The luminance driving frame ``frame`` of segment k, float32 (H, W) in [0, 1]."""
    a, b, d, D = drive_weights(np.array([frame]), k, centres2, interpolation)
    La, Lb = luma(int(a[0])), luma(int(b[0]))
    num = La * (D[0] - d[0]) + Lb * d[0]
    return (num.astype(np.float64) / (D[0] * LUMA_MAX)).astype(np.float32)


def regenerate(scenes: np.ndarray, frames_per_scene: int, num_frames: int,
               params: RegenParams) -> np.ndarray:
    """Regenerate a whole clip from its decoded scenes (K, H, W) float32: (T, H, W) bool."""
    S = int(frames_per_scene)
    K = len(scenes)
    firsts = np.arange(K) * S
    counts = np.minimum(S, num_frames - firsts)
    c2 = scene_centres2(firsts, counts)
    L = luminance_q16(scenes)
    out = [regenerate_segment(k, np.arange(firsts[k], firsts[k] + counts[k]), lambda j: L[j],
                              c2, params) for k in range(K)]
    return np.concatenate(out) if out else np.zeros((0,) + scenes.shape[1:], bool)
