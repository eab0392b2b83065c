"""Weights versions: new files record the version they were encoded with; files from before
versioning (no ``weights_version`` in their codec config) decode with v1."""

from __future__ import annotations

import pytest

import spkc
from spkc.codecs.learned import BaselineCodec, LearnedCodec


def test_config_records_and_restores_weights_version():
    c = LearnedCodec(quality=3)
    cfg = c.get_config()
    assert cfg["weights_version"] == LearnedCodec.latest_weights_version
    again = LearnedCodec.from_config(cfg)
    assert again.weights_name == c.weights_name
    legacy = LearnedCodec.from_config({"quality": 3, "config": "compact"})
    assert legacy.weights_name.endswith("-v1.safetensors")
    assert BaselineCodec(quality=2).weights_name.endswith(
        f"-v{BaselineCodec.latest_weights_version}.safetensors")


def test_bad_weights_version_is_an_input_error():
    with pytest.raises(spkc.InputError):
        LearnedCodec(quality=3, weights_version="two")


def test_missing_version_names_the_weights(tmp_path):
    c = LearnedCodec.from_config({"quality": 3, "config": "compact", "weights_version": 99})
    with pytest.raises(spkc.MissingWeightsError, match="v99"):
        c.check_identity({"weights": c.weights_name, "sha256": "0" * 64}, str(tmp_path))


def test_retired_version_decodes_from_spkc_weights_path(tmp_path, monkeypatch):
    """A version the package does not ship decodes when $SPKC_WEIGHTS_PATH holds the very
    file the header names; without it, or with a different file, the error says what to do."""
    import shutil

    import numpy as np

    from spkc.codecs.learned import shipped_weights_path
    from spkc.io import write_npy
    from spkc.spikes import integrate_and_fire, synthetic_intensity

    shipped = LearnedCodec(quality=2).weights_name
    kept = tmp_path / "kept"
    kept.mkdir()
    retired = shipped.rsplit("-v", 1)[0] + "-v77.safetensors"
    # kept as stored in the package (zstd-compressed): $SPKC_WEIGHTS_PATH accepts either form
    stored = shipped_weights_path(shipped)
    shutil.copy(stored, kept / (retired + stored.name.removeprefix(shipped)))
    src = tmp_path / "src.npy"
    write_npy(src, integrate_and_fire(synthetic_intensity(24, 32, 48, seed=3), gain=0.4,
                                      seed=3))
    monkeypatch.setenv("SPKC_WEIGHTS_PATH", str(kept))
    dst = tmp_path / "old.spkc"
    spkc.compress(src, dst, quality=2, frames_per_scene=12, codec_options={"weights_version": 77})
    with spkc.open(dst) as clip:
        want = clip.spikes()
        assert clip.header.codec_config["weights_version"] == 77

    monkeypatch.delenv("SPKC_WEIGHTS_PATH")
    with pytest.raises(spkc.MissingWeightsError, match="SPKC_WEIGHTS_PATH") as err:
        with spkc.open(dst) as clip:
            clip.spikes()
    assert retired in str(err.value) and "old.spkc" in str(err.value)

    other = tmp_path / "other"
    other.mkdir()
    q3 = shipped_weights_path(LearnedCodec(quality=3).weights_name)  # other weights, same name
    shutil.copy(q3, other / (retired + q3.name.removeprefix(LearnedCodec(quality=3).weights_name)))
    monkeypatch.setenv("SPKC_WEIGHTS_PATH", str(other))
    with pytest.raises(spkc.MissingWeightsError, match="different version"):
        with spkc.open(dst) as clip:
            clip.spikes()

    monkeypatch.setenv("SPKC_WEIGHTS_PATH", f"{other}{__import__('os').pathsep}{kept}")
    with pytest.raises(spkc.MissingWeightsError):  # the first directory holding the name wins
        with spkc.open(dst) as clip:
            clip.spikes()
    monkeypatch.setenv("SPKC_WEIGHTS_PATH", str(kept))
    with spkc.open(dst) as clip:
        assert np.array_equal(clip.spikes(), want)
