"""Built-in synthetic scenes and spike samples (no download, no ../shared needed).

A scene is a textured background panning smoothly, with a few textured, rotating objects with
soft edges moving over it along smooth (drift + sinusoid) paths that wrap around the frame.
Every frame is a pure function of ``(seed, t)``, so long clips are made block by block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spkc.errors import InputError
from spkc.spikes.simulate import integrate_and_fire

_TEX = 512  # side of the periodic texture tiles, pixels


def _periodic_noise(rng: np.random.Generator, size: int, beta: float) -> np.ndarray:
    """Zero-mean, unit-std periodic noise (size, size) with a 1/f**beta amplitude spectrum."""
    f = np.fft.fftfreq(size)
    fr = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    fr[0, 0] = 1.0
    spec = np.fft.fft2(rng.standard_normal((size, size))) / fr ** beta
    spec[0, 0] = 0.0
    tex = np.real(np.fft.ifft2(spec))
    return ((tex - tex.mean()) / (tex.std() + 1e-12)).astype(np.float32)


def _sample(tex: np.ndarray, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Bilinear sample of a periodic texture at fractional coordinates (any shape)."""
    s0, s1 = tex.shape
    y0 = np.floor(yy)
    x0 = np.floor(xx)
    fy = (yy - y0).astype(np.float32)
    fx = (xx - x0).astype(np.float32)
    i0 = y0.astype(np.int64) % s0
    j0 = x0.astype(np.int64) % s1
    i1 = (i0 + 1) % s0
    j1 = (j0 + 1) % s1
    top = tex[i0, j0] * (1 - fx) + tex[i0, j1] * fx
    bot = tex[i1, j0] * (1 - fx) + tex[i1, j1] * fx
    return top * (1 - fy) + bot * fy


def _shift(tex: np.ndarray, h: int, w: int, oy: float, ox: float) -> np.ndarray:
    """(h, w) window of a periodic texture at fractional offset (oy, ox), bilinear.

    A pure translation, so 1-D row/column gathers replace the 2-D gather of :func:`_sample`.
    """
    s0, s1 = tex.shape
    iy, ix = int(np.floor(oy)), int(np.floor(ox))
    fy, fx = np.float32(oy - iy), np.float32(ox - ix)
    rows = (np.arange(h + 1) + iy) % s0
    cols = (np.arange(w + 1) + ix) % s1
    win = tex[rows][:, cols]
    top = win[:-1, :-1] * (1 - fx) + win[:-1, 1:] * fx
    bot = win[1:, :-1] * (1 - fx) + win[1:, 1:] * fx
    return top * (1 - fy) + bot * fy


@dataclass
class _Object:
    tex: np.ndarray
    level: float
    contrast: float
    a: float  # semi-axes, pixels
    b: float
    p: float  # superellipse exponent (2 = ellipse, large = rectangle)
    c0: np.ndarray  # (y, x) at t = 0
    v: np.ndarray  # drift, pixels/frame
    amp: np.ndarray  # sinusoid amplitude, pixels
    omega: np.ndarray  # rad/frame
    phase: np.ndarray
    angle0: float
    spin: float  # rad/frame


class SyntheticScene:
    """Deterministic moving scene; ``frames(start, n)`` -> (n, H, W) float32 in [0, 1]."""

    def __init__(self, height: int, width: int, seed: int = 0, num_objects: int = 4,
                 speed: float = 1.0) -> None:
        if int(height) <= 0 or int(width) <= 0:
            raise InputError(f"frame size must be positive, got {height}x{width}")
        if not float(speed) > 0:
            raise InputError(f"speed must be positive, got {speed}")
        #: motion speed factor: frame t shows the default scene at time t * speed
        self.speed = float(speed)
        self.height, self.width = int(height), int(width)
        rng = np.random.default_rng(seed)
        self._bg = 0.5 * _periodic_noise(rng, _TEX, 1.6) + 0.25 * _periodic_noise(rng, _TEX, 0.9)
        self._bg_v = rng.uniform(-0.15, 0.15, 2)
        self._bg_amp = rng.uniform(2, 10, 2)
        self._bg_omega = rng.uniform(0.002, 0.01, 2)
        self._bg_level = rng.uniform(0.35, 0.55)
        scale = min(self.height, self.width)
        self._objects = []
        for _ in range(int(num_objects)):
            rough = _periodic_noise(rng, _TEX, 1.2)
            edges = np.tanh(3.0 * _periodic_noise(rng, _TEX, 1.8))
            self._objects.append(_Object(
                tex=(0.6 * rough + 0.6 * edges).astype(np.float32),
                level=rng.uniform(0.15, 0.9), contrast=rng.uniform(0.1, 0.3),
                a=rng.uniform(0.08, 0.25) * scale, b=rng.uniform(0.08, 0.25) * scale,
                p=np.float32(rng.choice([2, 2, 4, 8])),
                c0=rng.uniform(0, 1, 2) * (self.height, self.width),
                v=rng.uniform(-0.4, 0.4, 2), amp=rng.uniform(3, 25, 2),
                omega=rng.uniform(0.003, 0.02, 2), phase=rng.uniform(0, 2 * np.pi, 2),
                angle0=rng.uniform(0, np.pi), spin=rng.uniform(-0.003, 0.003)))
        self._yy, self._xx = np.meshgrid(np.arange(self.height, dtype=np.float32),
                                         np.arange(self.width, dtype=np.float32), indexing="ij")

    def frame(self, t: int) -> np.ndarray:
        """Frame t -> (H, W) float32 in [0, 1]."""
        H, W = self.height, self.width
        if self.speed != 1.0:
            t = t * self.speed
        off = self._bg_v * t + self._bg_amp * np.sin(self._bg_omega * t)
        bg = _shift(self._bg, H, W, off[0], off[1])
        img = np.float32(self._bg_level) + np.float32(0.2) * bg
        for o in self._objects:
            c = o.c0 + o.v * t + o.amp * np.sin(o.omega * t + o.phase)
            # Wrap the path on a torus slightly larger than the frame so objects re-enter.
            rad = max(o.a, o.b)
            span = np.array([H + 2 * rad, W + 2 * rad])
            c = (c + rad) % span - rad
            # Work only inside the object's bounding box (its circumscribed square).
            y0, y1 = max(0, int(c[0] - rad) - 2), min(H, int(c[0] + rad) + 3)
            x0, x1 = max(0, int(c[1] - rad) - 2), min(W, int(c[1] + rad) + 3)
            if y0 >= y1 or x0 >= x1:
                continue
            ang = o.angle0 + o.spin * t
            cs, sn = np.float32(np.cos(ang)), np.float32(np.sin(ang))
            dy = self._yy[y0:y1, x0:x1] - np.float32(c[0])
            dx = self._xx[y0:y1, x0:x1] - np.float32(c[1])
            u = cs * dx + sn * dy
            v = cs * dy - sn * dx
            r = (np.abs(u / np.float32(o.a)) ** o.p
                 + np.abs(v / np.float32(o.b)) ** o.p) ** np.float32(1.0 / o.p)
            mask = np.clip((1.0 - r) * np.float32(min(o.a, o.b) / 1.5), 0.0, 1.0)  # ~1.5 px edge
            obj = o.level + o.contrast * _sample(o.tex, v + 1000.0, u + 1000.0)
            sub = img[y0:y1, x0:x1]
            img[y0:y1, x0:x1] = sub + (obj - sub) * mask
        return np.clip(img, 0.0, 1.0).astype(np.float32)

    def frames(self, start: int, count: int) -> np.ndarray:
        """Frames [start, start+count) -> (count, H, W) float32 in [0, 1]."""
        out = np.empty((int(count), self.height, self.width), dtype=np.float32)
        for i in range(int(count)):
            out[i] = self.frame(int(start) + i)
        return out


def synthetic_intensity(num_frames: int, height: int, width: int, seed: int = 0, *,
                        start: int = 0) -> np.ndarray:
    """Synthetic moving scene -> (T, H, W) float32 in [0, 1] (frames start..start+T-1)."""
    if int(num_frames) < 0:
        raise InputError(f"num_frames must be >= 0, got {num_frames}")
    return SyntheticScene(height, width, seed).frames(start, num_frames)


def simulate_to_file(path: str | Path, blocks: Iterable[np.ndarray], height: int, width: int,
                     num_frames: int | None = None, *, gain: float = 0.45,
                     threshold: float = 1.0, reset: str = "soft", init="random",
                     seed: int | None = 0, dark_current: float = 0.0, noise_std: float = 0.0,
                     on_block: Callable[[int], None] | None = None) -> dict:
    """Run integrate-and-fire over intensity blocks (n, H, W) and stream spikes to ``path``
    (format by extension, see :func:`spkc.io.open_spike_writer`).

    The simulator state and random generator carry across blocks, so the result equals one
    long run. Returns ``{"path", "shape", "num_spikes", "mean_rate"}`` (rate in
    spikes/pixel/frame).
    """
    from spkc.io import open_spike_writer

    rng = np.random.default_rng(seed)
    state = init
    total = spikes_n = 0
    with open_spike_writer(path, height, width, num_frames=num_frames) as w:
        for block in blocks:
            spk, state = integrate_and_fire(block, gain=gain, threshold=threshold, reset=reset,
                                            init=state, seed=rng, dark_current=dark_current,
                                            noise_std=noise_std, return_state=True)
            w.write(spk)
            total += spk.shape[0]
            spikes_n += int(np.count_nonzero(spk))
            if on_block is not None:
                on_block(spk.shape[0])
    pixels = total * height * width
    return {"path": str(path), "shape": (total, height, width), "num_spikes": spikes_n,
            "mean_rate": spikes_n / pixels if pixels else 0.0}


def simulate_sample(path: str | Path, num_frames: int = 400, height: int = 250, width: int = 400,
                    seed: int = 0, *, gain: float = 0.45, threshold: float = 1.0,
                    reset: str = "soft", noise_std: float = 0.0, block: int = 64,
                    on_block: Callable[[int], None] | None = None) -> dict:
    """Write a synthetic spike sample (moving textured scene -> integrate-and-fire) to ``path``
    (.dat by default use; any writable spike format). Mean rate ~0.2 spikes/pixel/frame with
    the default gain, like real clips. Returns the :func:`simulate_to_file` summary."""
    num_frames = int(num_frames)
    if num_frames <= 0:
        raise InputError(f"num_frames must be positive, got {num_frames}")
    scene = SyntheticScene(height, width, seed)
    blocks = (scene.frames(t, min(block, num_frames - t)) for t in range(0, num_frames, block))
    return simulate_to_file(path, blocks, height, width, num_frames, gain=gain,
                            threshold=threshold, reset=reset, init="random", seed=seed,
                            noise_std=noise_std, on_block=on_block)
