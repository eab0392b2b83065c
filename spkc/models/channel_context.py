"""Channel-slice context (latent codec for ``y``): the latents are split into K slices of
equal width; slice i's mean and scale come from a conditioning tensor (the hyper features,
later possibly more) and the decoded slices < i, through one exact net per slice
(:mod:`spkc.models.exact`), so encoder and decoder compute the same integers.

Means are snapped to multiples of ``1/MEAN_GRID``; scales are an integer index into the
Gaussian conditional's table (:func:`spkc.models.entropy_models.scale_table`). Symbols
``s = clamp(round(y - mu), -Y_RANGE, Y_RANGE)``; ``y_hat = s + mu`` exactly. The clamp only
bites on residuals beyond +-255 quantisation steps, and the encoder uses the clamped value too
(more distortion, never a desync).

The conditioning is any (B, cond, h, w) tensor: a prior that adds context (e.g. from another
scene) concatenates its features to the hyper features and builds this module with the wider
``cond``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from spkc.errors import SceneCorruptError
from spkc.models.entropy_models import (
    NUM_SCALES,
    SCALE_MIN,
    Y_RANGE,
    YDecoder,
    gauss_bin,
    log_scale_step,
    uniform_like,
)
from spkc.models.exact import (
    A_MAX,
    A_MIN,
    ACT_FRAC,
    ExactConv2d,
    ExactLeakyReLU,
    ExactSequential,
    ste_round,
)

SIDX_OFFSET = 24  #: added to the scale head so that untrained nets start mid-table
MEAN_GRID = 8  #: means are multiples of 1/MEAN_GRID


class ChannelSliceContext(nn.Module):
    """One exact context net per slice; ``ctx[i]`` is slice i's. Its children are named
    ``"0" .. "K-1"`` (the weights files' ``ctx.<i>.`` keys).

    ``cond`` channels of conditioning, ``hidden`` channels inside, ``m`` latent channels in
    ``slices`` slices.
    """

    def __init__(self, cond: int, hidden: int, m: int, slices: int) -> None:
        super().__init__()
        self.slice = s = m // slices
        for i in range(slices):
            self.add_module(str(i), ExactSequential(
                ExactConv2d(cond + i * s, hidden, 3), ExactLeakyReLU(),
                ExactConv2d(hidden, hidden, 1), ExactLeakyReLU(),
                ExactConv2d(hidden, 2 * s, 1)))
        self._log_step = log_scale_step()

    def __getitem__(self, i: int) -> ExactSequential:
        return self._modules[str(i)]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[ExactSequential]:
        return iter(self._modules.values())

    # -- training / estimation path (real units) -------------------------------------------
    def params(self, i: int, cond: torch.Tensor, prev: list[torch.Tensor]
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu snapped to 1/MEAN_GRID, sigma) of slice i, real units (straight-through)."""
        p = self[i](torch.cat([cond, *prev], 1))
        mu = ste_round(p[:, : self.slice] * MEAN_GRID) / MEAN_GRID
        idx = torch.clamp(ste_round(p[:, self.slice:] + SIDX_OFFSET), 0, NUM_SCALES - 1)
        sigma = SCALE_MIN * torch.exp(idx * self._log_step)
        return mu, sigma

    def likelihoods(self, y: torch.Tensor, cond: torch.Tensor, noisy: bool,
                    generators: Sequence[torch.Generator] | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(y_hat, likelihood) of latents ``y`` (B,M,h,w), real units, both (B,M,h,w).

        ``noisy``: likelihoods of the residual plus uniform noise, straight-through rounding
        (training); otherwise exact rounding with the clamp the coder applies."""
        y_hats, liks = [], []
        for i, ys in enumerate(y.split(self.slice, 1)):
            mu, sigma = self.params(i, cond, y_hats)
            r = ys - mu
            if noisy:
                lik = gauss_bin(r + uniform_like(r, generators), sigma)
                y_hats.append(ste_round(r) + mu)
            else:
                rq = torch.clamp(torch.floor(r + 0.5), -Y_RANGE, Y_RANGE)
                lik = gauss_bin(rq, sigma)
                y_hats.append(rq + mu)
            liks.append(lik)
        return torch.cat(y_hats, 1), torch.cat(liks, 1)

    # -- exact path (float64 tensors holding integers, activation units) -------------------
    def params_int(self, i: int, cond: torch.Tensor, prev: list[torch.Tensor]
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu in 1/MEAN_GRID units, scale index) as float64 integers for slice i."""
        p = self[i].forward_int(torch.cat([cond, *prev], 1))
        one = 2**ACT_FRAC
        step = one // MEAN_GRID
        mu8 = torch.floor((p[:, : self.slice] + step // 2) / step)
        idx = torch.floor((p[:, self.slice:] + SIDX_OFFSET * one + one // 2) / one)
        return mu8, torch.clamp(idx, 0, NUM_SCALES - 1)

    @staticmethod
    def _y_hat_int(mu8: torch.Tensor, sym: torch.Tensor) -> torch.Tensor:
        return torch.clamp(mu8 * (2**ACT_FRAC // MEAN_GRID) + sym * 2**ACT_FRAC, A_MIN, A_MAX)

    def quantise_int(self, y: torch.Tensor, cond: torch.Tensor
                     ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The encoder's exact quantisation of ``y`` (B,M,h,w) float64, real units, given the
        exact conditioning: per slice, symbols (B,S,h,w) int32 and scale indices int64."""
        y_hats, syms, idxs = [], [], []
        for i, ys in enumerate(y.split(self.slice, 1)):
            mu8, idx = self.params_int(i, cond, y_hats)
            s = torch.clamp(torch.floor(ys - mu8 / MEAN_GRID + 0.5), -Y_RANGE, Y_RANGE)
            y_hats.append(self._y_hat_int(mu8, s))
            syms.append(s.cpu().numpy().astype(np.int32))
            idxs.append(idx.cpu().numpy().astype(np.int64))
        return syms, idxs

    def decode_int(self, decoders: Sequence[YDecoder], cond: torch.Tensor, table: np.ndarray,
                   fmt: torch.memory_format = torch.contiguous_format
                   ) -> tuple[torch.Tensor, list[np.ndarray]]:
        """Decode scene n's y from ``decoders[n]`` given the exact conditioning ``cond``
        (B,cond,h,w) -> (y_hat (B,M,h,w) float64 integers, each scene's symbols (N,) int32).
        ``table``: the scale table (NUM_SCALES,) float64. Raises SceneCorruptError."""
        yh, yw = cond.shape[-2:]
        y_hats: list[torch.Tensor] = []
        ysyms: list[list[np.ndarray]] = [[] for _ in decoders]
        for i in range(len(self)):
            mu8, idx = self.params_int(i, cond, y_hats)
            idx_np = idx.cpu().numpy().astype(np.int64)
            sl = []
            for n, yc in enumerate(decoders):
                std = table[idx_np[n].ravel()]
                try:
                    sn = yc.decode(std)
                except (ValueError, RuntimeError) as exc:
                    raise SceneCorruptError(f"y stream desynchronised ({exc})",
                                            scene=n) from exc
                ysyms[n].append(sn)
                sl.append(sn.reshape(self.slice, yh, yw))
            sym = torch.from_numpy(np.stack(sl)).to(cond.device, torch.float64)
            y_hats.append(self._y_hat_int(mu8, sym).contiguous(memory_format=fmt))
        return torch.cat(y_hats, 1), [np.concatenate(s) for s in ysyms]
