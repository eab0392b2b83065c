"""Validation on ../shared/data/reds-spikes: scene PSNR at frame 151 after an affine fit.

Each clip ``<name>.dat`` (250x400, PKU layout) has a ground-truth scene ``<name>.png`` at frame
151 (0-based). A reconstruction (any scale) is mapped to the ground truth by the least-squares
affine fit ``a * x + b``, clipped to [0, 1], and scored by PSNR (peak 1).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from spkc.errors import InputError

SCENE_FRAME = 151
DEFAULT_REDS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "reds-spikes"


def affine_psnr(pred: np.ndarray, gt: np.ndarray) -> float:
    """PSNR in dB (peak 1) of ``a*pred+b`` (least squares, clipped to [0, 1]) vs ``gt``."""
    from spkc.metrics import affine_fit, psnr

    return psnr(np.clip(affine_fit(pred, gt), 0.0, 1.0), np.asarray(gt, np.float64))


def load_reds(reds_dir: str | Path | None = None, radius: int = 20,
              frame: int = SCENE_FRAME) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(name, window (2R+1, 250, 400) bool centred on ``frame``, gt (250, 400) float32 [0,1])]
    for every ``<name>.dat`` with a ``<name>.png`` in the directory.

    Empty list when the directory is absent (validation is then skipped).
    """
    from spkc.eval.engine import load_ground_truth
    from spkc.io.dat import read_dat

    d = Path(reds_dir) if reds_dir is not None else DEFAULT_REDS
    if not d.is_dir():
        return []
    out = []
    for dat in sorted(d.glob("*.dat")):
        png = dat.with_suffix(".png")
        if not png.is_file():
            continue
        if frame - radius < 0:
            raise InputError(f"window radius {radius} reaches before frame 0", dat)
        win = read_dat(dat, start=frame - radius, count=2 * radius + 1)
        gt = load_ground_truth(png, dat)  # 8- or 16-bit gray
        if gt.shape != win.shape[1:]:
            raise InputError(f"ground truth {gt.shape} does not match spikes {win.shape[1:]}",
                             png)
        out.append((dat.stem, win, gt))
    return out


def validate(reconstruct: Callable[[np.ndarray], np.ndarray], radius: int,
             reds_dir: str | Path | None = None) -> dict[str, float]:
    """PSNR per clip and mean for ``reconstruct((N, 2R+1, H, W) bool) -> (N, H, W)``."""
    clips = load_reds(reds_dir, radius)
    res: dict[str, float] = {}
    for name, win, gt in clips:
        res[name] = affine_psnr(reconstruct(win[None])[0], gt)
    if res:
        res["mean"] = float(np.mean(list(res.values())))
    return res


def baselines(reds_dir: str | Path | None = None,
              tfp_radii: tuple[int, ...] = (2, 4, 8, 12, 16, 20, 25, 30)) -> dict[str, dict]:
    """Mean PSNR of TFP at several radii and TFI (radius 20) on reds-spikes."""
    from spkc.codecs.reconstructors import TfiReconstructor, TfpReconstructor

    out = {}
    for r in tfp_radii:
        out[f"tfp{2 * r + 1}"] = validate(TfpReconstructor(radius=r).reconstruct, r, reds_dir)
    out["tfi"] = validate(TfiReconstructor(radius=20).reconstruct, 20, reds_dir)
    return out


def reconstruction_psnrs(clips: list[Path], radii: list[int]) -> dict[str, dict[str, float]]:
    """{reconstructor: {clip name: PSNR dB}} of uncoded reconstructions at SCENE_FRAME
    (:func:`validate` on each directory holding the ``clips``): the default learned
    reconstructor as the encoder runs it, the same without test-time augmentation when the
    default uses it, and :func:`baselines` (TFP at each of ``radii``, TFI)."""
    from spkc.codecs.reconstructors import LearnedReconstructor

    learned = LearnedReconstructor()  # as the encoder runs it (default config and tta)
    # the same network without test-time augmentation, only when the default turns it on
    single = LearnedReconstructor(tta=1) if learned.tta != 1 else None
    out: dict[str, dict[str, float]] = {}
    for d in dict.fromkeys(c.parent for c in clips):
        res = baselines(d, tuple(radii))
        res["learned"] = validate(learned.reconstruct, learned.radius, d)
        if single is not None:
            res["learned tta=1"] = validate(single.reconstruct, single.radius, d)
        for name, per_clip in res.items():
            out.setdefault(name, {}).update({f"{k}.dat": v for k, v in per_clip.items()
                                             if k != "mean"})
    return out
