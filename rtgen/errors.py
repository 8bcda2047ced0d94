"""Errors a user can cause and fix; the CLI prints them as one line and exits with code 2.

RtgenError is a click exception, so any command (and typer's CliRunner in tests) turns it
into ``rtgen: error: <one line>`` on stderr and exit code 2 without a traceback.
"""

from __future__ import annotations

import click


class RtgenError(click.ClickException):
    """A problem with the user's input (file, flag, port name): one line, no traceback."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(f"rtgen: error: {self.format_message()}", err=True, file=file)


class MidiFileError(RtgenError):
    """A MIDI file that cannot be read, or holds nothing rtgen can use."""
