"""ISI-PSNR and firing-rate PSNR of regenerated spikes: linear interpolation vs hold.

Issue 4 asks which luminance model between scenes regenerates spikes closer to the source;
the better one is the default (`linear`). Usage::

    python tools/compare_interpolation.py [DAT ...] [--codec jxl] [--quality 4] [-S 32]

Defaults to ../shared/data/reds-spikes/*.dat (250x400). Prints a table and writes JSON to
--out when given.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import spkc
from spkc.io import read_spikes
from spkc.metrics import firing_rate_psnr, isi_psnr

REDS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reds-spikes"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dats", nargs="*", type=Path)
    ap.add_argument("--codec", default="jxl")
    ap.add_argument("--quality", type=int, default=None)
    ap.add_argument("-S", "--frames-per-scene", type=int, default=32)
    ap.add_argument("--reconstructor", default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    dats = args.dats or sorted(REDS.glob("*.dat"))
    if not dats:
        raise SystemExit(f"no .dat given and {REDS} is absent")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dat in dats:
            src = read_spikes(dat)
            for interp in ("linear", "hold"):
                dst = Path(tmp) / f"{dat.stem}-{interp}.spkc"
                res = spkc.compress(dat, dst, codec=args.codec, quality=args.quality,
                                    frames_per_scene=args.frames_per_scene,
                                    reconstructor=args.reconstructor, interpolation=interp)
                out = spkc.open(dst).spikes()
                rows.append({"clip": dat.name, "interpolation": interp, "codec": args.codec,
                             "bits_per_spike_pixel": res.bits_per_spike_pixel,
                             "isi_psnr": isi_psnr(out, src),
                             "firing_rate_psnr": firing_rate_psnr(out, src)})
    print(f"{'clip':18s} {'interp':7s} {'bits/sp-px':>10s} {'ISI-PSNR':>9s} {'FR-PSNR':>8s}")
    for r in rows:
        print(f"{r['clip']:18s} {r['interpolation']:7s} {r['bits_per_spike_pixel']:10.5f} "
              f"{r['isi_psnr']:9.3f} {r['firing_rate_psnr']:8.3f}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
