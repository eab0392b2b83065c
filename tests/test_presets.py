"""Encoder presets (spkc.pipeline.presets), the reconstructor's bfloat16 option, eval reuse of
reconstructions and the speed benchmark's helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import spkc
from spkc.errors import InputError
from spkc.pipeline.presets import DEFAULT_PRESET, PRESET_NAMES, PRESETS, get_preset, resolve
from tests.tool_loader import load_tool


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from spkc.spikes import simulate_sample

    path = tmp_path_factory.mktemp("presets") / "clip.npy"
    simulate_sample(path, num_frames=40, height=32, width=48, seed=5)
    return path


def test_names_and_default():
    assert PRESET_NAMES == ("fast", "medium", "slow")
    assert get_preset(None).name == DEFAULT_PRESET
    with pytest.raises(InputError, match="unknown preset 'turbo'"):
        get_preset("turbo")


def test_resolve_per_codec_and_overrides(monkeypatch):
    from spkc.codecs import reconstructors

    monkeypatch.setattr(reconstructors, "fast_bfloat16", lambda device="cpu": True)
    fast = resolve("fast", "learned")
    assert fast.reconstructor == "tfp"
    assert fast.codec_options == {"refine": 0, "precision": "bfloat16"}
    med = resolve("medium", "learned")
    assert med.reconstructor == "learned"
    assert med.reconstructor_options == {"config": "compact", "batch": 1,
                                         "precision": "bfloat16"}
    slow = resolve("slow", "baseline")
    assert slow.codec_options == {"refine": 100}  # float32: nothing recorded
    assert slow.reconstructor_options == {"config": "medium"}  # float32: nothing recorded
    # conventional codecs: TFP as before unless slow; no learned-codec options for them
    assert resolve(None, "jxl").reconstructor == "tfp"
    assert resolve(None, "jxl").codec_options == {}
    assert resolve("slow", "hevc").reconstructor == "learned"
    assert resolve("medium", "jxl").batch_size == 4  # conventional codecs: 0.1.0's batch
    # explicit options win
    mine = resolve("slow", "learned", reconstructor="tfi", codec_options={"refine": 3},
                   reconstructor_options={"radius": 5}, batch_size=7)
    assert (mine.reconstructor, mine.codec_options, mine.reconstructor_options,
            mine.batch_size) == ("tfi", {"refine": 3}, {"radius": 5}, 7)
    over = resolve("medium", "learned", reconstructor_options={"precision": "float32"})
    assert over.reconstructor_options["precision"] == "float32"
    # without native bfloat16 the presets keep float32
    monkeypatch.setattr(reconstructors, "fast_bfloat16", lambda device="cpu": False)
    assert "precision" not in resolve("medium", "learned").reconstructor_options


def test_compress_records_the_preset_and_explicit_options_win(clip, tmp_path):
    dst = tmp_path / "fast.spkc"
    spkc.compress(clip, dst, preset="fast", frames_per_scene=20)
    with spkc.open(dst) as c:
        assert c.metadata["preset"] == "fast"
        assert c.header.reconstructor == "tfp"
        assert c.header.reconstructor_config["radius"] == PRESETS["fast"] \
            .reconstructor_options["tfp"]["radius"]
        assert c.header.codec_config["refine"] == 0
        assert c.spikes().shape == (40, 32, 48)
    dst2 = tmp_path / "over.spkc"
    spkc.compress(clip, dst2, preset="fast", frames_per_scene=20, radius=3,
                  codec_options={"refine": 2})
    with spkc.open(dst2) as c:
        assert c.header.reconstructor_config["radius"] == 3
        assert c.header.codec_config["refine"] == 2
    with pytest.raises(InputError, match="unknown preset"):
        spkc.compress(clip, tmp_path / "x.spkc", preset="turbo")
    assert not (tmp_path / "x.spkc").exists()
    with pytest.raises(InputError, match="batch_size"):
        spkc.compress(clip, tmp_path / "y.spkc", codec="raw", batch_size=0)


def test_cli_preset_and_help(clip, tmp_path):
    from spkc.cli.main import cli

    r = CliRunner().invoke(cli, ["compress", "--help"])
    assert r.exit_code == 0
    for name in PRESET_NAMES:
        assert name in r.output
    assert "[default]" in r.output
    dst = tmp_path / "c.spkc"
    r = CliRunner().invoke(cli, ["compress", str(clip), "-o", str(dst), "--codec", "raw",
                                 "--preset", "fast", "-S", "20", "--quiet"])
    assert r.exit_code == 0, r.output
    with spkc.open(dst) as c:
        assert c.metadata["preset"] == "fast"
        assert c.header.reconstructor_config["radius"] == 8
    r = CliRunner().invoke(cli, ["compress", str(clip), "-o", str(dst), "--preset", "turbo"])
    assert r.exit_code != 0 and "turbo" in r.output


def test_bfloat16_reconstructor_option():
    from spkc.codecs.reconstructors import LearnedReconstructor, reconstructor_from_config

    f32 = LearnedReconstructor(config="compact")
    assert "precision" not in f32.get_config()  # float32 files are written as before
    bf = LearnedReconstructor(config="compact", precision="bfloat16")
    cfg = bf.get_config()
    assert cfg["precision"] == "bfloat16"
    assert reconstructor_from_config(cfg).precision == "bfloat16"
    with pytest.raises(InputError, match="precision"):
        LearnedReconstructor(config="compact", precision="float16")
    rng = np.random.default_rng(0)
    w = rng.random((1, 41, 24, 32)) < 0.2
    a, b = f32.reconstruct(w), bf.reconstruct(w)
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == (1, 24, 32)
    assert float(np.sqrt(np.mean((a - b) ** 2))) < 0.02


def test_eval_reuses_reconstructions(clip, monkeypatch):
    """The coded scenes and the reference scenes of every run with one reconstructor config
    come from one reconstruction of each window."""
    from spkc.codecs.reconstructors import TfiReconstructor
    from spkc.eval import engine, evaluate_run

    monkeypatch.setattr(engine, "_SCENE_MEMO", type(engine._SCENE_MEMO)())
    monkeypatch.setattr(engine, "_REF_CACHE", type(engine._REF_CACHE)())
    seen = []
    real = TfiReconstructor.reconstruct

    def counting(self, windows):
        seen.append(len(windows))
        return real(self, windows)

    monkeypatch.setattr(TfiReconstructor, "reconstruct", counting)
    kw = dict(frames_per_scene=10, radius=4, reconstructor="tfi")
    first = evaluate_run(clip, "raw", 2, keep=clip.parent / "kept.spkc", **kw)
    assert sum(seen) == 4  # 4 scenes, once each: compress and reference share them
    # the source's spike maps are remembered per clip; the metrics are the library's
    from spkc.io import read_spikes
    from spkc.metrics import firing_rate_psnr, isi_psnr

    with spkc.open(clip.parent / "kept.spkc") as c:
        dec = c.spikes()
    raw = read_spikes(clip)
    assert first["isi_psnr"] == pytest.approx(isi_psnr(dec, raw), abs=1e-9)
    assert first["firing_rate_psnr"] == pytest.approx(
        firing_rate_psnr(dec, raw, window=first["rate_window"]), abs=1e-9)
    second = evaluate_run(clip, "raw", 4, **kw)
    assert sum(seen) == 4
    assert second["scene_psnr_uncoded"] == first["scene_psnr_uncoded"]
    evaluate_run(clip, "raw", 2, frames_per_scene=10, radius=3, reconstructor="tfi")
    assert sum(seen) == 8  # another config: reconstructed afresh


def test_plan_runs_leaves_slow_codecs_to_be_named(monkeypatch):
    from spkc.codecs.vtm import VtmCodec
    from spkc.eval import plan_runs

    monkeypatch.setattr(VtmCodec, "availability", classmethod(lambda cls: (True, "")))
    monkeypatch.setattr(VtmCodec, "encode_availability", classmethod(lambda cls: (True, "")))
    runs, skipped = plan_runs(None, [1])
    assert not any(c == "vtm" for c, _ in runs)
    assert any(s["codec"] == "vtm" and "slow" in s["reason"] for s in skipped)
    runs, _ = plan_runs(["vtm"], [1])
    assert runs == [("vtm", 1)]


def _doc():
    rows = [
        {"stage": "compress", "codec": "zstd-19", "device": "cpu", "frames": 10,
         "frames_per_s": 200.0, "mb_per_s": 1.0, "peak_rss_bytes": 2**20, "ratio": 1.4},
        {"stage": "compress", "codec": "learned", "device": "cpu", "preset": "fast",
         "quality": 3, "reconstructor": "tfp", "frames": 10, "frames_per_s": 300.0,
         "mb_per_s": 2.0, "peak_rss_bytes": 3 * 2**20, "ratio": 200.0,
         "bits_per_spike_pixel": 0.005, "quality_bits_per_spike_pixel": 0.004,
         "scene_psnr": 25.0},
        {"stage": "decompress", "codec": "learned", "device": "cpu", "preset": "fast",
         "frames": 10, "frames_per_s": 400.0, "mb_per_s": 2.0, "peak_rss_bytes": 2**20},
    ]
    for r in rows:
        r["speed_vs_zstd19"] = r["frames_per_s"] / 200.0 if r["stage"] == "compress" else None
    return {"src": "/x/clip.dat", "frames": 10, "height": 8, "width": 8,
            "frames_per_scene": 32, "quality_frames_per_scene": 101, "gt_frame": 151,
            "rows": rows, "skipped": [], "timing": "t", "created": "now", "commit": "c",
            "machine": {"cpu": "cpu", "cores": 2, "torch": "t", "gpu": None}}


def test_bench_summary_markdown_and_rd_verdict(tmp_path):
    from spkc.eval import speed_report as bench

    doc = _doc()
    summ = bench.preset_summary(doc)
    assert summ["presets"][0]["compress_vs_zstd19"] == pytest.approx(1.5)
    assert summ["presets"][0]["decompress_frames_per_s"] == 400.0
    md = bench.speed_markdown(doc)
    assert "| fast | tfp | 300 | 1.50x | 400 |" in md
    pts = [{"label": "fast", "quality": 1, "bits_per_spike_pixel": 0.004, "scene_psnr": 25.0},
           {"label": "fast", "quality": 2, "bits_per_spike_pixel": 0.005, "scene_psnr": 25.5},
           {"label": "jxl", "quality": 1, "bits_per_spike_pixel": 0.0045, "scene_psnr": 24.0},
           {"label": "jxl", "quality": 2, "bits_per_spike_pixel": 0.02, "scene_psnr": 26.0}]
    v = bench.rd_verdict(pts)
    assert v["above_envelope"] and v["checks"][1]["envelope_psnr"] == 24.0
    pts[2]["scene_psnr"] = 25.6
    assert not bench.rd_verdict(pts)["above_envelope"]
    # the summary is what `spkc compress --help` shows
    from spkc.pipeline import presets

    p = tmp_path / "presets.json"
    p.write_text(json.dumps(summ))
    old = presets.MEASURED
    presets.MEASURED = p
    try:
        text = presets.compress_help()
    finally:
        presets.MEASURED = old
    assert "300 frames/s (1.50x zstd -19)" in text and "25.00 dB" in text


def test_bench_tile_dat(tmp_path):
    from spkc.eval.speed import tile_dat

    src = tmp_path / "a.dat"
    frames = np.arange(3 * 4, dtype=np.uint8).reshape(3, 4)
    frames.tofile(src)
    tile_dat(src, tmp_path / "b.dat", 3, 4)
    out = np.fromfile(tmp_path / "b.dat", np.uint8).reshape(-1, 4)
    assert np.array_equal(out, np.concatenate([frames, frames[::-1], frames]))


def test_bench_gpu_runs_on_cpu(clip, tmp_path):
    """tools/bench_gpu.py's measuring code, on CPU with a tiny clip (the GPU run uses the same
    code with --device cuda)."""
    bench_gpu = load_tool("bench_gpu")
    doc = bench_gpu.bench_device(clip, "cpu", ["fast"], height=32, width=48,
                                 frames_per_scene=20, profile=True, log=lambda *a: None)
    (row,) = doc["rows"]
    assert row["preset"] == "fast" and row["frames"] == 40
    assert row["encode_frames_per_s"] > 0 and row["decode_frames_per_s"] > 0
    assert row["exact_vs_cpu"] is True
    assert row["encode_top_ops"] and row["decode_top_ops"]
    out = tmp_path / "gpu.json"
    assert bench_gpu.main(["--device", "cpu", "--frames", "24", "--height", "32", "--width",
                           "48", "--frames-per-scene", "12", "--presets", "fast",
                           "--no-check", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["device_name"] == "cpu"


def test_full_decode_decodes_each_scene_once(tmp_path):
    """Sequential decoding never evicts a scene it still needs (any batch size)."""
    from spkc.spikes import simulate_sample

    src = tmp_path / "many.npy"
    simulate_sample(src, num_frames=120, height=16, width=24, seed=2)
    dst = tmp_path / "many.spkc"
    spkc.compress(src, dst, codec="raw", frames_per_scene=4, radius=2)
    ref = None
    for bs in (1, 2, 3, 4, 6):
        with spkc.open(dst, batch_size=bs) as c:
            s = c.spikes()
            assert c.stats.scenes_decoded == c.num_scenes == 30
        ref = s if ref is None else ref
        assert np.array_equal(s, ref)


def test_default_preset_keeps_conventional_codecs_as_before(clip, tmp_path):
    """A codec outside the learned family at the default preset is configured as in 0.1.0:
    TFP radius 20, batch 4 (the batch picks the scenes that fit the luminance scale)."""
    a, b = tmp_path / "a.spkc", tmp_path / "b.spkc"
    spkc.compress(clip, a, codec="raw", frames_per_scene=8)
    spkc.compress(clip, b, codec="raw", frames_per_scene=8, reconstructor="tfp", radius=20,
                  batch_size=4, preset="slow")
    with spkc.open(a) as ca, spkc.open(b) as cb:
        assert ca.header.reconstructor == "tfp"
        assert ca.header.reconstructor_config == cb.header.reconstructor_config
        assert ca.header.regen == cb.header.regen
        assert ca.header.codec_config == cb.header.codec_config
        assert all(ca.scene_payload_bytes(k) == cb.scene_payload_bytes(k)
                   for k in range(ca.num_scenes))
        assert np.array_equal(ca.spikes(), cb.spikes())
