"""`rtgen render`: a MIDI file (a jam, the demo) as a WAV file anyone can listen to."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from rtgen.paths import check_writable
from rtgen.render import SYNTHS

Synth = Enum("Synth", [(name, name) for name in SYNTHS], type=str)  # typer shows the choices


def register(app: typer.Typer) -> None:
    @app.command("render")
    def render_command(
        path: Path = typer.Argument(..., help="MIDI file to render."),
        out: Path = typer.Option(
            None, "-o", "--out", help="WAV file to write. Default: FILE with .wav."
        ),
        synth: Synth = typer.Option(
            "auto",
            "--synth",
            help="fluidsynth: the fluidsynth program with a General MIDI SoundFont; builtin: "
            "rtgen's own small synth (numpy, nothing to install; call and answer in two "
            "timbres, left and right); auto: fluidsynth when both are found, else builtin.",
        ),
        soundfont: Path = typer.Option(
            None,
            "--soundfont",
            help="SoundFont (.sf2) for fluidsynth. Default: the first of "
            "/usr/share/sounds/sf2/FluidR3_GM.sf2, default-GM.sf2, /usr/share/soundfonts/*.sf2 "
            "(Debian: apt-get install fluidsynth fluid-soundfont-gm).",
        ),
        rate: int = typer.Option(44100, "--rate", min=8000, max=192000, help="Sample rate, Hz."),
    ) -> None:
        """Render a MIDI file to a 16-bit stereo WAV file, peak at -1 dBFS. Prints the file,
        its length and the synth used (and, when auto fell back to the built-in synth, why)."""
        from rtgen.render import render

        out = out or path.with_suffix(".wav")
        check_writable(out, "-o")
        typer.echo(render(path, out, synth.value, soundfont, rate).summary())
