"""Random-access .spkc reader with a forward-scan fallback for files whose writer died.

``SpkcReader(path)`` reads the preamble, the header and (via the end chunk) the index; scene k
then costs one read of one chunk. Without a valid end chunk + index it scans the chunks forward,
resynchronising past damaged bytes, and exposes every intact scene (``complete`` is False).
Every failure is a :class:`spkc.SpkcError` naming the file; nothing reads or allocates more than
the file size allows.

Why one module of ~750 lines: the indexed path, the forward scan with resynchronisation,
``verify`` and the exact layer's blocks (``xblk``/``xidx``, found by the same index and scan)
are one state machine over one file handle and share the chunk parsing; split, each part would
reach into the others' state.
"""

from __future__ import annotations

import os
import re
import struct
import threading
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np

from spkc.container.format import (
    BLOB_RAW,
    BLOB_ZSTD,
    DESC_HAS_NUM_FRAMES,
    DESC_KEYSET_SHIFT,
    DESC_LOST,
    END_BODY_SIZE,
    END_CHUNK_SIZE,
    KNOWN_TYPES,
    MIN_SCENE_CHUNK,
    PREAMBLE_SIZE,
    T_END,
    T_HEADER,
    T_INDEX,
    T_KEYS,
    T_META,
    T_SCENE,
    T_XBLOCK,
    T_XINDEX,
    VERSION_MAJOR,
    XBLK_LOST,
    Malformed,
    bounded_zstd_decompress,
    check_chunk_crc,
    decode_json_blob,
    is_critical,
    parse_chunk_head,
    parse_preamble,
    read_uvarint,
)
from spkc.container.header import Header, HeaderError, MetaValue, validate_metadata
from spkc.errors import (
    CorruptFileError,
    InputError,
    SceneCorruptError,
    UnsupportedVersionError,
)

_HEAD_PEEK = 4 + 9  # type + longest varint
_RESYNC_BLOCK = 1 << 20
_RESYNC_RE = re.compile(b"|".join(re.escape(t) for t in KNOWN_TYPES))


@dataclass
class VerifyReport:
    """Result of :meth:`SpkcReader.verify`.

    ``damaged_scenes``: (scene index, reason) for every scene that cannot be read.
    ``problems``: damage outside scenes (metadata, index, stray bytes).
    """

    path: str
    complete: bool
    index_status: str
    num_scenes: int
    num_frames: int
    damaged_scenes: list[tuple[int, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.complete and not self.damaged_scenes and not self.problems

    def summary(self) -> str:
        lines = [f"{self.path}: {'OK' if self.ok else 'DAMAGED'}",
                 f"  index: {self.index_status}",
                 f"  scenes: {self.num_scenes}, frames: {self.num_frames}, "
                 f"damaged scenes: {len(self.damaged_scenes)}"]
        lines += [f"  {why}" for _, why in self.damaged_scenes]  # each reason names its scene
        lines += [f"  problem: {p}" for p in self.problems]
        return "\n".join(lines)


@dataclass
class _ScanResult:
    offsets: dict[int, tuple[int, int]]  # scene -> (offset, size)
    scene_frames: dict[int, int | None]  # scene -> own num_frames if stored
    damaged: dict[int, str]
    keysets: list[tuple[str, ...]]
    meta_loc: tuple[int, int] | None
    problems: list[str]
    payload_bytes: int
    end_seen: bool
    #: exact layer block -> (offset, size) of its xblk chunk (format 1.1)
    layer: dict[int, tuple[int, int]] = field(default_factory=dict)


class SpkcReader:
    """Read a .spkc file. ``open`` touches preamble, header and index only.

    Attributes: ``header`` (:class:`Header`), ``num_scenes``, ``num_frames``, ``complete``,
    ``file_size`` (bytes), ``path``.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            raise InputError("no such file", self.path) from None
        except IsADirectoryError:
            raise InputError("is a directory, not a .spkc file", self.path) from None
        except OSError as exc:
            raise InputError(f"cannot open: {exc.strerror or exc}", self.path) from None
        self._fd: int | None = fd
        self._lock = threading.Lock()
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # -- raw reads ---------------------------------------------------------------------------
    def _pread(self, offset: int, n: int) -> bytes:
        # callers bound n by the file size; a short read means the file changed underneath us
        if self._fd is None:
            raise InputError("reader is closed", self.path)
        if offset < 0 or n < 0 or offset + n > self.file_size:
            raise CorruptFileError(f"read of {n} bytes at {offset} is outside the file",
                                   self.path)
        try:
            if hasattr(os, "pread"):
                data = os.pread(self._fd, n, offset)
            else:  # pragma: no cover - Windows
                with self._lock:
                    os.lseek(self._fd, offset, os.SEEK_SET)
                    data = os.read(self._fd, n)
        except OSError as exc:
            raise InputError(f"read failed: {exc.strerror or exc}", self.path) from None
        if len(data) != n:
            raise CorruptFileError(f"file shrank while reading (wanted {n} bytes at {offset})",
                                   self.path)
        return data

    def _read_chunk(self, offset: int, limit: int | None = None) -> tuple[bytes, bytes, int]:
        """Chunk at ``offset`` -> (type, data, total size); raises Malformed (head, CRC)."""
        end = self.file_size if limit is None else limit
        avail = end - offset
        if avail < 9:
            raise Malformed("truncated chunk")
        peek = self._pread(offset, min(_HEAD_PEEK, avail))
        ctype, hlen, length = parse_chunk_head(peek, avail)
        total = hlen + length + 4
        raw = self._pread(offset, total)
        if not check_chunk_crc(raw, hlen, length):
            raise Malformed(f"chunk {ctype.decode('ascii')} checksum mismatch")
        return ctype, raw[hlen : hlen + length], total

    # -- open --------------------------------------------------------------------------------
    def _open(self) -> None:
        assert self._fd is not None  # called once, right after the file is opened
        try:
            self.file_size = os.fstat(self._fd).st_size
        except OSError as exc:  # pragma: no cover
            raise InputError(f"cannot stat: {exc.strerror or exc}", self.path) from None
        pre = self._pread(0, min(PREAMBLE_SIZE, self.file_size))
        try:
            major, minor = parse_preamble(pre)
        except Malformed as exc:
            raise CorruptFileError(str(exc), self.path) from None
        self.version = (major, minor)
        if major != VERSION_MAJOR:
            raise UnsupportedVersionError(
                f"format version {major}.{minor}; this reader supports {VERSION_MAJOR}.x "
                "(upgrade spkc)", self.path)
        try:
            ctype, data, size = self._read_chunk(PREAMBLE_SIZE)
        except Malformed as exc:
            raise CorruptFileError(f"header chunk is damaged ({exc})", self.path) from None
        if ctype != T_HEADER:
            raise CorruptFileError(f"first chunk is {ctype!r}, not the SPKH header", self.path)
        try:
            self.header = Header.from_json(decode_json_blob(data, "header"))
        except (Malformed, HeaderError) as exc:
            why = exc.problem if isinstance(exc, HeaderError) else str(exc)
            raise CorruptFileError(f"header is invalid ({why})", self.path) from None
        self._data_start = PREAMBLE_SIZE + size
        self._meta_loc: tuple[int, int] | None = None
        self._metadata: dict[str, MetaValue] | None = None
        self._scan: _ScanResult | None = None
        # ancillary metadata, if any, directly follows the header
        avail = self.file_size - self._data_start
        if avail >= 9:
            try:
                peek = self._pread(self._data_start, min(_HEAD_PEEK, avail))
                ctype, hlen, length = parse_chunk_head(peek, avail)
                if ctype == T_META:
                    self._meta_loc = (self._data_start, hlen + length + 4)
                elif ctype not in (T_KEYS, T_SCENE, T_INDEX, T_XBLOCK, T_XINDEX):
                    # v1 writers put metadata (if any) right after the header: a chunk we
                    # cannot place there may be a damaged metadata chunk
                    self._meta_loc = (self._data_start, 0)
            except Malformed:
                self._meta_loc = (self._data_start, 0)
        elif avail > 0:
            self._meta_loc = (self._data_start, 0)  # a few stray bytes: maybe a cut metadata chunk
        self.index_status = "ok"
        try:
            self._load_index()
            self.complete = True
        except Malformed as exc:
            self.index_status = str(exc)
            self.complete = False
            self._from_scan(self._forward_scan())
        self._load_layer()

    def _load_index(self) -> None:
        size = self.file_size
        if size < self._data_start + END_CHUNK_SIZE:
            raise Malformed("no end chunk (file is unfinished or truncated)")
        try:
            ctype, data, total = self._read_chunk(size - END_CHUNK_SIZE)
        except Malformed as exc:
            raise Malformed(f"no valid end chunk (file unfinished, truncated or damaged: {exc})") \
                from None
        if ctype != T_END or len(data) != END_BODY_SIZE:
            raise Malformed("no end chunk (file is unfinished or truncated)")
        index_offset, n, nframes, payload_bytes = struct.unpack("<QQQQ", data)
        if not self._data_start <= index_offset <= size - END_CHUNK_SIZE:
            raise Malformed(f"end chunk points the index at {index_offset}, outside the file")
        max_n = (index_offset - self._data_start) // MIN_SCENE_CHUNK
        if n > max_n:
            raise Malformed(f"end chunk claims {n} scenes, more than the file can hold")
        try:
            ctype, data, total = self._read_chunk(index_offset, size - END_CHUNK_SIZE)
        except Malformed as exc:
            raise Malformed(f"index chunk damaged ({exc})") from None
        if ctype != T_INDEX or index_offset + total != size - END_CHUNK_SIZE:
            raise Malformed("index chunk missing or not directly before the end chunk")
        if not data:
            raise Malformed("index chunk is empty")
        body = data[1:]
        if data[0] == BLOB_ZSTD:
            body = bounded_zstd_decompress(body, 16 * max_n + index_offset + 64)
        elif data[0] != BLOB_RAW:
            raise Malformed(f"index uses unknown compression method {data[0]}")
        keysets, pos = _parse_keysets(body, 0)
        count, pos = read_uvarint(body, pos)
        if count != n:
            raise Malformed(f"index lists {count} scenes but the end chunk says {n}")
        if len(body) - pos != 16 * n:
            raise Malformed(f"index entry table is {len(body) - pos} bytes, expected {16 * n}")
        gaps = np.frombuffer(body, dtype="<u8", count=n, offset=pos)
        sizes = np.frombuffer(body, dtype="<u8", count=n, offset=pos + 8 * n)
        if n:
            if int(gaps.max()) > size or int(sizes.max()) > size or int(sizes.min()) < \
                    MIN_SCENE_CHUNK:
                raise Malformed("index entry out of range")
            # float sum first so the exact uint64 cumsum below cannot overflow
            if float(gaps.sum(dtype=np.float64)) + float(sizes.sum(dtype=np.float64)) > size:
                raise Malformed("index entries add up past the end of the file")
            ends = np.cumsum(gaps + sizes, dtype=np.uint64)
            offsets = ends - sizes
            if int(offsets[0]) < self._data_start or int(ends[-1]) > index_offset:
                raise Malformed("index points outside the scene area")
        else:
            offsets = np.zeros(0, dtype=np.uint64)
        fps = self.header.frames_per_scene
        if (n == 0 and nframes != 0) or (n > 0 and not (n - 1) * fps < nframes <= n * fps):
            raise Malformed(f"end chunk says {nframes} frames, impossible for {n} scenes of "
                            f"{fps} frames")
        if payload_bytes > size:
            raise Malformed("end chunk payload size exceeds the file size")
        self._offsets = offsets
        self._sizes = sizes.astype(np.uint64)
        self._keysets = keysets
        self._present = None  # all present
        self._damage: dict[int, str] = {}
        self.num_scenes = int(n)
        self.num_frames = int(nframes)
        self._payload_bytes = int(payload_bytes)
        self._index_offset = index_offset

    # -- forward scan ------------------------------------------------------------------------
    def _resync(self, start: int) -> int | None:
        """First offset >= start where a chunk of a known type parses with a valid CRC.

        Candidate CRC checks draw on ``self._resync_budget`` (bytes), so hostile files full of
        fake chunk tags cost O(file size) work, not O(file size squared).
        """
        pos = start
        block_size = 4096  # grows: cheap when the next chunk is near, linear when it is far
        while pos < self.file_size:
            n = min(block_size + 3, self.file_size - pos)
            block = self._pread(pos, n)
            for m in _RESYNC_RE.finditer(block):
                cand = pos + m.start()
                avail = self.file_size - cand
                try:
                    head = self._pread(cand, min(_HEAD_PEEK, avail))
                    _, hlen, length = parse_chunk_head(head, avail)
                except Malformed:
                    continue
                cost = hlen + length + 4
                if cost > self._resync_budget:
                    self._resync_exhausted = True
                    return None
                self._resync_budget -= cost
                try:
                    self._read_chunk(cand)
                    return cand
                except Malformed:
                    continue
            pos += block_size  # the +3 overlap catches tags straddling blocks
            block_size = min(block_size * 2, _RESYNC_BLOCK)
        return None

    def _forward_scan(self) -> _ScanResult:
        res = _ScanResult({}, {}, {}, [], self._meta_loc, [], 0, False)
        fps = self.header.frames_per_scene
        pos = self._data_start
        expected = 0  # next scene index we expect
        slack = 0  # how many scenes a skipped damaged region may have swallowed
        skipped_from: int | None = None
        self._resync_budget = 16 * self.file_size + (64 << 20)
        self._resync_exhausted = False
        while pos < self.file_size:
            try:
                ctype, data, total = self._read_chunk(pos)
            except Malformed as exc:
                nxt = self._resync(pos + 1)
                end = self.file_size if nxt is None else nxt
                res.problems.append(f"bytes {pos}..{end} unreadable ({exc})" + (
                    "; gave up resynchronising (too many false chunk starts)"
                    if self._resync_exhausted else ""))
                slack += (end - pos) // MIN_SCENE_CHUNK + 1
                skipped_from = pos if skipped_from is None else skipped_from
                if nxt is None:
                    break
                pos = nxt
                continue
            here = pos
            pos += total
            if ctype == T_SCENE:
                try:
                    k, nf, _lost, plen = _parse_scene_head(data, res.keysets, fps)
                except Malformed as exc:
                    res.problems.append(f"scene chunk at byte {here} is malformed ({exc})")
                    slack += 1
                    continue
                if not expected <= k <= expected + slack:
                    res.problems.append(f"scene chunk at byte {here} has index {k}, expected "
                                        f"{expected}" + (f"..{expected + slack}" if slack else ""))
                    continue
                for lost in range(expected, k):
                    res.damaged[lost] = (f"chunk lost in damaged bytes starting at "
                                         f"{skipped_from}")
                res.offsets[k] = (here, total)
                res.scene_frames[k] = nf
                res.payload_bytes += plen
                expected = k + 1
                slack = 0
                skipped_from = None
            elif ctype == T_KEYS:
                try:
                    ks_id, p = read_uvarint(data, 0)
                    ks, p = _parse_keyset(data, p)
                    if p != len(data) or ks_id != len(res.keysets):
                        raise Malformed("keyset id out of sequence or trailing bytes")
                    res.keysets.append(ks)
                except Malformed as exc:
                    res.problems.append(f"PKEY chunk at byte {here} is malformed ({exc})")
            elif ctype == T_XBLOCK:
                try:
                    xk, _ = read_uvarint(data, 0)
                except Malformed as exc:
                    res.problems.append(f"exact layer chunk at byte {here} is malformed ({exc})")
                    continue
                if xk in res.layer:
                    res.problems.append(f"second exact layer block {xk} at byte {here} ignored")
                else:
                    res.layer[xk] = (here, total)
            elif ctype == T_META:
                res.meta_loc = (here, total)
            elif ctype == T_END:
                res.end_seen = True
                if pos != self.file_size:
                    res.problems.append(f"{self.file_size - pos} bytes after the end chunk")
                    break
            elif ctype in (T_INDEX, T_HEADER):
                if ctype == T_HEADER:
                    res.problems.append(f"second header chunk at byte {here} ignored")
            elif is_critical(ctype):
                raise UnsupportedVersionError(
                    f"unknown critical chunk {ctype.decode('ascii')} at byte {here}", self.path)
        return res

    def _from_scan(self, res: _ScanResult) -> None:
        self._scan = res
        n = max(res.offsets, default=-1) + 1
        offsets = np.zeros(n, dtype=np.uint64)
        sizes = np.zeros(n, dtype=np.uint64)
        for k, (off, sz) in res.offsets.items():
            offsets[k] = off
            sizes[k] = sz
        self._offsets = offsets
        self._sizes = sizes
        self._keysets = res.keysets
        self._damage = {k: why for k, why in res.damaged.items() if k < n}
        self._meta_loc = res.meta_loc
        fps = self.header.frames_per_scene
        last = res.scene_frames.get(n - 1) if n else None
        self.num_scenes = n
        self.num_frames = 0 if n == 0 else (n - 1) * fps + (last if last is not None else fps)
        self._payload_bytes = res.payload_bytes

    # -- exact layer (format 1.1, spec/exact.md section 7) -------------------------------------
    def _load_layer(self) -> None:
        """Locate the xblk chunks: from the xidx chunk of a complete file, else (or when the
        xidx is damaged) from a forward scan. Costs nothing for files without a layer."""
        self._layer: dict[int, tuple[int, int]] = {}
        self.layer_index_status = "none"
        xl = self.header.exact_layer
        if xl is None:
            return
        self.layer_block_frames = int(xl["block_frames"])
        if self.complete:
            try:
                self._layer = self._read_layer_index()
                self.layer_index_status = "ok"
                return
            except Malformed as exc:
                self.layer_index_status = f"xidx missing or damaged ({exc}); forward scan"
        else:
            self.layer_index_status = "no index (forward scan)"
        if self._scan is None:
            self._scan = self._forward_scan()
        self._layer = dict(self._scan.layer)

    def _read_layer_index(self) -> dict[int, tuple[int, int]]:
        # the writer puts xidx after the last scene chunk, followed only by sidx; the chunks
        # between the last scene chunk and sidx are a few trailing xblk chunks and xidx
        pos = int(self._offsets[-1] + self._sizes[-1]) if self.num_scenes else self._data_start
        stop = int(self._index_offset)
        for _ in range(4096):
            if pos >= stop:
                break
            peek = self._pread(pos, min(_HEAD_PEEK, stop - pos))
            ctype, hlen, length = parse_chunk_head(peek, stop - pos)
            if ctype == T_XINDEX:
                ctype, data, _ = self._read_chunk(pos, stop)
                return self._parse_layer_index(data, stop)
            pos += hlen + length + 4
        raise Malformed("no xidx chunk before the index")

    def _parse_layer_index(self, data: bytes, stop: int) -> dict[int, tuple[int, int]]:
        if not data or data[0] != BLOB_RAW:
            raise Malformed("xidx uses an unknown method")
        n, pos = read_uvarint(data, 1)
        if len(data) - pos != 16 * n:
            raise Malformed(f"xidx entry table is {len(data) - pos} bytes, expected {16 * n}")
        want = self.num_layer_blocks
        if n != want:
            raise Malformed(f"xidx lists {n} blocks, {want} expected for {self.num_frames} "
                            "frames")
        offs = np.frombuffer(data, dtype="<u8", count=n, offset=pos)
        sizes = np.frombuffer(data, dtype="<u8", count=n, offset=pos + 8 * n)
        if n and (int(offs.min()) < self._data_start or int(sizes.min()) < 9
                  or int(offs.max()) > stop or int(sizes.max()) > stop
                  or int((offs + sizes).max()) > stop):
            raise Malformed("xidx entry out of range")
        return {k: (int(o), int(z)) for k, (o, z) in enumerate(zip(offs, sizes, strict=True))}

    @property
    def has_layer(self) -> bool:
        """True when the header declares an exact layer."""
        return self.header.exact_layer is not None

    @property
    def num_layer_blocks(self) -> int:
        """Exact layer blocks the file's frames need (ceil(frames / block_frames)); 0 without
        a layer. Some may be missing in a damaged or unfinished file."""
        if self.header.exact_layer is None:
            return 0
        return -(-self.num_frames // int(self.header.exact_layer["block_frames"]))

    def layer_block_range(self, k: int) -> tuple[int, int]:
        """[first, stop) frames of exact layer block k."""
        if not 0 <= k < self.num_layer_blocks:
            raise InputError(f"exact layer block {k} out of range (file has "
                             f"{self.num_layer_blocks})", self.path)
        bf = self.layer_block_frames
        return k * bf, min((k + 1) * bf, self.num_frames)

    def layer_bytes(self) -> int:
        """Bytes of the exact layer's chunks (xblk chunks found; 0 without a layer)."""
        return sum(size for _, size in self._layer.values())

    def layer_block(self, k: int) -> bytes:
        """Payload of exact layer block k; SceneCorruptError(scene=k) naming the block when its
        chunk is missing, damaged or was lost before a repair."""
        first, stop = self.layer_block_range(k)
        loc = self._layer.get(int(k))
        try:
            if loc is None:
                raise Malformed("its chunk is missing (lost in damaged bytes, or never written)")
            off, size = loc
            raw = self._pread(off, size)
            ctype, hlen, length = parse_chunk_head(raw, size)
            if ctype != T_XBLOCK or hlen + length + 4 != size:
                raise Malformed("index does not point at an xblk chunk")
            if not check_chunk_crc(raw, hlen, length):
                raise Malformed("checksum mismatch")
            data = memoryview(raw)[hlen: hlen + length]
            idx, pos = read_uvarint(data, 0)
            desc, pos = read_uvarint(data, pos)
            nf, pos = read_uvarint(data, pos)
            if idx != k:
                raise Malformed(f"chunk holds block {idx}")
            if desc & XBLK_LOST:
                raise Malformed("block was lost before this file was repaired")
            if nf != stop - first:
                raise Malformed(f"chunk says {nf} frames, {stop - first} expected")
            return bytes(data[pos:])
        except Malformed as exc:
            raise SceneCorruptError(f"exact layer block {k} (frames {first}..{stop - 1}) is "
                                    f"damaged ({exc})", self.path, scene=int(k)) from None
        except CorruptFileError as exc:
            raise SceneCorruptError(f"exact layer block {k} (frames {first}..{stop - 1}) is "
                                    f"damaged ({exc.problem})", self.path, scene=int(k)) from None

    # -- public API --------------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, MetaValue]:
        """Free-form key/values (dict[str, str|int|float|bool]); {} when the file has none."""
        if self._metadata is None:
            if self._meta_loc is None:
                self._metadata = {}
            else:
                try:
                    ctype, data, _ = self._read_chunk(self._meta_loc[0])
                    if ctype != T_META:
                        raise Malformed("not a metadata chunk")
                    self._metadata = validate_metadata(decode_json_blob(data, "metadata"))
                except (Malformed, HeaderError) as exc:
                    msg = exc.problem if isinstance(exc, HeaderError) else str(exc)
                    raise CorruptFileError(f"metadata chunk is damaged ({msg})",
                                           self.path) from None
        return dict(self._metadata)

    def _check_scene(self, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise InputError(f"scene index must be an int, not {type(k).__name__}", self.path)
        if not 0 <= k < self.num_scenes:
            raise InputError(f"scene {k} out of range (file has {self.num_scenes})", self.path)

    def scene_frames(self, k: int) -> tuple[int, int]:
        """(first frame, number of frames) of scene k."""
        self._check_scene(k)
        fps = self.header.frames_per_scene
        first = int(k) * fps
        return first, min(fps, self.num_frames - first)

    def scene_for_frame(self, t: int) -> int:
        """Index of the scene covering frame t (0 <= t < num_frames)."""
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
            raise InputError(f"frame index must be an int, not {type(t).__name__}", self.path)
        if not 0 <= t < self.num_frames:
            raise InputError(f"frame {t} out of range (file has {self.num_frames} frames)",
                             self.path)
        return int(t) // self.header.frames_per_scene

    def scene_payloads(self, k: int) -> dict[str, bytes]:
        """Payloads (name -> bytes) of scene k; SceneCorruptError(scene=k) if its chunk is bad."""
        self._check_scene(k)
        k = int(k)
        if k in self._damage:
            raise SceneCorruptError(f"scene {k} is damaged: {self._damage[k]}", self.path, scene=k)
        off = int(self._offsets[k])
        size = int(self._sizes[k])
        try:
            raw = self._pread(off, size)
            ctype, hlen, length = parse_chunk_head(raw, size)
            if ctype != T_SCENE or hlen + length + 4 != size:
                raise Malformed("index does not point at a scene chunk")
            if not check_chunk_crc(raw, hlen, length):
                raise Malformed("checksum mismatch")
            data = memoryview(raw)[hlen : hlen + length]
            idx, desc, pos = _scene_prefix(data)
            if idx != k:
                raise Malformed(f"chunk holds scene {idx}")
            if desc & DESC_LOST:
                raise Malformed("scene was lost before this file was repaired")
            nf = self.header.frames_per_scene
            if desc & DESC_HAS_NUM_FRAMES:
                nf, pos = read_uvarint(data, pos)
            if nf != self.scene_frames(k)[1]:
                raise Malformed(f"chunk says {nf} frames, the index {self.scene_frames(k)[1]}")
            ks_id = desc >> DESC_KEYSET_SHIFT
            if ks_id >= len(self._keysets):
                raise Malformed(f"unknown payload keyset {ks_id}")
            keys = self._keysets[ks_id]
            lens = []
            for _ in keys[:-1]:
                ln, pos = read_uvarint(data, pos)
                lens.append(ln)
            if keys:
                rest = len(data) - pos - sum(lens)
                if rest < 0:
                    raise Malformed("payload lengths exceed the chunk")
                lens.append(rest)
            elif pos != len(data):
                raise Malformed("trailing bytes in a scene without payloads")
            out: dict[str, bytes] = {}
            for key, ln in zip(keys, lens, strict=True):
                out[key] = bytes(data[pos : pos + ln])
                pos += ln
            return out
        except Malformed as exc:
            raise SceneCorruptError(f"scene {k} is damaged ({exc})", self.path, scene=k) from None
        except CorruptFileError as exc:
            raise SceneCorruptError(f"scene {k} is damaged ({exc.problem})", self.path,
                                    scene=k) from None

    def payload_bytes(self) -> int:
        """Sum of codec payload sizes over all readable scenes (bytes)."""
        return self._payload_bytes

    def verify(self) -> VerifyReport:
        """Check every chunk's CRC and every scene; report every damaged scene with a reason."""
        rep = VerifyReport(self.path, self.complete,
                           "ok" if self.complete else f"missing or damaged: {self.index_status}",
                           self.num_scenes, self.num_frames)
        scan = self._scan if self._scan is not None else self._forward_scan()
        rep.problems.extend(scan.problems)
        if self.complete:
            if not scan.end_seen:
                rep.problems.append("forward scan did not reach the end chunk")
            for k, (off, size) in scan.offsets.items():
                if k >= self.num_scenes or (int(self._offsets[k]), int(self._sizes[k])) != \
                        (off, size):
                    rep.problems.append(f"scene chunk {k} at byte {off} is not where the index "
                                        "says")
        for k in range(self.num_scenes):
            try:
                self.scene_payloads(k)
            except SceneCorruptError as exc:
                rep.damaged_scenes.append((k, exc.problem))
        if self.has_layer:
            if self.layer_index_status not in ("ok", "no index (forward scan)"):
                rep.problems.append(f"exact layer: {self.layer_index_status}")
            for k in range(self.num_layer_blocks):
                try:
                    self.layer_block(k)
                except SceneCorruptError as exc:
                    rep.problems.append(exc.problem)
        try:
            self.metadata  # noqa: B018 - parse for the check
        except CorruptFileError as exc:
            rep.problems.append(exc.problem)
        return rep

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SpkcReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def __repr__(self) -> str:
        return (f"SpkcReader({self.path!r}, scenes={self.num_scenes}, frames={self.num_frames}, "
                f"complete={self.complete})")


# -- body parsing helpers ----------------------------------------------------------------------
def _scene_prefix(data: bytes | memoryview) -> tuple[int, int, int]:
    idx, pos = read_uvarint(data, 0)
    desc, pos = read_uvarint(data, pos)
    return idx, desc, pos


def _parse_scene_head(data: bytes | memoryview, keysets: list[tuple[str, ...]],
                      fps: int) -> tuple[int, int | None, bool, int]:
    """Scene chunk data -> (index, own num_frames or None, lost, payload bytes)."""
    idx, desc, pos = _scene_prefix(data)
    nf = None
    if desc & DESC_HAS_NUM_FRAMES:
        nf, pos = read_uvarint(data, pos)
        if not 1 <= nf <= fps:
            raise Malformed(f"num_frames {nf} outside 1..{fps}")
    lost = bool(desc & DESC_LOST)
    ks_id = desc >> DESC_KEYSET_SHIFT
    if lost:
        return idx, nf, lost, 0
    if ks_id >= len(keysets):
        raise Malformed(f"unknown payload keyset {ks_id}")
    total = 0
    for _ in keysets[ks_id][:-1]:
        ln, pos = read_uvarint(data, pos)
        total += ln
    if total > len(data) - pos:
        raise Malformed("payload lengths exceed the chunk")
    return idx, nf, lost, len(data) - pos


def _parse_keyset(buf: bytes | memoryview, pos: int) -> tuple[tuple[str, ...], int]:
    count, pos = read_uvarint(buf, pos)
    if count > len(buf) - pos:
        raise Malformed("keyset count exceeds its chunk")
    keys = []
    for _ in range(count):
        ln, pos = read_uvarint(buf, pos)
        if ln > 255 or pos + ln > len(buf):
            raise Malformed("payload name too long or past the end")
        try:
            keys.append(bytes(buf[pos : pos + ln]).decode("utf-8"))
        except UnicodeDecodeError:
            raise Malformed("payload name is not UTF-8") from None
        pos += ln
    if len(set(keys)) != len(keys):
        raise Malformed("duplicate payload names in a keyset")
    return tuple(keys), pos


def _parse_keysets(buf: bytes, pos: int) -> tuple[list[tuple[str, ...]], int]:
    k, pos = read_uvarint(buf, pos)
    if k > len(buf) - pos:
        raise Malformed("keyset count exceeds the index")
    out = []
    for _ in range(k):
        ks, pos = _parse_keyset(buf, pos)
        out.append(ks)
    return out, pos
