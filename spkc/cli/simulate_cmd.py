"""``spkc simulate``: spikes from a synthetic scene or from images, by integrate-and-fire."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


def _list_images(inputs: tuple[Path, ...]) -> list[Path]:
    from spkc.errors import InputError

    files: list[Path] = []
    for p in inputs:
        if p.is_dir():
            found = sorted(q for q in p.iterdir()
                           if q.is_file() and q.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise InputError(f"folder holds no images ({', '.join(IMAGE_EXTENSIONS)})", p)
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise InputError("no such file or folder", p)
    return files


def load_gray(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Image file -> (H, W) float32 gray in [0, 1]; resized (bilinear) to ``size`` = (H, W)."""
    from PIL import Image, UnidentifiedImageError

    from spkc.errors import InputError

    try:
        with Image.open(path) as im:
            g = im.convert("F") if im.mode in ("I", "I;16", "F") else im.convert("L")
            if size is not None and (g.height, g.width) != size:
                g = g.resize((size[1], size[0]), Image.BILINEAR)
            arr = np.asarray(g, dtype=np.float32)
            peak = 255.0 if g.mode == "L" else max(float(arr.max()), 1.0)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"not a readable image: {exc}", path) from exc
    return np.clip(arr / np.float32(peak), 0.0, 1.0)


def image_intensity_blocks(images: list[Path], size: tuple[int, int], frames_per_image: int,
                           interpolate: bool, block: int) -> Iterator[np.ndarray]:
    """Yield (n, H, W) float32 intensity blocks: each image held for ``frames_per_image``
    frames, or (``interpolate``) blended linearly towards the next image over that span."""
    buf: list[np.ndarray] = []
    cur = load_gray(images[0], size)
    for i in range(len(images)):
        nxt = load_gray(images[i + 1], size) if i + 1 < len(images) else None
        for k in range(frames_per_image):
            if interpolate and nxt is not None:
                a = np.float32(k / frames_per_image)
                buf.append(cur * (1 - a) + nxt * a)
            else:
                buf.append(cur)
            if len(buf) == block:
                yield np.stack(buf)
                buf = []
        if nxt is not None:
            cur = nxt
    if buf:
        yield np.stack(buf)


def _tee_gt(blocks: Iterator[np.ndarray], path: Path, shape: tuple[int, int, int]
            ) -> Iterator[np.ndarray]:
    """Pass intensity blocks through while writing them to ``path`` as uint16 .npy; the file
    appears only when complete."""
    from numpy.lib.format import open_memmap

    from spkc.errors import OutputError

    partial = path.with_name(path.name + ".partial")
    try:
        out = open_memmap(partial, mode="w+", dtype=np.uint16, shape=shape)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", path) from exc
    t = 0
    try:
        for b in blocks:
            out[t:t + len(b)] = np.rint(np.clip(b, 0, 1) * 65535).astype(np.uint16)
            t += len(b)
            yield b
        out.flush()
        del out
        partial.replace(path)
    finally:
        if partial.exists():
            partial.unlink()


@click.command("simulate")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Spike file to write (.dat, .npy, .h5).")
@click.option("--synthetic", is_flag=True,
              help="Use the built-in moving-texture scene instead of images.")
@click.option("--frames", default=400, show_default=True,
              help="Frames to simulate (--synthetic).")
@click.option("--height", default=None, type=int,
              help="Frame height [default: 250, or the first image's].")
@click.option("--width", default=None, type=int,
              help="Frame width [default: 400, or the first image's].")
@click.option("--seed", default=0, show_default=True, help="Scene, initial state and noise seed.")
@click.option("--frames-per-image", default=50, show_default=True,
              help="Frames each image lasts (images).")
@click.option("--interpolate", is_flag=True,
              help="Blend each image into the next instead of holding it (images).")
@click.option("--gain", default=0.45, show_default=True,
              help="Spikes/frame at full intensity (times --threshold).")
@click.option("--threshold", default=1.0, show_default=True, help="Firing threshold.")
@click.option("--reset", type=click.Choice(["soft", "hard"]), default="soft", show_default=True)
@click.option("--dark-current", default=0.0, show_default=True,
              help="Added to the accumulator every frame.")
@click.option("--noise", "noise_std", default=0.0, show_default=True,
              help="Std of Gaussian shot noise per frame.")
@click.option("--speed", default=1.0, show_default=True,
              help="Motion speed factor of the synthetic scene (2 = twice as fast).")
@click.option("--gt-video", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the ground-truth luminance of every frame (--synthetic), "
                   "(T, H, W) uint16 .npy (luminance x 65535), for spkc eval --gt-video.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr [default: when stderr is a terminal].")
def simulate(inputs: tuple[Path, ...], output: Path, synthetic: bool, frames: int,
             height: int | None, width: int | None, seed: int, frames_per_image: int,
             interpolate: bool, gain: float, threshold: float, reset: str, dark_current: float,
             noise_std: float, speed: float, gt_video: Path | None,
             progress: bool | None) -> None:
    """Simulate a spike camera: INPUTS (images or folders of frames, in name order) or
    --synthetic -> integrate-and-fire spikes written to -o."""
    from tqdm import tqdm

    from spkc.errors import InputError
    from spkc.spikes.synthetic import SyntheticScene, simulate_to_file

    if synthetic == bool(inputs):
        raise InputError("give either --synthetic or images / a folder of frames (not both)",
                         output)
    if frames_per_image <= 0 or frames <= 0:
        raise InputError("--frames and --frames-per-image must be positive", output)
    block = 64
    if synthetic:
        h, w = height or 250, width or 400
        total = frames
        scene = SyntheticScene(h, w, seed, speed=speed)
        blocks = (scene.frames(t, min(block, total - t)) for t in range(0, total, block))
        if gt_video is not None:
            blocks = _tee_gt(blocks, gt_video, (total, h, w))
    else:
        if gt_video is not None:
            raise InputError("--gt-video needs --synthetic", gt_video)
        images = _list_images(inputs)
        if height is None or width is None:
            first = load_gray(images[0])
            h, w = height or first.shape[0], width or first.shape[1]
        else:
            h, w = height, width
        total = len(images) * frames_per_image
        blocks = image_intensity_blocks(images, (h, w), frames_per_image, interpolate, block)
    if progress is None:
        progress = sys.stderr.isatty()
    bar = tqdm(total=total, unit="frame", disable=not progress, desc="simulate", leave=False)
    with bar:
        res = simulate_to_file(output, blocks, h, w, num_frames=total, gain=gain,
                               threshold=threshold, reset=reset, init="random", seed=seed,
                               dark_current=dark_current, noise_std=noise_std,
                               on_block=bar.update)
    T, H, W = res["shape"]
    click.echo(f"{output}: {T} frames of {H}x{W}, mean firing rate "
               f"{res['mean_rate']:.4f} spikes/pixel/frame")


COMMANDS = [simulate]
