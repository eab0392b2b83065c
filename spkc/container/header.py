"""The .spkc header (the SPKH chunk's JSON) and metadata validation."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeGuard

from spkc.container.format import is_finite_number
from spkc.errors import InputError

MAX_DIM = 65535
MAX_FRAMES_PER_SCENE = (1 << 31) - 1
MAX_NAME_BYTES = 255
MAX_GROUP_LENGTH = 65535

MetaValue = str | int | float | bool


class HeaderError(InputError):
    """A header or metadata value is out of range (the reader re-raises it as CorruptFileError)."""


@dataclass(frozen=True)
class Header:
    """What a decoder needs before the first scene.

    ``height``/``width``: pixels (1..65535). ``frames_per_scene``: spike frames per scene
    (1..2**31-1); every scene but the last has exactly this many. ``frame_rate``: spike frames per
    second (Hz), 0 when unknown. ``codec``/``codec_version``/``codec_config``: the scene codec's
    registry name, bitstream version and JSON config. ``reconstructor``/``reconstructor_config``:
    how scenes were made from spikes. ``regen``: integrate-and-fire regeneration parameters (JSON,
    opaque to the container). ``codec_identity``: e.g. ``{"weights_sha256": ...}``.
    """

    height: int
    width: int
    frames_per_scene: int
    frame_rate: float = 0.0
    codec: str = "raw"
    codec_version: str = "1"
    codec_config: dict[str, Any] = field(default_factory=dict)
    reconstructor: str = ""
    reconstructor_config: dict[str, Any] = field(default_factory=dict)
    regen: dict[str, Any] = field(default_factory=dict)
    codec_identity: dict[str, str] = field(default_factory=dict)
    #: scenes per group (format 1.1): scene k is a key scene when k % group_length == 0 and
    #: may be predicted from the earlier scenes of its group; 1 = every scene decodes alone
    group_length: int = 1
    #: the exact layer (format 1.1): ``{"codec", "codec_version", "codec_config",
    #: "block_frames"}`` of the spike-stream codec whose blocks the file's ``xblk`` chunks
    #: hold (spec/exact.md, 7); None = no exact layer
    exact_layer: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        validate_header(self)

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in the SPKH chunk (``group_length`` only when > 1, so
        all-intra headers are the bytes of format 1.0)."""
        obj = asdict(self)
        if self.group_length == 1:
            del obj["group_length"]
        if self.exact_layer is None:
            del obj["exact_layer"]
        return obj

    @property
    def minor_version(self) -> int:
        """The lowest format minor version this header needs: 1 with groups or an exact
        layer, else 0."""
        return 1 if self.group_length > 1 or self.exact_layer is not None else 0

    def is_key_scene(self, k: int) -> bool:
        """True when scene k starts a group (decodes without earlier scenes)."""
        return k % self.group_length == 0

    @classmethod
    def from_json(cls, obj: Any) -> Header:
        """Build from the SPKH JSON object; unknown keys (newer minor versions) are ignored.

        Raises HeaderError (internal) on missing or out-of-range fields.
        """
        if not isinstance(obj, dict):
            raise HeaderError("header is not a JSON object")
        kwargs: dict[str, Any] = {}
        for name in _FIELDS:
            if name not in obj:
                raise HeaderError(f"header lacks field {name!r}")
            kwargs[name] = obj[name]
        if "group_length" in obj:  # format 1.1
            kwargs["group_length"] = obj["group_length"]
        if "exact_layer" in obj:  # format 1.1
            kwargs["exact_layer"] = obj["exact_layer"]
        if isinstance(kwargs["frame_rate"], int) and not isinstance(kwargs["frame_rate"], bool):
            kwargs["frame_rate"] = float(kwargs["frame_rate"])
        try:
            return cls(**kwargs)
        except HeaderError:
            raise
        except (TypeError, ValueError, OverflowError) as exc:  # pragma: no cover - defensive
            raise HeaderError(f"bad header ({exc})") from None

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return (self.height, self.width)


_FIELDS = (
    "height", "width", "frames_per_scene", "frame_rate", "codec", "codec_version",
    "codec_config", "reconstructor", "reconstructor_config", "regen", "codec_identity",
)


def _is_int(x: Any) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_name(value: Any, name: str, allow_empty: bool) -> None:
    if not isinstance(value, str):
        raise HeaderError(f"header field {name} must be a string, not {type(value).__name__}")
    try:
        n = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise HeaderError(f"header field {name} is not encodable as UTF-8") from None
    if n > MAX_NAME_BYTES or (n == 0 and not allow_empty):
        raise HeaderError(f"header field {name} must be {0 if allow_empty else 1}.."
                          f"{MAX_NAME_BYTES} UTF-8 bytes, got {n}")


def _check_json(value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise HeaderError(f"header field {name} must be a JSON object (dict)")
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
        raise HeaderError(f"header field {name} is not JSON-serialisable ({exc})") from None
    if json.loads(text) != value:
        # tuples, non-str keys etc. would come back different: refuse rather than surprise later
        raise HeaderError(f"header field {name} does not survive a JSON round trip "
                          "(use lists, str keys, finite floats)")


def validate_header(h: Header) -> None:
    for name in ("height", "width"):
        v = getattr(h, name)
        if not _is_int(v) or not 1 <= v <= MAX_DIM:
            raise HeaderError(f"header field {name} must be an int in 1..{MAX_DIM}, got {v!r}")
    if not _is_int(h.frames_per_scene) or not 1 <= h.frames_per_scene <= MAX_FRAMES_PER_SCENE:
        raise HeaderError(f"frames_per_scene must be an int in 1..{MAX_FRAMES_PER_SCENE}, "
                          f"got {h.frames_per_scene!r}")
    if not _is_int(h.group_length) or not 1 <= h.group_length <= MAX_GROUP_LENGTH:
        raise HeaderError(f"group_length must be an int in 1..{MAX_GROUP_LENGTH}, "
                          f"got {h.group_length!r}")
    if not is_finite_number(h.frame_rate) or h.frame_rate < 0:
        raise HeaderError(f"frame_rate must be a finite number >= 0 (Hz), got {h.frame_rate!r}")
    _check_name(h.codec, "codec", allow_empty=False)
    _check_name(h.codec_version, "codec_version", allow_empty=True)
    _check_name(h.reconstructor, "reconstructor", allow_empty=True)
    for name in ("codec_config", "reconstructor_config", "regen", "codec_identity"):
        _check_json(getattr(h, name), name)
    for k, v in h.codec_identity.items():
        if not isinstance(v, str):
            raise HeaderError(f"codec_identity[{k!r}] must be a string")
    if h.exact_layer is not None:
        _check_json(h.exact_layer, "exact_layer")
        xl = h.exact_layer
        if not isinstance(xl.get("codec"), str) or not isinstance(xl.get("codec_version"), str) \
                or not isinstance(xl.get("codec_config"), dict) \
                or not _is_int(xl.get("block_frames")) \
                or not 1 <= xl["block_frames"] <= MAX_FRAMES_PER_SCENE:
            raise HeaderError("exact_layer must hold codec (str), codec_version (str), "
                              "codec_config (object) and block_frames (int >= 1)")
        _check_name(xl["codec"], "exact_layer.codec", allow_empty=False)


def validate_metadata(meta: Any) -> dict[str, MetaValue]:
    """Check metadata is dict[str, str|int|float|bool] with finite floats; returns a copy."""
    if not isinstance(meta, Mapping):
        raise HeaderError("metadata must be a mapping of str to str/int/float/bool")
    out: dict[str, MetaValue] = {}
    for k, v in meta.items():
        if not isinstance(k, str):
            raise HeaderError(f"metadata key {k!r} is not a string")
        if isinstance(v, float) and not math.isfinite(v):
            raise HeaderError(f"metadata value for {k!r} is not finite")
        if not isinstance(v, (str, int, float, bool)):
            raise HeaderError(f"metadata value for {k!r} has type {type(v).__name__}; "
                              "allowed: str, int, float, bool")
        for s in (k, v if isinstance(v, str) else ""):
            try:
                s.encode("utf-8")
            except UnicodeEncodeError:
                raise HeaderError(f"metadata entry {k!r} is not encodable as UTF-8") from None
        if _is_int(v) and not -(1 << 63) <= v < (1 << 64):
            raise HeaderError(f"metadata int for {k!r} is outside 64-bit range")
        out[k] = v
    return out
