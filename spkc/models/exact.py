"""Fixed-point layers whose inference is exact on any device, thread count or batch size.

Why: a learned decoder desynchronises its arithmetic decoder when the entropy parameters it
computes differ from the encoder's by a single ulp. These layers make the decoder side a pure
integer computation:

* weights live on a grid of ``2**-WEIGHT_FRAC`` and are clamped to ``WEIGHT_BITS`` signed bits;
* activations live on a grid of ``2**-ACT_FRAC`` and are clamped to ``ACT_BITS`` signed bits,
  re-quantised (``floor(v + 1/2)``, i.e. round-half-up) after every layer;
* the only nonlinearities are ReLU / LeakyReLU with slope 1/8 followed by a floor (exact on
  integers), additions and permutations (pixel shuffle).

Two evaluation modes share the same parameters:

* ``forward(x)`` -- training: float32 on *real* values with straight-through rounding, so the
  quantisation is in the loop;
* inside :func:`float_surrogate`, ``forward`` skips the activation grid (plain float convs
  on the grid weights, plain LeakyReLU): refinement runs 1.45x faster, and its outputs stay
  within a few activation-grid steps of the fake-quantised ones -- for encoder-side latent
  refinement, which only needs the descent direction;
* ``forward_int(x)`` -- inference: float64 tensors holding *integers* (activation units). Every
  product is an integer below ``2**(WEIGHT_BITS-1+ACT_BITS-1)`` and every partial sum is bounded
  by ``fan_in`` times that plus the bias, which the constructors assert to be ``< 2**53``; float64
  represents all those integers exactly, so the result does not depend on summation order, and
  hence not on device, threads, batch size or memory format. On CUDA, cuDNN is switched off for
  these convolutions because some of its algorithms (FFT, Winograd) are not sums of products.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

WEIGHT_FRAC = 10  #: weight grid 2**-10
WEIGHT_BITS = 14  #: signed weight integers in [-2**13, 2**13 - 1] -> real range [-8, 8)
ACT_FRAC = 8  #: activation grid 2**-8
ACT_BITS = 22  #: signed activation integers -> real range [-8192, 8192)
BIAS_BITS = 25  #: biases at scale 2**(WEIGHT_FRAC+ACT_FRAC); 25 bits: float32 holds them exactly
EXACT_LIMIT = 2**53

W_MAX = 2 ** (WEIGHT_BITS - 1) - 1
W_MIN = -(2 ** (WEIGHT_BITS - 1))
A_MAX = 2 ** (ACT_BITS - 1) - 1
A_MIN = -(2 ** (ACT_BITS - 1))
B_MAX = 2 ** (BIAS_BITS - 1) - 1
B_MIN = -(2 ** (BIAS_BITS - 1))
ACC_SHIFT = WEIGHT_FRAC  # accumulator scale 2**(WEIGHT_FRAC+ACT_FRAC) -> activation scale


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """floor(x + 1/2) forward, identity gradient (round-half-up, as the integer path does)."""
    return x + (torch.floor(x + 0.5) - x).detach()


def ste_floor(x: torch.Tensor) -> torch.Tensor:
    """floor(x) forward, identity gradient."""
    return x + (torch.floor(x) - x).detach()


def quantize_act(x: torch.Tensor) -> torch.Tensor:
    """Real activations -> nearest point of the activation grid (clamped), straight-through."""
    s = float(2**ACT_FRAC)
    return torch.clamp(ste_round(x * s), A_MIN, A_MAX) / s


def to_int(x: torch.Tensor) -> torch.Tensor:
    """Real values already on the activation grid -> float64 integer activation units."""
    return torch.clamp(torch.floor(x.double() * 2**ACT_FRAC + 0.5), A_MIN, A_MAX)


_SURROGATE: contextvars.ContextVar[bool] = contextvars.ContextVar("exact_surrogate",
                                                                default=False)


@contextlib.contextmanager
def float_surrogate() -> Iterator[None]:
    """Within this context ``forward`` of every exact module runs the float surrogate."""
    token = _SURROGATE.set(True)
    try:
        yield
    finally:
        _SURROGATE.reset(token)


@contextlib.contextmanager
def _no_cudnn(device: torch.device):
    if device.type == "cuda":
        with torch.backends.cudnn.flags(enabled=False):
            yield
    else:
        yield


class ExactModule(nn.Module):
    """Base: ``forward`` (float32 fake-quant, real units) and ``forward_int`` (float64 ints)."""

    def forward_int(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class ExactConv2d(ExactModule):
    """Conv2d on the fixed-point grid; ``padding = k // 2``, zero padding.

    ``requant=False`` makes ``forward_int`` return the raw accumulator (scale
    ``2**(WEIGHT_FRAC+ACT_FRAC)``) for the last layer of a network, which is rounded by its user.
    """

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1,
                 requant: bool = True) -> None:
        super().__init__()
        self.cin, self.cout, self.k, self.stride, self.requant = cin, cout, k, stride, requant
        fan_in = cin * k * k
        bound = fan_in * 2 ** (WEIGHT_BITS - 1) * 2 ** (ACT_BITS - 1) + 2 ** (BIAS_BITS - 1)
        assert bound < EXACT_LIMIT, f"ExactConv2d({cin},{cout},{k}) could overflow 2**53"
        self.weight = nn.Parameter(torch.empty(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)

    def qweight(self) -> torch.Tensor:
        s = float(2**WEIGHT_FRAC)
        return torch.clamp(ste_round(self.weight * s), W_MIN, W_MAX) / s

    def qbias(self) -> torch.Tensor:
        s = float(2 ** (WEIGHT_FRAC + ACT_FRAC))
        return torch.clamp(ste_round(self.bias * s), B_MIN, B_MAX) / s

    def int_weight(self) -> torch.Tensor:
        """Integer weights (float64), scale 2**WEIGHT_FRAC."""
        w = torch.floor(self.weight.detach().double() * 2**WEIGHT_FRAC + 0.5)
        return torch.clamp(w, W_MIN, W_MAX)

    def int_bias(self) -> torch.Tensor:
        """Integer biases (float64), scale 2**(WEIGHT_FRAC+ACT_FRAC)."""
        b = torch.floor(self.bias.detach().double() * 2 ** (WEIGHT_FRAC + ACT_FRAC) + 0.5)
        return torch.clamp(b, B_MIN, B_MAX)

    def _int_params(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(int_weight, int_bias) on ``device``, remembered while the parameters are
        unchanged (their storage and in-place version counters say so): the decoder calls
        each layer once per slice and scene batch, and re-deriving the integers every time
        cost a few per cent of decoding."""
        key = (device, self.weight.data_ptr(), self.weight._version, self.bias.data_ptr(),
               self.bias._version)
        cached = self.__dict__.get("_int_cache")
        if cached is None or cached[0] != key:
            cached = (key, self.int_weight().to(device), self.int_bias().to(device))
            self.__dict__["_int_cache"] = cached
        return cached[1], cached[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.qweight(), self.qbias(), self.stride, self.k // 2)
        return quantize_act(y) if self.requant and not _SURROGATE.get() else y

    def forward_int(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self._int_params(x.device)
        with _no_cudnn(x.device):
            acc = F.conv2d(x, w, b, self.stride, self.k // 2)
        if not self.requant:
            return acc
        # floor((acc + 2**(s-1)) / 2**s): exact in float64 (power-of-two division)
        out = torch.floor((acc + 2 ** (ACC_SHIFT - 1)) / 2**ACC_SHIFT)
        return torch.clamp(out, A_MIN, A_MAX)


class ExactLeakyReLU(ExactModule):
    """LeakyReLU with slope 1/8; negative outputs floored to the grid (exact on integers)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _SURROGATE.get():
            return F.leaky_relu(x, 0.125)
        s = float(2**ACT_FRAC)
        neg = ste_floor(x * (s / 8)) / s
        return torch.where(x >= 0, x, neg)

    def forward_int(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= 0, x, torch.floor(x / 8))


class ExactPixelShuffle(ExactModule):
    """Pixel shuffle (a permutation, hence exact)."""

    def __init__(self, r: int) -> None:
        super().__init__()
        self.r = r

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(x, self.r)

    def forward_int(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(x, self.r)


class ExactSequential(ExactModule):
    """Sequential container of exact modules."""

    def __init__(self, *mods: ExactModule) -> None:
        super().__init__()
        self.layers = nn.ModuleList(mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.layers:
            x = m(x)
        return x

    def forward_int(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.layers:
            x = m.forward_int(x)
        return x


class ExactResBlock(ExactModule):
    """x + conv(lrelu(conv(lrelu(x)))), clamped to the activation range."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = ExactSequential(ExactLeakyReLU(), ExactConv2d(ch, ch, 3),
                                    ExactLeakyReLU(), ExactConv2d(ch, ch, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = float(2**ACT_FRAC)
        return torch.clamp(x + self.body(x), A_MIN / s, A_MAX / s)

    def forward_int(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x + self.body.forward_int(x), A_MIN, A_MAX)


def exact_upsample(cin: int, cout: int, r: int = 2, requant: bool = True) -> ExactSequential:
    """Conv to ``cout * r * r`` channels, then pixel shuffle by ``r`` (upsampling, exact)."""
    return ExactSequential(ExactConv2d(cin, cout * r * r, 3, requant=requant),
                           ExactPixelShuffle(r))
