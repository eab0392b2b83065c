"""tools/bench_refine.py: runs end to end and prints one row per (clip, quality, steps)."""

from __future__ import annotations

import pytest
from tool_loader import load_tool

br = load_tool("bench_refine")


def test_no_clips_is_not_an_error(tmp_path, capsys):
    assert br.main(["--data", str(tmp_path)]) == 0
    assert "nothing to measure" in capsys.readouterr().out


@pytest.mark.shared_data
@pytest.mark.slow
def test_one_clip_two_settings(reds_dir, tmp_path, capsys):
    clip = tmp_path / "clips"
    clip.mkdir()
    for ext in (".dat", ".png"):
        (clip / f"203_part2{ext}").symlink_to(reds_dir / f"203_part2{ext}")
    assert br.main(["--data", str(clip), "--steps", "0,3", "--qualities", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out if line.strip().startswith("203_part2.dat")]
    assert [r[2] for r in rows] == ["0", "3"]
    assert rows[0][4] == "1.000"  # rate ratio of the reference run to itself
    assert all(float(r[5]) > 15 for r in rows)  # scene PSNR vs ground truth, dB
