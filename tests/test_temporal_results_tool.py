"""spkc.eval.temporal (behind tools/temporal_results.py): BD tables, the default-group choice,
frame interpolation."""

from __future__ import annotations

import numpy as np

from spkc.eval import temporal as tr


def _rows(codec: str, gop: int, scale: float, clip: str = "c") -> list[dict]:
    # PSNR = 30 + 10 log10(rate / scale): gop G needs `scale` times the bits of rate 1
    return [{"clip": clip, "codec": codec, "gop": gop, "qp": q, "bpp": r * scale,
             "psnr_uncoded": 30 + 10 * np.log10(r), "psnr_gt": None}
            for q, r in zip((22, 27, 32, 37), (8.0, 4.0, 2.0, 1.0), strict=True)]


def test_bd_table_and_default_group_choice():
    rows = _rows("hevc", 1, 1.0) + _rows("hevc", 8, 0.6) + _rows("hevc", 32, 0.59)
    bd = tr.bd_table(rows, "c", "psnr_uncoded")
    by = {(b["test"], b["anchor"]): b["bd_rate"] for b in bd}
    assert abs(by[("hevc gop 8", "hevc gop 1")] + 40.0) < 0.5
    assert abs(by[("hevc gop 32", "hevc gop 1")] + 41.0) < 0.5
    note = tr.default_group_note(bd, "c")
    assert "**8**" in note  # gop 32 is less than 2 points better: the shorter group wins


def test_bd_table_refuses_saturated_curves():
    rows = _rows("hevc", 1, 1.0) + _rows("hevc", 8, 0.6)
    for r in rows[4:]:
        r["psnr_uncoded"] = 31.0 if r["qp"] != 22 else 30.0  # not rising with rate
    (b,) = tr.bd_table(rows, "c", "psnr_uncoded")
    assert b["bd_rate"] is None and "does not rise" in b["note"]


def test_frame_psnr_interpolates_between_scene_times():
    fps, frames = 4, 12
    t = np.arange(frames, dtype=np.float32)
    truth = np.broadcast_to((t / frames)[:, None, None], (frames, 8, 8)).copy()
    centres = np.arange(3) * fps + fps / 2.0
    scenes = np.broadcast_to((centres / frames).astype(np.float32)[:, None, None],
                             (3, 8, 8)).copy()
    sample = np.arange(2, 10)  # between the first and last scene time: linear is exact
    assert tr.frame_psnr(scenes, fps, frames, truth[sample], sample) > 100


def test_scale_scenes_maps_to_unit_range():
    rates = np.linspace(0, 10, 1000, dtype=np.float32).reshape(10, 10, 10)
    sc = tr.scale_scenes(rates)
    assert sc.dtype == np.float32 and sc.min() == 0.0 and 0.85 < sc.max() < 0.95


def test_fps_table_compares_with_the_largest_s_and_gop_1():
    rows = [{"fps": s, "gop": g, "qp": q, "bits_per_spike_pixel": r * (1.0 if g == 1 else 0.7),
             "psnr_frames_gt": 30 + 10 * np.log10(r) + (1.0 if s == 16 else 0.0)}
            for s in (16, 32) for g in (1, 8)
            for q, r in zip((22, 27, 32, 37), (8.0, 4.0, 2.0, 1.0), strict=True)]
    by = {(b["test"], b["anchor"]): b for b in tr.fps_table(rows)}
    assert set(by) == {("S=16 gop 1", "S=32 gop 1"), ("S=16 gop 8", "S=32 gop 8"),
                       ("S=16 gop 8", "S=16 gop 1"), ("S=32 gop 8", "S=32 gop 1")}
    assert abs(by[("S=16 gop 1", "S=32 gop 1")]["bd_psnr"] - 1.0) < 0.05
    assert abs(by[("S=32 gop 8", "S=32 gop 1")]["bd_rate"] + 30.0) < 0.5
    assert tr.fps_table([]) == []
