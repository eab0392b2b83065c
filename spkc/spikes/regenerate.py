"""Integrate-and-fire regeneration of spikes from decoded scenes (spec/regeneration.md).

Everything after the decoded scenes is integer arithmetic, so numpy and torch, CPU and GPU give
the same spikes bit for bit, and a segment of frames depends only on the scenes next to it:

* luminance ``L = rint(scene * 65535)`` (0..65535);
* blend weight ``w = (d << 15) // D`` between the two scene times around a frame
  (``interpolation="linear"``; ``w = 0`` for ``"hold"``), luminance
  ``l = L_a + (((L_b - L_a) * w) >> 15)``;
* drive ``l * G`` added to a 32-bit accumulator; a spike fires when it carries past
  ``THETA = 2**32`` (soft reset keeps the remainder, hard reset zeroes it). A pixel at full
  luminance fires ``65535 * G / 2**32`` spikes/frame;
* at the first frame of every scene segment the accumulator restarts from a hashed phase
  ``phase(seed, k, pixel)``, so random access never needs earlier scenes;
* ``interpolation="motion"``: the two scenes are first warped along the pair's block motion
  and blended per block (:mod:`spkc.spikes.warp`, integer too); no field = the linear blend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spkc.errors import InputError

THETA = 1 << 32
LUMA_MAX = 65535
#: blend weights are fixed point with this many fractional bits
WEIGHT_BITS = 15
#: luminance between scene times: linear blend, hold, or motion-compensated blend
#: (spkc.spikes.warp; format 1.1)
INTERPOLATIONS = ("linear", "hold", "motion")
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class RegenParams:
    """Regeneration parameters stored in the file header (``Header.regen``).

    gain_q16: G, 1..65536; full luminance fires 65535 * G / 2**32 spikes/frame.
    reset: "soft" (keep the remainder) or "hard" (to 0) after a spike.
    interpolation: "linear" between scene centres, "hold" (constant per segment) or "motion"
        (motion-compensated blend with per-pair side information, :mod:`spkc.spikes.warp`).
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
        if self.interpolation not in INTERPOLATIONS:
            raise InputError(
                f"interpolation must be 'linear', 'hold' or 'motion', got {self.interpolation!r}")
        if not 0 <= int(self.seed) < 2**63:
            raise InputError(f"seed must be in [0, 2**63), got {self.seed}")

    @property
    def rate_scale(self) -> float:
        """Spikes/frame of a pixel at luminance 1.0."""
        return LUMA_MAX * self.gain_q16 / THETA

    @property
    def blends(self) -> bool:
        """True when frames between scene times blend two scenes (linear or motion)."""
        return self.interpolation != "hold"

    def to_dict(self) -> dict[str, Any]:
        d = {"version": 1, "gain_q16": int(self.gain_q16), "reset": self.reset,
             "interpolation": self.interpolation, "seed": int(self.seed)}
        if self.interpolation == "motion":
            from spkc.spikes.warp import MOTION_VERSION

            d["motion_version"] = MOTION_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegenParams:
        if int(d.get("version", 1)) != 1:
            raise InputError(f"unsupported regeneration version {d.get('version')}")
        if str(d.get("interpolation", "linear")) == "motion":
            from spkc.spikes.warp import MOTION_VERSION

            if int(d.get("motion_version", 0)) != MOTION_VERSION:
                raise InputError(f"unsupported motion interpolation version "
                                 f"{d.get('motion_version')}")
        return cls(gain_q16=int(d["gain_q16"]), reset=str(d.get("reset", "soft")),
                   interpolation=str(d.get("interpolation", "linear")),
                   seed=int(d.get("seed", 0)))

    @classmethod
    def for_rate_scale(cls, rate_scale: float, **kw: Any) -> RegenParams:
        """Params whose full-scale luminance fires ``rate_scale`` spikes/frame."""
        return cls(gain_q16=int(np.clip(round(rate_scale * THETA / LUMA_MAX), 1, 65536)), **kw)


def luminance_q16(scene: np.ndarray) -> np.ndarray:
    """Scene (..., H, W) float32 in [0, 1] -> int64 luminance 0..65535 (round half to even)."""
    s = np.asarray(scene, dtype=np.float32)
    return np.clip(np.rint(s * np.float32(LUMA_MAX)), 0, LUMA_MAX).astype(np.int64)


def segment_phase(seed: int, scene: int, height: int, width: int) -> np.ndarray:
    """Start accumulator of every pixel for the segment of ``scene``: (H, W) int64 in [0, 2**32).

    The upper 32 bits of splitmix64(``seed*GOLDEN + scene*MIX1 + pixel*MIX2`` mod 2**64),
    pixel = row*W + col.
    """
    with np.errstate(over="ignore"):
        p = np.arange(height * width, dtype=np.uint64)
        z = (np.uint64(seed) * _GOLDEN + np.uint64(scene) * _MIX1 + p * _MIX2) & _M64
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
        phase = z >> np.uint64(32)
    return phase.astype(np.int64).reshape(height, width)


def scene_centres2(firsts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Doubled centre frame of each scene: ``2*first + count - 1`` (int64)."""
    return 2 * np.asarray(firsts, np.int64) + np.asarray(counts, np.int64) - 1


def drive_weights(frames: np.ndarray, k: int, centres2: np.ndarray,
                  interpolation: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For frames of segment k: scenes (a, b) to blend and the fixed-point weight w of b.

    ``w = (d << 15) // D`` with ``d`` the doubled distance from scene a's time and ``D`` the
    doubled distance between the two scene times. Before the first / after the last scene
    time the end scene is held (a == b, w = 0).
    """
    n = len(frames)
    K = len(centres2)
    t2 = 2 * np.asarray(frames, np.int64)
    if interpolation == "hold" or K == 1:  # "motion" shares the linear plan
        a = np.full(n, k, np.int64)
        return a, a.copy(), np.zeros(n, np.int64)
    before = t2 < centres2[k]
    a = np.where(before, k - 1, k)
    b = a + 1
    hold = (a < 0) | (b >= K)
    a = np.clip(a, 0, K - 1)
    b = np.where(hold, a, np.clip(b, 0, K - 1))
    D = np.where(hold, 1, centres2[b] - centres2[a])
    d = np.where(hold, 0, t2 - centres2[a])
    return a, b, (d << WEIGHT_BITS) // D


#: motion(a) -> MotionField of the pair (a, a+1), or None (linear blend)
MotionLookup = Callable[[int], Any]


def _pair_warp(warps: dict[int, Any], a: int, b: int, luma: Callable[[int], Any],
               params: RegenParams, motion: MotionLookup | None, device: str | None = None):
    """The pair's integer warp (cached per pair) when it has motion, else None."""
    if params.interpolation != "motion" or motion is None or a == b:
        return None
    if a not in warps:
        field = motion(a)
        if field is None:
            warps[a] = None
        elif device is None:
            from spkc.spikes.warp import PairWarp

            warps[a] = PairWarp(luma(a), luma(b), field)
        else:
            from spkc.spikes.warp import PairWarpTorch

            warps[a] = PairWarpTorch(luma(a), luma(b), field, device=device)
    return warps[a]


def _blend_plan(frames, k, centres2, interpolation):
    a, b, w = drive_weights(frames, k, centres2, interpolation)
    return [(int(a[i]), int(b[i]), int(w[i])) for i in range(len(frames))]


def regenerate_segment(k: int, frames: np.ndarray, luma: Callable[[int], np.ndarray],
                       centres2: np.ndarray, params: RegenParams,
                       motion: MotionLookup | None = None) -> np.ndarray:
    """Spikes of the frames of segment k, numpy: (n, H, W) bool.

    ``frames``: consecutive absolute frame numbers starting at the first frame of segment k
    (the accumulator starts there); ``luma(j)``: luminance (H, W) of scene j, integers 0..65535
    (from :func:`luminance_q16`). ``motion(a)``: the :class:`~spkc.spikes.warp.MotionField` of
    the pair (a, a+1), or None for a linear blend (used only with ``interpolation="motion"``).
    """
    plan = _blend_plan(frames, k, centres2, params.interpolation)
    L0 = luma(k)
    H, W = L0.shape
    out = np.empty((len(plan), H, W), bool)
    # 32-bit wrap-around arithmetic: a spike is a carry out of the accumulator
    acc = segment_phase(params.seed, k, H, W).astype(np.uint32)
    gain = np.uint32(params.gain_q16)
    cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    warps: dict[int, Any] = {}
    lum = np.empty((H, W), np.int32)
    drive = np.empty((H, W), np.uint32)
    for i, (a, b, w) in enumerate(plan):
        warp = _pair_warp(warps, a, b, luma, params, motion)
        if warp is not None:
            lum[...] = warp.luminance(w)
        else:
            if (a, b) not in cache:
                La = np.asarray(luma(a)).astype(np.int32)
                cache[(a, b)] = (La, np.asarray(luma(b)).astype(np.int32) - La)
            La, dL = cache[(a, b)]
            # |dL| * w < 2**31: no int32 overflow
            np.multiply(dL, np.int32(w), out=lum)
            np.right_shift(lum, WEIGHT_BITS, out=lum)
            np.add(lum, La, out=lum)
        np.multiply(lum.view(np.uint32), gain, out=drive)
        np.add(acc, drive, out=acc)
        fired = np.less(acc, drive, out=out[i])
        if params.reset == "hard":
            acc[fired] = 0
    return out


def regenerate_segment_torch(k: int, frames: np.ndarray, luma: Callable[[int], Any],
                             centres2: np.ndarray, params: RegenParams, device: str = "cpu",
                             motion: MotionLookup | None = None):
    """Torch twin of :func:`regenerate_segment`: (n, H, W) bool tensor on ``device``.

    ``luma(j)`` returns an integer tensor (H, W). int64 arithmetic with an explicit carry test,
    hence identical to the numpy result on any device.
    """
    import torch

    plan = _blend_plan(frames, k, centres2, params.interpolation)
    L0 = luma(k)
    H, W = L0.shape
    out = torch.empty((len(plan), H, W), dtype=torch.bool, device=device)
    acc = torch.as_tensor(segment_phase(params.seed, k, H, W), device=device)
    cache: dict[tuple[int, int], tuple[Any, Any]] = {}
    warps: dict[int, Any] = {}
    for i, (a, b, w) in enumerate(plan):
        warp = _pair_warp(warps, a, b, luma, params, motion, device=device)
        if warp is not None:
            lum = warp.luminance(w)
        else:
            if (a, b) not in cache:
                La = luma(a).to(torch.int64)
                cache[(a, b)] = (La, luma(b).to(torch.int64) - La)
            La, dL = cache[(a, b)]
            lum = La + torch.bitwise_right_shift(dL * w, WEIGHT_BITS)
        acc = acc + lum * params.gain_q16
        fired = acc >= THETA
        out[i] = fired
        if params.reset == "hard":
            acc = torch.where(fired, torch.zeros_like(acc), acc)
        else:
            acc = acc - fired.to(torch.int64) * THETA
    return out


def interpolated_luminance(frame: int, k: int, luma: Callable[[int], np.ndarray],
                           centres2: np.ndarray, interpolation: str,
                           motion: MotionLookup | None = None) -> np.ndarray:
    """The luminance driving frame ``frame`` of segment k, float32 (H, W) in [0, 1]."""
    a, b, w = drive_weights(np.array([frame]), k, centres2, interpolation)
    if interpolation == "motion" and motion is not None and a[0] != b[0]:
        field = motion(int(a[0]))
        if field is not None:
            from spkc.spikes.warp import PairWarp

            lum = PairWarp(luma(int(a[0])), luma(int(b[0])), field).luminance(int(w[0]))
            return (lum / LUMA_MAX).astype(np.float32)
    La = np.asarray(luma(int(a[0]))).astype(np.int64)
    Lb = np.asarray(luma(int(b[0]))).astype(np.int64)
    lum = La + (((Lb - La) * int(w[0])) >> WEIGHT_BITS)
    return (lum / LUMA_MAX).astype(np.float32)


def regenerate(scenes: np.ndarray, frames_per_scene: int, num_frames: int,
               params: RegenParams, motion: MotionLookup | None = None) -> np.ndarray:
    """Regenerate a whole clip from its decoded scenes (K, H, W) float32: (T, H, W) bool.

    ``motion(a)``: the pair (a, a+1)'s MotionField or None (``interpolation="motion"``)."""
    S = int(frames_per_scene)
    K = len(scenes)
    firsts = np.arange(K) * S
    counts = np.minimum(S, num_frames - firsts)
    c2 = scene_centres2(firsts, counts)
    L = luminance_q16(scenes)
    out = [regenerate_segment(k, np.arange(firsts[k], firsts[k] + counts[k]), lambda j: L[j],
                              c2, params, motion) for k in range(K)]
    return np.concatenate(out) if out else np.zeros((0,) + scenes.shape[1:], bool)
