"""`rtgen plot`: a MIDI file (a recording of player and model) as a piano-roll picture."""

from __future__ import annotations

from pathlib import Path

import typer

from rtgen.commands.skips import read_one
from rtgen.paths import check_writable


def register(app: typer.Typer) -> None:
    @app.command("plot")
    def plot_command(
        path: Path = typer.Argument(..., help="MIDI file to draw."),
        out: Path = typer.Option(
            None,
            "-o",
            "--out",
            help="Picture to write, in the format of its extension (png, pdf, svg, html, jpg...; "
            "none: .png is added). Default: FILE with .png.",
        ),
        title: str = typer.Option(None, "--title", help="Title (default: the file's name)."),
        seconds: bool = typer.Option(
            False, "--seconds", help="Time axis in seconds (tempo map) instead of bars."
        ),
        beats_per_bar: int = typer.Option(4, "--beats-per-bar", min=1, help="Beats in a bar."),
        html: bool = typer.Option(
            False,
            "--html",
            help="Write a zoomable page instead (FILE.html: the roll as SVG; Ctrl + wheel "
            "zooms, drag moves), one file that opens in any browser; the same as -o NAME.html.",
        ),
    ) -> None:
        """Draw a MIDI file as a piano roll: the call (player notes) blue, the answer (model
        notes: a track named "model") orange, each stretch labelled; every C and every pitch
        played named on the pitch axis; velocity as shade; beat and bar grid. An .svg or .pdf
        picture zooms without blurring. Prints the picture's path."""
        from rtgen.plot import image_format, plot_piano_roll  # lazy: others skip matplotlib

        out = out or path.with_suffix(".html" if html else ".png")
        if html and out.suffix.lower() != ".html":
            out = out.with_name(out.name + ".html")  # -o roll --html: roll.html
        if not out.suffix:
            out = out.with_name(out.name + ".png")  # else a PNG in a file named "out"
        check_writable(out, "-o")
        image_format(out)  # an unsupported extension fails before the MIDI file is read
        piece = read_one(path)
        plot_piano_roll(
            piece.notes,
            out,
            title=piece.title if title is None else title,
            beats_per_bar=beats_per_bar,
            bpm=piece.tempos[0][1],
            seconds=seconds,
            tempos=piece.tempos,
        )
        typer.echo(str(out))
