"""spkc.eval.motion (behind tools/motion_results.py): the report tables from stored results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spkc.eval import motion

DOCS = Path(__file__).resolve().parents[1] / "docs" / "motion"


def _reds() -> dict:
    rows = [{"clip": "a.dat", "interpolation": i, "quality": q, "offset": o,
             "psnr": 30.0 + q + (1.0 if i == "motion" else 0.0) - abs(o) / 8,
             "bits_per_spike_pixel": 0.01 * q * (1.1 if i == "motion" else 1.0)}
            for i, qs in (("linear", (3, 4)), ("motion", (3,))) for q in qs
            for o in (-8, 0, 8)]
    return {"config": {"offsets": [-8, 0, 8], "options": {}, "frames_per_scene": 32},
            "rows": rows, "full": []}


def test_offset_groups_and_equal_bits():
    s = _reds()
    groups = motion.offset_groups(s["rows"])
    assert list(groups) == [("a.dat", "linear", 3), ("a.dat", "linear", 4),
                            ("a.dat", "motion", 3)]
    lines = motion.reds_section(s, "T", "-O refine=0")
    assert lines[0] == "## T" and "`python tools/motion_results.py reds -O refine=0`" in lines[4]
    # motion q3 at 0.033 b/sp: linear curve (0.03, 32.33) .. (0.04, 33.33) in log rate
    (eq,) = [ln for ln in lines if ln.startswith("| a.dat | 3 | 0.03300")]
    cells = [c.strip() for c in eq.strip("|").split("|")]
    assert float(cells[3]) == pytest.approx(33.33, abs=0.01)
    assert 32.6 < float(cells[4]) < 32.7


@pytest.mark.skipif(not (DOCS / "synth.json").exists(), reason="no stored results")
def test_synth_section_from_stored_results():
    s = json.loads((DOCS / "synth.json").read_text())
    lines = motion.synth_section(s)
    assert lines[0] == "## Synthetic clip, every frame"
    n_motion = sum(r["interpolation"] == "motion" for r in s["rows"])
    assert sum(ln.startswith("| motion |") for ln in lines) == n_motion
