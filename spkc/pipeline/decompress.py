""".spkc -> spikes (.dat/.npy/.h5) and optionally the decoded scenes as 16-bit PNGs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spkc.errors import InputError, OutputError, SpkcError, UnfinishedFileError
from spkc.pipeline.clip import Clip
from spkc.pipeline.clip import open as open_clip

SPIKE_SUFFIXES = (".dat", ".npy", ".h5", ".hdf5")


def _partial_path(dst: Path) -> Path:
    # keep the suffix: the spike writer picks the format from it
    return dst.with_name(f".{dst.stem}.partial{dst.suffix}")


def write_scene_png(path: Path, scene: np.ndarray) -> None:
    """Write (H, W) float32 [0, 1] as a 16-bit gray PNG (exact for decoded scenes)."""
    from PIL import Image

    q = np.clip(np.rint(scene * 65535.0), 0, 65535).astype(np.uint16)
    Image.fromarray(q).save(path)  # uint16 -> 16-bit gray PNG


def unfinished_message(clip: Clip) -> str:
    """What an unfinished file still holds, and what to do with it (one line)."""
    T = clip.shape[0]
    src_frames = clip.metadata.get("source_frames")
    of = f" of the {src_frames} it was made from" if isinstance(src_frames, int) else ""
    return (f"file is unfinished (its writer did not close it, or the copy was cut): "
            f"{T} frames{of} in {clip.num_scenes} scenes are intact; `spkc repair` writes a "
            f"complete copy of them, --allow-unfinished decodes them as they are")


def decompress(src: str | os.PathLike, dst: str | os.PathLike | None = None,
               scenes_dir: str | os.PathLike | None = None, device: str = "cpu",
               batch_size: int = 4, progress: bool = False,
               allow_unfinished: bool = False, conceal: bool = False,
               exact: bool = False) -> dict:
    """Decode ``src`` to spikes at ``dst`` (format from its suffix) and/or scene PNGs.

    Output is streamed one scene segment at a time (memory bounded by a few scenes) into a
    hidden partial file renamed into place only when complete. An unfinished ``src`` (its
    writer did not close it) raises :class:`~spkc.errors.UnfinishedFileError` — the output
    would silently be shorter than the recording — unless ``allow_unfinished`` (then the
    intact scenes are decoded and the result's ``complete`` is False). ``conceal``: scenes
    that do not decode are replaced by the nearest that does (:class:`~spkc.pipeline.clip.Clip`)
    instead of failing; the result's ``concealed`` maps them to (why, stand-in scene).
    ``exact``: write the source spikes of the file's exact layer (byte-identical to the source
    for a ``.dat`` source) instead of the regenerated stream; InputError when it has none.
    """
    from spkc.io import open_spike_writer

    if dst is None and scenes_dir is None:
        raise InputError("nothing to do: give an output file and/or a scenes directory", src)
    dst_p = Path(dst) if dst is not None else None
    if dst_p is not None and dst_p.suffix.lower() not in SPIKE_SUFFIXES:
        raise OutputError(f"unknown output format {dst_p.suffix!r}; use one of "
                          f"{', '.join(SPIKE_SUFFIXES)}", dst_p)
    with open_clip(src, device=device, batch_size=batch_size, conceal=conceal) as clip:
        T, H, W = clip.shape
        if not clip.complete and not allow_unfinished:
            raise UnfinishedFileError(unfinished_message(clip), src)
        if exact and not clip.has_exact:
            raise InputError("file has no exact layer (compress with --exact to keep the "
                             "source spikes)", src)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=T, unit="frame", unit_scale=True, desc="decompress",
                       dynamic_ncols=True)
        tmp = _partial_path(dst_p) if dst_p is not None else None
        try:
            if scenes_dir is not None:
                sd = Path(scenes_dir)
                sd.mkdir(parents=True, exist_ok=True)
                for k in range(clip.num_scenes):
                    write_scene_png(sd / f"scene_{k:06d}.png", clip.scene(k))
            if tmp is not None:
                # the context manager keeps a decoding error from being masked by the
                # writer's complaint that fewer frames than declared arrived
                with open_spike_writer(tmp, H, W, num_frames=T) as writer:
                    for block in clip.iter_spikes(exact=exact):
                        writer.write(block)
                        if bar is not None:
                            bar.update(len(block))
                assert dst_p is not None  # tmp exists only with an output file
                os.replace(tmp, dst_p)
        except SpkcError:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise
        except OSError as exc:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write: {exc.strerror or exc}", dst_p or scenes_dir) from exc
        except BaseException:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise
        finally:
            if bar is not None:
                bar.close()
        return {"frames": T, "height": H, "width": W, "scenes": clip.num_scenes,
                "complete": clip.complete, "concealed": dict(clip.concealed),
                "output": str(dst_p) if dst_p else None,
                "scenes_dir": str(scenes_dir) if scenes_dir else None}
