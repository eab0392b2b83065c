"""Benchmark: .dat read throughput vs bare np.unpackbits, and simulator speed (numpy, torch).

Usage: python tools/bench_io.py [--frames 2000] [--sim-frames 500] [--repeats 3]

Everything is measured in this process on the same data; ratios compare against the reference
run just before them. The .dat file is synthetic (random spikes at 0.2), written to a temporary
folder, and read back warm (page cache), so this measures decoding, not the disk.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from spkc.io import iter_dat, read_dat, write_dat
from spkc.spikes import integrate_and_fire, integrate_and_fire_torch

H, W = 250, 400


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=2000, help=".dat frames to read")
    ap.add_argument("--sim-frames", type=int, default=500, help="frames to simulate")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="torch.set_num_threads for the CPU run (default: torch's choice)")
    ap.add_argument("--device", default=None, help="torch device for the simulator (default: "
                    "cpu, plus cuda when available)")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    spikes = rng.random((args.frames, H, W), dtype=np.float32) < 0.2
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.dat"
        write_dat(path, spikes)
        raw = path.read_bytes()
        mb = len(raw) / 1e6
        buf = np.frombuffer(raw, dtype=np.uint8)

        def ref() -> None:
            np.unpackbits(buf, bitorder="little")

        t_ref = _best(ref, args.repeats)
        t_read = _best(lambda: read_dat(path), args.repeats)
        t_iter = _best(lambda: sum(1 for _ in iter_dat(path, block=256)), args.repeats)
        assert np.array_equal(read_dat(path), spikes)
    print(f".dat {args.frames} frames of {H}x{W} ({mb:.1f} MB), best of {args.repeats}:")
    print(f"  np.unpackbits on the bytes (reference)  {mb / t_ref:8.1f} MB/s")
    print(f"  read_dat (whole file)                   {mb / t_read:8.1f} MB/s  "
          f"ratio {t_ref / t_read:.2f}x of reference")
    print(f"  iter_dat (blocks of 256)                {mb / t_iter:8.1f} MB/s  "
          f"ratio {t_ref / t_iter:.2f}x of reference")

    n = args.sim_frames
    intensity = rng.random((n, H, W), dtype=np.float32)
    t_np = _best(lambda: integrate_and_fire(intensity, gain=0.45, init="random", seed=1),
                 args.repeats)
    print(f"integrate-and-fire {n} frames of {H}x{W}, best of {args.repeats}:")
    print(f"  numpy (reference)   {n / t_np:10.0f} frames/s")
    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    print(f"  (torch CPU threads: {torch.get_num_threads()})")
    devices = [args.device] if args.device else ["cpu"] + (
        ["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        x = torch.from_numpy(intensity).to(dev)

        def run(x=x, dev=dev) -> None:
            integrate_and_fire_torch(x, gain=0.45, init="random", seed=1, device=dev)
            if dev.startswith("cuda"):
                torch.cuda.synchronize()

        run()  # warm-up (CUDA context, kernels)
        t = _best(run, args.repeats)
        print(f"  torch {dev:<12}  {n / t:10.0f} frames/s  ratio {t_np / t:.2f}x of numpy")


if __name__ == "__main__":
    main()
