"""Scene codecs: the interface, the registry and the built-in plugins."""

from spkc.codecs.base import EncodeContext, Payloads, SceneCodec
from spkc.codecs.registry import (
    DEFAULT_CODEC,
    codec_from_config,
    codec_names,
    get_codec,
    get_codec_class,
    list_codecs,
    register_codec,
)

__all__ = [
    "DEFAULT_CODEC",
    "EncodeContext",
    "Payloads",
    "SceneCodec",
    "codec_from_config",
    "codec_names",
    "get_codec",
    "get_codec_class",
    "list_codecs",
    "register_codec",
]
