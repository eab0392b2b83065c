"""Metrics: image PSNR/SSIM, spike-stream ISI-PSNR and firing-rate PSNR, rate accounting,
Bjontegaard deltas. numpy only (plus :mod:`spkc.spikes` for the ISI / rate maps)."""

from spkc.metrics.bjontegaard import bd_psnr, bd_rate
from spkc.metrics.image import affine_fit, psnr, ssim
from spkc.metrics.spike import (
    bits_per_spike_pixel,
    compression_ratio,
    firing_rate_psnr,
    isi_psnr,
)

__all__ = [
    "affine_fit",
    "bd_psnr",
    "bd_rate",
    "bits_per_spike_pixel",
    "compression_ratio",
    "firing_rate_psnr",
    "isi_psnr",
    "psnr",
    "ssim",
]
