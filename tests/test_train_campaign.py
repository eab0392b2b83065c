"""spkc.train.image_codec's device-side batch maker and spkc.train.campaign (no data from
../shared: synthetic images)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from spkc.train.image_codec import TorchBatcher


def _index_image(h: int, w: int) -> np.ndarray:
    """Each pixel holds its own flat index, so a crop reveals where it came from."""
    return np.arange(h * w, dtype=np.float32).reshape(h, w)


def test_torch_batcher_draws_crops_of_the_images():
    h, w = 100, 140
    portrait = _index_image(w, h)
    batcher = TorchBatcher([portrait, _index_image(h, w)], torch.device("cpu"), 3)
    assert tuple(batcher.images.shape) == (2, h, w)  # portrait transposed to landscape
    assert np.array_equal(batcher.images[0].numpy(), portrait.T)
    batcher.images = batcher.images[1:]
    x, before, after = batcher(6, 48, 8)
    assert x.shape == (6, 1, 48, 48) and before.shape == after.shape == (6, 8, 48, 48)
    for crop in x[:, 0].numpy():
        rows, cols = np.divmod(crop.astype(np.int64), w)
        # a contiguous window: rows step by one downwards, columns by one either way (flips)
        assert (np.diff(rows, axis=0) == 1).all() and (np.diff(rows, axis=1) == 0).all()
        dc = np.diff(cols, axis=1)
        assert (dc == 1).all() or (dc == -1).all()


def test_torch_batcher_fires_like_integrate_and_fire_and_is_seeded():
    images = [np.full((80, 120), 0.5, np.float32)]
    x, before, after = TorchBatcher(images, torch.device("cpu"), 0)(32, 32, 8)
    assert set(torch.unique(before).tolist()) <= {0.0, 1.0}
    rate = float(torch.cat([before, after], 1).mean())
    assert 0.25 * 0.5 - 0.07 < rate < 0.7 * 0.5 + 0.07  # gain in [0.25, 0.7], intensity 0.5
    again = TorchBatcher(images, torch.device("cpu"), 0)(32, 32, 8)
    assert torch.equal(again[1], before) and torch.equal(again[2], after)


def _campaign(images: Path, out: Path, *extra: str) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "spkc.train.campaign", "--device", "cpu",
         "--configs", "tiny", "--images", str(images), "--phase1-minutes", "0.005",
         "--phase2-minutes", "0.005", "--batch1", "1", "--batch2", "1", "--crop", "32",
         "--out", str(out), *extra], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = {p.name for p in (out / "final").glob("*.safetensors")}
    assert names == {f"{v}-tiny-q{q}.safetensors" for v in ("bisoam", "baseline")
                     for q in (1, 2, 3, 4)}
    return [json.loads(line) for line in (out / "summary.jsonl").read_text().splitlines()]


def test_campaign_writes_every_quality_of_both_variants_and_resumes(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (90, 120), dtype=np.uint8)).save(
            images / f"{i}.jpg")
    rows = _campaign(images, tmp_path / "run")
    assert len(rows) == 2 + 8 and all(r["returncode"] == 0 and r["result"] for r in rows)
    fresh = [r for r in rows if r["name"].startswith("p1-")]
    assert all(r["result"]["init"] is None for r in fresh)  # no shipped tiny weights
    assert {r["result"]["quality"] for r in rows if r["name"].startswith("p2-")} == {1, 2, 3, 4}

    resumed = _campaign(images, tmp_path / "again", "--resume", str(tmp_path / "run" / "final"))
    assert len(resumed) == 8 and all(r["name"].startswith("p2-") for r in resumed)
    for r in resumed:  # each quality continues from its own earlier weights
        q = r["result"]["quality"]
        assert r["result"]["init"].endswith(f"-tiny-q{q}.safetensors")
        assert "run/final" in r["result"]["init"].replace("\\", "/")
