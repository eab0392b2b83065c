"""Reporting for ``spkc eval``: JSON/CSV files, printed tables, Bjontegaard deltas, RD plots.

Conventions (also written into the JSON under ``"conventions"``):

* PSNR of identical inputs is infinite; JSON and CSV write it as the string ``"inf"``
  (``-inf`` as ``"-inf"``). A value that could not be measured is ``null`` in JSON and an empty
  cell in CSV. NaN is never written.
* BD-rate is the average bit-rate change (percent) of a codec against the anchor at equal
  quality: negative means fewer bits than the anchor. BD-PSNR is the average quality change
  (dB) at equal rate: positive means better than the anchor.

matplotlib is imported only by :func:`plot_rd` (optional extra ``plot``).
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spkc._version import __version__
from spkc.errors import OutputError, SpkcError
from spkc.eval.types import ROW_FIELDS

CONVENTIONS = {
    "inf": 'infinite PSNR (identical inputs) is the string "inf"; null = not measured',
    "bits_per_spike_pixel": "file bits / (T*H*W)",
    "bpp_per_scene": "mean payload bits per scene / (H*W)",
    "ratio": "raw size at 1 bit per spike-pixel / file size",
    "scene_psnr": "dB, peak 1.0; vs ground truth at gt_frame (scene_target=gt) or pooled over "
                  "all scenes vs the uncoded reference scenes (scene_target=reference)",
    "scene_psnr_ref": "dB, peak 1.0, pooled over all scenes vs the uncoded reference scenes",
    "bd_rate": "percent, negative = fewer bits than the anchor at equal quality",
    "bd_psnr": "dB, positive = better than the anchor at equal rate",
}

_BD_FIELDS = ("clip", "codec", "anchor", "metric", "method", "points", "bd_rate", "bd_psnr", "note")


def jsonable(x: Any) -> Any:
    """``x`` with +-inf as "inf"/"-inf" and NaN as None, recursively (strict JSON)."""
    if isinstance(x, float):
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy scalars
        return jsonable(x.item())
    return x


def _num(x: Any) -> float | None:
    """Row value -> float (inf allowed) or None."""
    if x is None:
        return None
    if isinstance(x, str):
        return {"inf": math.inf, "-inf": -math.inf}.get(x)
    return float(x)


# -- BD table ----------------------------------------------------------------------------------
def bd_table(rows: Sequence[dict[str, Any]], anchor: str, metric: str = "scene_psnr",
             rate: str = "bits_per_spike_pixel", method: str = "pchip") -> list[dict[str, Any]]:
    """BD-rate (%) and BD-PSNR (dB) of every codec against ``anchor``, per clip.

    ``method``: "pchip" (piecewise cubic, works from 2 points; the default) or "cubic" (the
    classic Bjontegaard fit, needs 4 points per curve); see :func:`spkc.metrics.bd_rate`.

    Points with an infinite or missing ``metric`` are left out (a BD integral needs finite
    values); a pair with too few points gets None and a ``note`` saying why.
    """
    from spkc.metrics import bd_psnr, bd_rate

    out: list[dict[str, Any]] = []
    clips = list(dict.fromkeys(r["clip"] for r in rows))
    for clip in clips:
        curves: dict[str, list[tuple[float, float]]] = {}
        for r in rows:
            if r["clip"] != clip:
                continue
            d, b = _num(r.get(metric)), _num(r.get(rate))
            if d is None or b is None or not math.isfinite(d) or not b > 0:
                continue
            curves.setdefault(r["codec"], []).append((b, d))
        codecs = list(dict.fromkeys(r["codec"] for r in rows if r["clip"] == clip))
        for codec in codecs:
            if codec == anchor:
                continue
            entry: dict[str, Any] = {"clip": clip, "codec": codec, "anchor": anchor,
                                     "metric": metric, "method": method,
                                     "bd_rate": None, "bd_psnr": None,
                                     "points": len(curves.get(codec, [])), "note": ""}
            a, t = sorted(curves.get(anchor, [])), sorted(curves.get(codec, []))
            if anchor not in codecs:
                entry["note"] = f"anchor {anchor} has no results"
            elif len(a) < 2 or len(t) < 2:
                entry["note"] = "fewer than 2 finite points"
            else:
                notes = []
                for key, fn in (("bd_rate", bd_rate), ("bd_psnr", bd_psnr)):
                    try:
                        v = float(fn([p[0] for p in a], [p[1] for p in a],
                                     [p[0] for p in t], [p[1] for p in t], method=method))
                    except SpkcError as exc:  # e.g. curves that do not overlap
                        notes.append(f"{key}: {exc.problem}")
                        continue
                    if math.isfinite(v):
                        entry[key] = v
                    else:
                        notes.append(f"{key}: not finite")
                entry["note"] = "; ".join(notes)
            out.append(entry)
    return out


# -- tables ------------------------------------------------------------------------------------
def _fmt(x: Any, spec: str) -> str:
    v = _num(x) if not isinstance(x, (int, float)) or isinstance(x, bool) else float(x)
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return format(v, spec)


_TABLE_COLS = (
    ("clip", "clip", None), ("codec", "codec", None), ("q", "quality", None),
    ("bits/sp-px", "bits_per_spike_pixel", ".5f"), ("bpp/scene", "bpp_per_scene", ".4f"),
    ("ratio", "ratio", ".0f"), ("PSNR", "scene_psnr", ".2f"), ("SSIM", "scene_ssim", ".4f"),
    ("PSNR ref", "scene_psnr_ref", ".2f"),
    ("ISI-PSNR", "isi_psnr", ".2f"), ("FR-PSNR", "firing_rate_psnr", ".2f"),
    ("down-PSNR", "downstream_psnr", ".2f"), ("enc s", "encode_seconds", ".2f"),
    ("dec s", "decode_seconds", ".2f"),
)


def _render(header: Sequence[str], body: Sequence[Sequence[str]], markdown: bool) -> str:
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
              for i, h in enumerate(header)]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def format_table(rows: Sequence[dict[str, Any]], markdown: bool = False) -> str:
    """Result rows as an aligned text table (or a Markdown table)."""
    body = [[str(r.get(k)) if spec is None else _fmt(r.get(k), spec)
             for _, k, spec in _TABLE_COLS] for r in rows]
    return _render([h for h, _, _ in _TABLE_COLS], body, markdown)


def format_bd_table(bd: Sequence[dict[str, Any]], markdown: bool = False) -> str:
    """The BD table as text (or Markdown)."""
    header = ["clip", "codec", "anchor", "metric", "BD-rate %", "BD-PSNR dB", "note"]
    body = [[e["clip"], e["codec"], e["anchor"], e["metric"], _fmt(e["bd_rate"], "+.1f"),
             _fmt(e["bd_psnr"], "+.2f"), e.get("note", "")] for e in bd]
    return _render(header, body, markdown)


def format_skipped(skipped: Sequence[dict[str, Any]]) -> str:
    """One line per skipped codec/quality with the reason."""
    lines = []
    for s in skipped:
        q = "" if s.get("quality") is None else f" q{s['quality']}"
        c = f" ({s['clip']})" if s.get("clip") else ""
        lines.append(f"skipped {s['codec']}{q}{c}: {s['reason']}")
    return "\n".join(lines)


# -- files -------------------------------------------------------------------------------------
def git_commit(repo: str | os.PathLike | None = None) -> str | None:
    """HEAD commit of the repo holding spkc (None outside a git checkout)."""
    where = Path(repo) if repo else Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    """Where the numbers were measured: host, CPU, core count, Python, torch, GPU."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info: dict[str, Any] = {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(),
                            "python": platform.python_version(), "platform": platform.platform()}
    try:
        import torch

        info["torch"] = torch.__version__
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover - torch is a core dependency
        info["gpu"] = None
    return info


def write_outputs(report, out_dir: str | os.PathLike, plot: bool = False) -> dict[str, Path]:
    """Write eval.json, eval.csv, bd.csv (and rd_<clip>.png with ``plot``) into ``out_dir``.

    Returns name -> path of what was written. Plots are skipped (noted in the JSON) when
    matplotlib is missing.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        plots: list[str] = []
        plot_note = ""
        if plot:
            try:
                plots = [str(p) for p in plot_rd(
                    report.rows, out, ["scene_psnr", "scene_psnr_ref", "isi_psnr"])]
            except ImportError as exc:
                plot_note = f"no plots: {exc}"
        doc = {
            "spkc_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "commit": git_commit(), "machine": machine_info(), "config": report.config,
            "conventions": CONVENTIONS, "results": report.rows, "skipped": report.skipped,
            "bd": report.bd, "plots": plots, "plot_note": plot_note,
        }
        p = out / "eval.json"
        p.write_text(json.dumps(jsonable(doc), indent=1, allow_nan=False) + "\n")
        written["json"] = p
        p = out / "eval.csv"
        with open(p, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(ROW_FIELDS)
            for r in report.rows:
                w.writerow(["" if (v := jsonable(r.get(k))) is None else v for k in ROW_FIELDS])
        written["csv"] = p
        p = out / "bd.csv"
        with open(p, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(_BD_FIELDS)
            for e in report.bd:
                w.writerow(["" if (v := jsonable(e.get(k))) is None else v for k in _BD_FIELDS])
        written["bd"] = p
        for i, pp in enumerate(plots):
            written[f"plot{i}"] = Path(pp)
        return written
    except OSError as exc:
        raise OutputError(f"cannot write results: {exc.strerror or exc}", out) from exc


# -- plots -------------------------------------------------------------------------------------
_LABELS = {"scene_psnr": "scene PSNR (dB)", "scene_psnr_ref": "scene PSNR vs uncoded (dB)",
           "isi_psnr": "ISI-PSNR (dB)", "firing_rate_psnr": "firing-rate PSNR (dB)",
           "downstream_psnr": "downstream PSNR (dB)", "scene_ssim": "scene SSIM",
           "bits_per_spike_pixel": "bits per spike-pixel", "bpp_per_scene": "bpp per scene"}


def plot_rd(rows: Sequence[dict[str, Any]], out_dir: str | os.PathLike,
            metric: str | Sequence[str] = "scene_psnr", rate: str = "bits_per_spike_pixel",
            prefix: str = "rd_") -> list[Path]:
    """One RD figure per clip (``<prefix><clip stem>.png``): each ``metric`` (one panel each)
    against ``rate`` (log axis), one line per codec. Infinite/missing points are left out.

    Raises ImportError when matplotlib is absent (optional extra ``plot``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    metrics = [metric] if isinstance(metric, str) else list(metric)
    out = Path(out_dir)
    paths = []
    for clip in dict.fromkeys(r["clip"] for r in rows):
        fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4), dpi=110,
                                 squeeze=False)
        for ax, m in zip(axes[0], metrics, strict=True):
            for codec in dict.fromkeys(r["codec"] for r in rows if r["clip"] == clip):
                pts = []
                for r in rows:
                    if r["clip"] != clip or r["codec"] != codec:
                        continue
                    x, y = _num(r.get(rate)), _num(r.get(m))
                    if x is not None and y is not None and math.isfinite(y) and x > 0:
                        pts.append((x, y))
                pts.sort()
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=codec)
            ax.set_xscale("log")
            # minor-tick labels of a narrow log range collide; keep only the major ones
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(_LABELS.get(rate, rate))
            ax.set_ylabel(_LABELS.get(m, m))
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
        fig.suptitle(str(clip))
        fig.tight_layout()
        p = out / f"{prefix}{Path(clip).stem}.png"
        fig.savefig(p)
        plt.close(fig)
        paths.append(p)
    return paths
