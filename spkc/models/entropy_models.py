"""Entropy models of the learned scene codec: what the rates are estimated with in training
and what the symbols are coded with (constriction's rANS ``AnsCoder``).

* Factorized prior (hyper-latents ``z``): a learned per-channel pmf over the integers
  ``[-Z_RANGE, Z_RANGE]``, frozen into integer frequency tables (:func:`z_freq_tables`) that
  the weights file ships, coded with ``Categorical``.
* Gaussian conditional (latents ``y``): residual symbols ``[-Y_RANGE, Y_RANGE]`` coded with
  ``QuantizedGaussian(mean=0, std)``, std an entry of a fixed log-spaced table
  (:func:`scale_table`) picked by an integer index, so both sides see the same float64 std.

The integer tables and indices are computed exactly by the decoder-side nets; these functions
only turn them into bits and back.
"""

from __future__ import annotations

from collections.abc import Sequence

import constriction
import numpy as np
import torch

from spkc.models.exact import ste_round

Y_RANGE = 255  #: y symbols live in [-Y_RANGE, Y_RANGE]
Z_RANGE = 15  #: z symbols live in [-Z_RANGE, Z_RANGE]
NUM_SCALES = 64
SCALE_MIN, SCALE_MAX = 0.11, 64.0
Z_FREQ_TOTAL = 1 << 16


def scale_table() -> np.ndarray:
    """(NUM_SCALES,) float64: the std of each scale index, log-spaced SCALE_MIN..SCALE_MAX."""
    return np.exp(np.linspace(np.log(SCALE_MIN), np.log(SCALE_MAX), NUM_SCALES))


def log_scale_step() -> float:
    """The ratio between neighbouring scale-table entries, as a natural log."""
    return float(np.log(SCALE_MAX / SCALE_MIN) / (NUM_SCALES - 1))


def uniform_like(t: torch.Tensor, generators: Sequence[torch.Generator] | None
                 ) -> torch.Tensor:
    """Uniform noise in [-1/2, 1/2) shaped like ``t`` (B, ...): from the global generator, or
    sample n from ``generators[n]`` (so a scene's noise does not depend on its batch)."""
    if generators is None:
        return torch.rand(t.shape, device=t.device, dtype=t.dtype) - 0.5
    return torch.stack([torch.rand(t.shape[1:], generator=g, device=t.device, dtype=t.dtype)
                        for g in generators]) - 0.5


def gauss_bin(r: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """P(bin of width 1 centred on r) under N(0, sigma), computed in the upper tail (stable)."""
    r = r.abs()
    c = torch.special.ndtr
    return c((0.5 - r) / sigma) - c((-0.5 - r) / sigma)


# --- factorized prior (z) ---------------------------------------------------------------------

def z_freq_tables(z_logits: torch.Tensor) -> torch.Tensor:
    """Logits (Nz, 2*Z_RANGE+1) -> int64 frequency tables (sum ~ 2**16, every entry >= 1)."""
    pmf = torch.softmax(z_logits.double(), -1)
    nb = pmf.shape[1]
    return torch.floor(pmf * (Z_FREQ_TOTAL - nb)).long() + 1


def z_likelihood(z: torch.Tensor, pmf: torch.Tensor, noisy: bool,
                 generators: Sequence[torch.Generator] | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(z_hat, likelihood) of hyper-latents ``z`` (B,Nz,h,w), real units, under ``pmf``
    (Nz, 2*Z_RANGE+1). ``noisy``: the likelihood of ``z`` plus uniform noise, interpolated
    between bins, and straight-through rounding (training); otherwise exact rounding."""
    if noisy:
        b = z.shape[0]
        zt = torch.clamp(z + uniform_like(z, generators), -Z_RANGE - 0.5 + 1e-4,
                         Z_RANGE + 0.5 - 1e-4) + Z_RANGE
        lo = torch.clamp(torch.floor(zt), 0, 2 * Z_RANGE - 1)
        frac = zt - lo
        pz = pmf[None, :, :, None, None]
        gather = lambda i: torch.gather(  # noqa: E731
            pz.expand(b, -1, -1, *z.shape[-2:]), 2, i.long().unsqueeze(2)).squeeze(2)
        lik_z = gather(lo) * (1 - frac) + gather(lo + 1) * frac
        z_hat = torch.clamp(ste_round(z), -Z_RANGE, Z_RANGE)
    else:
        z_hat = torch.clamp(torch.floor(z + 0.5), -Z_RANGE, Z_RANGE)
        idx = (z_hat + Z_RANGE).long()
        lik_z = pmf[torch.arange(z.shape[1], device=z.device)[None, :, None, None], idx]
    return z_hat, lik_z


def encode_z(z_sym: np.ndarray, zfreq: np.ndarray) -> bytes:
    """One scene's z symbols (Nz, h, w) integers in [-Z_RANGE, Z_RANGE] -> bytes, channel c
    coded with ``Categorical(zfreq[c])`` (zfreq (Nz, 2*Z_RANGE+1) float64)."""
    zc = constriction.stream.stack.AnsCoder()
    for c in reversed(range(z_sym.shape[0])):
        model = constriction.stream.model.Categorical(zfreq[c], perfect=False)
        zc.encode_reverse(z_sym[c].ravel() + Z_RANGE, model)
    return zc.get_compressed().tobytes()


def decode_z(words: np.ndarray, zfreq: np.ndarray, n: int) -> np.ndarray:
    """:func:`encode_z`'s words (uint32) -> (Nz, n) int32 symbols in [-Z_RANGE, Z_RANGE].
    Damaged streams raise ``ValueError``/``RuntimeError`` (constriction's)."""
    zc = constriction.stream.stack.AnsCoder(words)
    zn = np.stack([zc.decode(constriction.stream.model.Categorical(zfreq[c], perfect=False), n)
                   for c in range(zfreq.shape[0])])
    return zn.astype(np.int32) - Z_RANGE


# --- Gaussian conditional (y) -----------------------------------------------------------------

def _gaussian() -> constriction.stream.model.QuantizedGaussian:
    return constriction.stream.model.QuantizedGaussian(-Y_RANGE, Y_RANGE)


def encode_y(sym: np.ndarray, std: np.ndarray) -> bytes:
    """Symbols (N,) int32 in [-Y_RANGE, Y_RANGE] with their stds (N,) float64 -> bytes."""
    yc = constriction.stream.stack.AnsCoder()
    yc.encode_reverse(sym, _gaussian(), np.zeros_like(std), std)
    return yc.get_compressed().tobytes()


class YDecoder:
    """Decodes one scene's y stream slice by slice (the stds of slice i depend on slices < i).
    Damaged streams raise ``ValueError``/``RuntimeError`` (constriction's)."""

    def __init__(self, words: np.ndarray) -> None:
        self._coder = constriction.stream.stack.AnsCoder(words)
        self._model = _gaussian()

    def decode(self, std: np.ndarray) -> np.ndarray:
        """The next ``len(std)`` symbols (N,) int32."""
        return self._coder.decode(self._model, np.zeros_like(std), std)
