"""The VVC (VTM) anchor behind docs/results-vtm.md (``tools/make_results_vtm.py``).

Rows of earlier runs read back from a results.json (:func:`results_rows`), which BD pairs are
worth a row against a VTM anchor (:func:`vtm_bd_pair`), and EncoderApp/DecoderApp seconds per
scene (:func:`vtm_timing`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["results_rows", "vtm_bd_pair", "vtm_timing"]


def results_rows(path: Path, labels: list[str]) -> tuple[list[dict[str, Any]], str]:
    """Rows of ``labels`` from a results.json, and the commit its page names (or "")."""
    doc = json.loads(path.read_text())
    rows = [r for r in doc["results"] if r["codec"] in labels]
    for r in rows:  # results.json writes infinite PSNR as the string "inf"
        for k, v in r.items():
            if v == "inf":
                r[k] = float("inf")
    commit = ""
    md = path.with_suffix(".md")
    if md.is_file():
        for line in md.read_text().splitlines():
            if line.startswith("* commit `"):
                commit = line.split("`")[1]
                break
    return rows, commit


def vtm_timing(gt_png: Path, qualities: list[int]) -> list[dict[str, Any]]:
    """EncoderApp/DecoderApp seconds for one 250x400 scene (10 bits) at each quality."""
    from PIL import Image

    from spkc.codecs.vtm import VtmCodec
    from spkc.metrics import psnr

    x = (np.asarray(Image.open(gt_png).convert("L"), np.float32) / 255.0)[None]
    out = []
    for q in qualities:
        codec = VtmCodec(quality=q, jobs=1)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        p = codec.encode(x)
        t1 = time.perf_counter()
        dec = codec.decode(p, x.shape[1:])
        t2 = time.perf_counter()
        out.append({"quality": q, "qp": codec.qp, "encode_s": t1 - t0, "decode_s": t2 - t1,
                    "bytes": len(p[0]["img"]), "bpp": len(p[0]["img"]) * 8 / x[0].size,
                    "psnr": psnr(dec[0], x[0]), "loadavg": load})
        print(f"  timing q{q}: {t1 - t0:.1f} s encode, {t2 - t1:.2f} s decode", flush=True)
    return out


def vtm_bd_pair(entry: dict[str, Any]) -> bool:
    """BD pairs worth a row: a non-VTM codec against a VTM anchor of the same reconstructor
    (``learned`` uses the learned one), plus the learned codec against every VTM anchor on
    PSNR vs ground truth (the only metric that compares different reconstructors)."""
    codec, anchor = entry["codec"], entry["anchor"]
    if codec.startswith("vtm"):
        return False
    recon = anchor.split("+", 1)[1]
    same = codec.endswith("+" + recon) or (codec == "learned" and recon == "learned")
    return same or (codec == "learned" and entry["metric"] == "scene_psnr")
