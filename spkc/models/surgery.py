"""Training-only model surgery: grow a trained learned scene codec into a larger config that
decodes every latent to the same scenes at the start, so training continues from the small
model's function instead of from scratch. Nothing here is used to encode or decode."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from spkc.errors import InputError
from spkc.models.channel_context import SIDX_OFFSET
from spkc.models.config import resolve_config
from spkc.models.scene_codec import SceneCompressionModel


def grow_synthesis(model: SceneCompressionModel, depth: int, config_name: str | None = None
                   ) -> SceneCompressionModel:
    """A copy of ``model`` whose synthesis has ``depth`` residual blocks per scale (at least
    the model's own), computing exactly the same function: every weight is copied, and each
    added block starts as the identity (its last conv is zero, so ``x + 0``, also on the
    integer path). Training the grown model continues from the small one instead of from
    scratch. ``config_name`` names the grown config (e.g. "deep"); its widths must be equal.
    """
    old = model.cfg["gs_depth"]
    if depth < old:
        raise InputError(f"grow_synthesis: depth {depth} is below the model's {old}")
    cfg = {**model.cfg, "gs_depth": depth}
    grown = SceneCompressionModel(config_name or cfg, model.attention)
    if grown.cfg != cfg:
        raise InputError(f"grow_synthesis: config {config_name!r} is {grown.cfg}, not {cfg}")

    def new_index(i: int) -> int:  # old g_s layer index -> grown index
        # layout: up, d blocks, lrelu, up, d blocks, lrelu, up
        first = 1 + old + 1  # index of the second upsample in the old layout
        if i < first:
            return i if i <= old else i + (depth - old)
        return i + (depth - old) if i <= first + old else i + 2 * (depth - old)

    state = {}
    for k, v in model.state_dict().items():
        if k.startswith("g_s.layers."):
            i, rest = k[len("g_s.layers."):].split(".", 1)
            k = f"g_s.layers.{new_index(int(i))}.{rest}"
        state[k] = v
    own = grown.state_dict()
    added = set(own) - set(state)
    with torch.no_grad():
        for k in added:
            # the added blocks' second conv (body.layers.3) is zero: each block is x + 0
            if ".body.layers.3." in k:
                state[k] = torch.zeros_like(own[k])
            else:
                state[k] = own[k]
    grown.load_state_dict(state)
    grown.z_freq.copy_(model.z_freq)
    return grown


def _transplant(small: SceneCompressionModel, big: SceneCompressionModel,
                changed: Callable[[str, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Load ``small``'s weights into ``big``: tensors of equal shape are copied, the others
    are ``changed(name, small's tensor, a copy of big's freshly initialised one)``; the z
    tables come along."""
    fresh = big.state_dict()
    state = dict(fresh)
    for k, v in small.state_dict().items():
        state[k] = v if fresh[k].shape == v.shape else changed(k, v, fresh[k].clone())
    big.load_state_dict(state)
    big.z_freq.copy_(small.z_freq)


def widen_latents(model: SceneCompressionModel, m: int, config_name: str | None = None,
                  seed: int = 0) -> SceneCompressionModel:
    """A copy of ``model`` with ``m`` latent channels (more slices of the same size) that
    decodes every old latent to the same scene: the old channels keep their slices, context
    nets and weights; the added channels form new slices after them, read by the synthesis and
    the hyper-analysis through zero weights, so at the start they change no decoded pixel.
    Each added channel starts as a random mix of the old ones (a zero start would get no
    gradient) and its context net predicts a unit scale, so it costs bits until training
    either predicts it from the old slices or puts it to use. The analysis body keeps its
    width (``ma``). ``config_name`` names the wide config.
    """
    old = model.cfg
    s = model.slice
    if m <= old["m"] or m % s:
        raise InputError(f"widen_latents: m={m} must exceed {old['m']} and be a multiple of the "
                         f"slice size {s}")
    cfg = {**old, "m": m, "slices": m // s, "ma": old["ma"]}
    with torch.random.fork_rng():  # the added nets' own init, reproducible, global RNG kept
        torch.manual_seed(seed)
        wide = SceneCompressionModel(config_name or cfg, model.attention)
    if wide.cfg != cfg:
        raise InputError(f"widen_latents: config {config_name!r} is {wide.cfg}, not {cfg}")
    gen = torch.Generator().manual_seed(seed)
    m0 = old["m"]
    mix = torch.randn(m - m0, m0, generator=gen) / (3.0 * m0**0.5)  # trained y: std ~1..10

    def changed(k: str, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if k in ("g_a.body.5.weight", "g_a.body.5.bias"):
            # analysis output: old rows copied; each new channel a random mix of the old ones,
            # about one quantisation step in size, so its rounded value is not always 0 (a zero
            # would give the synthesis no gradient) and the context can learn to predict it
            t[:m0] = v
            t[m0:] = (mix @ v.reshape(m0, -1)).reshape(t[m0:].shape)
        elif k in ("h_a.0.weight", "g_s.layers.0.layers.0.weight"):  # read the new: zero
            t[:, :m0] = v
            t[:, m0:] = 0
        else:
            raise InputError(f"widen_latents: unexpected shape change of {k}")
        return t

    _transplant(model, wide, changed)
    with torch.no_grad():
        for i in range(old["slices"], cfg["slices"]):
            # the added slices start at mean 0 and scale index 22 (sigma 1.0)
            last = wide.ctx[i].layers[-1]
            last.weight.mul_(0.01)
            last.bias.zero_()
            last.bias[s:] = 22.0 - SIDX_OFFSET
    return wide


def widen_synthesis(model: SceneCompressionModel, s1: int, s2: int, seed: int = 0
                    ) -> SceneCompressionModel:
    """A copy of ``model`` whose synthesis has ``s2`` channels at 1/8 and ``s1`` at 1/4
    resolution (at least its own), decoding every latent to the same scene: each conv keeps
    its old weights, reads the added channels through zero weights, and computes the added
    channels from random weights (the conv's own initialisation, scaled by 1/4), which the
    final layer ignores until training gives it weights for them. Pixel-shuffle convs put
    channel ``c``'s sub-pixels at rows ``c*r*r ...``, so added channels are added rows there
    too."""
    old = model.cfg
    if s1 < old["s1"] or s2 < old["s2"]:
        raise InputError(f"widen_synthesis: s1={s1}, s2={s2} below the model's "
                         f"{old['s1']}, {old['s2']}")
    cfg = {**old, "s1": s1, "s2": s2}
    with torch.random.fork_rng():  # the added rows: the modules' own init, reproducible
        torch.manual_seed(seed)
        wide = SceneCompressionModel(cfg, model.attention)

    def changed(k: str, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not k.startswith("g_s."):
            raise InputError(f"widen_synthesis: unexpected shape change of {k}")
        t = t * 0.25
        rows = v.shape[0]
        if t.dim() == 4:  # conv weight (out, in, k, k)
            t[:rows] = 0  # old outputs: zero weight on the added inputs ...
            t[:rows, : v.shape[1]] = v  # ... and their old weights
        else:  # bias: added outputs start at 0
            t[rows:] = 0
            t[:rows] = v
        return t

    _transplant(model, wide, changed)
    return wide


def grow_model(model: SceneCompressionModel, config: str | Mapping[str, Any]
               ) -> SceneCompressionModel:
    """``model`` grown into the larger ``config`` by :func:`widen_latents` and/or
    :func:`grow_synthesis`, so that training starts from the small model's decoded scenes.
    Every other config key must be equal."""
    target = resolve_config(config)
    name = config if isinstance(config, str) else None
    keys = ("m", "slices", "gs_depth", "s1", "s2")
    if {**model.cfg, **{k: target[k] for k in keys}} != target:
        raise InputError(f"cannot grow config {model.cfg} into {target}: only "
                         f"{', '.join(keys)} may differ")
    out = model
    if target["m"] != model.cfg["m"]:
        out = widen_latents(out, target["m"], None)
    if (target["s1"], target["s2"]) != (model.cfg["s1"], model.cfg["s2"]):
        out = widen_synthesis(out, target["s1"], target["s2"])
    if target["gs_depth"] != model.cfg["gs_depth"]:
        out = grow_synthesis(out, target["gs_depth"], None)
    if name is not None:
        out.config_name = name
    return out
