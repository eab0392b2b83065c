"""The lossless `exact` spike-stream codec: bitstream, container blocks, pipeline, CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from _helpers import if_spikes, killed_exact_write
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spkc
from spkc.cli.main import cli
from spkc.codecs import exact_ref, get_codec, list_codecs
from spkc.codecs.exact import METHOD_MODEL, METHOD_RAW, ExactCodec, kernel_available
from spkc.codecs.stream_base import SpikeStreamCodec, is_stream_codec
from spkc.errors import BlockCorruptError, SceneCorruptError, UnfinishedFileError
from spkc.io import read_spikes, write_spikes
from spkc.pipeline.stream import StreamClip

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "spec" / "exact-vectors"

needs_kernel = pytest.mark.skipif(not kernel_available(), reason="exact kernel not built")


def _blocks(draw_pattern: str, shape: tuple[int, int, int], rate: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if draw_pattern == "zeros":
        return np.zeros(shape, bool)
    if draw_pattern == "ones":
        return np.ones(shape, bool)
    if draw_pattern == "alternating":
        t = np.arange(shape[0])[:, None, None]
        return np.broadcast_to((t % 2) == 0, shape).copy()
    if draw_pattern == "checker":
        t, y, x = np.indices(shape)
        return (t + y + x) % 2 == 0
    if draw_pattern == "if":
        return if_spikes(shape, seed)
    return rng.random(shape) < rate


PATTERNS = st.sampled_from(["zeros", "ones", "alternating", "checker", "if", "random"])
SHAPES = st.tuples(st.integers(1, 40), st.integers(1, 9), st.integers(1, 11))


# -- bitstream -----------------------------------------------------------------------------------
@needs_kernel
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=SHAPES, pattern=PATTERNS, rate=st.floats(0, 1), seed=st.integers(0, 2**31))
def test_kernel_matches_pure_python_reference(shape, pattern, rate, seed) -> None:
    from spkc.codecs import _exact

    s = _blocks(pattern, shape, rate, seed)
    B, H, W = shape
    body = _exact.encode_block(np.ascontiguousarray(s).view(np.uint8), B, H, W)
    assert body == exact_ref.encode_block(s)  # same bitstream, byte for byte
    assert np.array_equal(exact_ref.decode_block(body, shape), s)
    out = np.empty(shape, np.uint8)
    _exact.decode_block(body, B, H, W, out)
    assert np.array_equal(out.view(bool), s)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=SHAPES, pattern=PATTERNS, rate=st.floats(0, 1), seed=st.integers(0, 2**31))
def test_codec_round_trip_and_never_expands(shape, pattern, rate, seed) -> None:
    codec = ExactCodec(block_frames=64)
    s = _blocks(pattern, shape, rate, seed)
    data = codec.encode_block(s)
    raw = -(-s.size // 8)
    assert len(data) <= raw + 1  # worst case: raw bits + the method byte
    assert data[0] in (METHOD_RAW, METHOD_MODEL)
    back = codec.decode_block(data, s.shape)
    assert back.dtype == bool and back.shape == s.shape and np.array_equal(back, s)


def test_model_beats_raw_on_integrate_and_fire_and_falls_back_on_noise() -> None:
    codec = ExactCodec(block_frames=128)
    s = if_spikes((128, 24, 32), seed=1)
    data = codec.encode_block(s)
    assert data[0] == METHOD_MODEL and len(data) < s.size / 8 / 2.5
    noise = np.random.default_rng(2).random((64, 16, 16)) < 0.5
    data = codec.encode_block(noise)
    assert data[0] == METHOD_RAW and len(data) == noise.size // 8 + 1
    assert np.array_equal(codec.decode_block(data, noise.shape), noise)


@settings(max_examples=80, deadline=None)
@given(junk=st.binary(min_size=0, max_size=300), shape=SHAPES)
def test_damaged_block_bytes_fail_cleanly(junk, shape) -> None:
    codec = ExactCodec(block_frames=64)
    try:
        out = codec.decode_block(bytes([METHOD_MODEL]) + junk, shape)
    except SceneCorruptError:
        return
    assert out.shape == shape and out.dtype == bool  # junk may decode to *some* block


def test_interface_and_registry() -> None:
    codec = get_codec("exact")
    assert isinstance(codec, SpikeStreamCodec) and is_stream_codec(codec)
    assert codec.lossless and codec.kind == "stream"
    assert type(codec).from_config(codec.get_config()).get_config() == codec.get_config()
    info = {i.name: i for i in list_codecs()}
    assert info["exact"].kind == "stream" and info["raw"].kind == "scene"
    with pytest.raises(spkc.InputError, match="block_frames"):
        ExactCodec(block_frames=0)
    with pytest.raises(spkc.InputError, match="no option"):
        ExactCodec(level=3)


# -- container and pipeline ----------------------------------------------------------------------
@pytest.fixture
def clip_npy(tmp_path: Path) -> tuple[Path, np.ndarray]:
    s = if_spikes((47, 20, 28), seed=3)
    s[10:12] = False  # a dark stretch
    p = tmp_path / "src.npy"
    np.save(p, s)
    return p, s


def _compress(src: Path, dst: Path, block: int = 8) -> spkc.pipeline.CompressResult:
    return spkc.compress(src, dst, codec="exact", codec_options={"block_frames": block})


def test_pipeline_round_trip_random_access_and_outputs(tmp_path: Path, clip_npy) -> None:
    src, s = clip_npy
    dst = tmp_path / "c.spkc"
    res = _compress(src, dst)  # 47 frames: blocks of 8, the last one 7
    assert res.num_scenes == 6 and res.payload_bytes < s.size / 8
    with spkc.open(dst) as clip:
        assert isinstance(clip, StreamClip) and clip.lossless
        assert clip.shape == s.shape and clip.num_blocks == 6 and clip.complete
        assert np.array_equal(clip.spikes(), s)
    with spkc.open(dst) as clip:  # random access decodes only the covering blocks
        assert np.array_equal(clip.spikes(17, 30), s[17:30])
        assert clip.decoded_blocks == [2, 3]
        assert np.array_equal(clip.spikes(46, 47), s[46:47])
        assert np.array_equal(np.concatenate(list(clip.iter_spikes(block=5, start=3))), s[3:])
        assert clip.verify().ok
    for ext in (".npy", ".h5", ".dat"):
        out = tmp_path / f"out{ext}"
        spkc.decompress(dst, out)
        back = read_spikes(out, height=20, width=28)
        assert back.shape == s.shape and np.array_equal(back, s)
    with pytest.raises(spkc.InputError, match="spike-stream"):
        spkc.decompress(dst, scenes_dir=tmp_path / "scenes")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(T=st.integers(1, 30), block=st.integers(1, 12), pattern=PATTERNS, seed=st.integers(0, 99))
def test_pipeline_lengths_not_a_multiple_of_the_block(tmp_path: Path, T, block, pattern,
                                                      seed) -> None:
    s = _blocks(pattern, (T, 5, 6), 0.3, seed)
    src = tmp_path / f"h{T}_{block}_{seed}.npy"
    np.save(src, s)
    dst = src.with_suffix(".spkc")
    _compress(src, dst, block)
    with spkc.open(dst) as clip:
        assert clip.num_blocks == -(-T // block) and np.array_equal(clip.spikes(), s)
        a = seed % T
        assert np.array_equal(clip.spikes(a, T), s[a:])


def test_h5_source_round_trip(tmp_path: Path) -> None:
    s = if_spikes((21, 9, 13), seed=8)
    src = tmp_path / "a.h5"
    write_spikes(src, s)
    dst = tmp_path / "a.spkc"
    spkc.compress(src, dst, codec="exact", codec_options={"block_frames": 6})
    spkc.decompress(dst, tmp_path / "b.h5")
    back = read_spikes(tmp_path / "b.h5")
    assert back.shape == s.shape and np.array_equal(back, s)


def test_pure_python_fallback_decodes_the_same(monkeypatch) -> None:
    import spkc.codecs.exact as exact_mod

    codec = ExactCodec(block_frames=16)
    s = if_spikes((16, 6, 8), seed=9)
    data = codec.encode_block(s)
    monkeypatch.setattr(exact_mod, "_kernel", None)
    monkeypatch.setattr(ExactCodec, "_warned", False)
    with pytest.warns(RuntimeWarning, match="pure-Python"):
        assert codec.encode_block(s) == data
    assert np.array_equal(codec.decode_block(data, s.shape), s)


def test_dat_round_trip_is_byte_identical(tmp_path: Path) -> None:
    s = if_spikes((33, 16, 24), seed=5)
    src = tmp_path / "a.dat"
    write_spikes(src, s)
    dst = tmp_path / "a.spkc"
    spkc.compress(src, dst, codec="exact", height=16, width=24,
                  codec_options={"block_frames": 10})
    spkc.decompress(dst, tmp_path / "b.dat")
    assert (tmp_path / "b.dat").read_bytes() == src.read_bytes()


def _damage_block(path: Path, k: int) -> None:
    from spkc.container import SpkcReader

    with SpkcReader(path) as r:
        off, size = int(r._offsets[k]), int(r._sizes[k])
    b = bytearray(path.read_bytes())
    b[off + size // 2] ^= 0x10
    path.write_bytes(bytes(b))


def test_damage_is_confined_to_one_block(tmp_path: Path, clip_npy) -> None:
    src, s = clip_npy
    dst = tmp_path / "d.spkc"
    _compress(src, dst)
    _damage_block(dst, 2)
    with spkc.open(dst) as clip:
        for k in (0, 1, 3, 4, 5):
            a, b = clip.block_range(k)
            assert np.array_equal(clip.spikes(a, b), s[a:b])
        with pytest.raises(BlockCorruptError, match=r"block 2 \(frames 16\.\.23\)") as ei:
            clip.spikes(20, 21)
        assert ei.value.block == 2 and ei.value.scene == 2 and str(dst) in str(ei.value)
        assert list(clip.verify().bad_scenes) == [2]
    with spkc.open(dst, conceal=True) as clip:
        got = clip.spikes()
        assert list(clip.concealed) == [2] and not got[16:24].any()
        assert np.array_equal(got[:16], s[:16]) and np.array_equal(got[24:], s[24:])
    r = CliRunner().invoke(cli, ["decompress", str(dst), "-o", str(tmp_path / "x.dat")])
    assert r.exit_code == 1 and "block 2" in r.output and "Traceback" not in r.output


_KILL_CALL = """
    spkc.compress(sys.argv[1], sys.argv[2], codec="exact", codec_options={"block_frames": 2})
"""


def test_killed_writer_leaves_every_flushed_block(tmp_path: Path) -> None:
    s = if_spikes((2000, 6, 7), seed=7)
    part, flushed = killed_exact_write(tmp_path, _KILL_CALL, s, 30)
    with spkc.open(part) as clip:
        assert not clip.complete and clip.num_blocks >= flushed + 1
        T = clip.shape[0]
        assert np.array_equal(clip.spikes(), s[:T])
    with pytest.raises(UnfinishedFileError):
        spkc.decompress(part, tmp_path / "u.npy")
    fixed = tmp_path / "fixed.spkc"
    r = CliRunner().invoke(cli, ["repair", str(part), "-o", str(fixed)])
    assert r.exit_code == 0, r.output
    with spkc.open(fixed) as clip:
        assert clip.complete and np.array_equal(clip.spikes(), s[:clip.shape[0]])


def test_cli_compress_info_decompress(tmp_path: Path, clip_npy) -> None:
    src, s = clip_npy
    dst = tmp_path / "c.spkc"
    runner = CliRunner()
    r = runner.invoke(cli, ["compress", str(src), "-o", str(dst), "--codec", "exact",
                            "-O", "block_frames=16", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "lossless" in r.output and "blocks" in r.output
    r = runner.invoke(cli, ["info", str(dst)])
    assert r.exit_code == 0 and "lossless" in r.output and "ratio" in r.output
    r = runner.invoke(cli, ["info", str(dst), "--json"])
    d = json.loads(r.output)
    assert d["lossless"] is True and d["kind"] == "stream" and d["ratio"] > 0.5
    r = runner.invoke(cli, ["decompress", str(dst), "-o", str(tmp_path / "o.npy"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert np.array_equal(np.load(tmp_path / "o.npy"), s)
    r = runner.invoke(cli, ["verify", str(dst)])
    assert r.exit_code == 0, r.output


# -- conformance vectors -------------------------------------------------------------------------
def _vectors() -> list[str]:
    if not (VECTORS / "manifest.json").exists():
        return []
    return sorted(json.loads((VECTORS / "manifest.json").read_text())["vectors"])


@pytest.mark.parametrize("name", _vectors())
def test_exact_decode_vectors(name: str) -> None:
    entry = json.loads((VECTORS / "manifest.json").read_text())["vectors"][name]
    with spkc.open(VECTORS / entry["file"]) as clip:
        s = clip.spikes()
        assert list(s.shape) == entry["shape"]
        assert hashlib.sha256(np.packbits(s).tobytes()).hexdigest() == entry["spikes_sha256"]
        assert int(s.sum()) == entry["spike_count"]
        methods = [clip._reader.scene_payloads(k)["blk"][0] for k in range(clip.num_blocks)]
        assert methods == entry["block_methods"]
    for k, (first, stop) in enumerate(entry.get("reference_blocks", [])):
        # the pure-Python reference decodes the same bytes to the same spikes
        with spkc.open(VECTORS / entry["file"]) as clip:
            body = clip._reader.scene_payloads(k)["blk"]
            if body[0] == METHOD_MODEL:
                ref = exact_ref.decode_block(body[1:], (stop - first, *s.shape[1:]))
                assert np.array_equal(ref, s[first:stop])


def test_vectors_are_present() -> None:
    assert len(_vectors()) >= 2


# -- real clips ----------------------------------------------------------------------------------
@pytest.mark.shared_data
@needs_kernel
def test_reds_dat_round_trip_byte_identical(tmp_path: Path, reds_dir: Path) -> None:
    for src in sorted(reds_dir.glob("*.dat")):
        dst = tmp_path / (src.stem + ".spkc")
        res = spkc.compress(src, dst, codec="exact", codec_options={"block_frames": 128})
        assert res.ratio > 2.5
        out = tmp_path / (src.stem + ".dat")
        spkc.decompress(dst, out)
        assert out.read_bytes() == src.read_bytes()
