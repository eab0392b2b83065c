"""Property tests of the .spkc container: round trips, truncation, bit flips, garbage."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spkc.container import Header, SpkcReader, SpkcWriter
from spkc.container import format as fmt
from spkc.container.testing import exercise
from spkc.errors import CorruptFileError, SpkcError

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

names = st.text(max_size=12).filter(lambda s: len(s.encode("utf-8")) <= 255)
json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) \
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)


@st.composite
def headers(draw) -> Header:
    return Header(
        height=draw(st.integers(1, 65535)), width=draw(st.integers(1, 65535)),
        frames_per_scene=draw(st.integers(1, 2**31 - 1) | st.integers(1, 50)),
        frame_rate=draw(st.floats(0, 1e9, allow_nan=False)),
        codec=draw(names.filter(bool)), codec_version=draw(names),
        codec_config=draw(json_objects), reconstructor=draw(names),
        reconstructor_config=draw(json_objects), regen=draw(json_objects),
        codec_identity=draw(st.dictionaries(st.text(max_size=8), st.text(max_size=70),
                                            max_size=3)))


meta_values = st.text(max_size=600) | st.booleans() | st.integers(-(2**63), 2**64 - 1) \
    | st.floats(allow_nan=False, allow_infinity=False)
metadatas = st.dictionaries(st.text(max_size=20), meta_values, max_size=6)
payload_sets = st.dictionaries(names, st.binary(max_size=300), max_size=3)


@st.composite
def files(draw):
    h = draw(headers())
    meta = draw(metadatas)
    scenes = draw(st.lists(payload_sets, max_size=6))
    last = draw(st.integers(1, h.frames_per_scene))
    return h, meta, scenes, last


def _write(path: Path, h: Header, meta: dict, scenes: list, last: int) -> None:
    with SpkcWriter(path, h, meta) as w:
        for k, s in enumerate(scenes):
            w.add_scene(s, h.frames_per_scene if k < len(scenes) - 1 else last)


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="spkc-prop-")) / "f.spkc"


@SETTINGS
@given(files())
def test_round_trip(f) -> None:
    h, meta, scenes, last = f
    p = _tmp()
    _write(p, h, meta, scenes, last)
    with SpkcReader(p) as r:
        assert r.complete and r.header == h and r.metadata == meta
        assert r.num_scenes == len(scenes)
        assert r.num_frames == (0 if not scenes else (len(scenes) - 1) * h.frames_per_scene + last)
        for k in reversed(range(len(scenes))):
            assert r.scene_payloads(k) == scenes[k]
            assert list(r.scene_payloads(k)) == list(scenes[k])  # order kept
        assert r.payload_bytes() == sum(len(v) for s in scenes for v in s.values())
        assert r.verify().ok


def _small_file(tmp: Path, seed: int = 0, n: int = 4) -> tuple[Path, list, bytes]:
    p = tmp / "small.spkc"
    rng = random.Random(seed)
    scenes = [{"y": rng.randbytes(rng.randrange(0, 40)), "z": rng.randbytes(5)} for _ in range(n)]
    scenes[2] = {"img": rng.randbytes(9)}  # a second keyset mid-file
    h = Header(height=3, width=5, frames_per_scene=4, codec="raw")
    with SpkcWriter(p, h, {"k": "v"}) as w:
        for k, s in enumerate(scenes):
            w.add_scene(s, 4 if k < n - 1 else 2)
    return p, scenes, p.read_bytes()


def test_truncation_at_every_byte(tmp_path: Path) -> None:
    p, scenes, good = _small_file(tmp_path)
    with SpkcReader(p) as r:
        ends = [int(r._offsets[k] + r._sizes[k]) for k in range(len(scenes))]
        data_start = r._data_start
    cut_path = tmp_path / "cut.spkc"
    for cut in range(len(good)):
        cut_path.write_bytes(good[:cut])
        if cut < data_start:
            with pytest.raises(CorruptFileError):
                SpkcReader(cut_path)
            continue
        with SpkcReader(cut_path) as r:
            whole = sum(e <= cut for e in ends)
            assert not r.complete
            assert r.num_scenes == whole, cut
            for k in range(whole):
                assert r.scene_payloads(k) == scenes[k]
            assert r.num_frames == (0 if whole == 0 else (whole - 1) * 4
                                    + (2 if whole == len(scenes) else 4))
            assert not r.verify().ok


@SETTINGS
@given(seed=st.integers(0, 2**32), flips=st.lists(st.integers(0, 10**9), min_size=1,
                                                   max_size=4, unique=True))
def test_bit_flips_are_detected(seed: int, flips: list[int]) -> None:
    tmp = _tmp().parent
    p, scenes, good = _small_file(tmp, seed)
    b = bytearray(good)
    bits = {f % (8 * len(b)) for f in flips}
    for bit in bits:
        b[bit // 8] ^= 1 << (bit % 8)
    p.write_bytes(bytes(b))
    try:
        got = exercise(p)
    except SpkcError:
        return  # detected at open (preamble / header)
    assert not got["report"].ok, f"flipped bits {sorted(bits)} went unnoticed"
    for k, payloads in got["scenes"].items():
        assert payloads is None or payloads == scenes[k], "damaged data returned as good"
    assert got["metadata"] in (None, {"k": "v"})


@SETTINGS
@given(st.binary(max_size=2000))
def test_garbage_raises_only_spkc_errors(data: bytes) -> None:
    p = _tmp()
    p.write_bytes(data)
    with pytest.raises(SpkcError):
        exercise(p)


@SETTINGS
@given(st.binary(max_size=600), st.integers(0, 2))
def test_garbage_after_valid_header(data: bytes, mode: int) -> None:
    tmp = _tmp().parent
    p, _, good = _small_file(tmp)
    with SpkcReader(p) as r:
        start = r._data_start
    # garbage in place of the chunks; or garbage that starts with a valid-looking chunk tag
    prefix = good[:start] + ([b"", b"SCNE", b"sidx"][mode])
    p.write_bytes(prefix + data)
    try:
        exercise(p)
    except SpkcError:
        pass


mutations = st.lists(st.tuples(st.sampled_from(["set", "insert", "delete", "dup", "chunk"]),
                               st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
                     min_size=1, max_size=5)


@SETTINGS
@given(seed=st.integers(0, 1000), muts=mutations)
def test_mutated_files_raise_only_spkc_errors(seed: int, muts) -> None:
    tmp = _tmp().parent
    p, _, good = _small_file(tmp, seed)
    b = bytearray(good)
    for op, pos, blob in muts:
        i = pos % (len(b) + 1)
        if op == "set" and b:
            b[i % len(b)] = blob[0]
        elif op == "insert":
            b[i:i] = blob
        elif op == "delete":
            del b[i : i + len(blob)]
        elif op == "dup":
            b[i:i] = b[i : i + 16 * len(blob)]
        elif op == "chunk":  # a CRC-valid chunk of a random (maybe known) type
            ctype = bytes(65 + c % 26 + (32 if c & 64 else 0) for c in (blob * 4)[:4])
            ctype = [ctype, fmt.T_SCENE, fmt.T_KEYS, fmt.T_META][pos % 4]
            b[i:i] = fmt.make_chunk(ctype, blob * (pos % 7))
    p.write_bytes(bytes(b))
    try:
        exercise(p)
    except SpkcError:
        pass
