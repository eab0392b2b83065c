"""Integrate-and-fire simulation, ISI / firing-rate maps, TFP / TFI, synthetic scenes.

numpy and torch simulators give the same spikes bit for bit. The decoder's integer regenerator
lives in :mod:`spkc.spikes.regenerate`.
"""

from spkc.spikes.maps import (
    firing_rate_map,
    isi_map,
    tfi,
    tfi_windows,
    tfp,
    tfp_windows,
)
from spkc.spikes.simulate import integrate_and_fire, integrate_and_fire_torch
from spkc.spikes.synthetic import (
    SyntheticScene,
    simulate_sample,
    simulate_to_file,
    synthetic_intensity,
)

__all__ = [
    "SyntheticScene",
    "firing_rate_map",
    "integrate_and_fire",
    "integrate_and_fire_torch",
    "isi_map",
    "simulate_sample",
    "simulate_to_file",
    "synthetic_intensity",
    "tfi",
    "tfi_windows",
    "tfp",
    "tfp_windows",
]
