"""The .spkc container: round trips, random access, damage, unfinished files, repair, CLI."""

from __future__ import annotations

import os
import random
import struct
import textwrap
from pathlib import Path

import pytest
import zstandard
from _helpers import kill_writer_after
from click.testing import CliRunner

from spkc.container import Header, SpkcReader, SpkcWriter, repair
from spkc.container import format as fmt
from spkc.container.testing import exercise
from spkc.errors import (
    CorruptFileError,
    InputError,
    SceneCorruptError,
    SpkcError,
    UnsupportedVersionError,
)

HDR = Header(height=250, width=400, frames_per_scene=41, frame_rate=20000.0, codec="jxl",
             codec_version="2", codec_config={"quality": 3, "distance": 1.5},
             reconstructor="tfp", reconstructor_config={"radius": 20},
             regen={"gain": 0.21, "threshold": 1.0, "seed": 7},
             codec_identity={"weights_sha256": "ab" * 32})


def _payloads(rng: random.Random, k: int) -> dict[str, bytes]:
    return {"y": rng.randbytes(50 + k * 7), "z": rng.randbytes(10 + k)}


def write_file(path: Path, n: int = 10, last: int = 17, meta: dict | None = None,
               header: Header = HDR, seed: int = 0) -> list[dict[str, bytes]]:
    rng = random.Random(seed)
    scenes = [_payloads(rng, k) for k in range(n)]
    with SpkcWriter(path, header, meta) as w:
        for k, p in enumerate(scenes):
            assert w.add_scene(p, header.frames_per_scene if k < n - 1 else last) == k
    return scenes


def test_round_trip_and_random_access(tmp_path: Path) -> None:
    p = tmp_path / "a.spkc"
    meta = {"source": "203_part2.dat", "camera": "vidar", "capture_hz": 20000, "flip": True,
            "gain": 0.5}
    scenes = write_file(p, n=10, last=17, meta=meta)
    assert not (tmp_path / "a.spkc.partial").exists()
    with SpkcReader(p) as r:
        assert r.complete and r.header == HDR and r.metadata == meta
        assert r.num_scenes == 10 and r.num_frames == 9 * 41 + 17
        assert r.payload_bytes() == sum(len(v) for s in scenes for v in s.values())
        assert r.file_size == p.stat().st_size
        for k in (7, 0, 9, 3):  # any order
            assert r.scene_payloads(k) == scenes[k]
            assert list(r.scene_payloads(k)) == ["y", "z"]
        assert r.scene_frames(9) == (9 * 41, 17)
        assert r.scene_for_frame(0) == 0 and r.scene_for_frame(40) == 0
        assert r.scene_for_frame(41) == 1 and r.scene_for_frame(r.num_frames - 1) == 9
        for bad in (-1, r.num_frames):
            with pytest.raises(InputError, match="out of range"):
                r.scene_for_frame(bad)
        with pytest.raises(InputError, match=str(p)):
            r.scene_payloads(10)
        rep = r.verify()
        assert rep.ok and rep.damaged_scenes == [] and rep.problems == []


def test_changing_keysets_and_empty_payloads(tmp_path: Path) -> None:
    p = tmp_path / "k.spkc"
    h = Header(height=2, width=3, frames_per_scene=4)
    scenes = [{"img": b"\x00" * 5}, {}, {"y": b"", "z": b"12"}, {"img": b""}, {"é": b"x" * 300}]
    with SpkcWriter(p, h) as w:
        for s in scenes:
            w.add_scene(s, 4)
    with SpkcReader(p) as r:
        assert [r.scene_payloads(k) for k in range(5)] == scenes
        assert r.metadata == {}


def test_empty_file_has_no_scenes(tmp_path: Path) -> None:
    p = tmp_path / "e.spkc"
    with SpkcWriter(p, HDR):
        pass
    with SpkcReader(p) as r:
        assert r.complete and r.num_scenes == 0 and r.num_frames == 0 and r.verify().ok


def test_overhead_below_half_percent(tmp_path: Path) -> None:
    # 1000 scenes at 0.3 bpp of 250x400 = 3750 payload bytes per scene on average (+-10 %, so
    # the index cannot compress to nothing; split as a hyperprior codec would: latent + side
    # information); the header carries a realistic config.
    p = tmp_path / "big.spkc"
    rng = random.Random(1)
    meta = {"source": "/data/recordings/203_part2.dat", "camera": "vidar-250x400",
            "notes": "overhead test"}
    with SpkcWriter(p, HDR, meta) as w:
        for _ in range(1000):
            total = rng.randrange(3375, 4126)
            zlen = rng.randrange(600, 900)
            w.add_scene({"y": rng.randbytes(total - zlen), "z": rng.randbytes(zlen)}, 41)
    with SpkcReader(p) as r:
        payload = r.payload_bytes()
        overhead = (r.file_size - payload) / payload
    assert abs(payload / 1000 - 3750) < 50
    assert overhead < 0.005, f"container overhead {overhead:.4%}"


def test_header_validation() -> None:
    with pytest.raises(InputError, match="height"):
        Header(height=0, width=4, frames_per_scene=1)
    with pytest.raises(InputError, match="frame_rate"):
        Header(height=1, width=4, frames_per_scene=1, frame_rate=float("nan"))
    with pytest.raises(InputError, match="JSON"):
        Header(height=1, width=4, frames_per_scene=1, codec_config={"a": (1, 2)})
    with pytest.raises(InputError, match="codec"):
        Header(height=1, width=4, frames_per_scene=1, codec="")


def test_writer_rejects_bad_input(tmp_path: Path) -> None:
    p = tmp_path / "w.spkc"
    with pytest.raises(InputError, match="metadata"):
        SpkcWriter(p, HDR, {"a": [1]})
    w = SpkcWriter(p, HDR)
    with pytest.raises(InputError, match="num_frames"):
        w.add_scene({"a": b""}, 42)
    with pytest.raises(InputError, match="not bytes"):
        w.add_scene({"a": "text"}, 41)
    w.add_scene({"a": b"1"}, 40)
    with pytest.raises(InputError, match="only the last scene"):
        w.add_scene({"a": b"1"}, 41)
    w.abort()
    assert not p.exists() and not Path(str(p) + ".partial").exists()


def test_exception_in_context_leaves_only_partial(tmp_path: Path) -> None:
    p = tmp_path / "x.spkc"
    with pytest.raises(RuntimeError), SpkcWriter(p, HDR, {"n": 1}) as w:
        for k in range(3):
            w.add_scene({"y": bytes([k]) * 100}, 41)
        raise RuntimeError("encoder crashed")
    assert not p.exists()
    part = Path(str(p) + ".partial")
    with SpkcReader(part) as r:
        assert not r.complete and r.num_scenes == 3 and r.metadata == {"n": 1}
        assert r.scene_payloads(2) == {"y": b"\x02" * 100}
        assert not r.verify().ok  # unfinished: no index


def test_damaged_scene_fails_alone(tmp_path: Path) -> None:
    p = tmp_path / "d.spkc"
    scenes = write_file(p, n=8)
    with SpkcReader(p) as r:
        off, size = int(r._offsets[5]), int(r._sizes[5])
    b = bytearray(p.read_bytes())
    b[off + size // 2] ^= 0x10
    p.write_bytes(b)
    with SpkcReader(p) as r:
        assert r.complete
        with pytest.raises(SceneCorruptError, match="scene 5") as ei:
            r.scene_payloads(5)
        assert ei.value.scene == 5 and str(p) in str(ei.value)
        for k in set(range(8)) - {5}:
            assert r.scene_payloads(k) == scenes[k]
        rep = r.verify()
        assert not rep.ok and [k for k, _ in rep.damaged_scenes] == [5]


def test_header_damage_is_clear(tmp_path: Path) -> None:
    p = tmp_path / "h.spkc"
    write_file(p, n=2)
    b = bytearray(p.read_bytes())
    b[fmt.PREAMBLE_SIZE + 20] ^= 1
    p.write_bytes(b)
    with pytest.raises(CorruptFileError, match="header"):
        SpkcReader(p)
    p.write_bytes(b"hello world, not spkc at all")
    with pytest.raises(CorruptFileError, match="signature"):
        SpkcReader(p)
    with pytest.raises(InputError, match="no such file"):
        SpkcReader(tmp_path / "missing.spkc")
    with pytest.raises(InputError, match="directory"):
        SpkcReader(tmp_path)


def test_version_rules(tmp_path: Path) -> None:
    p = tmp_path / "v.spkc"
    scenes = write_file(p, n=3)
    b = p.read_bytes()
    # newer minor version: readable
    p.write_bytes(fmt.make_preamble(1, 7) + b[fmt.PREAMBLE_SIZE:])
    with SpkcReader(p) as r:
        assert r.version == (1, 7) and r.scene_payloads(2) == scenes[2]
    # unknown major: refused
    p.write_bytes(fmt.make_preamble(2, 0) + b[fmt.PREAMBLE_SIZE:])
    with pytest.raises(UnsupportedVersionError, match="2.0"):
        SpkcReader(p)


def test_unknown_chunks(tmp_path: Path) -> None:
    p = tmp_path / "u.spkc"
    scenes = write_file(p, n=3)
    with SpkcReader(p) as r:
        cut = int(r._offsets[1])  # insert before scene 1, in an unfinished copy (forward scan)
        end = r._index_offset
    b = p.read_bytes()
    anc = fmt.make_chunk(b"xtra", b"future ancillary data")
    p.write_bytes(b[:cut] + anc + b[cut:end])
    with SpkcReader(p) as r:
        assert not r.complete and r.num_scenes == 3
        assert [r.scene_payloads(k) for k in range(3)] == scenes
    crit = fmt.make_chunk(b"XTRA", b"future critical data")
    p.write_bytes(b[:cut] + crit + b[cut:end])
    with pytest.raises(UnsupportedVersionError, match="XTRA"):
        SpkcReader(p)


def test_large_metadata_is_compressed_and_bombs_refused(tmp_path: Path) -> None:
    p = tmp_path / "m.spkc"
    meta = {f"note{i}": "spike camera " * 20 for i in range(50)}
    write_file(p, n=1, last=41, meta=meta)
    raw = len(str(meta))
    with SpkcReader(p) as r:
        assert r.metadata == meta
        assert r.file_size < raw / 5
        meta_off = r._meta_loc[0]
    # a metadata chunk whose zstd frame claims 1 GiB must be refused without allocating it
    b = p.read_bytes()
    _, hlen, length = fmt.parse_chunk_head(b[meta_off:meta_off + 14], len(b) - meta_off)
    bomb = zstandard.ZstdCompressor().compress(b"\x00" * (fmt.MAX_JSON_BYTES + 1))
    chunk = fmt.make_chunk(fmt.T_META, bytes([fmt.BLOB_ZSTD]) + bomb)
    p.write_bytes(b[:meta_off] + chunk + b[meta_off + hlen + length + 4:])
    with SpkcReader(p) as r:  # index offsets moved: forward scan, scenes still read
        assert r.num_scenes == 1
        with pytest.raises(CorruptFileError, match="metadata"):
            r.metadata  # noqa: B018


def test_hostile_index_falls_back_to_scan(tmp_path: Path) -> None:
    p = tmp_path / "i.spkc"
    scenes = write_file(p, n=4)
    b = bytearray(p.read_bytes())
    # a CRC-valid end chunk that claims 2**40 scenes
    end_off = len(b) - fmt.END_CHUNK_SIZE
    index_offset = struct.unpack_from("<Q", b, end_off + 5)[0]
    fake = fmt.make_chunk(fmt.T_END, struct.pack("<QQQQ", index_offset, 1 << 40, 41, 0))
    p.write_bytes(bytes(b[:end_off]) + fake)
    with SpkcReader(p) as r:
        assert not r.complete and "scenes" in r.index_status
        assert [r.scene_payloads(k) for k in range(4)] == scenes


def test_repair_rebuilds_index_and_keeps_frame_positions(tmp_path: Path) -> None:
    p = tmp_path / "r.spkc"
    scenes = write_file(p, n=6, last=5, meta={"a": "b"})
    with SpkcReader(p) as r:
        off2 = int(r._offsets[2])
        end4 = int(r._offsets[4] + r._sizes[4])
    b = bytearray(p.read_bytes())
    b[off2 + 3] ^= 0xFF  # break scene 2's length field: the scan must resync
    p.write_bytes(bytes(b[:end4]))  # and cut after scene 4 (scene 5 is lost with the tail)
    out = tmp_path / "fixed.spkc"
    rep = repair(p, out)
    assert rep.recovered_scenes == 4 and [k for k, _ in rep.lost_scenes] == [2]
    with SpkcReader(out) as r:
        assert r.complete and r.num_scenes == 5 and r.metadata == {"a": "b"}
        assert r.num_frames == 5 * 41
        for k in (0, 1, 3, 4):
            assert r.scene_payloads(k) == scenes[k]
        with pytest.raises(SceneCorruptError, match="lost"):
            r.scene_payloads(2)
    with pytest.raises(InputError):
        repair(out, out)


_KILL_SCRIPT = textwrap.dedent("""
    import random, sys, time
    from spkc.container import Header, SpkcWriter
    w = SpkcWriter(sys.argv[1], Header(height=8, width=8, frames_per_scene=10), {"who": "child"})
    rng = random.Random(3)
    k = 0
    while True:
        w.add_scene({"y": rng.randbytes(200 + k), "z": rng.randbytes(30)}, 10)
        print(k, flush=True)
        k += 1
        time.sleep(0.002)
""")


def test_kill_9_mid_write_then_recover(tmp_path: Path) -> None:
    p = tmp_path / "killed.spkc"
    flushed = kill_writer_after(_KILL_SCRIPT, [str(p)], 40)
    assert flushed >= 40, "child did not write scenes"
    assert not p.exists()
    part = Path(str(p) + ".partial")
    rng = random.Random(3)
    with SpkcReader(part) as r:
        assert not r.complete and r.metadata == {"who": "child"}
        assert r.num_scenes >= flushed + 1  # every scene reported flushed is there
        for k in range(r.num_scenes):
            expect = {"y": rng.randbytes(200 + k), "z": rng.randbytes(30)}
            assert r.scene_payloads(k) == expect
    out = tmp_path / "recovered.spkc"
    rep = repair(part, out)
    assert rep.lost_scenes == [] and rep.recovered_scenes >= flushed + 1
    with SpkcReader(out) as r:
        assert r.complete and r.verify().ok


def test_exercise_on_garbage_raises_only_spkc_errors(tmp_path: Path) -> None:
    p = tmp_path / "g.spkc"
    write_file(p, n=3)
    good = p.read_bytes()
    rng = random.Random(5)
    for i in range(200):
        b = bytearray(good)
        for _ in range(rng.randrange(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        if i % 3 == 0:
            cut = rng.randrange(len(b))
            b = b[:cut] + rng.randbytes(rng.randrange(40))
        p.write_bytes(bytes(b))
        try:
            exercise(p)
        except SpkcError:
            pass


def test_cli_verify_and_repair(tmp_path: Path) -> None:
    from spkc.cli.main import cli

    p = tmp_path / "c.spkc"
    write_file(p, n=3)
    runner = CliRunner()
    res = runner.invoke(cli, ["verify", str(p)])
    assert res.exit_code == 0 and "OK" in res.output
    p.write_bytes(p.read_bytes()[:-10])
    res = runner.invoke(cli, ["verify", str(p)])
    assert res.exit_code == 1 and "DAMAGED" in res.output
    out = tmp_path / "o.spkc"
    res = runner.invoke(cli, ["repair", str(p), "-o", str(out)])
    assert res.exit_code == 0 and "recovered 3 of 3" in res.output
    res = runner.invoke(cli, ["verify", str(out)])
    assert res.exit_code == 0
    res = runner.invoke(cli, ["verify", str(tmp_path / "nope.spkc")])
    assert res.exit_code == 1 and "no such file" in res.output


class _PreadCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.bytes = 0
        real = os.pread

        def counting(fd: int, n: int, off: int) -> bytes:
            self.calls += 1
            self.bytes += n
            return real(fd, n, off)

        monkeypatch.setattr(os, "pread", counting)


@pytest.mark.skipif(not hasattr(os, "pread"), reason="counts os.pread calls")
def test_open_and_scene_reads_touch_o1_chunks(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "ra.spkc"
    rng = random.Random(2)
    h = Header(height=8, width=8, frames_per_scene=3)
    with SpkcWriter(p, h) as w:
        for _ in range(3000):
            w.add_scene({"y": rng.randbytes(rng.randrange(20, 60))}, 3)
    count = _PreadCounter(monkeypatch)
    with SpkcReader(p) as r:
        # preamble, header peek + read, metadata peek, end chunk (peek + read), index (2)
        assert count.calls <= 8
        assert count.bytes < 2 * (r.file_size - r._index_offset) + 2000
        before = count.calls, count.bytes
        r.scene_payloads(r.scene_for_frame(7777))
        assert count.calls - before[0] == 1
        assert count.bytes - before[1] == int(r._sizes[7777 // 3])


@pytest.mark.skipif(not hasattr(os, "pread"), reason="counts os.pread calls")
def test_fake_chunk_tags_cost_linear_work(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # after a valid header: 100 kB of fake scene chunk starts, each claiming 50 kB of data.
    # Without the resync budget the scan would CRC ~ n^2/2 bytes.
    p = tmp_path / "dos.spkc"
    write_file(p, n=1)
    with SpkcReader(p) as r:
        start = r._data_start
    fake = b"SCNE" + fmt.uvarint(50_000)
    p.write_bytes(p.read_bytes()[:start] + fake * (100_000 // len(fake)))
    count = _PreadCounter(monkeypatch)
    with SpkcReader(p) as r:
        assert r.num_scenes == 0 and not r.complete
        assert count.bytes < 20 * r.file_size + (64 << 20) + 10**6
