"""Hyperprior (latent codec for the side information ``z``): ``h_a`` (encoder, float32)
maps the latents ``y`` to ``z`` at half their resolution, rounded to integers in
``[-Z_RANGE, Z_RANGE]`` and coded with a factorized prior
(:mod:`spkc.models.entropy_models`); ``h_s`` (exact, :mod:`spkc.models.exact`) turns the
decoded ``z`` into the hyper features that condition the context of ``y``
(:mod:`spkc.models.channel_context`).

A mixin, not a submodule: the weights format (``spkc-learned-1``) names these parameters
``h_a.*``, ``h_s.*`` and ``z_logits`` at the model's top level, and resumable training
checkpoints depend on the model's parameter order, so they stay attributes of the model.
A model class composes it by calling :meth:`build_hyperprior` in its ``__init__``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from spkc.models.entropy_models import Z_RANGE, z_freq_tables, z_likelihood
from spkc.models.exact import (
    ACT_FRAC,
    ExactConv2d,
    ExactLeakyReLU,
    ExactSequential,
    exact_upsample,
)


class Hyperprior:
    """Mixin for an ``nn.Module``: adds ``h_a``, ``h_s``, ``z_logits`` (Nz, 2*Z_RANGE+1) and
    the frozen integer tables ``z_freq`` (a non-persistent buffer; the weights file carries
    it)."""

    h_a: nn.Sequential
    h_s: ExactSequential
    z_logits: nn.Parameter
    z_freq: torch.Tensor

    def build_hyperprior(self, m: int, nh: int, nz: int, hc: int) -> None:
        """``m`` latent channels, ``nh`` hidden, ``nz`` hyper-latent channels, ``hc`` channels
        of hyper features."""
        self.h_a = nn.Sequential(nn.Conv2d(m, nh, 3, padding=1), nn.LeakyReLU(0.125),
                                 nn.Conv2d(nh, nz, 3, stride=2, padding=1))
        self.h_s = ExactSequential(exact_upsample(nz, nh), ExactLeakyReLU(),
                                   ExactConv2d(nh, hc, 3), ExactLeakyReLU())

    def build_z_prior(self, nz: int) -> None:
        """The factorized prior's logits (a Laplace-like start) and empty tables."""
        self.z_logits = nn.Parameter(
            -0.5 * torch.arange(-Z_RANGE, Z_RANGE + 1).abs().float().repeat(nz, 1))
        self.register_buffer("z_freq", torch.zeros(nz, 2 * Z_RANGE + 1, dtype=torch.int64),
                             persistent=False)

    def update_tables(self) -> None:
        """Freeze the z prior into integer frequency tables (sum ~ 2**16, every entry >= 1)."""
        with torch.no_grad():
            self.z_freq.copy_(z_freq_tables(self.z_logits))

    def _z_pmf(self) -> torch.Tensor:
        if self.training or int(self.z_freq.sum()) == 0:
            return torch.softmax(self.z_logits, -1)
        f = self.z_freq.float()
        return f / f.sum(-1, keepdim=True)

    def hyper_decode(self, z: torch.Tensor, noisy: bool,
                     generators: Sequence[torch.Generator] | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """(hyper features (B,hc,2h,2w), likelihood of ``z`` (B,Nz,h,w)) for hyper-latents
        ``z``, real units (see :func:`spkc.models.entropy_models.z_likelihood`)."""
        z_hat, lik_z = z_likelihood(z, self._z_pmf(), noisy, generators)
        return self.h_s(z_hat), lik_z

    def hyper_int(self, z_sym: torch.Tensor,
                  fmt: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
        """Exact hyper features (activation units, float64 integers) of the z symbols
        (B,Nz,h,w) float64 integers, computed in memory format ``fmt``."""
        return self.h_s.forward_int((z_sym * 2**ACT_FRAC).contiguous(memory_format=fmt))

    @staticmethod
    def z_symbols(z: torch.Tensor) -> torch.Tensor:
        """The encoder's rounding of ``z`` to symbols: float64 integers in [-Z_RANGE, Z_RANGE]."""
        return torch.clamp(torch.floor(z.double() + 0.5), -Z_RANGE, Z_RANGE)
