"""``vtm``: adapter for the VVC reference software (VTM EncoderApp / DecoderApp binaries).

The binaries are looked up in ``$SPKC_VTM_DIR/bin``, ``$SPKC_VTM_DIR`` and then ``PATH``
(names ``EncoderApp``/``EncoderAppStatic``, ``DecoderApp``/``DecoderAppStatic``). Each scene is
written as a one-frame 4:0:0 YUV file (8-bit samples, or 16-bit little-endian words for 10-bit),
edge-padded to a multiple of 8, coded with the all-intra configuration, and the bitstream file
is the payload (``{"img": CRC-32C (4 bytes LE) + VVC bitstream}``): every scene decodes alone.

Encoder command (modelled on CompressAI's VTM benchmark wrapper)::

    EncoderApp -c <cfg> -i in.yuv -b out.bin -o "" --SourceWidth=W --SourceHeight=H
        --FramesToBeEncoded=1 --FrameRate=1 --InputChromaFormat=400 --ChromaFormatIDC=400
        --InputBitDepth=B --InternalBitDepth=B --OutputBitDepth=B --ConformanceWindowMode=1
        --QP=<qp>

Decoder command: ``DecoderApp -b in.bin -o rec.yuv -d B``.

The configuration file is option ``config_file``, else ``$SPKC_VTM_DIR/cfg/
encoder_intra_vtm.cfg``, else ``cfg/encoder_intra_vtm.cfg`` beside the binary's ``bin/`` folder.
Decoding needs no configuration.

Quality -> QP (lower QP = more bits): 1..8 -> 44, 40, 36, 32, 28, 24, 20, 16 (as ``hevc``).
Options: ``bit_depth`` 8 | 10 (default 10), ``qp`` (0..63, overrides the table),
``config_file``, ``jobs`` (encoder processes run at once, default: CPU count),
``timeout`` (seconds per encoder/decoder run, default 600).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spkc.codecs._image import (
    check_plane,
    check_scenes,
    check_shape,
    corrupt,
    from_uint,
    get_payload,
    option_choice,
    option_number,
    pad_plane,
    padded_size,
    quality_setting,
    seal,
    to_uint,
    uint_dtype,
    unseal,
)
from spkc.codecs.base import EncodeContext, Payloads, SceneCodec
from spkc.errors import CodecUnavailableError, InputError

QP_FOR_QUALITY = {1: 44, 2: 40, 3: 36, 4: 32, 5: 28, 6: 24, 7: 20, 8: 16}
ENV_DIR = "SPKC_VTM_DIR"
ENCODER_NAMES = ("EncoderApp", "EncoderAppStatic")
DECODER_NAMES = ("DecoderApp", "DecoderAppStatic")
INTRA_CFG = "encoder_intra_vtm.cfg"
_BLOCK = 8


def find_binary(names: Sequence[str]) -> Path | None:
    """First executable of ``names`` in $SPKC_VTM_DIR/bin, $SPKC_VTM_DIR, then PATH."""
    root = os.environ.get(ENV_DIR)
    dirs = [Path(root) / "bin", Path(root)] if root else []
    for name in names:
        for d in dirs:
            cand = d / name
            if cand.is_file() and os.access(cand, os.X_OK):
                return cand
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def find_config(encoder: Path | None) -> Path | None:
    """The intra configuration: $SPKC_VTM_DIR/cfg, else cfg/ beside the encoder's bin/."""
    cands = []
    root = os.environ.get(ENV_DIR)
    if root:
        cands.append(Path(root) / "cfg" / INTRA_CFG)
    if encoder is not None:
        cands += [encoder.parent.parent / "cfg" / INTRA_CFG, encoder.parent / "cfg" / INTRA_CFG]
    return next((c for c in cands if c.is_file()), None)


def write_yuv400(path: Path, plane: np.ndarray, bits: int) -> None:
    """Write one (H, W) luma plane as raw 4:0:0 YUV: uint8, or uint16 LE when bits > 8."""
    plane.astype(np.dtype(uint_dtype(bits)).newbyteorder("<")).tofile(path)


def read_yuv400(path: Path, shape: tuple[int, int], bits: int) -> np.ndarray:
    """Read the first (H, W) luma plane of a raw YUV file written with ``bits``-bit samples.

    A 4:0:0 file holds only luma; some DecoderApp builds write 4:2:0 with constant chroma, so a
    file longer than one plane is accepted and its luma (stored first) is taken.
    """
    dtype = np.dtype(uint_dtype(bits)).newbyteorder("<")
    n = shape[0] * shape[1]
    data = np.fromfile(path, dtype=dtype)
    if data.size < n:
        raise ValueError(f"{path.name} holds {data.size} samples, expected at least {n}")
    return data[:n].reshape(shape).astype(uint_dtype(bits))


def _tail(text: bytes, lines: int = 3) -> str:
    out = text.decode("utf-8", "replace").strip().splitlines()[-lines:]
    return " | ".join(s.strip() for s in out)


class VtmCodec(SceneCodec):
    """VVC intra coding of each scene with the VTM reference encoder and decoder binaries."""

    name: ClassVar[str] = "vtm"
    version: ClassVar[str] = "1"
    qualities: ClassVar[tuple[int, ...]] = tuple(QP_FOR_QUALITY)
    default_quality: ClassVar[int] = 4
    #: the reference encoder takes seconds per scene: ``spkc eval`` runs it only when named
    slow: ClassVar[bool] = True

    def __init__(self, quality: int | None = None, device: str = "cpu", **options: Any) -> None:
        super().__init__(quality, device, **options)
        self.bit_depth: int = option_choice("vtm", options, "bit_depth", (8, 10), 10)
        self.qp: int = quality_setting("vtm", options, "qp", QP_FOR_QUALITY, self.quality,
                                       lo=0, hi=63, integer=True)
        self.jobs: int = option_number("vtm", options, "jobs", os.cpu_count() or 1, lo=1,
                                       integer=True)
        self.timeout: float = float(option_number("vtm", options, "timeout", 600, lo=0,
                                                  lo_open=True))
        cfg = options.get("config_file")
        self.config_file: Path | None = Path(cfg) if cfg is not None else None

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        if find_binary(ENCODER_NAMES) is None:
            return False, f"EncoderApp not found; set {ENV_DIR}"
        if find_binary(DECODER_NAMES) is None:
            return False, f"DecoderApp not found; set {ENV_DIR}"
        return True, ""

    # -- command lines ------------------------------------------------------------------------
    def encoder_command(self, encoder: Path, cfg: Path, yuv: Path, bitstream: Path,
                        shape: tuple[int, int]) -> list[str]:
        """EncoderApp argument list for one padded (H, W) 4:0:0 frame."""
        h, w = shape
        b = self.bit_depth
        return [
            str(encoder), "-c", str(cfg), "-i", str(yuv), "-b", str(bitstream), "-o", "",
            f"--SourceWidth={w}", f"--SourceHeight={h}", "--FramesToBeEncoded=1",
            "--FrameRate=1", "--InputChromaFormat=400", "--ChromaFormatIDC=400",
            f"--InputBitDepth={b}", f"--InternalBitDepth={b}", f"--OutputBitDepth={b}",
            "--ConformanceWindowMode=1", f"--QP={self.qp}",
        ]

    def decoder_command(self, decoder: Path, bitstream: Path, recon: Path) -> list[str]:
        """DecoderApp argument list writing ``recon`` at this codec's bit depth."""
        return [str(decoder), "-b", str(bitstream), "-o", str(recon), "-d", str(self.bit_depth)]

    def _config(self, encoder: Path) -> Path:
        if self.config_file is not None:
            if not self.config_file.is_file():
                raise InputError(f"vtm: configuration file {self.config_file} does not exist")
            return self.config_file
        cfg = find_config(encoder)
        if cfg is None:
            raise CodecUnavailableError(
                f"vtm: {INTRA_CFG} not found in ${ENV_DIR}/cfg or beside {encoder}; "
                "pass option config_file")
        return cfg

    def _run(self, cmd: list[str], what: str) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(cmd, capture_output=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise CodecUnavailableError(f"vtm: {what} ran longer than {self.timeout:g} s") \
                from exc
        except OSError as exc:
            raise CodecUnavailableError(f"vtm: cannot run {what} {cmd[0]}: {exc}") from exc

    # -- coding -------------------------------------------------------------------------------
    def _encode_one(self, encoder: Path, cfg: Path, plane: np.ndarray) -> bytes:
        plane = pad_plane(plane, _BLOCK)
        with tempfile.TemporaryDirectory(prefix="spkc-vtm-") as tmp:
            yuv, bitstream = Path(tmp) / "in.yuv", Path(tmp) / "out.bin"
            write_yuv400(yuv, plane, self.bit_depth)
            proc = self._run(self.encoder_command(encoder, cfg, yuv, bitstream, plane.shape),
                             "EncoderApp")
            if proc.returncode != 0 or not bitstream.is_file():
                raise CodecUnavailableError(
                    f"vtm: EncoderApp failed (exit {proc.returncode}): "
                    f"{_tail(proc.stderr + proc.stdout)}")
            data = bitstream.read_bytes()
        if not data:
            raise CodecUnavailableError("vtm: EncoderApp wrote an empty bitstream")
        return data

    def encode(self, scenes: np.ndarray, context: EncodeContext | None = None) -> list[Payloads]:
        """Scenes (N, H, W) float32 in [0, 1] -> N payload sets ``{"img": VVC bitstream}``."""
        arr = check_scenes(scenes, self.name)
        encoder = find_binary(ENCODER_NAMES)
        if encoder is None:
            raise CodecUnavailableError(f"codec 'vtm' cannot run here: EncoderApp not found; "
                                        f"set {ENV_DIR}")
        cfg = self._config(encoder)
        planes = to_uint(arr, self.bit_depth)
        # VTM is single-threaded; independent scenes run as parallel processes.
        with ThreadPoolExecutor(max_workers=max(1, min(self.jobs, len(planes)))) as pool:
            streams = list(pool.map(lambda p: self._encode_one(encoder, cfg, p), planes))
        return [{"img": seal(s)} for s in streams]

    def _decode_one(self, decoder: Path, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        h, w = shape
        padded = (padded_size(h, _BLOCK), padded_size(w, _BLOCK))
        with tempfile.TemporaryDirectory(prefix="spkc-vtm-") as tmp:
            bitstream, recon = Path(tmp) / "in.bin", Path(tmp) / "rec.yuv"
            bitstream.write_bytes(data)
            proc = self._run(self.decoder_command(decoder, bitstream, recon), "DecoderApp")
            if proc.returncode != 0 or not recon.is_file():
                raise corrupt(self.name, f"DecoderApp failed (exit {proc.returncode}): "
                                         f"{_tail(proc.stderr + proc.stdout)}")
            try:
                plane = read_yuv400(recon, padded, self.bit_depth)
            except ValueError as exc:
                raise corrupt(self.name, "DecoderApp output is too short", exc) from exc
        return check_plane(plane, shape, self.bit_depth, self.name)

    def decode(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """N payload sets -> scenes (N, H, W) float32 in [0, 1]."""
        h, w = check_shape(shape, self.name)
        decoder = find_binary(DECODER_NAMES)
        if decoder is None:
            raise CodecUnavailableError(f"codec 'vtm' cannot run here: DecoderApp not found; "
                                        f"set {ENV_DIR}")
        streams = [unseal(get_payload(p, "img", self.name), self.name) for p in payloads]
        with ThreadPoolExecutor(max_workers=max(1, min(self.jobs, len(streams)))) as pool:
            planes = list(pool.map(lambda s: self._decode_one(decoder, s, (h, w)), streams))
        out = np.empty((len(planes), h, w), np.float32)
        for i, plane in enumerate(planes):
            out[i] = from_uint(plane, self.bit_depth)
        return out
