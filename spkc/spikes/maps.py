"""Inter-spike-interval and firing-rate maps; TFP and TFI reconstructions.

Conventions (used by ``spkc.metrics`` too):

* **ISI containing frame t** of a pixel: with ``prev(t)`` the last spike frame ``<= t`` and
  ``next(t)`` the first spike frame ``> t``, ``ISI(t) = next(t) - prev(t)`` frames, so a spike
  frame starts the interval that follows it. **Edges**: a missing ``prev`` counts as a spike at
  frame ``-1`` and a missing ``next`` as a spike at frame ``T`` (just outside the clip). The
  censored interval is therefore a lower bound, never longer than ``T + 1``; a pixel with no
  spike at all gets ``T + 1``.
* **TFI** = ``1 / ISI`` (spikes/frame, in (0, 1]).
* **TFP** and **firing-rate maps** = mean spike count per frame over a window of frames that
  are inside the clip (windows are truncated at the edges, and the mean is over the frames that
  exist, so edges are not biased towards zero).
"""

from __future__ import annotations

import numpy as np

from spkc.errors import InputError


def _spikes3(spikes: np.ndarray, name: str = "spikes") -> np.ndarray:
    s = np.asarray(spikes)
    if s.ndim != 3:
        raise InputError(f"{name} must be (T, H, W), got shape {s.shape}")
    if s.shape[0] == 0:
        raise InputError(f"{name} has no frames")
    return s if s.dtype == np.bool_ else s != 0


def _prev_next(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """prev(t) (last spike <= t, else -1) and next(t) (first spike > t, else T); (T,H,W)
    integers: int16 when T < 2**15 - 1 (half the memory traffic of int32), else int32."""
    T = s.shape[0]
    it = np.int16 if T < 2**15 - 1 else np.int32
    idx = np.arange(T, dtype=it).reshape(T, *([1] * (s.ndim - 1)))
    prev = np.maximum.accumulate(np.where(s, idx, it(-1)), axis=0)
    ge = np.where(s, idx, it(T))
    ge = np.minimum.accumulate(ge[::-1], axis=0)[::-1]  # first spike >= t
    nxt = np.empty_like(ge)
    nxt[:-1] = ge[1:]
    nxt[-1] = T
    return prev, nxt


def isi_map(spikes: np.ndarray) -> np.ndarray:
    """(T, H, W) bool -> (T, H, W) float32: length in frames of the ISI containing each frame
    (edge convention in the module docstring)."""
    s = _spikes3(spikes)
    prev, nxt = _prev_next(s)
    return (nxt - prev).astype(np.float32)


def _window_mean(s: np.ndarray, window: int) -> np.ndarray:
    T = s.shape[0]
    window = int(window)
    if window < 1:
        raise InputError(f"window must be >= 1 frame, got {window}")
    c = np.zeros((T + 1, *s.shape[1:]), dtype=np.int32)
    np.cumsum(s, axis=0, dtype=np.int32, out=c[1:])
    t = np.arange(T)
    lo = np.clip(t - window // 2, 0, T)
    hi = np.clip(t - window // 2 + window, 0, T)
    counts = (c[hi] - c[lo]).astype(np.float32)
    n = (hi - lo).astype(np.float32).reshape(T, *([1] * (s.ndim - 1)))
    return counts / n


def firing_rate_map(spikes: np.ndarray, window: int) -> np.ndarray:
    """(T, H, W) bool -> (T, H, W) float32 spikes/frame: mean over frames
    ``[t - window//2, t - window//2 + window)`` clipped to the clip (mean over existing frames)."""
    return _window_mean(_spikes3(spikes), window)


def tfp(spikes: np.ndarray, center: int | None = None, radius: int | None = None) -> np.ndarray:
    """Texture from playback: mean of frames ``[center-radius, center+radius]`` (clipped to the
    clip) -> (H, W) float32 spikes/frame. ``center`` defaults to T//2, ``radius`` None = all."""
    s = _spikes3(spikes)
    T = s.shape[0]
    c = T // 2 if center is None else int(center)
    if not 0 <= c < T:
        raise InputError(f"center frame {c} outside the {T} frames")
    if radius is None:
        lo, hi = 0, T
    else:
        if int(radius) < 0:
            raise InputError(f"radius must be >= 0, got {radius}")
        lo, hi = max(0, c - int(radius)), min(T, c + int(radius) + 1)
    return s[lo:hi].mean(axis=0, dtype=np.float32)


def tfi(spikes: np.ndarray, center: int | None = None) -> np.ndarray:
    """Texture from interval: ``1 / ISI(center)`` -> (H, W) float32 spikes/frame (edge convention
    in the module docstring). ``center`` defaults to T//2."""
    s = _spikes3(spikes)
    T = s.shape[0]
    c = T // 2 if center is None else int(center)
    if not 0 <= c < T:
        raise InputError(f"center frame {c} outside the {T} frames")
    return _tfi_at(s, c)


def _tfi_at(s: np.ndarray, c: int) -> np.ndarray:
    """1/ISI at frame c of s (T, ...) without building full (T, ...) index maps."""
    T = s.shape[0]
    before = s[c::-1]  # frames c, c-1, ..., 0
    has_prev = before.any(axis=0)
    prev = np.where(has_prev, c - before.argmax(axis=0), -1)
    after = s[c + 1:]
    if after.shape[0]:
        has_next = after.any(axis=0)
        nxt = np.where(has_next, c + 1 + after.argmax(axis=0), T)
    else:
        nxt = np.full(prev.shape, T)
    return (1.0 / (nxt - prev)).astype(np.float32)


def tfp_windows(windows: np.ndarray) -> np.ndarray:
    """Batched TFP: windows (N, L, H, W) bool -> (N, H, W) float32, mean over all L frames."""
    w = np.asarray(windows)
    if w.ndim != 4 or w.shape[1] == 0:
        raise InputError(f"windows must be (N, L, H, W) with L >= 1, got shape {w.shape}")
    return w.mean(axis=1, dtype=np.float32)


def tfi_windows(windows: np.ndarray, centre: int | None = None) -> np.ndarray:
    """Batched TFI at frame ``centre`` (default L//2) of each window: (N, L, H, W) -> (N, H, W).

    The edges are the window's edges (frame -1 and L of the window count as spikes)."""
    w = np.asarray(windows)
    if w.ndim != 4 or w.shape[1] == 0:
        raise InputError(f"windows must be (N, L, H, W) with L >= 1, got shape {w.shape}")
    w = w if w.dtype == np.bool_ else w != 0
    # Put L first so _tfi_at treats (N, H, W) as the pixel axes.
    c = w.shape[1] // 2 if centre is None else int(centre)
    if not 0 <= c < w.shape[1]:
        raise InputError(f"centre {c} outside the window of {w.shape[1]} frames")
    return _tfi_at(np.moveaxis(w, 1, 0), c)
