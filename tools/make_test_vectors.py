#!/usr/bin/env python
"""Write the .spkc conformance vectors and their manifest (spec/test-vectors/).

Usage: python tools/make_test_vectors.py [--out spec/test-vectors]

Each vector is a small .spkc file; ``manifest.json`` lists, per file, its SHA-256 and what a
conforming reader must report: an error class, or completeness, scene/frame counts, header,
metadata and the size + SHA-256 of every payload of every scene (or that the scene is damaged).
Payloads are pseudo-random bytes from fixed seeds, so the vectors are reproducible; the file
bytes themselves may differ across zstd versions, which is why tests/test_conformance.py checks
the committed files against the manifest, and fresh output against the same expectations.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

from spkc.container import Header, SpkcReader, SpkcWriter, repair
from spkc.container import format as fmt
from spkc.errors import SceneCorruptError, SpkcError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "spec" / "test-vectors"


def _hdr(**kw) -> Header:
    base = dict(height=250, width=400, frames_per_scene=41, frame_rate=20000.0, codec="learned",
                codec_version="1", codec_config={"quality": 3, "lambda": 0.0067},
                reconstructor="tfp", reconstructor_config={"radius": 20},
                regen={"model": "iaf", "threshold": 1.0, "gain": 0.2126},
                codec_identity={"weights_sha256": hashlib.sha256(b"weights").hexdigest()})
    base.update(kw)
    return Header(**base)


def _scenes(seed: int, n: int, keysets: list[list[str]]) -> list[dict[str, bytes]]:
    rng = random.Random(seed)
    return [{k: rng.randbytes(rng.randrange(0, 300)) for k in keysets[i % len(keysets)]}
            for i in range(n)]


def _write(path: Path, h: Header, meta: dict | None, scenes: list, last: int,
           between: dict[int, bytes] | None = None) -> None:
    with SpkcWriter(path, h, meta) as w:
        for k, s in enumerate(scenes):
            if between and k in between:
                w._write(between[k])  # a chunk a future writer might add between scenes
            w.add_scene(s, h.frames_per_scene if k < len(scenes) - 1 else last)


def build(out: Path) -> list[dict]:
    """Write every vector into ``out``; returns the manifest's ``vectors`` list."""
    out.mkdir(parents=True, exist_ok=True)
    made: list[tuple[str, str]] = []

    def add(name: str, desc: str) -> Path:
        made.append((name, desc))
        return out / name

    _write(add("minimal.spkc", "one scene, one payload, no metadata"),
           Header(height=1, width=1, frames_per_scene=1, codec="raw"), None,
           [{"img": b"\x00\x01\x02\x03"}], 1)
    _write(add("empty.spkc", "a complete file with no scenes"), _hdr(), {"note": "empty"}, [], 1)
    _write(add("multi.spkc", "7 scenes, two payload keysets, a short last scene, "
               "zstd-compressed metadata"), _hdr(),
           {"source": "203_part2.dat", "camera": "vidar", "capture_hz": 20000, "flip": True,
            "scale": 425.0, "notes": "spike camera test vector " * 40},
           _scenes(1, 7, [["y", "z"], ["y", "z"], ["img"]]), 13)
    _write(add("future-minor.spkc", "format 1.9 with unknown ancillary chunks between scenes "
               "(readers skip them)"), _hdr(frames_per_scene=3), {"a": 1},
           _scenes(2, 4, [["p"]]), 3,
           between={1: fmt.make_chunk(b"xfut", b"future ancillary"),
                    3: fmt.make_chunk(b"xfuT", b"")})
    p = out / "future-minor.spkc"
    b = p.read_bytes()
    p.write_bytes(fmt.make_preamble(1, 9) + b[fmt.PREAMBLE_SIZE:])

    # unfinished: writer killed while writing scene 4 (no index, no end chunk)
    p = add("unfinished.spkc", "writer died mid-scene: 4 whole scenes, a cut 5th, no index")
    _write(p, _hdr(frames_per_scene=10), {"who": "killed writer"},
           _scenes(3, 5, [["y", "z"]]), 10)
    with SpkcReader(p) as r:
        cut = int(r._offsets[4]) + int(r._sizes[4]) // 2
    p.write_bytes(p.read_bytes()[:cut])

    # one flipped bit inside scene 2's data
    p = add("damaged-scene.spkc", "complete file, one bit flipped in scene 2: only it fails")
    _write(p, _hdr(frames_per_scene=5), None, _scenes(4, 5, [["y", "z"]]), 5)
    with SpkcReader(p) as r:
        pos = int(r._offsets[2]) + int(r._sizes[2]) - 7
    b = bytearray(p.read_bytes())
    b[pos] ^= 0x08
    p.write_bytes(bytes(b))

    p = add("repaired.spkc", "output of repair: scene 2 is a lost placeholder, later scenes "
            "keep their frames")
    repair(out / "damaged-scene.spkc", p)

    p = add("future-major.spkc", "format 2.0: readers must refuse (UnsupportedVersionError)")
    b = (out / "minimal.spkc").read_bytes()
    p.write_bytes(fmt.make_preamble(2, 0) + b[fmt.PREAMBLE_SIZE:])

    p = add("bad-header.spkc", "header chunk damaged: readers must refuse (CorruptFileError)")
    b = bytearray((out / "minimal.spkc").read_bytes())
    b[fmt.PREAMBLE_SIZE + 8] ^= 0x01
    p.write_bytes(bytes(b))

    return [describe(out / name, desc) for name, desc in made]


def describe(path: Path, description: str = "") -> dict:
    """What a conforming reader reports for ``path`` (the manifest entry)."""
    entry: dict = {"file": path.name, "description": description,
                   "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    try:
        r = SpkcReader(path)
    except SpkcError as exc:
        entry["error"] = type(exc).__name__
        return entry
    with r:
        try:
            meta = r.metadata
        except SpkcError:
            meta = "damaged"
        scenes = []
        for k in range(r.num_scenes):
            first, n = r.scene_frames(k)
            s: dict = {"first_frame": first, "num_frames": n}
            try:
                s["payloads"] = {key: {"size": len(v), "sha256": hashlib.sha256(v).hexdigest()}
                                 for key, v in r.scene_payloads(k).items()}
            except SceneCorruptError:
                s["damaged"] = True
            scenes.append(s)
        entry.update(error=None, version=list(r.version), complete=r.complete,
                     num_scenes=r.num_scenes, num_frames=r.num_frames,
                     header=r.header.to_json(), metadata=meta, scenes=scenes)
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="write spec/test-vectors/*.spkc and manifest.json")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    vectors = build(args.out)
    manifest = {"format": "spkc", "spec": "spec/spkc.md", "generator": "tools/make_test_vectors.py",
                "vectors": vectors}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False)
                                            + "\n")
    for v in vectors:
        what = v["error"] or f"{v['num_scenes']} scenes, complete={v['complete']}"
        print(f"{v['file']:22s} {(args.out / v['file']).stat().st_size:6d} B  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
