"""Errors a user can cause and fix; the CLI prints them as one line and exits with code 2.

``rtgen.cli.main`` catches RtgenError and prints ``rtgen: error: <one line>`` on stderr with
exit code 2, never a traceback. (typer vendors its own click, so a click exception
subclass would not be recognised: the catch is explicit.)
"""

from __future__ import annotations


class RtgenError(Exception):
    """A problem with the user's input (file, flag, port name): one line, no traceback."""

    exit_code = 2

    def format_message(self) -> str:
        return str(self).splitlines()[0] if str(self) else type(self).__name__


class MidiFileError(RtgenError):
    """A MIDI file that cannot be read, or holds nothing rtgen can use."""
