"""Rate and rate-distortion cost of the learned scene codec: what training minimises and what
encoder-side latent refinement minimises per scene (CompressAI's convention: x in [0, 1],
``bpp + lam * 255**2 * MSE``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def bits_per_pixel(likelihoods: Mapping[str, torch.Tensor], pixels: int,
                   y_channel_weights: torch.Tensor | None = None) -> torch.Tensor:
    """(B,) ideal code length of y and z in bits per scene pixel, from the likelihoods of
    :meth:`SceneCompressionModel.forward`. ``y_channel_weights`` (M,) scales each latent
    channel's bits (training only: e.g. a ramp for channels added by
    :func:`spkc.models.surgery.widen_latents`)."""
    bits_y = -torch.log2(likelihoods["y"])
    if y_channel_weights is not None:
        bits_y = bits_y * y_channel_weights.view(1, -1, 1, 1)
    bits_z = -torch.log2(likelihoods["z"])
    return (bits_y.flatten(1).sum(1) + bits_z.flatten(1).sum(1)) / pixels


def rd_cost(bpp: torch.Tensor, mse: torch.Tensor, lam: float) -> torch.Tensor:
    """The rate-distortion cost ``bpp + lam * 255**2 * mse`` (x in [0, 1]), elementwise: the
    one definition training (batch means) and latent refinement (per scene) share."""
    return bpp + lam * 255.0**2 * mse


def rd_terms(out: Mapping[str, Any], x: torch.Tensor, lam: float
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, mean bpp, MSE) as tensors on the model's device, loss = bpp + lam * 255**2 *
    MSE (CompressAI convention; x in [0,1]). No host synchronisation: training loops on a GPU
    keep these and read them only when they log."""
    mse = F.mse_loss(out["x_hat"], x)
    bpp = out["bpp"].mean()
    return rd_cost(bpp, mse, lam), bpp, mse


def rd_loss(out: Mapping[str, Any], x: torch.Tensor, lam: float
            ) -> tuple[torch.Tensor, dict[str, float]]:
    """:func:`rd_terms` with the logs as floats.

    Returns (loss tensor, {"bpp", "mse" (0-1 units), "psnr" (dB, peak 1)}).
    """
    loss, bpp, mse = rd_terms(out, x, lam)
    m = float(mse.detach())
    return loss, {"bpp": float(bpp.detach()), "mse": m,
                  "psnr": float(10 * np.log10(1.0 / max(m, 1e-12)))}
