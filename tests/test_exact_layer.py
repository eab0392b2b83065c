"""The exact layer: a lossy .spkc that also carries the source spikes (spec/exact.md, 7)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from _helpers import if_spikes, killed_exact_write
from click.testing import CliRunner

import spkc
from spkc.cli.main import cli
from spkc.container import SpkcReader, repair
from spkc.container.format import PREAMBLE_SIZE, T_XBLOCK, is_critical, parse_chunk_head
from spkc.container.header import Header
from spkc.errors import BlockCorruptError, InputError, UnfinishedFileError
from spkc.io import write_spikes
from spkc.pipeline.exact_layer import strip

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "spec" / "decode-vectors"
META = {"created": "2026-01-01T00:00:00+00:00"}  # fixed, so two compressions can be compared


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> tuple[Path, np.ndarray]:
    s = if_spikes((70, 12, 20), seed=3)
    p = tmp_path_factory.mktemp("layer") / "src.npy"
    np.save(p, s)
    return p, s


def _compress(src: Path, dst: Path, exact: bool, block: int | None = 16, **kw):
    kw.setdefault("interpolation", "linear")  # format 1.0 without the layer (motion is 1.1)
    return spkc.compress(src, dst, codec="raw", frames_per_scene=8, metadata=META,
                         exact=exact, exact_block_frames=block if exact else None, **kw)


def _chunks(path: Path) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk after the preamble, in file order."""
    b = path.read_bytes()
    pos, out = PREAMBLE_SIZE, []
    while pos < len(b):
        ctype, hlen, length = parse_chunk_head(b[pos:pos + 13], len(b) - pos)
        out.append((ctype, b[pos + hlen:pos + hlen + length]))
        pos += hlen + length + 4
    return out


def test_round_trip_random_access_and_strip(tmp_path: Path, src) -> None:
    p, s = src
    both, plain, stripped = tmp_path / "both.spkc", tmp_path / "plain.spkc", tmp_path / "s.spkc"
    _compress(p, both, exact=True)
    _compress(p, plain, exact=False)
    with spkc.open(both) as clip, spkc.open(plain) as ref:
        assert clip.has_exact and not ref.has_exact
        assert clip._reader.version == (1, 1) and ref._reader.version == (1, 0)
        assert np.array_equal(clip.spikes(exact=True), s)
        assert np.array_equal(np.concatenate(list(clip.iter_spikes(exact=True))), s)
        assert np.array_equal(np.concatenate(list(clip.iter_spikes(7, 3, 50, exact=True))),
                              s[3:50])
        # the regenerated stream is untouched by the layer
        assert np.array_equal(clip.spikes(), ref.spikes())
        assert not np.array_equal(clip.spikes(), s)
    with spkc.open(both) as clip:  # random access decodes only the covering blocks
        assert np.array_equal(clip.spikes(33, 47, exact=True), s[33:47])
        assert clip.exact_layer.decoded_blocks == [2]
        assert clip.exact_layer.num_blocks == 5  # 70 frames in blocks of 16
    res = strip(both, stripped)
    assert res.format_version == "1.0" and res.layer_bytes > 0 and not res.lost_scenes
    # same scenes, same metadata: byte-identical to the file compress wrote without --exact
    assert stripped.read_bytes() == plain.read_bytes()
    with spkc.open(stripped) as clip:
        with pytest.raises(InputError, match="no exact layer"):
            clip.spikes(exact=True)


def test_a_reader_without_the_layer_reads_the_lossy_file(tmp_path: Path, src) -> None:
    """What a 1.0 reader interprets (critical chunks, sidx, SEND, header fields it knows) is
    the same with and without the layer; xblk/xidx are ancillary and are skipped."""
    p, _ = src
    both, plain = tmp_path / "both.spkc", tmp_path / "plain.spkc"
    _compress(p, both, exact=True)
    _compress(p, plain, exact=False)
    cb, cp = _chunks(both), _chunks(plain)
    extra = {t for t, _ in cb} - {t for t, _ in cp}
    assert extra == {b"xblk", b"xidx"} and not any(is_critical(t) for t in extra)
    crit_b = [(t, d) for t, d in cb if is_critical(t) and t not in (b"SPKH", b"SEND")]
    crit_p = [(t, d) for t, d in cp if is_critical(t) and t not in (b"SPKH", b"SEND")]
    assert crit_b == crit_p  # PKEY + SCNE chunks, byte for byte
    with SpkcReader(both) as rb, SpkcReader(plain) as rp:
        assert rb.complete and rb.num_scenes == rp.num_scenes
        for k in range(rp.num_scenes):
            assert rb.scene_payloads(k) == rp.scene_payloads(k)
        # a 1.0 header parser ignores the unknown key and gets the lossy header
        obj = rb.header.to_json()
        assert "exact_layer" in obj
        old = {k: v for k, v in obj.items() if k != "exact_layer"}
        assert Header.from_json(old) == rp.header
        # the forward scan (no index) finds the same scenes
        rb._from_scan(rb._forward_scan())
        assert rb.num_scenes == rp.num_scenes and not rb._scan.problems


def _damage_layer_block(path: Path, k: int) -> None:
    with SpkcReader(path) as r:
        off, size = r._layer[k]
    b = bytearray(path.read_bytes())
    b[off + size // 2] ^= 0x10
    path.write_bytes(bytes(b))


def test_damage_to_one_layer_block(tmp_path: Path, src) -> None:
    p, s = src
    dst = tmp_path / "d.spkc"
    _compress(p, dst, exact=True)
    with spkc.open(dst) as clip:
        lossy = clip.spikes()
    _damage_layer_block(dst, 1)
    with spkc.open(dst) as clip:
        assert np.array_equal(clip.spikes(), lossy)  # the lossy part does not care
        for a, b in ((0, 16), (32, 70)):
            assert np.array_equal(clip.spikes(a, b, exact=True), s[a:b])
        with pytest.raises(BlockCorruptError, match=r"exact layer block 1 \(frames 16\.\.31\)") \
                as ei:
            clip.spikes(20, 21, exact=True)
        assert ei.value.block == 1 and str(dst) in str(ei.value)
    with SpkcReader(dst) as r:
        rep = r.verify()
        assert any("exact layer block 1" in x for x in rep.problems) and not rep.ok
    # repair keeps the intact blocks and marks the damaged one lost
    fixed = tmp_path / "fixed.spkc"
    report = repair(dst, fixed)
    assert report.recovered_layer_blocks == 4 and [k for k, _ in report.lost_layer_blocks] == [1]
    with spkc.open(fixed) as clip:
        assert clip.complete and np.array_equal(clip.spikes(48, 70, exact=True), s[48:70])
        with pytest.raises(BlockCorruptError, match="lost before"):
            clip.spikes(16, 17, exact=True)
    # CLI: one line, no traceback
    r = CliRunner().invoke(cli, ["decompress", str(dst), "-o", str(tmp_path / "x.npy"),
                                 "--exact", "--quiet"])
    assert r.exit_code == 1 and "exact layer block 1" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "x.npy").exists()
    r = CliRunner().invoke(cli, ["verify", "--decode", str(dst)])
    assert r.exit_code == 1 and "exact layer block 1" in r.output


_KILL_CALL = """
    spkc.compress(sys.argv[1], sys.argv[2], codec="raw", frames_per_scene=4, exact=True,
                  exact_block_frames=4, quality=1)
"""


def test_killed_writer_leaves_every_flushed_layer_block(tmp_path: Path) -> None:
    s = if_spikes((1200, 8, 8), seed=7)
    part, flushed = killed_exact_write(tmp_path, _KILL_CALL, s, 20)
    with spkc.open(part) as clip:
        assert not clip.complete and clip.has_exact
        n = flushed + 1
        assert np.array_equal(clip.spikes(0, 4 * n, exact=True), s[:4 * n])
    with pytest.raises(UnfinishedFileError):
        spkc.decompress(part, tmp_path / "u.npy", exact=True)
    fixed = tmp_path / "fixed.spkc"
    report = repair(part, fixed)
    assert report.recovered_layer_blocks >= n
    with spkc.open(fixed) as clip:
        assert clip.complete
        assert np.array_equal(clip.spikes(0, 4 * n, exact=True), s[:4 * n])


def test_cli_compress_info_decompress_strip(tmp_path: Path) -> None:
    s = if_spikes((45, 10, 16), seed=5)
    src = tmp_path / "src.dat"
    write_spikes(src, s)
    dst, small = tmp_path / "c.spkc", tmp_path / "small.spkc"
    run = CliRunner().invoke
    r = run(cli, ["compress", str(src), "-o", str(dst), "--height", "10", "--width", "16",
                  "--codec", "raw", "-S", "8", "--exact", "--exact-block-frames", "16",
                  "--quiet"])
    assert r.exit_code == 0, r.output
    assert "exact layer" in r.output
    r = run(cli, ["info", str(dst)])
    assert r.exit_code == 0 and "exact layer" in r.output and "lossy (scenes)" in r.output
    d = json.loads(run(cli, ["info", str(dst), "--json"]).output)
    xl = d["exact_layer"]
    assert xl["blocks"] == 3 and xl["layer_bytes"] + xl["lossy_bytes"] == d["file_bytes"]
    assert d["format_version"] == "1.1"
    out = tmp_path / "out.dat"
    r = run(cli, ["decompress", str(dst), "-o", str(out), "--exact", "--quiet"])
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == src.read_bytes()
    r = run(cli, ["strip", str(dst), "-o", str(small)])
    assert r.exit_code == 0, r.output
    d2 = json.loads(run(cli, ["info", str(small), "--json"]).output)
    assert d2["exact_layer"] is None and d2["format_version"] == "1.0"
    assert d2["file_bytes"] < xl["lossy_bytes"]  # the header lost its exact_layer too
    with spkc.open(dst) as a, spkc.open(small) as b:
        assert np.array_equal(a.spikes(), b.spikes())
    # one-line errors
    exact_only = tmp_path / "e.spkc"
    spkc.compress(src, exact_only, codec="exact", height=10, width=16)
    for args, why in [
        (["decompress", str(small), "-o", str(tmp_path / "y.dat"), "--exact"], "no exact layer"),
        (["strip", str(small), "-o", str(tmp_path / "z.spkc")], "nothing to strip"),
        (["strip", str(exact_only), "-o", str(tmp_path / "z.spkc")], "nothing to strip"),
        (["strip", str(dst), "-o", str(dst)], "different output"),
        (["compress", str(src), "-o", str(tmp_path / "w.spkc"), "--codec", "raw",
          "--height", "10", "--width", "16", "--exact-block-frames", "8"], "needs exact"),
        (["compress", str(src), "-o", str(tmp_path / "w.spkc"), "--codec", "raw",
          "--height", "10", "--width", "16", "--exact", "--exact-block-frames", "0"],
         "block_frames"),
    ]:
        r = run(cli, args)
        assert r.exit_code == 1, (args, r.output)
        assert why in r.output and "Traceback" not in r.output
        assert len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "w.spkc").exists() and not (tmp_path / "z.spkc").exists()
    # an exact-only file already is the source: exact=True reads it the same
    with spkc.open(exact_only) as clip:
        assert clip.has_exact and np.array_equal(clip.spikes(exact=True), s)


def test_exact_layer_decode_vector() -> None:
    entry = json.loads((VECTORS / "manifest.json").read_text())["vectors"]["raw-exact"]
    path = VECTORS / entry["file"]
    with spkc.open(path) as clip:
        ex = clip.spikes(exact=True)
        assert list(ex.shape) == entry["shape"]
        assert hashlib.sha256(np.packbits(ex).tobytes()).hexdigest() == \
            entry["exact_spikes_sha256"]
        assert int(ex.sum()) == entry["exact_spike_count"]
        assert clip.exact_layer.block_frames == entry["exact_block_frames"]
    with SpkcReader(path) as r:
        assert r.version == (1, 1)
        assert [r.layer_block(k)[0] for k in range(r.num_layer_blocks)] == \
            entry["exact_block_methods"]
        assert T_XBLOCK in {t for t, _ in _chunks(path)}
