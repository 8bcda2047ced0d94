"""`rtgen generate` and `rtgen demo`: the daemon's engine on a fake clock, to files."""

from __future__ import annotations

import random
from pathlib import Path

import typer

from rtgen.assets import ASSETS
from rtgen.commands.choices import API_HELP, MidiApi, api_option
from rtgen.commands.skips import read_one
from rtgen.config import MAX_BEATS, PlaySettings
from rtgen.engine.modes import MODES
from rtgen.errors import RtgenError
from rtgen.io.midifile import read_midi, write_midi
from rtgen.jam import beats_to_answer, jam_offline

DEMO_CALL = ASSETS / "demo_call.mid"


def _session(model: Path | None, device: str = "cpu"):
    from rtgen.sessions import open_play_session

    return open_play_session(model, device)  # as rtgen play


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate_command(
        out: Path = typer.Option(..., "-o", "--out", help="MIDI file to write."),
        prime: Path = typer.Option(
            None,
            "--prime",
            help="MIDI file the model continues or answers (without one it starts from nothing).",
        ),
        bars: int = typer.Option(4, "--bars", min=1, help="Bars to generate after the primer."),
        bpm: float = typer.Option(120.0, "--bpm", help="Tempo written to the file."),
        seed: int = typer.Option(0, "--seed", min=0, help="Random seed: same seed, same notes."),
        model: Path = typer.Option(None, "--model", "-m", help="ONNX model (default: as play)."),
        temperature: float = typer.Option(0.9, "--temperature", help="Sampling temperature."),
        mode: str = typer.Option("continue", "--mode", help=f"One of {', '.join(MODES)}."),
    ) -> None:
        """Offline continuation: the primer is played into the same engine and sampler the
        daemon runs, on a simulated clock, and what the model plays is written out."""
        settings = PlaySettings(
            mode=mode,
            bpm=bpm,
            temperature=temperature,
            seed=seed,
            # an answer is at most MAX_BEATS long: more bars than that change nothing
            answer_bars=min(bars, MAX_BEATS) if mode == "call-response" else 0,
        ).validate()
        notes = read_one(prime).notes if prime else []
        beats = bars * settings.beats_per_bar
        if mode == "call-response":  # the answer comes after the call's silence
            beats = beats_to_answer(settings, beats)
        res = jam_offline(_session(model), settings, seed, notes, beats)
        write_midi(res.player + res.model, out, bpm=bpm)
        typer.echo(
            f"wrote {out}: {len(res.player)} primer notes, {len(res.model)} model notes "
            f"(seed {seed})"
        )

    @app.command("demo")
    def demo_command(
        out_dir: Path = typer.Option(
            Path("rtgen-demo"),
            "-o",
            "--out-dir",
            help="Folder for demo.mid, demo.png and demo.wav.",
        ),
        port: str = typer.Option(
            None, "--out", help="Also play the result to this MIDI output (name or regex)."
        ),
        api: MidiApi | None = api_option(f"{API_HELP} For --out."),
        seed: int = typer.Option(None, "--seed", min=0, help="Random seed (default: random)."),
        model: Path = typer.Option(None, "--model", "-m", help="ONNX model (default: as play)."),
    ) -> None:
        """A first minute with no keyboard: a bundled two-bar call, answered by the bundled
        model through the real engine, written as MIDI, a piano roll and a WAV file (FluidSynth
        when installed with a SoundFont, else the built-in synth; played to a port with --out)."""
        seed = random.randrange(1 << 31) if seed is None else seed
        settings = PlaySettings(seed=seed).validate()
        call = read_midi(DEMO_CALL).notes
        res = jam_offline(_session(model), settings, seed, call, beats_to_answer(settings, 8.0))
        if not res.model:
            raise RtgenError("the model did not answer the demo call (try another --seed)")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RtgenError(f"-o {out_dir}: cannot create ({exc.strerror or exc})") from None
        mid, png = out_dir / "demo.mid", out_dir / "demo.png"
        write_midi(res.player + res.model, mid, bpm=settings.bpm)
        typer.echo(
            f"wrote {mid}: call {len(res.player)} notes, answer {len(res.model)} notes "
            f"(seed {seed})"
        )
        try:
            from rtgen.plot import plot_piano_roll

            plot_piano_roll(res.player + res.model, png, title=f"rtgen demo (seed {seed})")
            typer.echo(f"wrote {png}")
        except RtgenError as exc:
            typer.echo(f"no piano roll: {exc.format_message()}", err=True)
        try:
            from rtgen.render import render

            typer.echo(render(mid, out_dir / "demo.wav").summary())
        except RtgenError as exc:  # the MIDI file and picture are written: say, and go on
            typer.echo(f"no audio: {exc.format_message()}", err=True)
        if port:
            from rtgen.playback import play_notes

            play_notes(res.player + res.model, port, api.value if api else None, settings.bpm)
