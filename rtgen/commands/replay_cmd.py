"""`rtgen replay`: play a logged session (`rtgen play --log`) again, offline, to a MIDI file."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_command(
        log: Path = typer.Argument(..., help="Session log written by `rtgen play --log`."),
        out: Path = typer.Option(..., "-o", "--out", help="MIDI file to write."),
        model: Path = typer.Option(
            None, "--model", "-m", help="The session's model, if it has moved (sha256 checked)."
        ),
    ) -> None:
        """Replay a live session on a simulated clock: the same inputs at the same beat
        positions, the same seed and model, so the model plays exactly the same notes.
        Writes the player's and the model's parts, as `rtgen play --record` does."""
        from rtgen.io.midifile import write_midi
        from rtgen.replay import bar_aligned, replay

        res = replay(log, model)
        notes = bar_aligned(res.player, res.model, res.settings.beats_per_bar)
        write_midi(notes, out, bpm=res.settings.bpm)
        typer.echo(
            f"replayed {res.inputs} inputs ({res.calls} engine calls, seed {res.seed}): "
            f"{len(res.player)} player and {len(res.model)} model notes to {out}"
        )
