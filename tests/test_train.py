"""Training data generation and the staged trainer (tiny configs, seconds)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from spkc.errors import InputError
from spkc.train.data import GenConfig, SpikeDataset, make_dataset
from spkc.train.trainer import load_config, parse_overrides, train


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """A stand-in for BSDS500: a few smooth random gray PNGs in train/ and val/."""
    from PIL import Image

    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / split).mkdir()
        for i in range(3):
            small = rng.random((8, 12))
            img = Image.fromarray((small * 255).astype(np.uint8)).resize((96, 64),
                                                                         Image.BILINEAR)
            img.save(root / split / f"{i}.png")
    return root


TINY = GenConfig(height=32, width=32, radius=4, substeps=2)


@pytest.fixture(scope="module")
def tiny_data(image_dir, tmp_path_factory):
    p = tmp_path_factory.mktemp("data") / "tiny.h5"
    make_dataset(p, 12, seed=5, cfg=TINY, bsds_dir=image_dir)
    return p


def sha(p) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_make_data_reproducible(image_dir, tmp_path):
    a, b, c = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "c.h5"
    sa = make_dataset(a, 4, seed=1, cfg=TINY, bsds_dir=image_dir)
    make_dataset(b, 4, seed=1, cfg=TINY, bsds_dir=image_dir)
    make_dataset(c, 4, seed=2, cfg=TINY, bsds_dir=image_dir)
    assert sha(a) == sha(b)
    assert sha(a) != sha(c)
    assert sa["clips"] == 4 and sa["bytes"] == a.stat().st_size


def test_dataset_contents(tiny_data):
    ds = SpikeDataset(tiny_data)
    assert len(ds) == 12 and ds.radius == 4
    sp, rate, scene = ds.clip(0)
    assert sp.shape == (9, 32, 32) and sp.dtype == bool
    assert rate.shape == scene.shape == (32, 32)
    assert 0 <= rate.min() and rate.max() <= 1 and 0 <= scene.min() and scene.max() <= 1
    # the rate target is what the simulator was driven with: (gain*scene + dark)/threshold
    th, gain, dark = ds.params[0, :3]
    np.testing.assert_allclose(rate, np.clip((gain * scene + dark) / th, 0, 1), atol=1e-5)
    both = SpikeDataset([tiny_data, tiny_data])
    assert len(both) == 24 and np.array_equal(both.rate[12:], ds.rate)
    w, r, s = ds.batch(np.random.default_rng(0), 3, 16)
    assert w.shape == (3, 9, 16, 16) and r.shape == s.shape == (3, 1, 16, 16)
    assert set(np.unique(w.numpy())) <= {0.0, 1.0}


def test_make_data_errors(image_dir, tmp_path):
    with pytest.raises(InputError, match="multiple of 8"):
        make_dataset(tmp_path / "x.h5", 1, cfg=GenConfig(width=30), bsds_dir=image_dir)
    with pytest.raises(InputError, match="not found"):
        make_dataset(tmp_path / "x.h5", 1, cfg=TINY, bsds_dir=tmp_path)
    (tmp_path / "train").mkdir()
    with pytest.raises(InputError, match="no .jpg"):
        make_dataset(tmp_path / "x.h5", 1, cfg=TINY, bsds_dir=tmp_path)
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"nope")
    with pytest.raises(InputError):
        SpikeDataset(bad)


@pytest.mark.shared_data
def test_bsds_statistics(tmp_path):
    """Real BSDS500 clips: firing rates span the reds-spikes range (0.17-0.35)."""
    st = make_dataset(tmp_path / "s.h5", 24, seed=0,
                      cfg=GenConfig(height=48, width=48, radius=10))
    assert 0.15 < st["rate_mean"] < 0.35
    assert st["rate_p10"] < 0.17 and st["rate_p90"] > 0.3
    assert st["speed_max"] > 1.0


def test_config_loading(tmp_path):
    cfg = load_config("tiny", "I-recon", {"steps": 7})
    assert cfg["steps"] == 7 and cfg["recon_config"] == "tiny" and cfg["stage"] == "I-recon"
    assert load_config("compact", "II", {"attention": None})["attention"] is None
    compact = load_config("compact", "II")
    assert compact["init_recon"].endswith("recon.safetensors")
    with pytest.raises(InputError, match="unknown stage"):
        load_config("tiny", "IV")
    bad = tmp_path / "bad.json"
    bad.write_text('{"stepz": 3}')
    with pytest.raises(InputError, match="unknown training config keys"):
        load_config(bad, "I-recon")
    bad.write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        load_config(bad, "I-recon")
    assert parse_overrides(["a=3", "b=x.h5", "c=null"]) == {"a": 3, "b": "x.h5", "c": None}


def _cfg(tiny_data, stage="I-recon", **kw):
    return load_config("tiny", stage, {"train_data": str(tiny_data), "reds_dir": "/absent",
                                       "threads": 1, **kw})


def test_recon_training_learns_checkpoints_and_resumes(tiny_data, tmp_path):
    out = tmp_path / "run"
    train(_cfg(tiny_data, steps=30, lr=3e-3, log_every=10, ckpt_every=10,
               val_data=str(tiny_data)), out, progress=False)
    recs = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in recs if "loss" in r and not r.get("val")]
    assert losses[-1] < losses[0]
    assert any(r.get("val") and "holdout_l1" in r for r in recs)
    assert (out / "ckpt.pt").is_file() and (out / "recon.safetensors").is_file()
    state = torch.load(out / "ckpt.pt", weights_only=True)
    assert state["step"] == 30 and state["stage"] == "I-recon"


def test_resume_matches_uninterrupted(tiny_data, tmp_path):
    straight, split = tmp_path / "a", tmp_path / "b"
    train(_cfg(tiny_data, steps=4), straight, progress=False)
    train(_cfg(tiny_data, steps=4, ckpt_every=2), split, progress=False)
    # interrupt-and-resume: run 2 steps, then resume the same run to 4
    part = tmp_path / "c"
    train(_cfg(tiny_data, steps=2), part, progress=False)
    train(_cfg(tiny_data, steps=4), part, resume=True, progress=False)
    a = torch.load(straight / "ckpt.pt", weights_only=True)["model"]
    c = torch.load(part / "ckpt.pt", weights_only=True)["model"]
    for k in a:
        torch.testing.assert_close(a[k], c[k], msg=k)


def test_resume_wrong_stage(tiny_data, tmp_path):
    train(_cfg(tiny_data, steps=1), tmp_path, progress=False)
    with pytest.raises(InputError, match="checkpoint is stage"):
        train(_cfg(tiny_data, "III-all", steps=2), tmp_path, resume=True, progress=False)


def test_joint_stage_runs(tiny_data, tmp_path):
    """Stage II: reconstruction feeds the codec; R + lambda*D; both weight files exported."""
    out = tmp_path / "ii"
    last = train(_cfg(tiny_data, "II", steps=2), out, progress=False)
    assert last["bpp"] > 0 and "psnr" in last and "l1" in last
    assert (out / "recon.safetensors").is_file() and (out / "codec.safetensors").is_file()


def test_joint_stage_can_freeze_the_reconstructor(tiny_data, tmp_path):
    from spkc.models.reconstruction import load_reconstruction_net, save_reconstruction_net
    from spkc.train.trainer import TrainModel

    init = tmp_path / "recon-init.safetensors"
    save_reconstruction_net(TrainModel(_cfg(tiny_data)).recon, init, {})
    cfg = _cfg(tiny_data, "II", steps=2, train_recon=False, init_recon=str(init))
    model = TrainModel(cfg)
    assert not any(p.requires_grad for p in model.recon.parameters())
    assert all(p.requires_grad for p in model.codec.parameters())
    out = tmp_path / "ii-frozen"
    last = train(cfg, out, progress=False)
    assert last["bpp"] > 0
    before = load_reconstruction_net(init).state_dict()
    after = load_reconstruction_net(out / "recon.safetensors").state_dict()
    for k in before:
        torch.testing.assert_close(after[k], before[k], msg=k)


def test_attention_stage_freezes_the_rest(tiny_data, tmp_path):
    from spkc.train.trainer import TrainModel

    model = TrainModel(_cfg(tiny_data, "III-attn"))
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in model.codec.attention_parameters()}
    assert trainable
