"""spkc eval: metric plumbing (known answers), BD sign conventions, skipped codecs, end to end."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from click.testing import CliRunner

from spkc.codecs.base import SceneCodec
from spkc.errors import InputError, UnknownCodecError
from spkc.eval import ROW_FIELDS, EvalReport, bd_table, jsonable, plan_runs, write_outputs
from spkc.eval.engine import load_ground_truth
from spkc.metrics import isi_psnr, psnr


def _strict_json(path: Path):
    def bad(const):
        raise AssertionError(f"non-standard JSON constant {const}")

    return json.loads(path.read_text(), parse_constant=bad)


# -- metric plumbing ---------------------------------------------------------------------------
def test_identical_streams_give_inf_written_as_string(tmp_path):
    rng = np.random.default_rng(0)
    s = rng.random((20, 12, 12)) < 0.2
    assert isi_psnr(s, s) == math.inf
    assert psnr(s.astype(np.float32), s.astype(np.float32)) == math.inf
    row = {k: None for k in ROW_FIELDS}
    row.update(clip="c.dat", codec="x", quality=1, isi_psnr=isi_psnr(s, s),
               scene_psnr=float("inf"), scene_ssim=float("nan"), bits_per_spike_pixel=0.01)
    written = write_outputs(EvalReport(rows=[row]), tmp_path)
    doc = _strict_json(written["json"])
    assert doc["results"][0]["isi_psnr"] == "inf"
    assert doc["results"][0]["scene_psnr"] == "inf"
    assert doc["results"][0]["scene_ssim"] is None  # NaN -> null, never "NaN"
    with open(written["csv"]) as f:
        rec = next(csv.DictReader(f))
    assert rec["isi_psnr"] == "inf" and rec["scene_ssim"] == ""


def test_jsonable_conventions():
    assert jsonable({"a": [float("inf"), -math.inf, math.nan, 1.5, np.float32(2.0)]}) == {
        "a": ["inf", "-inf", None, 1.5, 2.0]}


def test_known_shift_gives_known_isi_psnr():
    # period-4 spikes at 0,4,8 vs the same shifted by 2 frames (2,6,10), T = 12.
    # ISI (frames, edges at -1 and T): reference 4 everywhere; shifted 3,3,4*8,2,2.
    # 1/ISI errors: 1/12 twice, 1/4 twice, 0 eight times -> MSE = 20/1728.
    ref = np.zeros((12, 1, 1), bool)
    ref[[0, 4, 8]] = True
    test = np.zeros((12, 1, 1), bool)
    test[[2, 6, 10]] = True
    expected = 10 * math.log10(1728 / 20)
    assert isi_psnr(test, ref) == pytest.approx(expected, abs=1e-6)  # maps are float32
    assert expected == pytest.approx(19.3651, abs=1e-4)


# -- BD conventions ----------------------------------------------------------------------------
def _rows(codec: str, rates, psnrs, clip="a.dat"):
    return [{"clip": clip, "codec": codec, "bits_per_spike_pixel": r, "scene_psnr": p}
            for r, p in zip(rates, psnrs, strict=True)]


def test_bd_rate_sign_conventions():
    rates = [0.01, 0.02, 0.04, 0.08]
    psnrs = [20.0, 23.0, 26.0, 29.0]
    rows = (_rows("anchor", rates, psnrs)
            + _rows("better", [r / 2 for r in rates], psnrs)   # same quality, half the bits
            + _rows("worse", [r * 2 for r in rates], psnrs)
            + _rows("same", rates, psnrs))
    for method in ("pchip", "cubic"):
        bd = {e["codec"]: e for e in bd_table(rows, "anchor", method=method)}
        assert set(bd) == {"better", "worse", "same"}
        assert bd["better"]["bd_rate"] == pytest.approx(-50.0, abs=1e-6)
        assert bd["better"]["bd_psnr"] > 0
        assert bd["worse"]["bd_rate"] == pytest.approx(100.0, abs=1e-6)
        assert bd["worse"]["bd_psnr"] < 0
        assert bd["same"]["bd_rate"] == pytest.approx(0.0, abs=1e-9)


def test_bd_table_drops_infinite_points_and_notes_short_curves():
    rows = (_rows("anchor", [0.01, 0.02, 0.04], [20.0, 23.0, math.inf])
            + _rows("one", [0.02], [25.0])
            + _rows("anchor", [0.01, 0.02], [21.0, 22.0], clip="b.dat")
            + _rows("two", [0.01, 0.02], [22.0, 23.0], clip="b.dat"))
    bd = bd_table(rows, "anchor")
    one = next(e for e in bd if e["codec"] == "one")
    assert one["bd_rate"] is None and "fewer than 2" in one["note"]
    two = next(e for e in bd if e["codec"] == "two")
    assert two["clip"] == "b.dat" and two["bd_psnr"] == pytest.approx(1.0)


def test_bd_table_without_anchor_results():
    bd = bd_table(_rows("x", [0.01, 0.02], [20.0, 21.0]), "jxl")
    assert bd[0]["bd_rate"] is None and "anchor jxl has no results" in bd[0]["note"]


# -- unavailable codecs ------------------------------------------------------------------------
class _Unavailable(SceneCodec):
    name: ClassVar[str] = "nowhere"
    qualities: ClassVar[tuple[int, ...]] = (1, 2)

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        return False, "nowhere-encoder not found; set SPKC_NOWHERE_DIR"

    def encode(self, scenes, context=None):  # pragma: no cover - never runs
        raise AssertionError("an unavailable codec must not be run")

    def decode(self, payloads, shape):  # pragma: no cover - never runs
        raise AssertionError("an unavailable codec must not be run")


@pytest.fixture
def nowhere_codec(monkeypatch):
    from spkc.codecs import registry

    monkeypatch.setitem(registry._registered, "nowhere", _Unavailable)
    return "nowhere"


def test_plan_lists_unavailable_codec_with_reason(nowhere_codec):
    runs, skipped = plan_runs(["raw", nowhere_codec], [1, 9])
    assert runs == [("raw", 1)]
    reasons = {(s["codec"], s["quality"]): s["reason"] for s in skipped}
    assert reasons[("nowhere", None)] == "nowhere-encoder not found; set SPKC_NOWHERE_DIR"
    assert "no quality 9" in reasons[("raw", 9)]


def test_plan_unknown_codec_is_an_error():
    with pytest.raises(UnknownCodecError, match="no-such-codec"):
        plan_runs(["no-such-codec"], None)


def test_plan_defaults_to_each_codecs_qualities():
    from spkc.codecs import get_codec_class

    runs, _ = plan_runs(["raw"], None)
    assert [q for _, q in runs] == list(get_codec_class("raw").qualities)


# -- ground truth ------------------------------------------------------------------------------
def test_ground_truth_png_and_dir(tmp_path):
    from PIL import Image

    img = (np.arange(12 * 16).reshape(12, 16) % 256).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "clip.png")
    g = load_ground_truth(tmp_path / "clip.png", tmp_path / "clip.dat")
    assert g.dtype == np.float32 and g.shape == (12, 16)
    np.testing.assert_allclose(g, img / 255.0, atol=1e-7)
    assert np.array_equal(load_ground_truth(tmp_path, tmp_path / "clip.npy"), g)
    assert load_ground_truth(tmp_path, tmp_path / "other.npy") is None
    with pytest.raises(InputError, match="not found"):
        load_ground_truth(tmp_path / "missing.png", tmp_path / "clip.dat")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="junk.png"):
        load_ground_truth(tmp_path / "junk.png", tmp_path / "clip.dat")


# -- end to end --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from spkc.spikes import simulate_sample

    d = tmp_path_factory.mktemp("evalclip")
    path = d / "tiny.npy"
    simulate_sample(path, num_frames=48, height=24, width=32, seed=3)
    return path


def test_eval_cli_end_to_end(tiny_clip, tmp_path, nowhere_codec):
    from spkc.cli.main import cli

    out = tmp_path / "out"
    res = CliRunner().invoke(cli, [
        "eval", str(tiny_clip), "--codecs", "raw,nowhere", "--qualities", "1,4",
        "-S", "16", "-R", "4", "--anchor", "raw", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "skipped nowhere: nowhere-encoder not found" in res.output
    doc = _strict_json(out / "eval.json")
    assert [s["codec"] for s in doc["skipped"]] == ["nowhere"]
    rows = doc["results"]
    assert [(r["codec"], r["quality"]) for r in rows] == [("raw", 1), ("raw", 4)]
    for r in rows:
        assert set(ROW_FIELDS) <= set(r)
        assert r["scene_target"] == "reference" and r["affine"] is False
        assert r["num_frames"] == 48 and r["num_scenes"] == 3 and r["radius"] == 4
        assert len(r["bpp_scenes"]) == 3
        assert r["bpp_per_scene"] == pytest.approx(np.mean(r["bpp_scenes"]))
        assert r["ratio"] == pytest.approx(1 / r["bits_per_spike_pixel"])
        for k in ("scene_psnr", "isi_psnr", "firing_rate_psnr", "downstream_psnr"):
            assert r[k] == "inf" or r[k] > 5, (k, r[k])
        assert 0 < r["scene_ssim"] <= 1
        assert r["encode_seconds"] > 0 and r["decode_seconds"] > 0
    # more bits at the higher quality, and no worse a scene
    assert rows[1]["file_bytes"] > rows[0]["file_bytes"]
    with open(out / "eval.csv") as f:
        recs = list(csv.DictReader(f))
    assert list(recs[0]) == list(ROW_FIELDS) and len(recs) == 2
    assert (out / "bd.csv").is_file()


def test_eval_plumbing_matches_direct_measurement(tiny_clip, tmp_path):
    """The row's spike metrics are those of the decoded file against the source."""
    from spkc.eval import evaluate_run
    from spkc.io import read_spikes
    from spkc.metrics import firing_rate_psnr
    from spkc.pipeline import open as open_clip

    keep = tmp_path / "kept.spkc"
    row = evaluate_run(tiny_clip, "raw", 2, frames_per_scene=16, radius=4, keep=keep)
    raw = read_spikes(tiny_clip)
    with open_clip(keep) as clip:
        dec = clip.spikes()
        assert row["file_bytes"] == clip.file_bytes
    assert row["isi_psnr"] == pytest.approx(isi_psnr(dec, raw))
    assert row["firing_rate_psnr"] == pytest.approx(firing_rate_psnr(dec, raw, window=16))
    assert row["downstream_reconstructor"] == "tfp"


def test_downstream_reconstructor_choice(tiny_clip):
    from spkc.eval import evaluate, evaluate_run

    same = evaluate_run(tiny_clip, "raw", 4, frames_per_scene=16, radius=4, reconstructor="tfi",
                        downstream="same")
    assert same["reconstructor"] == same["downstream_reconstructor"] == "tfi"
    with pytest.raises(InputError, match="downstream"):
        evaluate([tiny_clip], ["raw"], [1], downstream="spk2img")


def test_eval_with_ground_truth_and_plot(tiny_clip, tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    from spkc.eval import evaluate
    from spkc.spikes import synthetic_intensity

    gt = synthetic_intensity(1, 24, 32, seed=3, start=20)[0]
    Image.fromarray((gt * 255).round().astype(np.uint8)).save(tmp_path / "tiny.png")
    rep = evaluate([tiny_clip], ["raw", "jxl"], [1, 3], gt=tmp_path, gt_frame=20,
                   frames_per_scene=16, radius=4, anchor="jxl")
    assert {r["scene_target"] for r in rep.rows} == {"gt"}
    assert all(r["affine"] is True and r["scene_psnr_uncoded"] is not None for r in rep.rows)
    written = write_outputs(rep, tmp_path / "o", plot=True)
    assert (tmp_path / "o" / "rd_tiny.png").is_file()
    assert _strict_json(written["json"])["plots"]
    assert {e["metric"] for e in rep.bd} == {"scene_psnr", "scene_psnr_ref"}
    with pytest.raises(InputError, match="gt-frame"):
        evaluate([tiny_clip], ["raw"], [1], gt=tmp_path, gt_frame=500, frames_per_scene=16,
                 radius=4)


@pytest.mark.slow
@pytest.mark.shared_data
def test_eval_reds_with_ground_truth(reds_dir, tmp_path):
    """The issue's command on the real clip (one codec, one quality to stay short)."""
    from spkc.cli.main import cli

    clip = reds_dir / "203_part2.dat"
    res = CliRunner().invoke(cli, [
        "eval", str(clip), "--gt", str(reds_dir / "203_part2.png"), "--codecs", "jxl",
        "--qualities", "4", "--out", str(tmp_path), "--quiet"])
    assert res.exit_code == 0, res.output
    row = _strict_json(tmp_path / "eval.json")["results"][0]
    assert set(ROW_FIELDS) <= set(row)
    assert row["scene_target"] == "gt" and row["affine"] is True
    assert row["num_frames"] == 301 and (row["height"], row["width"]) == (250, 400)
    # TFP on this fast motion scores ~22-24 dB against the ground truth (data README)
    assert 18 < row["scene_psnr"] <= row["scene_psnr_uncoded"] + 1.0 < 30
    assert row["ratio"] > 10


def test_codec_options_reach_the_codec(tiny_clip, tmp_path):
    """``codec_options`` are passed to the codec and recorded in the file's codec config."""
    from spkc.eval import evaluate, evaluate_run
    from spkc.pipeline import open as open_clip

    keep = tmp_path / "bits3.spkc"
    evaluate_run(tiny_clip, "raw", 2, frames_per_scene=16, radius=4, keep=keep,
                 codec_options={"bits": 3})
    with open_clip(keep) as clip:
        assert clip.header.codec_config["bits"] == 3
    with pytest.raises(InputError):
        evaluate([tiny_clip], ["raw"], [2], frames_per_scene=16, radius=4,
                 codec_options={"bits": 99})


def test_reference_reconstruction_is_shared_between_runs(tiny_clip, tmp_path, monkeypatch):
    """Runs on one clip with one reconstructor reconstruct the source once; a changed file or
    another reconstructor config reconstructs again, and the rows are those of a fresh run."""
    import os
    import shutil

    from spkc.eval import engine, evaluate_run

    calls = []
    real = engine.reconstruct_scenes

    def counting(source, recon, frames_per_scene, batch_size=4):
        calls.append(recon.get_config()["name"])
        return real(source, recon, frames_per_scene, batch_size)

    monkeypatch.setattr(engine, "reconstruct_scenes", counting)
    monkeypatch.setattr(engine, "_REF_CACHE", type(engine._REF_CACHE)())
    clip = tmp_path / "clip.npy"
    shutil.copy(tiny_clip, clip)
    kw = dict(frames_per_scene=16, radius=4, reconstructor="tfi")
    first = evaluate_run(clip, "raw", 2, **kw)
    n = len(calls)  # source (tfi), source (tfp, downstream), decoded (tfp)
    second = evaluate_run(clip, "raw", 3, **kw)
    assert len(calls) == n + 1  # only the decoded spikes of the new run
    assert second["scene_psnr_uncoded"] == first["scene_psnr_uncoded"]
    again = evaluate_run(clip, "raw", 2, **kw)
    assert {k: v for k, v in again.items() if "seconds" not in k} == \
           {k: v for k, v in first.items() if "seconds" not in k}
    evaluate_run(clip, "raw", 2, frames_per_scene=16, radius=5, reconstructor="tfi")
    assert len(calls) == n + 2 + n  # another radius: reconstructed afresh
    os.utime(clip, ns=(1, 1))  # the file changed (new mtime): reconstructed again
    evaluate_run(clip, "raw", 2, **kw)
    assert len(calls) == n + 2 + 2 * n
