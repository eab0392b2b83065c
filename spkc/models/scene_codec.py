"""Learned scene (image) codec model: TCM analysis, exact fixed-point decoder, SOAM/BiSOAM
attention, hyperprior and channel-slice context.

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

(``rd_loss``, ``rd_terms``, ``bits_per_pixel``: :mod:`spkc.models.losses`; ``grow_model``:
:mod:`spkc.models.surgery`; all also importable from :mod:`spkc.models.codec`.)

In training mode ``forward`` uses additive uniform noise for the rates and straight-through
rounding for the decoder input (mixed quantisation); in eval mode it rounds exactly as
``compress`` does, so its ``bpp`` is the ideal code length of the real symbols.

Architecture (paper: SpikeCodec's TCM image codec with hyperprior and feature-level attention):

* ``g_a`` (encoder only, float32; :mod:`spkc.models.transforms`): a patchify stem (4x4
  space-to-depth + 3x3 conv) replaces the paper's first analysis layer; its features ``f`` are
  modulated by the attention map ``A`` of SOAM / BiSOAM through a residual ``f' = f + f * A``
  (the paper's feature-level attention); then residual blocks, strided residual blocks and
  transformer-CNN mixture (TCM) blocks (conv branch + window self-attention branch, mixed by
  1x1 convs; :mod:`spkc.models.layers`) down to ``y`` at 1/16 resolution.
* SOAM (:mod:`spkc.models.attention`): a ConvLSTM over the L spike frames before the scene
  time (4x4 space-to-depth, at 1/4 resolution to keep FLOPs low); BiSOAM runs the
  time-reversed L frames after the scene time through the *same* ConvLSTM and fuses both
  hidden states with a 1x1 conv; ``A = sigmoid``.
* Hyperprior (:mod:`spkc.models.hyperprior`): ``h_a`` (encoder, float32) -> ``z`` at 1/32
  resolution, rounded to integers in ``[-z_range, z_range]``; factorized prior: a learned
  per-channel pmf over those integers, shipped as integer frequency tables and coded with
  constriction ``Categorical`` (:mod:`spkc.models.entropy_models`).
* Decoder side -- ``h_s``, the channel-slice context / entropy-parameter nets and ``g_s`` -- are
  fixed-point integer networks (:mod:`spkc.models.exact`) evaluated in float64 on integers, so
  their outputs are bit-identical on any device, thread count, batch size or memory format.
  **Deviation from the paper**: ``g_s`` is CNN-only (no TCM/attention: softmax is not exact)
  and upsamples by conv + pixel shuffle instead of transposed convs.
* Channel-slice context (parallel decoding; :mod:`spkc.models.channel_context`): ``y`` is split
  into K slices; slice i's mean and scale come from the hyper features and the decoded slices
  < i. Means are snapped to multiples of 1/8, scales are an integer index into a fixed
  log-spaced table (shipped in the weights file as float64). Symbols
  ``s = clamp(round(y - mu), -Y_RANGE, Y_RANGE)`` are coded with constriction
  ``QuantizedGaussian(mean=0, std=table[idx])``; ``y_hat = s + mu`` exactly.
* Output: ``u = floor(clamp(g_s, 0, 1) * 65535 + 1/2)`` computed on integers; the scene is
  ``u / 65535`` as float32 (16-bit exact).
* Integrity (:mod:`spkc.models.bitstream`): each payload's ``meta`` carries a CRC-32C of the
  decoded symbols; a mismatch (a corrupted or desynchronised stream) raises
  :class:`spkc.errors.SceneCorruptError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from spkc.errors import InputError, SceneCorruptError
from spkc.models import weights as weights_io
from spkc.models.bitstream import pack_meta, parse_meta, symbols_crc, words
from spkc.models.channel_context import ChannelSliceContext
from spkc.models.config import resolve_config
from spkc.models.entropy_models import YDecoder, decode_z, encode_y, encode_z, scale_table
from spkc.models.exact import ACT_FRAC, WEIGHT_FRAC, float_surrogate
from spkc.models.hyperprior import Hyperprior
from spkc.models.layers import pad_to
from spkc.models.losses import bits_per_pixel, rd_cost
from spkc.models.transforms import Analysis, synthesis

PAD = 32  #: inputs are padded (replicate) to a multiple of this
REFINE_LR = 0.05  #: Adam step of latent refinement (latents are in quantisation steps)


ENCODER_PRECISIONS: tuple[str, ...] = ("float32", "bfloat16")


def encoder_autocast(device: torch.device | str, precision: str):
    """Autocast context of the encoder-side float work (analysis, latent refinement):
    bfloat16 for ``precision`` "bfloat16", a no-op for "float32". Never used on the exact
    integer path (float64 tensors are not autocast either)."""
    if precision not in ENCODER_PRECISIONS:
        raise InputError(f"encoder precision must be one of {list(ENCODER_PRECISIONS)}, got "
                         f"{precision!r}")
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                          enabled=precision == "bfloat16")


class SceneCompressionModel(Hyperprior, nn.Module):
    """Learned scene codec; see the module docstring for the API and the design."""

    def __init__(self, config: str | Mapping[str, Any] = "compact",
                 attention: str | None = "bisoam") -> None:
        super().__init__()
        if attention not in ("bisoam", "soam", None):
            raise InputError(f"attention must be 'bisoam', 'soam' or None, not {attention!r}")
        self.config_name = config if isinstance(config, str) else "custom"
        self.cfg = c = resolve_config(config)
        self.attention = attention
        m, k = c["m"], c["slices"]
        if m % k:
            raise InputError(f"config: m={m} is not divisible by slices={k}")
        self.slice = m // k
        # construction order = parameter initialisation order (the global RNG): kept as it
        # was so that seeded runs reproduce
        self.g_a = Analysis(c, attention)
        self.build_hyperprior(m, c["nh"], c["nz"], c["hc"])
        self.ctx = ChannelSliceContext(c["hc"], c["cc"], m, k)
        self.g_s = synthesis(c)
        self.register_buffer("scale_table", torch.from_numpy(scale_table()), persistent=False)
        self.build_z_prior(c["nz"])

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

    def analyse(self, x: torch.Tensor, spikes_before: torch.Tensor | None = None,
                spikes_after: torch.Tensor | None = None) -> torch.Tensor:
        """The analysis ``g_a``: x (B,1,H,W) in [0,1] (padded to a multiple of 32 inside) ->
        latents y (B,M,H'/16,W'/16) float32, real units, not quantised."""
        self._check_spikes(x, spikes_before, spikes_after)
        return self.g_a(pad_to(x, PAD), pad_to(spikes_before, PAD), pad_to(spikes_after, PAD))

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
        hyp, lik_z = self.hyper_decode(z, noisy, generators)
        y_hat, lik_y = self.ctx.likelihoods(y, hyp, noisy, generators)
        lik_y = torch.clamp(lik_y, min=1e-9)
        lik_z = torch.clamp(lik_z, min=1e-9)
        x_hat = self.g_s(y_hat)[:, :, :h, :w]
        if not noisy:
            x_hat = torch.clamp(x_hat, 0, 1)
        likelihoods = {"y": lik_y, "z": lik_z}
        return {"x_hat": x_hat, "bpp": bits_per_pixel(likelihoods, h * w),
                "likelihoods": likelihoods, "y_hat": y_hat}

    def refine_latents(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, lam: float,
                       steps: int, lr: float = REFINE_LR, seed: int = 0,
                       precision: str = "float32") -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder-side latent refinement: ``steps`` of Adam on ``y`` and ``z`` themselves
        (network weights fixed) minimising each scene's ``bpp + lam * 255**2 * MSE``.

        The amortised analysis ``g_a`` is an approximation; optimising the latents of the one
        scene at hand closes part of that gap (Campos et al. 2019; Yang et al. 2020) without
        touching the decoder, so files stay decodable by every spkc. Scenes whose refined
        latents do not lower the exact-rounding cost keep their analysis latents. ``x``
        (B,1,H,W) in [0,1]; returns refined (y, z), detached, same shapes as the inputs.
        ``precision`` "bfloat16" takes the descent steps under bfloat16 autocast (3x faster
        on CPUs with AMX; the keep-or-not test stays in float32).
        """
        h, w = x.shape[-2:]
        amp = encoder_autocast(x.device, precision)

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
                with float_surrogate(), amp:
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
    def save_weights(self, path: str | Path, half: bool = True) -> None:
        """Write safetensors (:func:`spkc.models.weights.save_weights`): exact-net weights as
        integers, the rest fp16 (or fp32 with ``half=False``), the z and scale tables."""
        weights_io.save_weights(self, path, half)

    def load_weights(self, path: str | Path, data: bytes | None = None) -> None:
        """Load a file written by :meth:`save_weights` (no pickle), stored plain or as one
        zstd frame (``*.safetensors.zst``); ``data``: its content when the caller already read
        it (``path`` then only names it in errors)."""
        weights_io.load_weights(self, path, data)

    # -- exact decoding ---------------------------------------------------------------------
    def _synthesize_int(self, y_hat_int: torch.Tensor, h: int, w: int) -> np.ndarray:
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
                 refine_steps: int = 0, lam: float | None = None,
                 precision: str = "float32") -> list[dict]:
        """Scenes (B,1,H,W) float32 in [0,1] -> B payload sets {"z", "y", "meta"} (bytes).

        ``refine_steps`` > 0 refines the latents for rate + ``lam`` * distortion first
        (:meth:`refine_latents`; encoder only, the decoder is the same). ``precision``
        "bfloat16": the analysis and the refinement steps under bfloat16 autocast (encoder
        only; the symbols and their entropy parameters are computed on the exact integer
        path as always, so the file decodes exactly).
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
            with encoder_autocast(x.device, precision):
                y = self.analyse(x.float(), sb, sa)
                z = self.h_a(y)
            y, z = y.float(), z.float()
            if refine_steps:
                y, z = self.refine_latents(x.float(), y, z, float(lam), int(refine_steps),
                                           precision=precision)
            z_sym = self.z_symbols(z)
            syms, idxs = self.ctx.quantise_int(y.double(), self.hyper_int(z_sym))
            zs = z_sym.cpu().numpy().astype(np.int32)
        finally:
            self.train(was)
        table = self.scale_table.cpu().numpy()
        zfreq = self.z_freq.cpu().numpy().astype(np.float64)
        out = []
        for n in range(b):
            ysym = np.concatenate([s[n].ravel() for s in syms])
            std = table[np.concatenate([ix[n].ravel() for ix in idxs])]
            out.append({"z": encode_z(zs[n], zfreq), "y": encode_y(ysym, std),
                        "meta": pack_meta(h, w, symbols_crc(h, w, zs[n], ysym))})
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
        heads = [parse_meta(p, n) for n, p in enumerate(payloads)]
        if len({(h, w) for h, w, _ in heads}) > 1:
            raise InputError("decompress: all scenes of one batch must have the same shape")
        h, w = heads[0][:2]
        hp, wp = h + (-h) % PAD, w + (-w) % PAD
        zh, zw = hp // 32, wp // 32
        zfreq = self.z_freq.cpu().numpy().astype(np.float64)
        zs, ydecoders = [], []
        for n, p in enumerate(payloads):
            try:
                zn = decode_z(words(p["z"]), zfreq, zh * zw)
                ydecoders.append(YDecoder(words(p["y"])))
            except (ValueError, RuntimeError, KeyError, TypeError) as exc:
                raise SceneCorruptError(f"scene payload cannot be decoded ({exc})",
                                        scene=n) from exc
            zs.append(zn.reshape(-1, zh, zw))
        z_sym = torch.from_numpy(np.stack(zs)).to(dev, torch.float64)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        hyp = self.hyper_int(z_sym, fmt)
        y_hat, ysyms = self.ctx.decode_int(ydecoders, hyp, self.scale_table.cpu().numpy(), fmt)
        for n, (_, _, crc) in enumerate(heads):
            if symbols_crc(h, w, zs[n], ysyms[n]) != crc:
                raise SceneCorruptError("desynchronised or corrupted payload: decoded symbols "
                                        "fail their CRC-32C", scene=n)
        scene = self._synthesize_int(y_hat, h, w)
        return torch.from_numpy(scene)
