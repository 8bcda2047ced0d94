"""One piece of a dataset build: load it, give it roles, tokenize it, check the round trip.

Runs inside worker processes, so everything here is a plain function of picklable input.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path

from rtgen.errors import RtgenError
from rtgen.events import Note, Role
from rtgen.fidelity import roundtrip
from rtgen.io.midifile import Piece, read_midi, write_midi

SPLITS = ("train", "valid", "test")
MIDI_SUFFIXES = (".mid", ".midi", ".smf")
# Call-and-response shape in the data: the piece is cut into phrases of one of these lengths
# (beats, chosen per piece by its hash) whose roles alternate player, model, player, ...
PHRASE_BEATS = (4, 8, 16)


@dataclass(frozen=True)
class WorkItem:
    key: str  # stable id: corpus path#tune, or the file path relative to the folder
    kind: str  # "corpus" or "midi"
    path: str
    source: str  # collection name, or the folder name
    tune: int | None = None
    write_midi: bool = False


def stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")


def split_of(key: str, title: str) -> str:
    """train 90%, valid 5%, test 5%, by piece: the same piece always lands in one split."""
    bucket = stable_hash(f"{key}|{title}") % 100
    return "train" if bucket < 90 else "valid" if bucket < 95 else "test"


def assign_roles(notes: list[Note], key: str) -> list[Note]:
    """Alternate player/model by phrases so the model learns to answer a call."""
    phrase = PHRASE_BEATS[stable_hash(key) % len(PHRASE_BEATS)]
    return [replace(n, role=Role(int(n.start // phrase) % 2)) for n in notes]


def list_work(source: str, collections: str, write_midi: bool) -> list[WorkItem]:
    if source == "corpus":
        from rtgen.io.corpus import list_items

        chosen = [c for c in collections.split(",") if c] or None
        return [
            WorkItem(i.key, "corpus", i.path, i.source, i.tune, write_midi)
            for i in list_items(chosen)
        ]
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise RtgenError(f"{source}: not 'corpus' and not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    if not files:
        raise RtgenError(f"{source}: no MIDI files (*.mid, *.midi) in this folder")
    return [WorkItem(str(p.relative_to(folder)), "midi", str(p), folder.name) for p in files]


def _load(item: WorkItem) -> Piece:
    if item.kind == "corpus":
        from rtgen.io.corpus import CorpusItem, load_item

        return load_item(CorpusItem(item.source, item.path, item.tune))
    return read_midi(item.path)


def _midi_path(out: str, split: str, key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", key.replace(".abc#", "_"))
    return Path(out) / "midi" / split / f"{safe}.mid"


def process_item(job: tuple[WorkItem, str]) -> dict:
    """Convert one piece; a bad piece becomes a record with a one-line ``error``."""
    item, out = job
    rec: dict = {"key": item.key, "source": item.source}
    try:
        piece = _load(item)
    except RtgenError as exc:
        rec["error"] = str(exc.format_message())
        return rec
    except Exception as exc:  # never let one odd file stop a build of thousands
        rec["error"] = f"{item.key}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return rec
    notes = assign_roles(piece.notes, item.key)
    tokens, recalled = roundtrip(notes)
    split = split_of(item.key, piece.title)
    if item.write_midi:
        path = _midi_path(out, split, item.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_midi(notes, path, bpm=piece.tempos[0][1])
    rec.update(split=split, title=piece.title, notes=len(notes), recalled=recalled, tokens=tokens)
    return rec
