"""Probe (session 7): would a checkerboard spatial context lower the y rate of the shipped codec?

The shipped entropy model predicts each latent slice's means and scales from the hyperprior
and the slices before it (channel context). A checkerboard context (He et al. 2021) codes half
of each slice's positions (the anchors) first and predicts the other half from them too. This
probe freezes learned v4's transforms, computes the analysis latents of BSDS train crops once,
adds a spatial-context conv per slice (read by the context net's first layer through weights
that start at zero, so training starts from the shipped rate) and trains it on the noisy rate
of those fixed latents; it prints the ideal y rate (bits/pixel, exact rounding) of 24 val
crops before and during training. ``--oracle`` gives the non-anchor positions all eight true,
unquantised neighbours instead (a bound no decoder could reach).

    python tools/probes/spatial_context.py --quality 4 --steps 1000
    python tools/probes/spatial_context.py --quality 4 --steps 400 --kernel 3 --oracle

Uses the model's private parameter path; it records a measurement, it is not a feature.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from _setup import SPIKE_LEN, shipped_model, train_batcher, val_batches

from spkc.models.codec import MEAN_GRID, NUM_SCALES, SCALE_MIN, SIDX_OFFSET, Z_RANGE, _gauss_bin
from spkc.models.exact import ExactConv2d, quantize_act, ste_round


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quality", type=int, default=4)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--kernel", type=int, default=5, help="spatial context conv size")
    ap.add_argument("--features", type=int, default=32, help="spatial context channels")
    ap.add_argument("--oracle", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # the added nets' initialisation and the batches drawn
    m = shipped_model(args.quality)

    @torch.no_grad()
    def latents(batches) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.cat([m.analyse(*b) for b in batches])
        return y, m.h_a(y)

    batcher = train_batcher(7)
    ytr, ztr = latents(batcher(8, 256, SPIKE_LEN) for _ in range(24))
    yva, zva = latents(val_batches())
    s, cs, k = m.slice, args.features, args.kernel
    sctx = torch.nn.ModuleList(ExactConv2d(s, cs, k) for _ in range(m.cfg["slices"]))
    for conv in sctx:
        torch.nn.init.normal_(conv.weight, std=0.02)
        torch.nn.init.zeros_(conv.bias)
    extra = torch.nn.ParameterList(torch.nn.Parameter(torch.zeros(m.cfg["cc"], cs, 3, 3))
                                   for _ in sctx)
    centre_off = torch.ones(k, k)
    centre_off[k // 2, k // 2] = 0

    def params(i: int, inp: torch.Tensor, sfeat: torch.Tensor | None):
        first = m.ctx[i].layers[0]
        h = F.conv2d(inp, first.qweight(), first.qbias(), 1, 1)
        if sfeat is not None:
            w = torch.clamp(ste_round(extra[i] * 1024), -8192, 8191) / 1024
            h = h + F.conv2d(sfeat, w, None, 1, 1)
        h = quantize_act(h)
        for layer in m.ctx[i].layers[1:]:
            h = layer(h)
        mu = ste_round(h[:, :s] * MEAN_GRID) / MEAN_GRID
        idx = torch.clamp(ste_round(h[:, s:] + SIDX_OFFSET), 0, NUM_SCALES - 1)
        return mu, SCALE_MIN * torch.exp(idx * m._log_step)

    def bits(y: torch.Tensor, z: torch.Tensor, noisy: bool, spatial: bool) -> torch.Tensor:
        hyp = m.h_s(torch.clamp(torch.floor(z + 0.5), -Z_RANGE, Z_RANGE))
        ii, jj = torch.meshgrid(torch.arange(y.shape[2]), torch.arange(y.shape[3]),
                                indexing="ij")
        anchor = ((ii + jj) % 2 == 0).float()
        prev, total = [], torch.zeros(())
        for i, ys in enumerate(y.split(s, 1)):
            inp = torch.cat([hyp, *prev], 1)
            zeros = torch.zeros(y.shape[0], cs, *y.shape[-2:]) if spatial else None
            mu, sg = params(i, inp, zeros)
            if spatial:
                if args.oracle:
                    conv = sctx[i]
                    sf = F.conv2d(ys, conv.qweight() * centre_off, conv.qbias(), 1, k // 2)
                else:
                    sf = sctx[i]((ste_round(ys - mu) + mu) * anchor)
                mu_n, sg_n = params(i, inp, sf)
                mu = anchor * mu + (1 - anchor) * mu_n
                sg = anchor * sg + (1 - anchor) * sg_n
            r = ys - mu
            lik = _gauss_bin(r + torch.rand_like(r) - 0.5 if noisy else torch.floor(r + 0.5),
                             sg)
            total = total - torch.log2(torch.clamp(lik, min=1e-9)).sum()
            prev.append(ste_round(r) + mu)
        return total

    npx_val = yva.shape[0] * 192 * 192
    with torch.no_grad():
        b0 = float(bits(yva, zva, False, False)) / npx_val
    print(f"q{args.quality} val y bits/pixel without spatial context: {b0:.4f}", flush=True)
    opt = torch.optim.Adam([*sctx.parameters(), *extra], lr=1e-3)
    t0 = time.time()
    for it in range(args.steps):
        j = torch.randint(ytr.shape[0], (16,))
        loss = bits(ytr[j], ztr[j], True, True) / (16 * 256 * 256)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 200 == 0 or it == args.steps - 1:
            with torch.no_grad():
                b1 = float(bits(yva, zva, False, True)) / npx_val
            print(f"step {it} train {float(loss.detach()):.4f} val y bits/pixel {b1:.4f} "
                  f"({100 * (b1 / b0 - 1):+.1f} %) {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
