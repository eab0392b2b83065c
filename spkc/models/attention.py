"""SOAM / BiSOAM: the spike-sequence attention that modulates the analysis features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpikeAttention(nn.Module):
    """SOAM / BiSOAM: ConvLSTM over spike frames -> attention map (B, ch, H/4, W/4) in (0, 1).

    Spikes are rearranged 4x4 space-to-depth so the LSTM runs at 1/4 resolution (cost). The
    before-sequence runs in time order up to the scene; BiSOAM also runs the after-sequence
    time-reversed (from the far future towards the scene) through the same cell, and a 1x1
    conv fuses both final hidden states.
    """

    def __init__(self, ch: int, hidden: int, bidirectional: bool) -> None:
        super().__init__()
        self.hidden, self.bidirectional = hidden, bidirectional
        self.cell = nn.Conv2d(16 + hidden, 4 * hidden, 3, padding=1)
        self.fuse = nn.Conv2d(hidden * (2 if bidirectional else 1), ch, 1)

    def _run(self, seq: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        b, _, h, w = like.shape
        hs = like.new_zeros(b, self.hidden, h, w)
        cs = like.new_zeros(b, self.hidden, h, w)
        if seq is None:
            return hs
        for t in range(seq.shape[1]):
            xt = F.pixel_unshuffle(seq[:, t:t + 1], 4)
            i, f, o, g = self.cell(torch.cat([xt, hs], 1)).chunk(4, 1)
            cs = torch.sigmoid(f) * cs + torch.sigmoid(i) * torch.tanh(g)
            hs = torch.sigmoid(o) * torch.tanh(cs)
        return hs

    def forward(self, feat: torch.Tensor, before: torch.Tensor | None,
                after: torch.Tensor | None) -> torch.Tensor:
        """``feat`` (B, ch, H/4, W/4) sets the shape; ``before``/``after`` (B, L, H, W) spikes
        (float {0, 1}) or None -> attention map like ``feat``."""
        hb = self._run(before, feat)
        if self.bidirectional:
            ha = self._run(after.flip(1) if after is not None else None, feat)
            hb = torch.cat([hb, ha], 1)
        return torch.sigmoid(self.fuse(hb))
