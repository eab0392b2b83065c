"""Reconstruction quality on ../shared/data/reds-spikes: learned vs TFP (several windows) vs TFI.

Prints, per reconstructor, the scene PSNR at frame 151 against the ground-truth PNG after a
least-squares affine fit (clipped to [0, 1]), per clip and mean; plus the learned network's
parameters and GFLOP per 250x400 scene (torch.utils.flop_counter).

    python tools/eval_recon.py [--weights PATH] [--config NAME] [--tta 1|2|4] [--reds DIR]
"""

from __future__ import annotations

import argparse
import time

import torch

from spkc.codecs.reconstructors import LearnedReconstructor
from spkc.models.reconstruction import count_flops, param_count
from spkc.train.validate import baselines, load_reds, validate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None, help="recon safetensors (default: shipped)")
    ap.add_argument("--config", default=None, help="network config (default: the encoder's)")
    ap.add_argument("--tta", type=int, default=None,
                    help="test-time augmentation views (default: the encoder's)")
    ap.add_argument("--reds", default=None)
    a = ap.parse_args()
    if not load_reds(a.reds):
        print("reds-spikes not found; nothing to evaluate")
        return
    rows = {}
    for name, res in baselines(a.reds).items():
        rows[name] = res
    kw = {k: v for k, v in (("config", a.config), ("tta", a.tta)) if v is not None}
    rec = LearnedReconstructor(weights=a.weights, **kw)
    net = rec.net  # load before timing
    t0 = time.perf_counter()
    rows["learned"] = validate(rec.reconstruct, rec.radius, a.reds)
    dt = time.perf_counter() - t0
    print(f"learned: {rec.config} {rec.weights_path.name} sha256 {rec.sha256[:16]}..., "
          f"tta {rec.tta}, "
          f"{param_count(net)} params, {count_flops(net) / 1e9:.2f} GFLOP/250x400 scene, "
          f"{dt / max(len(rows['learned']) - 1, 1):.2f} s/scene on CPU "
          f"({torch.get_num_threads()} threads, machine shared)")
    clips = [k for k in rows["learned"] if k != "mean"]
    print(f"{'reconstructor':>14} " + " ".join(f"{c:>10}" for c in clips) + f" {'mean':>8}")
    best_tfp = max((k for k in rows if k.startswith("tfp")), key=lambda k: rows[k]["mean"])
    for name, res in rows.items():
        tag = " (best TFP)" if name == best_tfp else ""
        print(f"{name:>14} " + " ".join(f"{res[c]:10.2f}" for c in clips)
              + f" {res['mean']:8.2f}{tag}")
    gain = rows["learned"]["mean"] - max(rows[best_tfp]["mean"], rows["tfi"]["mean"])
    print(f"learned - best(TFP best window, TFI) = {gain:+.2f} dB")


if __name__ == "__main__":
    main()
