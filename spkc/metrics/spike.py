"""Spike-stream fidelity and rate accounting.

Definitions (both maps in spikes/frame, so the peak value is 1 spike/frame):

* **ISI-PSNR**: PSNR, peak 1, between the per-frame TFI maps ``1 / ISI(t)`` of the two streams
  over all T*H*W frames and pixels, where ``ISI(t)`` is the inter-spike interval containing
  frame t (:func:`spkc.spikes.isi_map`): the interval ``[prev, next)`` with prev the last spike
  at or before t and next the first spike after t. **Edges**: a missing prev counts as a spike
  at frame -1, a missing next as a spike at frame T, i.e. censored intervals are cut at the clip
  edges (so a pixel with no spikes has ISI = T + 1 everywhere; identical streams score inf).
* **Firing-rate PSNR**: PSNR, peak 1, between sliding-window firing-rate maps
  (:func:`spkc.spikes.firing_rate_map`): for each frame t the mean spike count over frames
  ``[t - window//2, t - window//2 + window)``; at the edges the window is cut to the frames that
  exist and the mean is over those frames (no zero padding, so edges are not biased).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from spkc.errors import InputError
from spkc.metrics.image import psnr
from spkc.spikes.maps import firing_rate_map, isi_map


def _spike_pair(test: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(test), np.asarray(ref)
    if a.shape != b.shape:
        raise InputError(f"spike streams differ in shape: test {a.shape} vs reference {b.shape}")
    if a.ndim != 3:
        raise InputError(f"spike streams must be (T, H, W), got shape {a.shape}")
    return a, b


def isi_psnr(test_spikes: np.ndarray, ref_spikes: np.ndarray) -> float:
    """ISI-PSNR in dB between two (T, H, W) bool streams (definition in the module docstring)."""
    a, b = _spike_pair(test_spikes, ref_spikes)
    return psnr(1.0 / isi_map(a), 1.0 / isi_map(b), peak=1.0)


def firing_rate_psnr(test_spikes: np.ndarray, ref_spikes: np.ndarray, window: int = 41) -> float:
    """Firing-rate PSNR in dB (window in frames; definition in the module docstring)."""
    a, b = _spike_pair(test_spikes, ref_spikes)
    return psnr(firing_rate_map(a, window), firing_rate_map(b, window), peak=1.0)


def _pixels(shape: Sequence[int]) -> int:
    n = math.prod(int(s) for s in shape)
    if n <= 0:
        raise InputError(f"shape {tuple(shape)} has no pixels")
    return n


def bits_per_spike_pixel(nbytes: int, shape: Sequence[int]) -> float:
    """Bits per pixel per frame: 8*nbytes / (T*H*W) for a stream of ``shape`` (T, H, W)
    (raw .dat is 1.0)."""
    return 8.0 * float(nbytes) / _pixels(shape)


def compression_ratio(nbytes: int, shape: Sequence[int]) -> float:
    """Raw size at 1 bit/pixel/frame divided by ``nbytes``."""
    if nbytes <= 0:
        raise InputError(f"compressed size must be positive, got {nbytes} bytes")
    return _pixels(shape) / 8.0 / float(nbytes)
