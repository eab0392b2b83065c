"""Encoder-side motion estimation for motion-compensated interpolation (informative).

The decoder's warp (:mod:`spkc.spikes.warp`) is normative; how the encoder picks the vectors
is not. This estimator sees what the decoder cannot: the spikes between scene times. For a
scene pair (a, a+1) it

1. searches block vectors coarse to fine by *bilateral* matching of the two reconstructed
   scenes (content at the pair's grid position p sits at ``p - v/2`` in scene a and at
   ``p + v/2`` in scene a+1): an exhaustive integer search at 1/4 resolution, then +-2 pixels
   and +-2 quarter pixels at full resolution;
2. scores the full-resolution candidates also against short-window firing-rate images (TFP)
   of the spikes at intermediate times, predicted exactly as the decoder will (warp both
   scenes, blend in time), so the vector that explains the frames in between wins;
3. picks each block's blend mode (linear / lean on scene a / lean on scene a+1) by the same
   intermediate-frame error: where content is occluded or uncovered, one side is wrong.

Float arithmetic is fine here: only the decoder must be exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spkc.spikes.warp import MAX_VECTOR, MotionField, grid_shape

#: one intermediate target: (alpha in (0, 1) from scene a to scene a+1, (H, W) float image)
Target = tuple[float, np.ndarray]


class _Padded:
    """An image with one replicated row and column appended, flattened for fast gathers."""

    def __init__(self, img: np.ndarray) -> None:
        self.H, self.W = img.shape
        self.flat = np.pad(np.asarray(img, np.float32), ((0, 1), (0, 1)), mode="edge").ravel()


def _sample(img: np.ndarray | _Padded, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bilinear sample of img (H, W) at float positions (replicated border), float32."""
    p = img if isinstance(img, _Padded) else _Padded(img)
    y = np.clip(y, 0, p.H - 1).astype(np.float32, copy=False)
    x = np.clip(x, 0, p.W - 1).astype(np.float32, copy=False)
    y0 = y.astype(np.int32)  # non-negative: truncation is floor
    x0 = x.astype(np.int32)
    fy = y - y0
    fx = x - x0
    i = y0 * (p.W + 1) + x0
    f = p.flat
    top = f.take(i)
    top += (f.take(i + 1) - top) * fx
    bot = f.take(i + p.W + 1)
    bot += (f.take(i + p.W + 2) - bot) * fx
    return top + (bot - top) * fy


def _block_sum(err: np.ndarray, block: int, grid: tuple[int, int]) -> np.ndarray:
    """Sum of err (H, W) over each block of the grid (edge blocks padded with zeros)."""
    rows, cols = grid
    H, W = err.shape
    pad = np.zeros((rows * block, cols * block), np.float64)
    pad[:H, :W] = err
    return pad.reshape(rows, block, cols, block).sum(axis=(1, 3))


def _downsample(img: np.ndarray, f: int) -> np.ndarray:
    H, W = img.shape
    h, w = -(-H // f), -(-W // f)
    pad = np.pad(img, ((0, h * f - H), (0, w * f - W)), mode="edge")
    return pad.reshape(h, f, w, f).mean(axis=(1, 3)).astype(np.float32)


def _predict(A: np.ndarray | _Padded, B: np.ndarray | _Padded, yy: np.ndarray,
             xx: np.ndarray, vy: np.ndarray, vx: np.ndarray, alpha: float,
             mode: int = 0) -> np.ndarray:
    """Frame at ``alpha`` between A and B under per-pixel vectors (pixels), as the decoder
    blends it (in float)."""
    a = _sample(A, yy - alpha * vy, xx - alpha * vx)
    b = _sample(B, yy + (1 - alpha) * vy, xx + (1 - alpha) * vx)
    wb = (alpha, alpha * alpha, 2 * alpha - alpha * alpha)[mode]  # warp.mode_weights
    return a * np.float32(1 - wb) + b * np.float32(wb)


def estimate_pair(A: np.ndarray, B: np.ndarray, targets: Sequence[Target] = (),
                  block: int = 16, search: int = 48, coarse: int = 4,
                  smooth: float = 2e-4) -> MotionField:
    """Motion of the scene pair (A, B), each (H, W) float in [0, 1] (the encoder's scenes).

    ``targets``: intermediate-time images (alpha, (H, W) float in the scenes' units), e.g.
    short-window TFP of the spikes; ``search``: largest vector component, pixels;
    ``smooth``: per-pixel cost per pixel of vector length (prefers small, cheap vectors where
    matching cannot tell). Returns the :class:`MotionField` (quarter-pixel vectors).
    """
    A = np.asarray(A, np.float32)
    B = np.asarray(B, np.float32)
    H, W = A.shape
    Ap, Bp = _Padded(A), _Padded(B)
    grid = grid_shape(H, W, block)
    rows = np.minimum(np.arange(H) // block, grid[0] - 1)
    cols = np.minimum(np.arange(W) // block, grid[1] - 1)
    pick = np.ix_(rows, cols)

    nb = grid[0] * grid[1]

    def level(f: int):
        """Images, pixel positions and block labels at 1/f resolution."""
        Af = Ap if f == 1 else _Padded(_downsample(A, f))
        Bf = Bp if f == 1 else _Padded(_downsample(B, f))
        yf, xf = np.meshgrid(np.arange(Af.H, dtype=np.float32),
                             np.arange(Af.W, dtype=np.float32), indexing="ij")
        lab = (np.minimum(np.arange(Af.H) * f // block, grid[0] - 1)[:, None] * grid[1]
               + np.minimum(np.arange(Af.W) * f // block, grid[1] - 1)[None, :]).ravel()
        return Af, Bf, yf, xf, lab

    def cost_at(lv, f: int, cy: np.ndarray, cx: np.ndarray, use_targets: bool) -> np.ndarray:
        """Per-block cost (grid) of vectors cy, cx (full-resolution pixels) at level f."""
        Af, Bf, yf, xf, lab = lv
        py = (cy.ravel()[lab] / f).astype(np.float32).reshape(yf.shape)
        px = (cx.ravel()[lab] / f).astype(np.float32).reshape(yf.shape)
        d = (_sample(Af, yf - py / 2, xf - px / 2) - _sample(Bf, yf + py / 2, xf + px / 2))
        total = np.bincount(lab, (d * d).ravel(), nb) * (f * f)
        for alpha, img in (targets if use_targets else ()):
            e = _predict(Af, Bf, yf, xf, py, px, alpha) - img
            total = total + np.bincount(lab, (e * e).ravel(), nb)
        pen = smooth * block * block * (np.abs(cy) + np.abs(cx))
        return total.reshape(grid) + pen

    def search_at(lv, f: int, vy, vx, cands, use_targets: bool):
        best = cost_at(lv, f, vy, vx, use_targets)
        by, bx = vy.copy(), vx.copy()
        for cy, cx in cands:
            c = cost_at(lv, f, cy, cx, use_targets)
            better = c < best
            best = np.where(better, c, best)
            by = np.where(better, cy, by)
            bx = np.where(better, cx, bx)
        return by, bx

    def median_of(v: np.ndarray) -> np.ndarray:
        pad = np.pad(v, 1, mode="edge")
        stack = [pad[i:i + grid[0], j:j + grid[1]] for i in range(3) for j in range(3)]
        return np.median(np.stack(stack), axis=0)

    # 1. exhaustive bilateral search at 1/coarse resolution (steps of `coarse` pixels)
    f = max(1, int(coarse))
    rc = max(1, int(search) // f)
    zero = np.zeros(grid)
    lv = level(f)
    vy, vx = search_at(lv, f, zero, zero,
                       ((zero + dy * f, zero + dx * f) for dy in range(-rc, rc + 1)
                        for dx in range(-rc, rc + 1) if dy or dx), False)
    # 2. halve the step level by level down to full resolution, then quarter pixels; each
    # level also tries the neighbours' median (coherent motion, cheaper side information).
    # The quarter-pixel step, which decides what the decoder shows between the scene times,
    # also matches the intermediate frames.
    steps = []
    g = f
    while g > 1:
        g //= 2
        steps.append((g, float(g)))
    steps.append((1, 0.25))
    for g, step in steps:
        lv = level(g)
        use = step < 1
        cands = [(vy + dy * step, vx + dx * step) for dy in range(-2, 3) for dx in range(-2, 3)
                 if dy or dx]
        cands.append((median_of(vy), median_of(vx)))
        vy, vx = search_at(lv, g, vy, vx, cands, use)

    qy = np.clip(np.rint(vy * 4), -MAX_VECTOR, MAX_VECTOR).astype(np.int16)
    qx = np.clip(np.rint(vx * 4), -MAX_VECTOR, MAX_VECTOR).astype(np.int16)

    # 3. blend mode per block from the intermediate frames
    mode = np.zeros(grid, np.uint8)
    if targets:
        yy, xx = lv[2], lv[3]  # full resolution
        py, px = (qy[pick] / 4).astype(np.float32), (qx[pick] / 4).astype(np.float32)
        errs = []
        for m in (0, 1, 2):
            e = sum(_block_sum((_predict(Ap, Bp, yy, xx, py, px, al, m) - img) ** 2, block, grid)
                    for al, img in targets)
            errs.append(e)
        errs = np.stack(errs)
        choice = np.argmin(errs, axis=0)
        # switch away from the blend only for a clear win (modes cost bits, noise is noise)
        gain = errs[0] - errs.min(axis=0)
        mode = np.where(gain > 0.1 * errs[0], choice, 0).astype(np.uint8)
    return MotionField(int(block), qy, qx, mode)


def tfp_target(spikes: np.ndarray, scale: float) -> np.ndarray:
    """Mean firing rate of a (n, H, W) bool window, in scene units (rate / ``scale``)."""
    return np.clip(spikes.mean(axis=0, dtype=np.float32) / np.float32(scale), 0, 1)
