"""``spkc train``: make training data, run a training stage, export shipped weights."""

from __future__ import annotations

import json
from pathlib import Path

import click

from spkc.errors import InputError


@click.group("train")
def train_group() -> None:
    """Training data generation and staged training (I-recon, I-codec, II, III-attn, III-all)."""


@train_group.command("make-data")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="HDF5 file to write.")
@click.option("--num-clips", default=1000, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--split", default="train", show_default=True, type=click.Choice(["train", "val"]),
              help="BSDS500 folder; 'val' is the held-out split.")
@click.option("--size", default=96, show_default=True, type=int,
              help="Clip height and width (pixels, multiple of 8).")
@click.option("--radius", default=20, show_default=True, type=int,
              help="Window radius R: clips have 2R+1 frames.")
@click.option("--substeps", default=4, show_default=True, type=int,
              help="Rendered sub-frame time steps per frame (motion blur).")
@click.option("--max-speed", default=2.0, show_default=True, type=float,
              help="Camera speed limit, pixels/frame.")
@click.option("--zoom", nargs=2, type=float, default=(0.6, 1.6), show_default=True,
              help="Range of image pixels per output pixel (above 1: finer texture).")
@click.option("--bsds", default=None, type=click.Path(file_okay=False),
              help="BSDS500 directory (default ../shared/data/bsds500).")
def make_data(output: str, num_clips: int, seed: int, split: str, size: int, radius: int,
              substeps: int, max_speed: float, zoom: tuple[float, float],
              bsds: str | None) -> None:
    """Render moving-image clips, simulate spikes, write them to OUTPUT (HDF5)."""
    from tqdm import tqdm

    from spkc.train.data import GenConfig, make_dataset

    if size < 16 or radius < 1 or substeps < 1:
        raise InputError("need --size >= 16, --radius >= 1, --substeps >= 1")
    cfg = GenConfig(height=size, width=size, radius=radius, substeps=substeps,
                    max_speed=max_speed, zoom_range=tuple(zoom))
    with tqdm(total=num_clips, desc="clips", dynamic_ncols=True) as bar:
        stats = make_dataset(output, num_clips, seed=seed, split=split, cfg=cfg,
                             bsds_dir=bsds, progress=lambda i: bar.update(1))
    click.echo(f"{output}: {stats['clips']} clips of {2 * radius + 1}x{size}x{size}, "
               f"{stats['bytes'] / 1e6:.1f} MB, {stats['seconds']:.1f} s")
    click.echo(f"firing rate spikes/pixel/frame: mean {stats['rate_mean']:.3f}, "
               f"p10 {stats['rate_p10']:.3f}, p90 {stats['rate_p90']:.3f}, "
               f"min {stats['rate_min']:.3f}, max {stats['rate_max']:.3f}; camera speed "
               f"mean {stats['speed_mean']:.2f} px/frame, max {stats['speed_max']:.2f}")


@train_group.command("run")
@click.option("--config", "config", required=True, type=click.Path(),
              help="JSON config (a path, or a name in spkc/train/configs).")
@click.option("--stage", required=True,
              type=click.Choice(["I-recon", "I-codec", "II", "III-attn", "III-all"]))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option("--resume", is_flag=True, help="Continue from OUT/ckpt.pt.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key (VALUE parsed as JSON when it can be).")
@click.option("--no-progress", is_flag=True, help="No tqdm bar.")
def run(config: str, stage: str, out: str, resume: bool, overrides: tuple[str, ...],
        no_progress: bool) -> None:
    """Run one training stage (under torchrun for several processes / GPUs)."""
    from spkc.train.trainer import load_config, parse_overrides, train

    cfg = load_config(config, stage, parse_overrides(list(overrides)))
    last = train(cfg, out, resume=resume, progress=not no_progress)
    click.echo(json.dumps(last))


@train_group.command("export-recon")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Weights file to write (e.g. spkc/weights/recon-compact.safetensors).")
@click.option("--note", default="", help="Provenance note stored beside the weights.")
def export_recon(run_dir: str, output: str, note: str) -> None:
    """Ship RUN_DIR/recon.safetensors as fp16 OUTPUT plus a JSON sidecar (SHA-256, PSNR)."""
    from spkc.codecs.reconstructors import sha256_file
    from spkc.models.reconstruction import (
        count_flops,
        load_reconstruction_net,
        param_count,
        save_reconstruction_net,
    )
    from spkc.train.trainer import validate_recon

    src = Path(run_dir) / "recon.safetensors"
    net = load_reconstruction_net(src)
    out = Path(output)
    save_reconstruction_net(net, out, {"source": str(src), "note": note}, half=True)
    out.chmod(0o644)  # safetensors writes 0600; shipped package data must be world-readable
    shipped = load_reconstruction_net(out)
    val = validate_recon(shipped, None, next(shipped.parameters()).device)
    side = {"file": out.name, "sha256": sha256_file(out), "config": shipped.cfg,
            "config_name": shipped.config_name, "params": param_count(shipped),
            "gflop_250x400": count_flops(shipped) / 1e9, "reds_psnr_affine": val,
            "source_run": str(Path(run_dir)), "note": note}
    out.with_suffix(".json").write_text(json.dumps(side, indent=1) + "\n")
    click.echo(json.dumps(side))


COMMANDS = [train_group]
