"""The one rule for MIDI files a command could not read, for every command that reads them.

inspect and eval read many files and skip those rtgen cannot read, each with its reason;
plot and generate read one. For all of them, a run where every file was skipped is an error:
exit 2 with one line naming the first reason, never a report of nothing with exit 0.
"""

from __future__ import annotations

from pathlib import Path

from rtgen.errors import MidiFileError, RtgenError
from rtgen.io.midifile import Piece, ReadOptions, read_midi


def nothing_readable(reasons: list[str]) -> RtgenError:
    """The error of a run that skipped every file; ``reasons``: one per skipped file."""
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return RtgenError(f"no readable MIDI files: {reasons[0]}{more}")


def require_some_read(reasons: list[str], total: int) -> None:
    """Raise :func:`nothing_readable` when all ``total`` files were skipped (``reasons``)."""
    if total and len(reasons) >= total:
        raise nothing_readable(reasons)


def read_one(path: Path, options: ReadOptions | None = None) -> Piece:
    """The one file a command reads (plot's, generate's primer), under the same rule."""
    try:
        return read_midi(path, options)
    except MidiFileError as exc:
        reason = exc.format_message()
    raise nothing_readable([reason])
