"""The compress / decompress / info / codecs commands as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from spkc.cli.main import cli
from spkc.io import read_spikes, write_dat


def _dat(tmp_path, T=40, H=16, W=16):
    rng = np.random.default_rng(0)
    sp = rng.random((T, H, W)) < 0.2
    p = tmp_path / "in.dat"
    write_dat(p, sp)
    return p


def test_compress_info_decompress(tmp_path):
    src = _dat(tmp_path)
    r = CliRunner().invoke(cli, ["compress", str(src), "-o", str(tmp_path / "c.spkc"),
                                 "--codec", "raw", "--height", "16", "--width", "16",
                                 "-S", "8", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "bits/spike-pixel" in r.output and "5 scenes" in r.output
    r = CliRunner().invoke(cli, ["info", str(tmp_path / "c.spkc"), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["codec"] == "raw" and info["frames"] == 40
    assert abs(info["ratio"] * info["bits_per_spike_pixel"] - 1) < 1e-9
    r = CliRunner().invoke(cli, ["decompress", str(tmp_path / "c.spkc"), "-o",
                                 str(tmp_path / "o.npy"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert read_spikes(tmp_path / "o.npy").shape == (40, 16, 16)



def test_decompress_refuses_an_unfinished_file_unless_asked(tmp_path):
    import spkc

    src, full = _dat(tmp_path), tmp_path / "c.spkc"
    CliRunner().invoke(cli, ["compress", str(src), "-o", str(full), "--codec", "raw",
                             "--height", "16", "--width", "16", "-S", "8", "--quiet"])
    cut = tmp_path / "cut.spkc"  # a copy that stopped halfway: no index, no end chunk
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    out = tmp_path / "o.npy"
    r = CliRunner().invoke(cli, ["decompress", str(cut), "-o", str(out), "--quiet"])
    assert r.exit_code == 1 and "unfinished" in r.output and "of the 40" in r.output
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))
    with pytest.raises(spkc.UnfinishedFileError, match="cut.spkc"):
        spkc.decompress(cut, out)
    r = CliRunner().invoke(cli, ["decompress", str(cut), "-o", str(out), "--quiet",
                                 "--allow-unfinished"])
    assert r.exit_code == 0 and "warning: unfinished" in r.output
    with spkc.open(cut) as clip:
        assert not clip.complete
        assert np.array_equal(read_spikes(out), clip.spikes())
        assert 0 < clip.shape[0] < 40
    assert spkc.decompress(full, out)["complete"]


def _damaged(tmp_path, scenes=(2,)):
    """A raw-codec clip (40 frames, 5 scenes) and a copy with one bit flipped in each of
    ``scenes``."""
    from spkc.container import SpkcReader

    src, full = _dat(tmp_path), tmp_path / "c.spkc"
    CliRunner().invoke(cli, ["compress", str(src), "-o", str(full), "--codec", "raw",
                             "--height", "16", "--width", "16", "-S", "8", "--quiet"])
    data = bytearray(full.read_bytes())
    with SpkcReader(full) as r:
        for k in scenes:
            data[int(r._offsets[k]) + int(r._sizes[k]) // 2] ^= 0x10
    bad = tmp_path / "bad.spkc"
    bad.write_bytes(bytes(data))
    return full, bad


def test_decompress_names_the_damaged_scene_and_leaves_nothing(tmp_path):
    _, bad = _damaged(tmp_path)
    out = tmp_path / "o.npy"
    r = CliRunner().invoke(cli, ["decompress", str(bad), "-o", str(out), "--quiet"])
    # the decoding error, not the writer's "fewer frames than declared" that followed it
    assert r.exit_code == 1 and "scene 2 is damaged" in r.output, r.output
    assert "--conceal decodes the rest" in r.output and len(r.output.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


def test_conceal_stands_the_nearest_scene_in_for_a_damaged_one(tmp_path):
    import spkc

    full, bad = _damaged(tmp_path)
    out = tmp_path / "o.npy"
    r = CliRunner().invoke(cli, ["decompress", str(bad), "-o", str(out), "--quiet", "--conceal"])
    assert r.exit_code == 0 and "scene 2 is damaged" in r.output and "by scene 1" in r.output
    got = read_spikes(out)
    with spkc.open(full) as clip:
        ref = clip.spikes()
        assert np.array_equal(got[:8], ref[:8])  # segments that never see scene 2
        assert np.array_equal(got[32:], ref[32:])
    with spkc.open(bad, conceal=True, batch_size=1) as clip:
        assert np.array_equal(clip.spikes(12, 30), got[12:30])  # random access agrees
        assert np.array_equal(clip.scene(2), clip.scene(1))
        assert set(clip.concealed) == {2} and clip.concealed[2][1] == 1
    repaired = tmp_path / "rep.spkc"
    assert CliRunner().invoke(cli, ["repair", str(bad), "-o", str(repaired)]).exit_code == 0
    assert np.array_equal(spkc.open(repaired, conceal=True).spikes(), got)
    with pytest.raises(spkc.SceneCorruptError, match="scene 2"):
        spkc.open(repaired).spikes()


def test_conceal_fails_when_no_scene_decodes(tmp_path):
    import spkc

    bad = _damaged(tmp_path, scenes=range(5))[1]
    with pytest.raises(spkc.SceneCorruptError, match="no other scene"):
        spkc.open(bad, conceal=True).spikes()


def test_codecs_lists_reasons():
    r = CliRunner().invoke(cli, ["codecs"])
    assert r.exit_code == 0
    assert "raw" in r.output and "vtm" in r.output


def _run(*args):
    return subprocess.run([sys.executable, "-m", "spkc.cli.main", *args], capture_output=True,
                          text=True)


def test_errors_print_one_line(tmp_path):
    bad = tmp_path / "odd.dat"
    bad.write_bytes(b"\x00" * 1001)
    for args in (["compress", str(bad), "-o", str(tmp_path / "x.spkc"), "--codec", "raw"],
                 ["compress", str(_dat(tmp_path)), "-o", str(tmp_path / "x.spkc"),
                  "--codec", "nope", "--height", "16", "--width", "16"],
                 ["compress", str(_dat(tmp_path)), "-o", str(tmp_path / "x.spkc"),
                  "--codec", "raw", "--height", "16", "--width", "16",
                  "--recon-option", "tta=4"],  # tfp has no such option
                 ["compress", str(_dat(tmp_path)), "-o", str(tmp_path / "x.spkc"),
                  "--codec", "raw", "--reconstructor", "learned", "--height", "16",
                  "--width", "16", "--recon-option", "tta=3"],
                 ["decompress", str(tmp_path / "missing.spkc"), "-o", str(tmp_path / "o.dat")],
                 ["decompress", str(bad), "-o", str(tmp_path / "o.dat")]):
        p = _run(*args)
        assert p.returncode == 1, (args, p.stdout, p.stderr)
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("spkc: error:"), p.stderr
        assert "Traceback" not in p.stderr
    assert not (tmp_path / "x.spkc").exists() and not (tmp_path / "o.dat").exists()


def test_reconstructor_options_reach_the_file(tmp_path):
    from spkc.pipeline import open as open_clip

    src = _dat(tmp_path, T=48, H=24, W=32)
    out = tmp_path / "c.spkc"
    r = CliRunner().invoke(cli, ["compress", str(src), "-o", str(out), "--codec", "raw",
                                 "--reconstructor", "learned", "--height", "24", "--width",
                                 "32", "-S", "16", "--recon-option", "config=compact",
                                 "--recon-option", "tta=2", "--quiet"])
    assert r.exit_code == 0, r.output
    with open_clip(out) as clip:
        cfg = clip.header.reconstructor_config
    assert (cfg["config"], cfg["tta"]) == ("compact", 2)


def test_verify_decode_flags_damaged_scene(tmp_path):
    src = _dat(tmp_path)
    dst = tmp_path / "c.spkc"
    r = CliRunner().invoke(cli, ["compress", str(src), "-o", str(dst), "--codec", "raw",
                                 "--height", "16", "--width", "16", "-S", "8", "--quiet"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["verify", str(dst), "--decode"])
    assert r.exit_code == 0 and "decoded 5 of 5" in r.output
    data = bytearray(dst.read_bytes())
    data[len(data) // 2] ^= 0x01
    dst.write_bytes(bytes(data))
    r = CliRunner().invoke(cli, ["verify", str(dst), "--decode"])
    assert r.exit_code == 1
