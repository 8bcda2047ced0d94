"""Harmonic steering: the player's left hand (or a chord track) sets the harmony rtgen plays
over (docs/harmony.md).

    route = HarmonyRoute(split=60)               # keys below C4 are harmony (--split C4)
    held = HeldChord()
    if route.is_harmony(msg, from_chords_port):  # the engine: harmony, never a call
        if held.feed(msg, t_ns): bias.chord = held.chord
    logits = bias.adjust(logits, gen)             # the planner, per token

The chord is read from the keys down when a key goes down (and when one comes up just after,
a legato change where the old chord is let go late); letting the whole chord go keeps it:
a comping hand plays a chord short and the harmony goes on until the next. Two or more keys
struck together (within TOGETHER_NS) while others are held are the new chord on their own:
a legato change spells the new chord before the old one is let go; one key added to a held
chord is read with it (C, E, G held, B-flat added: C7). The bias moves
the model's choice of pitch among its NOTE_ONs (their total, whether to play now, stays
the model's): tones outside the chord lose ``strength`` on the beat, half of it on the
half beat and a quarter between, so chord tones fall on strong beats and passing and
neighbour tones between them, as the model proposes. The first note after a change loses
twice ``strength`` wherever it falls: the line arrives on the new chord.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rtgen import midi
from rtgen import tokens as T
from rtgen.engine.bias import logsumexp
from rtgen.engine.chords import Chord, read_chord
from rtgen.engine.sampler import GenState

G = T.GRID_STEPS_PER_BEAT
ON = slice(T.NOTE_ON_BASE, T.NOTE_ON_BASE + 128)
LEGATO_NS = 200_000_000  # a key-up this soon after a key-down: a chord change still going on
TOGETHER_NS = 80_000_000  # keys struck within this of each other are struck together
# the share of ``strength`` a tone outside the chord loses, by where in the beat it falls
WEAK_SHARE = {0: 1.0, G // 2: 0.5}  # on the beat, on the half beat; elsewhere QUARTER
QUARTER = 0.25
# the model's last pitch loses this more: held to the chord's few tones, the model otherwise
# strikes one of them again and again (measured: a third fewer distinct pitches per answer
# without it, the same share as unsteered with it)
REPEAT = 1.5
ARRIVAL = 2.0  # the first note after a change: twice ``strength`` (it lands on the chord)


@dataclass(frozen=True)
class HarmonyRoute:
    """Which input messages are harmony: below the split (notes), on the chord channel (all
    of its messages), or from the chord port."""

    split: int | None = None  # MIDI pitch: notes below it are harmony (None: no split)
    channel: int | None = None  # 0-based chord channel of the main input (None: none)

    @property
    def on_main_input(self) -> bool:
        """Whether some harmony comes from the main input (below the split, or its chord
        channel): the keys it holds go with that input."""
        return self.split is not None or self.channel is not None

    def is_harmony(self, msg: tuple[int, ...], from_chords_port: bool = False) -> bool:
        if from_chords_port:
            return True
        ch = midi.channel_of(msg)
        if ch is None:
            return False
        if self.channel is not None:
            return ch == self.channel
        kind = midi.kind_of(msg[0])
        return (
            self.split is not None
            and kind in (midi.NOTE_ON, midi.NOTE_OFF)
            and len(msg) >= 2
            and msg[1] < self.split
        )


@dataclass
class HeldChord:
    """The keys down on the harmony side, and the chord they last spelled."""

    keys: dict[tuple[int, int], int] = field(default_factory=dict)  # (ch, pitch) -> t_ns
    chord: Chord | None = None
    last_on_ns: int = -(10**18)
    changes: int = 0

    def feed(self, msg: tuple[int, ...], t_ns: int) -> bool:
        """Follow one harmony message; True when the chord changed."""
        if len(msg) < 3:
            return False
        kind, ch = midi.kind_of(msg[0]), msg[0] & 0x0F
        if kind == midi.CONTROL_CHANGE and msg[1] in (
            midi.CC_ALL_NOTES_OFF,
            midi.CC_ALL_SOUND_OFF,
        ):
            self.let_go()
            return False
        if kind == midi.NOTE_ON and msg[2] > 0:
            self.keys[(ch, msg[1])] = t_ns
            self.last_on_ns = t_ns
            return self._read()
        if kind in (midi.NOTE_ON, midi.NOTE_OFF) and self.keys.pop((ch, msg[1]), None) is not None:
            if self.keys and t_ns - self.last_on_ns <= LEGATO_NS:
                return self._read()  # the old chord let go just after the new one came
        return False

    def let_go(self) -> None:
        """Every key up at once (all notes off, a chord port gone): the chord sounds on in
        the music, so it is kept; no key-up re-reads it."""
        self.keys.clear()

    def _read(self) -> bool:
        fresh = [p for (_, p), t in self.keys.items() if self.last_on_ns - t <= TOGETHER_NS]
        held = fresh if len(fresh) >= 2 else [p for _, p in self.keys]
        chord = read_chord(held)
        if chord is None or chord == self.chord:
            return False
        self.chord = chord
        self.changes += 1
        return True


class HarmonyBias:
    """The held chord as a preference among the model's NOTE_ONs."""

    def __init__(self, strength: float) -> None:
        self.strength = strength
        self._chord: Chord | None = None
        self._penalty: dict[float, np.ndarray] = {}  # share -> (128,) logits taken
        self._since = 0  # grid step the chord came at

    @property
    def chord(self) -> Chord | None:
        return self._chord

    def set_chord(self, chord: Chord | None, step: int) -> None:
        """``chord`` holds from grid step ``step`` on."""
        self._chord, self._since = chord, step
        self._penalty = {}
        if chord is None or self.strength <= 0:
            return
        outside = np.array([(p % 12) not in chord.tones for p in range(128)], dtype=np.float64)
        for share in (ARRIVAL, 1.0, 0.5, QUARTER):
            self._penalty[share] = self.strength * share * outside

    def adjust(self, logits: np.ndarray, gen: GenState) -> np.ndarray:
        """New logits with the chord's preference at ``gen``'s step (``logits`` untouched)."""
        if not self._penalty:
            return logits
        # no note since the change (one on its very step was planned before it came)
        arriving = gen.step - gen.steps_since_on <= self._since
        share = ARRIVAL if arriving else WEAK_SHARE.get(gen.step % G, QUARTER)
        z = np.array(logits, dtype=np.float64)
        seg = z[ON]
        before = logsumexp(seg)
        if not np.isfinite(before):
            return z  # no NOTE_ON open here: nothing to move
        seg -= self._penalty[share]
        if gen.recent:  # the chord's other tones before the same one again (see REPEAT)
            seg[gen.recent[-1][1]] -= REPEAT
        seg += before - logsumexp(seg)  # the NOTE_ONs' total stays the model's
        return z


def parse_split(text: str) -> int | None:
    """``--split``: "none" (or "") -> None; a note name ("C4", "F#3", "Bb2") or a MIDI
    number ("60") -> that pitch. ValueError saying what fits otherwise."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return None
    if text.isdigit() and 0 <= int(text) <= 127:
        return int(text)
    pitch = midi.parse_pitch_name(text)
    if pitch is None:
        raise ValueError(
            f"must be a note like C4 (middle C) or F#3, a MIDI number, or none, not {text!r}"
        )
    return pitch


def parse_chords(text: str) -> tuple[str, int | None]:
    """``--chords``: "" -> ("", None); "channel:N" (1..16) -> ("channel", N - 1); anything
    else -> ("port", None): a second input port's name."""
    text = text.strip()
    if not text:
        return "", None
    if text.lower().startswith("channel:"):
        number = text.split(":", 1)[1].strip()
        if not number.isdigit() or not 1 <= int(number) <= 16:
            raise ValueError(f"channel:N needs N in 1..16, not {text!r}")
        return "channel", int(number) - 1
    return "port", None
