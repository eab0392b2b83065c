"""Rate-distortion curves as lists of ``(rate, psnr)`` points: the Pareto frontier, whether
two curves overlap at all, Bjontegaard deltas on frontiers, interpolation in log rate.

BD needs curves that overlap in PSNR; :func:`frontier_bd` says why when they do not instead
of returning a number an extrapolation made up.
"""

from __future__ import annotations

import math

import numpy as np

from spkc.errors import SpkcError
from spkc.metrics.bjontegaard import bd_psnr, bd_rate


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(rate, psnr) points -> the frontier: sorted by rate, each better than all cheaper."""
    out: list[tuple[float, float]] = []
    for r, d in sorted(points):
        if out and r == out[-1][0]:
            if d > out[-1][1]:
                out[-1] = (r, d)
            continue
        if not out or d > out[-1][1]:
            out.append((r, d))
    return out


def separation(anchor: list[tuple[float, float]], test: list[tuple[float, float]]
               ) -> str | None:
    """"above" when every test PSNR exceeds the best the anchor reaches at any rate (BD-rate
    tends to -100 %), "below" when no test point reaches the anchor's lowest PSNR at or above
    the anchor's lowest rate (BD-rate tends to +infinity), else None."""
    if not anchor or not test:
        return None
    if min(d for _, d in test) > max(d for _, d in anchor):
        return "above"
    if (max(d for _, d in test) < min(d for _, d in anchor)
            and min(r for r, _ in test) >= min(r for r, _ in anchor)):
        return "below"
    return None


def frontier_bd(anchor: list[tuple[float, float]], test: list[tuple[float, float]]
       ) -> tuple[float | None, float | None, str, str | None]:
    """(BD-rate %, BD-PSNR dB, note, :func:`separation`) of ``test`` against ``anchor`` on
    their Pareto frontiers."""
    a, t = pareto(anchor), pareto(test)
    side = separation(anchor, test)
    where = {"above": f"every test point beats the anchor's best PSNR at any rate "
                      f"({max(d for _, d in anchor):.2f} dB): BD-rate -> -100 %",
             "below": "no test point reaches the anchor's lowest PSNR: BD-rate -> +inf",
             None: ""}[side] if anchor and test else ""
    if len(a) < 2 or len(t) < 2:
        return None, None, "; ".join(filter(None, [
            f"frontiers have {len(a)} and {len(t)} points (need 2 each)", where])), side
    res: list[float | None] = []
    notes = [where] if where else []
    for fn in (bd_rate, bd_psnr):
        try:
            res.append(float(fn([p[0] for p in a], [p[1] for p in a],
                                [p[0] for p in t], [p[1] for p in t], method="pchip")))
        except SpkcError as exc:
            res.append(None)
            notes.append(f"{fn.__name__}: {exc.problem}")
    dropped = len(pareto(test)) != len(test)
    if dropped:
        notes.append(f"{len(test) - len(t)} dominated test point(s) left out")
    return res[0], res[1], "; ".join(notes), side


def interp_at(points: list[tuple[float, float]], rate: float) -> float | None:
    """Linear interpolation of y at ``rate`` in log-rate; None outside the curve's range."""
    pts = sorted(p for p in points if p[1] is not None and math.isfinite(p[1]))
    if len(pts) < 1:
        return None
    xs = np.log([p[0] for p in pts])
    ys = np.array([p[1] for p in pts])
    x = math.log(rate)
    if x < xs[0] - 1e-12 or x > xs[-1] + 1e-12:
        return None
    return float(np.interp(x, xs, ys))
