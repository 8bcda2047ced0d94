"""rtgen generate and rtgen demo: the engine on a fake clock, written to files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rtgen.events import Role
from rtgen.io.midifile import read_midi
from rtgen.render.wav import RATE, read_wav

RTGEN = [sys.executable, "-m", "rtgen"]
DEMO_CALL = Path(__file__).resolve().parents[2] / "rtgen" / "assets" / "demo_call.mid"


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small untrained LSTM exported by the real CLI (the engine does not need it trained)."""
    from tests.support.checkpoints import make_ckpt

    folder = tmp_path_factory.mktemp("gen")
    ckpt = make_ckpt(folder, "lstm")
    res = subprocess.run([*RTGEN, "export", str(ckpt)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return ckpt.with_suffix(".onnx")


def test_generate_answers_a_primer_and_is_repeatable(tiny_onnx: Path, tmp_path: Path) -> None:
    """generate writes the primer and the model's notes on two tracks; a seed repeats exactly."""
    outs = []
    for name in ("a.mid", "b.mid"):
        res = subprocess.run(
            [
                *RTGEN,
                "generate",
                "--model",
                str(tiny_onnx),
                "--prime",
                str(DEMO_CALL),
                "-o",
                str(tmp_path / name),
                "--bars",
                "2",
                "--seed",
                "5",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, res.stderr
        outs.append(read_midi(tmp_path / name).notes)
    assert outs[0] == outs[1]
    roles = {n.role for n in outs[0]}
    assert roles == {Role.PLAYER, Role.MODEL}
    model_starts = [n.start for n in outs[0] if n.role == Role.MODEL]
    primer_end = max(n.end for n in outs[0] if n.role == Role.PLAYER)
    assert min(model_starts) >= primer_end  # continue mode: it plays when the primer stops


def test_demo_writes_midi_png_and_wav_without_any_ports(tiny_onnx: Path, tmp_path: Path) -> None:
    """rtgen demo needs no MIDI port and, on a fresh install (no fluidsynth), no synth: it
    writes demo.mid (call + answer), demo.png and an audible demo.wav (built-in synth)."""
    (tmp_path / "bin").mkdir()
    res = subprocess.run(
        [*RTGEN, "demo", "-o", str(tmp_path), "--model", str(tiny_onnx), "--seed", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": str(tmp_path / "bin")},  # no fluidsynth to be found
    )
    assert res.returncode == 0, res.stderr
    piece = read_midi(tmp_path / "demo.mid")
    call = [n for n in piece.notes if n.role == Role.PLAYER]
    answer = [n for n in piece.notes if n.role == Role.MODEL]
    assert len(call) == 12 and answer
    assert min(n.start for n in answer) >= max(n.end for n in call) + 1 - 1e-6  # after silence
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {tmp_path / 'demo.wav'}: " in res.stdout and "built-in synth" in res.stdout
    samples, _ = read_wav(tmp_path / "demo.wav")
    end_s = piece.seconds_at(piece.duration_beats)
    assert end_s <= len(samples) / RATE <= end_s + 0.5
    assert np.sqrt((samples**2).mean()) > 0.05  # audible
    _assert_demo_picture_names_pitches(piece.notes)


def _assert_demo_picture_names_pitches(notes: list) -> None:
    """The demo's piano roll (as demo draws it) names every C in view and every pitch played."""
    pytest.importorskip("matplotlib")
    from rtgen.midi import pitch_name
    from rtgen.plot import piano_roll_figure

    ax = piano_roll_figure(notes).axes[0]
    labels = {t.get_text() for t in ax.get_yticklabels()}
    lo, hi = ax.get_ylim()
    cs = {pitch_name(p) for p in range(0, 128, 12) if lo <= p <= hi}
    assert cs and cs | {pitch_name(n.pitch) for n in notes} <= labels


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--bpm", "0"], "--bpm"),
        (["--out-channel", "17"], "--out-channel must be 1..16"),
        (["--range", "80-40"], "--range 80-40"),
        (["--key", "H minor"], "--key"),
    ],
)
def test_invalid_play_values_are_one_line_errors(flags: list[str], needle: str) -> None:
    """Values a musician might mistype are refused before any port is opened, exit 2."""
    res = subprocess.run(
        [*RTGEN, "play", "--in", "x", "--out", "y", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr


def test_preset_with_unknown_key_is_refused(tmp_path: Path) -> None:
    """A preset key that does not exist is an error naming it, exit 2."""
    preset = tmp_path / "p.toml"
    preset.write_text('mode = "duet"\ntempo = 100\n')
    res = subprocess.run(
        [*RTGEN, "play", "--in", "x", "--out", "y", "--config", str(preset)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2 and "unknown key 'tempo'" in res.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["generate", "-o", "/no-such-dir/x.mid"], "cannot write"),
        (["demo", "-o", "/proc/rtgen-demo", "--seed", "1"], "cannot create"),
    ],
)
def test_unwritable_outputs_are_one_line_errors(args: list[str], needle: str) -> None:
    """An output that cannot be written is one line and exit 2, never a traceback."""
    res = subprocess.run([*RTGEN, *args], capture_output=True, text=True, timeout=120)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and lines[0].startswith("rtgen: error:") and needle in lines[0]


@pytest.mark.parametrize("command", ["generate", "demo"])
def test_negative_seed_is_refused_by_the_option(command: str, tmp_path: Path) -> None:
    """--seed -1 is a usage error (exit 2) naming --seed, not a numpy traceback."""
    res = subprocess.run(
        [*RTGEN, command, "-o", str(tmp_path / "x"), "--seed", "-1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2, res.stderr
    assert "--seed" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("mode", ["continue", "duet"])
def test_no_model_note_is_cut_to_nothing_at_the_end(mode: str) -> None:
    """A note due at the very end of a generated piece is not started (it used to be, and
    the closing panic ended it at once: a zero-length note in the file). Seeds 0-11 with the
    bundled model gave 28 such notes before the fix."""
    from rtgen.commands.generate_cmd import _session
    from rtgen.config import PlaySettings
    from rtgen.jam import jam_offline

    session, call = _session(None), read_midi(DEMO_CALL).notes
    notes = []
    for seed in range(12):
        settings = PlaySettings(mode=mode, seed=seed).validate()
        notes += jam_offline(session, settings, seed, call, 16.0).model
    assert len(notes) > 100
    assert min(n.end - n.start for n in notes) >= 1 / 24, sorted(
        notes, key=lambda n: n.end - n.start
    )[:3]
