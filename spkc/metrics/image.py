"""Image quality: PSNR (optionally after an affine fit) and SSIM (Wang et al. 2004)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from spkc.errors import InputError


def _pair(test: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(test, dtype=np.float64)
    b = np.asarray(ref, dtype=np.float64)
    if a.shape != b.shape:
        raise InputError(f"shapes differ: test {a.shape} vs reference {b.shape}")
    if a.size == 0:
        raise InputError("empty images")
    return a, b


def affine_fit(test: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Least-squares ``a*test + b`` closest to ``ref`` (float64, same shape as ``test``).

    For data whose photometric scale is unknown (e.g. TFP in spikes/frame vs a gray-level
    ground truth). A constant ``test`` maps to the mean of ``ref``.
    """
    a, b = _pair(test, ref)
    ta, tb = a.mean(), b.mean()
    var = np.mean((a - ta) ** 2)
    slope = np.mean((a - ta) * (b - tb)) / var if var > 0 else 0.0
    return slope * (a - ta) + tb


def psnr(test: np.ndarray, ref: np.ndarray, peak: float = 1.0, affine_fit: bool = False) -> float:
    """PSNR in dB = 10 log10(peak^2 / MSE) over all elements (any shape); inf when identical.

    ``affine_fit``: first replace ``test`` by the least-squares ``a*test + b`` to ``ref``.
    """
    a, b = _pair(test, ref)
    if affine_fit:
        a = globals()["affine_fit"](a, b)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(float(peak) ** 2 / mse))


def _gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of the last two axes with the 1-D kernel g."""
    n = g.size
    x = sliding_window_view(x, n, axis=-2) @ g
    return sliding_window_view(x, n, axis=-1) @ g


def ssim(test: np.ndarray, ref: np.ndarray, peak: float = 1.0) -> float:
    """Mean SSIM (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03,
    L = ``peak``, 'valid' windows only (no padding). Images are (H, W) or batches (..., H, W)
    with H, W >= 11; the result is the mean over all windows of all images."""
    a, b = _pair(test, ref)
    if a.ndim < 2 or min(a.shape[-2:]) < 11:
        raise InputError(f"SSIM needs images of at least 11x11, got shape {a.shape}")
    g = _gaussian()
    c1 = (0.01 * float(peak)) ** 2
    c2 = (0.03 * float(peak)) ** 2
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    saa = _filter_valid(a * a, g) - mu_a ** 2
    sbb = _filter_valid(b * b, g) - mu_b ** 2
    sab = _filter_valid(a * b, g) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * sab + c2)
    den = (mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2)
    return float(np.mean(num / den))
