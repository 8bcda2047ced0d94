"""Checks made before long work: a file rtgen will write at the end must be writable now.

`rtgen play --record` writes when the jam ends; finding then that its folder is missing
would lose the whole session, so the folder is checked before any port opens.
"""

from __future__ import annotations

import os
from pathlib import Path

from rtgen.errors import RtgenError


def check_writable(path: Path, flag: str) -> None:
    """One-line RtgenError unless ``path`` can be created or overwritten."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise RtgenError(f"{flag} {path}: is a folder, not a file")
    if not folder.is_dir():
        raise RtgenError(f"{flag} {path}: folder {folder} does not exist")
    target = path if path.exists() else folder
    if not os.access(target, os.W_OK):
        raise RtgenError(f"{flag} {path}: cannot write (permission denied)")
