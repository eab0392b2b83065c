"""Reconstructors: TFP/TFI known answers, shapes, configs, errors, the learned one."""

from __future__ import annotations

import numpy as np
import pytest

from spkc.codecs.reconstructors import (
    LearnedReconstructor,
    TfiReconstructor,
    TfpReconstructor,
    get_reconstructor,
    reconstructor_from_config,
    reconstructor_names,
    tfi_from_windows,
)
from spkc.errors import InputError, MissingWeightsError, UnknownCodecError


def periodic_windows(n: int, t: int, h: int, w: int, periods: np.ndarray, seed: int = 0
                     ) -> np.ndarray:
    """(n, t, h, w) bool: pixel fires every periods[y, x] frames from a random phase."""
    rng = np.random.default_rng(seed)
    phase = rng.integers(0, 1000, size=(n, 1, h, w))
    frames = np.arange(t)[None, :, None, None]
    return (frames + phase) % periods[None, None] == 0


def test_names_and_registry():
    assert reconstructor_names() == ["learned", "tfi", "tfp"]
    assert isinstance(get_reconstructor("tfp", radius=3), TfpReconstructor)
    with pytest.raises(UnknownCodecError, match="unknown reconstructor"):
        get_reconstructor("nope")


def test_tfp_known_rate():
    # period 3 over a 9-frame window: exactly 3 spikes whatever the phase -> 1/3
    win = periodic_windows(4, 9, 5, 6, np.full((5, 6), 3))
    out = TfpReconstructor(radius=4).reconstruct(win)
    assert out.shape == (4, 5, 6) and out.dtype == np.float32
    np.testing.assert_allclose(out, 1 / 3, rtol=1e-6)


def test_tfi_known_rate_any_phase():
    periods = np.array([[2, 3, 4], [5, 6, 7]])
    win = periodic_windows(8, 41, 2, 3, periods)
    out = TfiReconstructor(radius=20).reconstruct(win)
    assert out.shape == (8, 2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.broadcast_to(1.0 / periods, out.shape), rtol=1e-6)


def test_tfi_no_spikes_and_one_sided():
    win = np.zeros((1, 9, 1, 3), bool)
    win[0, 2, 0, 1] = True  # only a spike before the centre
    win[0, 7, 0, 2] = True  # only a spike after it
    out = tfi_from_windows(win, 4)
    assert np.isfinite(out).all()
    assert out[0, 0, 0] == pytest.approx(1 / 10)  # no spike at all: frames -1 and 9
    assert out[0, 0, 1] == pytest.approx(1 / (9 - 2))  # bounded by the window's end
    assert out[0, 0, 2] == pytest.approx(1 / (7 + 1))  # bounded by the window's start


def test_config_round_trip_and_errors():
    r = TfpReconstructor(radius=7)
    again = reconstructor_from_config(r.get_config())
    assert type(again) is TfpReconstructor and again.radius == 7
    with pytest.raises(InputError, match="frames"):
        r.reconstruct(np.zeros((1, 5, 4, 4), bool))
    with pytest.raises(InputError, match="bool"):
        r.reconstruct(np.full((1, 15, 4, 4), 2, np.uint8))
    with pytest.raises(InputError, match="no 'name'"):
        reconstructor_from_config({"radius": 3})


def test_learned_missing_weights(tmp_path):
    with pytest.raises(MissingWeightsError, match="not found"):
        LearnedReconstructor(weights=str(tmp_path / "absent.safetensors"))
    with pytest.raises(UnknownCodecError):
        LearnedReconstructor(config="huge")


def test_learned_with_saved_weights(tmp_path):
    import torch

    from spkc.models.reconstruction import ReconstructionNet, save_reconstruction_net

    torch.manual_seed(0)
    net = ReconstructionNet("tiny")
    p = tmp_path / "recon-tiny.safetensors"
    save_reconstruction_net(net, p)
    rec = LearnedReconstructor(config="tiny", weights=str(p), batch=2)
    win = np.random.default_rng(1).random((3, 9, 10, 14)) < 0.3
    out = rec.reconstruct(win)
    assert out.shape == (3, 10, 14) and out.dtype == np.float32
    assert (out >= 0).all() and (out <= 1).all()
    # batched == one at a time
    np.testing.assert_allclose(out[1], rec.reconstruct(win[1:2])[0], atol=1e-5)
    ident = rec.identity()
    assert len(ident["recon_sha256"]) == 64
    cfg = rec.get_config()
    assert cfg["sha256"] == ident["recon_sha256"]
    assert reconstructor_from_config(cfg).sha256 == rec.sha256
    with pytest.raises(MissingWeightsError, match="SHA-256"):
        LearnedReconstructor(config="tiny", weights=str(p), sha256="0" * 64)


def test_learned_tta_is_the_mean_over_flips(tmp_path):
    import torch

    from spkc.models.reconstruction import ReconstructionNet, save_reconstruction_net

    torch.manual_seed(0)
    p = tmp_path / "recon-tiny.safetensors"
    # a trained-looking net: the zero-initialised output layer would make every view equal
    net = ReconstructionNet("tiny")
    with torch.no_grad():
        for q in net.parameters():
            q.normal_(0, 0.2)
    save_reconstruction_net(net, p)
    one = LearnedReconstructor(config="tiny", weights=str(p), tta=1)
    four = LearnedReconstructor(config="tiny", weights=str(p), tta=4)
    two = LearnedReconstructor(config="tiny", weights=str(p), tta=2)
    win = np.random.default_rng(3).random((2, 9, 12, 16)) < 0.3

    def raw(w):  # unclipped single-view output, back in the window's orientation
        with torch.no_grad():  # the loaded (fp16-rounded) weights, as reconstruct uses them
            return one.net(torch.from_numpy(np.ascontiguousarray(w)).float())["scene"][:, 0].numpy()

    views = [raw(win), raw(win[..., ::-1])[..., ::-1], raw(win[..., ::-1, :])[..., ::-1, :],
             raw(win[..., ::-1, ::-1])[..., ::-1, ::-1]]
    assert np.abs(views[0] - views[3]).max() > 1e-3  # the flips do see different things
    np.testing.assert_allclose(four.reconstruct(win), np.clip(np.mean(views, 0), 0, 1),
                               atol=1e-5)
    np.testing.assert_allclose(two.reconstruct(win), np.clip((views[0] + views[3]) / 2, 0, 1),
                               atol=1e-5)
    np.testing.assert_allclose(one.reconstruct(win), np.clip(views[0], 0, 1), atol=1e-5)
    # the 4-view mean commutes with flips
    np.testing.assert_allclose(four.reconstruct(win[..., ::-1]), four.reconstruct(win)[..., ::-1],
                               atol=1e-5)


def test_learned_tta_option_and_config():
    assert LearnedReconstructor().tta == LearnedReconstructor.default_tta == 1
    rec = LearnedReconstructor(tta=2)
    assert reconstructor_from_config(rec.get_config()).tta == 2
    # configs from files written before the option: no augmentation
    old = {k: v for k, v in rec.get_config().items() if k != "tta"}
    assert reconstructor_from_config(old).tta == 1
    for bad in (0, 3, True, "4"):
        with pytest.raises(InputError, match="tta"):
            LearnedReconstructor(tta=bad)
    with pytest.raises(UnknownCodecError):
        reconstructor_from_config({"name": "nope"})


@pytest.mark.parametrize("config", ["medium", "compact"])
def test_shipped_learned_weights(config):
    rec = get_reconstructor("learned", config=config, tta=1)
    win = np.random.default_rng(2).random((1, rec.window, 24, 40)) < 0.2
    out = rec.reconstruct(win)
    assert out.shape == (1, 24, 40)
    assert (out >= 0).all() and (out <= 1).all()


def test_default_learned_reconstructor_is_medium():
    assert get_reconstructor("learned").config == LearnedReconstructor.default_config == "medium"
