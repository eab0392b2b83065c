"""The ``vtm`` codec against the real VTM 23.13 binaries (``../shared/tools/vtm`` or $SPKC_VTM_DIR).

Marked ``vtm``: skipped when no EncoderApp/DecoderApp/intra cfg is found there. Scenes are small
(64x96 and odder sizes) because VTM is slow (about 1 s per 64x96 scene here); the whole module
costs about 40 encoder runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import spkc
from spkc.cli.main import cli
from spkc.codecs._image import seal, unseal
from spkc.codecs.vtm import VtmCodec
from spkc.errors import CodecUnavailableError, SceneCorruptError
from spkc.io import read_spikes, write_dat
from spkc.metrics import psnr

REPO = Path(__file__).resolve().parents[1]


def _vtm_dir() -> Path:
    env = os.environ.get("SPKC_VTM_DIR")
    return Path(env) if env else REPO.parent / "shared" / "tools" / "vtm"


VTM = _vtm_dir()
HAVE_VTM = all((VTM / p).is_file() for p in
               ("bin/EncoderApp", "bin/DecoderApp", "cfg/encoder_intra_vtm.cfg"))

pytestmark = [pytest.mark.vtm,
              pytest.mark.skipif(not HAVE_VTM, reason=f"needs VTM binaries in {VTM} (absent)")]

H, W = 64, 96


def scene(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """(h, w) float32 in [0, 1]: smooth gradients, a textured band and a hard-edged disc."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    x = 0.5 + 0.3 * np.sin(xx / (5 + seed)) * np.cos(yy / 7)
    x[h // 3: h // 2] += 0.1 * rng.standard_normal((h // 2 - h // 3, w)).astype(np.float32)
    x = np.where((yy - h / 2) ** 2 + (xx - w / 3) ** 2 < (min(h, w) / 5) ** 2, 0.9, x)
    return np.clip(x, 0, 1).astype(np.float32)


@pytest.fixture
def vtm_env(monkeypatch):
    """$SPKC_VTM_DIR at the real binaries."""
    monkeypatch.setenv("SPKC_VTM_DIR", str(VTM))
    return VTM


@pytest.fixture
def ffmpeg_only(monkeypatch, tmp_path):
    """No VTM binary anywhere: decoding falls back to PyAV's FFmpeg VVC decoder."""
    monkeypatch.delenv("SPKC_VTM_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))


@pytest.fixture
def decoder_only(monkeypatch, tmp_path):
    """Only DecoderApp (a new user who received a file)."""
    root = tmp_path / "deconly"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "DecoderApp").symlink_to(VTM / "bin" / "DecoderApp")
    monkeypatch.setenv("SPKC_VTM_DIR", str(root))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))


@pytest.fixture(scope="module")
def coded() -> dict:
    """Payloads of two 64x96 scenes at quality 4, 8 and 10 bits (encoded once per module)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SPKC_VTM_DIR", str(VTM))
    try:
        x = np.stack([scene(seed=s) for s in range(2)])
        return {8: VtmCodec(quality=4, bit_depth=8).encode(x[:1]),
                10: VtmCodec(quality=4).encode(x), "x": x}
    finally:
        mp.undo()


@pytest.mark.parametrize("bits", [8, 10])
def test_round_trip(vtm_env, coded, bits):
    payloads = coded[bits]
    x = coded["x"][: len(payloads)]
    assert all(set(p) == {"img"} for p in payloads)
    dec = VtmCodec(quality=4, bit_depth=bits).decode(payloads, (H, W))
    assert dec.shape == x.shape and dec.dtype == np.float32
    top = (1 << bits) - 1
    np.testing.assert_array_equal(dec * np.float32(top), np.rint(dec * np.float32(top)))
    for k in range(len(x)):
        assert psnr(dec[k], x[k]) > 30, (bits, k, psnr(dec[k], x[k]))
    # a real VVC bitstream behind the CRC: an access unit delimiter-free Annex B stream
    assert unseal(payloads[0]["img"], "vtm")[:3] in (b"\x00\x00\x01", b"\x00\x00\x00")


def test_quality_monotone_and_ffmpeg_decodes_the_same_samples(vtm_env, monkeypatch, tmp_path):
    """More bits at higher quality; PyAV's VVC decoder gives DecoderApp's samples (10 bits)."""
    h, w = 32, 48
    x = scene(h, w, seed=3)[None]
    sizes, scores = [], []
    for q in (1, 5, 8):
        monkeypatch.setenv("SPKC_VTM_DIR", str(VTM))
        codec = VtmCodec(quality=q)
        p = codec.encode(x)
        ref = codec.decode(p, (h, w))
        sizes.append(len(p[0]["img"]))
        scores.append(psnr(ref[0], x[0]))
        monkeypatch.delenv("SPKC_VTM_DIR")
        monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
        np.testing.assert_array_equal(codec.decode(p, (h, w)), ref, err_msg=f"quality {q}")
    assert sizes[0] < sizes[1] < sizes[2], sizes
    assert scores[0] < scores[1] < scores[2], scores
    assert scores[2] > 45


@pytest.mark.parametrize("shape", [(61, 93), (8, 8), (9, 130)])
def test_odd_sizes_are_padded_and_cropped(vtm_env, shape):
    x = scene(*shape, seed=1)[None]
    codec = VtmCodec(quality=7)
    dec = codec.decode(codec.encode(x), shape)
    assert dec.shape == (1, *shape)
    assert psnr(dec[0], x[0]) > 38


@pytest.mark.parametrize("via", ["DecoderApp", "FFmpeg"])
def test_damaged_payloads_are_scene_corrupt(vtm_env, coded, monkeypatch, tmp_path, via):
    codec = VtmCodec(quality=4)
    good = unseal(coded[10][0]["img"], "vtm")
    if via == "FFmpeg":
        monkeypatch.delenv("SPKC_VTM_DIR")
        monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    # valid CRC around bad VVC: the decoder itself must fail cleanly (DecoderApp segfaults on
    # random bytes: that is a damaged scene, not a crash of spkc)
    rand = np.random.default_rng(0).bytes(200)
    for bad in (good[: len(good) // 2], bytes(flipped), rand, b"\x00" * 64):
        with pytest.raises(SceneCorruptError, match="vtm"):
            codec.decode([{"img": seal(bad)}], (H, W))
    with pytest.raises(SceneCorruptError, match="checksum"):
        codec.decode([{"img": seal(good)[:-1] + b"\x00"}], (H, W))
    with pytest.raises(SceneCorruptError, match="vtm"):  # right bytes, wrong shape
        codec.decode([coded[10][0]], (H + 16, W))


def test_decoding_is_deterministic(vtm_env, coded):
    p = coded[10]
    a = VtmCodec(quality=4).decode(p, (H, W))
    b = VtmCodec(quality=4, jobs=1).decode(p, (H, W))
    c = np.concatenate([VtmCodec(quality=4, jobs=1).decode([q], (H, W)) for q in p[::-1]][::-1])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_encoding_is_deterministic_and_parallel_equals_serial(vtm_env):
    x = np.stack([scene(32, 48, seed=s) for s in range(2)])
    assert VtmCodec(quality=2, jobs=1).encode(x) == VtmCodec(quality=2, jobs=2).encode(x)


def _dat(tmp_path, T=24):  # noqa: N803
    rng = np.random.default_rng(0)
    rate = 0.05 + 0.4 * np.repeat(scene()[None], T, 0)
    p = tmp_path / "in.dat"
    write_dat(p, rng.random((T, H, W)) < rate)
    return p


def _compress(tmp_path, *extra, T=24):  # noqa: N803
    out = tmp_path / "c.spkc"
    r = CliRunner().invoke(cli, ["compress", str(_dat(tmp_path, T)), "-o", str(out), "--codec",
                                 "vtm", "-q", "3", "--height", str(H), "--width", str(W),
                                 "-S", "8", "--quiet", *extra])
    return r, out


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory) -> Path:
    """`SPKC_VTM_DIR=... spkc compress --codec vtm` of a 24-frame 64x96 clip (3 scenes)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SPKC_VTM_DIR", str(VTM))
    try:
        r, out = _compress(tmp_path_factory.mktemp("vtmclip"))
    finally:
        mp.undo()
    assert r.exit_code == 0, r.output
    assert "3 scenes" in r.output
    return out


def test_cli_compress_and_decode_anywhere(vtm_env, clip_file, monkeypatch, tmp_path):
    out = clip_file
    with spkc.open(out) as clip:
        ref_scenes = np.stack([clip.scene(k) for k in range(clip.num_scenes)])
        ref = clip.spikes()
    r = CliRunner().invoke(cli, ["codecs"])
    assert r.exit_code == 0 and any(line.split()[0] == "vtm" and line.split()[3] == "ok"
                                    and "(" not in line for line in r.output.splitlines())
    # only a decoder: DecoderApp alone, then FFmpeg alone -- same spikes
    for env in ("decoder_only", "ffmpeg_only"):
        monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
        if env == "decoder_only":
            root = tmp_path / "deconly"
            (root / "bin").mkdir(parents=True)
            (root / "bin" / "DecoderApp").symlink_to(VTM / "bin" / "DecoderApp")
            monkeypatch.setenv("SPKC_VTM_DIR", str(root))
        else:
            monkeypatch.delenv("SPKC_VTM_DIR")
        r = CliRunner().invoke(cli, ["codecs"])
        line = next(s for s in r.output.splitlines() if s.startswith("vtm"))
        assert "ok (decode only" in line, line
        dst = tmp_path / f"{env}.npy"
        r = CliRunner().invoke(cli, ["decompress", str(out), "-o", str(dst), "--quiet"])
        assert r.exit_code == 0, (env, r.output)
        assert np.array_equal(read_spikes(dst), ref), env
        with spkc.open(out) as clip:
            got = np.stack([clip.scene(k) for k in range(clip.num_scenes)])
        np.testing.assert_array_equal(got, ref_scenes, err_msg=env)
        # ... but encoding needs EncoderApp: one clear line, no output file
        bad = tmp_path / f"{env}.spkc"
        r = CliRunner().invoke(cli, ["compress", str(_dat(tmp_path)), "-o", str(bad),
                                     "--codec", "vtm", "--height", str(H), "--width", str(W),
                                     "-S", "8", "--quiet"])
        assert r.exit_code != 0 and "EncoderApp not found" in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
        assert not bad.exists()


def test_cli_damaged_scene_is_named(vtm_env, clip_file, tmp_path):
    from spkc.container import SpkcReader

    out = clip_file
    data = bytearray(out.read_bytes())
    with SpkcReader(out) as rd:
        data[int(rd._offsets[1]) + int(rd._sizes[1]) // 2] ^= 0x10
    bad = tmp_path / "bad.spkc"
    bad.write_bytes(bytes(data))
    with spkc.open(bad) as clip:
        clip.scene(0)
        with pytest.raises(SceneCorruptError, match="scene 1"):
            clip.scene(1)
    r = CliRunner().invoke(cli, ["decompress", str(bad), "-o", str(tmp_path / "o.npy"),
                                 "--quiet"])
    assert r.exit_code == 1 and "scene 1" in r.output and "Traceback" not in r.output


def test_8_bit_files_need_decoder_app(vtm_env, monkeypatch, tmp_path):
    r, out = _compress(tmp_path, "-O", "bit_depth=8", T=8)
    assert r.exit_code == 0, r.output
    monkeypatch.delenv("SPKC_VTM_DIR")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    with pytest.raises(CodecUnavailableError, match=r"c\.spkc.*8-bit.*DecoderApp"):
        spkc.open(out)
    r = CliRunner().invoke(cli, ["decompress", str(out), "-o", str(tmp_path / "o.npy")])
    assert r.exit_code != 0 and "DecoderApp" in r.output and "Traceback" not in r.output


def test_decode_only_availability(decoder_only):
    ok, note = VtmCodec.availability()
    assert ok and note.startswith("decode only") and "EncoderApp" in note
    with pytest.raises(CodecUnavailableError, match="EncoderApp not found"):
        VtmCodec().encode(scene()[None])


def test_ffmpeg_only_availability(ffmpeg_only):
    ok, note = VtmCodec.availability()
    assert ok and note.startswith("decode only, with FFmpeg") and "10-bit" in note


def test_spkc_eval_has_vtm_rows_and_bd_against_vtm(vtm_env, tmp_path):
    import json

    src, out = _dat(tmp_path, T=16), tmp_path / "ev"  # 2 scenes
    r = CliRunner().invoke(cli, ["eval", str(src), "--codecs", "vtm,hevc", "--qualities", "1,3",
                                 "-S", "8", "--height", str(H), "--width", str(W),
                                 "--anchor", "vtm", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "eval.json").read_text())
    rows = [row for row in doc["results"] if row["codec"] == "vtm"]
    assert [row["quality"] for row in rows] == [1, 3]
    assert rows[0]["bits_per_spike_pixel"] < rows[1]["bits_per_spike_pixel"]
    assert rows[0]["scene_psnr"] < rows[1]["scene_psnr"]
    bd = [e for e in doc["bd"] if e["codec"] == "hevc" and e["anchor"] == "vtm"]
    assert bd and bd[0]["bd_psnr"] is not None
