"""A summary of a .spkc file for `spkc info` (plain dict, JSON-ready)."""

from __future__ import annotations

import os
from typing import Any


def describe_spkc(path: str | os.PathLike) -> dict[str, Any]:
    """Codec, parameters, scenes, sizes, bits per spike-pixel and ratio of a .spkc file.

    Reads the header and index only (no scene is decoded).
    """
    from spkc.container import SpkcReader

    with SpkcReader(path) as r:
        h = r.header
        T = int(r.num_frames)
        H, W = int(h.height), int(h.width)
        pixels = max(T * H * W, 1)
        payload = int(r.payload_bytes())
        size = int(r.file_size)
        return {
            "path": os.fspath(path),
            "format": "spkc",
            "complete": bool(r.complete),
            "frames": T,
            "height": H,
            "width": W,
            "frame_rate_hz": float(h.frame_rate),
            "duration_s": T / h.frame_rate if h.frame_rate else None,
            "scenes": int(r.num_scenes),
            "frames_per_scene": int(h.frames_per_scene),
            "group_length": int(h.group_length),
            "format_version": f"{r.version[0]}.{r.version[1]}",
            "codec": h.codec,
            "codec_version": h.codec_version,
            "codec_config": dict(h.codec_config),
            "codec_identity": dict(h.codec_identity),
            "reconstructor": h.reconstructor,
            "reconstructor_config": dict(h.reconstructor_config),
            "regen": dict(h.regen),
            "file_bytes": size,
            "payload_bytes": payload,
            "container_overhead": (size - payload) / size if size else 0.0,
            "bits_per_spike_pixel": size * 8 / pixels,
            "bpp_per_scene": payload * 8 / max(int(r.num_scenes) * H * W, 1),
            "ratio": (pixels / 8) / size if size else 0.0,
            "metadata": dict(r.metadata),
            "exact_layer": _layer_info(r, pixels),
            **_codec_kind(h.codec),
        }


def _layer_info(r, pixels: int) -> dict[str, Any] | None:
    """The exact layer's codec, blocks and bytes (None without one); sizes from the index."""
    xl = r.header.exact_layer
    if xl is None:
        return None
    layer = int(r.layer_bytes())
    return {
        "codec": xl["codec"],
        "codec_version": xl["codec_version"],
        "block_frames": int(xl["block_frames"]),
        "blocks": int(r.num_layer_blocks),
        "layer_bytes": layer,
        "lossy_bytes": int(r.file_size) - layer,
        "layer_ratio": (pixels / 8) / layer if layer else 0.0,
        "index": r.layer_index_status,
    }


def _codec_kind(name: str) -> dict[str, Any]:
    """``kind`` ("scene", "stream" or "unknown") and ``lossless`` of the file's codec."""
    from spkc.codecs import get_codec_class
    from spkc.errors import SpkcError

    try:
        cls = get_codec_class(name)
    except SpkcError:
        return {"kind": "unknown", "lossless": None}
    kind = str(getattr(cls, "kind", "scene"))
    return {"kind": kind, "lossless": bool(getattr(cls, "lossless", False))}


def format_spkc_info(d: dict[str, Any]) -> str:
    """Human-readable lines for :func:`describe_spkc`'s dict."""
    if d.get("kind") == "stream":
        return _format_stream_info(d)
    lines = [
        f"{d['path']}: .spkc, {d['frames']} frames of {d['height']}x{d['width']}"
        + (f" ({d['duration_s']:.4f} s at {d['frame_rate_hz']:g} Hz)" if d["duration_s"] else "")
        + ("" if d["complete"] else "  [INCOMPLETE: writer did not finish; run spkc repair]"),
        f"  codec          {d['codec']} v{d['codec_version']} {d['codec_config']}",
        f"  reconstructor  {d['reconstructor']} {d['reconstructor_config']}",
        f"  scenes         {d['scenes']} x {d['frames_per_scene']} frames"
        + (f", groups of {d['group_length']} (key scene + predicted; format "
           f"{d['format_version']})" if d.get("group_length", 1) > 1 else ""),
        f"  regeneration   {d['regen']}",
        f"  size           {d['file_bytes']} bytes ({d['payload_bytes']} payload, "
        f"{100 * d['container_overhead']:.2f}% container)",
        f"  rate           {d['bits_per_spike_pixel']:.5f} bits/spike-pixel, "
        f"{d['bpp_per_scene']:.3f} bpp per scene, ratio {d['ratio']:.1f}x vs 1 bit/pixel",
    ]
    xl = d.get("exact_layer")
    if xl:
        lines += [
            f"  layers         lossy (scenes) {xl['lossy_bytes']} bytes + exact (source "
            f"spikes, lossless) {xl['layer_bytes']} bytes; format {d['format_version']}",
            f"  exact layer    {xl['codec']} v{xl['codec_version']}, {xl['blocks']} blocks x "
            f"{xl['block_frames']} frames, ratio {xl['layer_ratio']:.2f}x vs 1 bit/pixel "
            f"(`spkc strip` drops it)",
        ]
    if d["codec_identity"]:
        lines.append(f"  identity       {d['codec_identity']}")
    for k, v in d["metadata"].items():
        lines.append(f"  meta {k}: {v}")
    return "\n".join(lines)


def _format_stream_info(d: dict[str, Any]) -> str:
    """Lines for a spike-stream (e.g. lossless ``exact``) file: blocks instead of scenes."""
    mode = "lossless: decodes to exactly the source spikes" if d["lossless"] else "lossy"
    lines = [
        f"{d['path']}: .spkc, {d['frames']} frames of {d['height']}x{d['width']}"
        + (f" ({d['duration_s']:.4f} s at {d['frame_rate_hz']:g} Hz)" if d["duration_s"] else "")
        + ("" if d["complete"] else "  [INCOMPLETE: writer did not finish; run spkc repair]"),
        f"  codec          {d['codec']} v{d['codec_version']} (spike stream, {mode})",
        f"  blocks         {d['scenes']} x {d['frames_per_scene']} frames"
        + (f" (the last one {last})" if 0 < (last := d["frames"] - (d["scenes"] - 1)
                                            * d["frames_per_scene"]) < d["frames_per_scene"]
           else ""),
        f"  size           {d['file_bytes']} bytes ({d['payload_bytes']} payload, "
        f"{100 * d['container_overhead']:.2f}% container)",
        f"  ratio          {d['ratio']:.2f}x vs 1 bit/pixel raw "
        f"({d['bits_per_spike_pixel']:.4f} bits/spike-pixel)",
    ]
    for k, v in d["metadata"].items():
        lines.append(f"  meta {k}: {v}")
    return "\n".join(lines)
