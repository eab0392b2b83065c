"""ISI / firing-rate maps and TFP / TFI on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from spkc.errors import InputError
from spkc.spikes import firing_rate_map, isi_map, tfi, tfi_windows, tfp, tfp_windows


def _train(bits: str) -> np.ndarray:
    return np.array([c == "1" for c in bits], dtype=bool).reshape(-1, 1, 1)


def test_isi_map_by_hand() -> None:
    s = _train("0010001000")  # spikes at 2 and 6, T = 10
    isi = isi_map(s)[:, 0, 0]
    # frames 0-1: prev = -1 (edge), next = 2 -> 3; 2-5: [2, 6) -> 4; 6-9: next = T = 10 -> 4
    assert isi.tolist() == [3, 3, 4, 4, 4, 4, 4, 4, 4, 4]
    assert isi_map(_train("0000"))[:, 0, 0].tolist() == [5, 5, 5, 5]
    assert isi_map(_train("1111"))[:, 0, 0].tolist() == [1, 1, 1, 1]
    assert isi_map(s).dtype == np.float32


def test_tfi_matches_isi_map() -> None:
    rng = np.random.default_rng(0)
    s = rng.random((17, 5, 6)) < 0.3
    full = isi_map(s)
    for c in (0, 5, 8, 16):
        np.testing.assert_allclose(tfi(s, center=c), 1.0 / full[c], rtol=1e-6)
    assert tfi(s).shape == (5, 6)
    with pytest.raises(InputError):
        tfi(s, center=17)


def test_tfp_and_rate_map_by_hand() -> None:
    s = _train("1100110011")
    assert tfp(s)[0, 0] == pytest.approx(0.6)
    assert tfp(s, center=2, radius=1)[0, 0] == pytest.approx(1 / 3)  # frames 1..3: 1,0,0
    assert tfp(s, center=0, radius=2)[0, 0] == pytest.approx(2 / 3)  # clipped to 0..2
    r = firing_rate_map(s, 3)[:, 0, 0]
    # window [t-1, t+1], cut at the edges and averaged over existing frames
    expected = [1.0, 2 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 2 / 3, 1.0]
    np.testing.assert_allclose(r, expected, rtol=1e-6)
    np.testing.assert_allclose(firing_rate_map(s, 1)[:, 0, 0], s[:, 0, 0])


def test_windows_batched_equal_single() -> None:
    rng = np.random.default_rng(1)
    w = rng.random((4, 9, 3, 5)) < 0.4
    bt, bi = tfp_windows(w), tfi_windows(w)
    for n in range(4):
        np.testing.assert_allclose(bt[n], tfp(w[n]), rtol=1e-6)
        np.testing.assert_allclose(bi[n], tfi(w[n], center=4), rtol=1e-6)


def test_map_argument_errors() -> None:
    with pytest.raises(InputError):
        isi_map(np.zeros((3, 3), bool))
    with pytest.raises(InputError):
        firing_rate_map(np.zeros((3, 3, 3), bool), 0)
    with pytest.raises(InputError):
        tfp_windows(np.zeros((3, 3, 3), bool))
