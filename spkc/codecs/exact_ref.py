"""Pure-Python reference of the ``exact`` block bitstream, version 1 (spec/exact.md).

Written for clarity, not speed (tens of thousands of binary decisions per second): the tests
cross-check it against the compiled kernel ``spkc/codecs/_exact.c`` on small blocks, and it is
the fallback when the kernel is not built. Both take and return the *model-coded body* of a
block (after the method byte, see :mod:`spkc.codecs.exact`).
"""

from __future__ import annotations

import numpy as np

# -- model constants (spec/exact.md section 3) ---------------------------------------------------
NB = 24      # buckets of a predicted interval
NC = 6       # delta classes: -2..2 -> 0..4, 5 = no value
KU = 6       # unary magnitude steps before the escape
NG = 24      # Elias-gamma prefix contexts
LIMIT = 30   # adaptation rate settles at 1/(LIMIT + 2)
PMIN, PMAX = 32, 65536 - 32
G_FULL = NB * NC * NC * NC
G_NOP = 2 * 3 * NB * NC
NGROUP = G_FULL + G_NOP
NMAG = 3 * NB * 2 * KU
NESC = 2 * NG
NEND = 3 * 16 * NB
RECIP = [65536 // (n + 2) for n in range(LIMIT + 1)]
MAX_GAMMA_BITS = 17


class Corrupt(ValueError):
    """The bytes do not decode to a valid block."""


class _Model:
    """Probabilities P(bit = 0) * 65536 and adaptation counts of every context."""

    def __init__(self) -> None:
        n = 2 * NGROUP + NMAG + NESC + NEND
        self.p = [32768] * n
        self.n = [0] * n

    def update(self, i: int, bit: int) -> None:
        r = RECIP[self.n[i]]
        p = self.p[i]
        if bit:
            p -= (p * r) >> 16
        else:
            p += ((65536 - p) * r) >> 16
        self.p[i] = min(max(p, PMIN), PMAX)
        if self.n[i] < LIMIT:
            self.n[i] += 1


FIRST, SIGN, MAG, ESC = 0, NGROUP, 2 * NGROUP, 2 * NGROUP + NMAG
END = ESC + NESC


class _Encoder:
    """LZMA's range encoder with 16-bit probabilities."""

    def __init__(self) -> None:
        self.low = 0
        self.range = 0xFFFFFFFF
        self.cache = 0
        self.cache_size = 1
        self.out = bytearray()

    def _shift_low(self) -> None:
        if self.low < 0xFF000000 or self.low >= 1 << 32:
            carry = self.low >> 32
            temp = self.cache
            while True:
                self.out.append((temp + carry) & 0xFF)
                temp = 0xFF
                self.cache_size -= 1
                if self.cache_size == 0:
                    break
            self.cache = (self.low >> 24) & 0xFF
        self.cache_size += 1
        self.low = (self.low & 0x00FFFFFF) << 8

    def _code(self, bit: int, p: int) -> None:
        bound = (self.range >> 16) * p
        if bit:
            self.low += bound
            self.range -= bound
        else:
            self.range = bound
        while self.range < 1 << 24:
            self.range = (self.range << 8) & 0xFFFFFFFF
            self._shift_low()

    def bit(self, m: _Model, i: int, bit: int) -> None:
        self._code(bit, m.p[i])
        m.update(i, bit)

    def direct(self, bit: int) -> None:
        self._code(bit, 32768)

    def finish(self) -> bytes:
        for _ in range(5):
            self._shift_low()
        return bytes(self.out)


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.range = 0xFFFFFFFF
        self.code = 0
        for _ in range(5):
            self.code = ((self.code << 8) | self._next()) & 0xFFFFFFFF

    def _next(self) -> int:
        if self.pos < len(self.data):
            self.pos += 1
            return self.data[self.pos - 1]
        return 0  # reading past the end yields zero bytes

    def _code(self, p: int) -> int:
        bound = (self.range >> 16) * p
        if self.code < bound:
            self.range = bound
            bit = 0
        else:
            self.code -= bound
            self.range -= bound
            bit = 1
        while self.range < 1 << 24:
            self.range = (self.range << 8) & 0xFFFFFFFF
            self.code = ((self.code << 8) | self._next()) & 0xFFFFFFFF
        return bit

    def bit(self, m: _Model, i: int) -> int:
        b = self._code(m.p[i])
        m.update(i, b)
        return b

    def direct(self) -> int:
        return self._code(32768)


# -- contexts (spec/exact.md section 3.2) --------------------------------------------------------
def bucket(v: int) -> int:
    if v < 16:
        return max(v, 0)
    return min(12 + v.bit_length() - 1, NB - 1)


def dclass(v: int, has: bool) -> int:
    return min(max(v, -2), 2) + 2 if has else 5


def neigh(a: list[int], j: list[int], t: int) -> int:
    """Neighbour interval around time t (0 = none); ``j[0]`` is a forward-only cursor."""
    na = len(a)
    if na < 2:
        return 0
    while j[0] + 1 < na and a[j[0] + 1] <= t:
        j[0] += 1
    if j[0] + 1 < na:
        return a[j[0] + 1] - a[j[0]]
    return a[j[0]] - a[j[0] - 1]


def contexts(B: int, t: int, k: int, P1: int, P2: int, Na: int, Nl: int) -> tuple[int, int, int]:
    """-> (prediction p, group g, magnitude group mg)."""
    if P1:
        b = bucket(P1)
        g = ((b * NC + dclass(P2 - P1, P2 != 0)) * NC + dclass(Na - P1, Na != 0)) * NC \
            + dclass(Nl - P1, Nl != 0)
        return P1, g, b
    if Na:
        p, src, q = Na, 0, dclass(Nl - Na, Nl != 0)
    elif Nl:
        p, src, q = Nl, 1, 5
    else:
        p, src, q = B - t, 2, 5
    b = bucket(p)
    mode = 0 if k == 0 else 1
    return p, G_FULL + ((mode * 3 + src) * NB + b) * NC + q, (1 + mode) * NB + b


def end_ctx(rem: int, p: int, P1: int, k: int) -> int:
    """Context of the "no further spike in this block" decision, or -1 when it is not coded
    (the remaining ``rem`` frames exceed about 1.5 predicted intervals)."""
    if 2 * rem > 3 * p + 4:
        return -1
    cs = 0 if P1 else (1 if k == 0 else 2)
    return (cs * 16 + min(8 * rem // p, 15)) * NB + bucket(p)


def _encode_value(e: _Encoder, m: _Model, g: int, mg: int, d: int) -> None:
    e.bit(m, FIRST + g, int(d != 0))
    if d == 0:
        return
    s = int(d > 0)
    e.bit(m, SIGN + g, s)
    a = abs(d) - 1
    base = MAG + (mg * 2 + s) * KU
    for i in range(KU):
        more = int(a > i)
        e.bit(m, base + i, more)
        if not more:
            return
    v = a - KU + 1
    nbits = v.bit_length()
    ec = ESC + s * NG
    for i in range(nbits - 1):
        e.bit(m, ec + min(i, NG - 1), 1)
    e.bit(m, ec + min(nbits - 1, NG - 1), 0)
    for i in range(nbits - 2, -1, -1):
        e.direct((v >> i) & 1)


def _decode_value(dc: _Decoder, m: _Model, g: int, mg: int) -> int:
    if not dc.bit(m, FIRST + g):
        return 0
    s = dc.bit(m, SIGN + g)
    base = MAG + (mg * 2 + s) * KU
    a = 0
    while a < KU and dc.bit(m, base + a):
        a += 1
    if a == KU:
        ec = ESC + s * NG
        nbits = 1
        while dc.bit(m, ec + min(nbits - 1, NG - 1)):
            nbits += 1
            if nbits > MAX_GAMMA_BITS:
                raise Corrupt("interval escape code too long")
        v = 1
        for _ in range(nbits - 1):
            v = (v << 1) | dc.direct()
        a = KU + v - 1
    return a + 1 if s else -(a + 1)


def _spike_lists(spikes: np.ndarray) -> list[list[list[int]]]:
    """(B, H, W) bool -> per row, per pixel, sorted spike frame indices."""
    B, H, W = spikes.shape
    t, y, x = np.nonzero(spikes)
    order = np.lexsort((t, x, y))
    rows: list[list[list[int]]] = [[[] for _ in range(W)] for _ in range(H)]
    for ti, yi, xi in zip(t[order].tolist(), y[order].tolist(), x[order].tolist(), strict=True):
        rows[yi][xi].append(ti)
    return rows


def encode_block(spikes: np.ndarray) -> bytes:
    """Model-coded body of one block: spikes (B, H, W) bool -> bytes."""
    B, H, W = (int(v) for v in spikes.shape)
    rows = _spike_lists(np.asarray(spikes, bool))
    m, e = _Model(), _Encoder()
    for y in range(H):
        for x in range(W):
            own = rows[y][x]
            above = rows[y - 1][x] if y > 0 else []
            left = rows[y][x - 1] if x > 0 else []
            ja, jl = [0], [0]
            t, P1, P2 = -1, 0, 0
            for k in range(len(own) + 1):
                Na, Nl = neigh(above, ja, t), neigh(left, jl, t)
                p, g, mg = contexts(B, t, k, P1, P2, Na, Nl)
                tn = own[k] if k < len(own) else B
                interval = tn - t
                ec = end_ctx(B - t, p, P1, k)
                if ec >= 0:
                    e.bit(m, END + ec, int(tn == B))
                    if tn == B:
                        break
                _encode_value(e, m, g, mg, interval - p)
                if k > 0:
                    P1, P2 = interval, P1
                t = tn
    return e.finish()


def decode_block(data: bytes, shape: tuple[int, int, int]) -> np.ndarray:
    """Model-coded body -> spikes (B, H, W) bool; raises :class:`Corrupt` on invalid data."""
    B, H, W = (int(v) for v in shape)
    out = np.zeros((B, H, W), bool)
    m, dc = _Model(), _Decoder(bytes(data))
    prev_row: list[list[int]] = [[] for _ in range(W)]
    for y in range(H):
        row: list[list[int]] = []
        for x in range(W):
            above = prev_row[x] if y > 0 else []
            left = row[x - 1] if x > 0 else []
            ja, jl = [0], [0]
            t, P1, P2, own = -1, 0, 0, []
            while True:
                Na, Nl = neigh(above, ja, t), neigh(left, jl, t)
                p, g, mg = contexts(B, t, len(own), P1, P2, Na, Nl)
                ec = end_ctx(B - t, p, P1, len(own))
                if ec >= 0 and dc.bit(m, END + ec):
                    break
                interval = p + _decode_value(dc, m, g, mg)
                if not 1 <= interval <= B - t - (ec >= 0):
                    raise Corrupt(f"invalid interval at pixel (row {y}, column {x})")
                tn = t + interval
                if tn == B:
                    break
                if own:
                    P1, P2 = interval, P1
                own.append(tn)
                t = tn
            row.append(own)
            if own:
                out[own, y, x] = True
        prev_row = row
    return out
