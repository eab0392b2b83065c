"""Decoding the committed vectors of spec/decode-vectors/ gives the recorded scenes and spikes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tool_loader import load_tool

import spkc
from spkc.codecs import get_codec_class

DIR = Path(__file__).resolve().parents[1] / "spec" / "decode-vectors"
MANIFEST = json.loads((DIR / "manifest.json").read_text())["vectors"]


def _digests(path, conceal=False):
    return load_tool("make_decode_vectors").digests(path, conceal=conceal)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_vector_decodes_to_recorded_hashes(name):
    entry = MANIFEST[name]
    ok, reason = get_codec_class(entry["codec"]).availability()
    if not ok:
        pytest.skip(reason)
    got = _digests(DIR / entry["file"], conceal="concealed" in entry)
    assert got.get("concealed") == entry.get("concealed")
    assert got["shape"] == entry["shape"]
    assert got["scenes_sha256"] == entry["scenes_sha256"]
    assert got["spike_count"] == entry["spike_count"]
    assert got["spikes_sha256"] == entry["spikes_sha256"]


def test_random_access_matches_vector():
    entry = MANIFEST["raw-linear"]
    with spkc.open(DIR / entry["file"]) as clip:
        full = clip.spikes()
    with spkc.open(DIR / entry["file"], batch_size=1) as clip:
        assert (clip.spikes(20, 30) == full[20:30]).all()
