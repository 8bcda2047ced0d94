"""`rtgen play --memory FILE`: the session memory (rtgen/engine/memory.py) read at the start
of a jam and written at its end, so a player's phrases carry over from one jam to the next.

A file that does not exist yet is a fresh memory (the first jam creates it); one that cannot
be read as a memory is a one-line error before any port opens. The session log's header
holds the memory as it was loaded, so `rtgen replay` starts from the same memory even after
the file was overwritten at the jam's end.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from rtgen.engine.memory import Memory
from rtgen.errors import RtgenError
from rtgen.paths import check_writable

log = logging.getLogger("rtgen")


def load_memory(path: str) -> Memory | None:
    """The memory saved at ``path`` (a fresh one if there is no file yet); None for ""."""
    if not path:
        return None
    file = Path(path)
    check_writable(file, "--memory")  # now: at the end of the jam it would be lost
    if not file.exists():
        return Memory()
    try:
        return Memory.load(file)
    except (OSError, ValueError) as exc:
        raise RtgenError(f"--memory {file}: not an rtgen memory file ({exc})") from None


def save_memory(doc: dict, path: str) -> None:
    """Write the memory ``doc`` (Engine.memory_doc()) to ``path`` at the end of a jam, and
    say so in one line on stderr (a failure is a warning: the jam is over either way)."""
    memory = Memory.from_dict(doc)
    try:
        memory.save(Path(path))
    except OSError as exc:
        log.warning("--memory %s: cannot save the memory (%s)", path, exc)
        return
    print(
        f"rtgen: memory of {len(memory.phrases)} phrases ({memory.notes} intervals) saved to "
        f"{path}",
        file=sys.stderr,
    )
