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
@click.option("--plot", is_flag=True, help="Write RD plots (needs matplotlib).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def eval_cmd(clips, gt, gt_frame, codecs, qualities, frames_per_scene, reconstructor, radius,
             affine, anchor, rate_window, downstream, height, width, device, preset, out_dir, plot,
             quiet):
    """Evaluate codecs on spike CLIPS: bits, scene PSNR/SSIM, ISI/firing-rate PSNR, BD table."""
    from spkc.eval import evaluate, format_bd_table, format_table, write_outputs
    from spkc.eval.report import format_skipped

    names = [c.strip() for c in codecs.split(",") if c.strip()] if codecs else None
    report = evaluate(clips, names, _int_list(qualities, "--qualities"), gt=gt,
                      gt_frame=gt_frame, frames_per_scene=frames_per_scene,
                      reconstructor=reconstructor, radius=radius, affine=affine,
                      anchor=anchor or None, rate_window=rate_window, downstream=downstream,
                      height=height,
                      width=width, device=device, progress=not quiet, preset=preset)
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
    click.echo("\nwrote " + ", ".join(str(p) for p in written.values()))


COMMANDS = [eval_cmd]
