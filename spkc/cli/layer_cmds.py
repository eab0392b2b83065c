"""``spkc strip FILE -o OUT``: drop the exact layer of a lossy .spkc file."""

from __future__ import annotations

import click


@click.command("strip")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="where to write the lossy file without the exact layer")
def strip_cmd(file: str, output: str) -> None:
    """Write FILE without its exact layer (the source spikes) to OUTPUT: a valid lossy file,
    the bytes `spkc compress` without --exact writes (format 1.0 unless groups remain)."""
    from spkc.pipeline.exact_layer import strip

    res = strip(file, output)
    click.echo(f"{file} -> {output}: {res.dst_bytes} bytes (was {res.src_bytes}; exact layer "
               f"{res.layer_bytes} bytes dropped), {res.scenes} scenes, format "
               f"{res.format_version}")
    for k, why in res.lost_scenes:
        click.echo(f"{file}: warning: scene {k} did not read and is written as lost: {why}",
                   err=True)


COMMANDS = [strip_cmd]
