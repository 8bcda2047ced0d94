"""`rtgen score`: answers to real two-bar calls, measured next to baselines (docs/score.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from rtgen.assets import default_play_model
from rtgen.commands.inspect_cmd import find_midi_files
from rtgen.config import SCHEMA, BadValue, PlaySettings
from rtgen.errors import RtgenError
from rtgen.evaluate import find_baseline

# (key, label, digits) of the table rows, in the order docs/score.md explains them
ROWS = (
    ("notes", "notes in 8 beats", 1),
    ("onsets_per_beat", "onsets per beat", 2),
    ("density_vs_call", "density / call (median)", 2),
    ("density_vs_truth", "density / truth (median)", 2),
    ("polyphony", "polyphony", 2),
    ("pc_l1_call", "pitch-class L1 to call", 2),
    ("pc_l1_truth", "pitch-class L1 to truth", 2),
    ("in_key", "in key", 3),
    ("mean_pitch_gap", "mean-pitch gap to truth", 1),
    ("range_gap", "range gap to truth", 1),
    ("interval_l1", "interval L1 to truth", 2),
    ("ioi_l1", "inter-onset L1 to truth", 2),
    ("grid_beat", "onsets on the beat", 2),
    ("grid_8th", "onsets on 8ths", 2),
    ("grid_16th", "onsets on 16ths", 2),
    ("grid_triplet", "onsets on triplets", 2),
    ("grid_off", "onsets off the grid", 2),
    ("echo", "echo of a call motif", 2),
    ("motif_share", "share of motifs from the call", 3),
    ("echo_transposed", "echo transposed only", 2),
    ("copy", "copy rate", 2),
    ("diversity", "diversity over seeds", 2),
    ("silent", "silent answers", 2),
    ("nll_bits_per_token", "NLL of the truth, bits/token", 3),
)
COLUMNS = (
    ("rtgen", "rtgen"),
    ("truth", "truth"),
    ("copy", "copy"),
    ("random_in_key", "random-in-key"),
    ("ngram", "n-gram"),
)


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(res: dict) -> str:
    """The figures as a plain table, a column per system."""
    systems = res["systems"]
    cols = [(key, label) for key, label in COLUMNS if systems.get(key)]
    width = max(len(label) for _, label, _ in ROWS)
    head = " " * width + "".join(f"{label:>15}" for _, label in cols)
    lines = [head]
    for key, label, digits in ROWS:
        cells = "".join(f"{_cell(systems[s].get(key), digits):>15}" for s, _ in cols)
        lines.append(f"{label:<{width}}{cells}")
    return "\n".join(lines)


def _summary(res: dict) -> str:
    left = ", ".join(f"{n} {why}" for why, n in sorted(res["left_out"].items())) or "none"
    return (
        f"{res['calls']} calls from {res['parts']} parts of {res['files']} files "
        f"({res['skipped']} files skipped; left out: {left}); {res['seeds']} seeds; "
        f"{res['seconds']:.1f} s"
    )


def _score_harmony(
    model_path: Path, seeds: int, strength: float, as_json: bool, data: list[Path] | None
) -> None:
    """`rtgen score --harmony`: the held-chord set, steering on and off (docs/harmony.md)."""
    from rtgen.score.harmony import render as render_harmony
    from rtgen.score.harmony import score_harmony
    from rtgen.sessions import open_session

    if data:
        raise RtgenError("--harmony brings its own held-chord set: give no MIDI files")
    try:
        strength = SCHEMA["harmony"].check(strength)  # play's --harmony rule, its one home
    except BadValue as exc:
        raise RtgenError(f"--strength {exc}") from None
    session = open_session(model_path, "cpu")
    res = score_harmony(session, seeds, strength, progress=sys.stderr.isatty())
    res = {"model": str(model_path), **res}
    if as_json:
        typer.echo(json.dumps(res))
        return
    typer.echo(
        f"{res['items']} held-chord items, {seeds} seeds, steering strength {strength:g}; "
        f"{res['seconds']:.1f} s"
    )
    typer.echo(render_harmony(res))


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score_command(
        data: list[Path] = typer.Argument(
            None, help="MIDI files and/or folders (recursive); none with --harmony."
        ),
        model: Path = typer.Option(
            None,
            "--model",
            "-m",
            help="Model file, as rtgen play takes (default: the one play runs on CPU).",
        ),
        seeds: int = typer.Option(5, "--seeds", min=1, help="Answers per call: seeds 0..N-1."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        harmony: bool = typer.Option(
            False,
            "--harmony",
            help="Score harmonic steering instead: chords held below C4 (ii-V-I, blues, "
            "modal vamps in 8 keys) under calls; answers with steering on and off.",
        ),
        strength: float = typer.Option(
            PlaySettings.harmony,
            "--strength",
            help="With --harmony: the steering strength (play's --harmony).",
        ),
    ) -> None:
        """Cut two-bar calls from the melodic lines of MIDI files, answer each through the
        real engine offline (rtgen play's defaults), and report musical metrics of the
        answers next to baselines on the same calls: the true continuation, a copy of the
        call, random notes in the call's key, and the n-gram through the same engine."""
        from rtgen.ngram import NGram
        from rtgen.score.runner import collect_calls, score
        from rtgen.sessions import open_session

        model_path = model or default_play_model("cpu")
        if harmony:
            _score_harmony(model_path, seeds, strength, as_json, data)
            return
        if not data:
            raise RtgenError("give MIDI files or folders to cut calls from (or --harmony)")
        files = find_midi_files(data)
        if not files:
            raise RtgenError("no MIDI files (*.mid, *.midi) in " + ", ".join(map(str, data)))
        session = open_session(model_path, "cpu")
        callset = collect_calls(files)
        if not callset.files:
            skipped = callset.skipped_files
            more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
            raise RtgenError(f"no readable MIDI files: {skipped[0]['reason']}{more}")
        if not callset.calls:
            where = f"{callset.files} file{'s' if callset.files > 1 else ''}"
            raise RtgenError(
                f"no calls in {where}: every two-bar window was left out "
                "(fewer than 3 notes, under 2 beats of sound, or a single pitch)"
            )
        ngram_path = find_baseline(model_path)
        ngram = NGram.load(ngram_path) if ngram_path else None
        res = score(callset, session, ngram, seeds, progress=sys.stderr.isatty())
        res = {"model": str(model_path), "ngram": str(ngram_path) if ngram_path else None, **res}
        if as_json:
            typer.echo(json.dumps(res))
            return
        for s in res["skipped_files"][:20]:
            typer.echo(f"skipped {s['reason']}")
        typer.echo(_summary(res))
        if ngram is None:
            typer.echo(f"no n-gram next to {model_path} (<name>.ngram.npz): no n-gram column")
        typer.echo(render(res))
