"""Benchmark of the learned scene codec: params, GFLOP/scene, encode/decode speed vs zstd -19.

For each configuration (compact, broad, paper) and variant (BiSOAM ``learned``, ``baseline``) prints
parameters and GFLOP per 250x400 scene (torch.utils.flop_counter, one full forward: analysis,
attention, hyperprior, context and synthesis). For the configurations with shipped weights it
times ``encode`` and ``decode`` per scene on CPU (batch of ``--batch`` scenes, entropy coding
included) and converts to spike frames/s with ``--frames-per-scene``; in the same run it times
``zstd -19`` (zstandard level 19) compressing and decompressing the same .dat and prints the
ratios (learned frames/s / zstd frames/s). ``--time-paper`` also times the paper configuration
with random weights (slow on CPU).

``--rd`` adds an image-codec rate-distortion table on the REDS ground-truth scenes (the PNGs
beside the .dat), per clip and the mean: bpp and PSNR of ``learned`` / ``baseline`` q1..q4
(spike context from the .dat around frame 151) and of ``jxl`` and ``hevc`` at their quality
levels, coding the same image (``--rd-only``: that table alone, no timing).

    python tools/bench_learned.py [--dat ../shared/data/reds-spikes/203_part2.dat] [--rd]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import zstandard
from torch.utils.flop_counter import FlopCounterMode

from spkc.codecs.base import EncodeContext
from spkc.codecs.learned import (
    BaselineCodec,
    LearnedCodec,
    newest_shipped_weights,
    weights_version_of,
)
from spkc.io.dat import read_dat
from spkc.models.layers import count_parameters
from spkc.models.scene_codec import SceneCompressionModel

REPO = Path(__file__).resolve().parents[1]
DAT = REPO.parent / "shared" / "data" / "reds-spikes" / "203_part2.dat"


def scenes_from_spikes(spikes: np.ndarray, n: int, fps: int, L: int):
    """n scenes (window means, scaled to [0, 1]) and their (L, H, W) spike contexts."""
    centers = np.linspace(L + fps // 2, spikes.shape[0] - L - 1, n).astype(int)
    scenes, before, after = [], [], []
    for c in centers:
        win = spikes[max(0, c - fps // 2): c + fps // 2 + 1].mean(0)
        scenes.append(np.clip(win / max(win.max(), 1e-6), 0, 1).astype(np.float32))
        before.append(spikes[c - L + 1: c + 1])
        after.append(spikes[c + 1: c + 1 + L])
    return np.stack(scenes), EncodeContext(spikes_before=before, spikes_after=after)


def best_time(fn, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def gflop(config: str, attention: str | None, h: int, w: int, L: int) -> float:
    """GFLOP of one forward on a (1,1,h,w) scene, counted on the meta device (no compute)."""
    model = SceneCompressionModel(config, attention).to("meta").train()
    x = torch.empty(1, 1, h, w, device="meta")
    s = torch.empty(1, L, h, w, device="meta")
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(x, s, s)
    return fc.get_total_flops() / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dat", type=Path, default=DAT)
    ap.add_argument("--frames-per-scene", type=int, default=32)
    ap.add_argument("--quality", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--time-paper", action="store_true")
    ap.add_argument("--rd", action="store_true", help="RD table on the ground-truth PNGs")
    ap.add_argument("--rd-only", action="store_true", help="only the --rd table (no timing)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    H, W, L = 250, 400, LearnedCodec.wants_spike_context
    if args.rd_only:
        rd_table(args.dat.parent, L)
        return

    if args.dat.is_file():
        raw = args.dat.read_bytes()
        spikes = read_dat(args.dat, H, W)
        src = str(args.dat)
    else:  # no shared data: a simulated clip of the same shape
        rng = np.random.default_rng(0)
        spikes = rng.random((301, H, W)) < 0.2
        raw = np.packbits(spikes.reshape(301, -1), axis=1, bitorder="little").tobytes()
        src = "simulated 301x250x400 (rate 0.2)"
    T = spikes.shape[0]
    zc = zstandard.ZstdCompressor(level=19)
    zd = zstandard.ZstdDecompressor()
    comp = zc.compress(raw)
    zstd_enc = best_time(lambda: zc.compress(raw), 1)
    zstd_dec = best_time(lambda: zd.decompress(comp), args.repeat)
    zfps_enc, zfps_dec = T / zstd_enc, T / zstd_dec
    print(f"source: {src}; {T} frames {H}x{W}; torch threads {args.threads}; CPU")
    print(f"zstd -19: ratio {len(raw) / len(comp):.3f}x, encode {zfps_enc:,.0f} frames/s, "
          f"decode {zfps_dec:,.0f} frames/s")
    scenes, ctx = scenes_from_spikes(spikes, args.batch, args.frames_per_scene, L)
    fps = args.frames_per_scene
    print(f"frames per scene: {fps}\n")
    print(f"{'config':8} {'codec':9} {'params':>10} {'GFLOP':>7} {'enc ms':>8} {'dec ms':>8} "
          f"{'enc fr/s':>10} {'dec fr/s':>10} {'enc/zstd':>9} {'dec/zstd':>9} {'bpp':>6}")
    for config in ("compact", "broad", "paper"):
        for cls in (LearnedCodec, BaselineCodec):
            model = SceneCompressionModel(config, cls.attention)
            params, gf = count_parameters(model), gflop(config, cls.attention, H, W, L)
            # the newest weights the package ships for this config (compact's predate broad's)
            name = newest_shipped_weights(cls.variant, config, args.quality)
            version = weights_version_of(name) if name else None
            codec = cls(quality=args.quality, config=config, batch_size=args.batch,
                        weights_version=version)
            timing = "-"
            try:
                codec.model()
                have = True
            except Exception:  # noqa: BLE001 - no shipped weights (paper): random weights
                have = False
            if not have and not (config == "paper" and args.time_paper):
                print(f"{config:8} {cls.name:9} {params:>10,} {gf:>7.2f} {timing:>8}")
                continue
            if not have:
                codec.model = lambda m=model: m.eval()  # type: ignore[method-assign]
            c = ctx if cls.wants_spike_context else None
            payloads = codec.encode(scenes, c)  # warm-up
            enc = best_time(lambda k=codec, c=c: k.encode(scenes, c), args.repeat) / len(scenes)
            dec = best_time(lambda k=codec, p=payloads: k.decode(p, (H, W)),
                            args.repeat) / len(scenes)
            bpp = np.mean([8 * (len(p["y"]) + len(p["z"])) for p in payloads]) / (H * W)
            efps, dfps = fps / enc, fps / dec
            print(f"{config:8} {cls.name:9} {params:>10,} {gf:>7.2f} {enc * 1e3:>8.1f} "
                  f"{dec * 1e3:>8.1f} {efps:>10,.0f} {dfps:>10,.0f} {efps / zfps_enc:>9.2f} "
                  f"{dfps / zfps_dec:>9.2f} {bpp:>6.3f}" + ("" if have else "  (random w.)"))
    if args.rd:
        rd_table(args.dat.parent, L)


def rd_table(folder: Path, L: int) -> None:
    """bpp / PSNR of learned, baseline, jxl and hevc coding the REDS ground-truth scenes.

    The scene a perfect reconstructor would hand the codec: what the image codec alone loses,
    on the content the training report measures (per clip, then the mean)."""
    from PIL import Image

    from spkc.codecs import get_codec
    from spkc.errors import CodecUnavailableError

    print("\nRD on ground-truth scenes (image codec alone; PSNR peak 1)")
    rows: dict[tuple[str, int], dict[str, tuple[float, float]]] = {}
    pngs = sorted(folder.glob("*.png"))
    for png in pngs:
        gt = np.asarray(Image.open(png).convert("L"), np.float32)[None] / 255.0
        H, W = gt.shape[1:]
        dat = png.with_suffix(".dat")
        sp = read_dat(dat, H, W, start=151 - L, count=2 * L + 1) if dat.is_file() else \
            np.zeros((2 * L + 1, H, W), bool)
        ctx = EncodeContext(spikes_before=[sp[:L]], spikes_after=[sp[L + 1:]])
        jobs = [("learned", q) for q in (1, 2, 3, 4)] + [("baseline", q) for q in (1, 2, 3, 4)]
        jobs += [("jxl", q) for q in (1, 2, 3, 4, 5, 6)] + [("hevc", q) for q in (1, 2, 3, 4)]
        for name, q in jobs:
            codec = get_codec(name, quality=q)
            try:
                p = codec.encode(gt, ctx if codec.wants_spike_context else None)
            except CodecUnavailableError as exc:  # e.g. PyAV without libx265
                print(f"  {name} q{q}: skipped ({exc})")
                continue
            out = codec.decode(p, (H, W))
            bpp = 8 * sum(len(v) for v in p[0].values()) / (H * W)
            psnr = 10 * np.log10(1 / np.mean((out - gt) ** 2))
            rows.setdefault((name, q), {})[png.stem] = (bpp, psnr)
    head = "".join(f" {s.stem[:14]:>15}" for s in pngs)
    print(f"{'codec':9} {'q':>2}{head} {'mean':>15}   (bpp / PSNR dB)")
    for (name, q), v in rows.items():
        cells = [v.get(s.stem) for s in pngs]
        mean = np.mean([c for c in cells if c], axis=0)
        line = "".join(f" {c[0]:>6.3f}/{c[1]:>5.2f}  " if c else f" {'-':>15}" for c in cells)
        print(f"{name:9} {q:>2}{line} {mean[0]:>6.3f}/{mean[1]:>5.2f}")


if __name__ == "__main__":
    main()
