#!/usr/bin/env python
"""Write end-to-end decode conformance vectors (spec/decode-vectors/).

Usage: python tools/make_decode_vectors.py [--codecs raw,learned] [--out spec/decode-vectors]

Each vector is a small .spkc made from the built-in synthetic clip; ``manifest.json`` records
the SHA-256 of every decoded scene's 16-bit luminance and of the regenerated spikes. The
container vectors (spec/test-vectors/) pin the bytes; these pin what a decoder makes of them:
a change to a scene decoder or to regeneration that alters existing files' spikes fails
tests/test_decode_conformance.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

import spkc
from spkc.io import write_npy
from spkc.spikes import integrate_and_fire, synthetic_intensity
from spkc.spikes.regenerate import luminance_q16

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "spec" / "decode-vectors"
T, H, W = 48, 64, 96

VECTORS = {
    # name: (codec, quality, frames_per_scene, reconstructor, interpolation, reset)
    "raw-linear": ("raw", 3, 16, "tfp", "linear", "soft"),
    "raw-hold-hard": ("raw", 2, 12, "tfi", "hold", "hard"),
    # One vector per shipped weights version, made with that version when it was the latest;
    # never regenerate an old one (a new version gets a new name). Vectors leave with their
    # weights (learned v1 in 0.2.0; learned v2, v3, v4 and baseline v1, v2 since; see
    # $SPKC_WEIGHTS_PATH).
    "learned-v5": ("learned", 2, 16, None, "linear", "soft"),
    "learned-v6": ("learned", 2, 16, None, "linear", "soft"),
    "baseline-v3": ("baseline", 1, 16, None, "linear", "soft"),
    "baseline-v4": ("baseline", 1, 16, None, "linear", "soft"),
}


def source_spikes() -> np.ndarray:
    """The synthetic clip every vector encodes: (48, 64, 96) bool."""
    lum = synthetic_intensity(T, H, W, seed=7)
    return integrate_and_fire(lum, gain=0.4, init="random", seed=7)


def digests(path: Path) -> dict:
    with spkc.open(path) as clip:
        scenes = [hashlib.sha256(luminance_q16(clip.scene(k)).astype("<u2").tobytes()).hexdigest()
                  for k in range(clip.num_scenes)]
        spikes = clip.spikes()
        return {"shape": list(clip.shape), "scenes_sha256": scenes,
                "spikes_sha256": hashlib.sha256(np.packbits(spikes).tobytes()).hexdigest(),
                "spike_count": int(spikes.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", default=None,
                    help="comma-separated vector names to (re)write (default: all of --codecs)")
    ap.add_argument("--codecs", default="raw,learned,baseline")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {
        "generator": "tools/make_decode_vectors.py", "spikes_hash": "sha256 of np.packbits",
        "scenes_hash": "sha256 of little-endian uint16 rint(scene*65535)", "vectors": {}}
    wanted = set(args.codecs.split(","))
    sp = source_spikes()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.npy"
        write_npy(src, sp)
        for name, (codec, q, S, recon, interp, reset) in VECTORS.items():
            if codec not in wanted or (args.names and name not in args.names.split(",")):
                continue
            dst = args.out / f"{name}.spkc"
            spkc.compress(src, dst, codec=codec, quality=q, frames_per_scene=S,
                          reconstructor=recon, interpolation=interp, reset=reset, seed=11)
            manifest["vectors"][name] = {"file": dst.name, "codec": codec, **digests(dst)}
            print(f"{dst.name}: {dst.stat().st_size} bytes")
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
