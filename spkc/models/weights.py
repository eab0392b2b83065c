"""Weights files of the learned scene codec (safetensors, format ``spkc-learned-1``; no
pickle), stored plain or as one zstd frame (``*.safetensors.zst``).

Layout: the exact nets' weights as int16 and biases as int32 integers (their fixed-point
grids, :mod:`spkc.models.exact`), every other tensor fp16 (or fp32), ``z_freq`` (the z prior's
int32 frequency tables) and ``scale_table`` (float64); the metadata holds the config (JSON),
its name and the attention kind. Tensor names are the model's ``state_dict`` names, so the
module attributes ``g_a``, ``h_a``, ``h_s``, ``ctx``, ``g_s`` and ``z_logits`` are part of the
format. Config keys added later (:data:`spkc.models.config.CONFIG_DEFAULTS`) take the value
older files imply.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file
from torch import nn

from spkc._util import read_maybe_zstd
from spkc.errors import InputError, MissingWeightsError
from spkc.models.config import resolve_config
from spkc.models.exact import ACT_FRAC, WEIGHT_FRAC, ExactConv2d

FORMAT = "spkc-learned-1"


def safetensors_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file's bytes (its header: an 8-byte little-endian
    length, then that many bytes of JSON). Raises ``ValueError`` when the header is damaged."""
    if len(data) < 8:
        raise ValueError("too short for a safetensors header")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"header length {n} exceeds the file")
    header = json.loads(data[8:8 + n])
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return dict(header.get("__metadata__") or {})


def weights_config(path: str | Path) -> dict[str, int]:
    """The config a weights file written by :func:`save_weights` was made with (keys added
    later filled with the values older files imply); the file may be stored plain or
    zstd-compressed (``*.zst``)."""
    path = Path(path)
    try:
        meta = safetensors_metadata(read_maybe_zstd(path))
        return resolve_config(json.loads(meta["config"]))
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise MissingWeightsError(f"cannot read the config of weights {path.name}: {exc}",
                                  path) from exc


def _exact_convs(model: nn.Module) -> dict[str, ExactConv2d]:
    return {n: mod for n, mod in model.named_modules() if isinstance(mod, ExactConv2d)}


def save_weights(model: nn.Module, path: str | Path, half: bool = True) -> None:
    """Write ``model`` (a :class:`~spkc.models.scene_codec.SceneCompressionModel`) to
    ``path`` in the layout above; its z tables are frozen first. ``half=False``: fp32."""
    model.update_tables()
    tensors: dict[str, torch.Tensor] = {}
    skip = set()
    for n, mod in _exact_convs(model).items():
        tensors[f"{n}.weight"] = mod.int_weight().to(torch.int16)
        tensors[f"{n}.bias"] = mod.int_bias().to(torch.int32)
        skip |= {f"{n}.weight", f"{n}.bias"}
    for n, p in model.state_dict().items():
        if n not in skip:
            tensors[n] = p.detach().to(torch.float16 if half else torch.float32)
    tensors["z_freq"] = model.z_freq.to(torch.int32)
    tensors["scale_table"] = model.scale_table.clone()
    meta = {"config": json.dumps(model.cfg), "config_name": model.config_name,
            "attention": str(model.attention), "format": FORMAT}
    save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, str(path), metadata=meta)


def load_weights(model: nn.Module, path: str | Path, data: bytes | None = None) -> None:
    """Load a file written by :func:`save_weights` into ``model``; ``data``: its content when
    the caller already read it (``path`` then only names it in errors). A file for another
    config raises :class:`InputError`, an unreadable or incomplete one
    :class:`MissingWeightsError`."""
    path = Path(path)
    if data is None and not path.is_file():
        raise MissingWeightsError(f"weights file {path.name} is not installed", path)
    exact = _exact_convs(model)
    try:
        if data is None:
            data = read_maybe_zstd(path)
        meta = safetensors_metadata(data)
        if meta.get("config") and resolve_config(json.loads(meta["config"])) != model.cfg:
            raise InputError(f"weights are for config {meta['config']}, model is "
                             f"{json.dumps(model.cfg)}", path)
        state = {}
        for key, t in load_safetensors(data).items():
            mod = key.rsplit(".", 1)[0]
            if mod in exact and key.endswith(".weight"):
                t = t.double() / 2**WEIGHT_FRAC
            elif mod in exact and key.endswith(".bias"):
                t = t.double() / 2 ** (WEIGHT_FRAC + ACT_FRAC)
            state[key] = t
    except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
        raise MissingWeightsError(f"cannot read weights {path.name}: {exc}", path) from exc
    z_freq = state.pop("z_freq", None)
    table = state.pop("scale_table", None)
    own = model.state_dict()
    missing = set(own) - set(state)
    if missing:
        raise MissingWeightsError(f"weights {path.name} lack {sorted(missing)[:3]}", path)
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items() if k in own})
    if table is not None:
        model.scale_table.copy_(table.double())
    if z_freq is not None:
        model.z_freq.copy_(z_freq.long())
    else:
        model.update_tables()
