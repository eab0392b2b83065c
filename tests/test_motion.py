"""Motion-compensated interpolation: exact integer warp, side information, pipeline and
all-frame evaluation (spec/regeneration.md, "Motion-compensated interpolation")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spkc
from spkc.errors import SceneCorruptError, SpkcError
from spkc.io import write_npy
from spkc.spikes import integrate_and_fire
from spkc.spikes.regenerate import RegenParams, regenerate, scene_centres2
from spkc.spikes.synthetic import SyntheticScene
from spkc.spikes.warp import (
    MAX_VECTOR,
    MOTION_PAYLOAD,
    MotionField,
    PairWarp,
    PairWarpTorch,
    decode_motion,
    encode_motion,
    grid_shape,
    identity_field,
)

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def fields(draw, zero: bool = False):
    H = draw(st.integers(1, 40))
    W = draw(st.integers(1, 40))
    block = draw(st.integers(4, 12))
    rows, cols = grid_shape(H, W, block)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    La = rng.integers(0, 65536, (H, W))
    Lb = rng.integers(0, 65536, (H, W))
    if zero:
        f = identity_field(H, W, block)
    else:
        big = draw(st.sampled_from([8, 200, MAX_VECTOR]))
        f = MotionField(block, rng.integers(-big, big + 1, (rows, cols)).astype(np.int16),
                        rng.integers(-big, big + 1, (rows, cols)).astype(np.int16),
                        rng.integers(0, 3, (rows, cols)).astype(np.uint8))
    w = draw(st.integers(0, 1 << 15))
    return La, Lb, f, w


@FAST
@given(fields(zero=True))
def test_identity_field_is_the_linear_blend_bit_for_bit(case):
    La, Lb, f, w = case
    got = PairWarp(La, Lb, f).luminance(w)
    assert np.array_equal(got, La + (((Lb - La) * w) >> 15))


@FAST
@given(fields())
def test_warp_numpy_equals_torch_and_stays_in_range(case):
    La, Lb, f, w = case
    a = PairWarp(La, Lb, f).luminance(w)
    b = PairWarpTorch(La, Lb, f).luminance(w).numpy()
    assert np.array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 65535


@FAST
@given(fields())
def test_warp_end_weights_pick_each_scene(case):
    """Whatever the field and modes: at w = 0 the frame is scene a itself, at w = 2^15 scene
    b itself (each scene is shown exactly at its own time)."""
    La, Lb, f, _ = case
    assert np.array_equal(PairWarp(La, Lb, f).luminance(0), La)
    assert np.array_equal(PairWarp(La, Lb, f).luminance(1 << 15), Lb)


def test_warp_moves_content_by_the_vector():
    """A shifted copy is recovered exactly at integer shifts of the blend."""
    rng = np.random.default_rng(1)
    La = rng.integers(0, 65536, (32, 48))
    Lb = np.roll(La, (4, -8), axis=(0, 1))
    rows, cols = grid_shape(32, 48, 8)
    f = MotionField(8, np.full((rows, cols), 16, np.int16), np.full((rows, cols), -32, np.int16),
                    np.zeros((rows, cols), np.uint8))
    mid = PairWarp(La, Lb, f).luminance(1 << 14)  # half way: La moved by (2, -4)
    assert np.array_equal(mid[8:24, 8:40], np.roll(La, (2, -4), axis=(0, 1))[8:24, 8:40])


@FAST
@given(fields())
def test_side_information_round_trip(case):
    _, _, f, _ = case
    H, W = f.grid[0] * f.block, f.grid[1] * f.block
    g = decode_motion(encode_motion(f), H, W)
    assert g.block == f.block
    assert np.array_equal(g.vy, f.vy) and np.array_equal(g.vx, f.vx)
    assert np.array_equal(g.mode, f.mode)


@FAST
@given(st.data())
def test_damaged_side_information_raises_scene_corrupt_only(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    rows, cols = grid_shape(40, 60, 8)
    f = MotionField(8, rng.integers(-50, 50, (rows, cols)).astype(np.int16),
                    rng.integers(-50, 50, (rows, cols)).astype(np.int16),
                    rng.integers(0, 3, (rows, cols)).astype(np.uint8))
    blob = bytearray(encode_motion(f))
    how = data.draw(st.sampled_from(["flip", "truncate", "append"]))
    if how == "flip":
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "truncate":
        blob = blob[:data.draw(st.integers(0, len(blob) - 1))]
    else:
        blob += bytes(data.draw(st.binary(min_size=1, max_size=8)))
    try:
        g = decode_motion(bytes(blob), 40, 60)
    except SceneCorruptError:
        return
    # a flip zstd cannot see must still give a valid field
    assert g.mode.max() <= 2 and np.abs(g.vy).max() <= MAX_VECTOR


def test_side_information_refuses_wrong_grid_and_version():
    f = identity_field(40, 60, 8)
    blob = encode_motion(f)
    with pytest.raises(SceneCorruptError, match="grid"):
        decode_motion(blob, 41, 60 + 8)
    with pytest.raises(SceneCorruptError, match="version"):
        decode_motion(bytes([9]) + blob[1:], 40, 60)


def test_regenerate_with_identity_fields_equals_linear():
    rng = np.random.default_rng(3)
    scenes = rng.random((4, 20, 30)).astype(np.float32)
    p_lin = RegenParams(gain_q16=30000, interpolation="linear", seed=2)
    p_mot = RegenParams(gain_q16=30000, interpolation="motion", seed=2)
    ident = identity_field(20, 30, 8)
    a = regenerate(scenes, 10, 37, p_lin)
    assert np.array_equal(a, regenerate(scenes, 10, 37, p_mot, lambda k: ident))
    assert np.array_equal(a, regenerate(scenes, 10, 37, p_mot, lambda k: None))


def test_regen_params_motion_round_trip_and_version():
    p = RegenParams(gain_q16=100, interpolation="motion")
    d = p.to_dict()
    assert d["motion_version"] == 1
    assert RegenParams.from_dict(d) == p
    with pytest.raises(SpkcError, match="motion"):
        RegenParams.from_dict({**d, "motion_version": 2})
    assert "motion_version" not in RegenParams(gain_q16=100).to_dict()


# -- pipeline ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    """A fast-moving synthetic clip (60 x 48 x 64) and its linear / motion .spkc files."""
    tmp = tmp_path_factory.mktemp("motion")
    lum = SyntheticScene(48, 64, seed=2, speed=4.0).frames(0, 60)
    src = tmp / "src.npy"
    write_npy(src, integrate_and_fire(lum, gain=0.45, init="random", seed=2))
    out = {}
    for interp in ("linear", "motion"):
        out[interp] = tmp / f"{interp}.spkc"
        spkc.compress(src, out[interp], codec="raw", quality=3, frames_per_scene=12,
                      interpolation=interp)
    return lum, out


def test_motion_file_is_format_1_1_and_linear_stays_1_0(moving):
    from spkc.container import SpkcReader

    _, files = moving
    with SpkcReader(files["linear"]) as r:
        assert r.version == (1, 0)
        assert all(MOTION_PAYLOAD not in r.scene_payloads(k) for k in range(r.num_scenes))
    with SpkcReader(files["motion"]) as r:
        assert r.version == (1, 1)
        assert r.header.regen["interpolation"] == "motion"
        has = [MOTION_PAYLOAD in r.scene_payloads(k) for k in range(r.num_scenes)]
        assert any(has) and not has[-1]


def test_motion_decode_is_exact_for_any_access(moving):
    _, files = moving
    with spkc.open(files["motion"]) as clip:
        full = clip.spikes()
        T = clip.shape[0]
    for bs in (1, 3):
        with spkc.open(files["motion"], batch_size=bs) as clip:
            assert np.array_equal(clip.spikes(17, 41), full[17:41])
            assert np.array_equal(np.concatenate(list(clip.iter_spikes(7))), full)
    with spkc.open(files["motion"]) as clip:
        for t in (T - 1, 5, 30):  # random order
            assert np.array_equal(clip.spikes(t, t + 1), full[t:t + 1])


def test_motion_decode_torch_path_and_threads_match_numpy(moving):
    torch = pytest.importorskip("torch")
    _, files = moving
    with spkc.open(files["motion"]) as clip:
        ref = clip.spikes()
    old = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            with spkc.open(files["motion"], device="cpu") as clip:
                clip.device = "torch-cpu"  # force the torch twin on the CPU
                got = _torch_spikes(clip)
            assert np.array_equal(got, ref)
    finally:
        torch.set_num_threads(old)


def _torch_spikes(clip):
    import torch

    from spkc.spikes.regenerate import regenerate_segment_torch

    out = []
    for k in range(clip.num_scenes):
        first, count = int(clip._firsts[k]), int(clip._counts[k])
        frames = np.arange(first, first + count)
        clip._decode(clip._neighbours(k, frames))
        out.append(regenerate_segment_torch(
            k, frames, lambda j: torch.as_tensor(clip._luma(j)), clip._centres2, clip.regen,
            device="cpu", motion=clip._motion).numpy())
    return np.concatenate(out)


def test_motion_beats_linear_between_scene_times(moving):
    """On fast motion the warped luminance is closer to the truth away from scene times."""
    lum, files = moving
    err = {}
    for interp, path in files.items():
        with spkc.open(path) as clip:
            c2 = scene_centres2(clip._firsts, clip._counts)
            mids = [int(c) // 2 + 6 for c in c2[:-1]]  # half way between scene times
            got = np.stack([clip.scene_at(t) for t in mids])
        truth = lum[mids]
        a = np.polyfit(got.ravel(), truth.ravel(), 1)
        err[interp] = float(np.mean((np.polyval(a, got) - truth) ** 2))
    assert err["motion"] < err["linear"]


def test_damaged_motion_scene_is_concealed_and_its_pairs_blend_linearly(moving, tmp_path):
    from spkc.container import SpkcReader

    _, files = moving
    with SpkcReader(files["motion"]) as r:
        at = int(r._offsets[1]) + int(r._sizes[1]) - 8  # inside scene 1's chunk
    data = bytearray(files["motion"].read_bytes())
    data[at] ^= 0x40
    bad = tmp_path / "bad.spkc"
    bad.write_bytes(bytes(data))
    with pytest.raises(SceneCorruptError), spkc.open(bad) as clip:
        clip.spikes()
    with spkc.open(bad, conceal=True) as clip:
        full = clip.spikes()
        assert 1 in clip.concealed
        assert clip._motion(0) is None and clip._motion(1) is None
    with spkc.open(bad, conceal=True, batch_size=1) as clip:
        assert np.array_equal(clip.spikes(20, 30), full[20:30])


def test_allframe_metrics_and_gt_video(moving, tmp_path):
    from spkc.eval.allframe import allframe_metrics, load_gt_video

    lum, files = moving
    p = tmp_path / "gt.npy"
    np.save(p, np.rint(lum * 65535).astype(np.uint16))
    gt = load_gt_video(p)
    with spkc.open(files["linear"]) as clip:
        src = clip.spikes()  # a stand-in source: the metrics must then be perfect
    m = allframe_metrics(files["linear"], gt, src)
    assert len(m["psnr_frames"]) == 60
    assert m["psnr_worst"] <= m["psnr_mean"]
    assert m["isi_psnr"] == float("inf") and m["firing_rate_psnr"] == float("inf")
    assert min(m["psnr_by_distance"]) in (0, 1)
    with pytest.raises(SpkcError, match="ground-truth video"):
        allframe_metrics(files["linear"], gt[:10], None)


def test_simulate_writes_the_ground_truth_video(tmp_path):
    from click.testing import CliRunner

    from spkc.cli.main import cli

    out, gt = tmp_path / "s.npy", tmp_path / "gt.npy"
    res = CliRunner().invoke(cli, ["simulate", "--synthetic", "--frames", "70", "--height", "12",
                                   "--width", "20", "--speed", "3", "-o", str(out),
                                   "--gt-video", str(gt)])
    assert res.exit_code == 0, res.output
    video = np.load(gt)
    assert video.shape == (70, 12, 20) and video.dtype == np.uint16
    want = SyntheticScene(12, 20, 0, speed=3.0).frames(0, 70)
    assert np.abs(video / 65535.0 - want).max() <= 1 / 65535
    res = CliRunner().invoke(cli, ["eval", str(out), "--offsets", "0,8", "--codecs", "raw"])
    assert res.exit_code == 1 and "--offsets needs --gt" in res.output
