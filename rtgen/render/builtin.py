"""The built-in synth: a few decaying harmonics per note, summed, in numpy alone.

It is there so that anyone can hear a MIDI file with nothing installed beyond rtgen. Each
note is synthesised on its own and added into a stereo buffer at its start sample, so notes
land on their times under the file's tempo map to the sample (no block scheduling). The call
(player) and the answer (model) have two voices and two places in the stereo field, so a
listener can tell them apart: the player a round piano-like tone a little left, the model a
hollower, bell-like one a little right.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rtgen.events import Note, Role
from rtgen.render.wav import RATE

ATTACK_S = 0.004  # long enough not to click, short enough to keep onsets sharp
RELEASE_S = 0.2  # after a note ends it falls 60 dB over this (a damper, not a cut)
SILENT_DB = 80.0  # a note is not synthesised past the point its decay is this far down
DYNAMIC_RANGE_DB = 36.0  # velocity 1 is this much below velocity 127 (a piano's range)
NYQUIST_MARGIN = 0.45  # partials above this fraction of the rate are left out (no aliasing)


@dataclass(frozen=True)
class Voice:
    """A timbre: partial ``i`` at ``ratios[i]`` x the note's frequency with ``levels[i]``,
    decaying ``1 + bright * i`` times faster than the fundamental; ``pan`` -1 left .. 1 right."""

    ratios: tuple[float, ...]
    levels: tuple[float, ...]
    bright: float
    decay_scale: float
    pan: float


VOICES = {
    # Whole-number partials falling off as 1/n: a round, piano-like tone.
    Role.PLAYER: Voice((1, 2, 3, 4, 5, 6), (1.0, 0.5, 0.3, 0.18, 0.1, 0.05), 0.8, 1.0, -0.35),
    # Odd partials and a faint inharmonic one: hollow and bell-like, clearly another player.
    Role.MODEL: Voice((1, 3, 5, 4.2), (1.0, 0.28, 0.1, 0.08), 1.5, 1.4, 0.35),
}


def frequency(pitch: int) -> float:
    """Equal temperament at A4 = 440 Hz, ``69 -> 440.0``."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def amplitude(velocity: int) -> float:
    """Velocity to linear gain, even steps in decibels: 127 -> 1.0, 1 -> -36 dB."""
    vel = min(max(velocity, 1), 127)
    return 10.0 ** (-DYNAMIC_RANGE_DB * (127 - vel) / 126 / 20)


def decay_time(pitch: int, voice: Voice) -> float:
    """Seconds for the fundamental to fall by 1/e: low notes ring longer, as on a piano."""
    return voice.decay_scale * min(max(2.5 * 2.0 ** (-(pitch - 48) / 18), 0.35), 4.0)


def note_samples(note_s: float, pitch: int, velocity: int, voice: Voice, rate: int) -> np.ndarray:
    """One note of ``note_s`` seconds, with its release tail: a mono float array."""
    tau = decay_time(pitch, voice)
    audible_s = tau * SILENT_DB / (20 * math.log10(math.e))  # a long hold is silent by then
    frames = int(round((min(note_s, audible_s) + RELEASE_S) * rate))
    t = np.arange(frames) / rate  # (frames,)
    f0 = frequency(pitch)
    tone = np.zeros(frames)
    for i, (ratio, level) in enumerate(zip(voice.ratios, voice.levels, strict=True)):
        if f0 * ratio >= NYQUIST_MARGIN * rate:
            continue
        tone += (
            level * np.exp(-t * (1 + voice.bright * i) / tau) * np.sin(2 * np.pi * f0 * ratio * t)
        )
    return tone * _envelope(t, note_s) * amplitude(velocity)


def _envelope(t: np.ndarray, note_s: float) -> np.ndarray:
    """A linear attack over ATTACK_S, flat while the key is down, then 60 dB down over
    RELEASE_S after it is released."""
    attack = np.minimum(t / ATTACK_S, 1.0)
    after = np.maximum(t - note_s, 0.0)
    return attack * np.exp(-after * math.log(1000.0) / RELEASE_S)


def _pan_gains(pan: float) -> np.ndarray:
    """Equal-power left and right gains for ``pan`` in -1..1, shape (2,)."""
    angle = (pan + 1) * math.pi / 4
    return np.array([math.cos(angle), math.sin(angle)])


def synthesize(
    notes: Sequence[Note], seconds_at: Callable[[float], float], rate: int = RATE
) -> np.ndarray:
    """``notes`` (times in beats, ``seconds_at`` the tempo map) as stereo samples, shape
    (frames, 2), float, not yet normalised. The length is the last note's end plus RELEASE_S;
    before the first note it is silent."""
    spans = [(seconds_at(n.start), seconds_at(max(n.end, n.start)), n) for n in notes]
    end_s = max((end for _, end, _ in spans), default=0.0) + RELEASE_S
    out = np.zeros((int(round(end_s * rate)) + 1, 2), dtype=np.float32)  # (frames, 2)
    for start_s, stop_s, note in spans:
        voice = VOICES.get(note.role, VOICES[Role.PLAYER])
        mono = note_samples(stop_s - start_s, note.pitch, note.velocity, voice, rate)
        first = int(round(start_s * rate))
        mono = mono[: len(out) - first]
        out[first : first + len(mono)] += (mono[:, None] * _pan_gains(voice.pan)).astype(np.float32)
    return out
