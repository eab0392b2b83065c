"""End to end: compress -> open -> spikes, with the codecs that run anywhere (raw) and TFP."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spkc
from spkc.io import write_dat, write_npy
from spkc.spikes.regenerate import (
    RegenParams,
    luminance_q16,
    regenerate,
    regenerate_segment,
    regenerate_segment_torch,
    scene_centres2,
)


def _spikes(T: int, H: int, W: int, seed: int = 0, rate: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # a smooth luminance field with a moving bright bar, so scenes differ in time
    yy, xx = np.mgrid[0:H, 0:W]
    out = np.empty((T, H, W), bool)
    acc = rng.random((H, W))
    for t in range(T):
        lum = rate * (0.5 + 0.4 * np.sin(xx / 5 + t / 10)) + 0.3 * ((xx - t) % W < 4)
        acc += lum
        out[t] = acc >= 1
        acc[out[t]] -= 1
    return out


def _compress_raw(tmp_path, spikes, S=8, quality=4, **kw):
    src = tmp_path / "in.npy"
    write_npy(src, spikes)
    dst = tmp_path / "out.spkc"
    res = spkc.compress(src, dst, codec="raw", quality=quality, frames_per_scene=S,
                        reconstructor="tfp", radius=3, **kw)
    return dst, res


def test_round_trip_shape_and_rate(tmp_path):
    sp = _spikes(50, 16, 24)
    dst, res = _compress_raw(tmp_path, sp)
    assert res.num_scenes == 7 and dst.exists()
    with spkc.open(dst) as clip:
        out = clip.spikes()
        assert out.shape == sp.shape and out.dtype == bool
        assert clip.shape == (50, 16, 24) and clip.num_scenes == 7
        # regenerated rates follow the source's
        assert abs(out.mean() - sp.mean()) < 0.1 * sp.mean()
        s = clip.scene_at(10)
        assert s.dtype == np.float32 and s.shape == (16, 24)
        assert 0 <= s.min() and s.max() <= 1


def test_random_access_equals_full_decode(tmp_path):
    sp = _spikes(70, 8, 16)
    dst, _ = _compress_raw(tmp_path, sp, S=7)
    full = spkc.open(dst).spikes()
    for a, b in [(0, 1), (13, 29), (69, 70), (20, 21), (0, 70)]:
        clip = spkc.open(dst, batch_size=1)
        part = clip.spikes(a, b)
        assert np.array_equal(part, full[a:b])
        # frames of one segment need at most the scene before and after
        if b - a == 1:
            assert clip.stats.scenes_decoded <= 3
    blocks = list(spkc.open(dst).iter_spikes(block=9))
    assert np.array_equal(np.concatenate(blocks), full)
    assert all(len(b) == 9 for b in blocks[:-1])


def test_batch_size_and_threads_do_not_change_spikes(tmp_path):
    import torch

    sp = _spikes(40, 8, 8)
    dst, _ = _compress_raw(tmp_path, sp)
    hashes = set()
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for bs in (1, 4):
                out = spkc.open(dst, batch_size=bs).spikes()
                hashes.add(hashlib.sha256(out.tobytes()).hexdigest())
    finally:
        torch.set_num_threads(old)
    assert len(hashes) == 1


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(T=st.integers(1, 40), H=st.integers(4, 8).map(lambda h: 2 * h),
       W=st.integers(2, 5).map(lambda w: 4 * w), S=st.integers(1, 12), seed=st.integers(0, 99))
def test_hypothesis_round_trip(tmp_path_factory, T, H, W, S, seed):
    tmp = tmp_path_factory.mktemp("rt")
    rng = np.random.default_rng(seed)
    sp = rng.random((T, H, W)) < rng.random()
    dst, res = _compress_raw(tmp, sp, S=S)
    with spkc.open(dst) as clip:
        out = clip.spikes()
        assert out.shape == (T, H, W)
        assert clip.num_scenes == -(-T // S)
        k = T // 2
        assert np.array_equal(clip.spikes(k, min(T, k + 3)), out[k:k + 3])


def test_quality_monotone_in_bits(tmp_path):
    sp = _spikes(32, 32, 32)
    sizes = []
    for q in (1, 2, 3, 4):
        _, res = _compress_raw(tmp_path, sp, quality=q)
        sizes.append(res.payload_bytes)
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_dat_input_and_decompress_formats(tmp_path):
    sp = _spikes(24, 8, 16)
    src = tmp_path / "in.dat"
    write_dat(src, sp)
    dst = tmp_path / "c.spkc"
    spkc.compress(src, dst, codec="raw", frames_per_scene=8, reconstructor="tfp", radius=2,
                  height=8, width=16)
    ref = spkc.open(dst).spikes()
    from spkc.io import read_spikes

    for ext in (".dat", ".npy", ".h5"):
        out = tmp_path / f"o{ext}"
        spkc.decompress(dst, out)
        back = read_spikes(out, height=8, width=16)
        assert np.array_equal(back, ref)
        assert not any(p.name.startswith(".o.partial") for p in tmp_path.iterdir())
    spkc.decompress(dst, None, scenes_dir=tmp_path / "sc")
    assert len(list((tmp_path / "sc").glob("*.png"))) == 3


def test_regen_numpy_equals_torch_and_rates():
    rng = np.random.default_rng(1)
    scenes = rng.random((5, 6, 7), dtype=np.float32)
    L = luminance_q16(scenes)
    firsts = np.arange(5) * 10
    c2 = scene_centres2(firsts, np.full(5, 10))
    import torch

    for reset in ("soft", "hard"):
        for interp in ("linear", "hold"):
            p = RegenParams(gain_q16=30000, reset=reset, interpolation=interp, seed=3)
            for k in range(5):
                fr = np.arange(firsts[k], firsts[k] + 10)
                a = regenerate_segment(k, fr, lambda j: L[j], c2, p)
                b = regenerate_segment_torch(k, fr, lambda j: torch.from_numpy(L[j]), c2, p)
                assert np.array_equal(a, b.numpy())
    # constant scene -> long-run rate = G/65536 * luminance
    const = np.full((20, 4, 4), 0.5, np.float32)
    out = regenerate(const, 50, 1000, RegenParams(gain_q16=32768))
    assert abs(out.mean() - 0.25) < 0.01


def test_errors_are_one_line_spkc_errors(tmp_path):
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"\0" * 13)
    with pytest.raises(spkc.InputError, match="bad.dat"):
        spkc.compress(bad, tmp_path / "x.spkc", codec="raw", height=8, width=8)
    assert not (tmp_path / "x.spkc").exists()
    sp = _spikes(16, 8, 8)
    src = tmp_path / "ok.npy"
    write_npy(src, sp)
    with pytest.raises(spkc.UnknownCodecError, match="nope"):
        spkc.compress(src, tmp_path / "x.spkc", codec="nope")
    with pytest.raises(spkc.InputError):
        spkc.open(tmp_path / "missing.spkc")
    with pytest.raises(spkc.InputError):
        spkc.open(tmp_path)
    garbage = tmp_path / "g.spkc"
    garbage.write_bytes(os.urandom(300))
    with pytest.raises(spkc.SpkcError):
        spkc.open(garbage)


def test_disk_full_leaves_nothing(tmp_path, monkeypatch):
    import errno

    import spkc.container as container

    sp = _spikes(40, 8, 8)
    src = tmp_path / "in.npy"
    write_npy(src, sp)
    orig = container.SpkcWriter.add_scene
    calls = {"n": 0}

    def failing(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return orig(self, *a, **k)

    monkeypatch.setattr(container.SpkcWriter, "add_scene", failing)
    dst = tmp_path / "full.spkc"
    with pytest.raises(spkc.OutputError, match="No space left"):
        spkc.compress(src, dst, codec="raw", frames_per_scene=4, reconstructor="tfp", radius=1)
    assert list(tmp_path.iterdir()) == [src]


def test_damaged_scene_names_it_and_others_decode(tmp_path):
    sp = _spikes(40, 8, 8)
    dst, _ = _compress_raw(tmp_path, sp, S=8)
    from spkc.container import SpkcReader

    with SpkcReader(dst) as r:
        payload = r.scene_payloads(2)
    data = bytearray(dst.read_bytes())
    first = bytes(next(iter(payload.values())))
    pos = bytes(data).find(first)
    assert pos > 0
    data[pos + len(first) // 2] ^= 0x10
    dst.write_bytes(bytes(data))
    clip = spkc.open(dst)
    with pytest.raises(spkc.SceneCorruptError, match="scene 2") as ei:
        clip.spikes(16, 24)
    assert ei.value.scene == 2
    assert clip.spikes(0, 8).shape == (8, 8, 8)
    rep = clip.verify()
    assert set(rep.bad_scenes) == {2}


def test_learned_decode_identical_across_threads_and_batches(tmp_path):
    import torch

    from spkc.codecs import get_codec_class

    ok, reason = get_codec_class("learned").availability()
    if not ok:
        pytest.skip(reason)
    sp = _spikes(48, 32, 48)
    src = tmp_path / "in.npy"
    write_npy(src, sp)
    dst = tmp_path / "l.spkc"
    spkc.compress(src, dst, codec="learned", quality=1, frames_per_scene=12)
    hashes = set()
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for bs in (1, 4):
                with spkc.open(dst, batch_size=bs) as clip:
                    out = clip.spikes()
                    part = clip.spikes(13, 30)
                assert np.array_equal(part, out[13:30])
                hashes.add(hashlib.sha256(out.tobytes()).hexdigest())
    finally:
        torch.set_num_threads(old)
    assert len(hashes) == 1
