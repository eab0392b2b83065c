"""tools/gpu_lease.sh: packing a campaign's results into parts the device tool brings back, and
unpacking them here (no device, no training: the campaign is made to stop at once)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "gpu_lease.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("tar") is None
                                or shutil.which("split") is None,
                                reason="needs bash, tar and split")


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    # python3 in the script must be this interpreter (it has spkc's dependencies)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, "PATH": path, **env}, timeout=120)


def _campaign(tmp_path: Path, phase1_bytes: int) -> Path:
    """A campaign folder as spkc.train.campaign leaves it."""
    d = tmp_path / "camp"
    (d / "final").mkdir(parents=True)
    (d / "phase1").mkdir()
    (d / "logs").mkdir()
    for q in range(1, 5):
        (d / "final" / f"bisoam-wide-q{q}.safetensors").write_bytes(os.urandom(3000 + q))
    (d / "phase1" / "bisoam-wide-q3.safetensors").write_bytes(os.urandom(phase1_bytes))
    (d / "logs" / "p1-bisoam-wide.log").write_text("step 50\n")
    (d / "summary.jsonl").write_text('{"name": "p1-bisoam-wide"}\n')
    return d


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_train_packs_what_the_campaign_left_and_unpack_restores_it(tmp_path):
    camp = _campaign(tmp_path, 5000)
    out = tmp_path / "out"
    # an unknown option stops the campaign at once: what is there still travels, and the
    # campaign's exit status is the script's
    res = _run("train", "--no-such-option", OUT=str(out), CAMPAIGN_DIR=str(camp),
               PACK_LIMIT_MIB="1")
    assert res.returncode == 2, res.stderr
    parts = sorted(p.name for p in out.iterdir())
    assert parts == ["campaign.tar.part-aa"]
    back = tmp_path / "back"
    res = _run("unpack", str(out), str(back))
    assert res.returncode == 0, res.stderr
    assert _tree(back) == _tree(camp)
    # with a version: final/'s weights also under the names $SPKC_WEIGHTS_PATH is searched for
    again = tmp_path / "again"
    res = _run("unpack", str(out), str(again), "5")
    assert res.returncode == 0, res.stderr
    assert {p.name: p.read_bytes() for p in (again / "weights").iterdir()} == {
        f"learned-bisoam-wide-q{q}-v5.safetensors":
            (camp / "final" / f"bisoam-wide-q{q}.safetensors").read_bytes()
        for q in range(1, 5)}


def test_unpack_refuses_a_version_the_package_ships(tmp_path):
    """A candidate named like shipped weights (stored plain or zstd-compressed) would be
    shadowed by them: unpack says so."""
    from spkc.codecs.learned import LearnedCodec, newest_shipped_weights, weights_version_of

    camp = tmp_path / "camp"
    (camp / "final").mkdir(parents=True)
    config = LearnedCodec.default_config
    shipped = newest_shipped_weights("bisoam", config, 3)
    version = str(weights_version_of(shipped))
    (camp / "final" / f"bisoam-{config}-q3.safetensors").write_bytes(b"candidate")
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", "-C", str(camp), "-cf", str(out / "campaign.tar.part-aa"), "final"],
                   check=True)
    res = _run("unpack", str(out), str(tmp_path / "back"), version)
    assert res.returncode == 1
    assert f"{shipped} is shipped" in res.stderr


def test_train_leaves_phase1_behind_above_the_limit(tmp_path):
    camp = _campaign(tmp_path, (1 << 20) + 1)  # over PACK_LIMIT_MIB=1 together
    out = tmp_path / "out"
    res = _run("train", "--no-such-option", OUT=str(out), CAMPAIGN_DIR=str(camp),
               PACK_LIMIT_MIB="1")
    assert res.returncode == 2
    back = tmp_path / "back"
    assert _run("unpack", str(out), str(back)).returncode == 0
    expected = {k: v for k, v in _tree(camp).items() if not k.startswith("phase1")}
    assert _tree(back) == expected


def test_train_needs_out_and_usage_is_an_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    res = subprocess.run(["bash", str(SCRIPT), "train"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert res.returncode != 0 and "OUT must name" in res.stderr
    res = _run()
    assert res.returncode == 2 and "usage" in res.stderr
