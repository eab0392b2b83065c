"""Probe (session 7): does a larger synthesis, trained alone, decode the shipped latents better?

Freezes learned v4's analysis and entropy model, quantises the latents of 1,600 BSDS train
crops (128²) as the codec does (no refinement), and trains only the synthesis ``g_s`` to map
them back to the crops (MSE; the rate cannot change). ``compact`` fine-tunes the shipped
synthesis; ``deep``/``deep2`` grow it to 3/2 residual blocks per scale, ``wide`` to a 64/48
channel body, ``widedeep`` both (:func:`grow_synthesis`, :func:`widen_synthesis`: training
starts from the shipped decoded scenes). Prints the PSNR of the 24 val crops
``tools/train_codec.py`` validates on. If a larger synthesis were the limit, it would rise.

    python tools/probes/synthesis_only.py --variant widedeep --minutes 12 --lr 2e-4

"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _setup import SPIKE_LEN, shipped_model, train_batcher, val_batches

from spkc.models.codec import grow_synthesis, widen_synthesis

VARIANTS = {
    "compact": lambda m: m,
    "deep": lambda m: grow_synthesis(m, 3),
    "deep2": lambda m: grow_synthesis(m, 2),
    "wide": lambda m: widen_synthesis(m, 48, 64),
    "widedeep": lambda m: grow_synthesis(widen_synthesis(m, 48, 64), 2),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quality", type=int, default=4)
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="compact")
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--lr", type=float, default=1e-4, help="peak of a cosine schedule")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # the added nets' initialisation and the batches drawn
    m = shipped_model(args.quality)

    @torch.no_grad()
    def quantised_latents(x, sb, sa) -> torch.Tensor:
        y = m.analyse(x, sb, sa)
        return m.from_latents(y, m.h_a(y), *x.shape[-2:], noisy=False)["y_hat"]

    def data(batches) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for x, sb, sa in batches:
            xs.append(x)
            ys.append(quantised_latents(x, sb, sa))
        return torch.cat(xs), torch.cat(ys)

    batcher = train_batcher(11)
    x_tr, y_tr = data(batcher(16, 128, SPIKE_LEN) for _ in range(100))
    x_va, y_va = data(val_batches())
    gs = VARIANTS[args.variant](m).g_s
    for p in gs.parameters():
        p.requires_grad_(True)

    @torch.no_grad()
    def val_psnr() -> float:
        x_hat = gs(y_va)[:, :, :192, :192].clamp(0, 1)
        return float(10 * torch.log10(1 / ((x_hat - x_va) ** 2).mean()))

    n_par = sum(p.numel() for p in gs.parameters())
    print(f"{args.variant} q{args.quality}: g_s {n_par} parameters, val PSNR at the start "
          f"{val_psnr():.3f} dB", flush=True)
    opt = torch.optim.Adam(gs.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(1)
    t0, it, total = time.time(), 0, args.minutes * 60
    while (elapsed := time.time() - t0) < total:
        for group in opt.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + np.cos(np.pi * elapsed / total))
        j = torch.randint(x_tr.shape[0], (16,), generator=gen)
        loss = ((gs(y_tr[j]) - x_tr[j]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        it += 1
        if it % 300 == 0:
            print(f"step {it} {elapsed:.0f} s val PSNR {val_psnr():.3f} dB", flush=True)
    print(f"{args.variant} q{args.quality}: {it} steps, val PSNR {val_psnr():.3f} dB", flush=True)


if __name__ == "__main__":
    main()
