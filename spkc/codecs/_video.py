"""Helpers shared by the video scene codecs (``hevc``, ``av1``): groups as packet sequences.

A group of scenes is coded as one low-delay video stream (a key picture, then pictures
predicted from earlier ones, no reordering), and the stream is split into its packets, one
per scene, in decoding order == scene order. Scene j of a group therefore decodes from the
packets 0..j of its group fed to a fresh decoder, which is what :func:`decode_packets` does.
Each packet is sealed with a CRC-32C (:func:`spkc.codecs._image.seal`) because FFmpeg's
decoders conceal damage silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from spkc.codecs._image import (
    check_plane,
    corrupt,
    from_uint,
    get_payload,
    optional_module,
    unseal,
)
from spkc.codecs.base import Payloads
from spkc.errors import CodecUnavailableError, SceneCorruptError


def encode_frames(ctx: Any, frames: Sequence[Any], codec: str) -> list[bytes]:
    """Feed ``frames`` to an opened PyAV encoder and flush it -> one packet per frame.

    A low-delay configuration emits exactly one packet per picture, in order; any other
    count means the encoder reordered or dropped pictures, which the format cannot carry.
    """
    try:
        packets = []
        for f in frames:
            packets.extend(ctx.encode(f))
        packets.extend(ctx.encode(None))
    except Exception as exc:  # av.error.* from avcodec_open2 / send_frame
        raise CodecUnavailableError(f"{codec}: the encoder failed: {exc}") from exc
    data = [bytes(p) for p in packets]
    if len(data) != len(frames) or not all(data):
        raise CodecUnavailableError(f"{codec}: the encoder gave {len(data)} packets for "
                                    f"{len(frames)} pictures (expected one each)")
    return data


def unseal_group(payloads: Sequence[Payloads], codec: str) -> list[bytes]:
    """The packets of a group prefix; SceneCorruptError(scene=j) for the first bad one."""
    out = []
    for j, payload in enumerate(payloads):
        try:
            out.append(unseal(get_payload(payload, "img", codec), codec))
        except SceneCorruptError as exc:
            exc.scene = j
            raise
    return out


def decode_packets(av: Any, decoder: str, packets: Sequence[bytes], codec: str,
                   read: Callable[[Any], np.ndarray]) -> list[np.ndarray]:
    """Packets of a group prefix -> one plane per packet, via a fresh one-thread decoder.

    ``read`` turns a decoded frame into an integer (H', W') plane (and raises
    SceneCorruptError on a wrong format). Errors carry ``scene`` = the index of the first
    packet that did not give its picture.
    """
    ctx = av.CodecContext.create(decoder, "r")
    ctx.thread_count = 1  # one thread: no frame-threading delay; output is exact regardless
    planes: list[np.ndarray] = []
    fed = 0  # packets fed so far: a failure is blamed on the first scene without a picture
    try:
        for data in packets:
            fed += 1
            planes.extend(read(f) for f in ctx.decode(av.Packet(data)))
        planes.extend(read(f) for f in ctx.decode(None))
    except SceneCorruptError as exc:
        exc.scene = min(len(planes), len(packets) - 1)
        raise
    except Exception as exc:  # av.error.InvalidDataError and friends
        err = corrupt(codec, "cannot decode the video bitstream", exc)
        err.scene = min(len(planes), max(fed - 1, 0), len(packets) - 1)
        raise err from exc
    if len(planes) != len(packets):
        err = corrupt(codec, f"{len(packets)} packets gave {len(planes)} pictures")
        err.scene = min(len(planes), len(packets) - 1)
        raise err
    return planes


def video_availability(encoder: str, decoder: str, decoder_label: str,
                       pix_fmts: Sequence[str]) -> tuple[bool, str]:
    """``availability()`` of a PyAV video codec: PyAV is installed and its build has the
    ``encoder`` (able to code every one of ``pix_fmts``) and the ``decoder``."""
    av, reason = optional_module("av")
    if av is None:
        return False, reason
    try:
        enc = av.codec.Codec(encoder, "w")
        av.codec.Codec(decoder, "r")
    except Exception as exc:  # av raises UnknownCodecError / ValueError by version
        return False, f"this PyAV build lacks {encoder} or {decoder_label} ({exc})"
    formats = {f.name for f in (enc.video_formats or ())}
    if not set(pix_fmts) <= formats:
        return False, f"this PyAV build's {encoder} cannot code {' / '.join(pix_fmts)}"
    return True, ""


def check_format(frame: Any, expected: str, codec: str) -> Any:
    """``frame`` when its pixel format is ``expected``, else SceneCorruptError."""
    if frame.format.name != expected:
        raise corrupt(codec, f"decoded picture is {frame.format.name}, expected {expected}")
    return frame


def planes_to_scenes(planes: Sequence[np.ndarray], shape: tuple[int, int], bit_depth: int,
                     codec: str) -> np.ndarray:
    """Decoded integer planes of a group -> scenes (n, H, W) float32 in [0, 1], cropped to
    ``shape``; SceneCorruptError(scene=j) for the first plane that does not fit."""
    h, w = shape
    out = np.empty((len(planes), h, w), np.float32)
    for j, plane in enumerate(planes):
        try:
            out[j] = from_uint(check_plane(plane, (h, w), bit_depth, codec), bit_depth)
        except SceneCorruptError as exc:
            exc.scene = j
            raise
    return out
