"""`spkc info` and `spkc simulate`, including one-line errors with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from spkc.cli.info_cmd import describe_spike_file
from spkc.cli.main import cli
from spkc.io import read_spikes, write_spikes


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def _assert_one_line_error(res, *needles: str) -> None:
    assert res.exit_code != 0
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("spkc: error:"), res.output
    for n in needles:
        assert n in lines[0]


def test_version() -> None:
    res = _run("--version")
    assert res.exit_code == 0 and "spkc" in res.output


def test_simulate_synthetic_then_info(tmp_path: Path) -> None:
    out = tmp_path / "s.dat"
    res = _run("simulate", "--synthetic", "--frames", "30", "--height", "40", "--width", "64",
               "--seed", "3", "-o", str(out))
    assert res.exit_code == 0, res.output
    spikes = read_spikes(out, height=40, width=64)
    assert spikes.shape == (30, 40, 64)
    res = _run("info", str(out), "--height", "40", "--width", "64", "--rate", "1000", "--json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["frames"] == 30 and d["height"] == 40 and d["width"] == 64
    assert d["duration_s"] == pytest.approx(0.03)
    assert d["mean_firing_rate"] == pytest.approx(spikes.mean())
    text = _run("info", str(out), "--height", "40", "--width", "64")
    assert text.exit_code == 0 and "30 frames of 40x64" in text.output


@pytest.mark.parametrize("ext", [".npy", ".h5"])
def test_info_other_formats(tmp_path: Path, ext: str) -> None:
    spikes = np.random.default_rng(0).random((7, 5, 8)) < 0.25
    p = tmp_path / f"x{ext}"
    write_spikes(p, spikes)
    d = describe_spike_file(p, rate=7.0)
    assert (d["frames"], d["height"], d["width"]) == (7, 5, 8)
    assert d["duration_s"] == pytest.approx(1.0)
    assert d["spikes"] == int(spikes.sum())


def test_simulate_images_folder(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray((rng.random((12, 16)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "img.h5"
    res = _run("simulate", str(folder), "--frames-per-image", "20", "--interpolate",
               "-o", str(out))
    assert res.exit_code == 0, res.output
    spikes = read_spikes(out)
    assert spikes.shape == (60, 12, 16)
    # a bright image fires more than a dark one, pixel by pixel, over a long hold
    bright = np.full((8, 8), 230, np.uint8)
    Image.fromarray(bright).save(tmp_path / "b.png")
    Image.fromarray(bright // 10).save(tmp_path / "d.png")
    out2 = tmp_path / "bd.dat"
    res = _run("simulate", str(tmp_path / "b.png"), str(tmp_path / "d.png"),
               "--frames-per-image", "200", "--gain", "0.5", "-o", str(out2))
    assert res.exit_code == 0, res.output
    s = read_spikes(out2, height=8, width=8)
    assert s[:200].mean() == pytest.approx(0.5 * 230 / 255, abs=0.02)
    assert s[200:].mean() == pytest.approx(0.5 * 23 / 255, abs=0.02)


@pytest.mark.parametrize("setup, needles", [
    ("missing", ["nope.dat", "no such file"]),
    ("directory", ["is a directory"]),
    ("empty", ["empty.dat", "empty"]),
    ("wrong_size", ["bad.dat", "12501", "12500"]),
    ("bad_h5", ["bad.h5", "HDF5"]),
])
def test_info_errors_one_line(tmp_path: Path, setup: str, needles: list[str]) -> None:
    target = {"missing": tmp_path / "nope.dat", "directory": tmp_path,
              "empty": tmp_path / "empty.dat", "wrong_size": tmp_path / "bad.dat",
              "bad_h5": tmp_path / "bad.h5"}[setup]
    if setup == "empty":
        target.write_bytes(b"")
    elif setup == "wrong_size":
        target.write_bytes(b"\0" * 12501)
    elif setup == "bad_h5":
        target.write_bytes(b"not hdf5" * 100)
    _assert_one_line_error(_run("info", str(target)), *needles)


def test_simulate_errors_one_line(tmp_path: Path) -> None:
    _assert_one_line_error(_run("simulate", "-o", str(tmp_path / "x.dat")), "--synthetic")
    _assert_one_line_error(_run("simulate", str(tmp_path / "none.png"), "-o",
                                str(tmp_path / "x.dat")), "none.png")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    _assert_one_line_error(_run("simulate", str(junk), "-o", str(tmp_path / "x.dat")),
                           "junk.png", "image")
    _assert_one_line_error(_run("simulate", "--synthetic", "--frames", "2", "-o",
                                str(tmp_path / "x.txt")), "x.txt")


def test_info_spkc_file(tmp_path: Path) -> None:
    src = tmp_path / "s.dat"
    assert _run("simulate", "--synthetic", "--frames", "40", "--height", "32", "--width", "48",
                "-o", str(src)).exit_code == 0
    dst = tmp_path / "s.spkc"
    res = _run("compress", str(src), "--height", "32", "--width", "48", "--codec", "raw",
               "-o", str(dst))
    assert res.exit_code == 0, res.output
    res = _run("info", str(dst), "--json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["format"] == "spkc" and d["frames"] == 40 and (d["height"], d["width"]) == (32, 48)
