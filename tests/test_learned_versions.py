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
