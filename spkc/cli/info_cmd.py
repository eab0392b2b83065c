"""``spkc info FILE``: what a spike file (.dat/.npy/.npz/.h5) or a .spkc file holds."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import numpy as np

DEFAULT_RATE_HZ = 20000.0


def describe_spike_file(path: str | os.PathLike, height: int = 250, width: int = 400,
                        rate: float = DEFAULT_RATE_HZ, block: int = 256) -> dict[str, Any]:
    """Summary of a raw spike file: format, frames, shape, duration (s) at ``rate`` Hz, file
    size and mean firing rate (spikes/pixel/frame). Streams the file block by block."""
    from spkc.io import open_spikes

    with open_spikes(path, height=height, width=width) as src:
        T, H, W = src.shape
        spikes = 0
        for blk in src.iter_blocks(block):
            spikes += int(np.count_nonzero(blk))
    pixels = T * H * W
    return {
        "path": os.fspath(path),
        "format": Path(path).suffix.lower().lstrip("."),
        "frames": T,
        "height": H,
        "width": W,
        "frame_rate_hz": float(rate),
        "duration_s": T / float(rate),
        "file_bytes": Path(path).stat().st_size,
        "spikes": spikes,
        "mean_firing_rate": spikes / pixels if pixels else 0.0,
    }


def format_spike_info(d: dict[str, Any]) -> str:
    """Human-readable lines for :func:`describe_spike_file`'s dict."""
    return "\n".join([
        f"{d['path']}: .{d['format']}, {d['frames']} frames of {d['height']}x{d['width']} "
        f"({d['duration_s']:.4f} s at {d['frame_rate_hz']:g} Hz)",
        f"  size           {d['file_bytes']} bytes",
        f"  spikes         {d['spikes']} "
        f"(mean firing rate {d['mean_firing_rate']:.4f} spikes/pixel/frame)",
    ])


@click.command("info")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--height", default=250, show_default=True, help="Frame height (.dat only).")
@click.option("--width", default=400, show_default=True, help="Frame width (.dat only).")
@click.option("--rate", "rate", default=DEFAULT_RATE_HZ, show_default=True, type=float,
              help="Frame rate in Hz, for the duration of raw spike files.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of text.")
def info(file: Path, height: int, width: int, rate: float, as_json: bool) -> None:
    """Describe FILE: frames, shape, duration and mean firing rate (.dat/.npy/.npz/.h5),
    or codec, scenes and size (.spkc)."""
    from spkc.errors import InputError

    if rate <= 0:
        raise InputError(f"--rate must be positive, got {rate}", file)
    if file.suffix.lower() == ".spkc":
        from spkc.pipeline.describe import describe_spkc, format_spkc_info

        d = describe_spkc(file)
        text = format_spkc_info
    else:
        d = describe_spike_file(file, height=height, width=width, rate=rate)
        text = format_spike_info
    click.echo(json.dumps(d, indent=2, default=str) if as_json else text(d))


COMMANDS = [info]
