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

Decoding needs only a decoder. Without DecoderApp, 10-bit files (the default) decode with
FFmpeg's VVC decoder from PyAV (``pip install spkc[conventional]``), whose samples equal
DecoderApp's (the tests check every quality). 8-bit files need DecoderApp: FFmpeg 8.1's VVC
decoder differs from the reference by +-1 on about a quarter of the samples of 8-bit 4:0:0
streams coded with ALF (measured with VTM 23.13; 10-bit streams match exactly), and decoding
must be exact, so opening an 8-bit file without DecoderApp is a CodecUnavailableError.
Encoding always needs EncoderApp.

The configuration file is option ``config_file``, else ``$SPKC_VTM_DIR/cfg/
encoder_intra_vtm.cfg``, else ``cfg/encoder_intra_vtm.cfg`` beside the binary's ``bin/`` folder.
Decoding needs no configuration.

Quality -> QP (lower QP = more bits): 1..8 -> 44, 40, 36, 32, 28, 24, 20, 16 (as ``hevc``).
Options: ``bit_depth`` 8 | 10 (default 10), ``qp`` (0..63, overrides the table),
``config_file``, ``jobs`` (EncoderApp/DecoderApp processes run at once; default and cap: the
CPU cores this process may use), ``timeout`` (seconds per EncoderApp run; default
:func:`encoder_timeout`: 600 s, or 5 ms per pixel for scenes over 120,000 pixels; DecoderApp
runs get ``min(timeout, 60)``, and one running longer is a damaged payload).

Speed: VTM is single-threaded and slow -- about 15-40 s per 250x400 scene on one shared core
(QP 44 .. 16; docs/results-vtm.md has the measured table), DecoderApp 0.1-0.2 s -- so
``encode`` runs one EncoderApp per core on independent scenes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
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
    optional_module,
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
#: bit depths FFmpeg's VVC decoder reproduces exactly (see the module docstring)
FFMPEG_EXACT_DEPTHS = (10,)
_PIX_FMT = {8: "gray", 10: "gray10le"}
_DECODER_TIMEOUT = 60.0  # s; DecoderApp needs ~0.15 s for a 250x400 scene


def cores() -> int:
    """CPU cores this process may run on (affinity / cgroup cpuset aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def encoder_timeout(pixels: int) -> float:
    """Default EncoderApp time limit in s for a scene of ``pixels``: 600 s or 5 ms per pixel.

    Measured here: up to ~1 ms per pixel (QP 16, 250x400, 2 cores shared with 4 other jobs);
    the limit leaves 5x that, and only catches a hung encoder.
    """
    return max(600.0, 0.005 * pixels)


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


def ffmpeg_vvc() -> tuple[Any | None, str]:
    """(the ``av`` module, "") when PyAV has FFmpeg's VVC decoder, else (None, reason)."""
    av, reason = optional_module("av")
    if av is None:
        return None, reason
    try:
        av.codec.Codec("vvc", "r")
    except Exception as exc:  # av raises UnknownCodecError / ValueError by version
        return None, f"this PyAV build lacks FFmpeg's vvc decoder ({exc})"
    return av, ""


def write_yuv400(path: Path, plane: np.ndarray, bits: int) -> None:
    """Write one (H, W) luma plane as raw 4:0:0 YUV: uint8, or uint16 LE when bits > 8."""
    plane.astype(np.dtype(uint_dtype(bits)).newbyteorder("<")).tofile(path)


def read_yuv400(path: Path, shape: tuple[int, int], bits: int) -> np.ndarray:
    """Read the (H, W) luma plane of a one-picture raw YUV file of ``bits``-bit samples.

    A 4:0:0 file holds only luma; some DecoderApp builds write 4:2:0 with constant chroma, so a
    file of 1.5 planes is accepted and its luma (stored first) is taken. Any other length
    (a picture of another size) is a ValueError.
    """
    dtype = np.dtype(uint_dtype(bits)).newbyteorder("<")
    n = shape[0] * shape[1]
    data = np.fromfile(path, dtype=dtype)
    if data.size not in (n, n + n // 2):
        raise ValueError(f"{path.name} holds {data.size} samples, expected {n} (4:0:0) "
                         f"or {n + n // 2} (4:2:0) for a {shape[0]}x{shape[1]} picture")
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
        self.jobs: int = option_number("vtm", options, "jobs", cores(), lo=1, integer=True)
        #: seconds per EncoderApp run; None: :func:`encoder_timeout` of the scene size
        self.timeout: float | None = (
            float(option_number("vtm", options, "timeout", None, lo=0, lo_open=True))
            if "timeout" in options else None)
        cfg = options.get("config_file")
        self.config_file: Path | None = Path(cfg) if cfg is not None else None

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        """Available when some decoder is found; the reason says what is missing.

        EncoderApp + DecoderApp: (True, ""). Otherwise the note starts with "decode only" (no
        EncoderApp) or "decodes with FFmpeg" (no DecoderApp) and ``spkc codecs`` shows it.
        """
        enc = find_binary(ENCODER_NAMES) is not None
        dec = find_binary(DECODER_NAMES) is not None
        if enc and dec:
            return True, ""
        if dec:
            return True, f"decode only: EncoderApp not found; set {ENV_DIR}"
        av, why = ffmpeg_vvc()
        if av is None:
            missing = "EncoderApp and DecoderApp" if not enc else "DecoderApp"
            return False, f"{missing} not found; set {ENV_DIR} (and {why})"
        ffmpeg = "FFmpeg's VVC decoder (PyAV), 10-bit files only"
        if enc:
            return True, f"decodes with {ffmpeg}: DecoderApp not found; set {ENV_DIR}"
        return True, f"decode only, with {ffmpeg}: EncoderApp not found; set {ENV_DIR}"

    @classmethod
    def encode_availability(cls) -> tuple[bool, str]:
        """(EncoderApp and its intra configuration are found, reason when not).

        ``spkc eval`` plans runs only for codecs that can encode (decode-only vtm is skipped
        once, with this reason, instead of failing at every quality)."""
        encoder = find_binary(ENCODER_NAMES)
        if encoder is None:
            return False, f"EncoderApp not found; set {ENV_DIR} (decoding needs only a decoder)"
        return True, ""

    def check_identity(self, identity: Mapping[str, str], path: str | None = None) -> None:
        """Refuse to open a file no decoder here reproduces exactly (8-bit without DecoderApp)."""
        self._decoder(path)

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

    def _workers(self, n: int) -> int:
        # the header's ``jobs`` came from the writer's machine: never more than this one has
        return max(1, min(self.jobs, cores(), n))

    # -- coding -------------------------------------------------------------------------------
    def _encode_one(self, encoder: Path, cfg: Path, plane: np.ndarray) -> bytes:
        plane = pad_plane(plane, _BLOCK)
        with tempfile.TemporaryDirectory(prefix="spkc-vtm-") as tmp:
            yuv, bitstream = Path(tmp) / "in.yuv", Path(tmp) / "out.bin"
            write_yuv400(yuv, plane, self.bit_depth)
            cmd = self.encoder_command(encoder, cfg, yuv, bitstream, plane.shape)
            limit = self.timeout if self.timeout is not None else encoder_timeout(plane.size)
            try:
                proc = subprocess.run(cmd, capture_output=True, timeout=limit, check=False)
            except subprocess.TimeoutExpired as exc:
                raise CodecUnavailableError(
                    f"vtm: EncoderApp ran longer than {limit:g} s on a "
                    f"{plane.shape[0]}x{plane.shape[1]} scene; raise option timeout") from exc
            except OSError as exc:
                raise CodecUnavailableError(f"vtm: cannot run EncoderApp {encoder}: {exc}") \
                    from exc
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
            raise CodecUnavailableError(f"codec 'vtm' cannot encode here: EncoderApp not "
                                        f"found; set {ENV_DIR} (decoding needs only a decoder)")
        cfg = self._config(encoder)
        planes = to_uint(arr, self.bit_depth)
        # VTM is single-threaded; independent scenes run as parallel processes.
        with ThreadPoolExecutor(max_workers=self._workers(len(planes))) as pool:
            streams = list(pool.map(lambda p: self._encode_one(encoder, cfg, p), planes))
        return [{"img": seal(s)} for s in streams]

    def _decoder(self, path: str | None = None) -> Path | Any:
        """DecoderApp's path, else the ``av`` module for FFmpeg's VVC decoder (10-bit files)."""
        decoder = find_binary(DECODER_NAMES)
        if decoder is not None:
            return decoder
        av, why = ffmpeg_vvc()
        if av is None:
            raise CodecUnavailableError(f"codec 'vtm' cannot decode here: DecoderApp not found "
                                        f"(set {ENV_DIR}) and {why}", path)
        if self.bit_depth not in FFMPEG_EXACT_DEPTHS:
            raise CodecUnavailableError(
                f"codec 'vtm': this file holds {self.bit_depth}-bit VVC, which FFmpeg's VVC "
                f"decoder does not reproduce exactly; install VTM's DecoderApp and set "
                f"{ENV_DIR}", path)
        return av

    def _decode_app(self, decoder: Path, data: bytes, padded: tuple[int, int]) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="spkc-vtm-") as tmp:
            bitstream, recon = Path(tmp) / "in.bin", Path(tmp) / "rec.yuv"
            bitstream.write_bytes(data)
            limit = min(self.timeout or _DECODER_TIMEOUT, _DECODER_TIMEOUT)
            try:
                proc = subprocess.run(self.decoder_command(decoder, bitstream, recon),
                                      capture_output=True, timeout=limit, check=False)
            except subprocess.TimeoutExpired as exc:
                raise corrupt(self.name, f"DecoderApp ran longer than {limit:g} s") from exc
            except OSError as exc:
                raise CodecUnavailableError(f"vtm: cannot run DecoderApp {decoder}: {exc}") \
                    from exc
            if proc.returncode != 0 or not recon.is_file():
                raise corrupt(self.name, f"DecoderApp failed (exit {proc.returncode}): "
                                         f"{_tail(proc.stderr + proc.stdout)}")
            try:
                return read_yuv400(recon, padded, self.bit_depth)
            except ValueError as exc:
                raise corrupt(self.name, "DecoderApp output is not one picture of the "
                                         "expected size", exc) from exc

    def _decode_ffmpeg(self, av: Any, data: bytes, padded: tuple[int, int]) -> np.ndarray:
        ctx = av.CodecContext.create("vvc", "r")
        ctx.thread_count = 1
        try:
            frames = list(ctx.decode(av.Packet(data))) + list(ctx.decode(None))
        except Exception as exc:  # av.error.InvalidDataError and friends
            raise corrupt(self.name, "FFmpeg cannot decode the VVC bitstream", exc) from exc
        if len(frames) != 1:
            raise corrupt(self.name, f"VVC bitstream holds {len(frames)} pictures, expected 1")
        expected = _PIX_FMT[self.bit_depth]
        if frames[0].format.name != expected:
            raise corrupt(self.name, f"decoded picture is {frames[0].format.name}, "
                                     f"expected {expected}")
        plane = frames[0].to_ndarray()
        if plane.shape != padded:  # as DecoderApp's output size is checked
            raise corrupt(self.name, f"decoded picture is {plane.shape[0]}x{plane.shape[1]}, "
                                     f"expected {padded[0]}x{padded[1]}")
        return plane

    def decode(self, payloads: Sequence[Payloads], shape: tuple[int, int]) -> np.ndarray:
        """N payload sets -> scenes (N, H, W) float32 in [0, 1].

        With DecoderApp, or (10-bit files only) FFmpeg's VVC decoder: the same samples.
        """
        h, w = check_shape(shape, self.name)
        padded = (padded_size(h, _BLOCK), padded_size(w, _BLOCK))
        decoder = self._decoder()
        streams = [unseal(get_payload(p, "img", self.name), self.name) for p in payloads]
        if isinstance(decoder, Path):
            with ThreadPoolExecutor(max_workers=self._workers(len(streams))) as pool:
                planes = list(pool.map(lambda s: self._decode_app(decoder, s, padded), streams))
        else:
            planes = [self._decode_ffmpeg(decoder, s, padded) for s in streams]
        out = np.empty((len(planes), h, w), np.float32)
        for i, plane in enumerate(planes):
            out[i] = from_uint(check_plane(plane, (h, w), self.bit_depth, self.name),
                               self.bit_depth)
        return out
