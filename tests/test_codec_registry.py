"""The codec registry: built-in conventional codecs, availability reasons, entry-point plugins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spkc.codecs import get_codec, get_codec_class, list_codecs, registry
from spkc.errors import CodecUnavailableError, UnknownCodecError

PLUGIN_DIR = Path(__file__).parent / "plugin_pkg"


@pytest.fixture
def no_vtm(monkeypatch, tmp_path):
    monkeypatch.delenv("SPKC_VTM_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))


def test_list_codecs_reports_conventional_codecs(no_vtm):
    infos = {i.name: i for i in list_codecs()}
    for name in ("raw", "jxl", "hevc", "vtm"):
        assert name in infos, sorted(infos)
    for name in ("raw", "jxl", "hevc"):
        assert infos[name].available, (name, infos[name].reason)
        assert infos[name].version == "1"
    # no VTM binary: PyAV's VVC decoder still reads (10-bit) vtm files
    assert infos["vtm"].available
    assert infos["vtm"].reason.startswith("decode only, with FFmpeg's VVC decoder")
    assert infos["jxl"].target == "spkc.codecs.jxl:JpegXLCodec"


def test_get_codec_instances(no_vtm):
    raw = get_codec("raw", quality=4)
    assert raw.bits == 10
    assert get_codec("jxl", quality=8).distance == 0.5
    assert get_codec("hevc", quality=1, bit_depth=8).qp == 44
    with pytest.raises(CodecUnavailableError, match="vtm.*EncoderApp not found"):
        get_codec("vtm").encode(np.full((1, 16, 16), 0.5, np.float32))
    with pytest.raises(UnknownCodecError, match="quality"):
        get_codec("jxl", quality=9)
    with pytest.raises(UnknownCodecError, match="no-such-codec"):
        get_codec_class("no-such-codec")


def _install_plugin_metadata(site: Path) -> None:
    """What `pip install tests/plugin_pkg` leaves behind, minus the copying: a dist-info with
    the entry point, on a sys.path directory, next to the package on sys.path."""
    dist = site / "spkc_demo_plugin-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: spkc-demo-plugin\nVersion: 0.1.0\n")
    # Copy the declaration from the plugin's own pyproject so the two cannot drift apart.
    text = (PLUGIN_DIR / "pyproject.toml").read_text()
    section = text.split('[project.entry-points."spkc.codecs"]', 1)[1].split("\n[", 1)[0]
    lines = [ln.replace('"', "") for ln in section.strip().splitlines() if "=" in ln]
    assert lines, "tests/plugin_pkg/pyproject.toml declares no spkc.codecs entry point"
    (dist / "entry_points.txt").write_text("[spkc.codecs]\n" + "\n".join(lines) + "\n")


def test_plugin_from_entry_point_is_discovered(tmp_path, monkeypatch):
    assert "demo8" not in {i.name for i in list_codecs()}
    _install_plugin_metadata(tmp_path / "site")
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    # keep the class cache of this process clean for other tests
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))

    infos = {i.name: i for i in list_codecs()}
    assert "demo8" in infos
    assert infos["demo8"].available and infos["demo8"].target == "spkc_demo_plugin:Demo8Codec"
    codec = get_codec("demo8")
    x = np.linspace(0, 1, 2 * 8 * 10, dtype=np.float32).reshape(2, 8, 10)
    dec = codec.decode(codec.encode(x), (8, 10))
    np.testing.assert_array_equal(dec, np.rint(x * 255).astype(np.uint8) / np.float32(255))
    # the header config rebuilds it through the registry too
    again = registry.codec_from_config("demo8", codec.get_config())
    assert type(again).__name__ == "Demo8Codec"


def test_broken_plugin_reported_not_raised(tmp_path, monkeypatch):
    dist = tmp_path / "site" / "spkc_broken-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: spkc-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[spkc.codecs]\nbroken = spkc_module_that_does_not_exist:Codec\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    infos = {i.name: i for i in list_codecs()}
    assert not infos["broken"].available
    assert "cannot be imported" in infos["broken"].reason
    with pytest.raises(CodecUnavailableError, match="broken"):
        get_codec("broken")
