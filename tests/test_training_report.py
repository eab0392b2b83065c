"""RD-curve helpers (spkc.metrics.rd_curves: Pareto frontier, BD on frontiers), the held-out
clips (spkc.train.data), spkc.eval.pipelines and tools/training_report.py's figure."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tool_loader import load_tool

from spkc.eval import pipelines
from spkc.metrics import rd_curves

tr = load_tool("training_report")
points = st.lists(st.tuples(st.floats(1e-4, 1.0), st.floats(10.0, 40.0)), min_size=1,
                  max_size=30)


@given(points)
def test_pareto_is_the_upper_left_frontier(pts):
    front = rd_curves.pareto(pts)
    rates = [r for r, _ in front]
    psnrs = [d for _, d in front]
    assert rates == sorted(set(rates))
    assert all(b > a for a, b in zip(psnrs, psnrs[1:], strict=False))
    for r, d in pts:  # every point is dominated by (or on) the frontier
        assert any(fr <= r and fd >= d for fr, fd in front)


def test_pareto_drops_dominated_and_keeps_best_at_equal_rate():
    assert rd_curves.pareto([(1, 20), (2, 19), (2, 22), (3, 21), (4, 23)]) == [(1, 20), (2, 22),
                                                                         (4, 23)]


def test_bd_of_a_curve_shifted_in_rate():
    anchor = [(r, 20 + 5 * math.log10(r / 1e-3)) for r in (1e-3, 2e-3, 4e-3, 8e-3)]
    half = [(r / 2, d) for r, d in anchor]
    rate, dpsnr, note, side = rd_curves.frontier_bd(anchor, half)
    assert rate == pytest.approx(-50.0, abs=1e-6)
    assert dpsnr > 0 and note == "" and side is None


def test_bd_reports_why_when_it_cannot():
    rate, dpsnr, note, _ = rd_curves.frontier_bd([(1e-3, 20)], [(1e-3, 21), (2e-3, 22)])
    assert rate is None and dpsnr is None and "need 2" in note
    # disjoint PSNR ranges: BD-rate undefined, BD-PSNR defined; the dominated point is named
    rate, dpsnr, note, side = rd_curves.frontier_bd([(1e-3, 20), (4e-3, 21)],
                                   [(1e-3, 30), (2e-3, 31), (3e-3, 30.5)])
    assert rate is None and dpsnr == pytest.approx(10.0, abs=0.5)
    assert "do not overlap" in note and "1 dominated" in note and side == "above"


def test_interp_at_in_log_rate_and_none_outside():
    pts = [(1e-3, 10.0), (1e-2, 20.0)]
    assert rd_curves.interp_at(pts, math.sqrt(1e-5)) == pytest.approx(15.0)
    assert rd_curves.interp_at(pts, 1e-1) is None
    assert rd_curves.interp_at([], 1e-3) is None


def test_plot_draws_the_envelope(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [{"clip": "c.dat", "pipeline": lab, "bits_per_spike_pixel": r, "scene_psnr": d}
            for lab, pts in (("hevc+tfp25", [(1e-3, 22.0), (3e-3, 24.0)]),
                             ("jxl+tfi", [(2e-3, 23.5), (5e-3, 24.5)]),
                             ("learned", [(2e-3, 23.0), (4e-3, 24.0)]))
            for r, d in pts]
    out = tmp_path / "rd.png"
    tr.plot(rows, "c.dat", ["hevc+tfp25", "jxl+tfi"], out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.shared_data
def test_held_out_clips_are_reproducible_spikes_with_ground_truth(tmp_path):
    from spkc.eval.engine import load_ground_truth
    from spkc.io import read_spikes
    from spkc.train.data import DEFAULT_BSDS, write_held_out_clips

    if not (DEFAULT_BSDS / "val").is_dir():
        pytest.skip(f"needs {DEFAULT_BSDS}")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (clip, stats), = write_held_out_clips(1, 5, a, height=32, width=48, gt_frame=6)
    write_held_out_clips(1, 5, b, height=32, width=48, gt_frame=6)
    assert clip.read_bytes() == (b / clip.name).read_bytes()
    spikes = read_spikes(clip, 32, 48)
    assert spikes.shape == (13, 32, 48) and 0 < spikes.mean() < 1
    gt = load_ground_truth(clip.with_suffix(".png"), clip)
    assert gt.shape == (32, 48) and gt.std() > 0
    assert "spikes/px/frame" in stats


def test_separation_names_curves_that_never_meet():
    anchor = [(1e-3, 22.0), (2e-3, 24.0)]
    assert rd_curves.separation(anchor, [(3e-3, 25.0), (4e-3, 26.0)]) == "above"
    assert rd_curves.separation(anchor, [(3e-3, 20.0), (4e-3, 21.0)]) == "below"
    assert rd_curves.separation(anchor, [(3e-3, 23.0), (4e-3, 26.0)]) is None
    # cheaper than every anchor point yet worse: not "below" (the anchor cannot go that low)
    assert rd_curves.separation(anchor, [(1e-4, 20.0), (2e-4, 21.0)]) is None
    rate, _, note, side = rd_curves.frontier_bd(anchor, [(3e-3, 25.0), (4e-3, 26.0)])
    assert rate is None and "-100 %" in note and side == "above"


def test_codec_options_name_only_what_was_asked():
    assert pipelines.codec_options(None, None) == {}
    assert pipelines.codec_options(5, "wide") == {"weights_version": 5, "config": "wide"}
    assert pipelines.codec_options(None, "wide") == {"config": "wide"}


def test_report_names_the_weights_it_measures():
    from spkc.codecs.learned import BaselineCodec, LearnedCodec

    v, b = LearnedCodec.latest_weights_version, BaselineCodec.latest_weights_version
    cfg = LearnedCodec.default_config
    assert pipelines.describe_weights("learned", {}, [1, 2, 3, 4]) == (
        f"learned-bisoam-{cfg}-q{{1,2,3,4}}-v{v} (refine {LearnedCodec.default_refine})")
    assert pipelines.describe_weights("baseline", {"refine": 0}, [2]) == (
        f"learned-baseline-{cfg}-q{{2}}-v{b} (refine 0)")
    assert pipelines.describe_recon().startswith("learned medium (weights sha256 ")


def test_envelope_bd_verdicts_and_matched_spike_rows():
    def pts(lab, scale, shift=0.0):
        return [{"clip": "c.dat", "pipeline": lab, "bits_per_spike_pixel": r * scale,
                 "scene_psnr": 20 + 5 * math.log10(r / 1e-3) + shift,
                 "isi_psnr": 30 + shift, "firing_rate_psnr": 40 + shift}
                for r in (1e-3, 2e-3, 4e-3, 8e-3)]

    rows = pts("hevc+tfp25", 1.0) + pts("jxl+tfi", 1.2) + pts("baseline", 0.9) + \
        pts("learned", 0.5, 0.01)
    bd = pipelines.envelope_bd_rows(rows, ["c.dat"], ["hevc+tfp25", "jxl+tfi"])
    assert [(b["test"], b["anchor"]) for b in bd] == [
        ("learned", pipelines.ENVELOPE), ("learned", "baseline"), ("learned", "hevc+tfp25"),
        ("learned", "jxl+tfi"), ("baseline", pipelines.ENVELOPE)]
    assert bd[2]["bd_rate"] == pytest.approx(-50.0, abs=1.0)
    met, verdicts = pipelines.envelope_verdicts(bd, -30.0)
    assert met and verdicts[0][0] == "c.dat"
    assert not pipelines.envelope_verdicts(bd, -60.0)[0]
    rates, sp = pipelines.matched_spike_rows(rows, "c.dat", ["learned", "hevc+tfp25"])
    assert rates == sorted(r["bits_per_spike_pixel"] for r in rows if r["pipeline"] == "learned")
    assert sp[0]["isi_psnr"] == [pytest.approx(30.01)] * 4
    assert sp[1]["isi_psnr"][0] is None and sp[1]["isi_psnr"][1] == pytest.approx(30.0)
