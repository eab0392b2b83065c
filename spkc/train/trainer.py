"""Staged training of the reconstruction network and the learned scene codec (DDP-ready).

Stages (SpikeCodec's three-stage schedule):

* ``I-recon``  reconstruction alone: L1 to the ground-truth firing rate (plus a small L1 on the
  centre block's coarse scene, which gives the per-block features a direct signal early on).
* ``I-codec``  image codec alone on ground-truth scenes: R + lambda*D (:func:`rd_loss`), with the
  spikes around the scene fed to SOAM/BiSOAM.
* ``II``       joint: the reconstructed rate, mapped to a scene in [0, 1] with the clip's known
  gain/dark/threshold (what the pipeline's per-clip scale does), feeds the codec; loss R +
  lambda*D against the ground-truth scene. ``train_recon: false`` freezes the reconstructor:
  the codec alone learns the scenes it will code (and to keep what the reconstructor got
  right), while shipped reconstructor weights stay valid.
* ``III-attn`` only the SOAM/BiSOAM parameters train, everything else frozen.
* ``III-all``  everything at the (low) learning rate of the stage config.

A run directory holds ``config.json`` (the resolved config), ``log.jsonl`` (one JSON object per
logged step / validation), ``ckpt.pt`` (models + optimizer + step; loaded with
``weights_only=True``), and the stage's exported weights ``recon.safetensors`` /
``codec.safetensors`` (fp32) that the next stage's ``init`` points to.

Multi-process: launch with ``torchrun --nproc_per_node N -m spkc.train.trainer ...`` (or
``spkc train run`` under torchrun); the process group comes from the torchrun environment
(NCCL on CUDA, gloo on CPU). Each rank draws its own batches from ``(seed, rank, step)`` so a
resumed run draws the same batches as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spkc._util import parse_key_values
from spkc.errors import InputError, OutputError, SpkcError

STAGES = ("I-recon", "I-codec", "II", "III-attn", "III-all")
CONFIG_DIR = Path(__file__).resolve().parent / "configs"

DEFAULTS: dict[str, Any] = {
    "recon_config": "compact",
    "codec_config": "compact",
    "attention": "bisoam",
    "lambda": 0.025,
    "seed": 0,
    "train_data": "data/train.h5",
    "val_data": None,
    "reds_dir": None,
    "batch": 8,
    "patch": 64,
    "steps": 1000,
    "lr": 1e-3,
    "lr_min": 1e-5,
    "warmup": 50,
    "grad_clip": 1.0,
    "coarse_weight": 0.25,
    "log_every": 20,
    "val_every": 250,
    "ckpt_every": 100,
    "init_recon": None,
    "init_codec": None,
    "train_recon": True,
    "threads": None,
}


def load_config(path: str | Path, stage: str, overrides: Mapping[str, Any] | None = None
                ) -> dict[str, Any]:
    """Defaults <- file's top level <- file's ``stages[stage]`` <- overrides. An override of
    None (``--set attention=null``) sets the key to None: that is how a baseline (no
    attention) or "no init" is asked for."""
    if stage not in STAGES:
        raise InputError(f"unknown stage {stage!r}; choose from {', '.join(STAGES)}")
    p = Path(path)
    for cand in (CONFIG_DIR / p.name, CONFIG_DIR / f"{p.name}.json"):
        if not p.is_file() and cand.is_file():
            p = cand
    try:
        raw = json.loads(p.read_text())
    except OSError as exc:
        raise InputError(f"cannot read training config: {exc.strerror or exc}", p) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"training config is not valid JSON: {exc}", p) from exc
    if not isinstance(raw, dict):
        raise InputError("training config must be a JSON object", p)
    cfg = dict(DEFAULTS)
    stages = raw.pop("stages", {})
    cfg.update(raw)
    cfg.update(stages.get(stage, {}))
    cfg.update(overrides or {})
    unknown = set(cfg) - set(DEFAULTS) - {"name", "comment"}
    if unknown:
        raise InputError(f"unknown training config keys: {sorted(unknown)}", p)
    cfg["stage"] = stage
    return cfg


class _Dist:
    """torchrun environment (or a single process)."""

    def __init__(self) -> None:
        import torch.distributed as dist

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.cuda = torch.cuda.is_available()
        if self.cuda:
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
        else:
            self.device = torch.device("cpu")
        self.dist = dist
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.cuda else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            self.dist.barrier()

    def close(self) -> None:
        if self.world > 1 and self.dist.is_initialized():
            self.dist.destroy_process_group()


def _scene_from_rate(rate: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Firing rate (B,1,H,W) -> luminance in [0,1] with each clip's threshold/gain/dark."""
    th, gain, dark = (params[:, i, None, None, None] for i in range(3))
    return ((rate * th - dark) / gain).clamp(0, 1)


class TrainModel(nn.Module):
    """The modules a stage trains, and its loss. forward -> (loss, stats dict of floats)."""

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__()
        from spkc.models.reconstruction import ReconstructionNet, load_reconstruction_net

        self.stage = cfg["stage"]
        self.lam = float(cfg["lambda"])
        self.coarse_weight = float(cfg["coarse_weight"])
        self.recon: nn.Module | None = None
        self.codec: nn.Module | None = None
        if self.stage != "I-codec":
            if cfg.get("init_recon"):
                self.recon = load_reconstruction_net(cfg["init_recon"]).train()
            else:
                self.recon = ReconstructionNet(cfg["recon_config"])
        if self.stage != "I-recon":
            from spkc.models.scene_codec import SceneCompressionModel

            self.codec = SceneCompressionModel(cfg["codec_config"], attention=cfg["attention"])
            if cfg.get("init_codec"):
                self.codec.load_weights(cfg["init_codec"])
        if self.stage == "II" and not cfg.get("train_recon", True):
            self.recon.requires_grad_(False)
        if self.stage == "III-attn":
            if self.recon is not None:
                self.recon.requires_grad_(False)
            self.codec.train_attention_only()
        if self.stage in ("II", "III-attn", "III-all") and self.recon is not None:
            self.recon_radius = self.recon.radius

    def forward(self, windows: torch.Tensor, rate: torch.Tensor, scene: torch.Tensor,
                params: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        stats: dict[str, torch.Tensor] = {}
        if self.recon is not None:
            out = self.recon(windows)
            l1 = F.l1_loss(out["scene"], rate)
            stats["l1"] = l1.detach()
            stats["psnr_rate"] = -10 * torch.log10(F.mse_loss(out["scene"], rate).detach()
                                                    .clamp_min(1e-10))
            if self.stage == "I-recon":
                loss = l1 + self.coarse_weight * F.l1_loss(out["coarse"], rate)
                return loss, stats
            x_in = _scene_from_rate(out["scene"], params)
        else:
            x_in = scene
        from spkc.models.losses import rd_terms

        r = (windows.shape[1] - 1) // 2
        before, after = windows[:, :r], windows[:, r + 1 :]
        cout = self.codec(x_in, before, after)
        loss, bpp, mse = rd_terms(cout, scene, self.lam)
        stats["bpp"] = bpp.detach()
        stats["psnr"] = -10 * torch.log10(mse.detach().clamp_min(1e-12))
        return loss, stats


def _lr_at(step: int, cfg: Mapping[str, Any]) -> float:
    """Linear warm-up then cosine decay from lr to lr_min over the stage's steps."""
    lr, lo, warm, total = cfg["lr"], cfg["lr_min"], cfg["warmup"], max(cfg["steps"], 1)
    if step < warm:
        return lr * (step + 1) / warm
    frac = min((step - warm) / max(total - warm, 1), 1.0)
    return lo + 0.5 * (lr - lo) * (1 + math.cos(math.pi * frac))


def validate_recon(recon: nn.Module, reds_dir: str | None, device: torch.device
                   ) -> dict[str, float]:
    """Affine-fit PSNR of the reconstruction at reds-spikes frame 151 ({} when absent)."""
    from spkc.train.validate import validate

    was = recon.training
    recon.eval()

    def run(win: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(win).to(device, torch.float32)
            return recon(x)["scene"][:, 0].clamp(0, 1).cpu().numpy()

    try:
        return validate(run, recon.radius, reds_dir)
    finally:
        recon.train(was)


def validate_holdout(model: TrainModel, data, device: torch.device, n: int = 32
                     ) -> dict[str, float]:
    """Mean loss stats on the first ``n`` clips of a held-out data set (centre crops)."""
    was = model.training
    model.eval()
    try:
        idx = np.arange(min(n, len(data)))
        rng = np.random.default_rng(0)
        p = min(data.rate.shape[1:]) // 32 * 32
        w, r, s = data.batch(rng, len(idx), p, indices=idx)
        prm = torch.from_numpy(data.params[idx])
        with torch.no_grad():
            loss, stats = model(w.to(device), r.to(device), s.to(device), prm.to(device))
        return {"loss": float(loss), **{k: float(v) for k, v in stats.items()}}
    finally:
        model.train(was)


def export_weights(model: TrainModel, out: Path, half: bool = False) -> list[Path]:
    """Write the stage's modules as safetensors in ``out`` (fp32 unless ``half``)."""
    from spkc.models.reconstruction import save_reconstruction_net

    written = []
    if model.recon is not None:
        p = out / "recon.safetensors"
        save_reconstruction_net(model.recon, p, {"stage": model.stage}, half=half)
        written.append(p)
    if model.codec is not None:
        p = out / "codec.safetensors"
        model.codec.save_weights(p, half=half)
        written.append(p)
    return written


def train(cfg: Mapping[str, Any], out: str | Path, resume: bool = False,
          progress: bool = True) -> dict[str, Any]:
    """Run one stage; returns the last logged record. Writes into run directory ``out``."""
    from spkc.train.data import SpikeDataset

    d = _Dist()
    out = Path(out)
    cfg = dict(cfg)
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg["threads"]))
    try:
        if d.main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.json").write_text(json.dumps(cfg, indent=1))
    except OSError as exc:
        raise OutputError(f"cannot write run directory: {exc}", out) from exc
    d.barrier()
    torch.manual_seed(int(cfg["seed"]) + d.rank)
    data = SpikeDataset(cfg["train_data"])
    val = SpikeDataset(cfg["val_data"]) if cfg.get("val_data") else None
    model = TrainModel(cfg).to(d.device)
    ddp = model
    if d.world > 1:
        ddp = nn.parallel.DistributedDataParallel(
            model, device_ids=[d.local_rank] if d.cuda else None)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg["lr"])
    step = 0
    ckpt = out / "ckpt.pt"
    if resume and ckpt.is_file():
        state = torch.load(ckpt, map_location=d.device, weights_only=True)
        if state.get("stage") != cfg["stage"]:
            raise InputError(f"checkpoint is stage {state.get('stage')}, not {cfg['stage']}",
                             ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
    elif resume and d.main:
        print(f"spkc train: no checkpoint in {out}, starting from step 0")
    log_f = open(out / "log.jsonl", "a") if d.main else None  # noqa: SIM115
    bar = None
    if d.main and progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg["steps"], initial=step, desc=cfg["stage"], dynamic_ncols=True)
    last: dict[str, Any] = {}
    t0 = time.perf_counter()
    acc: dict[str, float] = {}
    n_acc = 0

    def log(rec: dict[str, Any]) -> None:
        if log_f is not None:
            log_f.write(json.dumps(rec) + "\n")
            log_f.flush()

    def save() -> None:
        if d.main:
            tmp = ckpt.with_suffix(".partial")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "stage": cfg["stage"]}, tmp)
            os.replace(tmp, ckpt)
            export_weights(model, out)
        d.barrier()

    try:
        model.train()
        while step < cfg["steps"]:
            rng = np.random.default_rng([int(cfg["seed"]), d.rank, step])
            idx = rng.integers(len(data), size=cfg["batch"])
            w, r, s = data.batch(rng, cfg["batch"], cfg["patch"], indices=idx)
            prm = torch.from_numpy(data.params[idx])
            lr = _lr_at(step, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            loss, stats = ddp(w.to(d.device), r.to(d.device), s.to(d.device), prm.to(d.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg["grad_clip"]:
                torch.nn.utils.clip_grad_norm_(params, cfg["grad_clip"])
            opt.step()
            step += 1
            lval = float(loss.detach())
            if not math.isfinite(lval):
                raise SpkcError(f"training diverged at step {step} (loss {lval})")
            for k, v in {"loss": lval, **{k: float(v) for k, v in stats.items()}}.items():
                acc[k] = acc.get(k, 0.0) + v
            n_acc += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{v / n_acc:.4g}" for k, v in acc.items()})
            if step % cfg["log_every"] == 0 or step == cfg["steps"]:
                last = {"step": step, "stage": cfg["stage"], "lr": lr,
                        "time": round(time.perf_counter() - t0, 2), "world": d.world,
                        **{k: v / n_acc for k, v in acc.items()}}
                log(last)
                acc, n_acc = {}, 0
            if step % cfg["val_every"] == 0 or step == cfg["steps"]:
                if d.main:
                    rec: dict[str, Any] = {"step": step, "stage": cfg["stage"], "val": True}
                    if model.recon is not None:
                        rec.update({f"reds_{k}": v for k, v in
                                    validate_recon(model.recon, cfg.get("reds_dir"),
                                                   d.device).items()})
                    if val is not None:
                        rec.update({f"holdout_{k}": v for k, v in
                                    validate_holdout(model, val, d.device).items()})
                    log(rec)
                    last = {**last, **rec}
                    if bar is not None:
                        bar.write(json.dumps(rec))
                d.barrier()
            if step % cfg["ckpt_every"] == 0 or step == cfg["steps"]:
                save()
    finally:
        if bar is not None:
            bar.close()
        if log_f is not None:
            log_f.close()
        d.close()
    return last


def main(argv: list[str] | None = None) -> None:
    """``python -m spkc.train.trainer CONFIG STAGE OUT [--resume]`` (for torchrun)."""
    import argparse

    ap = argparse.ArgumentParser(prog="spkc.train.trainer")
    ap.add_argument("config")
    ap.add_argument("stage", choices=STAGES)
    ap.add_argument("out")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override a config key (value parsed as JSON, else a string)")
    a = ap.parse_args(argv)
    train(load_config(a.config, a.stage, parse_overrides(a.set)), a.out, resume=a.resume,
          progress=True)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """["steps=10", "train_data=x.h5"] -> {"steps": 10, "train_data": "x.h5"}."""
    return parse_key_values(items, "override")


if __name__ == "__main__":
    try:
        main()
    except SpkcError as exc:
        raise SystemExit(f"spkc: error: {exc}") from None
