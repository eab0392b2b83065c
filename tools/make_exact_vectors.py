#!/usr/bin/env python
"""Write the `exact` codec's decode conformance vectors (spec/exact-vectors/).

Usage: python tools/make_exact_vectors.py [--out spec/exact-vectors]

Each vector is a small lossless .spkc written exactly as ``spkc compress --codec exact`` writes
it (same header; fixed metadata so the bytes are reproducible); ``manifest.json`` records the
shape, the SHA-256 of ``np.packbits`` of the decoded spikes, the spike count and the method byte
of every block. tests/test_exact.py decodes them with the compiled kernel and the pure-Python
reference. Never regenerate a published vector after a bitstream change: add a new one and
bump the codec version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from spkc.codecs.exact import ExactCodec
from spkc.codecs.stream_base import BLOCK_PAYLOAD
from spkc.container import Header, SpkcWriter
from spkc.spikes import integrate_and_fire, synthetic_intensity

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "spec" / "exact-vectors"


def _write(path: Path, spikes: np.ndarray, block: int) -> dict:
    codec = ExactCodec(block_frames=block)
    T, H, W = spikes.shape
    header = Header(height=H, width=W, frames_per_scene=block, frame_rate=20000.0,
                    codec=codec.name, codec_version=codec.version,
                    codec_config=codec.get_config(), codec_identity=codec.identity())
    methods, ranges = [], []
    with SpkcWriter(path, header, {"source": "tools/make_exact_vectors.py"}) as w:
        for a in range(0, T, block):
            data = codec.encode_block(spikes[a:a + block])
            w.add_scene({BLOCK_PAYLOAD: data}, len(spikes[a:a + block]))
            methods.append(data[0])
            ranges.append([a, min(a + block, T)])
    return {"file": path.name, "codec": "exact", "codec_version": codec.version,
            "shape": list(spikes.shape), "block_frames": block,
            "spikes_sha256": hashlib.sha256(np.packbits(spikes).tobytes()).hexdigest(),
            "spike_count": int(spikes.sum()), "block_methods": methods,
            "reference_blocks": ranges}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    vectors = {}
    # integrate-and-fire of the synthetic scene: three model-coded blocks, the last one short
    lum = synthetic_intensity(37, 12, 16, seed=4)
    s = integrate_and_fire(lum, gain=0.45, seed=4)
    vectors["exact-if"] = _write(args.out / "exact-if.spkc", s, 16)
    # a block that does not compress (stored raw), an empty block, a full block, a sparse one
    rng = np.random.default_rng(9)
    mixed = np.concatenate([rng.random((8, 10, 10)) < 0.5, np.zeros((8, 10, 10), bool),
                            np.ones((8, 10, 10), bool),
                            integrate_and_fire(synthetic_intensity(5, 10, 10, seed=2),
                                               gain=0.1, dark_current=0.01, seed=2)])
    vectors["exact-mixed"] = _write(args.out / "exact-mixed.spkc", mixed, 8)
    manifest = {"generator": "tools/make_exact_vectors.py",
                "spikes_hash": "sha256 of np.packbits of the decoded (T, H, W) bool spikes",
                "block_methods": "first byte of each block payload: 0 raw, 1 model",
                "vectors": vectors}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps({k: (v["shape"], v["block_methods"]) for k, v in vectors.items()}))


if __name__ == "__main__":
    main()
