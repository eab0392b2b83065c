"""``exact``: the lossless spike-stream codec (bitstream spec/exact.md).

A block payload is one method byte and a body:

* method 0 (*raw*): ``np.packbits`` of the (B, H, W) spikes in C order (big-endian bit order,
  last byte zero-padded) -- used whenever the model would not make the block smaller;
* method 1 (*model*): the inter-spike intervals of every pixel, coded with adaptive binary
  contexts and a range coder by the compiled kernel ``spkc/codecs/_exact.c`` (the pure-Python
  :mod:`spkc.codecs.exact_ref` codes the same bitstream, slowly, when the kernel is missing).
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np

from spkc.codecs import exact_ref
from spkc.codecs.stream_base import SpikeStreamCodec
from spkc.errors import InputError, SceneCorruptError

try:  # built by `pip install` (setup.py); absent in a source tree that was never built
    from spkc.codecs import _exact as _kernel
except ImportError:  # pragma: no cover - exercised only without a compiler
    _kernel = None

METHOD_RAW = 0
METHOD_MODEL = 1


def kernel_available() -> bool:
    """True when the compiled kernel is importable (else the slow pure-Python path runs)."""
    return _kernel is not None


class ExactCodec(SpikeStreamCodec):
    """Lossless: every spike is kept. ``block_frames`` (B): frames per independently decodable
    block (random-access granularity; memory is about 2 bytes per pixel per block frame)."""

    name: ClassVar[str] = "exact"
    version: ClassVar[str] = "1"
    default_block_frames: ClassVar[int] = 512
    _warned: ClassVar[bool] = False

    def encode_block(self, spikes: np.ndarray) -> bytes:
        """(B, H, W) bool -> method byte + body; never more than raw + 1 byte."""
        s = np.ascontiguousarray(spikes, dtype=bool)
        if s.ndim != 3 or not 1 <= s.shape[0] <= self.block_frames:
            raise InputError(f"exact: a block must be (B, H, W) with 1 <= B <= "
                             f"{self.block_frames}, got shape {s.shape}")
        B, H, W = s.shape
        raw_len = -(-B * H * W // 8)
        if _kernel is not None:
            body = _kernel.encode_block(s.view(np.uint8), B, H, W)
        else:
            self._warn_slow()
            body = exact_ref.encode_block(s)
        if len(body) >= raw_len:
            return bytes([METHOD_RAW]) + np.packbits(s).tobytes()
        return bytes([METHOD_MODEL]) + body

    def decode_block(self, data: bytes, shape: tuple[int, int, int]) -> np.ndarray:
        """Method byte + body -> (B, H, W) bool; SceneCorruptError on damaged bytes."""
        B, H, W = (int(v) for v in shape)
        if not data:
            raise SceneCorruptError("exact block is empty")
        method = data[0]
        body = memoryview(data)[1:]
        if method == METHOD_RAW:
            n = B * H * W
            if len(body) != -(-n // 8):
                raise SceneCorruptError(f"raw exact block holds {len(body)} bytes, "
                                        f"{-(-n // 8)} expected for {B}x{H}x{W}")
            return np.unpackbits(np.frombuffer(body, np.uint8), count=n).view(bool) \
                .reshape(B, H, W)
        if method != METHOD_MODEL:
            raise SceneCorruptError(f"exact block uses unknown method {method}")
        if _kernel is not None:
            out = np.empty((B, H, W), np.uint8)
            try:
                _kernel.decode_block(body, B, H, W, out)
            except ValueError as exc:
                raise SceneCorruptError(f"exact block does not decode: {exc}") from None
            return out.view(bool)
        self._warn_slow()
        try:
            return exact_ref.decode_block(bytes(body), (B, H, W))
        except exact_ref.Corrupt as exc:
            raise SceneCorruptError(f"exact block does not decode: {exc}") from None

    @classmethod
    def _warn_slow(cls) -> None:
        if not cls._warned:
            cls._warned = True
            warnings.warn("spkc: the compiled exact kernel is not built; using the pure-Python "
                          "reference (thousands of times slower). Reinstall spkc with a C "
                          "compiler (pip install -e .).", RuntimeWarning, stacklevel=3)
