"""``spkc.open(path) -> Clip``: decoded scenes and regenerated spikes of a .spkc file."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spkc.codecs import SceneCodec

if TYPE_CHECKING:
    from spkc.pipeline.stream import StreamClip
from spkc.errors import InputError, SceneCorruptError, SpkcError, UnsupportedVersionError
from spkc.pipeline.exact_layer import ExactLayerAccess
from spkc.pipeline.frames import (
    ReaderInfo,
    assemble,
    check_block,
    codec_from_header,
    frame_range,
)
from spkc.pipeline.groups import GroupDecoding, check_group_codec
from spkc.pipeline.results import ClipReport
from spkc.spikes.regenerate import (
    RegenParams,
    interpolated_luminance,
    luminance_q16,
    regenerate_segment,
    regenerate_segment_torch,
    scene_centres2,
)


@dataclass
class DecodeStats:
    """Counters of the work a Clip did (for random-access checks and benchmarks)."""

    scenes_decoded: int = 0
    decode_calls: int = 0
    decoded_indices: list[int] = field(default_factory=list)


class Clip(ReaderInfo, GroupDecoding, ExactLayerAccess):
    """A .spkc file opened for decoding. Use :func:`spkc.open`.

    Decoding is exact: the same file gives the same spikes for a full decode, random access,
    any batch size, thread count or device.

    ``conceal``: a scene that does not decode (damaged, or lost before a repair) is replaced
    by the nearest one that does — k-1, k+1, k-2, k+2, … — instead of raising
    :class:`~spkc.errors.SceneCorruptError`; :attr:`concealed` maps each replaced scene to
    why it failed and what stood in. Which scenes decode is a property of the file, so the
    result is still the same for any access order, batch size or device.
    """

    def __init__(self, path: str | os.PathLike, device: str = "cpu", batch_size: int = 4,
                 cache_scenes: int = 8, conceal: bool = False) -> None:
        # concealed: scene -> (why it did not decode, the scene that stands in for it)
        self._open_reader(path, device, batch_size, conceal)
        try:
            h = self._reader.header
            self._codec: SceneCodec = _codec_for(h, self.path, device)
            #: scenes per group (1: every scene decodes alone; see spkc.pipeline.groups)
            self._group = int(h.group_length)
            check_group_codec(self._group, self._codec, self.path)
            try:
                self.regen = RegenParams.from_dict(dict(h.regen))
            except (KeyError, ValueError, TypeError, SpkcError) as exc:
                raise UnsupportedVersionError(f"bad regeneration parameters: {exc}",
                                              self.path) from exc
            n = self._reader.num_scenes
            self._firsts = np.array([self._reader.scene_frames(k)[0] for k in range(n)], np.int64)
            self._counts = np.array([self._reader.scene_frames(k)[1] for k in range(n)], np.int64)
            self._centres2 = scene_centres2(self._firsts, self._counts)
        except BaseException:
            self._reader.close()
            raise
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        #: scene a -> MotionField of the pair (a, a+1) or None; small, kept for every scene
        self._fields: dict[int, Any] = {}
        # a group decodes as a whole: hold it and the end of the one before (bounded by G);
        # the look-ahead decodes up to batch_size + 1 scenes ahead in batches: a smaller cache
        # evicted scenes before their segments were regenerated and decoded them again
        # (50 decodes for 29 scenes at batch 4; docs/speed.md)
        self._cache_size = max(3, int(cache_scenes), 2 * self._group + 2,
                               2 * self.batch_size + 2)
        self.stats = DecodeStats()

    # -- description (header, metadata, shape, sizes, ratio: ReaderInfo) ---------------------
    @property
    def num_scenes(self) -> int:
        return int(self._reader.num_scenes)

    def scene_payload_bytes(self, k: int) -> int:
        """Bytes of scene k's codec payloads (all its named bitstreams, not the pipeline's
        reserved ``~`` payloads such as motion side information), without decoding it."""
        from spkc.spikes.warp import split_payloads

        self._check_scene(k)
        codec, _ = split_payloads(self._reader.scene_payloads(k))
        return sum(len(v) for v in codec.values())

    def __repr__(self) -> str:
        T, H, W = self.shape
        return (f"<spkc.Clip {Path(self.path).name!r} {T}x{H}x{W} frames, {self.num_scenes} "
                f"scenes, codec={self.header.codec}, {self.ratio:.0f}x>")

    # -- scenes ----------------------------------------------------------------------------
    def _split(self, k: int) -> dict[str, bytes]:
        """Scene k's codec payloads; its motion side information (parsed: damage there is
        damage to the scene) goes to ``_fields``."""
        from spkc.spikes.warp import MOTION_PAYLOAD, decode_motion, split_payloads

        codec, own = split_payloads(self._reader.scene_payloads(k))
        if self.regen.interpolation == "motion" and k not in self._fields:
            raw = own.get(MOTION_PAYLOAD)
            _, H, W = self.shape
            field = None if raw is None else decode_motion(raw, H, W)
            self._fields[k] = field
        return codec

    def _decode_batch(self, part: list[int]) -> np.ndarray:
        try:
            payloads = [self._split(k) for k in part]
            scenes = np.asarray(self._codec.decode(payloads, self.shape[1:]), np.float32)
            want = (len(part), *self.shape[1:])
            if scenes.shape != want:
                raise SceneCorruptError(f"decoded to shape {scenes.shape}, header says {want}")
            if not np.isfinite(scenes).all():
                raise SceneCorruptError("decoded scene holds NaN or infinite values")
            return scenes
        except Exception as exc:
            if len(part) > 1:  # decode one by one to name the bad scene (results are identical)
                return np.concatenate([self._decode_batch([k]) for k in part])
            k = part[0]
            if isinstance(exc, SpkcError):
                raise SceneCorruptError(f"scene {k}: {exc.problem}", self.path, scene=k) from exc
            # a plugin failing on damaged data must not leak an internal exception
            raise SceneCorruptError(
                f"scene {k}: codec {self._codec.name!r} failed: {type(exc).__name__}: {exc}",
                self.path, scene=k) from exc

    def _decode(self, ks: list[int]) -> None:
        if self._group > 1:
            return self._decode_grouped(ks)
        todo = [k for k in ks if k not in self._cache and k not in self.concealed]
        for i in range(0, len(todo), self.batch_size):
            part = todo[i:i + self.batch_size]
            try:
                scenes = list(self._decode_batch(part))
            except SceneCorruptError:
                if not self.conceal:
                    raise
                scenes = [self._decode_or_none(k) for k in part]
            self.stats.decode_calls += 1
            for k, s in zip(part, scenes, strict=True):
                if s is not None:
                    self._store(k, s)

    def _store(self, k: int, scene: np.ndarray) -> None:
        self._cache[k] = luminance_q16(scene)
        self.stats.scenes_decoded += 1
        self.stats.decoded_indices.append(k)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _decode_or_none(self, k: int) -> np.ndarray | None:
        """Scene k decoded, or None (and recorded for concealment) when it does not decode."""
        try:
            return self._decode_batch([k])[0]
        except SceneCorruptError as exc:
            self.concealed[k] = (exc.problem, self._stand_in(k))
            return None

    def _stand_in(self, k: int) -> int:
        """The nearest scene to k that decodes, searching k-1, k+1, k-2, k+2, …"""
        for d in range(1, self.num_scenes):
            for j in (k - d, k + d):
                if 0 <= j < self.num_scenes and j not in self.concealed:
                    if j in self._cache:
                        return j
                    if self._group > 1:
                        if self._try_decode_grouped(j):
                            return j
                        continue
                    try:
                        self._store(j, self._decode_batch([j])[0])
                        return j
                    except SceneCorruptError:
                        continue
        raise SceneCorruptError(f"scene {k} does not decode and no other scene does either",
                                self.path, scene=k)

    def _motion(self, a: int):
        """MotionField of the pair (a, a+1), or None (linear blend): none sent, or either
        scene concealed (a damaged scene loses its motion; a stand-in does not match it)."""
        if a + 1 >= self.num_scenes:
            return None
        self._luma(a)  # decodes (and so parses the side information) when needed
        self._luma(a + 1)
        if a in self.concealed or a + 1 in self.concealed:
            return None
        return self._fields.get(a)

    def _luma(self, k: int) -> np.ndarray:
        if k in self.concealed:
            k = self.concealed[k][1]
        if k not in self._cache:
            self._decode([k])
            if k in self.concealed:
                return self._luma(k)
        self._cache.move_to_end(k)
        return self._cache[k]

    def scene(self, k: int) -> np.ndarray:
        """Decoded scene k: (H, W) float32 in [0, 1] (16-bit luminance / 65535)."""
        self._check_scene(k)
        return (self._luma(k) / 65535.0).astype(np.float32)

    def scene_at(self, t: int) -> np.ndarray:
        """Luminance (H, W) float32 in [0, 1] that drives the regenerator at frame t."""
        T = self.shape[0]
        if not 0 <= t < T:
            raise InputError(f"frame {t} out of range 0..{T - 1}", self.path)
        k = int(self._reader.scene_for_frame(int(t)))
        self._decode(self._neighbours(k, np.array([t])))
        return interpolated_luminance(int(t), k, self._luma, self._centres2,
                                      self.regen.interpolation, self._motion)

    def _check_scene(self, k: int) -> None:
        if not 0 <= k < self.num_scenes:
            raise InputError(f"scene {k} out of range 0..{self.num_scenes - 1}", self.path)

    def _neighbours(self, k: int, frames: np.ndarray) -> list[int]:
        """Scenes the regenerator needs for ``frames`` of segment k (at most k-1, k, k+1)."""
        if self.regen.interpolation == "hold":
            return [k]
        need = {k}
        t2 = 2 * frames
        if (t2 < self._centres2[k]).any() and k > 0:
            need.add(k - 1)
        if (t2 > self._centres2[k]).any() and k + 1 < self.num_scenes:
            need.add(k + 1)
        return sorted(need)

    # -- spikes ----------------------------------------------------------------------------
    def _segment(self, k: int, stop: int | None = None) -> np.ndarray:
        """Spikes of segment k from its first frame up to ``stop`` (exclusive, default: end).

        The accumulator starts at the segment's first frame, so a prefix is computed exactly
        as in a full decode; stopping early spares the scene after k when it is not needed.
        """
        first, count = int(self._firsts[k]), int(self._counts[k])
        end = first + count if stop is None else min(first + count, int(stop))
        frames = np.arange(first, end)
        self._decode(self._neighbours(k, frames))
        if self.device == "cpu":
            return regenerate_segment(k, frames, self._luma, self._centres2, self.regen,
                                      self._motion)
        import torch

        def luma_t(j: int):
            return torch.as_tensor(self._luma(j), device=self.device)

        return regenerate_segment_torch(k, frames, luma_t, self._centres2, self.regen,
                                        device=self.device, motion=self._motion).cpu().numpy()

    def spikes(self, start: int | None = None, stop: int | None = None, *,
               exact: bool = False) -> np.ndarray:
        """Regenerated spikes of frames [start, stop): (stop-start, H, W) bool. ``exact``:
        the source spikes from the file's exact layer instead (decoding only its blocks that
        cover the range; see :attr:`has_exact`)."""
        T, H, W = self.shape
        start, stop = frame_range(start, stop, T, self.path)
        if exact:
            return self._exact_spikes(start, stop)
        return assemble(start, stop, H, W, self._iter_segments(start, stop))

    def _iter_segments(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        if start >= stop:
            return
        k0 = int(self._reader.scene_for_frame(start))
        k1 = int(self._reader.scene_for_frame(stop - 1))
        for k in range(k0, k1 + 1):
            if k + 1 <= k1:  # batch the decode of upcoming scenes
                self._decode([j for j in range(k, min(k1 + 2, k + self.batch_size + 1),)
                              if j < self.num_scenes])
            seg = self._segment(k, stop)
            first = int(self._firsts[k])
            lo, hi = max(start, first), min(stop, first + len(seg))
            yield lo, seg[lo - first:hi - first]

    def iter_spikes(self, block: int | None = None, start: int = 0,
                    stop: int | None = None, *, exact: bool = False) -> Iterator[np.ndarray]:
        """Yield regenerated spikes in blocks of ``block`` frames (default: one scene);
        ``exact``: the source spikes of the exact layer (default: one layer block each)."""
        T = self.shape[0]
        stop = T if stop is None else int(stop)
        if exact:
            yield from self._iter_exact(block, *frame_range(start, stop, T, self.path))
            return
        if block is None:
            for _, seg in self._iter_segments(int(start), stop):
                yield seg
            return
        check_block(block, self.path)
        buf: list[np.ndarray] = []
        have = 0
        for _, seg in self._iter_segments(int(start), stop):
            buf.append(seg)
            have += len(seg)
            while have >= block:
                cat = np.concatenate(buf)
                yield cat[:block]
                rest = cat[block:]
                buf, have = ([rest] if len(rest) else []), len(rest)
        if have:
            yield np.concatenate(buf)

    # -- integrity -------------------------------------------------------------------------
    def verify(self, decode: bool = True) -> ClipReport:
        """Check every chunk's checksum and (``decode=True``) that every scene decodes."""
        report = self._reader.verify()
        bad: dict[int, str] = {}
        for k, reason in report.damaged_scenes:
            bad[int(k)] = str(reason)
        if decode and self._group > 1:
            bad.update(self._verify_groups(bad))
        elif decode:
            for k in range(self.num_scenes):
                if k in bad:
                    continue
                try:
                    self._fields.pop(k, None)
                    self._codec.decode([self._split(k)], self.shape[1:])
                except SpkcError as exc:
                    bad[k] = exc.problem
                except Exception as exc:
                    bad[k] = f"{type(exc).__name__}: {exc}"
        return ClipReport(self.path, self.num_scenes, bad, report)


def _codec_for(header, path: str, device: str) -> SceneCodec:
    codec = codec_from_header(header, path, device)
    identity = {k: v for k, v in dict(header.codec_identity).items()
                if not k.startswith("reconstructor_")}
    codec.check_identity(identity, path)
    return codec


def open(path: str | os.PathLike, device: str = "cpu", batch_size: int = 4,  # noqa: A001
         conceal: bool = False) -> Clip | StreamClip:
    """Open a .spkc file: reads header and index only; scenes decode on demand.

    ``conceal``: stand the nearest decodable scene in for scenes that do not decode (see
    :class:`Clip`) instead of raising :class:`~spkc.errors.SceneCorruptError`."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", p)
    if p.is_dir():
        raise InputError("is a directory, not a .spkc file", p)
    from spkc.pipeline.stream import StreamClip, is_stream_file

    if is_stream_file(p):  # a spike-stream codec (e.g. lossless `exact`): spikes, not scenes
        return StreamClip(p, device=device, batch_size=batch_size, conceal=conceal)
    return Clip(p, device=device, batch_size=batch_size, conceal=conceal)
