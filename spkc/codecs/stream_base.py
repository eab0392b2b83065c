"""The spike-stream codec interface: lossless (or any) coding of the spikes themselves.

A *scene codec* (:mod:`spkc.codecs.base`) codes luminance scenes and the decoder regenerates
spikes from them; a *spike-stream codec* codes the binary spike stream directly, in blocks of
``block_frames`` frames that decode independently of each other. Both kinds live in the same
registry (entry-point group ``spkc.codecs``) and are told apart by :attr:`kind`; the pipeline,
:func:`spkc.open` and the CLI dispatch on it.

In a ``.spkc`` file a stream codec's block k is the file's scene chunk k (one payload, ``blk``)
with ``frames_per_scene`` = the block length (spec/exact.md, section 1), so the container's
checksums, index, forward scan and repair apply to blocks unchanged.

Contract (the container and pipeline rely on it):

* ``decode_block(encode_block(s), s.shape)`` equals ``s`` exactly, for any ``(B, H, W)`` with
  ``1 <= B <= block_frames`` (the last block of a clip is shorter);
* ``decode_block`` is a pure function of the bytes and the config (any platform, thread count);
* damaged bytes raise :class:`spkc.SceneCorruptError` (or any exception, which the caller
  turns into one naming the block), never crash or hang;
* ``get_config()`` is JSON and ``type(c).from_config(c.get_config())`` rebuilds an equal codec.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np

from spkc.errors import InputError

_S = TypeVar("_S", bound="SpikeStreamCodec")

#: name of the one payload a stream codec's block chunk carries
BLOCK_PAYLOAD = "blk"


class SpikeStreamCodec(ABC):
    """Base class of spike-stream codecs. Subclasses set ``name``, ``version``,
    ``default_block_frames`` and implement :meth:`encode_block` / :meth:`decode_block`."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    #: registry kind: "scene" codecs code luminance, "stream" codecs code the spikes
    kind: ClassVar[str] = "stream"
    #: True when decoding returns exactly the spikes that were encoded
    lossless: ClassVar[bool] = True
    #: accepted for registry compatibility with scene codecs; a stream codec has one level
    qualities: ClassVar[tuple[int, ...]] = (1,)
    default_quality: ClassVar[int] = 1
    wants_spike_context: ClassVar[int] = 0
    default_block_frames: ClassVar[int] = 256
    max_block_frames: ClassVar[int] = 65534

    def __init__(self, quality: int | None = None, device: str = "cpu",
                 block_frames: int | None = None, **options: Any) -> None:
        if quality is not None and (isinstance(quality, bool) or quality not in self.qualities):
            raise InputError(f"codec {self.name!r} has no quality {quality!r}; it is lossless "
                             f"(quality {list(self.qualities)})")
        bf = self.default_block_frames if block_frames is None else block_frames
        if isinstance(bf, bool) or not isinstance(bf, (int, np.integer)) \
                or not 1 <= bf <= self.max_block_frames:
            raise InputError(f"codec {self.name!r}: block_frames must be an int in "
                             f"1..{self.max_block_frames}, got {block_frames!r}")
        if options:
            raise InputError(f"codec {self.name!r} has no option(s) "
                             f"{', '.join(sorted(options))}")
        self.quality = self.default_quality
        self.device = device
        self.block_frames = int(bf)
        self.options: dict[str, Any] = {}

    # -- config -----------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """JSON config stored in the file header: ``{"block_frames": B}``."""
        return {"block_frames": self.block_frames}

    @classmethod
    def from_config(cls: type[_S], config: Mapping[str, Any], device: str = "cpu") -> _S:
        cfg = dict(config)
        return cls(block_frames=cfg.pop("block_frames", None), device=device, **cfg)

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        """(can run here, reason when it cannot)."""
        return True, ""

    def identity(self) -> dict[str, str]:
        return {}

    def check_identity(self, identity: Mapping[str, str], path: str | None = None) -> None:
        return None

    # -- coding -----------------------------------------------------------------------------
    @abstractmethod
    def encode_block(self, spikes: np.ndarray) -> bytes:
        """Code one block: spikes (B, H, W) bool, B <= block_frames -> bytes."""

    @abstractmethod
    def decode_block(self, data: bytes, shape: tuple[int, int, int]) -> np.ndarray:
        """Bytes of one block -> spikes (B, H, W) bool; ``shape`` is (B, H, W)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()!r})"


def is_stream_codec(codec: object) -> bool:
    """True for a stream codec class or instance (dispatch helper for the pipeline)."""
    kind = getattr(codec, "kind", "scene")
    return kind == "stream"
