"""Rebuild a complete .spkc file from a damaged or unfinished one."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from spkc.container.reader import SpkcReader
from spkc.container.writer import SpkcWriter
from spkc.errors import CorruptFileError, InputError, SceneCorruptError


@dataclass
class RepairReport:
    """What :func:`repair` recovered. ``lost_scenes``: (scene, reason) written as placeholders
    (readers raise SceneCorruptError for them) so later scenes keep their frame positions."""

    src: str
    dst: str
    was_complete: bool
    num_scenes: int
    num_frames: int
    recovered_scenes: int
    lost_scenes: list[tuple[int, str]] = field(default_factory=list)
    #: exact layer blocks (format 1.1): recovered count and (block, reason) of lost ones
    recovered_layer_blocks: int = 0
    lost_layer_blocks: list[tuple[int, str]] = field(default_factory=list)
    metadata_recovered: bool = True
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.src} -> {self.dst}: recovered {self.recovered_scenes} of "
                 f"{self.num_scenes} scenes ({self.num_frames} frames)"
                 + ("" if self.was_complete else "; source had no valid index (forward scan)")]
        lines += [f"  lost scene {k}: {why}" for k, why in self.lost_scenes]
        if self.recovered_layer_blocks or self.lost_layer_blocks:
            lines.append(f"  exact layer: recovered {self.recovered_layer_blocks} of "
                         f"{self.recovered_layer_blocks + len(self.lost_layer_blocks)} blocks")
        lines += [f"  lost exact layer block {k}: {why}" for k, why in self.lost_layer_blocks]
        if not self.metadata_recovered:
            lines.append("  metadata was damaged and is not carried over")
        lines += [f"  problem: {p}" for p in self.problems]
        return "\n".join(lines)


#: the newest minor version this implementation writes (a repair keeps the source's minor)
VERSION_MINOR_MAX = 1


def repair(src: str | os.PathLike, dst: str | os.PathLike) -> RepairReport:
    """Recover every intact scene of ``src`` (damaged or unfinished) into a complete ``dst``.

    The header must be intact (CorruptFileError otherwise). Scenes are found by a forward scan
    of the chunks, ignoring any index; damaged scenes in the middle become placeholders, scenes
    lost at a truncated tail are dropped. Exact layer blocks (format 1.1) are kept the same
    way: intact ones copied, lost ones written as placeholders that read as damaged.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    if os.path.abspath(src) == os.path.abspath(dst):
        raise InputError("repair needs a different output file than its input", src)
    with SpkcReader(src) as r:
        was_complete = r.complete
        if r._scan is None:
            r._from_scan(r._forward_scan())  # trust chunk CRCs only, not the old index
        problems = list(r._scan.problems) if r._scan is not None else []
        try:
            meta = r.metadata
            meta_ok = True
        except CorruptFileError as exc:
            meta, meta_ok = {}, False
            problems.append(exc.problem)
        report = RepairReport(src, dst, was_complete, r.num_scenes, r.num_frames, 0,
                              metadata_recovered=meta_ok, problems=problems)
        # keep the minor version: the scenes may use its features (e.g. 1.1 motion payloads)
        with SpkcWriter(dst, r.header, meta, keep_partial_on_error=False,
                        minor=min(int(r.version[1]), VERSION_MINOR_MAX)) as w:
            xk = 0  # next exact layer block; each follows the scene covering its last frame
            for k in range(r.num_scenes):
                nf = r.scene_frames(k)[1]
                try:
                    payloads = r.scene_payloads(k)
                except SceneCorruptError as exc:
                    w.add_lost_scene(nf)
                    report.lost_scenes.append((k, exc.problem))
                else:
                    w.add_scene(payloads, nf)
                    report.recovered_scenes += 1
                while xk < r.num_layer_blocks and r.layer_block_range(xk)[1] <= w.num_frames:
                    _copy_layer_block(r, w, xk, report)
                    xk += 1
    return report


def _copy_layer_block(r: SpkcReader, w: SpkcWriter, k: int, report: RepairReport) -> None:
    first, stop = r.layer_block_range(k)
    try:
        w.add_layer_block(r.layer_block(k), stop - first)
        report.recovered_layer_blocks += 1
    except SceneCorruptError as exc:
        w.add_lost_layer_block(stop - first)
        report.lost_layer_blocks.append((k, exc.problem))
