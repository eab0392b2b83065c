"""Streaming .spkc writer: scenes are appended and flushed as they come; the index is written at
close. The file is written to ``<path>.partial`` and renamed to ``path`` only once complete."""

from __future__ import annotations

import os
import struct
from array import array
from collections.abc import Mapping
from types import TracebackType

import crc32c
import zstandard

from spkc.container.format import (
    BLOB_RAW,
    BLOB_ZSTD,
    DESC_HAS_NUM_FRAMES,
    DESC_KEYSET_SHIFT,
    DESC_LOST,
    PREAMBLE_SIZE,
    T_END,
    T_HEADER,
    T_INDEX,
    T_KEYS,
    T_META,
    T_SCENE,
    T_XBLOCK,
    T_XINDEX,
    VERSION_MINOR,
    XBLK_LOST,
    chunk_head,
    encode_json_blob,
    make_chunk,
    make_preamble,
    uvarint,
)
from spkc.container.header import MAX_NAME_BYTES, Header, validate_metadata
from spkc.errors import InputError, OutputError

PARTIAL_SUFFIX = ".partial"
#: the index is zstd-compressed when its raw form is at least this many bytes.
INDEX_COMPRESS_THRESHOLD = 64


def encode_keyset(keys: tuple[str, ...]) -> bytes:
    out = bytearray(uvarint(len(keys)))
    for k in keys:
        kb = k.encode("utf-8")
        out += uvarint(len(kb)) + kb
    return bytes(out)


def encode_index(keysets: list[tuple[str, ...]], gaps: array, sizes: array) -> bytes:
    """The sidx chunk data: u8 method + (keysets, N, u64 gaps[N], u64 sizes[N])."""
    body = bytearray(uvarint(len(keysets)))
    for ks in keysets:
        body += encode_keyset(ks)
    body += uvarint(len(gaps))
    g = array("Q", gaps)
    s = array("Q", sizes)
    if struct.pack("=H", 1) != struct.pack("<H", 1):  # pragma: no cover - big-endian hosts
        g.byteswap()
        s.byteswap()
    body += g.tobytes() + s.tobytes()
    if len(body) >= INDEX_COMPRESS_THRESHOLD:
        packed = zstandard.ZstdCompressor(level=19 if len(body) < (1 << 22) else 6).compress(
            bytes(body))
        if len(packed) < len(body):
            return bytes([BLOB_ZSTD]) + packed
    return bytes([BLOB_RAW]) + bytes(body)


def encode_layer_index(offsets: array, sizes: array) -> bytes:
    """The xidx chunk data: u8 method 0 + varint N + u64 offset[N] + u64 size[N] (absolute
    offsets and total sizes of the xblk chunks, little-endian)."""
    o = array("Q", offsets)
    s = array("Q", sizes)
    if struct.pack("=H", 1) != struct.pack("<H", 1):  # pragma: no cover - big-endian hosts
        o.byteswap()
        s.byteswap()
    return bytes([BLOB_RAW]) + uvarint(len(o)) + o.tobytes() + s.tobytes()


class SpkcWriter:
    """Write a .spkc file scene by scene.

    ``path``: final file name; bytes go to ``<path>.partial`` until :meth:`close` renames it.
    ``header``: a :class:`Header`. ``metadata``: ``dict[str, str|int|float|bool]`` (source file
    name, camera, notes...), stored zstd-compressed when large. ``minor``: the format minor
    version in the preamble (1 when a 1.1 feature such as motion interpolation is used).

    Memory stays O(number of scenes * 16 bytes) (the index entries), whatever the payload sizes.
    Used as a context manager, an exception leaves ``<path>.partial`` (recoverable with
    :func:`spkc.container.repair`) and never a complete-looking ``path``; pass
    ``keep_partial_on_error=False`` to delete it instead.
    """

    def __init__(self, path: str | os.PathLike, header: Header,
                 metadata: Mapping[str, str | int | float | bool] | None = None, *,
                 keep_partial_on_error: bool = True, minor: int = VERSION_MINOR) -> None:
        self.path = os.fspath(path)
        self.partial_path = self.path + PARTIAL_SUFFIX
        if not isinstance(header, Header):
            raise InputError(f"header must be a spkc.container.Header, not {type(header).__name__}",
                             self.path)
        self.header = header
        self.keep_partial_on_error = keep_partial_on_error
        meta = validate_metadata(metadata if metadata is not None else {})
        self._gaps = array("Q")
        self._sizes = array("Q")
        self._keysets: dict[tuple[str, ...], int] = {}
        self._keyset_list: list[tuple[str, ...]] = []
        self._num_frames = 0
        self._short_seen = False
        self._closed = False
        self._payload_bytes = 0
        # exact layer blocks (format 1.1): absolute offset and total size of each xblk chunk
        self._xoffsets = array("Q")
        self._xsizes = array("Q")
        self._xframes = 0
        self._xshort_seen = False
        try:
            self._f = open(self.partial_path, "wb")  # noqa: SIM115 - lives as long as the writer
        except OSError as exc:
            raise OutputError(f"cannot create {self.partial_path}: {exc.strerror or exc}",
                              self.path) from None
        self._pos = 0
        self._last_end = 0
        # writers write the lowest minor version whose features they use (spec section 9)
        self._write(make_preamble(minor=max(header.minor_version, int(minor))))
        assert self._pos == PREAMBLE_SIZE
        self._write(make_chunk(T_HEADER, encode_json_blob(header.to_json())))
        if meta:
            self._write(make_chunk(T_META, encode_json_blob(meta)))
        self._flush()

    # -- low level ---------------------------------------------------------------------------
    def _write(self, data: bytes | bytearray | memoryview) -> None:
        try:
            self._f.write(data)
        except OSError as exc:
            raise OutputError(f"write failed: {exc.strerror or exc}", self.path) from None
        self._pos += len(data)

    def _flush(self) -> None:
        try:
            self._f.flush()
        except OSError as exc:
            raise OutputError(f"write failed: {exc.strerror or exc}", self.path) from None

    def _check_open(self) -> None:
        if self._closed:
            raise InputError("writer is already closed", self.path)

    # -- scenes ------------------------------------------------------------------------------
    @property
    def num_scenes(self) -> int:
        return len(self._sizes)

    @property
    def num_frames(self) -> int:
        return self._num_frames

    def _check_num_frames(self, num_frames: int) -> None:
        fps = self.header.frames_per_scene
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) \
                or not 1 <= num_frames <= fps:
            raise InputError(f"scene {self.num_scenes}: num_frames must be an int in 1..{fps}, "
                             f"got {num_frames!r}", self.path)
        if self._short_seen:
            raise InputError(f"scene {self.num_scenes}: only the last scene may have fewer than "
                             f"frames_per_scene={fps} frames", self.path)

    def add_scene(self, payloads: Mapping[str, bytes], num_frames: int) -> int:
        """Append one scene's payloads (name -> bytes) covering ``num_frames`` frames.

        Returns the scene index. The chunk is flushed to the OS before returning, so a writer
        killed afterwards still leaves this scene recoverable.
        """
        self._check_open()
        self._check_num_frames(num_frames)
        if not isinstance(payloads, Mapping):
            raise InputError(f"scene {self.num_scenes}: payloads must be a mapping of str to bytes",
                             self.path)
        keys: list[str] = []
        datas: list[bytes | bytearray | memoryview] = []
        for k, v in payloads.items():
            if not isinstance(k, str):
                raise InputError(f"scene {self.num_scenes}: payload name {k!r} is not a str",
                                 self.path)
            try:
                kb = k.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError(f"scene {self.num_scenes}: payload name {k!r} is not valid "
                                 "UTF-8", self.path) from None
            if len(kb) > MAX_NAME_BYTES:
                raise InputError(f"scene {self.num_scenes}: payload name longer than "
                                 f"{MAX_NAME_BYTES} bytes", self.path)
            if not isinstance(v, (bytes, bytearray, memoryview)):
                raise InputError(f"scene {self.num_scenes}: payload {k!r} is "
                                 f"{type(v).__name__}, not bytes", self.path)
            keys.append(k)
            mv = memoryview(v)
            if not mv.c_contiguous:
                mv = memoryview(mv.tobytes())
            datas.append(mv.cast("B"))
        keyset = tuple(keys)
        ks_id = self._keysets.get(keyset)
        if ks_id is None:
            ks_id = len(self._keyset_list)
            self._keysets[keyset] = ks_id
            self._keyset_list.append(keyset)
            self._write(make_chunk(T_KEYS, uvarint(ks_id) + encode_keyset(keyset)))
        return self._write_scene(ks_id, datas, num_frames, lost=False)

    def add_lost_scene(self, num_frames: int) -> int:
        """Append a placeholder for a scene whose data was lost (used by repair): readers raise
        SceneCorruptError for it, and the scenes after it keep their frame positions."""
        self._check_open()
        self._check_num_frames(num_frames)
        return self._write_scene(0, [], num_frames, lost=True)

    def _write_scene(self, ks_id: int, datas: list, num_frames: int, lost: bool) -> int:
        k = self.num_scenes
        fps = self.header.frames_per_scene
        desc = ks_id << DESC_KEYSET_SHIFT
        if lost:
            desc |= DESC_LOST
        if num_frames != fps:
            desc |= DESC_HAS_NUM_FRAMES
        body = bytearray(uvarint(k) + uvarint(desc))
        if num_frames != fps:
            body += uvarint(num_frames)
        for d in datas[:-1]:
            body += uvarint(len(d))
        length = len(body) + sum(len(d) for d in datas)
        head = chunk_head(T_SCENE, length)
        crc = crc32c.crc32c(body, crc32c.crc32c(head))
        for d in datas:
            crc = crc32c.crc32c(d, crc)
        offset = self._pos
        self._write(head)
        self._write(body)
        for d in datas:
            self._write(d)
        self._write(struct.pack("<I", crc))
        self._flush()
        self._gaps.append(offset - self._last_end)
        self._sizes.append(self._pos - offset)
        self._last_end = self._pos
        self._num_frames += num_frames
        self._payload_bytes += sum(len(d) for d in datas)
        if num_frames != fps:
            self._short_seen = True
        return k

    # -- exact layer (format 1.1) -------------------------------------------------------------
    @property
    def num_layer_blocks(self) -> int:
        """xblk chunks written so far."""
        return len(self._xsizes)

    @property
    def layer_frames(self) -> int:
        """Frames covered by the xblk chunks written so far."""
        return self._xframes

    def add_layer_block(self, payload: bytes, num_frames: int) -> int:
        """Append block k (the next) of the exact layer as an ancillary ``xblk`` chunk holding
        ``payload`` (the layer codec's bytes) for ``num_frames`` frames; flushed like a scene.

        Needs a header with ``exact_layer``; every block but the last has exactly its
        ``block_frames`` frames. Returns k."""
        return self._write_layer_block(payload, num_frames, lost=False)

    def add_lost_layer_block(self, num_frames: int) -> int:
        """Placeholder for a layer block whose data was lost (used by repair)."""
        return self._write_layer_block(b"", num_frames, lost=True)

    def _write_layer_block(self, payload: bytes, num_frames: int, lost: bool) -> int:
        self._check_open()
        k = self.num_layer_blocks
        xl = self.header.exact_layer
        if xl is None:
            raise InputError("exact layer block for a header without exact_layer", self.path)
        bf = int(xl["block_frames"])
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) \
                or not 1 <= num_frames <= bf or self._xshort_seen:
            raise InputError(f"exact layer block {k}: num_frames must be an int in 1..{bf} "
                             f"(only the last block may be shorter), got {num_frames!r}",
                             self.path)
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise InputError(f"exact layer block {k}: payload is {type(payload).__name__}, "
                             "not bytes", self.path)
        data = uvarint(k) + uvarint(XBLK_LOST if lost else 0) + uvarint(num_frames) \
            + bytes(payload)
        offset = self._pos
        self._write(make_chunk(T_XBLOCK, data))
        self._flush()
        self._xoffsets.append(offset)
        self._xsizes.append(self._pos - offset)
        self._xframes += num_frames
        if num_frames != bf:
            self._xshort_seen = True
        return k

    # -- finishing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Write index and end chunk, fsync, and rename ``<path>.partial`` to ``path``."""
        if self._closed:
            return
        if self.header.exact_layer is not None:
            self._write(make_chunk(T_XINDEX, encode_layer_index(self._xoffsets, self._xsizes)))
        index_offset = self._pos
        self._write(make_chunk(T_INDEX, encode_index(self._keyset_list, self._gaps, self._sizes)))
        self._write(make_chunk(T_END, struct.pack("<QQQQ", index_offset, self.num_scenes,
                                                   self._num_frames, self._payload_bytes)))
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            os.replace(self.partial_path, self.path)
        except OSError as exc:
            raise OutputError(f"cannot finish the file: {exc.strerror or exc}", self.path) from None
        self._closed = True
        _fsync_dir(os.path.dirname(os.path.abspath(self.path)))

    def abort(self) -> None:
        """Stop writing and delete ``<path>.partial``; ``path`` is left untouched."""
        if self._closed:
            return
        self._closed = True
        try:
            self._f.close()
        finally:
            try:
                os.remove(self.partial_path)
            except FileNotFoundError:
                pass

    def _abandon(self) -> None:
        """Close the partial file without index (recoverable by a forward scan / repair)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._f.close()
        except OSError:
            pass

    def __enter__(self) -> SpkcWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        elif self.keep_partial_on_error:
            self._abandon()
        else:
            self.abort()

    def __del__(self) -> None:
        # An unclosed writer must not look complete; leave the .partial for repair.
        f = getattr(self, "_f", None)
        if f is not None and not getattr(self, "_closed", True):
            try:
                f.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


def _fsync_dir(dirname: str) -> None:
    # Make the rename durable; not all platforms allow opening directories.
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
