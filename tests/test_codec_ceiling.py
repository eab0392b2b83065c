"""tools/codec_ceiling.py: coded points, both ceilings and (when PyAV is there) HEVC."""

from __future__ import annotations

import numpy as np
from PIL import Image
from tool_loader import load_tool


def test_ceiling_report_on_small_crops(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    for i in range(2):
        img = (rng.random((90, 120)) * 64 + np.linspace(0, 180, 120)).astype(np.uint8)
        Image.fromarray(img).save(tmp_path / f"{i}.jpg")
    png = tmp_path / "rd.png"
    tool = load_tool("codec_ceiling")
    assert tool.main(["--images", str(tmp_path), "--count", "2", "--crop", "64",
                      "--qualities", "1", "--refine", "3", "--hevc", "1",
                      "--ceiling-steps", "5", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "2 crops of 64x64" in out
    assert "refine 0" in out and "refine 3" in out
    line = next(s for s in out.splitlines() if "best latents" in s)
    amortised = float(line.split("amortised (unquantised) ")[1].split(" dB")[0])
    best = float(line.split("steps) ")[1].split(" dB")[0])
    assert best >= amortised - 0.05  # optimising the latents for MSE cannot do much worse
    assert "hevc q1" in out or "hevc skipped" in out
    assert png.stat().st_size > 0


def test_no_images_is_not_an_error(tmp_path, capsys) -> None:
    assert load_tool("codec_ceiling").main(["--images", str(tmp_path / "none")]) == 0
    assert "nothing to measure" in capsys.readouterr().out
