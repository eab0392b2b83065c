"""Multi-process training through torchrun with the gloo backend on 2 CPU processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from spkc.train.data import GenConfig, make_dataset


def test_ddp_gloo_two_processes(tmp_path):
    import numpy as np
    from PIL import Image

    imgs = tmp_path / "imgs" / "train"
    imgs.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray((rng.random((64, 96)) * 255).astype(np.uint8)).save(imgs / f"{i}.png")
    data = tmp_path / "d.h5"
    make_dataset(data, 4, seed=0, cfg=GenConfig(height=32, width=32, radius=4, substeps=1),
                 bsds_dir=imgs.parent)
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "spkc.train.trainer", "tiny", "I-recon", str(out),
           "--set", f"train_data={data}", "--set", "reds_dir=/absent", "--set", "steps=3",
           "--set", "log_every=1", "--set", "ckpt_every=3", "--set", "threads=1"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    recs = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    steps = [r for r in recs if not r.get("val")]
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert all(r["world"] == 2 for r in steps)
    assert (out / "ckpt.pt").is_file()
