"""Groups of scenes: inter-coded scenes on the encoder and decoder side.

A file with ``group_length`` G > 1 (format 1.1) codes its scenes in groups: scenes
``[g*G, min((g+1)*G, N))`` form group g, whose first scene (the *key scene*) decodes alone and
whose scene j may be predicted from the decoded scenes before it in the group. G = 1 is the
all-intra layout of format 1.0, decoded by the per-scene path as before.

Encoder: :class:`GroupEncoder` collects reconstructed scenes batch by batch and codes each
group when it is complete, so memory holds at most one group of scenes (plus a batch).
Decoder: :func:`decode_prefix` decodes a group from its key scene up to a scene and tells
which scene, if any, failed; :func:`group_request` says which scenes to decode for a request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spkc.codecs.base import EncodeContext, InterSceneCodec, Payloads, SceneCodec
from spkc.errors import SceneCorruptError, SpkcError


def group_length_of(codec: SceneCodec) -> int:
    """Scenes per group a codec codes: its ``group_length`` for inter codecs, else 1."""
    return codec.group_length if isinstance(codec, InterSceneCodec) else 1


def _as_list(x: Sequence[np.ndarray] | np.ndarray | None, n: int) -> list | None:
    if x is None:
        return None
    out = list(x)
    if len(out) != n:
        raise ValueError(f"spike context holds {len(out)} entries for {n} scenes")
    return out


class GroupEncoder:
    """Codes scenes in groups of ``codec.group_length`` as batches of scenes arrive.

    :meth:`add` takes a batch (scenes (N, H, W) float32 in [0, 1], their frame counts and
    encoder context) and returns the ``(payloads, frames)`` of every group it completed, in
    scene order; :meth:`finish` codes the last, shorter group. Scenes wait at most one group.
    """

    def __init__(self, codec: InterSceneCodec) -> None:
        self.codec = codec
        self.group_length = codec.group_length
        self._scenes: list[np.ndarray] = []
        self._counts: list[int] = []
        self._before: list | None = None
        self._after: list | None = None
        self._device = "cpu"
        #: payload bytes of key scenes and of predicted scenes so far (statistics)
        self.key_bytes = 0
        self.inter_bytes = 0

    def add(self, scenes: np.ndarray, counts: Iterable[int],
            context: EncodeContext | None = None) -> list[tuple[Payloads, int]]:
        counts = [int(c) for c in counts]
        n = len(counts)
        before = _as_list(context.spikes_before, n) if context is not None else None
        after = _as_list(context.spikes_after, n) if context is not None else None
        if context is not None:
            self._device = context.device
        out: list[tuple[Payloads, int]] = []
        for i in range(n):
            self._scenes.append(np.asarray(scenes[i], np.float32))
            self._counts.append(counts[i])
            if before is not None:
                self._before = (self._before or []) + [before[i]]
            if after is not None:
                self._after = (self._after or []) + [after[i]]
            if len(self._scenes) == self.group_length:
                out.extend(self._code())
        return out

    def finish(self) -> list[tuple[Payloads, int]]:
        """Code the scenes still waiting (a last group shorter than ``group_length``)."""
        return self._code() if self._scenes else []

    def _code(self) -> list[tuple[Payloads, int]]:
        ctx = EncodeContext(spikes_before=self._before, spikes_after=self._after,
                            device=self._device)
        payloads = self.codec.encode_group(np.stack(self._scenes), ctx)
        if len(payloads) != len(self._scenes):
            raise SpkcError(f"codec {self.codec.name!r} returned {len(payloads)} payload sets "
                            f"for a group of {len(self._scenes)} scenes")
        sizes = [sum(len(v) for v in p.values()) for p in payloads]
        self.key_bytes += sizes[0]
        self.inter_bytes += sum(sizes[1:])
        out = list(zip(payloads, self._counts, strict=True))
        self._scenes, self._counts, self._before, self._after = [], [], None, None
        return out


@dataclass
class PrefixResult:
    """Scenes ``first .. first+len(scenes)-1`` of a group decoded; ``error`` for scene
    ``first + len(scenes)`` (and every later scene of the group) when the prefix stopped."""

    first: int
    scenes: list[np.ndarray]
    error: SceneCorruptError | None = None


def decode_prefix(codec: InterSceneCodec, payloads: Callable[[int], Payloads], first: int,
                  last: int, shape: tuple[int, int]) -> PrefixResult:
    """Decode scenes ``first..last`` (``first`` a key scene) of one group.

    ``payloads(k)`` reads scene k's payload set (raising SceneCorruptError for a damaged
    chunk). A scene that fails takes every later scene of its group with it: their
    references are lost. Returns what decoded and the error of the first scene that did not.
    """
    sets: list[Payloads] = []
    error: SceneCorruptError | None = None
    for k in range(first, last + 1):
        try:
            sets.append(payloads(k))
        except SceneCorruptError as exc:
            error = exc
            break
    while sets:
        try:
            scenes = np.asarray(codec.decode_group(sets, shape), np.float32)
            if scenes.shape != (len(sets), *shape):
                raise SceneCorruptError(f"group decoded to shape {scenes.shape}, "
                                        f"expected {(len(sets), *shape)}")
            if not np.isfinite(scenes).all():
                raise SceneCorruptError("decoded scene holds NaN or infinite values")
            return PrefixResult(first, list(scenes), error)
        except Exception as exc:
            j = getattr(exc, "scene", None)
            # a codec that cannot say which scene failed: drop the last one and retry
            bad = j if isinstance(j, int) and 0 <= j < len(sets) else len(sets) - 1
            if isinstance(exc, SpkcError):
                err = SceneCorruptError(exc.problem)
            else:  # a plugin failing on damaged data must not leak an internal exception
                err = SceneCorruptError(f"codec {codec.name!r} failed: "
                                        f"{type(exc).__name__}: {exc}")
            error = err
            sets = sets[:bad]
    return PrefixResult(first, [], error)


def group_request(ks: Iterable[int], group_length: int, num_scenes: int) -> list[tuple[int, int]]:
    """(first, last) scene ranges to decode so that every scene in ``ks`` is decoded.

    A group whose only wanted scene is its key scene decodes just that scene; otherwise the
    group decodes from its key scene to its end, so reading a group front to back decodes
    each of its scenes once. Hence one scene's random access decodes at most G scenes and a
    frame's (which may need the scene before and after) at most G + 1.
    """
    wanted: dict[int, set[int]] = {}
    for k in ks:
        wanted.setdefault(int(k) // group_length, set()).add(int(k))
    out = []
    for g in sorted(wanted):
        first = g * group_length
        if wanted[g] == {first}:
            out.append((first, first))
        else:
            out.append((first, min(first + group_length, num_scenes) - 1))
    return out


def check_group_codec(group_length: int, codec: SceneCodec, path: str) -> None:
    """The header's group length must be the one the codec's recorded config codes."""
    from spkc.errors import CorruptFileError

    if group_length_of(codec) != group_length:
        raise CorruptFileError(f"header says {group_length} scenes per group, codec "
                               f"{codec.name!r} is configured for {group_length_of(codec)}",
                               path)


class GroupDecoding:
    """Decoding of files with groups (G > 1), mixed into :class:`spkc.pipeline.Clip`.

    Uses the clip's ``_codec``, ``_reader``, ``_split``, ``_cache``/``_store``, ``concealed``,
    ``_stand_in``, ``conceal``, ``stats``, ``path``, ``shape`` and ``num_scenes``.
    """

    # provided by Clip
    _group: int
    _codec: InterSceneCodec
    _reader: Any
    _cache: dict[int, np.ndarray]
    concealed: dict[int, tuple[str, int]]
    conceal: bool
    stats: Any
    path: str
    shape: tuple[int, int, int]
    num_scenes: int
    _store: Callable[[int, np.ndarray], None]
    _stand_in: Callable[[int], int]
    #: scene k's codec payloads (reserved ``~`` payloads such as motion side information removed)
    _split: Callable[[int], dict[str, bytes]]

    def _prefix(self, first: int, last: int) -> PrefixResult:
        res = decode_prefix(self._codec, self._split, first, last,
                            self.shape[1:])
        self.stats.decode_calls += 1
        for i, scene in enumerate(res.scenes):
            if first + i not in self._cache:
                self._store(first + i, scene)
        return res

    def _group_error(self, k: int, res: PrefixResult) -> SceneCorruptError:
        f = res.first + len(res.scenes)
        problem = res.error.problem if res.error is not None else "does not decode"
        if k != f:
            problem = f"its reference scene {f} does not decode ({problem})"
        return SceneCorruptError(f"scene {k}: {problem}", self.path, scene=k)

    def _decode_grouped(self, ks: list[int]) -> None:
        todo = [k for k in ks if k not in self._cache
                and k not in self.concealed]
        if not todo:
            return
        for first, last in group_request(todo, self._group, self.num_scenes):
            res = self._prefix(first, last)
            failed = [k for k in todo if first + len(res.scenes) <= k <= last]
            if not failed:
                continue
            if not self.conceal:
                raise self._group_error(failed[0], res)
            for k in failed:
                self.concealed[k] = (self._group_error(k, res).problem,
                                     self._stand_in(k))

    def _try_decode_grouped(self, j: int) -> bool:
        """Decode scene j (from its key scene) into the cache; False when it does not decode."""
        first = j - j % self._group
        return first + len(self._prefix(first, j).scenes) > j

    def _verify_groups(self, known_bad: dict[int, str]) -> dict[int, str]:
        """{scene: why} for every scene that does not decode, group by group."""
        bad: dict[int, str] = {}
        n = self.num_scenes
        for first in range(0, n, self._group):
            last = min(first + self._group, n) - 1
            res = decode_prefix(self._codec, self._split, first, last,
                                self.shape[1:])
            for k in range(first + len(res.scenes), last + 1):
                if k not in known_bad:
                    bad[k] = self._group_error(k, res).problem.split(": ", 1)[1]
        return bad
