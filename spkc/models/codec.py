"""Learned scene (image) codec: TCM analysis, exact fixed-point decoder, SOAM/BiSOAM attention.

Public API (stable; the training code relies on it)::

    m = SceneCompressionModel(config="compact", attention="bisoam")   # or "soam" / None
    out = m(x, spikes_before, spikes_after)
        # x (B,1,H,W) float32 in [0,1]; spikes_* (B,L,H,W) float {0,1} or None
        # -> {"x_hat": (B,1,H,W) float32, "bpp": (B,) float32 estimated bits/pixel,
        #     "likelihoods": {"y": (B,M,h,w), "z": (B,Nz,h',w')},
        #     "y_hat": (B,M,h,w) the latents the synthesis decodes (quantised in eval mode)}
    loss, logs = rd_loss(out, x, lam)        # bpp + lam * 255**2 * MSE; logs bpp/mse/psnr
    loss, bpp, mse = rd_terms(out, x, lam)   # the same as tensors (no GPU sync)
    m.attention_parameters()                 # SOAM/BiSOAM parameters (stage III)
    m.save_weights(path); m.load_weights(path)            # safetensors, no pickle
    payloads = m.compress(x, spikes_before, spikes_after)  # list of {"z","y","meta"} bytes
    payloads = m.compress(x, sb, sa, refine_steps=100, lam=0.025)  # latents refined first
    y = m.analyse(x, spikes_before, spikes_after)  # g_a: latents, not quantised
    out = m.from_latents(y, z, h, w, noisy)  # forward's decoder half on given latents
    x_hat = m.decompress(payloads)           # (B,1,H,W) float32, bit-exact everywhere
    bpp = bits_per_pixel(out["likelihoods"], h * w)      # forward's rate (weights per channel)
    big = grow_model(m, "wide")              # larger config, same decoded scenes (training)

In training mode ``forward`` uses additive uniform noise for the rates and straight-through
rounding for the decoder input (mixed quantisation); in eval mode it rounds exactly as
``compress`` does, so its ``bpp`` is the ideal code length of the real symbols.

Architecture (paper: SpikeCodec's TCM image codec with hyperprior and feature-level attention):

* ``g_a`` (encoder only, float32): a patchify stem (4x4 space-to-depth + 3x3 conv) replaces the
  paper's first analysis layer; its features ``f`` are modulated by the attention map ``A`` of
  SOAM / BiSOAM through a residual ``f' = f + f * A`` (the paper's feature-level attention);
  then residual blocks, strided residual blocks and transformer-CNN mixture (TCM) blocks (conv
  branch + window self-attention branch, mixed by 1x1 convs) down to ``y`` at 1/16 resolution.
* SOAM: a ConvLSTM over the L spike frames before the scene time (4x4 space-to-depth, at 1/4
  resolution to keep FLOPs low); BiSOAM runs the time-reversed L frames after the scene time
  through the *same* ConvLSTM and fuses both hidden states with a 1x1 conv; ``A = sigmoid``.
* ``h_a`` (encoder, float32) -> ``z`` at 1/32 resolution, rounded to integers in
  ``[-z_range, z_range]``; factorized prior: a learned per-channel pmf over those integers,
  shipped as integer frequency tables and coded with constriction ``Categorical``.
* Decoder side -- ``h_s``, the channel-slice context / entropy-parameter nets and ``g_s`` -- are
  fixed-point integer networks (:mod:`spkc.models.exact`) evaluated in float64 on integers, so
  their outputs are bit-identical on any device, thread count, batch size or memory format.
  **Deviation from the paper**: ``g_s`` is CNN-only (no TCM/attention: softmax is not exact)
  and upsamples by conv + pixel shuffle instead of transposed convs.
* Channel-slice context (parallel decoding): ``y`` is split into K slices; slice i's mean and
  scale come from the hyper features and the decoded slices < i. Means are snapped to
  multiples of 1/8, scales are an integer index into a fixed log-spaced table (shipped in the
  weights file as float64). Symbols ``s = clamp(round(y - mu), -Y_RANGE, Y_RANGE)`` are coded
  with constriction ``QuantizedGaussian(mean=0, std=table[idx])``; ``y_hat = s + mu`` exactly.
  The clamp only bites on residuals beyond +-255 quantisation steps; when it does, the encoder
  uses the clamped value too (more distortion, never a desync), so both sides stay in step.
* Output: ``u = floor(clamp(g_s, 0, 1) * 65535 + 1/2)`` computed on integers; the scene is
  ``u / 65535`` as float32 (16-bit exact).
* Integrity: each payload's ``meta`` carries a CRC-32C of the decoded symbols; a mismatch (a
  corrupted or desynchronised stream) raises :class:`spkc.errors.SceneCorruptError`.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import constriction
import crc32c
import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file
from torch import nn

from spkc._util import read_maybe_zstd
from spkc.errors import InputError, MissingWeightsError, SceneCorruptError
from spkc.models.exact import (
    A_MAX,
    A_MIN,
    ACT_FRAC,
    WEIGHT_FRAC,
    ExactConv2d,
    ExactLeakyReLU,
    ExactResBlock,
    ExactSequential,
    exact_upsample,
    float_surrogate,
    ste_round,
)

CONFIGS: dict[str, dict[str, int]] = {
    # 3.03 GFLOP / 250x400 scene with BiSOAM, 1.55 without (tools/bench_learned.py); 0.75 M
    # parameters = 1.5 MB per shipped weights set (4 qualities x learned/baseline x versions)
    "compact": dict(n1=32, n2=48, m=64, slices=4, nh=48, nz=32, hc=64, cc=48, heads=2,
                    window=8, lstm_hidden=8),
    # compact's widths with three residual blocks per synthesis scale instead of one (+0.12 M
    # parameters, +0.24 MB per set): a deeper decoder, grown from compact weights by
    # grow_synthesis so that training starts from compact's function
    "deep": dict(n1=32, n2=48, m=64, slices=4, nh=48, nz=32, hc=64, cc=48, heads=2,
                 window=8, lstm_hidden=8, gs_depth=3),
    # compact with twice the latent channels (m=128 in 8 slices; the analysis body stays 64
    # wide, ma): with MSE-optimal latents compact's synthesis reaches only 1-2 dB above what
    # it codes, so the latent width, not the rate, bounds quality. Grown from compact weights
    # by widen_latents (same decoded scenes at the start)
    "wide": dict(n1=32, n2=48, m=128, ma=64, slices=8, nh=48, nz=32, hc=64, cc=48, heads=2,
                 window=8, lstm_hidden=8),
    # wide with a wider synthesis body too (s2=64 channels at 1/8, s1=48 at 1/4; the analysis
    # keeps compact's): 1.39 M parameters, 2.8 MB per set. Grown from compact by grow_model
    "broad": dict(n1=32, n2=48, m=128, ma=64, s1=48, s2=64, slices=8, nh=48, nz=32, hc=64,
                  cc=48, heads=2, window=8, lstm_hidden=8),
    # 1.69 M parameters = 3.0 MB per weights set: the most 8 sets (4 qualities x learned /
    # baseline) can have inside the 25 MB budget for all shipped weights
    "medium": dict(n1=48, n2=64, m=96, slices=4, nh=64, nz=48, hc=96, cc=64, heads=2,
                   window=8, lstm_hidden=8),
    # the paper's size (~49 M parameters); config only, no shipped weights
    "paper": dict(n1=192, n2=384, m=384, slices=6, nh=320, nz=192, hc=640, cc=448, heads=8,
                  window=8, lstm_hidden=64),
    # for fast tests only
    "tiny": dict(n1=8, n2=16, m=16, slices=2, nh=16, nz=8, hc=16, cc=16, heads=1, window=4,
                 lstm_hidden=4),
}
QUALITY_LAMBDAS: dict[int, float] = {1: 0.0067, 2: 0.013, 3: 0.025, 4: 0.05}

PAD = 32  #: inputs are padded (replicate) to a multiple of this
Y_RANGE = 255  #: y symbols live in [-Y_RANGE, Y_RANGE]
Z_RANGE = 15  #: z symbols live in [-Z_RANGE, Z_RANGE]
NUM_SCALES = 64
SCALE_MIN, SCALE_MAX = 0.11, 64.0
SIDX_OFFSET = 24  #: added to the scale head so that untrained nets start mid-table
MEAN_GRID = 8  #: means are multiples of 1/MEAN_GRID
REFINE_LR = 0.05  #: Adam step of latent refinement (latents are in quantisation steps)
Z_FREQ_TOTAL = 1 << 16
META = struct.Struct("<4sHHI")
MAGIC = b"LSC1"


#: config keys added after weights were first shipped, with the value older files imply
CONFIG_DEFAULTS: dict[str, int] = {"gs_depth": 1}  # residual blocks per synthesis scale


def _resolve_config(config: str | Mapping[str, Any]) -> dict[str, int]:
    if isinstance(config, str):
        if config not in CONFIGS:
            raise InputError(f"unknown learned-codec config {config!r}; choose from "
                             f"{sorted(CONFIGS)}")
        cfg = {**CONFIG_DEFAULTS, **CONFIGS[config]}
    else:
        cfg = {**CONFIG_DEFAULTS, **CONFIGS["compact"]}
        cfg.update({k: int(v) for k, v in config.items()})
    # widths the analysis and synthesis shared before they could differ: analysis body ma
    # (default m), synthesis at 1/8 and 1/4 resolution s2, s1 (default the analysis' n2, n1)
    cfg.setdefault("ma", cfg["m"])
    cfg.setdefault("s2", cfg["n2"])
    cfg.setdefault("s1", cfg["n1"])
    return cfg


# --- encoder-side float modules --------------------------------------------------------------

class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.leaky_relu(self.c1(F.leaky_relu(x, 0.125)), 0.125))


class ResBlockStride(nn.Module):
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
        hb = self._run(before, feat)
        if self.bidirectional:
            ha = self._run(after.flip(1) if after is not None else None, feat)
            hb = torch.cat([hb, ha], 1)
        return torch.sigmoid(self.fuse(hb))


class Analysis(nn.Module):
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


# --- the model ---------------------------------------------------------------------------------

def _pad_to(x: torch.Tensor | None, mult: int) -> torch.Tensor | None:
    if x is None:
        return None
    h, w = x.shape[-2:]
    ph, pw = (-h) % mult, (-w) % mult
    if not (ph or pw):
        return x
    if x.shape[1] == 0:
        return x.new_zeros(*x.shape[:2], h + ph, w + pw)
    return F.pad(x, (0, pw, 0, ph), mode="replicate")


def _uniform_like(t: torch.Tensor, generators: Sequence[torch.Generator] | None
                  ) -> torch.Tensor:
    """Uniform noise in [-1/2, 1/2) shaped like ``t`` (B, ...): from the global generator, or
    sample n from ``generators[n]`` (so a scene's noise does not depend on its batch)."""
    if generators is None:
        return torch.rand(t.shape, device=t.device, dtype=t.dtype) - 0.5
    return torch.stack([torch.rand(t.shape[1:], generator=g, device=t.device, dtype=t.dtype)
                        for g in generators]) - 0.5


def _gauss_bin(r: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """P(bin of width 1 centred on r) under N(0, sigma), computed in the upper tail (stable)."""
    r = r.abs()
    c = torch.special.ndtr
    return c((0.5 - r) / sigma) - c((-0.5 - r) / sigma)


class SceneCompressionModel(nn.Module):
    """Learned scene codec; see the module docstring for the API and the design."""

    def __init__(self, config: str | Mapping[str, Any] = "compact",
                 attention: str | None = "bisoam") -> None:
        super().__init__()
        if attention not in ("bisoam", "soam", None):
            raise InputError(f"attention must be 'bisoam', 'soam' or None, not {attention!r}")
        self.config_name = config if isinstance(config, str) else "custom"
        self.cfg = c = _resolve_config(config)
        self.attention = attention
        m, k = c["m"], c["slices"]
        if m % k:
            raise InputError(f"config: m={m} is not divisible by slices={k}")
        self.slice = s = m // k
        self.g_a = Analysis(c, attention)
        self.h_a = nn.Sequential(nn.Conv2d(m, c["nh"], 3, padding=1), nn.LeakyReLU(0.125),
                                 nn.Conv2d(c["nh"], c["nz"], 3, stride=2, padding=1))
        self.h_s = ExactSequential(exact_upsample(c["nz"], c["nh"]), ExactLeakyReLU(),
                                   ExactConv2d(c["nh"], c["hc"], 3), ExactLeakyReLU())
        self.ctx = nn.ModuleList(
            ExactSequential(ExactConv2d(c["hc"] + i * s, c["cc"], 3), ExactLeakyReLU(),
                            ExactConv2d(c["cc"], c["cc"], 1), ExactLeakyReLU(),
                            ExactConv2d(c["cc"], 2 * s, 1))
            for i in range(k))
        d = c["gs_depth"]
        if d < 1:
            raise InputError(f"config: gs_depth={d} must be at least 1")
        self.g_s = ExactSequential(
            exact_upsample(m, c["s2"]), *(ExactResBlock(c["s2"]) for _ in range(d)),
            ExactLeakyReLU(),
            exact_upsample(c["s2"], c["s1"]), *(ExactResBlock(c["s1"]) for _ in range(d)),
            ExactLeakyReLU(),
            exact_upsample(c["s1"], 1, r=4, requant=False))
        self.z_logits = nn.Parameter(
            -0.5 * torch.arange(-Z_RANGE, Z_RANGE + 1).abs().float().repeat(c["nz"], 1))
        table = np.exp(np.linspace(np.log(SCALE_MIN), np.log(SCALE_MAX), NUM_SCALES))
        self.register_buffer("scale_table", torch.from_numpy(table), persistent=False)
        self.register_buffer("z_freq", torch.zeros(c["nz"], 2 * Z_RANGE + 1, dtype=torch.int64),
                             persistent=False)
        self._log_step = float(np.log(SCALE_MAX / SCALE_MIN) / (NUM_SCALES - 1))

    # -- parameters -------------------------------------------------------------------------
    def attention_parameters(self) -> list[nn.Parameter]:
        """Parameters of SOAM/BiSOAM (empty for the baseline), for stage-III training."""
        return list(self.g_a.attn.parameters()) if self.g_a.attn is not None else []

    def train_attention_only(self) -> list[nn.Parameter]:
        """Stage III-attn: freeze every parameter but SOAM/BiSOAM's and return those."""
        attn = self.attention_parameters()
        if not attn:
            raise InputError("stage III-attn needs a codec with attention (soam/bisoam)")
        for p in self.parameters():
            p.requires_grad_(False)
        for p in attn:
            p.requires_grad_(True)
        return attn

    def update_tables(self) -> None:
        """Freeze the z prior into integer frequency tables (sum ~ 2**16, every entry >= 1)."""
        with torch.no_grad():
            pmf = torch.softmax(self.z_logits.double(), -1)
            nb = pmf.shape[1]
            self.z_freq.copy_(torch.floor(pmf * (Z_FREQ_TOTAL - nb)).long() + 1)

    def _z_pmf(self) -> torch.Tensor:
        if self.training or int(self.z_freq.sum()) == 0:
            return torch.softmax(self.z_logits, -1)
        f = self.z_freq.float()
        return f / f.sum(-1, keepdim=True)

    # -- training / estimation forward ----------------------------------------------------
    def _check_spikes(self, x: torch.Tensor, before, after) -> None:
        if self.attention is None:
            return
        if before is None:
            raise InputError(f"{self.attention} attention needs spikes_before (B, L, H, W)")
        for name, s in (("spikes_before", before), ("spikes_after", after)):
            if s is not None and (s.dim() != 4 or s.shape[0] != x.shape[0]
                                  or s.shape[-2:] != x.shape[-2:]):
                raise InputError(f"{name} has shape {tuple(s.shape)}; expected "
                                 f"({x.shape[0]}, L, {x.shape[2]}, {x.shape[3]})")

    def _params(self, i: int, hyp: torch.Tensor, prev: list[torch.Tensor]):
        """Training path: (mu snapped to 1/8, scale index, sigma) for slice i (real units)."""
        p = self.ctx[i](torch.cat([hyp, *prev], 1))
        mu = ste_round(p[:, : self.slice] * MEAN_GRID) / MEAN_GRID
        idx = torch.clamp(ste_round(p[:, self.slice:] + SIDX_OFFSET), 0, NUM_SCALES - 1)
        sigma = SCALE_MIN * torch.exp(idx * self._log_step)
        return mu, sigma

    def analyse(self, x: torch.Tensor, spikes_before: torch.Tensor | None = None,
                spikes_after: torch.Tensor | None = None) -> torch.Tensor:
        """The analysis ``g_a``: x (B,1,H,W) in [0,1] (padded to a multiple of 32 inside) ->
        latents y (B,M,H'/16,W'/16) float32, real units, not quantised."""
        self._check_spikes(x, spikes_before, spikes_after)
        return self.g_a(_pad_to(x, PAD), _pad_to(spikes_before, PAD), _pad_to(spikes_after, PAD))

    def forward(self, x: torch.Tensor, spikes_before: torch.Tensor | None = None,
                spikes_after: torch.Tensor | None = None) -> dict[str, Any]:
        """x (B,1,H,W) float32 in [0,1] -> x_hat, bpp (B,), likelihoods (see module doc)."""
        h, w = x.shape[-2:]
        y = self.analyse(x, spikes_before, spikes_after)
        return self.from_latents(y, self.h_a(y), h, w, noisy=self.training)

    def from_latents(self, y: torch.Tensor, z: torch.Tensor, h: int, w: int, noisy: bool,
                     generators: Sequence[torch.Generator] | None = None) -> dict[str, Any]:
        """The decoder half of :meth:`forward` on given latents ``y`` (B,M,h/16,w/16) and
        ``z`` (B,Nz,h/32,w/32), real units.

        ``noisy``: additive uniform noise for the rates and straight-through rounding for the
        decoder input (training, latent refinement); otherwise exact rounding, ideal code
        lengths of the real symbols and ``x_hat`` clamped to [0, 1]. ``generators`` (one per
        sample) draw the noise: reproducible refinement, independent of the batch.
        """
        b = y.shape[0]
        pmf = self._z_pmf()
        if noisy:
            zt = torch.clamp(z + _uniform_like(z, generators), -Z_RANGE - 0.5 + 1e-4,
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
        hyp = self.h_s(z_hat)
        y_hats, liks = [], []
        for i, ys in enumerate(y.split(self.slice, 1)):
            mu, sigma = self._params(i, hyp, y_hats)
            r = ys - mu
            if noisy:
                lik = _gauss_bin(r + _uniform_like(r, generators), sigma)
                y_hats.append(ste_round(r) + mu)
            else:
                rq = torch.clamp(torch.floor(r + 0.5), -Y_RANGE, Y_RANGE)
                lik = _gauss_bin(rq, sigma)
                y_hats.append(rq + mu)
            liks.append(lik)
        lik_y = torch.clamp(torch.cat(liks, 1), min=1e-9)
        lik_z = torch.clamp(lik_z, min=1e-9)
        y_hat = torch.cat(y_hats, 1)
        x_hat = self.g_s(y_hat)[:, :, :h, :w]
        if not noisy:
            x_hat = torch.clamp(x_hat, 0, 1)
        likelihoods = {"y": lik_y, "z": lik_z}
        return {"x_hat": x_hat, "bpp": bits_per_pixel(likelihoods, h * w),
                "likelihoods": likelihoods, "y_hat": y_hat}

    def refine_latents(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, lam: float,
                       steps: int, lr: float = REFINE_LR, seed: int = 0
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder-side latent refinement: ``steps`` of Adam on ``y`` and ``z`` themselves
        (network weights fixed) minimising each scene's ``bpp + lam * 255**2 * MSE``.

        The amortised analysis ``g_a`` is an approximation; optimising the latents of the one
        scene at hand closes part of that gap (Campos et al. 2019; Yang et al. 2020) without
        touching the decoder, so files stay decodable by every spkc. Scenes whose refined
        latents do not lower the exact-rounding cost keep their analysis latents. ``x``
        (B,1,H,W) in [0,1]; returns refined (y, z), detached, same shapes as the inputs.
        """
        h, w = x.shape[-2:]

        def cost(out: Mapping[str, Any]) -> torch.Tensor:  # (B,) per-scene J
            return rd_cost(out["bpp"], (out["x_hat"] - x).pow(2).flatten(1).mean(1), lam)

        gens = [torch.Generator(device=x.device).manual_seed(seed) for _ in range(len(x))]
        yv = y.detach().clone().requires_grad_(True)
        zv = z.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([yv, zv], lr=lr)
        with torch.enable_grad():
            for it in range(steps):
                for group in opt.param_groups:  # cosine decay to 0
                    group["lr"] = lr * 0.5 * (1.0 + np.cos(np.pi * it / steps))
                with float_surrogate():
                    out = self.from_latents(yv, zv, h, w, noisy=True, generators=gens)
                # summed, not averaged: each scene's step does not depend on the batch size
                loss = cost(out).sum()
                yv.grad, zv.grad = torch.autograd.grad(loss, [yv, zv])
                opt.step()
        with torch.no_grad():
            better = (cost(self.from_latents(yv, zv, h, w, noisy=False))
                      < cost(self.from_latents(y, z, h, w, noisy=False)))
            keep = better.view(-1, 1, 1, 1)
            return (torch.where(keep, yv.detach(), y.detach()),
                    torch.where(keep, zv.detach(), z.detach()))

    def transforms_only(self, x: torch.Tensor, spikes_before: torch.Tensor | None = None,
                        spikes_after: torch.Tensor | None = None) -> torch.Tensor:
        """``g_s(g_a(x))`` with the latents not quantised: (B,1,H,W) in [0,1]. A diagnostic —
        when this is no closer to ``x`` than the coded scene, the transforms (not the rate)
        limit quality."""
        h, w = x.shape[-2:]
        return self.g_s(self.analyse(x, spikes_before, spikes_after))[:, :, :h, :w].clamp(0, 1)

    # -- weights ----------------------------------------------------------------------------
    def _exact_convs(self) -> dict[str, ExactConv2d]:
        return {n: mod for n, mod in self.named_modules() if isinstance(mod, ExactConv2d)}

    def save_weights(self, path: str | Path, half: bool = True) -> None:
        """Write safetensors: exact-net weights as int16/int32 integers, the rest fp16 (or
        fp32 with ``half=False``), the z frequency tables and the scale table."""
        self.update_tables()
        exact = self._exact_convs()
        tensors: dict[str, torch.Tensor] = {}
        skip = set()
        for n, mod in exact.items():
            tensors[f"{n}.weight"] = mod.int_weight().to(torch.int16)
            tensors[f"{n}.bias"] = mod.int_bias().to(torch.int32)
            skip |= {f"{n}.weight", f"{n}.bias"}
        for n, p in self.state_dict().items():
            if n not in skip:
                tensors[n] = p.detach().to(torch.float16 if half else torch.float32)
        tensors["z_freq"] = self.z_freq.to(torch.int32)
        tensors["scale_table"] = self.scale_table.clone()
        meta = {"config": json.dumps(self.cfg), "config_name": self.config_name,
                "attention": str(self.attention), "format": "spkc-learned-1"}
        save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, str(path), metadata=meta)

    def load_weights(self, path: str | Path, data: bytes | None = None) -> None:
        """Load a file written by :meth:`save_weights` (no pickle), stored plain or as one
        zstd frame (``*.safetensors.zst``); ``data``: its content when the caller already read
        it (``path`` then only names it in errors)."""
        path = Path(path)
        if data is None and not path.is_file():
            raise MissingWeightsError(f"weights file {path.name} is not installed", path)
        exact = self._exact_convs()
        try:
            if data is None:
                data = read_maybe_zstd(path)
            meta = safetensors_metadata(data)
            if meta.get("config") and _resolve_config(json.loads(meta["config"])) != self.cfg:
                raise InputError(f"weights are for config {meta['config']}, model is "
                                 f"{json.dumps(self.cfg)}", path)
            state = {}
            for key, t in load_safetensors(data).items():
                mod = key.rsplit(".", 1)[0]
                if mod in exact and key.endswith(".weight"):
                    t = t.double() / 2**WEIGHT_FRAC
                elif mod in exact and key.endswith(".bias"):
                    t = t.double() / 2 ** (WEIGHT_FRAC + ACT_FRAC)
                state[key] = t
        except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
            raise MissingWeightsError(f"cannot read weights {path.name}: {exc}", path) from exc
        z_freq = state.pop("z_freq", None)
        table = state.pop("scale_table", None)
        own = self.state_dict()
        missing = set(own) - set(state)
        if missing:
            raise MissingWeightsError(f"weights {path.name} lack {sorted(missing)[:3]}", path)
        self.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items() if k in own})
        if table is not None:
            self.scale_table.copy_(table.double())
        if z_freq is not None:
            self.z_freq.copy_(z_freq.long())
        else:
            self.update_tables()

    # -- exact parameter path ---------------------------------------------------------------
    def _params_int(self, i: int, hyp: torch.Tensor, prev: list[torch.Tensor]):
        """Exact path: (mu in 1/8 units, scale index) as float64 integers for slice i."""
        p = self.ctx[i].forward_int(torch.cat([hyp, *prev], 1))
        one = 2**ACT_FRAC
        step = one // MEAN_GRID
        mu8 = torch.floor((p[:, : self.slice] + step // 2) / step)
        idx = torch.floor((p[:, self.slice:] + SIDX_OFFSET * one + one // 2) / one)
        return mu8, torch.clamp(idx, 0, NUM_SCALES - 1)

    def _synthesize_int(self, y_hat_int: torch.Tensor, h: int, w: int) -> torch.Tensor:
        acc = self.g_s.forward_int(y_hat_int)[:, :, :h, :w]
        one = 2 ** (WEIGHT_FRAC + ACT_FRAC)
        acc = torch.clamp(acc, 0, one)
        u = torch.floor((acc * 65535 + one // 2) / one)  # < 2**35: exact
        return (u.cpu().numpy().astype(np.float64) / 65535).astype(np.float32)

    def _prep_spikes(self, s, x: torch.Tensor) -> torch.Tensor | None:
        if s is None:
            return None
        return torch.as_tensor(np.asarray(s) if not torch.is_tensor(s) else s,
                               device=x.device).float()

    # -- coding -----------------------------------------------------------------------------
    @torch.no_grad()
    def compress(self, x: torch.Tensor, spikes_before=None, spikes_after=None,
                 refine_steps: int = 0, lam: float | None = None) -> list[dict]:
        """Scenes (B,1,H,W) float32 in [0,1] -> B payload sets {"z", "y", "meta"} (bytes).

        ``refine_steps`` > 0 refines the latents for rate + ``lam`` * distortion first
        (:meth:`refine_latents`; encoder only, the decoder is the same).
        """
        if refine_steps and lam is None:
            raise InputError("compress: latent refinement needs the rate-distortion weight lam")
        if int(self.z_freq.sum()) == 0:
            self.update_tables()
        was = self.training
        self.eval()
        try:
            sb = self._prep_spikes(spikes_before, x)
            sa = self._prep_spikes(spikes_after, x)
            b, _, h, w = x.shape
            y = self.analyse(x.float(), sb, sa)
            z = self.h_a(y)
            if refine_steps:
                y, z = self.refine_latents(x.float(), y, z, float(lam), int(refine_steps))
            z_sym = torch.clamp(torch.floor(z.double() + 0.5), -Z_RANGE, Z_RANGE)
            hyp = self.h_s.forward_int(z_sym * 2**ACT_FRAC)
            y_hats, syms, idxs = [], [], []
            for i, ys in enumerate(y.double().split(self.slice, 1)):
                mu8, idx = self._params_int(i, hyp, y_hats)
                s = torch.clamp(torch.floor(ys - mu8 / MEAN_GRID + 0.5), -Y_RANGE, Y_RANGE)
                y_hats.append(torch.clamp(mu8 * (2**ACT_FRAC // MEAN_GRID) + s * 2**ACT_FRAC,
                                          A_MIN, A_MAX))
                syms.append(s.cpu().numpy().astype(np.int32))
                idxs.append(idx.cpu().numpy().astype(np.int64))
            zs = z_sym.cpu().numpy().astype(np.int32)
        finally:
            self.train(was)
        table = self.scale_table.cpu().numpy()
        zfreq = self.z_freq.cpu().numpy().astype(np.float64)
        qg = constriction.stream.model.QuantizedGaussian(-Y_RANGE, Y_RANGE)
        out = []
        for n in range(b):
            zc = constriction.stream.stack.AnsCoder()
            for c in reversed(range(zs.shape[1])):
                model = constriction.stream.model.Categorical(zfreq[c], perfect=False)
                zc.encode_reverse(zs[n, c].ravel() + Z_RANGE, model)
            ysym = np.concatenate([s[n].ravel() for s in syms])
            std = table[np.concatenate([ix[n].ravel() for ix in idxs])]
            yc = constriction.stream.stack.AnsCoder()
            yc.encode_reverse(ysym, qg, np.zeros_like(std), std)
            crc = _symbols_crc(h, w, zs[n], ysym)
            out.append({"z": zc.get_compressed().tobytes(), "y": yc.get_compressed().tobytes(),
                        "meta": META.pack(MAGIC, h, w, crc)})
        return out

    @torch.no_grad()
    def decompress(self, payloads: Sequence[Mapping[str, bytes]], device: str | torch.device =
                   "cpu", channels_last: bool = False) -> torch.Tensor:
        """Payload sets -> (B,1,H,W) float32 scenes (multiples of 1/65535), bit-exact.

        Raises SceneCorruptError (``scene`` = index in ``payloads``) on damaged payloads.
        """
        if int(self.z_freq.sum()) == 0:
            self.update_tables()
        dev = torch.device(device)
        if len(payloads) == 0:
            raise InputError("decompress: no payloads given")
        heads = [_parse_meta(p, n) for n, p in enumerate(payloads)]
        if len({(h, w) for h, w, _ in heads}) > 1:
            raise InputError("decompress: all scenes of one batch must have the same shape")
        h, w = heads[0][:2]
        hp, wp = h + (-h) % PAD, w + (-w) % PAD
        zh, zw, yh, yw = hp // 32, wp // 32, hp // 16, wp // 16
        nz, s = self.cfg["nz"], self.slice
        zfreq = self.z_freq.cpu().numpy().astype(np.float64)
        table = self.scale_table.cpu().numpy()
        qg = constriction.stream.model.QuantizedGaussian(-Y_RANGE, Y_RANGE)
        zs, ycoders = [], []
        for n, p in enumerate(payloads):
            try:
                zc = constriction.stream.stack.AnsCoder(_words(p["z"]))
                zn = np.stack([zc.decode(constriction.stream.model.Categorical(
                    zfreq[c], perfect=False), zh * zw) for c in range(nz)])
                ycoders.append(constriction.stream.stack.AnsCoder(_words(p["y"])))
            except (ValueError, RuntimeError, KeyError, TypeError) as exc:
                raise SceneCorruptError(f"scene payload cannot be decoded ({exc})",
                                        scene=n) from exc
            zs.append(zn.reshape(nz, zh, zw).astype(np.int32) - Z_RANGE)
        z_sym = torch.from_numpy(np.stack(zs)).to(dev, torch.float64)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        hyp = self.h_s.forward_int((z_sym * 2**ACT_FRAC).contiguous(memory_format=fmt))
        y_hats, ysyms = [], [[] for _ in payloads]
        for i in range(self.cfg["slices"]):
            mu8, idx = self._params_int(i, hyp, y_hats)
            idx_np = idx.cpu().numpy().astype(np.int64)
            sl = []
            for n, yc in enumerate(ycoders):
                std = table[idx_np[n].ravel()]
                try:
                    sn = yc.decode(qg, np.zeros_like(std), std)
                except (ValueError, RuntimeError) as exc:
                    raise SceneCorruptError(f"y stream desynchronised ({exc})",
                                            scene=n) from exc
                ysyms[n].append(sn)
                sl.append(sn.reshape(s, yh, yw))
            sym = torch.from_numpy(np.stack(sl)).to(dev, torch.float64)
            y_hats.append(torch.clamp(mu8 * (2**ACT_FRAC // MEAN_GRID) + sym * 2**ACT_FRAC,
                                      A_MIN, A_MAX).contiguous(memory_format=fmt))
        for n, (_, _, crc) in enumerate(heads):
            if _symbols_crc(h, w, zs[n], np.concatenate(ysyms[n])) != crc:
                raise SceneCorruptError("desynchronised or corrupted payload: decoded symbols "
                                        "fail their CRC-32C", scene=n)
        scene = self._synthesize_int(torch.cat(y_hats, 1), h, w)
        return torch.from_numpy(scene)


def _words(b: bytes) -> np.ndarray:
    if not isinstance(b, (bytes, bytearray, memoryview)) or len(b) % 4:
        raise ValueError("stream length is not a multiple of 4 bytes")
    return np.frombuffer(bytes(b), dtype=np.uint32).copy()


def _parse_meta(p: Mapping[str, bytes], n: int) -> tuple[int, int, int]:
    try:
        magic, h, w, crc = META.unpack(p["meta"])
    except (KeyError, TypeError, struct.error) as exc:
        raise SceneCorruptError(f"scene payload has no valid meta record ({exc})",
                                scene=n) from exc
    if magic != MAGIC or h == 0 or w == 0:
        raise SceneCorruptError("scene payload meta record is damaged", scene=n)
    return h, w, crc


def _symbols_crc(h: int, w: int, z_sym: np.ndarray, y_sym: np.ndarray) -> int:
    """CRC-32C over the scene shape and all symbols (int16 little-endian, z then y)."""
    crc = crc32c.crc32c(struct.pack("<HH", h, w))
    crc = crc32c.crc32c(np.asarray(z_sym).astype("<i2").tobytes(), crc)
    return crc32c.crc32c(y_sym.astype("<i2").tobytes(), crc)


def safetensors_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file's bytes (its header: an 8-byte little-endian
    length, then that many bytes of JSON). Raises ``ValueError`` when the header is damaged."""
    if len(data) < 8:
        raise ValueError("too short for a safetensors header")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"header length {n} exceeds the file")
    header = json.loads(data[8:8 + n])
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return dict(header.get("__metadata__") or {})


def weights_config(path: str | Path) -> dict[str, int]:
    """The config a weights file written by :meth:`SceneCompressionModel.save_weights` was
    made with (keys added later filled with the values older files imply); the file may be
    stored plain or zstd-compressed (``*.zst``)."""
    path = Path(path)
    try:
        meta = safetensors_metadata(read_maybe_zstd(path))
        return _resolve_config(json.loads(meta["config"]))
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise MissingWeightsError(f"cannot read the config of weights {path.name}: {exc}",
                                  path) from exc


def grow_synthesis(model: SceneCompressionModel, depth: int, config_name: str | None = None
                   ) -> SceneCompressionModel:
    """A copy of ``model`` whose synthesis has ``depth`` residual blocks per scale (at least
    the model's own), computing exactly the same function: every weight is copied, and each
    added block starts as the identity (its last conv is zero, so ``x + 0``, also on the
    integer path). Training the grown model continues from the small one instead of from
    scratch. ``config_name`` names the grown config (e.g. "deep"); its widths must be equal.
    """
    old = model.cfg["gs_depth"]
    if depth < old:
        raise InputError(f"grow_synthesis: depth {depth} is below the model's {old}")
    cfg = {**model.cfg, "gs_depth": depth}
    grown = SceneCompressionModel(config_name or cfg, model.attention)
    if grown.cfg != cfg:
        raise InputError(f"grow_synthesis: config {config_name!r} is {grown.cfg}, not {cfg}")

    def new_index(i: int) -> int:  # old g_s layer index -> grown index
        # layout: up, d blocks, lrelu, up, d blocks, lrelu, up
        first = 1 + old + 1  # index of the second upsample in the old layout
        if i < first:
            return i if i <= old else i + (depth - old)
        return i + (depth - old) if i <= first + old else i + 2 * (depth - old)

    state = {}
    for k, v in model.state_dict().items():
        if k.startswith("g_s.layers."):
            i, rest = k[len("g_s.layers."):].split(".", 1)
            k = f"g_s.layers.{new_index(int(i))}.{rest}"
        state[k] = v
    own = grown.state_dict()
    added = set(own) - set(state)
    with torch.no_grad():
        for k in added:
            # the added blocks' second conv (body.layers.3) is zero: each block is x + 0
            if ".body.layers.3." in k:
                state[k] = torch.zeros_like(own[k])
            else:
                state[k] = own[k]
    grown.load_state_dict(state)
    grown.z_freq.copy_(model.z_freq)
    return grown


def _transplant(small: SceneCompressionModel, big: SceneCompressionModel,
                changed: Callable[[str, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Load ``small``'s weights into ``big``: tensors of equal shape are copied, the others
    are ``changed(name, small's tensor, a copy of big's freshly initialised one)``; the z
    tables come along."""
    fresh = big.state_dict()
    state = dict(fresh)
    for k, v in small.state_dict().items():
        state[k] = v if fresh[k].shape == v.shape else changed(k, v, fresh[k].clone())
    big.load_state_dict(state)
    big.z_freq.copy_(small.z_freq)


def widen_latents(model: SceneCompressionModel, m: int, config_name: str | None = None,
                  seed: int = 0) -> SceneCompressionModel:
    """A copy of ``model`` with ``m`` latent channels (more slices of the same size) that
    decodes every old latent to the same scene: the old channels keep their slices, context
    nets and weights; the added channels form new slices after them, read by the synthesis and
    the hyper-analysis through zero weights, so at the start they change no decoded pixel.
    Each added channel starts as a random mix of the old ones (a zero start would get no
    gradient) and its context net predicts a unit scale, so it costs bits until training
    either predicts it from the old slices or puts it to use. The analysis body keeps its
    width (``ma``). ``config_name`` names the wide config.
    """
    old = model.cfg
    s = model.slice
    if m <= old["m"] or m % s:
        raise InputError(f"widen_latents: m={m} must exceed {old['m']} and be a multiple of the "
                         f"slice size {s}")
    cfg = {**old, "m": m, "slices": m // s, "ma": old["ma"]}
    with torch.random.fork_rng():  # the added nets' own init, reproducible, global RNG kept
        torch.manual_seed(seed)
        wide = SceneCompressionModel(config_name or cfg, model.attention)
    if wide.cfg != cfg:
        raise InputError(f"widen_latents: config {config_name!r} is {wide.cfg}, not {cfg}")
    gen = torch.Generator().manual_seed(seed)
    m0 = old["m"]
    mix = torch.randn(m - m0, m0, generator=gen) / (3.0 * m0**0.5)  # trained y: std ~1..10

    def changed(k: str, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if k in ("g_a.body.5.weight", "g_a.body.5.bias"):
            # analysis output: old rows copied; each new channel a random mix of the old ones,
            # about one quantisation step in size, so its rounded value is not always 0 (a zero
            # would give the synthesis no gradient) and the context can learn to predict it
            t[:m0] = v
            t[m0:] = (mix @ v.reshape(m0, -1)).reshape(t[m0:].shape)
        elif k in ("h_a.0.weight", "g_s.layers.0.layers.0.weight"):  # read the new: zero
            t[:, :m0] = v
            t[:, m0:] = 0
        else:
            raise InputError(f"widen_latents: unexpected shape change of {k}")
        return t

    _transplant(model, wide, changed)
    with torch.no_grad():
        for i in range(old["slices"], cfg["slices"]):
            # the added slices start at mean 0 and scale index 22 (sigma 1.0)
            last = wide.ctx[i].layers[-1]
            last.weight.mul_(0.01)
            last.bias.zero_()
            last.bias[s:] = 22.0 - SIDX_OFFSET
    return wide


def widen_synthesis(model: SceneCompressionModel, s1: int, s2: int, seed: int = 0
                    ) -> SceneCompressionModel:
    """A copy of ``model`` whose synthesis has ``s2`` channels at 1/8 and ``s1`` at 1/4
    resolution (at least its own), decoding every latent to the same scene: each conv keeps
    its old weights, reads the added channels through zero weights, and computes the added
    channels from random weights (the conv's own initialisation, scaled by 1/4), which the
    final layer ignores until training gives it weights for them. Pixel-shuffle convs put
    channel ``c``'s sub-pixels at rows ``c*r*r ...``, so added channels are added rows there
    too."""
    old = model.cfg
    if s1 < old["s1"] or s2 < old["s2"]:
        raise InputError(f"widen_synthesis: s1={s1}, s2={s2} below the model's "
                         f"{old['s1']}, {old['s2']}")
    cfg = {**old, "s1": s1, "s2": s2}
    with torch.random.fork_rng():  # the added rows: the modules' own init, reproducible
        torch.manual_seed(seed)
        wide = SceneCompressionModel(cfg, model.attention)

    def changed(k: str, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not k.startswith("g_s."):
            raise InputError(f"widen_synthesis: unexpected shape change of {k}")
        t = t * 0.25
        rows = v.shape[0]
        if t.dim() == 4:  # conv weight (out, in, k, k)
            t[:rows] = 0  # old outputs: zero weight on the added inputs ...
            t[:rows, : v.shape[1]] = v  # ... and their old weights
        else:  # bias: added outputs start at 0
            t[rows:] = 0
            t[:rows] = v
        return t

    _transplant(model, wide, changed)
    return wide


def grow_model(model: SceneCompressionModel, config: str | Mapping[str, Any]
               ) -> SceneCompressionModel:
    """``model`` grown into the larger ``config`` by :func:`widen_latents` and/or
    :func:`grow_synthesis`, so that training starts from the small model's decoded scenes.
    Every other config key must be equal."""
    target = _resolve_config(config)
    name = config if isinstance(config, str) else None
    keys = ("m", "slices", "gs_depth", "s1", "s2")
    if {**model.cfg, **{k: target[k] for k in keys}} != target:
        raise InputError(f"cannot grow config {model.cfg} into {target}: only "
                         f"{', '.join(keys)} may differ")
    out = model
    if target["m"] != model.cfg["m"]:
        out = widen_latents(out, target["m"], None)
    if (target["s1"], target["s2"]) != (model.cfg["s1"], model.cfg["s2"]):
        out = widen_synthesis(out, target["s1"], target["s2"])
    if target["gs_depth"] != model.cfg["gs_depth"]:
        out = grow_synthesis(out, target["gs_depth"], None)
    if name is not None:
        out.config_name = name
    return out


def bits_per_pixel(likelihoods: Mapping[str, torch.Tensor], pixels: int,
                   y_channel_weights: torch.Tensor | None = None) -> torch.Tensor:
    """(B,) ideal code length of y and z in bits per scene pixel, from the likelihoods of
    :meth:`SceneCompressionModel.forward`. ``y_channel_weights`` (M,) scales each latent
    channel's bits (training only: e.g. a ramp for channels added by :func:`widen_latents`)."""
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


def count_parameters(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())
