"""Synthetic spike/scene training data: moving natural images -> integrate-and-fire spikes.

Each clip: a gray BSDS500 image moved along a random smooth trajectory (pan with acceleration,
rotation, zoom), with 0-3 independently moving cut-out objects (soft elliptical masks cut from
other images) for occlusion and motion boundaries. Luminance is rendered at ``substeps`` times
per frame and averaged (the light a pixel integrates during a frame, so fast motion blurs the
intensity as in a real sensor), then spikes are simulated by :func:`spkc.spikes.simulate.
integrate_and_fire` with randomised threshold, gain, dark current, shot noise, initial state and
reset mode, so mean rates span ~0.1-0.45 spikes/pixel/frame.

HDF5 layout (one file per split; chunked, gzip-compressed, one clip per chunk)::

    spikes  (N, 2R+1, H, W/8) uint8   bit-packed along W (np.packbits, bitorder="little")
    rate    (N, H, W) float32         expected firing rate at the centre frame R, spikes/frame:
                                      (gain * luminance + dark) / threshold, clipped to [0, 1]
    scene   (N, H, W) float32         luminance in [0, 1] at the centre frame (codec target)
    params  (N, 6) float32            threshold, gain, dark, noise_std, hard_reset, speed px/frame
    attrs: format, seed, split, radius, substeps, height, width, num_clips

Clip ``i`` depends only on ``(seed, i)``: generation is reproducible and byte-identical.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from spkc.errors import InputError, OutputError

FORMAT = "spkc-train-1"
DEFAULT_BSDS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bsds500"
PARAM_NAMES = ("threshold", "gain", "dark", "noise_std", "hard_reset", "speed")


@dataclass
class GenConfig:
    """Generation options (sizes in pixels, times in frames)."""

    height: int = 96
    width: int = 96
    radius: int = 20
    substeps: int = 4
    max_objects: int = 3
    max_speed: float = 2.0       # camera pan, px/frame
    max_object_speed: float = 3.0
    rate_range: tuple[float, float] = (0.25, 0.85)  # firing rate of luminance 1, spikes/frame
    zoom_range: tuple[float, float] = (0.6, 1.6)  # image px per output px (>1: finer detail)


def load_gray_images(directory: str | Path) -> list[np.ndarray]:
    """Every JPEG/PNG in ``directory`` as (H, W) float32 gray in [0, 1], sorted by name."""
    from PIL import Image

    d = Path(directory)
    if not d.is_dir():
        raise InputError("image directory not found", d)
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        raise InputError("no .jpg/.png images found", d)
    out = []
    for f in files:
        try:
            with Image.open(f) as im:
                out.append(np.asarray(im.convert("L"), dtype=np.float32) / 255.0)
        except OSError as exc:
            raise InputError(f"cannot read image: {exc}", f) from exc
    return out


def _trajectory(rng: np.random.Generator, times: np.ndarray, max_speed: float,
                out_hw: tuple[int, int], img_hw: tuple[int, int], zoom: float) -> torch.Tensor:
    """Affine thetas (S, 2, 3) mapping output normalised coords to image normalised coords.

    Smooth motion: position c + v t + a t^2 / 2 (px of the output), rotation w t, log-zoom z t,
    with t in frames relative to the centre frame.
    """
    ho, wo = out_hw
    hi, wi = img_hw
    speed = max_speed * (rng.random() ** 0.7)
    ang = rng.uniform(0, 2 * math.pi)
    v = speed * np.array([math.cos(ang), math.sin(ang)])
    acc = rng.normal(0, 0.02, 2)
    rot0, rotv = rng.uniform(-0.3, 0.3), rng.normal(0, 0.004)
    zv = rng.normal(0, 0.003)
    t = times[:, None]
    disp = v[None] * t + 0.5 * acc[None] * t * t            # (S, 2) output px
    rot = rot0 + rotv * times
    sc = zoom * np.exp(zv * times)                           # image px per output px
    # the output window's centre travels over the image; keep it inside
    span_x = max(wi - wo * zoom * 1.3, 0) / 2
    span_y = max(hi - ho * zoom * 1.3, 0) / 2
    cx = rng.uniform(-span_x, span_x) + disp[:, 0] * zoom
    cy = rng.uniform(-span_y, span_y) + disp[:, 1] * zoom
    cos, sin = np.cos(rot), np.sin(rot)
    # output normalised (x, y) -> output px -> rotate/scale -> image px -> image normalised
    th = np.zeros((len(times), 2, 3))
    th[:, 0, 0] = sc * cos * wo / wi
    th[:, 0, 1] = -sc * sin * ho / wi
    th[:, 1, 0] = sc * sin * wo / hi
    th[:, 1, 1] = sc * cos * ho / hi
    th[:, 0, 2] = 2 * cx / wi
    th[:, 1, 2] = 2 * cy / hi
    return torch.from_numpy(th.astype(np.float32)), speed


def _sample(img: np.ndarray, theta: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    src = torch.from_numpy(img)[None, None].expand(theta.shape[0], 1, *img.shape)
    grid = F.affine_grid(theta, [theta.shape[0], 1, *hw], align_corners=False)
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)[:, 0]


def _object_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """Soft-edged random ellipse/superellipse mask (size, size) float32 in [0, 1]."""
    yy, xx = np.mgrid[-1:1:size * 1j, -1:1:size * 1j].astype(np.float32)
    a, b = rng.uniform(0.5, 0.95, 2)
    p = rng.uniform(1.5, 4.0)
    rho = (np.abs(xx / a) ** p + np.abs(yy / b) ** p) ** (1 / p)
    edge = rng.uniform(0.02, 0.1)
    return np.clip((1 - rho) / edge, 0, 1).astype(np.float32)


def render_clip(rng: np.random.Generator, images: list[np.ndarray], cfg: GenConfig
                ) -> tuple[np.ndarray, np.ndarray, float]:
    """-> (per-frame luminance (2R+1, H, W) float32 in [0,1], centre scene (H, W), speed)."""
    hw = (cfg.height, cfg.width)
    n_frames = 2 * cfg.radius + 1
    s = cfg.substeps
    # sub-step times relative to the middle of the centre frame, frame-major
    times = (np.arange(n_frames * s) + 0.5) / s - (cfg.radius + 0.5)
    bg = images[rng.integers(len(images))]
    zoom = rng.uniform(*cfg.zoom_range)
    theta, speed = _trajectory(rng, times, cfg.max_speed, hw, bg.shape, zoom)
    lum = _sample(bg, theta, hw)
    for _ in range(int(rng.integers(0, cfg.max_objects + 1))):
        src = images[rng.integers(len(images))]
        osz = int(rng.integers(min(hw) // 4, int(min(hw) * 0.8)))
        y0 = int(rng.integers(0, src.shape[0] - osz))
        x0 = int(rng.integers(0, src.shape[1] - osz))
        patch = src[y0 : y0 + osz, x0 : x0 + osz]
        if rng.random() < 0.5:  # contrast the object against the background
            patch = np.clip(patch * rng.uniform(0.5, 1.5) + rng.uniform(-0.2, 0.2), 0, 1)
        mask = _object_mask(rng, osz)
        both = np.stack([patch * mask, mask]).astype(np.float32)
        th, _ = _trajectory(rng, times, cfg.max_object_speed, hw, (osz, osz), 1.0)
        # place the object: an output-sized view whose centre is offset from the object centre
        off = rng.uniform(-0.6, 0.6, 2).astype(np.float32)
        th[:, :, :2] *= min(hw) / osz
        th[:, :, 2] = th[:, :, 2] * 0.3 + torch.from_numpy(off)
        src_t = torch.from_numpy(both)[None].expand(th.shape[0], 2, osz, osz)
        grid = F.affine_grid(th, [th.shape[0], 2, *hw], align_corners=False)
        pm = F.grid_sample(src_t, grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)
        lum = lum * (1 - pm[:, 1]) + pm[:, 0]
    gamma = rng.uniform(0.7, 1.4)
    lum = lum.clamp(0, 1) ** gamma
    frames = lum.reshape(n_frames, s, *hw).mean(1).numpy()
    return frames.astype(np.float32), frames[cfg.radius].copy(), speed


def simulate_clip(rng: np.random.Generator, frames: np.ndarray, cfg: GenConfig
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Randomised I&F on luminance frames -> (spikes (T,H,W) bool, rate (H,W), params (5,))."""
    from spkc.spikes.simulate import integrate_and_fire

    threshold = float(rng.uniform(0.5, 2.0))
    rate_max = float(rng.uniform(*cfg.rate_range))
    gain = rate_max * threshold
    dark = float(rng.uniform(0, 0.02)) * threshold
    # skewed to low noise (reds-spikes' ISI regularity matches ~0.05 threshold) but up to 0.12
    noise = 0.12 * float(rng.random()) ** 2 * threshold
    hard = rng.random() < 0.1
    spikes = integrate_and_fire(frames, gain=gain, threshold=threshold,
                                reset="hard" if hard else "soft", init="random",
                                seed=int(rng.integers(2**63)), dark_current=dark,
                                noise_std=noise)
    rate = np.clip((gain * frames[cfg.radius] + dark) / threshold, 0, 1).astype(np.float32)
    return spikes, rate, np.array([threshold, gain, dark, noise, float(hard)], np.float32)


def make_dataset(out: str | Path, num_clips: int, seed: int = 0, split: str = "train",
                 cfg: GenConfig | None = None, bsds_dir: str | Path | None = None,
                 progress: Callable[[int], None] | None = None) -> dict[str, float]:
    """Write ``num_clips`` clips to HDF5 ``out``; returns size and statistics.

    ``split`` picks the BSDS500 folder (``train`` or ``val`` -- the held-out split).
    """
    import h5py

    cfg = cfg or GenConfig()
    if cfg.width % 8:
        raise InputError(f"width must be a multiple of 8 (bit packing), got {cfg.width}")
    if num_clips < 1:
        raise InputError(f"num_clips must be >= 1, got {num_clips}")
    src = Path(bsds_dir) if bsds_dir is not None else DEFAULT_BSDS
    images = load_gray_images(src / split)
    t_frames = 2 * cfg.radius + 1
    h, w = cfg.height, cfg.width
    out = Path(out)
    t0 = time.perf_counter()
    rates, speeds = [], []
    torch_threads = torch.get_num_threads()
    try:
        f = h5py.File(out, "w", track_order=False)
    except OSError as exc:
        raise OutputError(f"cannot create HDF5 file: {exc}", out) from exc
    try:
        torch.set_num_threads(1)  # same bytes whatever the machine's thread count
        kw = dict(compression="gzip", compression_opts=4, shuffle=True, track_times=False)
        d_sp = f.create_dataset("spikes", (num_clips, t_frames, h, w // 8), np.uint8,
                                chunks=(1, t_frames, h, w // 8), **kw)
        d_rt = f.create_dataset("rate", (num_clips, h, w), np.float32, chunks=(1, h, w), **kw)
        d_sc = f.create_dataset("scene", (num_clips, h, w), np.float32, chunks=(1, h, w), **kw)
        d_pr = f.create_dataset("params", (num_clips, len(PARAM_NAMES)), np.float32, **kw)
        for i in range(num_clips):
            rng = np.random.default_rng([seed, i, 0 if split == "train" else 1])
            frames, scene, speed = render_clip(rng, images, cfg)
            spikes, rate, params = simulate_clip(rng, frames, cfg)
            d_sp[i] = np.packbits(spikes, axis=-1, bitorder="little")
            d_rt[i] = rate
            d_sc[i] = scene
            d_pr[i] = np.append(params, np.float32(speed))
            rates.append(float(spikes.mean()))
            speeds.append(speed)
            if progress is not None:
                progress(i + 1)
        f.attrs.update({"format": FORMAT, "seed": seed, "split": split,
                        "radius": cfg.radius, "substeps": cfg.substeps, "height": h,
                        "width": w, "num_clips": num_clips})
    except OSError as exc:
        raise OutputError(f"cannot write HDF5 file: {exc}", out) from exc
    finally:
        torch.set_num_threads(torch_threads)
        f.close()
    r = np.array(rates)
    return {"clips": num_clips, "bytes": out.stat().st_size, "seconds": time.perf_counter() - t0,
            "rate_mean": float(r.mean()), "rate_min": float(r.min()),
            "rate_max": float(r.max()), "rate_p10": float(np.percentile(r, 10)),
            "rate_p90": float(np.percentile(r, 90)), "speed_mean": float(np.mean(speeds)),
            "speed_max": float(np.max(speeds))}


def write_held_out_clips(n: int, seed: int, out_dir: Path, height: int = 250, width: int = 400,
                   gt_frame: int = 151) -> list[tuple[Path, str]]:
    """``n`` spike clips no network was trained on: BSDS500 val images (beyond the 8 that
    validate codec training) moved by the training-data generator over 2*gt_frame+1 frames of
    height x width, with randomised integrate-and-fire; clip i is seeded by ``(seed, i)``.
    Writes ``heldout<i>.dat`` and its ground-truth luminance at ``gt_frame`` as
    ``heldout<i>.png`` (16-bit); returns [(path, one-line stats)]."""
    from PIL import Image

    from spkc.io import write_dat

    images = load_gray_images(DEFAULT_BSDS / "val")[8:]
    cfg = GenConfig(height=height, width=width, radius=gt_frame, substeps=2, max_speed=1.0,
                    max_object_speed=1.5)
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        frames, scene, speed = render_clip(rng, images, cfg)
        spikes, _, params = simulate_clip(rng, frames, cfg)
        path = out_dir / f"heldout{i + 1}.dat"
        write_dat(path, spikes)
        Image.fromarray(np.round(scene * 65535).astype(np.uint16)).save(path.with_suffix(".png"))
        out.append((path, f"{spikes.mean():.3f} spikes/px/frame, camera {speed:.2f} px/frame, "
                          f"threshold {params[0]:.2f}, noise {params[3]:.3f}"))
    return out


class SpikeDataset:
    """In-memory clips of a make-data HDF5 file, sampled as random augmented crops.

    ``batch(rng, n, patch)`` -> (windows (n, 2R+1, p, p) float32 {0,1}, rate (n, 1, p, p),
    scene (n, 1, p, p)); augmentation: flips and 90-degree rotations.
    """

    def __init__(self, path: str | Path | list[str | Path]) -> None:
        import h5py

        if isinstance(path, (list, tuple)):
            # several files: clips concatenated (same radius required)
            parts = [SpikeDataset(p) for p in path]
            if not parts:
                raise InputError("empty list of training data files")
            if len({p.radius for p in parts}) != 1 or len({p.rate.shape[1:] for p in parts}) != 1:
                raise InputError("training data files differ in radius or clip size",
                                 parts[0].path)
            self.path = parts[0].path
            self.radius = parts[0].radius
            for name in ("spikes", "rate", "scene", "params"):
                setattr(self, name, np.concatenate([getattr(p, name) for p in parts]))
            return
        path = Path(path)
        try:
            with h5py.File(path, "r") as f:
                if f.attrs.get("format") != FORMAT:
                    raise InputError("not a spkc training data file (make-data)", path)
                self.spikes = f["spikes"][()]
                self.rate = f["rate"][()]
                self.scene = f["scene"][()]
                self.params = f["params"][()]
                self.radius = int(f.attrs["radius"])
        except OSError as exc:
            raise InputError(f"cannot read training data: {exc}", path) from exc
        self.path = path

    def __len__(self) -> int:
        return self.spikes.shape[0]

    def clip(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Clip i: (spikes (2R+1, H, W) bool, rate (H, W), scene (H, W))."""
        sp = np.unpackbits(self.spikes[i], axis=-1, bitorder="little").astype(bool)
        return sp, self.rate[i], self.scene[i]

    def batch(self, rng: np.random.Generator, n: int, patch: int,
              indices: np.ndarray | None = None) -> tuple[torch.Tensor, ...]:
        h, w = self.rate.shape[1:]
        if patch > min(h, w):
            raise InputError(f"patch {patch} larger than clips {h}x{w}", self.path)
        idx = rng.integers(len(self), size=n) if indices is None else indices
        wins, rates, scenes = [], [], []
        for i in idx:
            y = int(rng.integers(0, h - patch + 1))
            x = int(rng.integers(0, w - patch + 1))
            x8 = x // 8 * 8  # unpack whole bytes
            sp = np.unpackbits(self.spikes[i, :, y : y + patch, x8 // 8 : (x8 + patch + 7) // 8
                                           + 1], axis=-1, bitorder="little")
            sp = sp[..., x - x8 : x - x8 + patch]
            st = np.concatenate([sp, self.rate[i, None, y : y + patch, x : x + patch],
                                 self.scene[i, None, y : y + patch, x : x + patch]], 0)
            k = int(rng.integers(4))
            st = np.rot90(st, k, axes=(1, 2))
            if rng.random() < 0.5:
                st = st[:, :, ::-1]
            st = np.ascontiguousarray(st, dtype=np.float32)
            wins.append(st[:-2])
            rates.append(st[-2:-1])
            scenes.append(st[-1:])
        return (torch.from_numpy(np.stack(wins)), torch.from_numpy(np.stack(rates)),
                torch.from_numpy(np.stack(scenes)))
