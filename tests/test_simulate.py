"""Integrate-and-fire simulator: rates, resets, numpy == torch, seeds, block continuation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spkc.errors import InputError
from spkc.spikes import integrate_and_fire, integrate_and_fire_torch, synthetic_intensity


@pytest.mark.parametrize("intensity", [0.05, 0.13, 0.37, 0.5, 0.9])
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_long_run_rate(intensity: float, reset: str) -> None:
    gain, threshold, T = 0.8, 1.3, 4000
    I = np.full((T, 2, 3), intensity, dtype=np.float32)
    rate = integrate_and_fire(I, gain=gain, threshold=threshold, reset=reset).mean()
    expected = gain * intensity / threshold
    if reset == "soft":
        # Soft reset keeps the remainder: the count is floor(T * a / theta) up to one spike.
        assert abs(rate - expected) <= 1.5 / T
    else:
        # Hard reset discards the remainder: one spike every ceil(theta / a) frames.
        assert rate == pytest.approx(1 / np.ceil(threshold / (gain * intensity)), abs=1.5 / T)


def test_soft_vs_hard_by_hand() -> None:
    I = np.full((6, 1, 1), 0.4, dtype=np.float32)
    soft = integrate_and_fire(I, threshold=1.0, reset="soft")[:, 0, 0]
    hard = integrate_and_fire(I, threshold=1.0, reset="hard")[:, 0, 0]
    # soft: acc 0.4 0.8 1.2* 0.6 1.0* 0.4 ; hard: 0.4 0.8 1.2* 0.4 0.8 1.2*
    assert soft.tolist() == [False, False, True, False, True, False]
    assert hard.tolist() == [False, False, True, False, False, True]


def test_at_most_one_spike_per_frame_and_state() -> None:
    I = np.full((5, 1, 2), 3.0, dtype=np.float32)
    spikes, state = integrate_and_fire(I, threshold=1.0, return_state=True)
    assert spikes.all()  # saturates at one spike per frame
    np.testing.assert_allclose(state, 10.0)  # 15 integrated - 5 fired
    init = np.array([[0.95, 0.0]], dtype=np.float32)
    s = integrate_and_fire(np.full((1, 1, 2), 0.1, np.float32), init=init)
    assert s[0].tolist() == [[True, False]]


def test_dark_current_and_zero_light() -> None:
    I = np.zeros((1000, 1, 1), dtype=np.float32)
    assert not integrate_and_fire(I).any()
    assert integrate_and_fire(I, dark_current=0.01).mean() == pytest.approx(0.01, abs=2e-3)


@pytest.mark.parametrize("kw", [
    {},
    {"reset": "hard"},
    {"init": "random", "seed": 3},
    {"noise_std": 0.05, "seed": 7, "dark_current": 0.002},
    {"noise_std": 0.1, "seed": 1, "init": "random", "reset": "hard", "gain": 0.7,
     "threshold": 0.9},
])
def test_numpy_equals_torch(kw: dict) -> None:
    I = synthetic_intensity(60, 24, 40, seed=2)
    a, sa = integrate_and_fire(I, return_state=True, **kw)
    b, sb = integrate_and_fire_torch(I, return_state=True, **kw)
    assert isinstance(b, torch.Tensor) and b.dtype == torch.bool
    np.testing.assert_array_equal(a, b.numpy())
    np.testing.assert_array_equal(sa, sb.numpy())  # bit for bit, not approximately


def test_torch_accepts_tensor_input() -> None:
    I = synthetic_intensity(20, 8, 8, seed=4)
    a = integrate_and_fire(I, gain=0.6, init="random", seed=5)
    b = integrate_and_fire_torch(torch.from_numpy(I), gain=0.6, init="random", seed=5)
    np.testing.assert_array_equal(a, b.numpy())


def test_torch_tensor_init_equals_array_init() -> None:
    lum = synthetic_intensity(12, 16, 20, seed=3)
    v0 = np.random.default_rng(4).random((16, 20), dtype=np.float32)
    ref, ref_state = integrate_and_fire(lum, gain=0.6, init=v0, return_state=True)
    init = torch.from_numpy(v0.copy())
    out, state = integrate_and_fire_torch(lum, gain=0.6, init=init, return_state=True)
    assert np.array_equal(out.numpy(), ref) and np.array_equal(state.numpy(), ref_state)
    assert torch.equal(init, torch.from_numpy(v0))  # the caller's tensor is not modified
    with pytest.raises(InputError, match="init has shape"):
        integrate_and_fire_torch(lum, init=torch.zeros(3, 3))


@pytest.mark.gpu
def test_numpy_equals_torch_cuda() -> None:
    I = synthetic_intensity(60, 50, 64, seed=6)
    kw = {"noise_std": 0.05, "seed": 9, "init": "random", "gain": 0.45}
    a = integrate_and_fire(I, **kw)
    b = integrate_and_fire_torch(I, device="cuda", **kw)
    np.testing.assert_array_equal(a, b.cpu().numpy())


def test_seeded_reproducibility() -> None:
    I = synthetic_intensity(30, 16, 16, seed=1)
    kw = {"noise_std": 0.1, "init": "random"}
    a = integrate_and_fire(I, seed=11, **kw)
    b = integrate_and_fire(I, seed=11, **kw)
    c = integrate_and_fire(I, seed=12, **kw)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_blockwise_equals_one_run() -> None:
    I = synthetic_intensity(50, 16, 24, seed=3)
    kw = {"noise_std": 0.05, "gain": 0.5}
    whole = integrate_and_fire(I, init="random", seed=np.random.default_rng(8), **kw)
    rng = np.random.default_rng(8)
    state = "random"
    parts = []
    for t in range(0, 50, 16):
        s, state = integrate_and_fire(I[t:t + 16], init=state, seed=rng, return_state=True, **kw)
        parts.append(s)
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_bad_arguments() -> None:
    with pytest.raises(InputError):
        integrate_and_fire(np.zeros((4, 4), np.float32))
    with pytest.raises(InputError):
        integrate_and_fire(np.zeros((1, 4, 4), np.float32), reset="medium")
    with pytest.raises(InputError):
        integrate_and_fire(np.zeros((1, 4, 4), np.float32), threshold=0)
    with pytest.raises(InputError):
        integrate_and_fire(np.zeros((1, 4, 4), np.float32), init=np.zeros((3, 3)))


def test_synthetic_scene_properties(tmp_path) -> None:
    from spkc.io import read_dat
    from spkc.spikes import simulate_sample

    I = synthetic_intensity(40, 50, 80, seed=0)
    assert I.dtype == np.float32 and I.shape == (40, 50, 80)
    assert I.min() >= 0 and I.max() <= 1 and I.std() > 0.05
    # smooth motion: consecutive frames are close, but the scene does move
    step = np.abs(np.diff(I, axis=0)).mean()
    assert 0 < step < 0.05
    np.testing.assert_array_equal(synthetic_intensity(10, 50, 80, seed=0, start=30), I[30:])
    assert not np.array_equal(synthetic_intensity(5, 50, 80, seed=1), I[:5])
    res = simulate_sample(tmp_path / "s.dat", num_frames=60, height=40, width=64, seed=2)
    spikes = read_dat(tmp_path / "s.dat", 40, 64)
    assert res["shape"] == spikes.shape == (60, 40, 64)
    assert res["mean_rate"] == pytest.approx(spikes.mean())
    assert 0.1 < spikes.mean() < 0.35
