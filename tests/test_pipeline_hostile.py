"""Hostile headers: a well-formed container whose codec or regeneration fields are nonsense
must fail with a SpkcError on open or decode, never an internal exception."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spkc
from spkc.container import SpkcReader, SpkcWriter
from spkc.io import write_npy

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False,
                                                                          allow_infinity=False)
    | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=6)


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    src = tmp / "s.npy"
    write_npy(src, rng.random((24, 16, 16)) < 0.3)
    dst = tmp / "v.spkc"
    spkc.compress(src, dst, codec="raw", frames_per_scene=8, reconstructor="tfp", radius=2)
    with SpkcReader(dst) as r:
        return r.header, [r.scene_payloads(k) for k in range(r.num_scenes)]


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["codec_config", "regen"]), key=st.text(max_size=16),
       value=JSONISH, codec=st.sampled_from(["raw", "jxl", "learned", "nope"]),
       version=st.sampled_from(["1", "2", ""]))
def test_nonsense_header_fields_raise_only_spkc_errors(tmp_path_factory, valid, field, key,
                                                       value, codec, version):
    header, payloads = valid
    cfg = dict(getattr(header, field))
    cfg[key or "quality"] = value
    h = dataclasses.replace(header, codec=codec, codec_version=version, **{field: cfg})
    path = tmp_path_factory.mktemp("h") / "x.spkc"
    with SpkcWriter(path, h) as w:
        for p in payloads:
            w.add_scene(p, 8)
    try:
        with spkc.open(path) as clip:
            out = clip.spikes()
            assert out.shape == (24, 16, 16)
    except spkc.SpkcError:
        pass
