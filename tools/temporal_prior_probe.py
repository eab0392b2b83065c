"""Probe (issue 20, part 4): what would the simplest temporal prior save on the learned codec?

For consecutive scenes of a clip (learned reconstructions of the long synthetic clip cached by
tools/temporal_results.py), the shipped ``baseline`` model (no spike attention, so scenes
alone suffice) computes each scene's latents y_k and hyperprior. Three ideal y+z rates
(-log2 of the discretised Gaussian likelihoods, rounding as the decoder does):

* intra: y_k coded with the hyperprior/channel-context mean and scale (today's codec);
* residual: a P scene codes round(y_k - yhat_{k-1}) (yhat_{k-1} the previous *decoded*
  latents, so the chain is what a decoder reproduces) with the hyperprior scale of scene k
  times one per-channel factor 2**(e/2), e chosen per scene and channel by the encoder
  (signalled: ~1 byte per channel); z is coded as today;
* oracle-best: per scene the cheaper of the two (a mode bit).

It also prints the PSNR of g_s(yhat) against the scene for intra and residual chains (the
quantisation grid differs: residual latents are rounded around yhat_{k-1}, not around mu).
It records a measurement, not a feature; it uses the model's float path (the exact integer
path gives the same symbols up to rare rounding ties).

    python tools/temporal_prior_probe.py --quality 4 --scenes 50
"""

from __future__ import annotations

import argparse
import glob
import time

import numpy as np
import torch

from spkc.codecs.learned import BaselineCodec
from spkc.models.entropy_models import Y_RANGE
from spkc.models.entropy_models import gauss_bin as _gauss_bin


def measure(scenes: np.ndarray, quality: int, gop: int) -> dict:
    """Ideal rates of intra, co-located residual and the per-latent oracle (see module doc)
    for scenes (K, H, W) float32 in [0, 1]."""
    model = BaselineCodec(quality=quality).model()
    K, H, W = scenes.shape
    intra_bits, res_bits, z_bits, best_bits = [], [], [], []
    oracle_bits: list[float] = []
    mse_intra, mse_res = [], []
    prev = None
    with torch.no_grad():
        for k in range(K):
            x = torch.from_numpy(scenes[k][None, None])
            y = model.analyse(x)
            z = model.h_a(y)
            out = model.from_latents(y, z, H, W, noisy=False)
            lz = float(-torch.log2(out["likelihoods"]["z"]).sum())
            ly = float(-torch.log2(out["likelihoods"]["y"]).sum())
            intra_hat = out["y_hat"]
            mse_intra.append(float(((out["x_hat"] - x) ** 2).mean()))
            # the hyperprior scales and means of scene k, as the intra model computes them
            hyp, _ = model.hyper_decode(z, noisy=False)
            sig, yh, mus = [], [], []
            for i, ys in enumerate(y.split(model.slice, 1)):
                mu, s = model.ctx.params(i, hyp, yh)
                yh.append(torch.clamp(torch.floor(ys - mu + 0.5), -Y_RANGE, Y_RANGE) + mu)
                sig.append(s)
                mus.append(mu)
            sigma = torch.cat(sig, 1)
            chain, res_k, bits_k = intra_hat, ly, ly
            if k % gop and prev is not None:
                r = torch.floor(y - prev + 0.5)
                best = None
                for e in range(-8, 15):
                    lik = torch.clamp(_gauss_bin(r, sigma * 2 ** (e / 2)), min=1e-9)
                    b = -torch.log2(lik).sum(dim=(0, 2, 3))  # per channel
                    best = b if best is None else torch.minimum(best, b)
                res_k = float(best.sum()) + 8 * y.shape[1]  # + one byte per channel for e
                # bound: per latent the cheaper of the intra mean and the previous latent as
                # mean (no side information counted: no real selector does better)
                rq = torch.clamp(torch.floor(y - torch.cat(mus, 1) + 0.5), -Y_RANGE, Y_RANGE)
                li = -torch.log2(torch.clamp(_gauss_bin(rq, sigma), min=1e-9))
                lp = -torch.log2(torch.clamp(_gauss_bin(r, sigma), min=1e-9))
                oracle_bits.append(float(torch.minimum(li, lp).sum()))
                if res_k < ly:
                    chain, bits_k = prev + r, res_k
            x_res = torch.clamp(model.g_s(chain)[:, :, :H, :W], 0, 1)
            mse_res.append(float(((x_res - x) ** 2).mean()))
            prev = chain
            intra_bits.append(ly)
            res_bits.append(res_k)
            best_bits.append(bits_k)
            z_bits.append(lz)
    px = K * H * W
    p_bits = sum(b for k, b in enumerate(intra_bits) if k % gop)
    return {"quality": quality, "scenes": K, "gop": gop,
            "intra_bpp": (sum(intra_bits) + sum(z_bits)) / px,
            "residual_bpp": (sum(res_bits) + sum(z_bits)) / px,
            "best_bpp": (sum(best_bits) + sum(z_bits)) / px,
            "z_bpp": sum(z_bits) / px,
            "oracle_p_change": (sum(oracle_bits) / p_bits - 1) if p_bits else None,
            "psnr_intra": float(10 * np.log10(1 / np.mean(mse_intra))),
            "psnr_best": float(10 * np.log10(1 / np.mean(mse_res)))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quality", type=int, default=4)
    ap.add_argument("--scenes", type=int, default=50)
    ap.add_argument("--gop", type=int, default=32)
    ap.add_argument("--recon", default=None, help="cached reconstructions (.npy, (K, H, W))")
    args = ap.parse_args()
    path = args.recon or sorted(glob.glob(
        "/tmp/spkc-temporal-cache/recon-synthetic-1600-*-learned-S32-*.npy"))[0]
    rates = np.load(path)[: args.scenes]
    top = float(np.quantile(rates, 0.999)) * 1.1
    t0 = time.time()
    m = measure(np.clip(rates / top, 0, 1).astype(np.float32), args.quality, args.gop)
    i = m["intra_bpp"]
    print(f"{path}\nbaseline q{args.quality}, {m['scenes']} scenes, gop {args.gop}, "
          f"{time.time() - t0:.0f} s")
    print(f"intra        {i:.4f} bpp  PSNR {m['psnr_intra']:.2f} dB (z {m['z_bpp']:.4f} bpp)")
    print(f"residual     {m['residual_bpp']:.4f} bpp  ({100 * (m['residual_bpp'] / i - 1):+.1f} %)")
    if m["oracle_p_change"] is not None:
        print(f"per-latent oracle on P scenes: {m['oracle_p_change']:+.1%} of their intra y "
              "bits (a bound, no side information)")
    print(f"best of both {m['best_bpp']:.4f} bpp  ({100 * (m['best_bpp'] / i - 1):+.1f} %)  "
          f"PSNR {m['psnr_best']:.2f} dB")


if __name__ == "__main__":
    main()
