"""Conventional scene codecs: raw (core deps), jxl (imagecodecs), hevc (PyAV/x265), vtm (binaries).

The vtm tests at the end are *plumbing tests*: the VTM binaries are not installed here, so fake
EncoderApp/DecoderApp scripts copy the YUV through unchanged. They prove the command lines, the
4:0:0 YUV writing/reading, padding/cropping and error handling -- not VVC coding itself.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spkc.codecs.hevc import HevcCodec
from spkc.codecs.jxl import JpegXLCodec
from spkc.codecs.raw import BITS_FOR_QUALITY, RawSceneCodec
from spkc.codecs.vtm import VtmCodec, read_yuv400, write_yuv400
from spkc.errors import CodecUnavailableError, InputError, SceneCorruptError

H, W = 72, 100  # not multiples of 8: exercises padding and cropping


def natural_scene(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """(h, w) float32 in [0, 1]: 1/f^2 ("natural") random field plus hard-edged discs."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    amp = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(h, w)) ** 2
    spec = amp * (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape))
    field = np.fft.irfft2(spec, s=(h, w))
    field = (field - field.min()) / (np.ptp(field) + 1e-12)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, max(3.0, min(h, w) / 3))
        field = np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r * r, rng.uniform(0, 1), field)
    return (0.05 + 0.9 * field).astype(np.float32)


@pytest.fixture(scope="module")
def scenes() -> np.ndarray:
    return np.stack([natural_scene(seed=s) for s in range(3)])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(1.0 / max(mse, 1e-20))


# codec id -> (class, options); the lossy ones at both bit depths
CODECS = {
    "raw": (RawSceneCodec, {}),
    "jxl8": (JpegXLCodec, {"bit_depth": 8}),
    "jxl10": (JpegXLCodec, {"bit_depth": 10}),
    "hevc8": (HevcCodec, {"bit_depth": 8}),
    "hevc10": (HevcCodec, {"bit_depth": 10}),
}
LOSSY = ["jxl8", "jxl10", "hevc8", "hevc10"]


def make(cid: str, quality: int | None = None, **extra) -> object:
    cls, opts = CODECS[cid]
    return cls(quality=quality, **opts, **extra)


@pytest.mark.parametrize("cid", list(CODECS))
def test_quality_monotone_in_bits_and_psnr(cid, scenes):
    cls, _ = CODECS[cid]
    sizes, psnrs = [], []
    for q in cls.qualities:
        codec = make(cid, q)
        payloads = codec.encode(scenes)
        assert len(payloads) == len(scenes)
        sizes.append(sum(len(b) for p in payloads for b in p.values()))
        dec = codec.decode(payloads, (H, W))
        assert dec.shape == scenes.shape and dec.dtype == np.float32
        assert 0.0 <= dec.min() and dec.max() <= 1.0
        psnrs.append(psnr(dec, scenes))
    assert (np.diff(sizes) > 0).all(), sizes
    # PSNR rises with quality (0.1 dB slack for a rate step that buys texture, not MSE)
    assert (np.diff(psnrs) > -0.1).all(), psnrs
    assert psnrs[-1] > psnrs[0] + 6, psnrs
    if cid in LOSSY:
        assert psnrs[cls.qualities.index(cls.default_quality)] > 30, psnrs
        assert psnrs[-1] > 40, psnrs


@pytest.mark.parametrize("quality", sorted(BITS_FOR_QUALITY))
def test_raw_exact_at_its_bit_depth(quality, scenes):
    codec = RawSceneCodec(quality)
    bits = BITS_FOR_QUALITY[quality]
    top = (1 << bits) - 1
    dec = codec.decode(codec.encode(scenes), (H, W))
    expected = (np.rint(scenes * np.float32(top)) / np.float32(top)).astype(np.float32)
    np.testing.assert_array_equal(dec, expected)
    assert np.abs(dec - scenes).max() <= 0.5 / top + 1e-6


@settings(max_examples=25, deadline=None)
@given(h=st.integers(8, 40), w=st.integers(8, 40), bits=st.integers(1, 16),
       seed=st.integers(0, 2**32 - 1), smooth=st.booleans())
def test_raw_roundtrip_any_shape_and_depth(h, w, bits, seed, smooth):
    rng = np.random.default_rng(seed)
    x = natural_scene(h, w, seed % 1000) if smooth else rng.random((h, w), np.float32)
    x = np.stack([x, 1 - x]).astype(np.float32)
    codec = RawSceneCodec(bits=bits)
    top = (1 << bits) - 1
    dec = codec.decode(codec.encode(x), (h, w))
    np.testing.assert_array_equal(dec * np.float32(top), np.rint(x * np.float32(top)))


def test_raw_clips_out_of_range_input():
    x = np.linspace(-0.5, 1.5, 8 * 9, dtype=np.float32).reshape(1, 8, 9)
    dec = RawSceneCodec(4).decode(RawSceneCodec(4).encode(x), (8, 9))
    np.testing.assert_array_equal(dec, np.clip(np.rint(x * 1023) / 1023, 0, 1).astype(np.float32))


@pytest.mark.parametrize("cid", list(CODECS))
def test_decode_deterministic_and_random_access(cid, scenes):
    codec = make(cid)
    payloads = codec.encode(scenes)
    a = codec.decode(payloads, (H, W))
    b = codec.decode(payloads, (H, W))
    np.testing.assert_array_equal(a, b)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        t1 = codec.decode(payloads, (H, W))
        torch.set_num_threads(2)
        t2 = codec.decode(payloads, (H, W))
    finally:
        torch.set_num_threads(old)
    np.testing.assert_array_equal(t1, a)
    np.testing.assert_array_equal(t2, a)
    # each payload decodes alone (random access), equal to its row of the batch decode
    np.testing.assert_array_equal(codec.decode([payloads[2]], (H, W))[0], a[2])
    # a fresh codec rebuilt from the header config decodes the same
    again = type(codec).from_config(codec.get_config())
    np.testing.assert_array_equal(again.decode(payloads, (H, W)), a)


@pytest.mark.parametrize("cid", list(CODECS))
def test_config_roundtrip(cid, scenes):
    import json

    cls, _ = CODECS[cid]
    codec = make(cid, cls.qualities[0])
    cfg = json.loads(json.dumps(codec.get_config()))
    again = cls.from_config(cfg)
    assert again.get_config() == codec.get_config()
    assert again.quality == cls.qualities[0]
    assert [p["img"] for p in again.encode(scenes[:1])] == \
        [p["img"] for p in codec.encode(scenes[:1])]


def test_explicit_parameter_overrides():
    x = natural_scene()[None]
    assert JpegXLCodec(1, distance=0.5).distance == 0.5
    assert HevcCodec(1, qp=10).qp == 10
    lossless = JpegXLCodec(distance=0, bit_depth=10)
    dec = lossless.decode(lossless.encode(x), (H, W))
    np.testing.assert_array_equal(dec * np.float32(1023), np.rint(x * np.float32(1023)))
    # larger distance / QP -> fewer bytes
    assert len(JpegXLCodec(distance=8.0).encode(x)[0]["img"]) < \
        len(JpegXLCodec(distance=1.0).encode(x)[0]["img"])
    assert len(HevcCodec(qp=40).encode(x)[0]["img"]) < len(HevcCodec(qp=20).encode(x)[0]["img"])


def _damaged(data: bytes) -> list[bytes]:
    mid = len(data) // 2
    return [data[:mid], data[:-3], data[:mid] + bytes([data[mid] ^ 0x10]) + data[mid + 1:],
            b"\x00" * len(data), b"not a bitstream", data[:3]]


@pytest.mark.parametrize("cid", list(CODECS))
def test_corrupt_payload_raises_scene_corrupt(cid, scenes):
    codec = make(cid)
    good = codec.encode(scenes[:1])[0]["img"]
    for bad in _damaged(good):
        with pytest.raises(SceneCorruptError, match=codec.name):
            codec.decode([{"img": bad}], (H, W))
    for payload in ({}, {"other": good}, {"img": b""}):
        with pytest.raises(SceneCorruptError, match=codec.name):
            codec.decode([payload], (H, W))
    # right bytes, wrong scene shape
    with pytest.raises(SceneCorruptError, match=codec.name):
        codec.decode([{"img": good}], (H + 16, W))


@pytest.mark.parametrize("cid", list(CODECS))
def test_bad_input_and_options(cid):
    codec = make(cid)
    with pytest.raises(InputError):
        codec.encode(np.zeros((1, 4, 16), np.float32))  # smaller than 8
    with pytest.raises(InputError):
        codec.encode(np.full((1, 8, 8), np.nan, np.float32))
    with pytest.raises(InputError):
        codec.encode(np.zeros((8, 8), np.float32))  # not (N, H, W)
    with pytest.raises(InputError):
        type(codec)(quality=99)
    assert codec.encode(np.zeros((0, 8, 8), np.float32)) == []


@pytest.mark.parametrize("opts", [{"bit_depth": 12}, {"distance": -1}, {"effort": 0}])
def test_jxl_bad_options(opts):
    with pytest.raises(InputError, match="jxl"):
        JpegXLCodec(**opts)


@pytest.mark.parametrize("opts", [{"bit_depth": 9}, {"qp": 52}, {"preset": "warp"},
                                  {"tune": "loud"}])
def test_hevc_bad_options(opts):
    with pytest.raises(InputError, match="hevc"):
        HevcCodec(**opts)


def test_odd_sizes_all_codecs():
    for h, w in [(8, 8), (9, 17), (31, 8)]:
        x = natural_scene(h, w, 3)[None]
        for cid in CODECS:
            codec = make(cid, type(make(cid)).qualities[-1])
            dec = codec.decode(codec.encode(x), (h, w))
            assert dec.shape == (1, h, w)
            assert psnr(dec, x) > 30, (cid, h, w)


def test_hevc_is_silent(capfd, scenes):
    codec = HevcCodec(4)
    codec.decode(codec.encode(scenes[:1]), (H, W))
    out, err = capfd.readouterr()
    assert "x265" not in out + err and out == "" and err == ""


def test_missing_optional_libraries_reported(tmp_path):
    # A child process in which av and imagecodecs cannot be imported: modules still import,
    # availability() says why and names the extra, encode raises CodecUnavailableError.
    code = textwrap.dedent("""
        import sys
        sys.modules["av"] = None
        sys.modules["imagecodecs"] = None
        import numpy as np
        from spkc.codecs.hevc import HevcCodec
        from spkc.codecs.jxl import JpegXLCodec
        from spkc.errors import CodecUnavailableError
        for cls in (HevcCodec, JpegXLCodec):
            ok, reason = cls.availability()
            print(cls.name, ok, reason)
            try:
                cls().encode(np.zeros((1, 8, 8), np.float32))
            except CodecUnavailableError as exc:
                print("raised", exc)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    lines = res.stdout.splitlines()
    assert lines[0].startswith("hevc False") and "pip install spkc[conventional]" in lines[0]
    assert lines[1].startswith("raised") and "pip install spkc[conventional]" in lines[1]
    assert lines[2].startswith("jxl False") and "pip install spkc[conventional]" in lines[2]
    assert lines[3].startswith("raised")


# ---------------------------------------------------------------------------------------------
# vtm: availability, and PLUMBING tests with fake binaries (no VVC coding happens here)
# ---------------------------------------------------------------------------------------------

def _no_vtm_env(monkeypatch, tmp_path):
    monkeypatch.delenv("SPKC_VTM_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))


def test_vtm_unavailable_without_binaries(monkeypatch, tmp_path):
    import spkc.codecs.vtm as vtm

    _no_vtm_env(monkeypatch, tmp_path)
    ok, note = VtmCodec.availability()  # PyAV's VVC decoder: decode only
    assert ok and note.startswith("decode only, with FFmpeg") and "SPKC_VTM_DIR" in note
    with pytest.raises(CodecUnavailableError, match="EncoderApp not found.*SPKC_VTM_DIR"):
        VtmCodec().encode(natural_scene()[None])
    with pytest.raises(CodecUnavailableError, match="8-bit.*DecoderApp"):
        VtmCodec(bit_depth=8).decode([{"img": b"xxxxx"}], (H, W))
    from spkc.eval import plan_runs

    runs, skipped = plan_runs(["vtm"], None)  # eval skips it once: it cannot encode
    assert runs == [] and skipped == [{"codec": "vtm", "quality": None, "reason":
                                       "EncoderApp not found; set SPKC_VTM_DIR (decoding "
                                       "needs only a decoder)"}]
    monkeypatch.setattr(vtm, "ffmpeg_vvc", lambda: (None, "no av here"))
    assert VtmCodec.availability() == (
        False, "EncoderApp and DecoderApp not found; set SPKC_VTM_DIR (and no av here)")
    with pytest.raises(CodecUnavailableError, match="DecoderApp not found.*no av here"):
        VtmCodec().decode([{"img": b"xxxxx"}], (H, W))


FAKE_ENCODER = """#!{python}
# FAKE EncoderApp for plumbing tests: logs argv, "encodes" by copying the input YUV.
import sys, shutil
args = sys.argv[1:]
open({log!r}, "a").write("ENC " + repr(args) + "\\n")
if {fail}:
    sys.stderr.write("Error: fake encoder failure\\n"); sys.exit(3)
opts = dict(a.split("=", 1) for a in args if a.startswith("--"))
src, dst = args[args.index("-i") + 1], args[args.index("-b") + 1]
assert args[args.index("-c") + 1].endswith(".cfg")
open(dst, "wb").write(b"FAKEVVC" + open(src, "rb").read())
"""

FAKE_DECODER = """#!{python}
# FAKE DecoderApp for plumbing tests: logs argv, "decodes" by stripping the fake header.
import sys
args = sys.argv[1:]
open({log!r}, "a").write("DEC " + repr(args) + "\\n")
data = open(args[args.index("-b") + 1], "rb").read()
if not data.startswith(b"FAKEVVC"):
    sys.stderr.write("Error: not a bitstream\\n"); sys.exit(1)
body = data[7:]
if {chroma}:  # emulate a decoder that writes 4:2:0 with constant chroma
    body += b"\\x80" * (len(body) // 2)
open(args[args.index("-o") + 1], "wb").write(body)
"""


def _fake_vtm(tmp_path, monkeypatch, fail=False, chroma=False, with_cfg=True) -> Path:
    root = tmp_path / "vtm"
    (root / "bin").mkdir(parents=True)
    log = tmp_path / "calls.log"
    for name, text in (("EncoderApp", FAKE_ENCODER), ("DecoderApp", FAKE_DECODER)):
        p = root / "bin" / name
        p.write_text(text.format(python=sys.executable, log=str(log), fail=fail, chroma=chroma))
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
    if with_cfg:
        (root / "cfg").mkdir()
        (root / "cfg" / "encoder_intra_vtm.cfg").write_text("# fake intra config\n")
    monkeypatch.setenv("SPKC_VTM_DIR", str(root))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    return log


@pytest.mark.parametrize("bit_depth", [8, 10])
@pytest.mark.parametrize("chroma", [False, True])
def test_vtm_plumbing_roundtrip_with_fake_binaries(tmp_path, monkeypatch, bit_depth, chroma):
    log = _fake_vtm(tmp_path, monkeypatch, chroma=chroma)
    assert VtmCodec.availability() == (True, "")
    x = np.stack([natural_scene(seed=s) for s in range(2)])
    codec = VtmCodec(quality=6, bit_depth=bit_depth, jobs=2)
    payloads = codec.encode(x)
    dec = codec.decode(payloads, (H, W))
    # the fake codec is lossless, so only the bit-depth quantisation remains
    top = (1 << bit_depth) - 1
    np.testing.assert_array_equal(dec * np.float32(top), np.rint(x * np.float32(top)))
    calls = [line.split(" ", 1) for line in log.read_text().splitlines()]
    enc = [eval(a) for k, a in calls if k == "ENC"]
    dec_calls = [eval(a) for k, a in calls if k == "DEC"]
    assert len(enc) == 2 and len(dec_calls) == 2
    args = enc[0]
    # padded to multiples of 8: 72x100 -> 72x104
    for flag in ("--SourceWidth=104", "--SourceHeight=72", "--FramesToBeEncoded=1",
                 "--InputChromaFormat=400", f"--InputBitDepth={bit_depth}",
                 f"--InternalBitDepth={bit_depth}", f"--OutputBitDepth={bit_depth}",
                 "--QP=24", "--ConformanceWindowMode=1"):
        assert flag in args, (flag, args)
    assert args[args.index("-c") + 1] == str(tmp_path / "vtm" / "cfg" / "encoder_intra_vtm.cfg")
    assert dec_calls[0][dec_calls[0].index("-d") + 1] == str(bit_depth)


def test_vtm_yuv400_io(tmp_path):
    plane = (np.arange(72 * 104) % 1024).astype(np.uint16).reshape(72, 104)
    write_yuv400(tmp_path / "a.yuv", plane, 10)
    assert (tmp_path / "a.yuv").stat().st_size == 72 * 104 * 2
    assert (tmp_path / "a.yuv").read_bytes()[:4] == bytes([0, 0, 1, 0])  # little endian
    np.testing.assert_array_equal(read_yuv400(tmp_path / "a.yuv", (72, 104), 10), plane)
    p8 = (plane % 256).astype(np.uint8)
    write_yuv400(tmp_path / "b.yuv", p8, 8)
    assert (tmp_path / "b.yuv").stat().st_size == 72 * 104
    np.testing.assert_array_equal(read_yuv400(tmp_path / "b.yuv", (72, 104), 8), p8)


def test_vtm_plumbing_errors(tmp_path, monkeypatch):
    _fake_vtm(tmp_path, monkeypatch, fail=True)
    with pytest.raises(CodecUnavailableError, match="EncoderApp failed.*fake encoder failure"):
        VtmCodec().encode(natural_scene()[None])
    with pytest.raises(InputError, match="configuration file"):
        VtmCodec(config_file=str(tmp_path / "nope.cfg")).encode(natural_scene()[None])
    # decoder rejects a bitstream -> SceneCorruptError naming the codec
    from spkc.codecs._image import seal

    with pytest.raises(SceneCorruptError, match="vtm: DecoderApp failed"):
        VtmCodec().decode([{"img": seal(b"garbage")}], (H, W))
    with pytest.raises(SceneCorruptError, match="vtm"):
        VtmCodec().decode([{"img": b"garbage!"}], (H, W))  # checksum


def test_vtm_plumbing_missing_cfg(tmp_path, monkeypatch):
    _fake_vtm(tmp_path, monkeypatch, with_cfg=False)
    with pytest.raises(CodecUnavailableError, match="encoder_intra_vtm.cfg"):
        VtmCodec().encode(natural_scene()[None])
    cfg = tmp_path / "my.cfg"
    cfg.write_text("# user cfg\n")
    codec = VtmCodec(config_file=str(cfg))
    assert len(codec.encode(natural_scene()[None])) == 1
    assert VtmCodec.from_config(codec.get_config()).config_file == cfg


def test_vtm_decoder_output_too_short(tmp_path, monkeypatch):
    _fake_vtm(tmp_path, monkeypatch)
    from spkc.codecs._image import seal

    short = seal(b"FAKEVVC" + b"\x00" * 10)
    with pytest.raises(SceneCorruptError, match="not one picture of the expected size"):
        VtmCodec(bit_depth=8).decode([{"img": short}], (H, W))


def test_vtm_binaries_found_on_path(tmp_path, monkeypatch):
    _fake_vtm(tmp_path, monkeypatch)
    bindir = tmp_path / "vtm" / "bin"
    monkeypatch.delenv("SPKC_VTM_DIR")
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + str(tmp_path / "empty-path"))
    assert VtmCodec.availability() == (True, "")


@pytest.mark.shared_data
@pytest.mark.parametrize("cid", list(CODECS))
def test_quality_monotone_on_real_ground_truth(cid, reds_dir):
    # The REDS ground-truth scene (250x400, 8-bit gray): a real natural image.
    from PIL import Image

    x = (np.asarray(Image.open(reds_dir / "203_part2.png").convert("L"), np.float32)
         / np.float32(255))[None]
    cls, _ = CODECS[cid]
    sizes, psnrs = [], []
    for q in cls.qualities:
        codec = make(cid, q)
        payloads = codec.encode(x)
        sizes.append(len(payloads[0]["img"]))
        psnrs.append(psnr(codec.decode(payloads, x.shape[1:]), x))
    assert (np.diff(sizes) > 0).all(), sizes
    if cid != "raw":  # raw is exact at 8 bits on this 8-bit PNG; 10-bit steps miss k/255
        assert (np.diff(psnrs) > -0.1).all(), psnrs
