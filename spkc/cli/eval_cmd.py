"""``spkc eval``: rate-distortion and spike-fidelity evaluation of scene codecs."""

from __future__ import annotations

import click


def _int_list(text: str | None, what: str) -> list[int] | None:
    from spkc.errors import InputError

    if not text:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise InputError(f"{what} must be comma-separated integers, got {text!r}") from exc


@click.command("eval")
@click.argument("clips", nargs=-1, required=True, type=click.Path())
@click.option("--gt", type=click.Path(), default=None,
              help="Ground-truth PNG (one clip) or a directory of <clip>.png. "
                   "Default: compare with the uncoded reference scenes.")
@click.option("--gt-frame", type=int, default=151, show_default=True,
              help="Frame (0-based) the ground truth shows.")
@click.option("--gt-video", type=click.Path(dir_okay=False), default=None,
              help="Ground-truth luminance of every frame (.npy (T, H, W), e.g. from spkc "
                   "simulate --synthetic --gt-video; one clip): also report mean / worst scene "
                   "PSNR over all frames and PSNR vs distance from scene times.")
@click.option("--offsets", default=None,
              help="With --gt: comma-separated offsets (frames) of the ground-truth frame from "
                   "the scene centre, e.g. -16,-8,0,8; also report the PSNR averaged over "
                   "them beside the aligned (0) one.")
@click.option("--codecs", default=None,
              help="Comma-separated codecs (default: every registered codec but the slow "
                   "ones such as vtm; those skipped are listed with the reason).")
@click.option("--qualities", default=None,
              help="Comma-separated quality levels (default: each codec's own list).")
@click.option("--frames-per-scene", "-S", type=int, default=32, show_default=True,
              help="Spike frames per coded scene.")
@click.option("--reconstructor", default=None,
              help="tfp, tfi or learned (default: the pipeline's choice per codec).")
@click.option("--radius", "-R", type=int, default=None, help="Reconstruction window radius.")
@click.option("--affine/--no-affine", default=None,
              help="Least-squares affine fit before PSNR/SSIM (default: on with --gt).")
@click.option("--anchor", default="jxl", show_default=True,
              help="Anchor codec of the Bjontegaard table ('' for none).")
@click.option("--rate-window", type=int, default=None,
              help="Frames of the firing-rate map (default: frames per scene).")
@click.option("--downstream", type=click.Choice(["tfp", "tfi", "same"]), default="tfp",
              show_default=True,
              help="Reconstructor of the downstream check (same = the coding reconstructor).")
@click.option("--height", type=int, default=250, show_default=True, help="Rows of a .dat input.")
@click.option("--width", type=int, default=400, show_default=True, help="Columns of a .dat input.")
@click.option("--device", default="cpu", show_default=True, help="torch device.")
@click.option("--preset", type=click.Choice(["fast", "medium", "slow"]), default=None,
              help="Encoder preset of every run (default: spkc compress's default).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="spkc-eval",
              show_default=True, help="Directory for eval.json, eval.csv, bd.csv and plots.")
@click.option("--gop", "group_length", type=click.IntRange(1, 65535), default=None,
              help="Scenes per group for codecs with inter coding (hevc, av1); 1 = all-intra. "
                   "Default: each codec's own.")
@click.option("--plot", is_flag=True, help="Write RD plots (needs matplotlib).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def eval_cmd(clips, gt, gt_frame, gt_video, offsets, codecs, qualities, frames_per_scene,
             reconstructor, radius, affine, anchor, rate_window, downstream, height, width,
             device, preset, group_length, out_dir, plot, quiet):
    """Evaluate codecs on spike CLIPS: bits, scene PSNR/SSIM, ISI/firing-rate PSNR, BD table."""
    from spkc.eval import evaluate, format_bd_table, format_table, write_outputs
    from spkc.eval.report import format_skipped

    names = [c.strip() for c in codecs.split(",") if c.strip()] if codecs else None
    if gt_video or offsets:  # check before the long part
        from spkc.errors import InputError
        from spkc.eval.allframe import load_gt_video

        if gt_video:
            load_gt_video(gt_video)
        if offsets and gt is None:
            raise InputError("--offsets needs --gt (the ground-truth frame)")
    report = evaluate(clips, names, _int_list(qualities, "--qualities"), gt=gt,
                      gt_frame=gt_frame, frames_per_scene=frames_per_scene,
                      reconstructor=reconstructor, radius=radius, affine=affine,
                      anchor=anchor or None, rate_window=rate_window, downstream=downstream,
                      height=height,
                      width=width, device=device, progress=not quiet,
                      group_length=group_length, preset=preset)
    written = write_outputs(report, out_dir, plot=plot)
    if report.rows:
        click.echo(format_table(report.rows))
    else:
        click.echo("no codec could run")
    if report.skipped:
        click.echo(format_skipped(report.skipped))
    if report.bd:
        click.echo(f"\nBjontegaard deltas vs {anchor} (rate: bits per spike-pixel; "
                   "scene_psnr_ref = against the uncoded scenes)")
        click.echo(format_bd_table(report.bd))
    if gt_video or offsets:
        _extra(clips, report, gt_video, gt, gt_frame, offsets, frames_per_scene, height, width,
               out_dir)
    click.echo("\nwrote " + ", ".join(str(p) for p in written.values()))


def _extra(clips, report, gt_video, gt, gt_frame, offsets, frames_per_scene, height, width,
           out_dir) -> None:
    """All-frame and offset-averaged figures (spkc.eval.allframe) for every run that ran."""
    import json
    from pathlib import Path

    from spkc.eval.allframe import extra_rows, format_extra

    offs = _int_list(offsets, "--offsets")
    runs = list(dict.fromkeys((r["codec"], int(r["quality"])) for r in report.rows))
    rows = extra_rows(clips, runs, gt_video=gt_video, gt=gt, gt_frame_index=gt_frame,
                      offsets=offs, frames_per_scene=frames_per_scene, height=height,
                      width=width)
    click.echo("\nall frames / offsets (PSNR after one affine fit per clip / per frame)")
    click.echo(format_extra(rows))
    p = Path(out_dir) / "allframe.json"
    p.write_text(json.dumps(rows, indent=1, default=str) + "\n")
    click.echo(f"wrote {p}")


COMMANDS = [eval_cmd]
