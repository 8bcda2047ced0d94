"""The `rtgen` command: one small module per command group, joined here.

Errors a user can fix (RtgenError) print one line and exit with code 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from rtgen import __version__
from rtgen.commands import (
    bench_cmd,
    calibrate_cmd,
    eval_cmd,
    export_cmd,
    generate_cmd,
    info_cmd,
    inspect_cmd,
    panic_cmd,
    play_cmd,
    plot_cmd,
    ports_cmd,
    render_cmd,
    replay_cmd,
    score_cmd,
)
from rtgen.errors import RtgenError

app = typer.Typer(
    name="rtgen",
    help="rtgen: a real-time MIDI improvisation partner. Play, and it answers in time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: typer 0.29's rich tables print "<bool>" after every flag
)

inspect_cmd.register(app)
eval_cmd.register(app)
export_cmd.register(app)
info_cmd.register(app)
ports_cmd.register(app)
plot_cmd.register(app)
render_cmd.register(app)
generate_cmd.register(app)
play_cmd.register(app)
panic_cmd.register(app)
calibrate_cmd.register(app)
bench_cmd.register(app)
replay_cmd.register(app)
score_cmd.register(app)


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(f"rtgen {__version__}")
        raise typer.Exit(0)


def main() -> None:
    """Console-script entry point: an RtgenError prints one line and exits 2."""
    try:
        app()
    except RtgenError as exc:
        typer.echo(f"rtgen: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
