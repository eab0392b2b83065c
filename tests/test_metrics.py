"""spkc.metrics on hand-computed cases; BD-rate against the bjontegaard package."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from spkc.errors import InputError
from spkc.metrics import (
    affine_fit,
    bd_psnr,
    bd_rate,
    bits_per_spike_pixel,
    compression_ratio,
    firing_rate_psnr,
    isi_psnr,
    psnr,
    ssim,
)


def test_psnr_by_hand() -> None:
    a = np.zeros((4, 4))
    assert psnr(a, a) == math.inf
    assert psnr(a, np.full((4, 4), 0.1)) == pytest.approx(20.0)  # mse 0.01
    assert psnr(a, np.full((4, 4), 25.5), peak=255) == pytest.approx(20.0)
    x = np.linspace(0, 1, 50)
    assert psnr(3 * x - 2, x) < 10
    assert psnr(3 * x - 2, x, affine_fit=True) > 100  # exact affine relation recovered
    np.testing.assert_allclose(affine_fit(np.ones(5), x[:5]), np.full(5, x[:5].mean()))
    with pytest.raises(InputError):
        psnr(np.zeros(3), np.zeros(4))


def test_ssim_by_hand() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((32, 40))
    assert ssim(x, x) == pytest.approx(1.0)
    # constant images: variances are 0, SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    c1 = (0.01) ** 2
    a, b = 0.3, 0.6
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert ssim(np.full((20, 20), a), np.full((20, 20), b)) == pytest.approx(expected)
    assert ssim(x, 1 - x) < 0
    assert 0 < ssim(x + rng.normal(0, 0.1, x.shape), x) < 1
    assert ssim(np.stack([x, x]), np.stack([x, x])) == pytest.approx(1.0)
    with pytest.raises(InputError):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)))


def test_isi_psnr_by_hand() -> None:
    ref = np.array([1, 0, 0, 1, 0, 0], bool).reshape(6, 1, 1)
    test = np.array([1, 0, 1, 0, 0, 0], bool).reshape(6, 1, 1)
    # ref ISI:  frames 0-2 [0,3) -> 3; frames 3-5: next = T = 6 -> 3 => 1/3 everywhere
    # test ISI: frames 0-1 [0,2) -> 2; frames 2-5: next = 6 -> 4  => 1/2, 1/2, 1/4 x 4
    mse = (2 * (1 / 2 - 1 / 3) ** 2 + 4 * (1 / 4 - 1 / 3) ** 2) / 6
    assert isi_psnr(test, ref) == pytest.approx(10 * math.log10(1 / mse))
    assert isi_psnr(ref, ref) == math.inf


def test_firing_rate_psnr_by_hand() -> None:
    ref = np.zeros((4, 1, 1), bool)
    test = np.array([1, 0, 0, 0], bool).reshape(4, 1, 1)
    # window 2 -> frames [t-1, t+1): t=0 {0}: 1; t=1 {0,1}: 1/2; t=2, 3: 0
    mse = (1 + 0.25) / 4
    assert firing_rate_psnr(test, ref, window=2) == pytest.approx(10 * math.log10(1 / mse))
    with pytest.raises(InputError):
        firing_rate_psnr(test, ref[:3])


def test_rate_accounting() -> None:
    shape = (100, 250, 400)
    raw = 100 * 250 * 400 // 8
    assert bits_per_spike_pixel(raw, shape) == pytest.approx(1.0)
    assert compression_ratio(raw // 100, shape) == pytest.approx(100.0)
    assert bits_per_spike_pixel(1000, shape) == pytest.approx(8000 / 1e7)
    with pytest.raises(InputError):
        compression_ratio(0, shape)


RD_CASES = [
    ([100, 200, 400, 800], [30.0, 33.0, 36.0, 38.5], [90, 170, 350, 700], [30.5, 33.4, 36.2, 39]),
    ([0.05, 0.1, 0.2, 0.4, 0.8], [24, 27.5, 30.1, 32.2, 34], [0.04, 0.09, 0.2, 0.5, 0.9],
     [23, 27, 31, 33.5, 35]),
    ([1.0, 2.0, 3.0, 5.0], [20, 25, 27, 29], [1.5, 2.5, 4.0, 8.0], [19, 23, 26, 28]),
]


@pytest.mark.parametrize("method", ["cubic", "pchip"])
@pytest.mark.parametrize("case", RD_CASES)
def test_bd_against_reference_package(method: str, case) -> None:
    bj = pytest.importorskip("bjontegaard")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package warns about small overlaps
        ref_rate = bj.bd_rate(*case, method=method, min_overlap=0)
        ref_psnr = bj.bd_psnr(*case, method=method, min_overlap=0)
    assert bd_rate(*case, method=method) == pytest.approx(ref_rate, rel=1e-9, abs=1e-9)
    assert bd_psnr(*case, method=method) == pytest.approx(ref_psnr, rel=1e-9, abs=1e-9)


def test_bd_random_curves_against_reference_package() -> None:
    bj = pytest.importorskip("bjontegaard")
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(60):
        n = int(rng.integers(4, 7))
        ra, rt = np.sort(rng.uniform(0.01, 2, n)), np.sort(rng.uniform(0.01, 2, n))
        qa, qt = np.sort(rng.uniform(22, 40, n)), np.sort(rng.uniform(22, 40, n))
        for method in ("cubic", "pchip"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = bj.bd_rate(ra, qa, rt, qt, method=method, min_overlap=0)
            if math.isnan(ref):
                with pytest.raises(InputError, match="overlap"):
                    bd_rate(ra, qa, rt, qt, method=method)
                continue
            assert bd_rate(ra, qa, rt, qt, method=method) == pytest.approx(ref, rel=1e-7)
            checked += 1
    assert checked > 50


def test_bd_identities_and_errors() -> None:
    r, q = [1, 2, 4, 8], [30, 33, 35, 37]
    assert bd_rate(r, q, r, q) == pytest.approx(0.0, abs=1e-9)
    assert bd_psnr(r, q, r, q) == pytest.approx(0.0, abs=1e-9)
    # half the rate at every quality -> exactly -50 %
    assert bd_rate(r, q, [x / 2 for x in r], q) == pytest.approx(-50.0)
    assert bd_psnr(r, q, r, [x + 1 for x in q]) == pytest.approx(1.0)
    with pytest.raises(InputError, match="overlap"):
        bd_rate(r, q, r, [50, 51, 52, 53])
    with pytest.raises(InputError):
        bd_rate(r, q[:3], r, q)
    with pytest.raises(InputError):
        bd_rate([0, 1, 2, 3], q, r, q)
    with pytest.raises(InputError, match="method"):
        bd_rate(r, q, r, q, method="akima")
