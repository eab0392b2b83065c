"""What the probes share: tools/ importable, the shipped learned v4 model frozen, the data."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from train_codec import BSDS, TorchBatcher, load_gray, make_batch  # noqa: E402

from spkc.codecs.learned import WEIGHTS_DIR  # noqa: E402
from spkc.models.codec import SceneCompressionModel  # noqa: E402

SPIKE_LEN = 20  #: spike frames before and after each crop's scene time

__all__ = ["SPIKE_LEN", "shipped_model", "train_batcher", "val_batches"]


def shipped_model(quality: int) -> SceneCompressionModel:
    """Learned v4 (BiSOAM, compact) at ``quality``, in eval mode, every parameter frozen."""
    m = SceneCompressionModel("compact", "bisoam")
    m.load_weights(WEIGHTS_DIR / f"learned-bisoam-compact-q{quality}-v4.safetensors")
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def train_batcher(seed: int) -> TorchBatcher:
    """Panned BSDS train crops with simulated spikes (tools/train_codec.py's batches)."""
    return TorchBatcher(load_gray(BSDS / "train"), torch.device("cpu"), seed)


def val_batches(count: int = 24, size: int = 192) -> Iterator[tuple[torch.Tensor, ...]]:
    """(x, spikes_before, spikes_after) of the val crops tools/train_codec.py validates on."""
    rng = np.random.default_rng(1234)
    for img in load_gray(BSDS / "val")[:count]:
        yield make_batch([img], rng, 1, size, SPIKE_LEN)
