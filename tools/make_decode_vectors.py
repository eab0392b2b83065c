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
    # scene 1 damaged and repaired into a lost placeholder: pins concealment (spec section 7)
    "raw-concealed": ("raw", 3, 12, "tfp", "linear", "soft"),
    # groups of 4 scenes: an HEVC key scene, then P scenes (format 1.1, spec section 5.3)
    "hevc-inter": ("hevc", 4, 4, "tfp", "linear", "soft"),
    # motion-compensated interpolation (format 1.1): the integer warp and the ~motion payload;
    # the concealed one pins "a pair with a concealed scene blends linearly"
    "raw-motion": ("raw", 3, 12, "tfp", "motion", "soft"),
    "raw-motion-concealed": ("raw", 3, 12, "tfp", "motion", "soft"),
    # lossy scenes + the exact layer (format 1.1, spec/exact.md section 7): the regenerated
    # spikes as for any vector, and the source spikes of the layer (exact_* fields)
    "raw-exact": ("raw", 3, 16, "tfp", "linear", "soft"),
}
#: vectors that carry the exact layer: name -> layer block_frames
EXACT_LAYER = {"raw-exact": 20}
#: codec options of the vectors that need them
CODEC_OPTIONS = {"hevc-inter": {"gop": 4}}
#: vectors decoded with concealment: the scene whose chunk is damaged, then repaired
LOST_SCENE = {"raw-concealed": 1, "raw-motion-concealed": 2}


def source_spikes() -> np.ndarray:
    """The synthetic clip every vector encodes: (48, 64, 96) bool."""
    lum = synthetic_intensity(T, H, W, seed=7)
    return integrate_and_fire(lum, gain=0.4, init="random", seed=7)


def digests(path: Path, conceal: bool = False) -> dict:
    """Hashes of every decoded scene and of the spikes (with ``conceal``: also which scene
    stood in for which)."""
    with spkc.open(path, conceal=conceal) as clip:
        spikes = clip.spikes()
        scenes = [hashlib.sha256(luminance_q16(clip.scene(k)).astype("<u2").tobytes()).hexdigest()
                  for k in range(clip.num_scenes)]
        out = {"shape": list(clip.shape), "scenes_sha256": scenes,
               "spikes_sha256": hashlib.sha256(np.packbits(spikes).tobytes()).hexdigest(),
               "spike_count": int(spikes.sum())}
        if conceal:
            out["concealed"] = {str(k): j for k, (_, j) in sorted(clip.concealed.items())}
        return out


def exact_digests(path: Path) -> dict:
    """Hash of the exact layer's spikes (the source), its block length and each block's
    method byte (0 raw, 1 model)."""
    from spkc.container import SpkcReader

    with spkc.open(path) as clip:
        ex = clip.spikes(exact=True)
    with SpkcReader(path) as r:
        methods = [r.layer_block(k)[0] for k in range(r.num_layer_blocks)]
        bf = int(r.header.exact_layer["block_frames"])
    return {"exact_spikes_sha256": hashlib.sha256(np.packbits(ex).tobytes()).hexdigest(),
            "exact_spike_count": int(ex.sum()), "exact_block_frames": bf,
            "exact_block_methods": methods}


def lose_scene(path: Path, k: int) -> None:
    """Flip a bit inside scene k's chunk, then repair in place: k becomes a lost placeholder."""
    from spkc.container import SpkcReader, repair

    with SpkcReader(path) as r:
        at = int(r._offsets[k]) + int(r._sizes[k]) // 2
    data = bytearray(path.read_bytes())
    data[at] ^= 0x10
    damaged = path.with_name(path.stem + ".damaged.spkc")
    damaged.write_bytes(bytes(data))
    try:
        repair(damaged, path)
    finally:
        damaged.unlink()


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
            # preset slow: the encoder settings these vectors were made with (0.1.0's default)
            spkc.compress(src, dst, codec=codec, quality=q, frames_per_scene=S,
                          reconstructor=recon, interpolation=interp, reset=reset, seed=11,
                          codec_options=CODEC_OPTIONS.get(name),
                          preset="slow" if codec in ("learned", "baseline") else None,
                          exact=name in EXACT_LAYER, exact_block_frames=EXACT_LAYER.get(name),
                          metadata={"created": "2026-12-02T00:00:00+00:00"})
            if name in LOST_SCENE:
                lose_scene(dst, LOST_SCENE[name])
            manifest["vectors"][name] = {"file": dst.name, "codec": codec,
                                         **digests(dst, conceal=name in LOST_SCENE)}
            if name in EXACT_LAYER:
                manifest["vectors"][name].update(exact_digests(dst))
            print(f"{dst.name}: {dst.stat().st_size} bytes")
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
