"""``spkc verify FILE`` and ``spkc repair FILE -o OUT``: container-level checks and recovery."""

from __future__ import annotations

import click

from spkc.container import SpkcReader, repair


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
def verify_cmd(file: str) -> None:
    """Check every chunk checksum and scene of FILE; exit status 1 if anything is damaged."""
    with SpkcReader(file) as r:
        report = r.verify()
    click.echo(report.summary())
    if not report.ok:
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
