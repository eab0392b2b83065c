"""Reconstructors: spike windows -> scenes proportional to firing rate.

A reconstructor takes windows ``(N, 2R+1, H, W) bool`` centred on the scene time (frame ``R`` of
each window is the scene frame) and returns ``(N, H, W) float32`` proportional to the firing rate
(spikes/frame). The pipeline maps that to a scene in [0, 1] with a per-clip scale.

* ``tfp``: texture from playback -- the window mean, spikes/frame.
* ``tfi``: texture from interval -- 1 / (inter-spike interval around the centre frame).
* ``learned``: the reconstruction network of :mod:`spkc.models.reconstruction`, with weights
  shipped in ``spkc/weights/recon-<config>.safetensors``; output is the firing rate in
  spikes/frame, clipped to [0, 1].
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spkc._util import sha256_file
from spkc.errors import InputError, MissingWeightsError, UnknownCodecError

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


def _check_windows(windows: np.ndarray, radius: int) -> np.ndarray:
    w = np.asarray(windows)
    if w.ndim == 3:
        w = w[None]
    if w.ndim != 4:
        raise InputError(f"spike windows must be (N, 2R+1, H, W), got shape {w.shape}")
    if w.shape[1] != 2 * radius + 1:
        raise InputError(
            f"spike windows have {w.shape[1]} frames; radius {radius} needs {2 * radius + 1}"
        )
    if w.dtype != np.bool_:
        if not np.isin(w, (0, 1)).all():
            raise InputError("spike windows must be bool (or 0/1)")
        w = w.astype(bool)
    return w


class Reconstructor(ABC):
    """Base class: ``reconstruct(windows (N, 2R+1, H, W) bool) -> (N, H, W) float32``."""

    name: ClassVar[str]
    default_radius: ClassVar[int] = 20

    def __init__(self, radius: int | None = None, **options: Any) -> None:
        r = self.default_radius if radius is None else int(radius)
        if r < 0:
            raise InputError(f"reconstructor radius must be >= 0, got {r}")
        self.radius = r
        self.options = dict(options)

    @property
    def window(self) -> int:
        """Frames per window, 2R+1."""
        return 2 * self.radius + 1

    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable config; ``from_config`` rebuilds an equal reconstructor."""
        return {"name": self.name, "radius": self.radius, **self.options}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Reconstructor:
        cfg = dict(config)
        name = cfg.pop("name", cls.name)
        if name != cls.name:
            return get_reconstructor(name, **cfg)
        return cls(**cfg)

    def identity(self) -> dict[str, str]:
        """Extra identification (e.g. weights SHA-256) for the file header."""
        return {}

    @abstractmethod
    def reconstruct(self, windows: np.ndarray) -> np.ndarray:
        """(N, 2R+1, H, W) bool -> (N, H, W) float32, proportional to firing rate."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()!r})"


class TfpReconstructor(Reconstructor):
    """Window mean (texture from playback), in spikes/frame."""

    name = "tfp"

    def reconstruct(self, windows: np.ndarray) -> np.ndarray:
        from spkc.spikes import tfp_windows

        return tfp_windows(_check_windows(windows, self.radius))


def tfi_from_windows(windows: np.ndarray, centre: int) -> np.ndarray:
    """1 / ISI spanning frame ``centre`` of (N, T, H, W) bool windows, in spikes/frame.

    One convention with :func:`spkc.spikes.tfi` and the ISI maps of the metrics: the interval
    runs from the last spike at or before ``centre`` to the first spike after it; a missing
    side counts as a spike just outside the window (frame -1 or T), so a pixel with no spike
    gets 1 / (T + 1).
    """
    from spkc.spikes import tfi_windows

    return tfi_windows(windows, centre)


class TfiReconstructor(Reconstructor):
    """Inverse inter-spike interval at the centre frame (texture from interval), spikes/frame."""

    name = "tfi"

    def reconstruct(self, windows: np.ndarray) -> np.ndarray:
        w = _check_windows(windows, self.radius)
        return tfi_from_windows(w, self.radius)


class LearnedReconstructor(Reconstructor):
    """The reconstruction network (:class:`spkc.models.reconstruction.ReconstructionNet`).

    Options: ``config`` (a :data:`spkc.models.reconstruction.RECON_CONFIGS` name with
    shipped weights: "medium", the default, or "compact", about twice as fast), ``weights``
    (a path; default the shipped ``spkc/weights/recon-<config>.safetensors``), ``device``
    ("cpu", "cuda"), ``batch`` (windows per forward pass), ``tta`` (test-time augmentation:
    the mean of the network over 1 = the window as is, the default; 2 = also rotated by 180
    degrees; 4 = all four horizontal/vertical flips: +0.1-0.3 dB on the reconstruction for
    2-4x its time, but only +0.02-0.05 dB once the learned codec has coded it), ``precision``
    ("float32", the default, or "bfloat16": the network under bfloat16 autocast, about 1.5x
    faster on CPUs with AVX512-BF16/AMX, the scene within ~1e-3 RMS of float32's; the encoder
    alone runs it, so the decoder is unaffected). Output: firing rate in spikes/frame, clipped
    to [0, 1]. The radius is fixed by the network config.
    """

    name = "learned"
    default_config: ClassVar[str] = "medium"
    default_tta: ClassVar[int] = 1
    #: the flips (spatial dims of a (N, T, H, W) batch) averaged for each ``tta`` setting
    TTA_VIEWS: ClassVar[dict[int, tuple[tuple[int, ...], ...]]] = {
        1: ((),), 2: ((), (-2, -1)), 4: ((), (-1,), (-2,), (-2, -1)),
    }
    PRECISIONS: ClassVar[tuple[str, ...]] = ("float32", "bfloat16")

    def __init__(self, radius: int | None = None, config: str | None = None,
                 weights: str | None = None, device: str = "cpu", batch: int = 4,
                 sha256: str | None = None, tta: int | None = None,
                 precision: str = "float32", **options: Any) -> None:
        from spkc.models.reconstruction import RECON_CONFIGS

        config = self.default_config if config is None else config
        if config not in RECON_CONFIGS:
            raise UnknownCodecError(
                f"unknown reconstruction config {config!r}; known: {sorted(RECON_CONFIGS)}"
            )
        self.tta = self.default_tta if tta is None else tta
        if isinstance(self.tta, bool) or self.tta not in self.TTA_VIEWS:
            raise InputError(f"learned reconstructor option tta must be one of "
                             f"{sorted(self.TTA_VIEWS)}, got {tta!r}")
        if precision not in self.PRECISIONS:
            raise InputError(f"learned reconstructor option precision must be one of "
                             f"{list(self.PRECISIONS)}, got {precision!r}")
        self.precision = precision
        r = RECON_CONFIGS[config]["radius"]
        if radius is not None and int(radius) != r:
            raise InputError(f"learned reconstructor {config!r} has radius {r}, not {radius}")
        super().__init__(radius=r, **options)
        self.config = config
        default = WEIGHTS_DIR / f"recon-{config}.safetensors"
        self.weights_path = Path(weights) if weights else default
        if not self.weights_path.is_file():
            raise MissingWeightsError(
                f"reconstruction weights for config {config!r} not found", self.weights_path
            )
        self.sha256 = sha256_file(self.weights_path)
        if sha256 is not None and sha256 != self.sha256:
            raise MissingWeightsError(
                f"file needs reconstruction weights with SHA-256 {sha256}, this install has "
                f"{self.sha256}", self.weights_path,
            )
        self.device = device
        self.batch = max(1, int(batch))
        self._net = None

    def get_config(self) -> dict[str, Any]:
        cfg = {"name": self.name, "radius": self.radius, "config": self.config,
               "sha256": self.sha256, "tta": self.tta, **self.options}
        if self.weights_path != WEIGHTS_DIR / f"recon-{self.config}.safetensors":
            cfg["weights"] = str(self.weights_path)
        if self.precision != "float32":  # recorded only when used: older files stay the same
            cfg["precision"] = self.precision
        return cfg

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Reconstructor:
        # configs written before the ``tta`` option reconstructed without augmentation
        return super().from_config({"tta": 1, **config})

    def identity(self) -> dict[str, str]:
        return {"recon_weights": self.weights_path.name, "recon_sha256": self.sha256}

    @property
    def net(self):
        if self._net is None:
            from spkc.models.reconstruction import load_reconstruction_net

            self._net = load_reconstruction_net(self.weights_path, device=self.device)
        return self._net

    def reconstruct(self, windows: np.ndarray) -> np.ndarray:
        import torch

        w = _check_windows(windows, self.radius)
        net = self.net
        out = np.empty((w.shape[0],) + w.shape[2:], dtype=np.float32)
        dev = torch.device(self.device)
        amp = torch.autocast(dev.type, dtype=torch.bfloat16,
                             enabled=self.precision == "bfloat16")
        with torch.inference_mode(), amp:
            for i in range(0, w.shape[0], self.batch):
                x = torch.from_numpy(np.ascontiguousarray(w[i : i + self.batch]))
                x = x.to(self.device, torch.float32)
                views = self.TTA_VIEWS[self.tta]
                y = sum(_unflip(net(x.flip(d) if d else x)["scene"][:, 0], d) for d in views)
                y = y.float() / len(views)
                out[i : i + self.batch] = y.clamp(0, 1).cpu().numpy()
        return out


def fast_bfloat16(device: str = "cpu") -> bool:
    """Whether ``device`` runs bfloat16 convolutions natively (CUDA; a CPU with AVX512-BF16 or
    AMX), so that bfloat16 autocast is faster than float32 there rather than emulated."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if dev.type != "cpu":
        return False
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # an older torch: no way to tell, stay in float32
        return False


def _unflip(scene, dims: tuple[int, ...]):
    """Undo a flip of window dims (-2 = H, -1 = W) on a (N, H, W) scene."""
    return scene.flip(dims) if dims else scene


_RECONSTRUCTORS: dict[str, type[Reconstructor]] = {
    c.name: c for c in (TfpReconstructor, TfiReconstructor, LearnedReconstructor)
}


def reconstructor_names() -> list[str]:
    """Names of every reconstructor, sorted."""
    return sorted(_RECONSTRUCTORS)


def _reconstructor_class(name: str) -> type[Reconstructor]:
    if name not in _RECONSTRUCTORS:
        raise UnknownCodecError(
            f"unknown reconstructor {name!r}; known: {', '.join(reconstructor_names())}"
        )
    return _RECONSTRUCTORS[name]


def get_reconstructor(name: str, **config: Any) -> Reconstructor:
    """An instance of reconstructor ``name`` built from ``config`` (e.g. ``radius=20``)."""
    return _reconstructor_class(name)(**config)


def reconstructor_from_config(config: Mapping[str, Any]) -> Reconstructor:
    """Rebuild a reconstructor from ``get_config()`` output (needs its ``name``)."""
    cfg = dict(config)
    if "name" not in cfg:
        raise InputError("reconstructor config has no 'name'")
    return _reconstructor_class(cfg["name"]).from_config(cfg)
