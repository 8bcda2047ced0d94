"""The `rtgen` command: one small module per command group, joined here.

Errors a user can fix (RtgenError) print one line and exit with code 2, never a traceback.
"""

from __future__ import annotations

import typer

from rtgen import __version__
from rtgen.commands import inspect_cmd, ports_cmd

app = typer.Typer(
    name="rtgen",
    help="rtgen: a real-time MIDI improvisation partner. Play, and it answers in time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

inspect_cmd.register(app)
ports_cmd.register(app)


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(f"rtgen {__version__}")
        raise typer.Exit(0)


def main() -> None:
    """Console-script entry point (RtgenError already exits 2 with one line)."""
    app()
