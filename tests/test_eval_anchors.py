"""spkc.eval.anchors (behind tools/make_results_vtm.py) and spkc.eval.pipelines.evaluate_pipeline
(behind it and tools/make_results.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from spkc.eval import anchors, pipelines


def test_results_rows_reads_inf_and_the_commit(tmp_path):
    p = tmp_path / "results.json"
    p.write_text(json.dumps({"results": [
        {"codec": "learned", "quality": 1, "scene_psnr": "inf"},
        {"codec": "hevc+tfp12", "quality": 1, "scene_psnr": 30.0},
        {"codec": "raw", "quality": 1, "scene_psnr": 20.0}]}))
    rows, commit = anchors.results_rows(p, ["learned", "hevc+tfp12"])
    assert [r["codec"] for r in rows] == ["learned", "hevc+tfp12"]
    assert rows[0]["scene_psnr"] == float("inf") and commit == ""
    p.with_suffix(".md").write_text("# Results\n\n* commit `abc1234` on x\n")
    assert anchors.results_rows(p, ["raw"])[1] == "abc1234"


def test_vtm_bd_pairs():
    def pair(codec, anchor, metric="scene_psnr_ref"):
        return anchors.vtm_bd_pair({"codec": codec, "anchor": anchor, "metric": metric})

    assert pair("hevc+tfp12", "vtm+tfp12") and not pair("hevc+tfp12", "vtm+learned")
    assert pair("learned", "vtm+learned") and not pair("learned", "vtm+tfp12")
    assert pair("learned", "vtm+tfp12", "scene_psnr")
    assert not pair("vtm+learned", "vtm+tfp12", "scene_psnr")


def test_evaluate_pipeline_labels_rows(monkeypatch):
    from spkc.eval import engine

    seen = {}

    def fake(clips, codecs, qualities, **kw):
        seen.update(kw, codecs=codecs, qualities=qualities)
        return SimpleNamespace(rows=[{"codec": codecs[0], "quality": q} for q in qualities],
                               skipped=[])

    monkeypatch.setattr(engine, "evaluate", fake)
    rows, skipped = pipelines.evaluate_pipeline(["a.dat"], "hevc:tfp:12", [1, 2], gt="g",
                                                gt_frame=151, frames_per_scene=101)
    assert [r["codec"] for r in rows] == ["hevc+tfp12"] * 2 and skipped == []
    assert seen["reconstructor"] == "tfp" and seen["radius"] == 12 and seen["anchor"] is None
    rows, _ = pipelines.evaluate_pipeline(["a.dat"], "vtm", [3], gt="g", gt_frame=151,
                                          frames_per_scene=101)
    assert rows == [{"codec": "vtm", "quality": 3}] and seen["reconstructor"] is None


def test_spread_keeps_the_ends():
    assert pipelines.spread((1, 2, 3), 5) == [1, 2, 3]
    assert pipelines.spread((8, 1, 2, 3, 4, 5, 6, 7), 3) == [1, 5, 8]


def test_decoded_panels_of_a_small_clip(tmp_path):
    from spkc.spikes import simulate_sample

    src = tmp_path / "c.npy"
    simulate_sample(src, num_frames=64, height=32, width=48)
    panels, info = pipelines.decoded_panels(src, "raw", (1, 3), 20, 30)
    assert len(panels) == 3 and panels[0][2] is None and panels[0][1].shape == (32, 48)
    assert [i["quality"] for i in info] == [1, 3]
    assert info[1]["psnr_vs_uncoded"] > info[0]["psnr_vs_uncoded"]
