"""Conformance: the committed spec/test-vectors must read exactly as manifest.json says, and the
current writer must still produce files that read the same way."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "spec" / "test-vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text())


def _generator():
    spec = importlib.util.spec_from_file_location("make_test_vectors",
                                                  REPO / "tools" / "make_test_vectors.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
