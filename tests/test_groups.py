"""Groups of scenes (format 1.1): structure round trips, random access, damage, inter codecs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spkc
from spkc.codecs import get_codec, get_codec_class, register_codec
from spkc.codecs.base import InterSceneCodec, SceneCodec
from spkc.container import SpkcReader
from spkc.errors import CorruptFileError, InputError, SceneCorruptError
from spkc.io import write_npy
from spkc.pipeline.groups import group_request
from spkc.spikes import integrate_and_fire, synthetic_intensity


@register_codec
class DeltaTestCodec(InterSceneCodec):
    """A tiny exact inter codec: key scenes as 8-bit samples, the rest as 8-bit differences
    from the previous decoded scene (mod 256). Scene j decodes only with scenes 0..j-1."""

    name = "delta-test"
    qualities = (1,)
    default_quality = 1
    default_gop = 4

    def encode_group(self, scenes, context=None):
        q = np.rint(np.clip(scenes, 0, 1) * 255).astype(np.uint8)
        out = [{"d": q[0].tobytes()}]
        out += [{"d": (q[j] - q[j - 1]).tobytes()} for j in range(1, len(q))]  # wraps mod 256
        return out

    def decode_group(self, payloads, shape):
        h, w = shape
        planes = []
        for j, p in enumerate(payloads):
            d = p.get("d", b"")
            if len(d) != h * w:
                raise SceneCorruptError(f"payload of {len(d)} bytes for {h}x{w}")
            d = np.frombuffer(d, np.uint8).reshape(h, w)
            planes.append(d if j == 0 else planes[-1] + d)
        return np.stack(planes).astype(np.float32) / 255 if planes else np.empty((0, h, w))


def _source(tmp_path: Path, frames: int, h: int = 16, w: int = 16, seed: int = 3) -> Path:
    src = tmp_path / f"src-{frames}-{h}x{w}.npy"
    if not src.exists():
        lum = synthetic_intensity(frames, h, w, seed=seed)
        write_npy(src, integrate_and_fire(lum, gain=0.4, init="random", seed=seed))
    return src


def _compress(tmp_path: Path, frames: int, fps: int, gop: int, codec: str = "delta-test",
              name: str = "clip", interpolation: str = "motion", **kw) -> Path:
    dst = tmp_path / f"{name}.spkc"
    spkc.compress(_source(tmp_path, frames, **kw), dst, codec=codec, frames_per_scene=fps,
                  reconstructor="tfp", radius=2, codec_options={"gop": gop},
                  interpolation=interpolation)
    return dst


def _flip(path: Path, scenes: tuple[int, ...]) -> Path:
    """A copy of ``path`` with a bit flipped inside each of ``scenes``' chunks."""
    data = bytearray(path.read_bytes())
    with SpkcReader(path) as r:
        for k in scenes:
            data[int(r._offsets[k]) + int(r._sizes[k]) // 2] ^= 0x10
    out = path.with_name(path.stem + "-damaged.spkc")
    out.write_bytes(bytes(data))
    return out


# -- format ----------------------------------------------------------------------------------
def test_all_intra_files_stay_format_1_0(tmp_path):
    path = _compress(tmp_path, 20, 4, 1, interpolation="linear")  # motion would need 1.1
    with SpkcReader(path) as r:
        assert r.version == (1, 0)
        assert r.header.group_length == 1
    raw = path.read_bytes()
    assert b"group_length" not in raw and b'"gop"' not in raw


def test_group_files_are_format_1_1_with_group_length(tmp_path):
    path = _compress(tmp_path, 40, 4, 3)
    with SpkcReader(path) as r:
        assert r.version == (1, 1)
        assert r.header.group_length == 3
        assert [r.header.is_key_scene(k) for k in range(5)] == [True, False, False, True, False]
        assert r.header.codec_config["gop"] == 3


def test_header_group_length_must_match_codec(tmp_path):
    from spkc.container import Header, SpkcWriter

    path = _compress(tmp_path, 40, 4, 3)

    with SpkcReader(path) as r:
        h = r.header.to_json()
        payloads = [r.scene_payloads(k) for k in range(r.num_scenes)]
        counts = [r.scene_frames(k)[1] for k in range(r.num_scenes)]
    h["group_length"] = 2
    bad = tmp_path / "bad.spkc"
    with SpkcWriter(bad, Header.from_json(h)) as w:
        for p, c in zip(payloads, counts, strict=True):
            w.add_scene(p, c)
    with pytest.raises(CorruptFileError, match="group"):
        spkc.open(bad)


@pytest.mark.parametrize("value", [0, True, 1.5, 70000, "4"])
def test_header_rejects_bad_group_length(value):
    from spkc.container.header import Header, HeaderError

    with pytest.raises(HeaderError, match="group_length"):
        Header(height=8, width=8, frames_per_scene=1, group_length=value)


def test_gop_option_is_checked():
    with pytest.raises(InputError, match="gop"):
        DeltaTestCodec(gop=0)
    with pytest.raises(InputError, match="gop"):
        DeltaTestCodec(gop=True)
    assert DeltaTestCodec().group_length == 4
    assert DeltaTestCodec.from_config({"quality": 1}).group_length == 1  # old configs: intra


def test_intra_plugins_keep_todays_interface():
    # a third-party codec subclasses SceneCodec with encode/decode only; groups do not apply
    from spkc.pipeline.groups import group_length_of

    assert group_length_of(get_codec("raw")) == 1
    assert not issubclass(get_codec_class("raw"), InterSceneCodec)
    assert issubclass(InterSceneCodec, SceneCodec)


# -- structure round trips (hypothesis) ------------------------------------------------------
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gop=st.integers(1, 6), frames=st.integers(1, 30), fps=st.integers(1, 4),
       data=st.data())
def test_group_round_trip_random_access(tmp_path, gop, frames, fps, data):
    path = _compress(tmp_path, frames, fps, gop, name=f"g{gop}-t{frames}-s{fps}")
    with spkc.open(path, batch_size=data.draw(st.integers(1, 5))) as clip:
        full = clip.spikes()
        scenes = [clip.scene(k) for k in range(clip.num_scenes)]
        assert clip.header.group_length == gop
    # scenes equal the codec's decode of the whole clip
    with SpkcReader(path) as r:
        codec = DeltaTestCodec.from_config(r.header.codec_config)
        ref = codec.decode([r.scene_payloads(k) for k in range(r.num_scenes)], (16, 16))
    np.testing.assert_array_equal(np.stack(scenes), ref)
    # any span decodes to the same spikes, from a fresh clip
    a = data.draw(st.integers(0, frames - 1))
    b = data.draw(st.integers(a + 1, frames))
    with spkc.open(path) as clip:
        np.testing.assert_array_equal(clip.spikes(a, b), full[a:b])
    # random access to one frame decodes at most G + 1 scenes, from key scenes on
    t = data.draw(st.integers(0, frames - 1))
    with spkc.open(path) as clip:
        clip.scene_at(t)
        got = clip.stats.decoded_indices
        k = t // fps
        assert len(got) <= gop + 1
        assert {j // gop for j in got} <= {max(k - 1, 0) // gop, k // gop, (k + 1) // gop}


@given(gop=st.integers(1, 8), n=st.integers(1, 40),
       ks=st.lists(st.integers(0, 39), min_size=1, max_size=6))
def test_group_request_covers_and_starts_at_keys(gop, n, ks):
    ks = [k for k in ks if k < n] or [0]
    spans = group_request(ks, gop, n)
    covered = {k for a, b in spans for k in range(a, b + 1)}
    assert set(ks) <= covered
    for a, b in spans:
        assert a % gop == 0 and a <= b < min(a + gop, n)


# -- damage ----------------------------------------------------------------------------------
def test_damage_is_confined_to_the_rest_of_its_group(tmp_path):
    path = _compress(tmp_path, 40, 4, 4)  # 10 scenes: groups 0-3, 4-7, 8-9
    bad = _flip(path, (5,))
    with spkc.open(path) as clip:
        good = [clip.scene(k) for k in range(clip.num_scenes)]
    with spkc.open(bad) as clip:
        for k in (0, 3, 4, 8, 9):
            np.testing.assert_array_equal(clip.scene(k), good[k])
        with pytest.raises(SceneCorruptError, match="scene 5") as e5:
            clip.scene(5)
        assert e5.value.scene == 5
        with pytest.raises(SceneCorruptError, match="reference scene 5") as e7:
            clip.scene(7)
        assert e7.value.scene == 7
        assert sorted(clip.verify().bad_scenes) == [5, 6, 7]
    with spkc.open(bad, conceal=True) as clip:
        spikes = clip.spikes()
        assert {k: j for k, (_, j) in clip.concealed.items()} == {5: 4, 6: 4, 7: 8}
        assert spikes.shape == (40, 16, 16)
        for k in (0, 1, 2, 3, 4, 8, 9):
            np.testing.assert_array_equal(clip.scene(k), good[k])


def test_lost_key_scene_takes_its_group(tmp_path):
    path = _compress(tmp_path, 40, 4, 4)
    bad = _flip(path, (4,))
    with spkc.open(bad) as clip:
        assert sorted(clip.verify().bad_scenes) == [4, 5, 6, 7]
        np.testing.assert_array_equal(clip.scene(3), spkc.open(path).scene(3))


# -- conventional inter codecs ---------------------------------------------------------------
INTER = [c for c in ("hevc", "av1") if get_codec_class(c).availability()[0]]


@pytest.mark.parametrize("codec", INTER)
def test_inter_codec_decode_is_exact_across_batches_and_threads(tmp_path, codec):
    import torch

    path = _compress(tmp_path, 120, 8, 4, codec=codec, name=codec, h=32, w=48)
    outs = []
    threads = torch.get_num_threads()
    try:
        for bs, nt in ((1, 1), (3, 2), (8, 1)):
            torch.set_num_threads(nt)
            with spkc.open(path, batch_size=bs) as clip:
                outs.append((clip.spikes(), np.stack([clip.scene(k)
                                                       for k in range(clip.num_scenes)])))
    finally:
        torch.set_num_threads(threads)
    for spikes, scenes in outs[1:]:
        np.testing.assert_array_equal(spikes, outs[0][0])
        np.testing.assert_array_equal(scenes, outs[0][1])
    with spkc.open(path) as clip:
        np.testing.assert_array_equal(clip.spikes(50, 77), outs[0][0][50:77])
        assert clip.header.group_length == 4


@pytest.mark.parametrize("codec", INTER)
def test_inter_codec_group_prefix_and_damage(codec):
    c = get_codec(codec, gop=5)
    yy, xx = np.mgrid[:24, :40]
    scenes = np.stack([0.5 + 0.3 * np.sin((xx + 2 * t) / 5) * np.cos(yy / 7)
                       for t in range(7)]).astype(np.float32)
    p = c.encode(scenes)
    full = c.decode(p, (24, 40))
    assert full.shape == (7, 24, 40)
    np.testing.assert_array_equal(c.decode_group(p[:3], (24, 40)), full[:3])
    np.testing.assert_array_equal(c.decode_group(p[5:7], (24, 40)), full[5:7])
    assert np.abs(full - scenes).max() < 0.1
    broken = [dict(x) for x in p[:5]]
    body = bytearray(broken[2]["img"])
    body[-1] ^= 1
    broken[2]["img"] = bytes(body)
    with pytest.raises(SceneCorruptError) as e:
        c.decode_group(broken, (24, 40))
    assert e.value.scene == 2
    # inter coding spends fewer bits on the predicted scenes than intra coding does
    intra = get_codec(codec, gop=1).encode(scenes)
    size = sum(len(x["img"]) for x in p[1:5])
    assert size < sum(len(x["img"]) for x in intra[1:5])


def test_hevc_versions_mark_inter_bitstreams():
    assert get_codec("hevc").version == "1"
    assert get_codec("hevc", gop=8).version == "2"
    assert json.dumps(get_codec("hevc").get_config()) == '{"quality": 4}'


def test_eval_reports_group_length_and_split(tmp_path):
    from spkc.eval.engine import evaluate_run

    src = _source(tmp_path, 40)
    row = evaluate_run(src, "delta-test", 1, frames_per_scene=4, reconstructor="tfp",
                       radius=2, height=16, width=16, group_length=3)
    assert row["group_length"] == 3
    assert row["key_payload_bytes"] == 4 * 256 and row["inter_payload_bytes"] == 6 * 256
    # the rest of the payload bytes is the pipeline's motion side information (~motion)
    side = row["payload_bytes"] - row["key_payload_bytes"] - row["inter_payload_bytes"]
    assert 0 <= side < row["payload_bytes"] // 4
    intra = evaluate_run(src, "raw", 3, frames_per_scene=4, reconstructor="tfp", radius=2,
                         height=16, width=16, group_length=3)  # intra codecs ignore it
    assert intra["group_length"] == 1 and intra["inter_payload_bytes"] == 0


def test_compress_group_length_default_and_checks(tmp_path):
    from spkc.pipeline.compress import DEFAULT_GROUP_LENGTH, with_group_length

    assert with_group_length("hevc", None, None)["gop"] == DEFAULT_GROUP_LENGTH
    assert with_group_length("hevc", {"gop": 5}, None)["gop"] == 5
    assert with_group_length("hevc", {"gop": 5}, 1)["gop"] == 1
    assert with_group_length("delta-test", None, None)["gop"] == 4  # the codec's own default
    assert "gop" not in with_group_length("raw", None, None)
    assert "gop" not in with_group_length("raw", None, 1)
    with pytest.raises(InputError, match="no inter coding"):
        with_group_length("raw", None, 4)
    with pytest.raises(InputError, match="group length"):
        with_group_length("hevc", None, 0)


def test_cli_compress_gop(tmp_path):
    from click.testing import CliRunner

    from spkc.cli.main import cli

    src = _source(tmp_path, 40)
    out = tmp_path / "c.spkc"
    res = CliRunner().invoke(cli, ["compress", str(src), "-o", str(out), "--codec",
                                    "delta-test", "-S", "4", "-R", "2", "--gop", "3", "--quiet"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["info", str(out)])
    assert "groups of 3" in res.output and "format 1.1" in res.output
    res = CliRunner().invoke(cli, ["compress", str(src), "-o", str(tmp_path / "r.spkc"),
                                    "--codec", "raw", "--gop", "3", "--quiet"])
    assert res.exit_code != 0 and "no inter coding" in res.output
    assert "Traceback" not in res.output


def test_repair_keeps_groups_and_conceals_the_rest_of_a_group(tmp_path):
    from spkc.container import repair

    path = _compress(tmp_path, 40, 4, 4)
    fixed = tmp_path / "fixed.spkc"
    repair(_flip(path, (2,)), fixed)
    with SpkcReader(fixed) as r:
        assert r.version == (1, 1) and r.header.group_length == 4
    with spkc.open(fixed, conceal=True) as clip:
        clip.spikes()
        assert {k: j for k, (_, j) in clip.concealed.items()} == {2: 1, 3: 4}
