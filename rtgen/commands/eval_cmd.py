"""`rtgen eval`: how well a model predicts real music, against its n-gram baseline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import typer
from tqdm import tqdm

from rtgen.assets import default_model
from rtgen.commands.inspect_cmd import find_midi_files
from rtgen.commands.skips import require_some_read
from rtgen.errors import MidiFileError, RtgenError
from rtgen.evaluate import Score, find_baseline, make_scorer
from rtgen.io.midifile import read_midi
from rtgen.tokens import encode_notes


def _read_all(files: list[Path], progress: bool) -> tuple[list[np.ndarray], int, list[dict]]:
    """Each readable file's tokens, their notes in all, and the files skipped (with why)."""
    seqs: list[np.ndarray] = []
    skipped: list[dict] = []
    notes = 0
    quiet = not progress or len(files) < 20
    for f in tqdm(files, desc="reading", unit="file", disable=quiet, file=sys.stderr):
        try:
            piece = read_midi(f)
        except MidiFileError as exc:
            skipped.append({"path": str(f), "reason": exc.format_message()})
            continue
        seqs.append(np.asarray(encode_notes(piece.notes), dtype=np.int64))
        notes += len(piece.notes)
    return seqs, notes, skipped


def evaluate(
    model_path: Path, files: list[Path], baseline_path: Path | None, progress: bool = False
) -> dict:
    """Model and baseline NLL over ``files``; ``progress``: a bar on stderr, in tokens."""
    scorer = make_scorer(model_path)
    baseline = None
    if baseline_path is not None:
        from rtgen.ngram import NGram

        baseline = NGram.load(baseline_path)
    model_score, base_score = Score(), Score()
    seqs, notes, skipped = _read_all(files, progress)
    require_some_read([s["reason"] for s in skipped], len(files))
    # Counted in tokens, not files: an ONNX model steps token by token, and three large
    # multi-track files took 69 s with nothing on the screen.
    total = sum(len(seq) - 1 for seq in seqs)
    bar = tqdm(
        total=total, desc="eval", unit="tok", unit_scale=True, disable=not progress, file=sys.stderr
    )
    with bar:
        for seq in seqs:
            model_score.add(scorer.bits(seq, bar.update), len(seq) - 1)
            if baseline is not None:
                base_score.add(float(-baseline.log2_probs(seq).sum()), len(seq) - 1)
    out = {
        "model": str(model_path),
        "files": len(files) - len(skipped),
        "skipped": len(skipped),
        "skipped_files": skipped,
        "tokens": model_score.tokens,
        "notes": notes,
        "nll_bits_per_token": model_score.per_token,
        "nll_bits_per_note": model_score.bits / notes if notes else None,
        "baseline": str(baseline_path) if baseline_path else None,
        "baseline_nll_bits_per_token": base_score.per_token,
        "baseline_nll_bits_per_note": base_score.bits / notes if notes and baseline else None,
    }
    if out["nll_bits_per_token"] and out["baseline_nll_bits_per_token"]:
        out["ratio_to_baseline"] = out["nll_bits_per_token"] / out["baseline_nll_bits_per_token"]
    return out


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_command(
        data: list[Path] = typer.Argument(..., help="MIDI files and/or folders (recursive)."),
        model: Path = typer.Option(
            None, "--model", "-m", help="Checkpoint (.ckpt) or ONNX model; default: bundled."
        ),
        baseline: Path = typer.Option(
            None,
            "--baseline",
            help="n-gram baseline (.npz); default: the one saved next to the model.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Negative log-likelihood (bits per token and per note) of a model on MIDI files,
        tokenized with the model's vocabulary, next to its n-gram baseline on the same
        tokens. Lower is better."""
        model_path = model or default_model()
        # The same checks, in the same order, as open_session (play, info, generate): else a
        # .txt or .mid would go to the checkpoint loader and get its unrelated complaint.
        if not model_path.is_file():
            raise RtgenError(f"{model_path}: no such model file")
        if model_path.suffix not in (".onnx", ".ckpt", ".pt"):
            raise RtgenError(f"{model_path}: unknown model format (expected .onnx, .ckpt or .pt)")
        files = find_midi_files(data)
        if not files:
            raise RtgenError("no MIDI files (*.mid, *.midi) in " + ", ".join(map(str, data)))
        base = baseline or find_baseline(model_path)
        if baseline is not None and not baseline.is_file():
            raise RtgenError(f"{baseline}: no such file")
        res = evaluate(model_path, files, base, progress=sys.stderr.isatty())
        if as_json:
            typer.echo(json.dumps(res))
            return
        for s in res["skipped_files"][:20]:
            typer.echo(f"skipped {s['reason']}")
        typer.echo(
            f"{res['files']} files, {res['skipped']} skipped, {res['tokens']} tokens, "
            f"{res['notes']} notes"
        )
        if res["nll_bits_per_token"] is None:
            return
        typer.echo(
            f"model    {res['nll_bits_per_token']:.4f} bits/token  "
            f"{res['nll_bits_per_note']:.3f} bits/note  ({model_path.name})"
        )
        if res["baseline_nll_bits_per_token"] is not None:
            typer.echo(
                f"baseline {res['baseline_nll_bits_per_token']:.4f} bits/token  "
                f"{res['baseline_nll_bits_per_note']:.3f} bits/note  (n-gram)"
            )
            typer.echo(f"ratio    {res['ratio_to_baseline']:.3f} (model / baseline)")
        else:
            typer.echo("baseline: none found next to the model (use --baseline)")
