"""The exact layer: a lossy ``.spkc`` that also carries the source spikes (spec/exact.md, 7).

One file, two uses: the scene chunks regenerate a lossy stream (``Clip.spikes()``), and the
ancillary ``xblk`` chunks (format 1.1) hold the source spikes coded block by block by a
spike-stream codec (``exact``), so ``Clip.spikes(exact=True)`` returns them exactly. A 1.0
reader skips the ancillary chunks and still reads the lossy file; :func:`strip` drops the layer
and writes the lossy file alone.

This module holds everything the layer adds to the pipeline: the encoder hook used by
:func:`spkc.compress` (``exact=True``), the reading side used by :class:`spkc.pipeline.clip.Clip`
and :func:`strip`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spkc.codecs.stream_base import SpikeStreamCodec
from spkc.errors import (
    BlockCorruptError,
    InputError,
    OutputError,
    SceneCorruptError,
    SpkcError,
    UnsupportedVersionError,
)
from spkc.pipeline.frames import assemble, iter_block_parts, iter_blocks

#: the stream codec of the exact layer (the only one written today)
LAYER_CODEC = "exact"


def make_layer_codec(block_frames: int | None = None, device: str = "cpu",
                     src: str | os.PathLike | None = None) -> SpikeStreamCodec:
    """The layer's stream codec (``exact``) with ``block_frames`` frames per block (default:
    the codec's measured default)."""
    from spkc.codecs import get_codec

    try:
        codec = get_codec(LAYER_CODEC, device=device, block_frames=block_frames)
    except SpkcError as exc:
        if exc.path is None and src is not None:
            raise type(exc)(f"exact layer: {exc.problem}", src) from exc
        raise
    assert isinstance(codec, SpikeStreamCodec)
    return codec


def layer_header(codec: SpikeStreamCodec) -> dict[str, Any]:
    """The header's ``exact_layer`` object for ``codec``."""
    return {"codec": codec.name, "codec_version": str(codec.version),
            "codec_config": codec.get_config(), "block_frames": int(codec.block_frames)}


class ExactLayerEncoder:
    """Writes the exact layer while the scenes are written: :meth:`advance` codes every block
    whose frames all lie before ``upto``, reading them again from ``source`` (memory: one block),
    so block k lands right after the scene covering its last frame and a killed writer leaves
    every flushed block recoverable."""

    def __init__(self, source, writer, codec: SpikeStreamCodec) -> None:
        self.source = source
        self.writer = writer
        self.codec = codec
        self.num_frames = int(source.shape[0])
        self.payload_bytes = 0

    def advance(self, upto: int) -> None:
        """Code the blocks that end at or before frame ``upto``."""
        B = self.codec.block_frames
        while True:
            a = self.writer.layer_frames
            b = min(a + B, self.num_frames)
            if a >= self.num_frames or b > upto:
                return
            data = self.codec.encode_block(self.source.read(a, b))
            self.writer.add_layer_block(data, b - a)
            self.payload_bytes += len(data)

    def finish(self) -> None:
        """Code the remaining blocks (all frames)."""
        self.advance(self.num_frames)


def layer_codec_for(header, path: str, device: str = "cpu") -> SpikeStreamCodec:
    """The stream codec named by ``header.exact_layer``; SpkcError naming ``path`` when this
    install cannot decode it."""
    from spkc.codecs import codec_from_config

    xl = header.exact_layer
    if xl is None:
        raise InputError("file has no exact layer (compress with --exact to add one)", path)
    try:
        codec = codec_from_config(xl["codec"], dict(xl["codec_config"]), device=device)
    except SpkcError as exc:
        raise type(exc)(f"exact layer: {exc.problem}", path) from exc
    if not isinstance(codec, SpikeStreamCodec):
        raise InputError(f"exact layer codec {xl['codec']!r} is not a spike-stream codec", path)
    if str(codec.version) != str(xl["codec_version"]):
        raise UnsupportedVersionError(
            f"exact layer made with {xl['codec']} bitstream version {xl['codec_version']}; this "
            f"install decodes version {codec.version}", path)
    if codec.block_frames != int(xl["block_frames"]):
        raise UnsupportedVersionError(
            f"exact layer block length {xl['block_frames']} disagrees with its codec config "
            f"block_frames {codec.block_frames}", path)
    return codec


class ExactLayer:
    """Reading side of a file's exact layer: the source spikes, decoded block by block.

    ``reader``: the file's :class:`spkc.container.SpkcReader` (shared with the lossy side).
    Random access decodes only the blocks covering the request; a damaged block raises
    :class:`~spkc.errors.BlockCorruptError` naming it and its frames, the others still decode.
    """

    def __init__(self, reader, path: str, device: str = "cpu") -> None:
        self._reader = reader
        self.path = path
        self.codec = layer_codec_for(reader.header, path, device)
        self._cached: tuple[int, np.ndarray] | None = None
        #: blocks decoded so far, in order (for random-access checks)
        self.decoded_blocks: list[int] = []

    @property
    def block_frames(self) -> int:
        return int(self.codec.block_frames)

    @property
    def num_blocks(self) -> int:
        return int(self._reader.num_layer_blocks)

    @property
    def payload_bytes(self) -> int:
        """Bytes of the layer's chunks in the file."""
        return int(self._reader.layer_bytes())

    def block(self, k: int) -> np.ndarray:
        """Source spikes of layer block k: (n_k, H, W) bool, read-only."""
        if self._cached is not None and self._cached[0] == k:
            return self._cached[1]
        self._cached = None  # free before decoding: memory ~ one block
        first, stop = self._reader.layer_block_range(k)
        H, W = self._reader.header.height, self._reader.header.width
        try:
            data = self._reader.layer_block(k)
        except SceneCorruptError as exc:  # chunk missing, damaged or lost: says so itself
            raise BlockCorruptError(exc.problem, self.path, block=k,
                                    frames=(first, stop)) from exc
        try:
            shape = (stop - first, H, W)
            out = np.asarray(self.codec.decode_block(data, shape))
            if out.shape != shape or out.dtype != bool:
                raise SceneCorruptError(f"decoded to {out.dtype} {out.shape}, expected bool "
                                        f"{shape}")
        except Exception as exc:
            why = exc.problem if isinstance(exc, SpkcError) else f"{type(exc).__name__}: {exc}"
            raise BlockCorruptError(
                f"exact layer block {k} (frames {first}..{stop - 1}) does not decode: {why}",
                self.path, block=k, frames=(first, stop)) from exc
        out.flags.writeable = False
        self.decoded_blocks.append(k)
        self._cached = (k, out)
        return out

    def iter_parts(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first frame, spikes) pieces covering [start, stop), one per covering block."""
        return iter_block_parts(start, stop, self.block_frames, self._reader.layer_block_range,
                                self.block)

    def spikes(self, start: int, stop: int) -> np.ndarray:
        """Source spikes of frames [start, stop): (stop-start, H, W) bool."""
        h = self._reader.header
        return assemble(start, stop, h.height, h.width, self.iter_parts(start, stop))

    def verify(self) -> dict[int, str]:
        """Decode every block -> {block: why} for those that do not."""
        bad: dict[int, str] = {}
        for k in range(self.num_blocks):
            try:
                self.block(k)
            except BlockCorruptError as exc:
                bad[k] = exc.problem
        self._cached = None
        return bad


@dataclass
class StripResult:
    """What :func:`strip` wrote. Sizes in bytes."""

    src: str
    dst: str
    src_bytes: int
    dst_bytes: int
    layer_bytes: int
    scenes: int
    format_version: str
    #: (scene, why) of scenes that did not read and are written as lost placeholders
    lost_scenes: list[tuple[int, str]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def strip(src: str | os.PathLike, dst: str | os.PathLike) -> StripResult:
    """Write ``src`` without its exact layer to ``dst``: the same header (less
    ``exact_layer``; format 1.0 unless another 1.1 feature remains), metadata and scene chunks
    in the same order, i.e. the bytes ``spkc compress`` without ``--exact`` writes for the same
    scenes and metadata. A scene that does not read (damaged, or lost before a repair) is
    written as a lost placeholder, as :func:`spkc.container.repair` does, and listed in the
    result. Streams one scene at a time; ``dst`` appears only when complete."""
    from dataclasses import replace

    from spkc.container import SpkcReader, SpkcWriter
    from spkc.errors import UnfinishedFileError

    src_s, dst_s = os.fspath(src), os.fspath(dst)
    if os.path.abspath(src_s) == os.path.abspath(dst_s):
        raise InputError("strip needs a different output file than its input", src_s)
    with SpkcReader(src_s) as r:
        if r.header.exact_layer is None:
            raise InputError("file has no exact layer; nothing to strip", src_s)
        if not r.complete:
            raise UnfinishedFileError("file is unfinished (its writer did not close it); run "
                                      "`spkc repair` first", src_s)
        header = replace(r.header, exact_layer=None)
        meta = r.metadata
        lost: list[tuple[int, str]] = []
        try:
            with SpkcWriter(dst_s, header, meta, keep_partial_on_error=False) as w:
                for k in range(r.num_scenes):
                    nf = r.scene_frames(k)[1]
                    try:
                        payloads = r.scene_payloads(k)
                    except SceneCorruptError as exc:
                        w.add_lost_scene(nf)
                        lost.append((k, exc.problem))
                        continue
                    w.add_scene(payloads, nf)
        except OSError as exc:  # pragma: no cover - writer errors are OutputError already
            raise OutputError(f"cannot write: {exc.strerror or exc}", dst_s) from exc
        layer = r.layer_bytes()
        scenes = r.num_scenes
        src_bytes = r.file_size
    return StripResult(src_s, dst_s, src_bytes, Path(dst_s).stat().st_size, layer, scenes,
                       f"1.{header.minor_version}", lost)


class ExactLayerAccess:
    """Mixin for :class:`spkc.pipeline.clip.Clip`: ``has_exact``, ``exact_layer`` and the
    ``exact=True`` paths of ``spikes`` / ``iter_spikes``. Needs ``_reader``, ``path``,
    ``device`` and ``shape`` on the host class."""

    _reader: Any
    path: str
    device: str
    _exact: ExactLayer | None = None

    @property
    def has_exact(self) -> bool:
        """True when the file carries the exact layer (the source spikes, lossless)."""
        return self._reader.header.exact_layer is not None

    @property
    def exact_layer(self) -> ExactLayer:
        """The exact layer (InputError naming the file when it has none)."""
        if self._exact is None:
            self._exact = ExactLayer(self._reader, self.path, self.device)
        return self._exact

    def _exact_spikes(self, start: int, stop: int) -> np.ndarray:
        return self.exact_layer.spikes(start, stop)

    def _iter_exact(self, block: int | None, start: int, stop: int) -> Iterator[np.ndarray]:
        layer = self.exact_layer
        yield from iter_blocks(block, start, stop, layer.iter_parts(start, stop), layer.spikes,
                               self.path)
