"""spkc.train.image_codec: stage III-attn trains only the attention modules; growing an init."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from spkc.train import image_codec

REPO = Path(__file__).resolve().parents[1]
BSDS = REPO.parent / "shared" / "data" / "bsds500"


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


@pytest.mark.shared_data
def test_attention_stage_changes_only_attention(tmp_path, capsys):
    if not (BSDS / "train").is_dir():
        pytest.skip(f"needs {BSDS}")
    from spkc.models.scene_codec import SceneCompressionModel

    torch.manual_seed(0)
    init = tmp_path / "init.safetensors"
    SceneCompressionModel("tiny", "bisoam").save_weights(init)
    out = tmp_path / "attn.safetensors"
    image_codec.main([
        "--config", "tiny", "--attention", "bisoam", "--train", "attention",
        "--schedule", "cosine", "--init", str(init), "--out", str(out), "--steps", "3",
        "--batch", "2", "--crop", "64", "--val", "1", "--lr", "1e-2"])
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["steps"] == 3 and res["train"] == "attention" and res["schedule"] == "cosine"
    assert res["val_psnr_unquantized"] > 0
    before, after = _tensors(init), _tensors(out)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "attention parameters did not move"
    assert all(k.startswith("g_a.attn.") for k in changed), sorted(changed)


def test_init_of_a_smaller_config_is_grown(tmp_path, capsys):
    """--config wide --init <compact weights>: grown (same decoded scenes), then trained, with
    the added channels' rate ramped in."""
    from PIL import Image

    from spkc.codecs.learned import newest_shipped_weights, shipped_weights_path
    from spkc.models.weights import weights_config

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (80, 100), dtype=np.uint8)).save(images / f"{i}.jpg")
    init = shipped_weights_path(newest_shipped_weights("bisoam", "compact", 1))
    out = tmp_path / "wide.safetensors"
    image_codec.main([
        "--config", "wide", "--attention", "bisoam", "--quality", "1",
        "--init", str(init), "--out", str(out), "--steps", "2", "--batch", "1", "--crop", "48",
        "--val", "0", "--images", str(images), "--new-rate-ramp", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("grown from") for line in lines)
    assert json.loads(lines[-1])["steps"] == 2
    assert weights_config(out)["m"] == 128
