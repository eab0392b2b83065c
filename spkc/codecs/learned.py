"""The ``learned`` (default, BiSOAM attention) and ``baseline`` (no attention) scene codecs.

Both wrap the model of :mod:`spkc.models.scene_codec`. Weights ship in ``spkc/weights`` as
``learned-{variant}-{config}-q{quality}-v{n}.safetensors`` (variant ``bisoam`` or ``baseline``),
stored plain or as one zstd frame (the same name + ``.zst``, so that the package keeps more
versions within its size budget), and are listed with the SHA-256 of their (decompressed)
content in ``spkc/weights/learned-manifest.json``; the header of every file records
``identity() == {"weights": name, "sha256": ...}`` and :meth:`check_identity` raises
:class:`spkc.errors.MissingWeightsError` naming them when this install lacks them.

Options (stored in the file header): ``config`` (default :attr:`LearnedCodec.default_config`,
"broad"; "compact" weights of earlier versions ship too; "medium", "deep", "wide" and "paper"
have none), ``weights`` (path of a custom weights file, e.g. from
training; default: the shipped one), ``refine`` (steps of encoder-side latent refinement,
default 100; 0 turns it off: about 6x faster encoding, larger files at the same quality -- see
:meth:`~spkc.models.scene_codec.SceneCompressionModel.refine_latents`; the decoder ignores it),
``precision`` ("float32", the default, or "bfloat16": analysis and refinement steps under
bfloat16 autocast, about 3x faster refinement on CPUs with AMX; encoder only, recorded only
when not float32). Runtime-only: ``batch_size`` (scenes per network call, default 4).
``encode`` runs on ``device``; ``decode`` is bit-exact on any device.

Weights versions the package no longer ships (files made with them name them in their header)
are looked up in the directories of ``$SPKC_WEIGHTS_PATH`` (``os.pathsep``-separated; plain or
``.zst``) and accepted when their SHA-256 matches the file's header; every version ever
shipped is in the git history of ``spkc/weights/``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from spkc._util import ZSTD_SUFFIX, read_maybe_zstd, sha256_content
from spkc.codecs.base import EncodeContext, Payloads, SceneCodec
from spkc.errors import (
    CodecUnavailableError,
    InputError,
    MissingWeightsError,
    SceneCorruptError,
)
from spkc.models.config import QUALITY_LAMBDAS
from spkc.models.scene_codec import ENCODER_PRECISIONS, SceneCompressionModel
from spkc.models.weights import safetensors_metadata

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
MANIFEST = "learned-manifest.json"
#: weights version a config without "weights_version" refers to (files made before v2 existed)
WEIGHTS_VERSION = 1
#: environment variable: extra directories searched for weights the package does not ship
WEIGHTS_PATH_ENV = "SPKC_WEIGHTS_PATH"

#: scenes per decoder call on a CPU (measured: 2 is fastest, see LearnedCodec.decode)
CPU_DECODE_BATCH = 2

_MODELS: dict[tuple[str, str, str], SceneCompressionModel] = {}


def extra_weights_dirs() -> list[Path]:
    """The directories of ``$SPKC_WEIGHTS_PATH`` (searched after the package's own)."""
    return [Path(p) for p in os.environ.get(WEIGHTS_PATH_ENV, "").split(os.pathsep) if p]


def _where_to_get(name: str) -> str:
    return (f"put {name} in a directory listed in ${WEIGHTS_PATH_ENV} (every shipped version "
            f"is in the git history of spkc/weights/)")


def load_manifest(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """{weights file name: {"sha256", "config", "attention", "quality", ...}}; {} if absent."""
    p = Path(directory or WEIGHTS_DIR) / MANIFEST
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MissingWeightsError(f"weights manifest is unreadable: {exc}", p) from exc


def find_weights(name: str, directories: Sequence[Path]) -> Path | None:
    """The first file that holds weights ``name`` in ``directories``: ``name`` itself or its
    zstd-compressed ``name.zst``; None if none does."""
    for d in directories:
        for p in (Path(d) / name, Path(d) / (name + ZSTD_SUFFIX)):
            if p.is_file():
                return p
    return None


def shipped_weights_path(name: str) -> Path:
    """Where the package stores weights ``name`` (plain or ``.zst``); the plain path when it
    has neither."""
    return find_weights(name, [WEIGHTS_DIR]) or Path(WEIGHTS_DIR) / name


def weights_version_of(name: str) -> int:
    """The version ``n`` in a weights name ``learned-...-v{n}.safetensors``."""
    return int(name.removesuffix(".safetensors").rsplit("-v", 1)[1])


def newest_shipped_weights(variant: str, config: str, quality: int) -> str | None:
    """Name of the highest weights version the package ships for (variant, config, quality),
    or None (e.g. "compact" weights outlive the default's move to "broad")."""
    names = [n for n, e in load_manifest().items() if e.get("variant") == variant
             and e.get("config") == config and e.get("quality") == quality]
    return max(names, key=weights_version_of, default=None)


def write_manifest(directory: Path | None = None, extra: Mapping[str, Mapping] | None = None
                   ) -> dict[str, dict[str, Any]]:
    """(Re)write the manifest from the ``learned-*.safetensors`` files (plain or ``.zst``)
    present in ``directory``. Keys are the plain names; ``sha256`` and ``bytes`` describe the
    content, ``stored``/``stored_bytes`` the file on disk."""
    directory = Path(directory or WEIGHTS_DIR)
    man: dict[str, dict[str, Any]] = {}
    files = [*directory.glob("learned-*.safetensors"),
             *directory.glob("learned-*.safetensors" + ZSTD_SUFFIX)]
    for f in sorted(files):
        name = f.name.removesuffix(ZSTD_SUFFIX)
        if name in man:
            raise InputError(f"{directory}: {name} is stored both plain and compressed")
        data = read_maybe_zstd(f)
        meta = safetensors_metadata(data)
        parts = name.removesuffix(".safetensors").split("-")  # learned, variant, config, qN, vN
        man[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                     "stored": f.name, "stored_bytes": f.stat().st_size,
                     "variant": parts[1], "config": parts[2], "quality": int(parts[3][1:]),
                     "attention": meta.get("attention"), **dict((extra or {}).get(name, {}))}
    (directory / MANIFEST).write_text(json.dumps(man, indent=1, sort_keys=True) + "\n")
    return man


class LearnedCodec(SceneCodec):
    """Learned scene codec with BiSOAM feature attention (the default codec)."""

    name: ClassVar[str] = "learned"
    version: ClassVar[str] = "1"
    qualities: ClassVar[tuple[int, ...]] = (1, 2, 3, 4)
    default_quality: ClassVar[int] = 3
    wants_spike_context: ClassVar[int] = 8
    attention: ClassVar[str | None] = "bisoam"
    variant: ClassVar[str] = "bisoam"
    #: weights version new files are encoded with; older versions stay installed so that
    #: files made with them still decode (their config records the version)
    latest_weights_version: ClassVar[int] = 6
    #: network config new files are encoded with (files record theirs)
    default_config: ClassVar[str] = "broad"
    #: encoder-side latent refinement steps new files are encoded with
    default_refine: ClassVar[int] = 100

    def __init__(self, quality: int | None = None, device: str = "cpu",
                 config: str | None = None, weights: str | None = None,
                 batch_size: int = 4, weights_version: int | None = None,
                 refine: int | None = None, precision: str = "float32",
                 **options: Any) -> None:
        wv = self.latest_weights_version if weights_version is None else weights_version
        if isinstance(wv, bool) or not isinstance(wv, int) or not 1 <= wv <= 999:
            raise InputError(f"codec {self.name!r}: weights_version must be an integer "
                             f"1..999, got {weights_version!r}")
        rs = self.default_refine if refine is None else refine
        if isinstance(rs, bool) or not isinstance(rs, int) or not 0 <= rs <= 100_000:
            raise InputError(f"codec {self.name!r}: refine must be an integer 0..100000 "
                             f"(latent refinement steps), got {refine!r}")
        if precision not in ENCODER_PRECISIONS:
            raise InputError(f"codec {self.name!r}: precision must be one of "
                             f"{list(ENCODER_PRECISIONS)}, got {precision!r}")
        opts: dict[str, Any] = {"config": config or self.default_config,
                                "weights_version": wv, "refine": rs, **options}
        if precision != "float32":  # recorded only when used: other files stay as before
            opts["precision"] = precision
        if weights is not None:
            opts["weights"] = str(weights)
        super().__init__(quality=quality, device=device, **opts)
        if self.quality not in self.qualities:
            raise InputError(f"codec {self.name!r} has no quality {self.quality}; choose "
                             f"from {list(self.qualities)}")
        self.batch_size = max(1, int(batch_size))

    @classmethod
    def from_config(cls, config: Mapping[str, Any], device: str = "cpu") -> LearnedCodec:
        cfg = dict(config)
        cfg.setdefault("weights_version", WEIGHTS_VERSION)  # configs from before versioning
        cfg.setdefault("config", "compact")  # the default before "broad" (files record theirs)
        cfg.setdefault("refine", 0)  # files from before latent refinement
        return super().from_config(cfg, device=device)

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        """Runnable when this install ships at least one weights file for the variant."""
        man = load_manifest()
        if any(e.get("variant") == cls.variant for e in man.values()):
            return True, ""
        return False, f"no learned-{cls.variant}-*.safetensors weights installed in {WEIGHTS_DIR}"

    # -- weights ----------------------------------------------------------------------------
    @property
    def weights_name(self) -> str:
        if "weights" in self.options:
            return Path(self.options["weights"]).name
        return (f"learned-{self.variant}-{self.options['config']}-q{self.quality}"
                f"-v{self.options['weights_version']}.safetensors")

    def _weights_path(self) -> Path:
        if "weights" in self.options:
            return Path(self.options["weights"])
        name = self.weights_name
        if name not in load_manifest():  # not shipped: a retired version, maybe kept by the user
            found = find_weights(name, extra_weights_dirs())
            if found is not None:
                return found
        return shipped_weights_path(name)

    def _expected_sha(self) -> str | None:
        entry = None if "weights" in self.options else load_manifest().get(self.weights_name)
        if entry:
            return entry["sha256"]
        # a custom or $SPKC_WEIGHTS_PATH file: the header's SHA-256 (check_identity) vouches
        p = self._weights_path()
        if not p.is_file():
            return None
        try:
            return sha256_content(p)
        except (OSError, ValueError) as exc:
            raise MissingWeightsError(f"cannot read weights {p.name}: {exc}", p) from exc

    def identity(self) -> dict[str, str]:
        sha = self._expected_sha()
        if sha is None:
            raise MissingWeightsError(f"learned weights {self.weights_name} are not installed; "
                                      + _where_to_get(self.weights_name), self._weights_path())
        return {"weights": self.weights_name, "sha256": sha}

    def check_identity(self, identity: Mapping[str, str], path: str | None = None) -> None:
        want_name = identity.get("weights", self.weights_name)
        want_sha = identity.get("sha256")
        have = self._expected_sha() if want_name == self.weights_name else None
        if have is None:
            raise MissingWeightsError(
                f"made with learned weights {want_name} (sha256 {want_sha}), which this "
                f"installation does not have; {_where_to_get(want_name)}", path)
        if want_sha is not None and want_sha != have:
            raise MissingWeightsError(
                f"made with learned weights {want_name} sha256 {want_sha}; this installation "
                f"has a different version (sha256 {have})", path)

    def model(self) -> SceneCompressionModel:
        """The loaded model (cached per process), after verifying the weights' SHA-256."""
        path = self._weights_path()
        key = (self.name, str(path), str(self.options["config"]))
        if key not in _MODELS:
            if not path.is_file():
                raise MissingWeightsError(
                    f"learned weights {self.weights_name} are not installed; "
                    + _where_to_get(self.weights_name), path)
            try:
                data = read_maybe_zstd(path)  # read (and decompressed) once: hash, then load
            except (OSError, ValueError) as exc:
                raise MissingWeightsError(f"cannot read weights {path.name}: {exc}",
                                          path) from exc
            have = hashlib.sha256(data).hexdigest()
            # shipped weights must match the manifest; a custom or $SPKC_WEIGHTS_PATH file is
            # vouched for by the file header's SHA-256 (check_identity)
            entry = None if "weights" in self.options else load_manifest().get(self.weights_name)
            if entry is not None and entry["sha256"] != have:
                raise MissingWeightsError(
                    f"weights file {path.name} is damaged or unknown: sha256 {have} does not "
                    f"match the manifest ({entry['sha256']})", path)
            m = SceneCompressionModel(self.options["config"], self.attention)
            m.load_weights(path, data=data)
            _MODELS[key] = m.eval()
        return _MODELS[key]

    def _device(self) -> torch.device:
        dev = torch.device(self.device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise CodecUnavailableError(f"codec {self.name!r}: device {self.device} is not "
                                        "available (no CUDA)")
        return dev

    # -- coding -----------------------------------------------------------------------------
    def _context(self, context: EncodeContext | None, n: int, i: int, scenes: np.ndarray):
        if self.attention is None:
            return None, None
        if context is None or context.spikes_before is None:
            raise InputError(f"codec {self.name!r} needs spike context (spikes_before"
                             f"{'/after' if self.attention == 'bisoam' else ''}); "
                             "use --codec baseline for scenes without spikes")
        sb = np.asarray(context.spikes_before[i])
        sa = (np.asarray(context.spikes_after[i])
              if self.attention == "bisoam" and context.spikes_after is not None
              else np.zeros((0, *scenes.shape[1:]), bool))
        for nm, s in (("spikes_before", sb), ("spikes_after", sa)):
            if s.ndim != 3 or s.shape[1:] != scenes.shape[1:]:
                raise InputError(f"{nm}[{i}] has shape {s.shape}; expected (L, "
                                 f"{scenes.shape[1]}, {scenes.shape[2]})")
        return sb, sa

    def encode(self, scenes: np.ndarray, context: EncodeContext | None = None) -> list[Payloads]:
        """Scenes (N, H, W) float32 in [0, 1] (+ spike context for attention) -> payloads."""
        scenes = np.asarray(scenes)
        if scenes.ndim != 3 or scenes.shape[1] < 1 or scenes.shape[2] < 1:
            raise InputError(f"codec {self.name!r}: scenes must be (N, H, W), got "
                             f"{scenes.shape}")
        if scenes.shape[1] > 65535 or scenes.shape[2] > 65535:
            raise InputError(f"codec {self.name!r}: scene {scenes.shape[1:]} is too large")
        if not np.all(np.isfinite(scenes)):
            raise InputError(f"codec {self.name!r}: scenes contain NaN or infinity")
        model = self.model()
        dev = self._device()
        model.to(dev)
        x_all = np.clip(scenes.astype(np.float32), 0.0, 1.0)
        ctx = [self._context(context, len(scenes), i, scenes) for i in range(len(scenes))]
        out: list[Payloads] = []
        i = 0
        while i < len(scenes):
            # a batch shares spike-context lengths (the clip edges may have shorter ones)
            lens = (None if ctx[i][0] is None else (len(ctx[i][0]), len(ctx[i][1])))
            j = i + 1
            while (j < len(scenes) and j - i < self.batch_size and
                   (None if ctx[j][0] is None else (len(ctx[j][0]), len(ctx[j][1]))) == lens):
                j += 1
            x = torch.from_numpy(x_all[i:j, None]).to(dev)
            sb = sa = None
            if lens is not None:
                sb = torch.from_numpy(np.stack([c[0] for c in ctx[i:j]])).to(dev).float()
                sa = torch.from_numpy(np.stack([c[1] for c in ctx[i:j]])).to(dev).float()
            out.extend(model.compress(x, sb, sa, refine_steps=self.options["refine"],
                                      lam=QUALITY_LAMBDAS[self.quality],
                                      precision=self.options.get("precision", "float32")))
            i = j
        return out

    def decode(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """Payload sets -> scenes (N, H, W) float32 in [0, 1], bit-exact on any device."""
        model = self.model()
        dev = self._device()
        model.to(dev)
        res = []
        # the float64 integer networks run ~1.3x faster per scene in pairs than in fours on a
        # CPU (their activations stay in cache; docs/speed.md); the result is the same for
        # any batch, so the batch is only a matter of speed
        step = min(self.batch_size, CPU_DECODE_BATCH) if dev.type == "cpu" else self.batch_size
        for i in range(0, len(payloads), step):
            try:
                x = model.decompress(payloads[i:i + step], device=dev)
            except SceneCorruptError as exc:
                raise SceneCorruptError(exc.problem, exc.path, scene=i + (exc.scene or 0)) \
                    from exc
            except InputError as exc:
                raise SceneCorruptError(exc.problem, exc.path, scene=i) from exc
            if tuple(x.shape[-2:]) != tuple(shape):
                raise SceneCorruptError(f"scene payload is for {tuple(x.shape[-2:])}, the "
                                        f"file says {tuple(shape)}", scene=i)
            res.append(x[:, 0].numpy())
        if not res:
            return np.zeros((0, *shape), np.float32)
        return np.concatenate(res).astype(np.float32)


class BaselineCodec(LearnedCodec):
    """The same learned codec without spike attention (no spike context needed)."""

    name: ClassVar[str] = "baseline"
    wants_spike_context: ClassVar[int] = 0
    attention: ClassVar[str | None] = None
    variant: ClassVar[str] = "baseline"
    latest_weights_version: ClassVar[int] = 4
