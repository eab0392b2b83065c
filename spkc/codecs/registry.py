"""Codec registry fed by the ``spkc.codecs`` entry-point group (zarr/numcodecs style).

Another package adds a codec by declaring, in its own pyproject::

    [project.entry-points."spkc.codecs"]
    mycodec = "mypkg.codec:MyCodec"
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from spkc.codecs.base import SceneCodec
from spkc.codecs.stream_base import SpikeStreamCodec
from spkc.errors import CodecUnavailableError, CorruptFileError, SpkcError, UnknownCodecError

GROUP = "spkc.codecs"
DEFAULT_CODEC = "learned"

#: a registered codec: a scene codec or a spike-stream codec (told apart by ``kind``)
AnyCodec = SceneCodec | SpikeStreamCodec

_registered: dict[str, type[AnyCodec]] = {}


def register_codec(cls: type[AnyCodec]) -> type[AnyCodec]:
    """Register a codec class in this process (usable as a decorator)."""
    _registered[cls.name] = cls
    return cls


@dataclass(frozen=True)
class CodecInfo:
    name: str
    target: str
    available: bool
    reason: str
    version: str = ""
    kind: str = "scene"  # "scene" (lossy, regenerated spikes) or "stream" (codes the spikes)


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def codec_names() -> list[str]:
    """Every registered codec name, sorted, default first."""
    names = set(_entry_points()) | set(_registered)
    return sorted(names, key=lambda n: (n != DEFAULT_CODEC, n))


def get_codec_class(name: str) -> type[AnyCodec]:
    """The class registered under ``name``; UnknownCodecError when there is none."""
    if name in _registered:
        return _registered[name]
    eps = _entry_points()
    if name not in eps:
        raise UnknownCodecError(
            f"unknown codec {name!r}; known codecs: {', '.join(codec_names())}"
        )
    try:
        cls = eps[name].load()
    except ImportError as exc:
        raise CodecUnavailableError(f"codec {name!r} cannot be imported: {exc}") from exc
    _registered[name] = cls
    return cls


def get_codec(name: str, quality: int | None = None, device: str = "cpu", **options) -> AnyCodec:
    """An instance of codec ``name``, checked to be runnable here."""
    cls = get_codec_class(name)
    ok, reason = cls.availability()
    if not ok:
        raise CodecUnavailableError(f"codec {name!r} cannot run here: {reason}")
    if quality is not None and int(quality) not in cls.qualities:
        raise UnknownCodecError(
            f"codec {name!r} has no quality {quality}; choose from {list(cls.qualities)}"
        )
    return cls(quality=quality, device=device, **options)


def codec_from_config(name: str, config: dict, device: str = "cpu") -> AnyCodec:
    """Rebuild the codec recorded in a file header.

    A config this codec cannot accept (damaged or forged header) is a CorruptFileError.
    """
    cls = get_codec_class(name)
    ok, reason = cls.availability()
    if not ok:
        raise CodecUnavailableError(f"codec {name!r} cannot run here: {reason}")
    if not isinstance(config, dict):
        raise CorruptFileError(f"codec {name!r} config is not an object: {config!r:.80}")
    try:
        return cls.from_config(config, device=device)
    except SpkcError as exc:
        raise CorruptFileError(f"codec {name!r} rejects the recorded config: {exc.problem}") \
            from exc
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise CorruptFileError(f"codec {name!r} rejects the recorded config "
                               f"{config!r:.80}: {type(exc).__name__}: {exc}") from exc


def list_codecs() -> list[CodecInfo]:
    """Every codec with whether it can run here and why not."""
    eps = _entry_points()
    out = []
    for name in codec_names():
        target = eps[name].value if name in eps else f"{_registered[name].__module__}"
        try:
            cls = get_codec_class(name)
        except CodecUnavailableError as exc:
            out.append(CodecInfo(name, target, False, exc.problem))
            continue
        ok, reason = cls.availability()
        out.append(CodecInfo(name, target, ok, reason, cls.version,
                             str(getattr(cls, "kind", "scene"))))
    return out
