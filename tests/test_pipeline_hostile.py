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


def _raw_clip(tmp, frames: int, seed: int):
    """Header and scene payloads of a raw-codec clip of ``frames`` 16x16 frames, 8 per scene."""
    rng = np.random.default_rng(seed)
    src = tmp / "s.npy"
    write_npy(src, rng.random((frames, 16, 16)) < 0.3)
    dst = tmp / "v.spkc"
    spkc.compress(src, dst, codec="raw", frames_per_scene=8, reconstructor="tfp", radius=2)
    with SpkcReader(dst) as r:
        return r.header, [r.scene_payloads(k) for k in range(r.num_scenes)]


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return _raw_clip(tmp_path_factory.mktemp("hostile"), 24, 0)


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


@pytest.fixture(scope="module")
def six_scenes(tmp_path_factory):
    return _raw_clip(tmp_path_factory.mktemp("conceal"), 48, 1)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damaged=st.sets(st.integers(0, 5), min_size=1, max_size=5),
       batch=st.integers(1, 4), span=st.tuples(st.integers(0, 47), st.integers(1, 48)))
def test_concealment_follows_the_spec_rule_for_any_access(tmp_path_factory, six_scenes,
                                                          damaged, batch, span):
    """Scenes whose payloads the codec rejects are concealed by the nearest decodable one
    (k-1, k+1, k-2, ...), and a full decode, any batch size and random access agree."""
    header, payloads = six_scenes
    path = tmp_path_factory.mktemp("c") / "x.spkc"
    with SpkcWriter(path, header) as w:
        for k, p in enumerate(payloads):
            w.add_scene({n: b"\x07not a payload" for n in p} if k in damaged else p, 8)
    order = lambda k: [j for d in range(1, 6) for j in (k - d, k + d) if 0 <= j < 6]  # noqa: E731
    expected = {k: next(j for j in order(k) if j not in damaged) for k in damaged}
    with spkc.open(path, conceal=True, batch_size=batch) as clip:
        full = clip.spikes()
        assert {k: j for k, (_, j) in clip.concealed.items()} == expected
        for k, j in expected.items():
            assert np.array_equal(clip.scene(k), clip.scene(j))
    start, stop = min(span), max(span)
    if start < stop:
        with spkc.open(path, conceal=True, batch_size=1) as clip:
            assert np.array_equal(clip.spikes(start, stop), full[start:stop])
    with pytest.raises(spkc.SceneCorruptError), spkc.open(path) as clip:
        clip.spikes()
