"""Bjontegaard delta rate and delta PSNR.

``method="cubic"`` (default) is VCEG-M33: a cubic polynomial least-squares fit (exact through 4
points) of one quantity against the other, with rate in log10, integrated over the overlap of the
two curves. ``method="pchip"`` uses piecewise cubic Hermite interpolation (Fritsch-Carlson
derivatives, identical to scipy's ``PchipInterpolator``), as recommended by the JVET CTC. Both
agree with the ``bjontegaard`` package's methods of the same name.
"""

from __future__ import annotations

import numpy as np

from spkc.errors import InputError


def _curve(rate, quality, name: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64).ravel()
    q = np.asarray(quality, dtype=np.float64).ravel()
    if r.size != q.size:
        raise InputError(f"{name}: {r.size} rates but {q.size} quality values")
    if r.size < 2:
        raise InputError(f"{name}: need at least 2 rate-distortion points, got {r.size}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        raise InputError(f"{name}: rates and quality values must be finite")
    if np.any(r <= 0):
        raise InputError(f"{name}: rates must be positive")
    return np.log10(r), q


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h = np.diff(x)
    m = np.diff(y) / h
    n = x.size
    if n == 2:
        return np.array([m[0], m[0]])
    d = np.zeros(n)
    w1 = 2 * h[1:] + h[:-1]
    w2 = h[1:] + 2 * h[:-1]
    same = (np.sign(m[:-1]) * np.sign(m[1:])) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        hm = (w1 + w2) / (w1 / m[:-1] + w2 / m[1:])
    d[1:-1] = np.where(same, hm, 0.0)

    def edge(h0, h1, m0, m1):
        e = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        if np.sign(e) != np.sign(m0):
            return 0.0
        if np.sign(m0) != np.sign(m1) and abs(e) > abs(3 * m0):
            return 3 * m0
        return e

    d[0] = edge(h[0], h[1], m[0], m[1])
    d[-1] = edge(h[-1], h[-2], m[-1], m[-2])
    return d


def _pchip_integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    d = _pchip_slopes(x, y)
    h = np.diff(x)
    m = np.diff(y) / h
    c2 = (3 * m - 2 * d[:-1] - d[1:]) / h
    c3 = (d[:-1] + d[1:] - 2 * m) / h ** 2
    # Integrate each segment's polynomial over its part of [lo, hi] (local coordinate s).
    a = np.clip(lo, x[:-1], x[1:]) - x[:-1]
    b = np.clip(hi, x[:-1], x[1:]) - x[:-1]

    def prim(s):
        return y[:-1] * s + d[:-1] * s ** 2 / 2 + c2 * s ** 3 / 3 + c3 * s ** 4 / 4

    return float(np.sum(prim(b) - prim(a)))


def _cubic_integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    p = np.polyint(np.polyfit(x, y, 3))
    return float(np.polyval(p, hi) - np.polyval(p, lo))


def _bd(x_a, y_a, x_t, y_t, method: str) -> float:
    """Mean of (y_test - y_anchor) over the overlap of the x ranges."""
    lo = max(x_a.min(), x_t.min())
    hi = min(x_a.max(), x_t.max())
    if not hi > lo:
        raise InputError("the two rate-distortion curves do not overlap")
    if method == "cubic":
        if x_a.size < 4 or x_t.size < 4:
            raise InputError("method 'cubic' needs at least 4 points per curve")
        integ = _cubic_integral
    elif method == "pchip":
        integ = _pchip_integral
    else:
        raise InputError(f"unknown BD method {method!r}; use 'cubic' or 'pchip'")
    oa, ot = np.argsort(x_a), np.argsort(x_t)
    if np.any(np.diff(x_a[oa]) == 0) or np.any(np.diff(x_t[ot]) == 0):
        raise InputError("repeated values on the integration axis")
    ia = integ(x_a[oa], y_a[oa], lo, hi)
    it = integ(x_t[ot], y_t[ot], lo, hi)
    return (it - ia) / (hi - lo)


def bd_rate(rate_anchor, psnr_anchor, rate_test, psnr_test, method: str = "cubic") -> float:
    """Bjontegaard delta rate in percent (negative = test needs fewer bits for equal PSNR)."""
    lr_a, q_a = _curve(rate_anchor, psnr_anchor, "anchor")
    lr_t, q_t = _curve(rate_test, psnr_test, "test")
    return float((10 ** _bd(q_a, lr_a, q_t, lr_t, method) - 1) * 100)


def bd_psnr(rate_anchor, psnr_anchor, rate_test, psnr_test, method: str = "cubic") -> float:
    """Bjontegaard delta PSNR in dB (positive = test has higher quality at equal rate)."""
    lr_a, q_a = _curve(rate_anchor, psnr_anchor, "anchor")
    lr_t, q_t = _curve(rate_test, psnr_test, "test")
    return float(_bd(lr_a, q_a, lr_t, q_t, method))
