"""Which (codec, quality) runs ``spkc eval`` can make here, and why the others are skipped.

Split from :mod:`spkc.eval.engine` (re-exported there and as ``spkc.eval.plan_runs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spkc.errors import CodecUnavailableError, UnknownCodecError

__all__ = ["plan_runs"]


def plan_runs(codecs: Sequence[str] | None, qualities: Sequence[int] | None
              ) -> tuple[list[tuple[str, int]], list[dict[str, Any]]]:
    """(runs, skipped): the (codec, quality) pairs that can run here, and those that cannot.

    ``codecs`` None means every registered codec but the slow ones (a codec class with
    ``slow = True``, e.g. the VTM reference encoder: skipped with that reason unless named);
    ``qualities`` None means each codec's own
    ``qualities``. A name that is not registered at all raises UnknownCodecError (a typo is a
    user error); a registered codec that cannot run here is skipped with its reason.
    """
    from spkc.codecs import codec_names, get_codec_class

    names = list(codecs) if codecs else codec_names()
    known = set(codec_names())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownCodecError(f"unknown codec(s) {', '.join(unknown)}; known codecs: "
                                f"{', '.join(sorted(known))}")
    runs: list[tuple[str, int]] = []
    skipped: list[dict[str, Any]] = []
    for name in dict.fromkeys(names):
        try:
            cls = get_codec_class(name)
            ok, reason = cls.availability()
        except CodecUnavailableError as exc:
            ok, reason, cls = False, exc.problem, None
        if ok and getattr(cls, "kind", "scene") == "stream":  # lossless: no rate-distortion
            skipped.append({"codec": name, "quality": None,
                            "reason": "lossless spike-stream codec: measured by "
                                      "tools/bench_lossless.py, not by eval"})
            continue
        if ok and not codecs and getattr(cls, "slow", False):
            skipped.append({"codec": name, "quality": None,
                            "reason": f"slow: runs only when named (--codecs {name})"})
            continue
        if ok and hasattr(cls, "encode_availability"):  # e.g. vtm with only a decoder
            ok, reason = cls.encode_availability()
        if not ok:
            skipped.append({"codec": name, "quality": None, "reason": reason or "unavailable"})
            continue
        own = tuple(int(q) for q in cls.qualities)
        wanted = own if qualities is None else tuple(int(q) for q in qualities)
        for q in wanted:
            if q in own:
                runs.append((name, q))
            else:
                skipped.append({"codec": name, "quality": q,
                                "reason": f"no quality {q}; {name} has {list(own)}"})
    return runs, skipped
