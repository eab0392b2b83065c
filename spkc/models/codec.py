"""Compatibility re-exports: the learned scene codec used to live in this one module.

It is now split (see docs/architecture.md): :mod:`spkc.models.config` (configs, quality
lambdas), :mod:`spkc.models.layers` and :mod:`spkc.models.attention` (building blocks),
:mod:`spkc.models.transforms` (``g_a``, ``g_s``), :mod:`spkc.models.entropy_models`,
:mod:`spkc.models.hyperprior` and :mod:`spkc.models.channel_context` (entropy models and
latent codecs), :mod:`spkc.models.bitstream` (payload framing), :mod:`spkc.models.scene_codec`
(:class:`SceneCompressionModel`), :mod:`spkc.models.weights` (weights files),
:mod:`spkc.models.losses` (rate-distortion) and :mod:`spkc.models.surgery` (training-only
growing). Every name this module exported before is still importable from here; new code
should import from those modules.
"""

from __future__ import annotations

from spkc.models.attention import SpikeAttention
from spkc.models.bitstream import MAGIC, META
from spkc.models.channel_context import MEAN_GRID, SIDX_OFFSET
from spkc.models.config import CONFIG_DEFAULTS, CONFIGS, QUALITY_LAMBDAS
from spkc.models.config import resolve_config as _resolve_config
from spkc.models.entropy_models import (
    NUM_SCALES,
    SCALE_MAX,
    SCALE_MIN,
    Y_RANGE,
    Z_FREQ_TOTAL,
    Z_RANGE,
)
from spkc.models.entropy_models import gauss_bin as _gauss_bin
from spkc.models.layers import ResBlock, ResBlockStride, TCMBlock, WindowAttention, count_parameters
from spkc.models.losses import bits_per_pixel, rd_cost, rd_loss, rd_terms
from spkc.models.scene_codec import PAD, REFINE_LR, SceneCompressionModel
from spkc.models.surgery import grow_model, grow_synthesis, widen_latents, widen_synthesis
from spkc.models.transforms import Analysis
from spkc.models.weights import safetensors_metadata, weights_config

__all__ = [
    "CONFIGS", "CONFIG_DEFAULTS", "MAGIC", "MEAN_GRID", "META", "NUM_SCALES", "PAD",
    "QUALITY_LAMBDAS", "REFINE_LR", "SCALE_MAX", "SCALE_MIN", "SIDX_OFFSET", "Y_RANGE",
    "Z_FREQ_TOTAL", "Z_RANGE", "Analysis", "ResBlock", "ResBlockStride", "SceneCompressionModel",
    "SpikeAttention", "TCMBlock", "WindowAttention", "_gauss_bin", "_resolve_config",
    "bits_per_pixel", "count_parameters", "grow_model", "grow_synthesis", "rd_cost", "rd_loss",
    "rd_terms", "safetensors_metadata", "weights_config", "widen_latents", "widen_synthesis",
]
