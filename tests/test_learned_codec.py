"""The `learned` / `baseline` SceneCodec plugins: registry, weights identity, end-to-end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import spkc.codecs.learned as learned_mod
from spkc.codecs import EncodeContext, get_codec, get_codec_class
from spkc.codecs.learned import BaselineCodec, LearnedCodec, load_manifest, write_manifest
from spkc.errors import InputError, MissingWeightsError, SceneCorruptError
from spkc.models.scene_codec import SceneCompressionModel


def _scenes(n: int, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    out = [0.5 + 0.4 * np.sin(xx / (5 + k) + yy / 9) * np.cos(yy / (7 + k)) for k in range(n)]
    return np.clip(np.stack(out), 0, 1).astype(np.float32)


def _context(scenes: np.ndarray, L: int = 8) -> EncodeContext:
    rng = np.random.default_rng(0)
    sb = [rng.random((L, *s.shape)) < 0.4 * s for s in scenes]
    sa = [rng.random((L, *s.shape)) < 0.4 * s for s in scenes]
    return EncodeContext(spikes_before=sb, spikes_after=sa)


@pytest.fixture
def tiny_install(tmp_path, monkeypatch):
    """A weights folder with tiny-config weights and its manifest, in place of the package's."""
    torch.manual_seed(0)
    for cls in (LearnedCodec, BaselineCodec):
        SceneCompressionModel("tiny", cls.attention).save_weights(
            tmp_path / f"learned-{cls.variant}-tiny-q3-v{cls.latest_weights_version}.safetensors")
    write_manifest(tmp_path)
    monkeypatch.setattr(learned_mod, "WEIGHTS_DIR", tmp_path)
    return tmp_path


def test_registry_and_config() -> None:
    assert get_codec_class("learned") is LearnedCodec
    assert get_codec_class("baseline") is BaselineCodec
    assert LearnedCodec.wants_spike_context > 0 and BaselineCodec.wants_spike_context == 0
    c = LearnedCodec(quality=2)
    assert c.get_config() == {"quality": 2, "config": LearnedCodec.default_config,
                              "weights_version": LearnedCodec.latest_weights_version,
                              "refine": LearnedCodec.default_refine}
    c2 = LearnedCodec.from_config(c.get_config())
    assert c2.get_config() == c.get_config()
    with pytest.raises(InputError):
        LearnedCodec(quality=7)
    for bad in (-1, 1.5, True, "100"):
        with pytest.raises(InputError, match="refine"):
            LearnedCodec(refine=bad)
    # files written before latent refinement existed were encoded without it
    old = LearnedCodec.from_config({"quality": 2, "config": "compact", "weights_version": 3})
    assert old.options["refine"] == 0


def test_tiny_end_to_end(tiny_install) -> None:
    scenes = _scenes(5, 40, 60)
    for codec in (get_codec("learned", config="tiny"), get_codec("baseline", config="tiny")):
        ctx = _context(scenes) if codec.wants_spike_context else None
        payloads = codec.encode(scenes, ctx)
        assert len(payloads) == 5 and set(payloads[0]) == {"z", "y", "meta"}
        out = codec.decode(payloads, (40, 60))
        assert out.shape == scenes.shape and out.dtype == np.float32
        assert 0 <= out.min() and out.max() <= 1
        # batch size does not change the decoded scenes
        one = type(codec)(config="tiny", batch_size=1).decode(payloads, (40, 60))
        assert np.array_equal(one, out)
        ident = codec.identity()
        assert ident["weights"].startswith(f"learned-{codec.variant}-tiny-q3")
        codec.check_identity(ident, "clip.spkc")
    with pytest.raises(InputError):
        get_codec("learned", config="tiny").encode(scenes, None)
    with pytest.raises(SceneCorruptError) as ei:
        codec.decode([payloads[0], {**payloads[1], "y": payloads[1]["y"][:-4]}], (40, 60))
    assert ei.value.scene == 1


def test_missing_weights_error(tiny_install) -> None:
    c = LearnedCodec(config="tiny")
    with pytest.raises(MissingWeightsError, match="learned-bisoam-tiny-q3-v9"):
        c.check_identity({"weights": "learned-bisoam-tiny-q3-v9.safetensors", "sha256": "ab"},
                         "clip.spkc")
    with pytest.raises(MissingWeightsError, match="different version"):
        c.check_identity({"weights": c.weights_name, "sha256": "0" * 64}, "clip.spkc")
    with pytest.raises(MissingWeightsError, match="learned-bisoam-tiny-q1-v"):
        LearnedCodec(quality=1, config="tiny").model()
    with pytest.raises(MissingWeightsError):
        LearnedCodec(config="paper").identity()


def test_weights_integrity(tiny_install) -> None:
    v = BaselineCodec.latest_weights_version
    path = tiny_install / f"learned-baseline-tiny-q3-v{v}.safetensors"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # damage a weight value, leaving the file parseable
    path.write_bytes(bytes(data))
    with pytest.raises(MissingWeightsError, match="damaged"):
        BaselineCodec(config="tiny").model()


def test_weights_stored_compressed(tiny_install) -> None:
    """A weights file stored as one zstd frame keeps its name and SHA-256, decodes the same,
    and a damaged frame is a MissingWeightsError naming the file."""
    import zstandard

    scenes = _scenes(1, 32, 48)
    v = BaselineCodec.latest_weights_version
    name = f"learned-baseline-tiny-q3-v{v}.safetensors"
    payloads = BaselineCodec(config="tiny").encode(scenes)
    want = BaselineCodec(config="tiny").decode(payloads, (32, 48))
    sha = load_manifest()[name]["sha256"]
    plain = tiny_install / name
    packed = tiny_install / (name + ".zst")
    packed.write_bytes(zstandard.ZstdCompressor(level=19).compress(plain.read_bytes()))
    with pytest.raises(InputError, match="both plain and compressed"):
        write_manifest(tiny_install)
    plain.unlink()
    man = write_manifest(tiny_install)
    assert man[name]["sha256"] == sha and man[name]["stored"] == packed.name
    assert learned_mod.shipped_weights_path(name) == packed
    learned_mod._MODELS.clear()
    codec = BaselineCodec(config="tiny")
    assert codec.identity() == {"weights": name, "sha256": sha}
    np.testing.assert_array_equal(codec.decode(payloads, (32, 48)), want)

    packed.write_bytes(packed.read_bytes()[:-20])
    learned_mod._MODELS.clear()
    with pytest.raises(MissingWeightsError, match=packed.name):
        BaselineCodec(config="tiny").model()


def test_unreadable_weights_file_is_a_missing_weights_error(tmp_path) -> None:
    """A header that parses but promises more tensor bytes than the file holds."""
    import json
    import struct

    header = json.dumps({"x": {"dtype": "F32", "shape": [100], "data_offsets": [0, 400]}})
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"123")
    with pytest.raises(MissingWeightsError, match="cannot read weights bad.safetensors"):
        SceneCompressionModel("tiny", None).load_weights(bad)


def test_shipped_manifest_matches_files() -> None:
    man = load_manifest()
    for name, entry in man.items():
        path = learned_mod.shipped_weights_path(name)
        assert path.is_file() and path.name == entry["stored"], name
        assert learned_mod.sha256_content(path) == entry["sha256"], name
        assert path.stat().st_size == entry["stored_bytes"], name
    # the training issue's budget for all shipped weights (as stored), reconstruction included
    total = sum(p.stat().st_size for p in learned_mod.WEIGHTS_DIR.glob("*.safetensors*"))
    assert total <= 25_000_000


@pytest.mark.skipif(not learned_mod.shipped_weights_path(LearnedCodec(quality=3).weights_name)
                    .is_file(), reason="shipped weights not present")
def test_shipped_weights_round_trip() -> None:
    scenes = _scenes(2, 64, 96)
    for q in (1, 4):
        for cls in (LearnedCodec, BaselineCodec):
            codec = cls(quality=q)
            ctx = _context(scenes) if codec.wants_spike_context else None
            out = codec.decode(codec.encode(scenes, ctx), (64, 96))
            psnr = 10 * np.log10(1 / np.mean((out - scenes) ** 2))
            assert psnr > 20, (cls.name, q, psnr)
