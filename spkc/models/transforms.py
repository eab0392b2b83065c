"""The learned scene codec's transforms: the float analysis ``g_a`` (encoder only) and the
exact fixed-point synthesis ``g_s`` (decoder side, :mod:`spkc.models.exact`)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from spkc.errors import InputError
from spkc.models.attention import SpikeAttention
from spkc.models.exact import ExactLeakyReLU, ExactResBlock, ExactSequential, exact_upsample
from spkc.models.layers import ResBlock, ResBlockStride, TCMBlock


class Analysis(nn.Module):
    """``g_a``: x (B,1,H,W) -> y (B,M,H/16,W/16); a 4x4 space-to-depth stem whose features
    SOAM/BiSOAM modulates (``f + f * A``), then residual, strided and TCM blocks."""

    def __init__(self, c: Mapping[str, int], attention: str | None) -> None:
        super().__init__()
        self.stem = nn.Conv2d(16, c["n1"], 3, padding=1)
        self.attn = (SpikeAttention(c["n1"], c["lstm_hidden"], attention == "bisoam")
                     if attention else None)
        self.body = nn.Sequential(
            ResBlock(c["n1"]),
            ResBlockStride(c["n1"], c["n2"]),
            TCMBlock(c["n2"], c["heads"], c["window"]),
            ResBlockStride(c["n2"], c["ma"]),
            TCMBlock(c["ma"], c["heads"], c["window"]),
            nn.Conv2d(c["ma"], c["m"], 3, padding=1),
        )

    def forward(self, x: torch.Tensor, before: torch.Tensor | None,
                after: torch.Tensor | None) -> torch.Tensor:
        f = self.stem(F.pixel_unshuffle(x, 4))
        if self.attn is not None:
            f = f + f * self.attn(f, before, after)
        return self.body(f)


def synthesis(c: Mapping[str, int]) -> ExactSequential:
    """``g_s``: y (B,M,h,w) -> scene (B,1,16h,16w), exact. Layout (grow_synthesis relies on
    it): upsample, ``gs_depth`` residual blocks, LeakyReLU, upsample, ``gs_depth`` blocks,
    LeakyReLU, 4x upsample to one channel (not re-quantised)."""
    d = c["gs_depth"]
    if d < 1:
        raise InputError(f"config: gs_depth={d} must be at least 1")
    return ExactSequential(
        exact_upsample(c["m"], c["s2"]), *(ExactResBlock(c["s2"]) for _ in range(d)),
        ExactLeakyReLU(),
        exact_upsample(c["s2"], c["s1"]), *(ExactResBlock(c["s1"]) for _ in range(d)),
        ExactLeakyReLU(),
        exact_upsample(c["s1"], 1, r=4, requant=False))
