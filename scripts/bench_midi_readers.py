"""Bulk MIDI reading: mido (rtgen's ``read_midi``) against symusic, on one folder of files.

    python scripts/bench_midi_readers.py --make 300 /tmp/midi   # a corpus from music21
    python scripts/bench_midi_readers.py /tmp/midi [--rounds 3] [--json]

Every reader reads the same files in the same run, rounds interleaved; the figure is the
median round. ``--make N DIR`` writes N files made from music21's bundled corpus: half Bach
chorales (.mxl, one track per voice), half Essen folk tunes (ABC, one track), so the bench
has real multi-track music. Needs the ``data`` extra (music21) and symusic (``dev``).

The readers:
- ``rtgen read_midi``: mido parse plus rtgen's rules (vel-0, overlaps, pedal, drums);
- ``mido parse only``: ``mido.MidiFile`` alone, to show what the rules cost on top;
- ``symusic numpy``: ``symusic.Score`` and each non-drum track's notes as numpy arrays;
- ``symusic -> Note``: the same, turned into rtgen ``Note`` objects in beats.

Agreement: per file, rtgen's notes against symusic's (start, end, pitch, velocity) sets.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import mido

from rtgen.events import Note
from rtgen.io.midifile import DRUM_CHANNEL, read_midi

Reader = Callable[[Path], int]  # reads one file, returns its note count


# --- corpus ------------------------------------------------------------------------------


def _chorale_scores() -> Iterator[tuple[str, object]]:
    from music21 import corpus

    paths = sorted(p for p in corpus.getComposer("bach") if str(p).endswith(".mxl"))
    for path in paths:
        yield f"bach_{Path(path).stem}", corpus.parse(str(path))


def _essen_scores() -> Iterator[tuple[str, object]]:
    """Tunes taken in turn from each Essen ABC file (one tune per file per pass)."""
    import music21
    from music21 import converter

    root = Path(music21.__file__).parent / "corpus" / "essenFolksong"
    books = {}
    for abc in sorted(root.glob("*.abc")):
        text = abc.read_text(encoding="latin-1")
        books[abc] = [int(n) for n in re.findall(r"^X:\s*(\d+)", text, re.M)]
    depth = 0
    while any(len(nums) > depth for nums in books.values()):
        for abc, nums in books.items():
            if depth < len(nums):
                yield f"essen_{abc.stem}_{nums[depth]}", converter.parse(abc, number=nums[depth])
        depth += 1


def _write_some(source: Iterator[tuple[str, object]], count: int, out_dir: Path) -> int:
    """Write up to ``count`` scores; one music21 cannot export is skipped and replaced."""
    written = 0
    for name, score in source:
        if written >= count:
            break
        try:
            score.write("midi", fp=str(out_dir / f"{name}.mid"))
            written += 1
        except Exception as exc:  # e.g. StreamException on some multi-meter ABC tunes
            print(f"skip {name}: {type(exc).__name__}", file=sys.stderr)
    return written


def make_corpus(count: int, out_dir: Path) -> int:
    """Write ``count`` MIDI files from music21's corpus into ``out_dir``; returns how many."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = _write_some(_chorale_scores(), (count + 1) // 2, out_dir)
    written += _write_some(_essen_scores(), count - written, out_dir)
    print(f"wrote {written} files to {out_dir}", file=sys.stderr)
    return written


# --- readers -----------------------------------------------------------------------------


def read_rtgen(path: Path) -> int:
    return len(read_midi(path).notes)


def read_mido_only(path: Path) -> int:
    mid = mido.MidiFile(str(path), clip=True)
    return sum(
        1
        for track in mid.tracks
        for msg in track
        if msg.type == "note_on" and msg.velocity > 0 and msg.channel != DRUM_CHANNEL
    )


def read_symusic_numpy(path: Path) -> int:
    import symusic

    score = symusic.Score(str(path))
    return sum(len(t.notes.numpy()["pitch"]) for t in score.tracks if not t.is_drum)


def symusic_notes(path: Path) -> list[Note]:
    """symusic's notes as rtgen Notes in beats (channel unknown to symusic: 0)."""
    import symusic

    score = symusic.Score(str(path))
    tpq = score.ticks_per_quarter
    out = []
    for track in score.tracks:
        if track.is_drum:
            continue
        a = track.notes.numpy()
        columns = (a["time"], a["duration"], a["pitch"], a["velocity"])
        for t, d, p, v in zip(*(c.tolist() for c in columns), strict=True):
            out.append(Note(t / tpq, (t + d) / tpq, p, v))
    return out


def read_symusic_notes(path: Path) -> int:
    return len(symusic_notes(path))


READERS: dict[str, Reader] = {
    "rtgen read_midi": read_rtgen,
    "mido parse only": read_mido_only,
    "symusic numpy": read_symusic_numpy,
    "symusic -> Note": read_symusic_notes,
}


# --- measuring ---------------------------------------------------------------------------


def time_readers(files: list[Path], rounds: int) -> dict[str, dict]:
    """Median seconds over ``rounds`` passes per reader, rounds interleaved."""
    for f in files:
        f.read_bytes()  # warm the page cache so no reader pays for the disk
    seconds: dict[str, list[float]] = {name: [] for name in READERS}
    notes: dict[str, int] = {}
    for _ in range(rounds):
        for name, reader in READERS.items():
            t0 = time.perf_counter()
            notes[name] = sum(reader(f) for f in files)
            seconds[name].append(time.perf_counter() - t0)
    out = {}
    for name, runs in seconds.items():
        s = statistics.median(runs)
        out[name] = {
            "seconds": round(s, 4),
            "files_per_s": round(len(files) / s, 1),
            "notes": notes[name],
            "notes_per_s": round(notes[name] / s),
        }
    return out


def _key(n: Note) -> tuple[float, float, int, int]:
    return (round(n.start, 6), round(n.end, 6), n.pitch, n.velocity)


def agreement(files: list[Path]) -> dict:
    """How many files have the same note count, and the same notes, in rtgen and symusic."""
    same_count, same_notes, diffs = 0, 0, []
    for f in files:
        ours = sorted(map(_key, read_midi(f).notes))
        theirs = sorted(map(_key, symusic_notes(f)))
        same_count += len(ours) == len(theirs)
        same_notes += ours == theirs
        if ours != theirs and len(diffs) < 5:
            diffs.append({"file": f.name, "rtgen": len(ours), "symusic": len(theirs)})
    return {
        "files": len(files),
        "same_count": same_count,
        "same_notes": same_notes,
        "examples": diffs,
    }


def versions() -> dict:
    import symusic

    return {
        "python": platform.python_version(),
        "mido": getattr(mido, "__version__", None) or _dist_version("mido"),
        "symusic": getattr(symusic, "__version__", None) or _dist_version("symusic"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def print_table(report: dict) -> None:
    print(f"{report['files']} files, median of {report['rounds']} rounds, {report['env']}")
    print(f"{'reader':<18} {'files/s':>9} {'notes/s':>11} {'notes':>9} {'seconds':>8}")
    for name, r in report["readers"].items():
        print(
            f"{name:<18} {r['files_per_s']:>9.1f} {r['notes_per_s']:>11,} "
            f"{r['notes']:>9,} {r['seconds']:>8.3f}"
        )
    a = report["agreement"]
    print(
        f"rtgen vs symusic: same note count in {a['same_count']}/{a['files']} files, "
        f"identical notes in {a['same_notes']}/{a['files']}"
    )
    for d in a["examples"]:
        print(f"  differs: {d['file']}: rtgen {d['rtgen']} notes, symusic {d['symusic']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path, help="folder of .mid files to read")
    ap.add_argument("--make", nargs=2, metavar=("N", "DIR"), help="write N files to DIR first")
    ap.add_argument("--rounds", type=int, default=3, help="passes per reader (median taken)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    folder = args.folder
    if args.make:
        make_corpus(int(args.make[0]), Path(args.make[1]))
        folder = folder or Path(args.make[1])
    if folder is None:
        ap.error("give a folder of MIDI files (or --make N DIR)")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".mid", ".midi"))
    if not files:
        ap.error(f"no .mid files in {folder}")
    report = {
        "files": len(files),
        "rounds": args.rounds,
        "env": versions(),
        "readers": time_readers(files, args.rounds),
        "agreement": agreement(files),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
