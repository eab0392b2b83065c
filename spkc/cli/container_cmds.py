"""``spkc verify FILE`` and ``spkc repair FILE -o OUT``: container-level checks and recovery."""

from __future__ import annotations

import click

from spkc.container import SpkcReader, repair


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--decode", is_flag=True,
              help="Also decode every scene with its codec (catches codec-level damage).")
def verify_cmd(file: str, decode: bool) -> None:
    """Check every chunk checksum and scene of FILE; exit status 1 if anything is damaged."""
    with SpkcReader(file) as r:
        report = r.verify()
    click.echo(report.summary())
    ok = report.ok
    if decode:
        from spkc.pipeline import open as open_clip

        with open_clip(file) as clip:
            checked = clip.verify(decode=True)
        extra = {k: why for k, why in checked.bad_scenes.items()
                 if k not in {d for d, _ in report.damaged_scenes}}
        for k, why in sorted(extra.items()):
            click.echo(f"scene {k}: does not decode: {why}")
        click.echo(f"decoded {clip.num_scenes - len(checked.bad_scenes)} of {clip.num_scenes} "
                   "scenes")
        ok = ok and not checked.bad_scenes
        if getattr(clip, "kind", "scene") != "stream" and clip.has_exact:
            with open_clip(file) as clip:
                layer = clip.exact_layer
                bad_blocks = layer.verify()
            for _, why in sorted(bad_blocks.items()):
                click.echo(why)
            click.echo(f"decoded {layer.num_blocks - len(bad_blocks)} of {layer.num_blocks} "
                       "exact layer blocks")
            ok = ok and not bad_blocks
    if not ok:
        raise click.exceptions.Exit(1)


@click.command("repair")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="where to write the repaired file")
def repair_cmd(file: str, output: str) -> None:
    """Recover every intact scene of a damaged or unfinished FILE into a complete OUTPUT."""
    report = repair(file, output)
    click.echo(report.summary())


COMMANDS = [verify_cmd, repair_cmd]
