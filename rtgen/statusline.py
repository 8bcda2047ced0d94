"""A one-line live status on a terminal: fitted to its width, rewritten in place, ended cleanly.

A line longer than the terminal wraps, and ``\\r`` goes back only to the start of its last
row: every refresh then adds a row. So the line is fitted first (:func:`fit`): the least
important fields are abbreviated, then dropped, then what is left is cut. It never reaches
the last column (some terminals wrap as soon as it is written).

Anything else written to the same stream must start on a clean line: :meth:`StatusLine.clear`
before a log record (the line is a logging filter for that), :meth:`StatusLine.end` before
the messages printed at exit.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

SEPARATOR = "  "
CLEAR_TO_END = "\x1b[K"


@dataclass(frozen=True)
class Field:
    """One figure of a status line, e.g. ``Field("late 0", "", rank=3)``.

    ``short`` is its abbreviated form ("" hides it, None: it has none); ``rank`` orders what
    goes first: the highest rank is abbreviated first and dropped first, rank 0 is never
    dropped (only cut, when nothing else is left to take away)."""

    full: str
    short: str | None = None
    rank: int = 0


def _join(parts: Sequence[str]) -> str:
    return SEPARATOR.join(p for p in parts if p)


def fit(fields: Sequence[Field], width: int) -> str:
    """The fields, in order, in at most ``width - 1`` columns.

    Least important first (highest rank; among equals, the rightmost), every field that has
    an abbreviation takes it; then fields are dropped the same way, rank 0 excepted; then
    the line is cut. Stops at the first step that fits."""
    limit = max(width - 1, 0)
    forms = [f.full for f in fields]
    line = _join(forms)
    if len(line) <= limit:
        return line
    # least important first: highest rank, then rightmost
    order = sorted(range(len(fields)), key=lambda i: (-fields[i].rank, -i))
    for i in order:
        if fields[i].short is not None and forms[i] != fields[i].short:
            forms[i] = fields[i].short
            line = _join(forms)
            if len(line) <= limit:
                return line
    for i in order:
        if fields[i].rank > 0 and forms[i]:
            forms[i] = ""
            line = _join(forms)
            if len(line) <= limit:
                return line
    return line[:limit]


def terminal_width(stream: TextIO) -> int:
    """Columns of the terminal ``stream`` writes to; else $COLUMNS or 80 (shutil's rule)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0
    return columns or shutil.get_terminal_size().columns


class StatusLine(logging.Filter):
    """One line on ``stream`` (a terminal), rewritten by :meth:`show`.

    Invariant: while a status is shown, the cursor is on its row, after it. :meth:`clear`
    erases it (the next :meth:`show` draws it again); :meth:`end` moves below it, leaving the
    last status in view. Added as a filter to the logging handler that writes to the same
    stream, it clears the line before every record, so a warning starts at column 0."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._shown = False
        self._lock = threading.Lock()  # log records may come from other threads

    def show(self, fields: Sequence[Field]) -> None:
        """Draw ``fields`` fitted to the terminal's width now (it may have been resized)."""
        text = fit(fields, terminal_width(self.stream))
        with self._lock:
            self.stream.write("\r" + text + CLEAR_TO_END)
            self.stream.flush()
            self._shown = True

    def clear(self) -> None:
        """Erase the line, if one is shown; the cursor is then at column 0."""
        self._take_down("\r" + CLEAR_TO_END)

    def end(self) -> None:
        """Leave the last status in view and go to the next row; a second call does nothing."""
        self._take_down("\n")

    def _take_down(self, how: str) -> None:
        with self._lock:
            if self._shown:
                self.stream.write(how)
                self.stream.flush()
                self._shown = False

    def filter(self, record: logging.LogRecord) -> bool:
        self.clear()
        return True
