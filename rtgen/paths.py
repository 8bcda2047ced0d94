"""Checks made before long work: a file rtgen will write at the end must be writable now.

`rtgen play --record` writes when the jam ends (finding then that its folder is missing
would lose the whole session), `rtgen export` after minutes of export and parity checks,
`rtgen plot` after drawing: each checks its output here first.
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
        raise RtgenError(f"{flag} {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise RtgenError(f"{flag} {path}: no such folder (the folder {folder} does not exist)")
    writable = os.access(path, os.W_OK) if path.exists() else os.access(folder, os.W_OK | os.X_OK)
    if not writable:
        raise RtgenError(f"{flag} {path}: cannot write (permission denied)")
