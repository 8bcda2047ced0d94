"""`rtgen inspect`: how rtgen sees a user's MIDI files, and what survives tokenization."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from rtgen.commands.skips import require_some_read
from rtgen.errors import MidiFileError, RtgenError
from rtgen.fidelity import roundtrip
from rtgen.io.midifile import ReadOptions, read_midi

MIDI_SUFFIXES = (".mid", ".midi", ".smf")
TABLE_ROWS = 40  # beyond this many files, the terminal shows totals only (--json has all)


def find_midi_files(paths: list[Path]) -> list[Path]:
    """Files as given, and MIDI files found under folders (sorted); a missing path is an error."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.suffix.lower() in MIDI_SUFFIXES)
        elif p.exists():
            found.append(p)
        else:
            raise RtgenError(f"{p}: no such file or folder")
    return found


def inspect_file(path: Path, opts: ReadOptions) -> dict:
    """One file's figures, or the reason it was skipped."""
    try:
        piece = read_midi(path, opts)
    except MidiFileError as exc:
        return {"path": str(path), "skipped": exc.format_message()}
    tokens, recalled = roundtrip(piece.notes)
    n = len(piece.notes)
    return {
        "path": str(path),
        "notes": n,
        "tokens": len(tokens),
        "tokens_per_note": round(len(tokens) / n, 3),
        "roundtrip_note_recall": round(recalled / n, 5),
        "recalled": recalled,
        "beats": round(piece.duration_beats, 2),
        "seconds": round(piece.seconds_at(piece.duration_beats), 2),
    }


def summarize(rows: list[dict]) -> dict:
    ok = [r for r in rows if "skipped" not in r]
    notes = sum(r["notes"] for r in ok)
    tokens = sum(r["tokens"] for r in ok)
    return {
        "files": len(ok),
        "skipped": len(rows) - len(ok),
        "notes": notes,
        "tokens": tokens,
        "tokens_per_note": round(tokens / notes, 3) if notes else None,
        "roundtrip_note_recall": round(sum(r["recalled"] for r in ok) / notes, 5)
        if notes
        else None,
        "per_file": ok,
        "skipped_files": [
            {"path": r["path"], "reason": r["skipped"]} for r in rows if "skipped" in r
        ],
    }


def _print_table(summary: dict, console: Console) -> None:
    rows = summary["per_file"]
    if 0 < len(rows) <= TABLE_ROWS:
        common = os.path.commonpath([os.path.dirname(r["path"]) or "." for r in rows])
        table = Table(show_edge=False)
        for col in ("file", "notes", "tokens", "tok/note", "recall"):
            table.add_column(col, justify="left" if col == "file" else "right")
        for r in rows:
            table.add_row(
                os.path.relpath(r["path"], common),
                str(r["notes"]),
                str(r["tokens"]),
                f"{r['tokens_per_note']:.2f}",
                f"{r['roundtrip_note_recall']:.2%}",
            )
        console.print(table)
    for s in summary["skipped_files"][:TABLE_ROWS]:
        console.print(f"skipped {s['reason']}", highlight=False)
    recall = summary["roundtrip_note_recall"]
    console.print(
        f"{summary['files']} files, {summary['skipped']} skipped, {summary['notes']} notes, "
        f"{summary['tokens']} tokens"
        + (
            f", {summary['tokens_per_note']:.2f} tokens/note, round-trip note recall {recall:.2%}"
            if recall is not None
            else ""
        ),
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    @app.command("inspect")
    def inspect_command(
        paths: list[Path] = typer.Argument(
            ..., help="MIDI files and/or folders (searched recursively)."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print one JSON object instead of a table."
        ),
        sustain: bool = typer.Option(
            False, "--sustain", help="Extend notes while the sustain pedal is down."
        ),
        drums: bool = typer.Option(False, "--drums", help="Keep channel 10 (drums)."),
    ) -> None:
        """Show how rtgen tokenizes MIDI files: notes, tokens, tokens per note, and round-trip
        fidelity (share of notes that come back with the same pitch, onset within half a grid
        step and duration within one step). Unreadable files are skipped with a reason; when
        every file is, that is an error."""
        files = find_midi_files(paths)
        if not files:
            raise RtgenError("no MIDI files (*.mid, *.midi) in " + ", ".join(map(str, paths)))
        opts = ReadOptions(sustain=sustain, drums=drums)
        # Progress goes to stderr, so `--json` output on stdout stays clean.
        bar = tqdm(files, desc="inspecting", unit="file", disable=len(files) <= 50, file=sys.stderr)
        rows = [inspect_file(f, opts) for f in bar]
        require_some_read([r["skipped"] for r in rows if "skipped" in r], len(rows))
        summary = summarize(rows)
        if as_json:
            typer.echo(json.dumps(summary))
        else:
            _print_table(summary, Console(soft_wrap=True))
