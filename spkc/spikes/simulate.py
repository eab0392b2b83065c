"""Integrate-and-fire spike simulation (SpikeCodec, Zhang et al., Eq. 1-4), numpy and torch.

Per frame t and pixel (all float32, in this order)::

    acc = acc + (gain * I[t] + dark_current)      # integrate
    acc = acc + noise[t]                          # shot noise, only if noise_std > 0
    fire = acc >= threshold                       # at most one spike per frame
    acc = acc - threshold  (soft)  |  0  (hard)   # where fire

``noise[t] = noise_std * N(0, 1)`` is drawn per frame, (H, W) float32, from
``np.random.default_rng(seed)``; ``init="random"`` draws the initial accumulator
``threshold * U[0, 1)`` from the same generator *before* any noise. Both implementations draw with
numpy, so they agree bit for bit. Pass a ``np.random.Generator`` as ``seed`` (and
``init=<returned state>``) to continue a simulation block by block with the same result as one
long run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spkc.errors import InputError


def _check_args(shape: tuple[int, ...], threshold: float, reset: str) -> None:
    if len(shape) != 3:
        raise InputError(f"intensity must be (T, H, W), got shape {tuple(shape)}")
    if reset not in ("soft", "hard"):
        raise InputError(f"reset must be 'soft' or 'hard', got {reset!r}")
    if not float(threshold) > 0:
        raise InputError(f"threshold must be positive, got {threshold!r}")


def _initial_state(init: Any, hw: tuple[int, int], threshold: np.float32,
                   rng: np.random.Generator) -> np.ndarray:
    if init is None:
        return np.zeros(hw, dtype=np.float32)
    if isinstance(init, str):
        if init != "random":
            raise InputError(f"init must be None, 'random' or an (H, W) array, got {init!r}")
        return (rng.random(hw, dtype=np.float32) * threshold).astype(np.float32)
    state = np.array(init.detach().cpu().numpy() if hasattr(init, "detach") else init,
                     dtype=np.float32, copy=True)
    if state.shape != hw:
        raise InputError(f"init has shape {state.shape}, expected (H, W) = {hw}")
    return state


def integrate_and_fire(intensity: np.ndarray, *, gain: float = 1.0, threshold: float = 1.0,
                       reset: str = "soft", init: Any = None, seed: Any = None,
                       dark_current: float = 0.0, noise_std: float = 0.0,
                       return_state: bool = False):
    """Simulate spikes from intensity (T, H, W) float (light per frame, arbitrary units).

    Returns (T, H, W) bool spikes, and with ``return_state`` also the final (H, W) float32
    accumulator. Long-run rate for constant I is ``(gain*I + dark_current) / threshold``
    spikes/frame (capped at 1).
    """
    I = np.asarray(intensity)
    _check_args(I.shape, threshold, reset)
    T, H, W = I.shape
    g, d, th = np.float32(gain), np.float32(dark_current), np.float32(threshold)
    rng = np.random.default_rng(seed)
    acc = _initial_state(init, (H, W), th, rng)
    noise = np.float32(noise_std)
    out = np.empty((T, H, W), dtype=np.bool_)
    zero = np.float32(0)
    for t in range(T):
        acc += I[t].astype(np.float32, copy=False) * g + d
        if noise_std > 0:
            acc += rng.standard_normal((H, W), dtype=np.float32) * noise
        fire = acc >= th
        out[t] = fire
        if reset == "soft":
            acc -= np.where(fire, th, zero)
        else:
            acc[fire] = zero
    return (out, acc) if return_state else out


def integrate_and_fire_torch(intensity, *, gain: float = 1.0, threshold: float = 1.0,
                             reset: str = "soft", init: Any = None, seed: Any = None,
                             dark_current: float = 0.0, noise_std: float = 0.0,
                             return_state: bool = False, device=None):
    """Torch version of :func:`integrate_and_fire`, bit-identical on the same inputs.

    ``intensity`` is a numpy array or tensor (T, H, W); ``device`` defaults to the tensor's
    device (or CPU). Returns a (T, H, W) torch.bool tensor on ``device`` (and the final (H, W)
    float32 state tensor with ``return_state``). Noise and random init are drawn with numpy.
    """
    import torch

    if isinstance(intensity, torch.Tensor):
        dev = torch.device(device) if device is not None else intensity.device
        I = intensity.to(device=dev, dtype=torch.float32)
    else:
        dev = torch.device(device) if device is not None else torch.device("cpu")
        I = torch.as_tensor(np.asarray(intensity, dtype=np.float32), device=dev)
    _check_args(tuple(I.shape), threshold, reset)
    T, H, W = I.shape
    g = torch.tensor(np.float32(gain), device=dev)
    d = torch.tensor(np.float32(dark_current), device=dev)
    th = torch.tensor(np.float32(threshold), device=dev)
    rng = np.random.default_rng(seed)
    if isinstance(init, torch.Tensor):  # stays on its device: no host round trip
        if tuple(init.shape) != (H, W):
            raise InputError(f"init has shape {tuple(init.shape)}, expected (H, W) = {(H, W)}")
        acc = init.to(device=dev, dtype=torch.float32, copy=True)
    else:
        acc = torch.as_tensor(_initial_state(init, (H, W), np.float32(threshold), rng),
                              device=dev)
    noise = np.float32(noise_std)
    out = torch.empty((T, H, W), dtype=torch.bool, device=dev)
    zero = torch.zeros((), dtype=torch.float32, device=dev)
    for t in range(T):
        # Separate mul and add (no addcmul) so rounding matches numpy exactly.
        acc += I[t] * g + d
        if noise_std > 0:
            n = rng.standard_normal((H, W), dtype=np.float32) * noise
            acc += torch.as_tensor(n, device=dev)
        fire = acc >= th
        out[t] = fire
        if reset == "soft":
            acc -= torch.where(fire, th, zero)
        else:
            acc.masked_fill_(fire, 0.0)
    return (out, acc) if return_state else out
