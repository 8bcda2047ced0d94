"""Errors a user can cause and fix; the CLI prints them as one line and exits with code 2.

``rtgen.cli.main`` catches RtgenError and prints ``rtgen: error: <one line>`` on stderr with
exit code 2, never a traceback. (typer vendors its own click, so a click exception
subclass would not be recognised: the catch is explicit.)
"""

from __future__ import annotations

MAX_QUOTE = 80  # characters of a bad value an error message quotes (a value may be megabytes)


def short(value: object) -> str:
    """``repr(value)``, cut to at most MAX_QUOTE characters ("..." marks the cut)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (sys.get_int_max_str_digits)
        text = f"<{type(value).__name__} too long to print>"
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 3] + "..."


class RtgenError(Exception):
    """A problem with the user's input (file, flag, port name): one line, no traceback."""

    exit_code = 2

    def format_message(self) -> str:
        return str(self).splitlines()[0] if str(self) else type(self).__name__


class MidiFileError(RtgenError):
    """A MIDI file that cannot be read, or holds nothing rtgen can use."""
