"""Bjøntegaard deltas of one codec against several anchors, from docs/results.json.

    python tools/bd_from_results.py [--codec learned] [--anchors jxl+tfp12,hevc+tfp12,jxl,baseline]

Reads the rows `tools/make_results.py` wrote (no re-encoding) and prints BD-rate (%, negative =
fewer bits) and BD-PSNR (dB) of scene PSNR against the ground truth, per clip.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spkc.eval import bd_table, format_bd_table

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=DOCS / "results.json")
    ap.add_argument("--codec", default="learned")
    ap.add_argument("--anchors", default="jxl+tfp12,hevc+tfp12,jxl,hevc,baseline")
    ap.add_argument("--metric", default="scene_psnr")
    args = ap.parse_args()
    rows = json.loads(args.results.read_text())["results"]
    for r in rows:  # results.json writes infinite PSNR as the string "inf"
        for k, v in r.items():
            if v == "inf":
                r[k] = float("inf")
    table = []
    for anchor in args.anchors.split(","):
        table += [e for e in bd_table(rows, anchor, metric=args.metric)
                  if e["codec"] == args.codec]
    print(format_bd_table(table))


if __name__ == "__main__":
    main()
