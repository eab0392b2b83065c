"""Encoder presets: named bundles of encoder settings that trade speed for bits, like x265's.

A preset chooses, for the codec at hand, the reconstructor (and its network size, test-time
augmentation and arithmetic precision), the learned codec's encoder-side latent refinement and
the batch size. It only changes what the *encoder* does: every file decodes the same way, and
the header records every setting (reconstructor config, codec config) plus the preset's name
(metadata ``preset``). Explicit options override the preset: an explicit ``reconstructor``,
``radius``, ``batch_size``, codec option or reconstructor option wins over the preset's.

The figures behind each preset (frames/s, bits, PSNR on a REDS clip) are in
``docs/results-speed.md``, measured by ``python tools/bench.py --presets``; why ``medium`` is
the default is in ``docs/speed.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spkc.errors import InputError

#: learned-family codecs: the preset sets their refinement and pairs them with the learned
#: reconstructor; every other codec keeps the window-average (TFP) reconstructor unless the
#: preset says otherwise for it
_LEARNED_FAMILY = ("learned", "baseline")


@dataclass(frozen=True)
class Preset:
    """One named bundle of encoder settings (see the module doc).

    ``learned_codec``: (reconstructor name, codec options) for the learned-family codecs;
    ``other_codec``: the reconstructor name for every other codec; ``reconstructor_options``:
    options per reconstructor name (applied to whichever reconstructor is used);
    ``bfloat16``: run a learned reconstructor and the learned codec's analysis and refinement
    in bfloat16 where the device does so natively (encoder only: decoding is exact anyway);
    ``batch_size``: scenes per batch for the learned-family codecs (others keep 4).
    """

    name: str
    summary: str
    learned_reconstructor: str
    learned_codec_options: Mapping[str, Any]
    other_reconstructor: str
    reconstructor_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    bfloat16: bool = False
    batch_size: int = 4
    #: luminance between scene times: motion estimation costs encoder time (docs/speed.md)
    interpolation: str = "motion"


PRESETS: dict[str, Preset] = {
    "fast": Preset(
        name="fast",
        summary="window-average (TFP, 17 frames) scenes, no latent refinement",
        learned_reconstructor="tfp",
        learned_codec_options={"refine": 0},
        other_reconstructor="tfp",
        reconstructor_options={"tfp": {"radius": 8}, "learned": {"config": "compact"}},
        bfloat16=True,
        batch_size=4,
        interpolation="linear",
    ),
    "medium": Preset(
        name="medium",
        summary="compact learned reconstructor, no latent refinement, bfloat16 where native",
        learned_reconstructor="learned",
        learned_codec_options={"refine": 0},
        other_reconstructor="tfp",
        # batch: windows per network call (runtime only): one keeps the peak memory down
        reconstructor_options={"learned": {"config": "compact", "batch": 1}},
        bfloat16=True,
        batch_size=2,
    ),
    "slow": Preset(
        name="slow",
        summary="medium learned reconstructor, 100 refinement steps, float32 (0.1.0's "
                "default)",
        learned_reconstructor="learned",
        learned_codec_options={"refine": 100},
        other_reconstructor="learned",
        reconstructor_options={"learned": {"config": "medium"}},
        bfloat16=False,
        batch_size=4,
    ),
}
PRESET_NAMES: tuple[str, ...] = tuple(PRESETS)
#: scenes per batch for codecs outside the learned family, whatever the preset (0.1.0's)
OTHER_BATCH_SIZE = 4
DEFAULT_PRESET = "medium"


def get_preset(name: str | None) -> Preset:
    """The preset ``name`` (None: :data:`DEFAULT_PRESET`); InputError for an unknown name."""
    key = DEFAULT_PRESET if name is None else name
    if key not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose from {', '.join(PRESET_NAMES)}")
    return PRESETS[key]


@dataclass(frozen=True)
class EncoderSettings:
    """What :func:`resolve` made of a preset and the explicit options."""

    preset: str
    reconstructor: str
    reconstructor_options: dict[str, Any]
    codec_options: dict[str, Any]
    batch_size: int
    interpolation: str = "motion"


def resolve(preset: str | None, codec: str, reconstructor: str | None = None,
            reconstructor_options: Mapping[str, Any] | None = None,
            codec_options: Mapping[str, Any] | None = None, batch_size: int | None = None,
            device: str = "cpu", learned_family: bool | None = None) -> EncoderSettings:
    """The encoder settings of ``preset`` for ``codec``, explicit arguments winning.

    ``learned_family``: whether ``codec`` takes the learned codec's options (default: its
    name is ``learned`` or ``baseline``).
    """
    from spkc.codecs.reconstructors import fast_bfloat16

    p = get_preset(preset)
    fam = codec in _LEARNED_FAMILY if learned_family is None else learned_family
    rname = reconstructor or (p.learned_reconstructor if fam else p.other_reconstructor)
    ropts: dict[str, Any] = dict(p.reconstructor_options.get(rname, {}))
    if rname == "learned" and p.bfloat16 and fast_bfloat16(device):
        ropts["precision"] = "bfloat16"
    ropts.update(dict(reconstructor_options or {}))
    copts = dict(p.learned_codec_options) if fam else {}
    if fam and p.bfloat16 and fast_bfloat16(device):
        copts["precision"] = "bfloat16"
    copts.update(dict(codec_options or {}))
    # the batch also sets which scenes fit the clip's luminance scale (the first batch), so
    # codecs the preset does not otherwise touch keep 0.1.0's batch and write what they did
    bs = (p.batch_size if fam else OTHER_BATCH_SIZE) if batch_size is None else int(batch_size)
    return EncoderSettings(preset=p.name, reconstructor=rname, reconstructor_options=ropts,
                           codec_options=copts, batch_size=bs, interpolation=p.interpolation)


#: the measured trade-off of each preset, written by ``python tools/bench.py --presets``
MEASURED = Path(__file__).with_name("presets.json")


def measured_table() -> dict[str, Any] | None:
    """The last measurement of the presets (:data:`MEASURED`), or None if absent/unreadable."""
    try:
        return json.loads(MEASURED.read_text())
    except (OSError, ValueError):
        return None


def compress_help() -> str:
    """``spkc compress --help``: what it does, and the presets with their measured trade-off."""
    lines = ["Compress a spike recording (.dat, .npy, .npz, .h5) into a .spkc file.", "",
             "\b", "Presets (--preset; the learned codec, its default quality):"]
    doc = measured_table() or {}
    rows = {r["preset"]: r for r in doc.get("presets", [])}
    for p in PRESETS.values():
        r = rows.get(p.name)
        lines.append(f"  {p.name:<6} {p.summary}"
                     + (" [default]" if p.name == DEFAULT_PRESET else ""))
        if r:
            psnr = r.get("scene_psnr")
            lines.append(f"         {r['compress_frames_per_s']:.0f} frames/s "
                         f"({r['compress_vs_zstd19']:.2f}x zstd -19), {r['ratio']:.0f}:1 "
                         f"({r['bits_per_spike_pixel']:.4f} bits/spike-pixel)"
                         + (f", {psnr:.2f} dB" if psnr is not None else ""))
    if doc:
        lines.append(f"  (tools/bench.py --presets on {doc.get('clip', '?')}, "
                     f"{doc.get('machine_summary', '?')}, {doc.get('threads') or 'default'} "
                     f"torch thread(s); dB: scene PSNR vs ground truth at "
                     f"{doc.get('quality_frames_per_scene', '?')} frames/scene; "
                     f"docs/results-speed.md)")
    return "\n".join(lines)
