"""Encoder-side float building blocks of the learned scene codec: residual blocks, Swin-style
window attention and the transformer-CNN mixture (TCM) block. None of them is on the decoder
side, so none needs to be exact (the decoder's layers are in :mod:`spkc.models.exact`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResBlock(nn.Module):
    """``x + conv(lrelu(conv(lrelu(x))))``, 3x3 convs, ``ch`` channels, LeakyReLU slope 1/8."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.leaky_relu(self.c1(F.leaky_relu(x, 0.125)), 0.125))


class ResBlockStride(nn.Module):
    """Residual block that halves the resolution (strided 3x3 conv, 1x1 strided skip)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.c2(F.leaky_relu(self.c1(x), 0.125))


class WindowAttention(nn.Module):
    """Non-overlapping window multi-head self-attention + MLP (Swin-style, unshifted)."""

    def __init__(self, ch: int, heads: int, window: int) -> None:
        super().__init__()
        self.heads, self.window = heads, window
        self.norm1 = nn.LayerNorm(ch)
        self.qkv = nn.Linear(ch, 3 * ch)
        self.proj = nn.Linear(ch, ch)
        self.norm2 = nn.LayerNorm(ch)
        self.mlp = nn.Sequential(nn.Linear(ch, 2 * ch), nn.GELU(), nn.Linear(2 * ch, ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        ws = self.window
        ph, pw = (-h) % ws, (-w) % ws
        t = F.pad(x, (0, pw, 0, ph)) if ph or pw else x
        hh, ww = t.shape[2] // ws, t.shape[3] // ws
        # (B, C, hh, ws, ww, ws) -> (B*hh*ww, ws*ws, C)
        t = t.view(b, c, hh, ws, ww, ws).permute(0, 2, 4, 3, 5, 1).reshape(-1, ws * ws, c)
        q, k, v = self.qkv(self.norm1(t)).chunk(3, dim=-1)
        n = t.shape[0]

        def heads(u: torch.Tensor) -> torch.Tensor:
            return u.view(n, ws * ws, self.heads, c // self.heads).transpose(1, 2)

        a = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))
        t = t + self.proj(a.transpose(1, 2).reshape(n, ws * ws, c))
        t = t + self.mlp(self.norm2(t))
        t = t.view(b, hh, ww, ws, ws, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, hh * ws, ww * ws)
        return t[:, :, :h, :w]


class TCMBlock(nn.Module):
    """Transformer-CNN mixture block: 1x1 split -> (residual conv | window attention) -> 1x1."""

    def __init__(self, ch: int, heads: int, window: int) -> None:
        super().__init__()
        self.half = ch // 2
        self.inp = nn.Conv2d(ch, ch, 1)
        self.conv = ResBlock(self.half)
        self.trans = WindowAttention(ch - self.half, heads, window)
        self.out = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.inp(x)
        a, b = t[:, : self.half], t[:, self.half:]
        return x + self.out(torch.cat([self.conv(a), self.trans(b)], dim=1))


def pad_to(x: torch.Tensor | None, mult: int) -> torch.Tensor | None:
    """``x`` (B, C, H, W) padded at the bottom/right to multiples of ``mult`` by replicating
    its edge (zeros when C == 0); ``None`` stays ``None``."""
    if x is None:
        return None
    h, w = x.shape[-2:]
    ph, pw = (-h) % mult, (-w) % mult
    if not (ph or pw):
        return x
    if x.shape[1] == 0:
        return x.new_zeros(*x.shape[:2], h + ph, w + pw)
    return F.pad(x, (0, pw, 0, ph), mode="replicate")


def count_parameters(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())
