"""Conformance: the committed spec/test-vectors must read exactly as manifest.json says, and the
current writer must still produce files that read the same way."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tool_loader import load_tool

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "spec" / "test-vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text())


def _generator():
    return load_tool("make_test_vectors")


def _ids(v: dict) -> str:
    return v["file"]


def test_manifest_covers_the_cases() -> None:
    files = {v["file"] for v in MANIFEST["vectors"]}
    assert {"minimal.spkc", "multi.spkc", "unfinished.spkc", "damaged-scene.spkc",
            "future-major.spkc"} <= files
    assert files == {p.name for p in VECTORS.glob("*.spkc")}


@pytest.mark.parametrize("vector", MANIFEST["vectors"], ids=_ids)
def test_committed_vector_reads_as_manifest_says(vector: dict) -> None:
    path = VECTORS / vector["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == vector["sha256"], \
        "a committed test vector changed; vectors are frozen once published"
    got = _generator().describe(path, vector["description"])
    assert got == vector


def test_fresh_vectors_read_the_same(tmp_path: Path) -> None:
    gen = _generator()
    fresh = gen.build(tmp_path)
    by_name = {v["file"]: v for v in MANIFEST["vectors"]}
    for v in fresh:
        want = dict(by_name[v["file"]])
        got = dict(v)
        want.pop("sha256")
        got.pop("sha256")
        assert got == want, v["file"]


# -- an independent reader written from spec/spkc.md alone ---------------------------------------
# It shares no code with spkc.container: if the spec's byte tables and the implementation drift
# apart, this disagrees with the manifest. Forward scan only (sections 2, 3, 5, 7), no resync.

def _varint(b: bytes, i: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def _blob(data: bytes):
    import zstandard

    body = data[1:] if data[0] == 0 else zstandard.ZstdDecompressor().decompress(data[1:])
    return json.loads(body)


def _spec_reader(path: Path) -> dict:
    import struct

    import crc32c

    b = path.read_bytes()
    if b[:8] != b"\x89SPKC\r\n\x1a" or crc32c.crc32c(b[:12]) != struct.unpack_from("<I", b, 12)[0]:
        return {"error": "CorruptFileError"}
    major, minor = struct.unpack_from("<HH", b, 8)
    if major != 1:
        return {"error": "UnsupportedVersionError"}
    pos, header, meta, keysets, scenes, end = 16, None, {}, [], {}, None
    while pos + 9 <= len(b):
        ctype = b[pos : pos + 4]
        length, d = _varint(b, pos + 4)
        if d + length + 4 > len(b):
            break  # truncated: an unfinished file
        data = b[d : d + length]
        ok = crc32c.crc32c(b[pos : d + length]) == struct.unpack_from("<I", b, d + length)[0]
        pos = d + length + 4
        if header is None:
            if not ok or ctype != b"SPKH":
                return {"error": "CorruptFileError"}
            header = _blob(data)
        elif ctype == b"SCNE":
            if not ok:
                scenes[len(scenes)] = None
                continue
            k, i = _varint(data, 0)
            desc, i = _varint(data, i)
            nf = header["frames_per_scene"]
            if desc & 1:
                nf, i = _varint(data, i)
            if desc & 2:
                scenes[k] = (nf, None)
                continue
            keys = keysets[desc >> 2]
            lens = []
            for _ in keys[:-1]:
                n, i = _varint(data, i)
                lens.append(n)
            if keys:
                lens.append(len(data) - i - sum(lens))
            pl = {}
            for key, n in zip(keys, lens, strict=True):
                pl[key] = data[i : i + n]
                i += n
            scenes[k] = (nf, pl)
        elif ok and ctype == b"PKEY":
            _, i = _varint(data, 0)
            count, i = _varint(data, i)
            keys = []
            for _ in range(count):
                n, i = _varint(data, i)
                keys.append(data[i : i + n].decode())
                i += n
            keysets.append(keys)
        elif ok and ctype == b"meta":
            meta = _blob(data)
        elif ok and ctype == b"SEND":
            end = struct.unpack("<QQQQ", data)
    fps = header["frames_per_scene"]
    n = len(scenes)
    last = scenes[n - 1][0] if n and scenes[n - 1] else fps
    out = {"error": None, "version": [major, minor], "complete": end is not None,
           "num_scenes": n, "num_frames": 0 if n == 0 else (n - 1) * fps + last,
           "header": header, "metadata": meta, "scenes": []}
    for k in range(n):
        s: dict = {"first_frame": k * fps, "num_frames": min(fps, out["num_frames"] - k * fps)}
        if scenes[k] is None or scenes[k][1] is None:
            s["damaged"] = True
        else:
            s["payloads"] = {key: {"size": len(v), "sha256": hashlib.sha256(v).hexdigest()}
                             for key, v in scenes[k][1].items()}
        out["scenes"].append(s)
    if end is not None:
        assert end[1:3] == (out["num_scenes"], out["num_frames"])
    return out


@pytest.mark.parametrize("vector", MANIFEST["vectors"], ids=_ids)
def test_independent_spec_reader_agrees(vector: dict) -> None:
    got = _spec_reader(VECTORS / vector["file"])
    want = {k: v for k, v in vector.items() if k not in ("file", "description", "sha256")}
    if want["error"]:
        want = {"error": want["error"]}
    assert got == want
