"""The ``spkc`` command: a thin click group over the library.

Each command lives in its own module of ``spkc.cli`` and is registered in ``_COMMAND_MODULES``;
a module exposes ``COMMANDS``, a list of click commands. Every :class:`spkc.SpkcError` is printed
as one line (``spkc: error: ...``) with exit status 1, never a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from spkc._version import __version__
from spkc.errors import SpkcError

# module -> commands it provides (listed here so `spkc --help` needs no heavy imports)
_COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "spkc.cli.info_cmd": ("info",),
    "spkc.cli.simulate_cmd": ("simulate",),
    "spkc.cli.codec_cmds": ("compress", "decompress", "codecs"),
    "spkc.cli.container_cmds": ("verify", "repair"),
    "spkc.cli.eval_cmd": ("eval",),
    "spkc.cli.train_cmd": ("train",),
}


class _LazyGroup(click.Group):
    """Imports a command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = []
        for module, cmds in _COMMAND_MODULES.items():
            if importlib.util.find_spec(module) is not None:
                names.extend(cmds)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module, cmds in _COMMAND_MODULES.items():
            if cmd_name in cmds:
                if importlib.util.find_spec(module) is None:
                    return None
                mod = importlib.import_module(module)
                for cmd in mod.COMMANDS:
                    if cmd.name == cmd_name:
                        return cmd
        return None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SpkcError as exc:
            click.echo(f"spkc: error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("spkc: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spkc")
def cli() -> None:
    """spkc: learned, scene-based compression of spike-camera streams."""


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="spkc")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
