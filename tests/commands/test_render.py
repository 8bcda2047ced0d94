"""`rtgen render` (rtgen/render/, rtgen/commands/render_cmd.py): MIDI files as WAV files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from rtgen.errors import RtgenError
from rtgen.events import Note, Role
from rtgen.io.midifile import write_midi
from rtgen.render import builtin, fluid, render
from rtgen.render.wav import PEAK, RATE, read_wav
from tests.support.required import unavailable

RTGEN = [sys.executable, "-m", "rtgen"]
BPM = 100.0
HOP_S, WINDOW_S = 0.002, 0.005  # the onset detector's envelope: 5 ms windows every 2 ms
ONSET_TOLERANCE_S = 0.020
RISE = 2.0  # an onset: the envelope doubles over what it was 10-30 ms before
# Quiet, then a note; one struck over it (a louder note over a softer one); a soft one; a
# third-apart pair that beats (the detector must not call the beats onsets); the answer.
NOTES = [
    Note(1.0, 2.0, 60, 70, Role.PLAYER),
    Note(1.5, 2.5, 64, 127, Role.PLAYER),
    Note(3.0, 3.5, 67, 40, Role.PLAYER),
    Note(4.0, 5.0, 64, 100, Role.PLAYER),
    Note(4.0, 5.0, 67, 100, Role.PLAYER),
    Note(6.0, 7.5, 72, 110, Role.MODEL),
]


def _seconds(beat: float, bpm: float = BPM) -> float:
    return beat * 60.0 / bpm


def _envelope(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """RMS of the mono mix in WINDOW_S windows every HOP_S: (times at window centres, rms)."""
    mono = samples.mean(axis=1)  # (frames,)
    hop, win = int(HOP_S * rate), int(WINDOW_S * rate)
    starts = np.arange(0, len(mono) - win, hop)
    power = np.cumsum(np.concatenate([[0.0], mono**2]))
    rms = np.sqrt((power[starts + win] - power[starts]) / win)
    return (starts + win / 2) / rate, rms


def _onsets(samples: np.ndarray, rate: int) -> list[float]:
    """Times where the envelope rises RISE-fold over its maximum 10-30 ms before (and above
    1% of the loudest frame): the first frame of each such rise."""
    times, rms = _envelope(samples, rate)
    floor = 0.01 * rms.max()
    back_near, back_far = int(0.010 / HOP_S), int(0.030 / HOP_S)
    found, rising = [], False
    for k in range(len(rms)):
        before = rms[max(k - back_far, 0) : max(k - back_near, 0) + 1].max(initial=0.0)
        now = rms[k] > floor and rms[k] > RISE * before
        if now and not rising:
            found.append(float(times[k]))
        rising = now
    return found


def _assert_onsets_at(samples: np.ndarray, rate: int, starts_s: list[float]) -> None:
    found = _onsets(samples, rate)
    assert len(found) == len(starts_s), (found, starts_s)
    for want, got in zip(starts_s, found, strict=True):
        assert abs(got - want) <= ONSET_TOLERANCE_S, (want, got)


def _no_fluidsynth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PATH without a fluidsynth program: a fresh install."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))


def test_builtin_wav_has_every_note_at_its_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The built-in synth writes 16-bit stereo 44.1 kHz audio as long as the notes plus a
    short release, silent before the first note, with an onset within 20 ms of each note."""
    _no_fluidsynth(monkeypatch, tmp_path)
    midi, wav = tmp_path / "take.mid", tmp_path / "take.wav"
    write_midi(NOTES, midi, bpm=BPM)
    done = render(midi, wav)
    assert done.synth == "built-in synth" and "fluidsynth is not installed" in done.fallback
    samples, rate = read_wav(wav)
    assert rate == RATE and samples.shape[1] == 2
    last_end = _seconds(max(n.end for n in NOTES))
    assert last_end + 0.1 <= len(samples) / rate <= last_end + 0.5
    assert done.seconds == pytest.approx(len(samples) / rate)
    assert np.abs(samples).max() == pytest.approx(PEAK, abs=1e-3)  # normalised, not clipped
    assert np.sqrt((samples**2).mean()) > 0.05
    first = int(_seconds(NOTES[0].start) * rate)
    assert np.abs(samples[: first - 10]).max() < 1e-4  # silence until the first note
    _assert_onsets_at(samples, rate, sorted({_seconds(n.start) for n in NOTES}))


def test_builtin_follows_the_tempo_map(tmp_path: Path) -> None:
    """Notes after a tempo change sound at their times under the new tempo."""
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120), time=0))
    track.append(mido.Message("note_on", note=60, velocity=100, time=960))  # beat 2: 1.0 s
    track.append(mido.Message("note_off", note=60, time=480))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60), time=480))  # beat 4
    track.append(mido.Message("note_on", note=62, velocity=100, time=960))  # beat 6: 4.0 s
    track.append(mido.Message("note_off", note=62, time=480))
    mid.tracks.append(track)
    mid.save(tmp_path / "tempo.mid")
    render(tmp_path / "tempo.mid", tmp_path / "tempo.wav", synth="builtin")
    samples, rate = read_wav(tmp_path / "tempo.wav")
    _assert_onsets_at(samples, rate, [1.0, 4.0])
    assert 5.0 + 0.1 <= len(samples) / rate <= 5.0 + 0.5  # the last note ends at 5 s


def test_call_and_answer_sit_left_and_right(tmp_path: Path) -> None:
    """The player's notes lean left and the model's right, in two timbres."""
    notes = [Note(0.0, 1.0, 60, 100, Role.PLAYER), Note(4.0, 5.0, 60, 100, Role.MODEL)]
    write_midi(notes, tmp_path / "duo.mid", bpm=120)
    render(tmp_path / "duo.mid", tmp_path / "duo.wav", synth="builtin")
    samples, rate = read_wav(tmp_path / "duo.wav")
    call, answer = samples[: int(0.5 * rate)], samples[2 * rate : int(2.5 * rate)]
    assert np.abs(call[:, 0]).mean() > 1.5 * np.abs(call[:, 1]).mean()
    assert np.abs(answer[:, 1]).mean() > 1.5 * np.abs(answer[:, 0]).mean()
    assert builtin.VOICES[Role.PLAYER].ratios != builtin.VOICES[Role.MODEL].ratios


def test_velocity_sets_loudness() -> None:
    """A harder note is louder; velocity 1 is 36 dB below velocity 127."""
    soft = builtin.note_samples(0.5, 60, 30, builtin.VOICES[Role.PLAYER], RATE)
    hard = builtin.note_samples(0.5, 60, 120, builtin.VOICES[Role.PLAYER], RATE)
    assert np.abs(hard).max() > 4 * np.abs(soft).max()
    assert builtin.amplitude(1) == pytest.approx(10 ** (-36 / 20))


def _fake_fluidsynth(folder: Path, fail: bool = False) -> Path:
    """A `fluidsynth` program that records its arguments and writes a WAV where -F says (a
    quiet 1 s tone, so the normalising is seen), or fails as a broken SoundFont would."""
    folder.mkdir(exist_ok=True)
    script = folder / "fluidsynth"
    body = f"""#!{sys.executable}
import json, sys, wave
import numpy as np
open({str(folder / "argv.json")!r}, "w").write(json.dumps(sys.argv[1:]))
if {fail!r}:
    print("fluidsynth: error: Failed to load SoundFont", file=sys.stderr)
    sys.exit(1)
out = sys.argv[sys.argv.index("-F") + 1]
t = np.arange(44100) / 44100
tone = (0.1 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
with wave.open(out, "wb") as w:
    w.setnchannels(2); w.setsampwidth(2); w.setframerate(44100)
    w.writeframes(np.repeat(tone, 2).tobytes())
"""
    script.write_text(body)
    script.chmod(0o755)
    return folder


def _font_and_take(folder: Path) -> tuple[Path, Path]:
    """A SoundFont file (only its name matters to the fake fluidsynth) and a MIDI take."""
    font = folder / "gm.sf2"
    font.write_bytes(b"RIFF")
    midi = folder / "take.mid"
    write_midi(NOTES, midi, bpm=BPM)
    return font, midi


def _run(*args: str, path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": str(path)}
    return subprocess.run([*RTGEN, *args], capture_output=True, text=True, timeout=60, env=env)


def test_fluidsynth_is_called_with_the_soundfont_and_file(tmp_path: Path) -> None:
    """With fluidsynth on PATH and a SoundFont, auto runs it (fast render, 44.1 kHz, the
    SoundFont then the MIDI file) and normalises what it wrote."""
    bin_dir = _fake_fluidsynth(tmp_path / "bin")
    font, midi = _font_and_take(tmp_path)
    res = _run("render", str(midi), "--soundfont", str(font), path=bin_dir)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"wrote {tmp_path / 'take.wav'}: 1.0 s, FluidSynth with {font}"
    argv = json.loads((bin_dir / "argv.json").read_text())
    assert argv[-2:] == [str(font.resolve()), str(midi.resolve())]
    assert {"-n", "-i", "-F"} <= set(argv) and argv[argv.index("-r") + 1] == "44100"
    samples, _ = read_wav(tmp_path / "take.wav")
    assert np.abs(samples).max() == pytest.approx(PEAK, abs=1e-3)


def test_failed_fluidsynth_falls_back_or_is_an_error(tmp_path: Path) -> None:
    """auto falls back to the built-in synth and says why; --synth fluidsynth is one line,
    exit 2."""
    bin_dir = _fake_fluidsynth(tmp_path / "bin", fail=True)
    font, midi = _font_and_take(tmp_path)
    res = _run("render", str(midi), "--soundfont", str(font), path=bin_dir)
    assert res.returncode == 0, res.stderr
    assert "built-in synth (fluidsynth failed: fluidsynth: error: Failed to load" in res.stdout
    res = _run("render", str(midi), "--soundfont", str(font), "--synth", "fluidsynth", path=bin_dir)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert res.stderr.startswith("rtgen: error: fluidsynth failed:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.mid"], "missing.mid: no such file"),
        (["bad.mid"], "not a MIDI file"),
        (["good.mid", "-o", "no/such/dir/x.wav"], "no such folder"),
        (["good.mid", "--soundfont", "none.sf2"], "none.sf2: no such readable file"),
        (["good.mid", "--synth", "fluidsynth"], "fluidsynth is not installed"),
    ],
)
def test_user_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    """A missing or non-MIDI input, an unwritable output, a missing SoundFont or program:
    one line on stderr, exit 2, no traceback, no WAV."""
    (tmp_path / "bad.mid").write_bytes(b"not midi")
    write_midi(NOTES, tmp_path / "good.mid", bpm=BPM)
    (tmp_path / "bin").mkdir()
    paths = [str(tmp_path / a) if a.endswith((".mid", ".wav", ".sf2")) else a for a in args]
    res = _run("render", *paths, path=tmp_path / "bin")
    assert res.returncode == 2, res.stdout
    assert res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
    assert not list(tmp_path.glob("*.wav"))


def test_soundfont_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first known file, else the first match of a folder pattern, else None."""
    monkeypatch.setattr(fluid, "SOUNDFONT_FILES", (str(tmp_path / "FluidR3_GM.sf2"),))
    monkeypatch.setattr(fluid, "SOUNDFONT_GLOBS", (str(tmp_path / "fonts" / "*.sf2"),))
    assert fluid.find_soundfont() is None
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "b.sf2").write_bytes(b"RIFF")
    assert fluid.find_soundfont() == tmp_path / "fonts" / "b.sf2"
    (tmp_path / "FluidR3_GM.sf2").write_bytes(b"RIFF")
    assert fluid.find_soundfont() == tmp_path / "FluidR3_GM.sf2"
    with pytest.raises(RtgenError, match="--soundfont"):
        fluid.find_soundfont(tmp_path / "nope.sf2")


def test_real_fluidsynth_renders_the_notes(tmp_path: Path) -> None:
    """The real FluidSynth renders audible audio with an onset near each note."""
    if shutil.which("fluidsynth") is None or fluid.find_soundfont() is None:
        unavailable("FluidSynth", "apt-get install fluidsynth fluid-soundfont-gm")
    notes = [Note(1.0 + 2 * i, 2.0 + 2 * i, 60 + 4 * i, 100, Role.PLAYER) for i in range(3)]
    write_midi(notes, tmp_path / "take.mid", bpm=120)
    done = render(tmp_path / "take.mid", tmp_path / "take.wav", synth="fluidsynth")
    assert done.synth.startswith("FluidSynth")
    samples, rate = read_wav(tmp_path / "take.wav")
    assert len(samples) / rate >= _seconds(notes[-1].end, 120)
    assert np.sqrt((samples**2).mean()) > 0.01
    _assert_onsets_at(samples, rate, [_seconds(n.start, 120) for n in notes])
