"""spkc.eval.lossless (behind tools/bench_lossless.py): sparse clip, baseline rows, the page."""

from __future__ import annotations

import pytest

from spkc.eval import lossless


def test_sparse_clip_is_sparse_and_general_coders_round_trip(tmp_path):
    p = tmp_path / "sparse.dat"
    lossless.make_sparse(p, frames=64)
    raw = p.read_bytes()
    assert len(raw) == 64 * 250 * 400 // 8
    r = lossless.bench_general(raw, 64, "xz -9")
    assert r["ratio"] > 2 and r["dec_fps"] > 0 and r["enc_cpu_fps"] > 0


def test_clip_row_checks_and_page(tmp_path):
    from spkc.codecs.exact import kernel_available

    if not kernel_available():
        pytest.skip("exact kernel not built")
    p = tmp_path / "sparse.dat"
    lossless.make_sparse(p, frames=64)
    row = lossless.clip_row("sparse", p, tmp_path)
    assert row["frames"] == 64 and 0 < row["rate"] < 0.1
    assert set(row["res"]) == {"exact", "zstd -19", "xz -9"}
    assert row["checks"]["exact round trip"] is True
    page = "\n".join(lossless.lossless_page([row], [], [], [], 1.0, "abc1234"))
    assert "commit `abc1234`" in page and "| sparse | 64 |" in page
