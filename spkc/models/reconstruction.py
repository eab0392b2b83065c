"""Scene reconstruction network: a spike window -> the scene's firing-rate map.

Design (after SpikeCodec's reconstruction stage, itself Spk2ImgNet-like):

0. The window is first rearranged by a lossless 2x2 space-to-depth (``pixel_unshuffle``,
   ``unshuffle=2``): every feature layer then runs at half resolution with 4x the input
   channels, which cuts the cost 4x at equal width (FFDNet-style); the outputs return to full
   resolution by ``pixel_shuffle``.  This is what keeps the compact config near 5 GFLOP per
   250x400 scene while still seeing every spike.
1. The window ``(B, 2R+1, H, W)`` of spikes is cut into ``num_blocks`` overlapping blocks of
   ``2*block_radius+1`` frames whose centres are ``block_step`` frames apart around frame R.
2. Per block (weights shared across blocks): *mixed-scale temporal filters* -- one 3x3 conv per
   temporal sub-window (the central 3, 7, ... frames of the block), so short windows keep moving
   edges sharp and long ones average shot noise -- then *channel-wise self-attention*
   (a C x C attention map over channels, as in Restormer's transposed attention: cost linear in
   the pixels, unlike spatial attention), then *spatio-temporal residual blocks* -> block
   features, and from the centre block a coarse scene.
3. Alignment: every block's features are aligned to the centre block's by a *multi-level,
   coarse-to-fine* estimate of per-group offsets (deformable-style: channels are split in
   ``groups`` and each group is sampled at its own learned offset with ``grid_sample``; no
   torchvision).  Offsets start at 1/4 resolution and are refined at 1/2 and full resolution;
   the last offset layer is zero-initialised so training starts from identity alignment.
4. *Mutual attention*: each aligned block is gated per pixel and channel by how well it agrees
   with the centre block (a sigmoid of a 1x1 conv of both); the gated features of all blocks
   are fused by residual blocks into a correction added to the coarse centre scene.

Output ``scene``: (B, 1, H, W) float32 firing rate in spikes/frame (trained on [0, 1]).
Encoder-side only, so float32 and non-bit-exact kernels are fine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

RECON_CONFIGS: dict[str, dict[str, Any]] = {
    # default, CPU-sized: <= ~5 GFLOP per 250x400 scene (see tests/test_reconstruction.py)
    "compact": dict(radius=20, num_blocks=5, block_radius=6, block_step=7, scales=(3, 7, 13),
                    scale_channels=6, channels=16, res_blocks=1, groups=4, levels=3,
                    offset_hidden=12, fuse_blocks=1, unshuffle=2),
    # 4.8x the parameters and 4.5x the FLOPs of compact (22 GFLOP per 250x400 scene): wider
    # features, deeper per-block encoder and fusion; still CPU-trainable in hours
    "medium": dict(radius=20, num_blocks=5, block_radius=6, block_step=7, scales=(3, 7, 13),
                   scale_channels=10, channels=32, res_blocks=2, groups=4, levels=3,
                   offset_hidden=24, fuse_blocks=3, unshuffle=2),
    # larger: Spk2ImgNet-sized feature widths
    "paper": dict(radius=20, num_blocks=5, block_radius=6, block_step=7, scales=(3, 7, 13),
                  scale_channels=32, channels=64, res_blocks=4, groups=8, levels=3,
                  offset_hidden=64, fuse_blocks=4, unshuffle=2),
    # for tests: a few-frame window, small widths
    "tiny": dict(radius=4, num_blocks=3, block_radius=2, block_step=2, scales=(1, 3, 5),
                 scale_channels=2, channels=8, res_blocks=1, groups=2, levels=2,
                 offset_hidden=8, fuse_blocks=1, unshuffle=2),
}


class ResBlock(nn.Module):
    """conv3x3 - LeakyReLU - conv3x3 + identity."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1)
        self.c2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.leaky_relu(self.c1(x), 0.1))


class ChannelSelfAttention(nn.Module):
    """Transposed (channel-wise) self-attention: a (C x C) map from L2-normalised q, k."""

    def __init__(self, c: int, heads: int = 1) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj = nn.Conv2d(c, c, 1)
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(x).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.temperature, dim=-1)
        out = (attn @ v).reshape(b, c, h, w)
        return x + self.proj(out)


class BlockEncoder(nn.Module):
    """(B*K, 2r+1, H, W) spike block -> (B*K, C, H, W) features (shared across blocks)."""

    def __init__(self, block_radius: int, scales: tuple[int, ...], scale_channels: int,
                 channels: int, res_blocks: int, unshuffle: int = 1) -> None:
        super().__init__()
        n = 2 * block_radius + 1
        for s in scales:
            if s % 2 != 1 or s > n:
                raise ValueError(f"temporal scale {s} must be odd and <= block length {n}")
        self.block_radius = block_radius
        self.scales = tuple(scales)
        self.u2 = unshuffle * unshuffle
        self.scale_convs = nn.ModuleList(nn.Conv2d(s * self.u2, scale_channels, 3, padding=1)
                                         for s in scales)
        self.mix = nn.Conv2d(scale_channels * len(scales), channels, 1)
        self.attn = ChannelSelfAttention(channels)
        self.res = nn.Sequential(*[ResBlock(channels) for _ in range(res_blocks)])

    def forward(self, block: torch.Tensor) -> torch.Tensor:
        r, u2 = self.block_radius, self.u2
        # channels are frame-major after pixel_unshuffle: frame t is channels [t*u2, (t+1)*u2)
        feats = [conv(block[:, (r - s // 2) * u2 : (r + s // 2 + 1) * u2])
                 for s, conv in zip(self.scales, self.scale_convs, strict=True)]
        x = F.leaky_relu(self.mix(F.leaky_relu(torch.cat(feats, 1), 0.1)), 0.1)
        return self.res(self.attn(x))


def warp_groups(x: torch.Tensor, offset: torch.Tensor, groups: int) -> torch.Tensor:
    """Sample each channel group of ``x`` (B, C, H, W) at its own offset (B, 2G, H, W) pixels.

    Offsets are (dx, dy) per group; bilinear, border padding.
    """
    b, c, h, w = x.shape
    g = groups
    off = offset.reshape(b * g, 2, h, w)
    ys = torch.arange(h, device=x.device, dtype=x.dtype)
    xs = torch.arange(w, device=x.device, dtype=x.dtype)
    gx = (xs[None, None, :] + off[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys[None, :, None] + off[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1)
    out = F.grid_sample(x.reshape(b * g, c // g, h, w), grid, mode="bilinear",
                        padding_mode="border", align_corners=True)
    return out.reshape(b, c, h, w)


class OffsetHead(nn.Module):
    """cat(features to align, centre features[, previous offsets]) -> residual offsets."""

    def __init__(self, c_in: int, hidden: int, groups: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(c_in, hidden, 3, padding=1)
        self.c2 = nn.Conv2d(hidden, 2 * groups, 3, padding=1)
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c2(F.leaky_relu(self.c1(x), 0.1))


class PyramidAlign(nn.Module):
    """Coarse-to-fine alignment of neighbour features to centre features (``levels`` scales)."""

    def __init__(self, c: int, hidden: int, groups: int, levels: int) -> None:
        super().__init__()
        if c % groups:
            raise ValueError(f"channels {c} not divisible by offset groups {groups}")
        self.groups = groups
        self.levels = levels
        self.down = nn.ModuleList(nn.Conv2d(c, c, 3, stride=2, padding=1)
                                  for _ in range(levels - 1))
        self.heads = nn.ModuleList(
            OffsetHead(2 * c + (2 * groups if lvl < levels - 1 else 0), hidden, groups)
            for lvl in range(levels)
        )

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = [x]
        for d in self.down:
            out.append(F.leaky_relu(d(out[-1]), 0.1))
        return out

    def forward(self, nb: list[torch.Tensor], ct: list[torch.Tensor]) -> torch.Tensor:
        """Pyramids (finest first) of neighbour and centre -> aligned neighbour (finest)."""
        offset = None
        for lvl in reversed(range(self.levels)):
            f_nb, f_ct = nb[lvl], ct[lvl]
            if offset is None:
                inp = torch.cat((f_nb, f_ct), 1)
                offset = self.heads[lvl](inp)
            else:
                offset = 2.0 * F.interpolate(offset, size=f_nb.shape[-2:], mode="bilinear",
                                             align_corners=False)
                warped = warp_groups(f_nb, offset, self.groups)
                offset = offset + self.heads[lvl](torch.cat((warped, f_ct, offset), 1))
        return warp_groups(nb[0], offset, self.groups)


class ReconstructionNet(nn.Module):
    """Spike window (B, 2R+1, H, W) float {0,1} -> {"scene": (B,1,H,W), "coarse": (B,1,H,W)}.

    Both outputs are firing rates in spikes/frame (unclipped; clip to [0, 1] for use).
    Any H, W: inputs are padded to a multiple of unshuffle * 2**(levels-1), outputs cropped.
    """

    def __init__(self, config: str | Mapping[str, Any] = "compact") -> None:
        super().__init__()
        cfg = dict(RECON_CONFIGS[config] if isinstance(config, str) else config)
        cfg["scales"] = tuple(cfg["scales"])
        self.cfg = cfg
        self.config_name = config if isinstance(config, str) else "custom"
        self.radius = cfg["radius"]
        k, br, st = cfg["num_blocks"], cfg["block_radius"], cfg["block_step"]
        centres = [self.radius + (i - (k - 1) // 2) * st for i in range(k)]
        if k % 2 != 1 or centres[0] - br < 0 or centres[-1] + br > 2 * self.radius:
            raise ValueError(f"blocks {centres} +- {br} do not fit window radius {self.radius}")
        self.block_starts = [c - br for c in centres]
        self.block_len = 2 * br + 1
        self.centre_index = k // 2
        c = cfg["channels"]
        self.unshuffle = u = int(cfg.get("unshuffle", 1))
        self.encoder = BlockEncoder(br, cfg["scales"], cfg["scale_channels"], c,
                                    cfg["res_blocks"], u)
        self.coarse_head = nn.Conv2d(c, u * u, 3, padding=1)
        self.align = PyramidAlign(c, cfg["offset_hidden"], cfg["groups"], cfg["levels"])
        self.mutual = nn.Conv2d(2 * c, c, 1)
        self.fuse_in = nn.Conv2d(k * c, c, 1)
        self.fuse = nn.Sequential(*[ResBlock(c) for _ in range(cfg["fuse_blocks"])])
        self.out = nn.Conv2d(c, u * u, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, windows: torch.Tensor) -> dict[str, torch.Tensor]:
        b, t, h, w = windows.shape
        if t != 2 * self.radius + 1:
            raise ValueError(f"window has {t} frames, network needs {2 * self.radius + 1}")
        u = self.unshuffle
        m = u * 2 ** (self.cfg["levels"] - 1)
        ph, pw = (-h) % m, (-w) % m
        x = windows.float()
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        if u > 1:
            x = F.pixel_unshuffle(x, u)
        hp, wp = x.shape[-2:]
        k = len(self.block_starts)
        u2 = u * u
        blocks = torch.stack([x[:, s * u2 : (s + self.block_len) * u2]
                              for s in self.block_starts], 1)
        feats = self.encoder(blocks.reshape(b * k, self.block_len * u2, hp, wp))
        pyr = [f.reshape(b, k, *f.shape[1:]) for f in self.align.pyramid(feats)]
        ci = self.centre_index
        centre = [p[:, ci] for p in pyr]
        coarse = self.coarse_head(centre[0])
        nb_idx = [i for i in range(k) if i != ci]
        # all neighbours aligned in one batched pass
        nb = [p[:, nb_idx].reshape(b * (k - 1), *p.shape[2:]) for p in pyr]
        ct = [cp.repeat_interleave(k - 1, 0) for cp in centre]
        aligned = self.align(nb, ct)
        gate = torch.sigmoid(self.mutual(torch.cat((aligned, ct[0]), 1)))
        gated = (aligned * gate).reshape(b, k - 1, *aligned.shape[1:])
        parts = [gated[:, j] for j in range(k - 1)]
        parts.insert(ci, centre[0])
        fused = self.fuse(F.leaky_relu(self.fuse_in(torch.cat(parts, 1)), 0.1))
        scene = coarse + self.out(fused)
        if u > 1:
            coarse, scene = F.pixel_shuffle(coarse, u), F.pixel_shuffle(scene, u)
        return {"scene": scene[..., :h, :w], "coarse": coarse[..., :h, :w]}


def count_flops(net: nn.Module, shape: tuple[int, int] = (250, 400)) -> int:
    """FLOPs of one forward pass on one window of ``shape`` (FlopCounterMode, 2 per MAC)."""
    import copy

    from torch.utils.flop_counter import FlopCounterMode

    # on the meta device: shapes only, so counting costs no arithmetic
    meta = copy.deepcopy(net).to("meta")
    x = torch.zeros(1, 2 * net.radius + 1, *shape, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        meta(x)
    return int(fc.get_total_flops())


def save_reconstruction_net(net: ReconstructionNet, path: str | Path,
                            metadata: Mapping[str, Any] | None = None,
                            half: bool = True) -> None:
    """Weights (fp16 by default) + JSON config in the safetensors metadata (no pickle)."""
    from safetensors.torch import save_file

    sd = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).contiguous()
          .cpu() for k, v in net.state_dict().items()}
    meta = {"format": "spkc-recon-1", "config": json.dumps(net.cfg),
            "config_name": net.config_name}
    meta.update({k: str(v) for k, v in (metadata or {}).items()})
    save_file(sd, str(path), metadata=meta)


def load_reconstruction_net(path: str | Path, device: str = "cpu") -> ReconstructionNet:
    """Build the network recorded in a safetensors file and load its weights (float32)."""
    from safetensors import safe_open

    from spkc.errors import MissingWeightsError

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own SafetensorError on bad bytes
        raise MissingWeightsError(f"cannot read reconstruction weights: {exc}", path) from exc
    if meta.get("format") != "spkc-recon-1":
        raise MissingWeightsError("not a spkc reconstruction weights file", path)
    cfg = json.loads(meta["config"])
    net = ReconstructionNet(cfg)
    net.config_name = meta.get("config_name", "custom")
    net.load_state_dict({k: v.float() for k, v in sd.items()})
    return net.to(device).eval()


def param_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())

