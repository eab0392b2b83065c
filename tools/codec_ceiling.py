#!/usr/bin/env python
"""What bounds the learned scene codec: its RD points beside HEVC's on the same crops, and
how far its synthesis could go with the best latents.

    python tools/codec_ceiling.py                       # 24 BSDS val crops of 192x192
    python tools/codec_ceiling.py --config wide --weights-dir runs/x --png ceiling.png

On held-out gray crops (BSDS val, the crops :mod:`spkc.train.image_codec` validates on) it prints
per quality: bits/pixel and PSNR of the real coded stream (with and without encoder-side
latent refinement), and two ceilings of the same weights --

* ``amortised``: ``g_s(g_a(x))``, latents not quantised (what the analysis gives);
* ``best latents``: ``g_s(y)`` with ``y`` optimised for MSE alone (Adam, no rate, not
  quantised): the most the synthesis can draw. When even this is near the coded PSNR at a
  rate where HEVC does better, more bits or a better encoder cannot close the gap; the
  synthesis (its latent width and depth) must grow.

-- and HEVC (all-intra x265, the project's ``hevc`` codec, whole stream counted) at several
QPs for reference. Needs ../shared/data/bsds500 (or ``--images``) and, for HEVC, PyAV.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
BSDS_VAL = REPO.parent / "shared" / "data" / "bsds500" / "val"
LEVELS = (1, 2, 3, 4)


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def psnr(mse: float) -> float:
    return float(10 * np.log10(1.0 / max(mse, 1e-12)))


def best_latents_psnr(model, x: torch.Tensor, y0: torch.Tensor, steps: int) -> float:
    """PSNR of ``g_s(y)`` for ``y`` optimised from ``y0`` for MSE to ``x`` (float surrogate
    of the exact synthesis; weights fixed)."""
    from spkc.models.exact import float_surrogate

    h, w = x.shape[-2:]
    y = y0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=0.05)
    with torch.enable_grad():
        for _ in range(steps):
            with float_surrogate():
                loss = (model.g_s(y)[..., :h, :w] - x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return psnr(float((model.g_s(y)[..., :h, :w].clamp(0, 1) - x).pow(2).mean()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=BSDS_VAL, help="folder of *.jpg")
    ap.add_argument("--count", type=int, default=24, help="images (one centre-ish crop each)")
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--variant", default="bisoam", choices=["bisoam", "baseline"])
    ap.add_argument("--config", default=None, help="codec config (default: the codec's)")
    ap.add_argument("--weights-version", type=int, default=None,
                    help="shipped weights version (default: the newest of the variant)")
    ap.add_argument("--weights-dir", type=Path, default=None,
                    help="read {variant}-{config}-q{Q}.safetensors from here instead (e.g. "
                         "a training campaign's final/ folder)")
    ap.add_argument("--qualities", type=_ints, default=[1, 4])
    ap.add_argument("--refine", type=int, default=100, help="latent refinement steps (0: off)")
    ap.add_argument("--hevc", type=_ints, default=[1, 2, 3, 4], help="hevc qualities")
    ap.add_argument("--ceiling-steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--png", type=Path, default=None, help="write an RD figure here")
    args = ap.parse_args(argv)

    from tqdm import tqdm

    from spkc.codecs.learned import BaselineCodec, LearnedCodec, shipped_weights_path
    from spkc.codecs.registry import get_codec
    from spkc.errors import SpkcError
    from spkc.models.config import QUALITY_LAMBDAS
    from spkc.models.scene_codec import SceneCompressionModel
    from spkc.train.data import load_gray_images
    from spkc.train.image_codec import make_batch

    args.config = args.config or LearnedCodec.default_config
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        images = load_gray_images(args.images)[:args.count]
    except SpkcError:  # no such folder, or no images in it
        images = []
    if not images:
        print(f"no *.jpg images in {args.images}; nothing to measure")
        return 0
    rng = np.random.default_rng(1234)  # the crops image_codec's validation uses
    crops = [make_batch([im], rng, 1, args.crop, 8) for im in images]
    npx = args.crop**2
    # curve name -> [(bpp, PSNR)] in quality order; the best-latents ceiling per quality
    curves: dict[str, list[tuple[float, float]]] = {}
    ceilings: list[float] = []
    print(f"{len(crops)} crops of {args.crop}x{args.crop}")
    print(f"{'codec':>28} {'bpp':>7} {'PSNR':>6}")

    def report(curve: str, label: str, bpp: float, db: float) -> None:
        curves.setdefault(curve, []).append((bpp, db))
        print(f"{label:>28} {bpp:7.4f} {db:6.2f}", flush=True)

    for q in args.hevc:
        try:
            codec = get_codec("hevc", q)
            bits, mses = [], []
            for x, _, _ in crops:
                scene = x[0].numpy()
                payloads = codec.encode(scene)
                dec = codec.decode(payloads, scene.shape[1:])
                bits.append(8 * sum(len(v) for v in payloads[0].values()) / npx)
                mses.append(float(((dec - scene) ** 2).mean()))
        except SpkcError as exc:
            print(f"hevc skipped: {exc}")
            break
        report("hevc", f"hevc q{q}", float(np.mean(bits)), psnr(float(np.mean(mses))))

    cls = LearnedCodec if args.variant == "bisoam" else BaselineCodec
    for q in args.qualities:
        if args.weights_dir is not None:
            path = args.weights_dir / f"{args.variant}-{args.config}-q{q}.safetensors"
        else:
            path = shipped_weights_path(cls(quality=q, config=args.config,
                                            weights_version=args.weights_version).weights_name)
        model = SceneCompressionModel(args.config, cls.attention)
        model.load_weights(path)
        model.eval()
        for refine in sorted({0, args.refine}):
            bits, mses = [], []
            for x, sb, sa in tqdm(crops, desc=f"q{q} refine {refine}", unit="crop",
                                  leave=False):
                payloads = model.compress(x, sb, sa, refine_steps=refine,
                                          lam=QUALITY_LAMBDAS[q])
                dec = model.decompress(payloads)
                bits.append(8 * sum(len(v) for k, v in payloads[0].items() if k != "meta")
                            / npx)
                mses.append(float(((dec - x) ** 2).mean()))
            report(f"{args.variant} {args.config} refine {refine}",
                   f"{path.stem} refine {refine}", float(np.mean(bits)),
                   psnr(float(np.mean(mses))))
        amortised, best = [], []
        for x, sb, sa in tqdm(crops, desc=f"q{q} ceilings", unit="crop", leave=False):
            with torch.no_grad():
                y0 = model.analyse(x, *((sb, sa) if cls.attention else (None, None)))
                amortised.append(float((model.g_s(y0)[..., :args.crop, :args.crop].clamp(0, 1)
                                        - x).pow(2).mean()))
            best.append(10 ** (-best_latents_psnr(model, x, y0, args.ceiling_steps) / 10))
        print(f"{path.stem}: amortised (unquantised) {psnr(float(np.mean(amortised))):.2f} dB, "
              f"best latents (MSE only, {args.ceiling_steps} steps) "
              f"{psnr(float(np.mean(best))):.2f} dB", flush=True)
        ceilings.append(psnr(float(np.mean(best))))

    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for name, pts in curves.items():
            ax.plot(*zip(*pts, strict=True), "o-" if name == "hevc" else "s-", label=name)
        # each quality's ceiling drawn at the rate of its own (most refined) coded point
        coded = curves.get(f"{args.variant} {args.config} refine {args.refine}", [])
        if ceilings and len(coded) == len(ceilings):
            ax.plot([b for b, _ in coded], ceilings, "v:", color="gray",
                    label="synthesis fed MSE-optimal latents")
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(f"{len(crops)} BSDS val crops {args.crop}²")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.png, dpi=120)
        print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
