"""Spike-stream codecs in the pipeline: compress to blocks, and :class:`StreamClip` to read them.

A stream-codec file is an ordinary ``.spkc`` container (spec/exact.md section 1): the header
names the codec, ``frames_per_scene`` is the block length B, and block k is scene chunk k with
one payload (``blk``). The container's index, checksums, forward scan and repair therefore work
on blocks unchanged; this module only adds what differs from scene codecs: no reconstructor, no
regeneration, and spikes that come straight out of the codec.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spkc.codecs.stream_base import BLOCK_PAYLOAD, SpikeStreamCodec
from spkc.errors import (
    BlockCorruptError,
    InputError,
    SceneCorruptError,
    SpkcError,
    UnsupportedVersionError,
)
from spkc.pipeline.frames import (
    ReaderInfo,
    assemble,
    codec_from_header,
    frame_range,
    iter_block_parts,
    iter_blocks,
)
from spkc.pipeline.writing import file_metadata, progress_bar, writing


def compress_stream(src: str | os.PathLike, dst: str | os.PathLike, codec: SpikeStreamCodec,
                    height: int = 250, width: int = 400, frame_rate: float = 20000.0,
                    metadata: Mapping[str, Any] | None = None, progress: bool = False):
    """Code ``src`` block by block with a stream codec into ``dst`` (see :func:`compress`).

    Memory is bounded by one block (``codec.block_frames`` frames) plus its coded bytes.
    Returns a :class:`spkc.pipeline.compress.CompressResult`.
    """
    from spkc.container import Header, SpkcWriter
    from spkc.io import open_spikes
    from spkc.pipeline.results import CompressResult

    t0 = time.perf_counter()
    dst = Path(dst)
    B = codec.block_frames
    with open_spikes(src, height=height, width=width) as source:
        T, H, W = source.shape
        if T == 0:
            raise InputError("no frames to compress", src)
        header = Header(height=H, width=W, frames_per_scene=B, frame_rate=float(frame_rate),
                        codec=codec.name, codec_version=str(codec.version),
                        codec_config=codec.get_config(), codec_identity=codec.identity())
        meta = file_metadata(src, T, frame_rate, metadata, source_format=True)
        bar = progress_bar(progress, T, codec.name)
        payload_bytes = 0
        with writing(dst, bar):
            with SpkcWriter(dst, header, metadata=meta, keep_partial_on_error=False) as writer:
                for a in range(0, T, B):
                    block = source.read(a, min(a + B, T))
                    data = codec.encode_block(block)
                    writer.add_scene({BLOCK_PAYLOAD: data}, len(block))
                    payload_bytes += len(data)
                    if bar is not None:
                        bar.update(len(block))
                        bar.set_postfix(ratio=f"{bar.n * H * W / 8 / max(payload_bytes, 1):.2f}x",
                                        refresh=False)
    file_bytes = dst.stat().st_size
    return CompressResult(
        path=str(dst), num_frames=T, height=H, width=W, num_scenes=-(-T // B),
        codec=codec.name, quality=codec.quality, reconstructor="", file_bytes=file_bytes,
        payload_bytes=payload_bytes, bits_per_spike_pixel=file_bytes * 8 / (T * H * W),
        ratio=(T * H * W / 8) / file_bytes, seconds=time.perf_counter() - t0,
    )


class StreamClip(ReaderInfo):
    """A ``.spkc`` file of a spike-stream codec (e.g. ``exact``), opened by :func:`spkc.open`.

    Same reading interface as :class:`spkc.pipeline.clip.Clip` (``shape``, ``spikes``,
    ``iter_spikes``, ``verify``, ``header``, ``metadata``, ``ratio``...), but spikes come from the
    codec, not from regeneration: a lossless codec returns exactly the source spikes. Random
    access decodes only the blocks covering the request. A damaged block raises
    :class:`~spkc.errors.BlockCorruptError` naming it; other blocks still decode. With
    ``conceal`` a block that does not decode reads as no spikes instead, and :attr:`concealed`
    records it (a lossless file has no stand-in for lost spikes).
    """

    kind = "stream"

    def __init__(self, path: str | os.PathLike, device: str = "cpu", batch_size: int = 4,
                 cache_blocks: int = 1, conceal: bool = False) -> None:
        # concealed: block -> (why it did not decode, -1: no stand-in, read as no spikes)
        self._open_reader(path, device, batch_size, conceal)
        try:
            self._codec = _stream_codec_for(self._reader.header, self.path, device)
        except BaseException:
            self._reader.close()
            raise
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = max(1, int(cache_blocks))
        #: blocks decoded so far, in order (for random-access checks and benchmarks)
        self.decoded_blocks: list[int] = []

    # -- description (header, metadata, shape, sizes, ratio: ReaderInfo) ---------------------
    @property
    def codec(self) -> SpikeStreamCodec:
        return self._codec

    @property
    def lossless(self) -> bool:
        return bool(self._codec.lossless)

    @property
    def block_frames(self) -> int:
        return int(self._reader.header.frames_per_scene)

    @property
    def num_blocks(self) -> int:
        return int(self._reader.num_scenes)

    @property
    def num_scenes(self) -> int:
        """Chunks in the container (= blocks; the container calls every chunk a scene)."""
        return self.num_blocks

    def __repr__(self) -> str:
        T, H, W = self.shape
        return (f"<spkc.StreamClip {Path(self.path).name!r} {T}x{H}x{W} frames, "
                f"{self.num_blocks} blocks, codec={self.header.codec}, {self.ratio:.2f}x>")

    # -- blocks ----------------------------------------------------------------------------
    def block_range(self, k: int) -> tuple[int, int]:
        """[first, stop) frames of block k."""
        first, n = self._reader.scene_frames(k)
        return first, first + n

    def _decode_block(self, k: int) -> np.ndarray:
        first, stop = self.block_range(k)
        try:
            payloads = self._reader.scene_payloads(k)
            if set(payloads) != {BLOCK_PAYLOAD}:
                raise SceneCorruptError(f"holds payloads {sorted(payloads)}, "
                                        f"expected [{BLOCK_PAYLOAD!r}]")
            shape = (stop - first, *self.shape[1:])
            out = np.asarray(self._codec.decode_block(payloads[BLOCK_PAYLOAD], shape))
            if out.shape != shape or out.dtype != bool:
                raise SceneCorruptError(f"decoded to {out.dtype} {out.shape}, expected bool "
                                        f"{shape}")
            return out
        except Exception as exc:
            why = exc.problem if isinstance(exc, SpkcError) else f"{type(exc).__name__}: {exc}"
            why = why.removeprefix(f"scene {k} is damaged: ")
            raise BlockCorruptError(f"block {k} (frames {first}..{stop - 1}) does not decode: "
                                    f"{why}", self.path, block=k, frames=(first, stop)) from exc

    def block(self, k: int) -> np.ndarray:
        """Spikes of block k: (n_k, H, W) bool (read-only)."""
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        while len(self._cache) >= self._cache_size:  # free before decoding: memory ~ 1 block
            self._cache.popitem(last=False)
        try:
            out = self._decode_block(k)
        except BlockCorruptError as exc:
            if not self.conceal:
                raise
            self.concealed[k] = (exc.problem, -1)
            first, stop = self.block_range(k)
            out = np.zeros((stop - first, *self.shape[1:]), bool)
        out.flags.writeable = False
        self.decoded_blocks.append(k)
        self._cache[k] = out
        return out

    # -- spikes ----------------------------------------------------------------------------
    def _range(self, start: int | None, stop: int | None) -> tuple[int, int]:
        return frame_range(start, stop, self.shape[0], self.path)

    def _iter_parts(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        return iter_block_parts(start, stop, self.block_frames, self.block_range, self.block)

    @property
    def has_exact(self) -> bool:
        """True for a lossless codec: the file's spikes are the source spikes."""
        return self.lossless

    def _check_exact(self, exact: bool) -> None:
        if exact and not self.lossless:
            raise InputError(f"codec {self.header.codec!r} is lossy: the file has no exact "
                             "spikes", self.path)

    def spikes(self, start: int | None = None, stop: int | None = None, *,
               exact: bool = False) -> np.ndarray:
        """Spikes of frames [start, stop): (stop-start, H, W) bool, decoding only the blocks
        that cover the range. ``exact`` (as for a lossy file with an exact layer) changes
        nothing for a lossless codec."""
        self._check_exact(exact)
        start, stop = self._range(start, stop)
        return assemble(start, stop, *self.shape[1:], self._iter_parts(start, stop))

    def iter_spikes(self, block: int | None = None, start: int = 0,
                    stop: int | None = None, *, exact: bool = False) -> Iterator[np.ndarray]:
        """Yield spikes in pieces of ``block`` frames (default: one codec block each)."""
        self._check_exact(exact)
        start, stop = self._range(start, stop)
        yield from iter_blocks(block, start, stop, self._iter_parts(start, stop), self.spikes,
                               self.path)

    def scene(self, k: int) -> np.ndarray:
        raise InputError(f"{self.header.codec!r} is a spike-stream codec: the file holds spikes, "
                         f"not scenes", self.path)

    def scene_at(self, t: int) -> np.ndarray:
        return self.scene(0)

    # -- integrity -------------------------------------------------------------------------
    def verify(self, decode: bool = True):
        """Check every chunk's checksum and (``decode=True``) that every block decodes.

        Returns a :class:`spkc.pipeline.clip.ClipReport` whose ``bad_scenes`` are blocks."""
        from spkc.pipeline.results import ClipReport

        report = self._reader.verify()
        bad: dict[int, str] = {int(k): str(why) for k, why in report.damaged_scenes}
        if decode:
            for k in range(self.num_blocks):
                if k in bad:
                    continue
                try:
                    self._decode_block(k)
                except BlockCorruptError as exc:
                    bad[k] = exc.problem
        return ClipReport(self.path, self.num_blocks, bad, report)


def _stream_codec_for(header, path: str, device: str) -> SpikeStreamCodec:
    codec = codec_from_header(header, path, device)
    if not isinstance(codec, SpikeStreamCodec):
        raise InputError(f"codec {header.codec!r} is not a spike-stream codec", path)
    if codec.block_frames != header.frames_per_scene:
        raise UnsupportedVersionError(
            f"header block length {header.frames_per_scene} disagrees with the codec config "
            f"block_frames {codec.block_frames}", path)
    codec.check_identity(dict(header.codec_identity), path)
    return codec


def is_stream_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is a .spkc file whose codec is a spike-stream codec (header only).

    Unknown codecs count as scene files (opening them then reports the unknown codec)."""
    from spkc.codecs import get_codec_class
    from spkc.codecs.stream_base import is_stream_codec
    from spkc.container import SpkcReader

    with SpkcReader(path) as r:
        name = r.header.codec
    try:
        return is_stream_codec(get_codec_class(name))
    except SpkcError:
        return False
