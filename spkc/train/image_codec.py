"""Training the learned scene codec on still images: BSDS500 gray crops (CPU-friendly).

Spikes for SOAM/BiSOAM are simulated from each crop: the crop pans slowly (random velocity,
<= 0.5 px/frame) and a soft-reset integrate-and-fire neuron per pixel (random gain and initial
potential) fires over the L frames before and after the scene time.

Example (what produced the shipped initial weights; see docs/training-log.md)::

    python -m spkc.train.image_codec --quality 3 --attention bisoam --minutes 10 \
        --out spkc/weights/learned-bisoam-compact-q3-v1.safetensors
    python -m spkc.train.image_codec --quality 1 --init <q3 file> --minutes 3 --out ...

(Formerly ``tools/train_codec.py``, same arguments.) :mod:`spkc.train.campaign` runs
one of these per quality and variant.

Prints one JSON line with the run's figures (held-out BSDS val subset: estimated bpp, actual
coded bpp, PSNR) and, with ``--log``, appends a section to docs/training-log.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import signal
import time
from pathlib import Path

import numpy as np
import torch

from spkc.errors import SpkcError
from spkc.models.config import QUALITY_LAMBDAS
from spkc.models.losses import bits_per_pixel, rd_terms
from spkc.models.scene_codec import SceneCompressionModel
from spkc.models.surgery import grow_model
from spkc.models.weights import weights_config
from spkc.spikes.simulate import integrate_and_fire_torch
from spkc.train.data import DEFAULT_BSDS as BSDS
from spkc.train.data import load_gray_images

REPO = Path(__file__).resolve().parents[2]


def simulate_if(frames: np.ndarray, gain: float, v0: np.ndarray) -> np.ndarray:
    """Soft-reset integrate-and-fire: frames (T, H, W) luminance -> (T, H, W) float32 spikes."""
    v = v0.copy()
    out = np.zeros(frames.shape, np.float32)
    for t in range(frames.shape[0]):
        v += gain * frames[t]
        s = v >= 1.0
        v -= s
        out[t] = s
    return out


def make_batch(images: list[np.ndarray], rng: np.random.Generator, batch: int, size: int,
               spike_len: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x (B,1,S,S), spikes_before (B,L,S,S), spikes_after (B,L,S,S)) from panned crops."""
    L = spike_len
    margin = L // 2 + 1
    xs, sbs, sas = [], [], []
    for _ in range(batch):
        img = images[rng.integers(len(images))]
        if rng.random() < 0.5:
            img = img[:, ::-1]
        h, w = img.shape
        y0 = rng.integers(margin, h - size - margin)
        x0 = rng.integers(margin, w - size - margin)
        vy, vx = rng.uniform(-0.5, 0.5, 2)
        # scene time t = 0; like the pipeline: before = t in [-L, -1], after = t in [1, L]
        ts = np.arange(-L, L + 1)
        frames = np.stack([img[y0 + int(round(vy * t)): y0 + int(round(vy * t)) + size,
                               x0 + int(round(vx * t)): x0 + int(round(vx * t)) + size]
                           for t in ts])
        gain = rng.uniform(0.25, 0.7)  # real clips fire 0.17-0.35 spikes/pixel/frame
        spikes = simulate_if(frames, gain, rng.random((size, size), dtype=np.float32))
        xs.append(frames[L])
        sbs.append(spikes[:L])
        sas.append(spikes[L + 1:])
    f = lambda a: torch.from_numpy(np.ascontiguousarray(np.stack(a)))  # noqa: E731
    return f(xs)[:, None], f(sbs), f(sas)


class TorchBatcher:
    """``make_batch`` on the training device: the same panned crops and soft-reset I&F, drawn
    with torch's generator, so a GPU is not starved by per-sample numpy work. Images are
    stored (N, H, W) with portrait ones transposed to landscape (BSDS: 321 x 481)."""

    def __init__(self, images: list[np.ndarray], device: torch.device, seed: int) -> None:
        land = [im if im.shape[0] <= im.shape[1] else im.T for im in images]
        h = min(im.shape[0] for im in land)
        w = min(im.shape[1] for im in land)
        self.images = torch.from_numpy(np.stack([im[:h, :w] for im in land])).to(device)
        self.device = device
        self.gen = torch.Generator(device=device).manual_seed(seed)

    def _uniform(self, n: int, lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=self.gen, device=self.device)

    def __call__(self, batch: int, size: int, spike_len: int
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x (B,1,S,S), spikes_before (B,L,S,S), spikes_after (B,L,S,S)) float32."""
        n, h, w = self.images.shape
        L, dev = spike_len, self.device
        margin = L // 2 + 1
        idx = torch.randint(n, (batch,), generator=self.gen, device=dev)
        y0 = torch.randint(margin, h - size - margin, (batch,), generator=self.gen, device=dev)
        x0 = torch.randint(margin, w - size - margin, (batch,), generator=self.gen, device=dev)
        vy, vx = self._uniform(batch, -0.5, 0.5), self._uniform(batch, -0.5, 0.5)
        flip = torch.rand(batch, generator=self.gen, device=dev) < 0.5
        ts = torch.arange(-L, L + 1, device=dev, dtype=torch.float32)
        ar = torch.arange(size, device=dev)
        rows = y0[:, None, None] + torch.round(vy[:, None] * ts)[:, :, None].long() + ar
        cols = x0[:, None, None] + torch.round(vx[:, None] * ts)[:, :, None].long() + ar
        cols = torch.where(flip[:, None, None], w - 1 - cols, cols)
        frames = self.images[idx[:, None, None, None], rows[..., None], cols[:, :, None, :]]
        # one I&F run over the whole batch: samples side by side as (T, B*S, S), each
        # sample's gain folded into its light (the simulator's gain is one number)
        gain = self._uniform(batch, 0.25, 0.7)[:, None, None, None]
        light = (frames * gain).transpose(0, 1).reshape(2 * L + 1, batch * size, size)
        v0 = torch.rand(batch * size, size, generator=self.gen, device=dev)
        spikes = integrate_and_fire_torch(light, init=v0).reshape(2 * L + 1, batch, size, size)
        spikes = spikes.transpose(0, 1).float()
        return frames[:, L:L + 1], spikes[:, :L], spikes[:, L + 1:]


@torch.no_grad()
def evaluate(model: SceneCompressionModel, val: list[np.ndarray], spike_len: int,
             size: int = 192) -> dict[str, float]:
    """Estimated bpp, actual coded bpp and PSNR on centre crops of held-out images, and the
    PSNR of the transforms alone (g_s(g_a(x)), latents not quantised): when that ceiling is
    no higher than the coded PSNR, the transforms limit quality, not the rate."""
    rng = np.random.default_rng(1234)
    model.eval()
    est, act, mse, mse_ae = [], [], [], []
    for img in val:
        x, sb, sa = make_batch([img], rng, 1, size, spike_len)
        out = model(x, sb, sa)
        payloads = model.compress(x, sb, sa)
        x_hat = model.decompress(payloads)
        est.append(float(out["bpp"][0]))
        act.append(sum(8 * len(v) for k, v in payloads[0].items() if k != "meta") / size**2)
        mse.append(float(((x_hat - x) ** 2).mean()))
        mse_ae.append(float(((model.transforms_only(x, sb, sa) - x) ** 2).mean()))
    model.train()
    m = float(np.mean(mse))
    return {"val_bpp_est": float(np.mean(est)), "val_bpp_actual": float(np.mean(act)),
            "val_psnr": float(10 * np.log10(1 / m)),
            "val_psnr_unquantized": float(10 * np.log10(1 / float(np.mean(mse_ae)))),
            "val_images": len(val), "val_crop": size}


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module docstring); ``argv`` defaults to ``sys.argv[1:]``."""
    ap = argparse.ArgumentParser(prog="python -m spkc.train.image_codec",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--quality", type=int, default=3, choices=sorted(QUALITY_LAMBDAS))
    ap.add_argument("--attention", default="bisoam", choices=["bisoam", "soam", "none"])
    ap.add_argument("--config", default="compact")
    ap.add_argument("--init", type=Path, help="weights to start from (fine-tuning)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--minutes", type=float, default=10.0, help="wall-clock bound")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--schedule", default="constant", choices=["constant", "cosine"],
                    help="cosine: decay to lr/20 over the run (by steps or minutes, whichever "
                         "bound is nearer)")
    ap.add_argument("--train", default="all", choices=["all", "attention"],
                    help="attention: stage III-attn, only SOAM/BiSOAM learns (rest frozen)")
    ap.add_argument("--clip", type=float, default=1.0, help="gradient-norm clip (0: none)")
    ap.add_argument("--spike-len", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val", type=int, default=8,
                    help="held-out BSDS val images to evaluate on after training (0: none)")
    ap.add_argument("--images", type=Path, default=BSDS / "train",
                    help="folder of training images (*.jpg)")
    ap.add_argument("--log", action="store_true", help="append to docs/training-log.md")
    ap.add_argument("--batcher", default="auto", choices=["auto", "numpy", "torch"],
                    help="batch maker: numpy (CPU default) or torch on the device (GPU default)")
    ap.add_argument("--log-every", type=int, default=50, help="steps between progress lines")
    ap.add_argument("--new-rate-ramp", type=int, default=0,
                    help="after growing --init into a config with more latent channels: their "
                         "rate counts 0 for this many steps, then ramps up linearly over as many "
                         "more (without it the rate term silences them before the synthesis "
                         "learns to use them)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    attention = None if args.attention == "none" else args.attention
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: CUDA is not available")
    model = SceneCompressionModel(args.config, attention)
    new_from = model.cfg["m"]  # latent channels from here on are new (grown); none by default
    if args.init:
        init_cfg = weights_config(args.init)
        if init_cfg != model.cfg:
            # a larger config than the init's: grow it (same decoded scenes), then train on
            small = SceneCompressionModel(init_cfg, attention)
            small.load_weights(args.init)
            model = grow_model(small, args.config)
            new_from = init_cfg["m"]
            print(f"grown from {args.init.name} ({init_cfg}) into {args.config}", flush=True)
        else:
            model.load_weights(args.init)
    model.to(device)
    try:
        train = load_gray_images(args.images)
        val = load_gray_images(BSDS / "val")[:args.val] if args.val else []
    except SpkcError as exc:
        raise SystemExit(f"error: {exc}") from None
    # on a GPU the numpy batch maker would starve it; CPU runs keep it (their old seeds)
    use_torch = args.batcher == "torch" or (args.batcher == "auto" and device.type == "cuda")
    batcher = (TorchBatcher(train, device, args.seed) if use_torch else
               lambda b, s, n: make_batch(train, rng, b, s, n))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    stop = []  # SIGTERM (e.g. `timeout`) ends the loop; the weights are still written
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    lam = QUALITY_LAMBDAS[args.quality]
    if args.train == "attention":
        if attention is None:
            raise SystemExit("--train attention needs --attention soam or bisoam")
        groups = [{"params": model.train_attention_only(), "base_lr": args.lr}]
    else:
        aux = [model.z_logits]
        main_params = [p for p in model.parameters() if p is not model.z_logits]
        groups = [{"params": main_params, "base_lr": args.lr},
                  {"params": aux, "base_lr": args.lr * 10}]
    opt = torch.optim.Adam([{**g, "lr": g["base_lr"]} for g in groups],
                           fused=device.type == "cuda")
    t0 = time.time()
    step = 0
    hist: list[torch.Tensor] = []
    while step < args.steps and time.time() - t0 < args.minutes * 60 and not stop:
        if args.schedule == "cosine":
            frac = min(1.0, max(step / args.steps, (time.time() - t0) / (args.minutes * 60)))
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * frac)))
        x, sb, sa = (t.to(device, non_blocking=True)
                     for t in batcher(args.batch, args.crop, args.spike_len))
        out = model(x, sb, sa)
        ramp = min(1.0, max(0.0, step / args.new_rate_ramp - 1.0)) if args.new_rate_ramp else 1.0
        if ramp < 1.0 and new_from < model.cfg["m"]:
            weights = torch.ones(model.cfg["m"], device=device)
            weights[new_from:] = ramp
            out = {**out, "bpp": bits_per_pixel(out["likelihoods"], x[0, 0].numel(), weights)}
        loss, bpp, mse = rd_terms(out, x, lam)
        opt.zero_grad()
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], args.clip)
        opt.step()
        step += 1
        hist.append(torch.stack([bpp.detach(), mse.detach()]))
        if step % args.log_every == 0:
            mean_bpp, mean_mse = torch.stack(hist).mean(0).tolist()
            hist.clear()
            print(f"step {step} {time.time() - t0:.0f}s bpp {mean_bpp:.4f} "
                  f"psnr {10 * np.log10(1 / mean_mse):.2f}", flush=True)
    train_s = time.time() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.cpu().save_weights(args.out)
    # evaluate what ships: reload the saved (fp16 / integer) weights
    shipped = SceneCompressionModel(args.config, attention)
    shipped.load_weights(args.out)
    res = {"out": str(args.out), "config": args.config, "attention": args.attention,
           "quality": args.quality, "lambda": lam, "init": str(args.init) if args.init else None,
           "steps": step, "train_seconds": round(train_s, 1), "batch": args.batch,
           "crop": args.crop, "lr": args.lr, "schedule": args.schedule,
           "train": args.train, "clip": args.clip, "spike_len": args.spike_len,
           "seed": args.seed,
           "device": (torch.cuda.get_device_name(device) if device.type == "cuda" else
                      f"cpu ({platform.processor() or platform.machine()}, "
                      f"{args.threads} thread(s))"),
           **(evaluate(shipped, val, args.spike_len) if val else {})}
    print(json.dumps(res))
    if args.log:
        with open(REPO / "docs" / "training-log.md", "a") as f:
            stage = "stage III-attn" if args.train == "attention" else "training"
            f.write(f"\n## codec {stage}: {args.out.name}\n\n```\n"
                    f"python -m spkc.train.image_codec --quality {args.quality} --attention "
                    f"{args.attention} --config {args.config} --minutes {args.minutes} "
                    f"--batch {args.batch} --crop {args.crop} --lr {args.lr} --clip {args.clip} "
                    f"--schedule {args.schedule} --train {args.train} "
                    f"--seed {args.seed}"
                    + (f" --init {args.init}" if args.init else "") + f" --out {args.out}\n```\n\n"
                    + "".join(f"- {k}: {v}\n" for k, v in res.items()))


if __name__ == "__main__":
    main()
