"""Pieces from music21's bundled corpus (public-domain folk tunes, chorales, motets).

music21 is an optional extra (`rtgen[data]`); it is imported only inside these functions.
An ABC file holds many tunes (one per ``X:`` header): each tune is one piece, addressed as
``<path>#<X number>`` so that work can be split, cached and resumed per tune.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rtgen.errors import RtgenError
from rtgen.events import Note, Role
from rtgen.io.midifile import Piece

# Collections taken from the corpus, with the file kinds read in each. Licence notes: DATA.md.
SOURCES: dict[str, tuple[str, ...]] = {
    "essenFolksong": (".abc",),
    "oneills1850": (".abc",),
    "ryansMammoth": (".abc",),
    "airdsAirs": (".abc",),
    "miscFolk": (".abc",),
    "nottingham-dataset": (".abc",),
    "bach": (".mxl", ".krn", ".xml"),
    "palestrina": (".krn",),
    "josquin": (".abc",),
    "monteverdi": (".mxl",),
    "trecento": (".xml", ".mxl"),
}

DEFAULT_VELOCITY = 80  # the corpus has no dynamics; one fixed velocity keeps tokens honest


@dataclass(frozen=True)
class CorpusItem:
    """One piece to convert: a file, and the tune number within it for ABC files."""

    source: str  # collection name, e.g. "essenFolksong"
    path: str
    tune: int | None = None  # ABC ``X:`` number

    @property
    def key(self) -> str:
        rel = self.path.split("/corpus/", 1)[-1]
        return rel if self.tune is None else f"{rel}#{self.tune}"


def _corpus_root() -> Path:
    try:
        from music21 import corpus
    except ImportError:
        raise RtgenError("the bundled corpus needs music21: pip install 'rtgen[data]'") from None
    return Path(corpus.getComposer("bach")[0]).parents[1]


_X_RE = re.compile(r"^X:\s*(\d+)", re.M)


def list_items(sources: list[str] | None = None) -> list[CorpusItem]:
    """Every piece of the chosen collections (all of SOURCES by default), in a stable order."""
    root = _corpus_root()
    items: list[CorpusItem] = []
    for source in sources or list(SOURCES):
        if source not in SOURCES:
            raise RtgenError(f"unknown corpus collection {source!r}; known: {', '.join(SOURCES)}")
        for path in sorted((root / source).rglob("*")):
            if path.suffix.lower() not in SOURCES[source]:
                continue
            if path.suffix.lower() == ".abc":
                text = path.read_text(encoding="latin-1")
                seen: set[int] = set()
                for m in _X_RE.finditer(text):
                    n = int(m.group(1))
                    if n not in seen:  # duplicate X: numbers would make keys ambiguous
                        seen.add(n)
                        items.append(CorpusItem(source, str(path), n))
            else:
                items.append(CorpusItem(source, str(path)))
    return items


def _abc_tune(path: str, number: int) -> str:
    text = Path(path).read_text(encoding="latin-1")
    chunks = re.split(r"(?m)^(?=X:)", text)
    header = chunks[0] if not chunks[0].startswith("X:") else ""
    for chunk in chunks:
        m = _X_RE.match(chunk)
        if m and int(m.group(1)) == number:
            return header + chunk
    raise RtgenError(f"{path}: no tune X:{number}")


def load_item(item: CorpusItem) -> Piece:
    """Parse one corpus piece into notes in beats (quarter notes); ties joined, grace notes out."""
    from music21 import converter

    try:
        if item.tune is not None:
            score = converter.parse(_abc_tune(item.path, item.tune), format="abc")
        else:
            score = converter.parse(item.path)
        score = score.stripTies()
        flat = score.flatten().notes
    except RtgenError:
        raise
    except Exception as exc:  # music21 raises many kinds on odd input
        raise RtgenError(f"{item.key}: music21 could not parse it ({type(exc).__name__})") from None
    notes: list[Note] = []
    for el in flat:
        length = float(el.quarterLength)
        if length <= 0:  # grace notes have no duration of their own
            continue
        start = float(el.offset)
        vel = el.volume.velocity if el.volume.velocity else DEFAULT_VELOCITY
        for p in el.pitches:
            if 0 <= p.midi <= 127:
                notes.append(Note(start, start + length, int(p.midi), int(vel), Role.PLAYER))
    title = ""
    if score.metadata is not None and score.metadata.title:
        title = str(score.metadata.title)
    if not notes:
        raise RtgenError(f"{item.key}: no notes")
    return Piece(notes=sorted(notes), title=title, source=item.key)
