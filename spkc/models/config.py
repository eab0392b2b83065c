"""Learned scene codec configurations (layer widths) and the rate-distortion weights of the
four shipped qualities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spkc.errors import InputError

CONFIGS: dict[str, dict[str, int]] = {
    # 3.03 GFLOP / 250x400 scene with BiSOAM, 1.55 without (tools/bench_learned.py); 0.75 M
    # parameters = 1.5 MB per shipped weights set (4 qualities x learned/baseline x versions)
    "compact": dict(n1=32, n2=48, m=64, slices=4, nh=48, nz=32, hc=64, cc=48, heads=2,
                    window=8, lstm_hidden=8),
    # compact's widths with three residual blocks per synthesis scale instead of one (+0.12 M
    # parameters, +0.24 MB per set): a deeper decoder, grown from compact weights by
    # grow_synthesis so that training starts from compact's function
    "deep": dict(n1=32, n2=48, m=64, slices=4, nh=48, nz=32, hc=64, cc=48, heads=2,
                 window=8, lstm_hidden=8, gs_depth=3),
    # compact with twice the latent channels (m=128 in 8 slices; the analysis body stays 64
    # wide, ma): with MSE-optimal latents compact's synthesis reaches only 1-2 dB above what
    # it codes, so the latent width, not the rate, bounds quality. Grown from compact weights
    # by widen_latents (same decoded scenes at the start)
    "wide": dict(n1=32, n2=48, m=128, ma=64, slices=8, nh=48, nz=32, hc=64, cc=48, heads=2,
                 window=8, lstm_hidden=8),
    # wide with a wider synthesis body too (s2=64 channels at 1/8, s1=48 at 1/4; the analysis
    # keeps compact's): 1.39 M parameters, 2.8 MB per set. Grown from compact by grow_model
    "broad": dict(n1=32, n2=48, m=128, ma=64, s1=48, s2=64, slices=8, nh=48, nz=32, hc=64,
                  cc=48, heads=2, window=8, lstm_hidden=8),
    # 1.69 M parameters = 3.0 MB per weights set: the most 8 sets (4 qualities x learned /
    # baseline) can have inside the 25 MB budget for all shipped weights
    "medium": dict(n1=48, n2=64, m=96, slices=4, nh=64, nz=48, hc=96, cc=64, heads=2,
                   window=8, lstm_hidden=8),
    # the paper's size (~49 M parameters); config only, no shipped weights
    "paper": dict(n1=192, n2=384, m=384, slices=6, nh=320, nz=192, hc=640, cc=448, heads=8,
                  window=8, lstm_hidden=64),
    # for fast tests only
    "tiny": dict(n1=8, n2=16, m=16, slices=2, nh=16, nz=8, hc=16, cc=16, heads=1, window=4,
                 lstm_hidden=4),
}
QUALITY_LAMBDAS: dict[int, float] = {1: 0.0067, 2: 0.013, 3: 0.025, 4: 0.05}

#: config keys added after weights were first shipped, with the value older files imply
CONFIG_DEFAULTS: dict[str, int] = {"gs_depth": 1}  # residual blocks per synthesis scale


def resolve_config(config: str | Mapping[str, Any]) -> dict[str, int]:
    """A config name or mapping -> the full config dict (keys added later filled in).

    A mapping overrides ``compact``'s values; unknown names raise :class:`InputError`."""
    if isinstance(config, str):
        if config not in CONFIGS:
            raise InputError(f"unknown learned-codec config {config!r}; choose from "
                             f"{sorted(CONFIGS)}")
        cfg = {**CONFIG_DEFAULTS, **CONFIGS[config]}
    else:
        cfg = {**CONFIG_DEFAULTS, **CONFIGS["compact"]}
        cfg.update({k: int(v) for k, v in config.items()})
    # widths the analysis and synthesis shared before they could differ: analysis body ma
    # (default m), synthesis at 1/8 and 1/4 resolution s2, s1 (default the analysis' n2, n1)
    cfg.setdefault("ma", cfg["m"])
    cfg.setdefault("s2", cfg["n2"])
    cfg.setdefault("s1", cfg["n1"])
    return cfg
