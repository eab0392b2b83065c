"""The scene-codec interface every plugin implements.

A scene is float32 luminance in [0, 1], shape (H, W). A codec turns a batch of scenes into one
*payload set* per scene -- a ``dict[str, bytes]`` of named bitstreams (e.g. ``{"y": ..., "z": ...}``
for a hyperprior model, ``{"img": ...}`` for an image codec) -- and back.

Contract (the container and pipeline rely on it):

* ``decode`` is a pure function of the payloads and the config: same bytes, same scenes, bit for
  bit, on any device, thread count or batch size.
* ``get_config()`` is JSON-serialisable and ``type(c).from_config(c.get_config())`` rebuilds an
  equal codec (the config is stored in the file header, numcodecs-style).
* Errors on bad payloads are :class:`spkc.SceneCorruptError`; a codec that cannot run here says
  why in :meth:`SceneCodec.availability`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

Payloads = dict[str, bytes]


_C = TypeVar("_C", bound="SceneCodec")


@dataclass
class EncodeContext:
    """What an encoder may look at beside the scenes (never available to the decoder).

    ``spikes_before[i]`` / ``spikes_after[i]``: (L, H, W) bool spike sub-sequences ending at /
    starting after scene i's time (for SOAM/BiSOAM attention); ``None`` when the codec does not
    ask for them (see :attr:`SceneCodec.wants_spike_context`).
    """

    spikes_before: Sequence[np.ndarray] | np.ndarray | None = None
    spikes_after: Sequence[np.ndarray] | np.ndarray | None = None
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)


class SceneCodec(ABC):
    """Base class of scene codecs. Subclasses set ``name`` and ``version`` (bitstream version)."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    #: quality levels accepted (inclusive); higher is better quality and more bits.
    qualities: ClassVar[tuple[int, ...]] = (1, 2, 3, 4)
    default_quality: ClassVar[int] = 3
    #: length of spike sub-sequence the encoder wants before/after each scene (0 = none).
    wants_spike_context: ClassVar[int] = 0

    def __init__(self, quality: int | None = None, device: str = "cpu", **options: Any) -> None:
        q = self.default_quality if quality is None else quality
        if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or q not in self.qualities:
            from spkc.errors import InputError

            raise InputError(f"codec {self.name!r} has no quality {quality!r}; "
                             f"choose from {list(self.qualities)}")
        self.quality = int(q)
        self.device = device
        self.options = dict(options)

    # -- config -----------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable config stored in the file header; round-trips via from_config."""
        return {"quality": self.quality, **self.options}

    @classmethod
    def from_config(cls: type[_C], config: Mapping[str, Any], device: str = "cpu") -> _C:
        cfg = dict(config)
        return cls(quality=cfg.pop("quality", None), device=device, **cfg)

    # -- availability -----------------------------------------------------------------------
    @classmethod
    def availability(cls) -> tuple[bool, str]:
        """(can run here, reason when it cannot)."""
        return True, ""

    # -- coding -----------------------------------------------------------------------------
    @abstractmethod
    def encode(self, scenes: np.ndarray, context: EncodeContext | None = None) -> list[Payloads]:
        """Code scenes (N, H, W) float32 in [0, 1] -> N payload sets."""

    @abstractmethod
    def decode(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """Payload sets -> scenes (N, H, W) float32 in [0, 1]; ``shape`` is (H, W)."""

    def identity(self) -> dict[str, str]:
        """Extra identification stored in the header (e.g. weights SHA-256); checked on open."""
        return {}

    def check_identity(self, identity: Mapping[str, str], path: str | None = None) -> None:
        """Raise a SpkcError if a file's recorded identity cannot be decoded by this install.

        Codecs without external state (weights) accept any identity.
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()!r})"


#: largest group of scenes (key scene + predicted scenes) a file may declare
MAX_GROUP_LENGTH = 65535


class InterSceneCodec(SceneCodec):
    """A scene codec that may predict a scene from earlier decoded scenes of its *group*.

    Scenes are coded in groups of ``group_length`` (option ``gop``, default
    :attr:`default_gop`): the first scene of a group (the *key scene*) decodes alone, scene
    ``j`` of a group may use the decoded scenes ``0..j-1`` of the same group and nothing
    else. The codec still emits one payload set per scene, so the container, repair and
    concealment see scenes as before. Intra-only plugins keep subclassing
    :class:`SceneCodec`; ``gop=1`` makes every scene a key scene (all-intra).

    Contract (beside :class:`SceneCodec`'s):

    * :meth:`encode_group` gets one group (``1 <= n <= group_length`` scenes, the first the
      key scene); :meth:`decode_group` gets the payload sets of a group *prefix* (key scene
      first) and returns exactly the scenes a decode of the whole group gives for them, bit
      for bit (decoding scene j never depends on payloads after j).
    * On a payload that does not decode, :meth:`decode_group` raises
      :class:`spkc.SceneCorruptError` whose ``scene`` is the index *within the group* of the
      first scene that fails (or None when it cannot tell); scenes after it are lost with it.
    """

    default_gop: ClassVar[int] = 1

    def __init__(self, quality: int | None = None, device: str = "cpu", **options: Any) -> None:
        super().__init__(quality, device, **options)
        gop = options.get("gop", self.default_gop)
        if isinstance(gop, bool) or not isinstance(gop, (int, np.integer)) \
                or not 1 <= gop <= MAX_GROUP_LENGTH:
            from spkc.errors import InputError

            raise InputError(f"codec {self.name!r}: gop (scenes per group) must be an integer "
                             f"in 1..{MAX_GROUP_LENGTH}, got {gop!r}")
        self._gop = int(gop)
        # all-intra configs stay as they were before groups existed (same header bytes)
        if self._gop == 1:
            self.options.pop("gop", None)
        else:
            self.options["gop"] = self._gop

    @classmethod
    def from_config(cls: type[_C], config: Mapping[str, Any], device: str = "cpu") -> _C:
        """Rebuild from a stored config; a config without ``gop`` is all-intra (gop 1)."""
        cfg = dict(config)
        cfg.setdefault("gop", 1)
        return cls(quality=cfg.pop("quality", None), device=device, **cfg)

    @property
    def group_length(self) -> int:
        """Scenes per group (key scene included); 1 = all-intra."""
        return self._gop

    @abstractmethod
    def encode_group(self, scenes: np.ndarray,
                     context: EncodeContext | None = None) -> list[Payloads]:
        """Code one group: scenes (n, H, W) float32 in [0, 1], key scene first -> n payload sets."""

    @abstractmethod
    def decode_group(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """Payload sets of a group prefix (key scene first) -> scenes (n, H, W) float32."""

    def _groups(self, n: int) -> list[slice]:
        g = self.group_length
        return [slice(i, min(i + g, n)) for i in range(0, n, g)]

    def encode(self, scenes: np.ndarray, context: EncodeContext | None = None) -> list[Payloads]:
        """Code scenes (N, H, W) as consecutive groups, the first scene a key scene."""
        out: list[Payloads] = []
        for sl in self._groups(len(scenes)):
            sub = None
            if context is not None:
                sub = EncodeContext(
                    spikes_before=None if context.spikes_before is None
                    else context.spikes_before[sl],
                    spikes_after=None if context.spikes_after is None
                    else context.spikes_after[sl],
                    device=context.device, extra=context.extra)
            out.extend(self.encode_group(scenes[sl], sub))
        return out

    def decode(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """Decode payload sets of consecutive groups, the first one a key scene's."""
        parts = [self.decode_group(payloads[sl], shape) for sl in self._groups(len(payloads))]
        if not parts:
            return np.empty((0, *shape), np.float32)
        return np.concatenate(parts)
