"""MIDI files as audio (WAV): FluidSynth with a General MIDI SoundFont when both are installed,
else the built-in synth (numpy only), so anyone can listen to a jam or the demo.

``render`` is the one entry point: ``rtgen render`` and ``rtgen demo`` both call it, and it
says which synth it used and, when it fell back to the built-in one, why.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

from rtgen.errors import RtgenError
from rtgen.io.midifile import Piece, read_midi
from rtgen.render import builtin, fluid
from rtgen.render.wav import RATE, normalise, write_wav

SYNTHS = ("auto", "builtin", "fluidsynth")  # auto: FluidSynth when it can, else built-in


@dataclass(frozen=True)
class Rendering:
    """What ``render`` wrote: the file, the synth in words, the audio's length, and when auto
    fell back to the built-in synth, why (else "")."""

    path: Path
    synth: str
    seconds: float
    fallback: str = ""

    def summary(self) -> str:
        """One line for the terminal: ``wrote x.wav: 9.7 s, built-in synth (why)``."""
        why = f" ({self.fallback})" if self.fallback else ""
        return f"wrote {self.path}: {self.seconds:.1f} s, {self.synth}{why}"


def render(
    midi: Path,
    out: Path,
    synth: str = "auto",
    soundfont: Path | None = None,
    rate: int = RATE,
) -> Rendering:
    """Render the MIDI file ``midi`` into the WAV file ``out`` (16-bit, stereo, ``rate`` Hz,
    peak -1 dBFS) with ``synth``, one of SYNTHS. An unreadable input, an unwritable output,
    a missing FluidSynth or SoundFont when asked for, or a failed run is a one-line
    RtgenError; with "auto" a missing FluidSynth or SoundFont, or a failed run, falls back."""
    if synth not in SYNTHS:
        raise RtgenError(f"--synth {synth}: use one of {', '.join(SYNTHS)}")
    piece = read_midi(Path(midi))  # read first: a bad file is an error whichever synth plays
    seconds = piece.seconds_at(piece.duration_beats)
    if synth == "builtin":
        return _builtin(piece, out, rate, "")
    program, font = fluid.find_program(), fluid.find_soundfont(soundfont)
    missing = _missing(program, font)
    if missing and (synth == "fluidsynth" or soundfont is not None):
        raise RtgenError(missing)
    if missing:
        return _builtin(piece, out, rate, missing)
    try:
        fluid.render_fluidsynth(program, font, midi, out, seconds, rate)
    except RtgenError as exc:
        if synth == "fluidsynth" or _is_output_error(exc, out):
            raise
        return _builtin(piece, out, rate, exc.format_message())
    return Rendering(Path(out), f"FluidSynth with {font}", _length(out))


def _missing(program: str | None, font: Path | None) -> str:
    """Why FluidSynth cannot run, or "" when it can."""
    if program is None:
        return fluid.NO_PROGRAM
    return fluid.NO_SOUNDFONT if font is None else ""


def _is_output_error(exc: RtgenError, out: Path) -> bool:
    """Whether ``exc`` is about writing ``out``: the built-in synth would fail the same way."""
    return exc.format_message().startswith(f"{out}:")


def _builtin(piece: Piece, out: Path, rate: int, why: str) -> Rendering:
    samples = normalise(builtin.synthesize(piece.notes, piece.seconds_at, rate))
    write_wav(out, samples, rate)
    return Rendering(Path(out), "built-in synth", len(samples) / rate, why)


def _length(path: Path) -> float:
    """Seconds of audio in the WAV file ``path``."""
    with wave.open(str(path), "rb") as src:
        return src.getnframes() / src.getframerate()
