"""The one vocabulary table, and the streaming encoder and decoder that read it.

Every other part of rtgen (trainer, exporter, listener, sampler masks, model metadata) reads
token ids from the table below, never from literals.

Time is beat-relative: a grid of ``GRID_STEPS_PER_BEAT`` steps per beat (1/12 beat, so 16ths,
8th- and 16th-triplets land exactly). ``SHIFT(k)`` advances k steps; longer gaps are several
shifts. ``ROLE`` and ``VELOCITY`` are emitted only when they change, and only before a NOTE_ON:
a note-off belongs to whoever struck the note.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rtgen.events import Note, NoteEvent, Role

VOCAB_VERSION = "rtgen-tokens-1"
GRID_STEPS_PER_BEAT = 12
VELOCITY_BINS = 32
MAX_SHIFT = 48

# The table: (kind, count) blocks laid out in order. Ids are the running offsets.
TABLE: tuple[tuple[str, int], ...] = (
    ("PAD", 1),
    ("BOS", 1),
    ("EOS", 1),
    ("ROLE", len(Role)),  # ROLE(player), ROLE(model)
    ("NOTE_ON", 128),  # pitch 0..127
    ("NOTE_OFF", 128),  # pitch 0..127
    ("VELOCITY", VELOCITY_BINS),  # bin 0..31
    ("SHIFT", MAX_SHIFT),  # SHIFT(k) for k = 1..48 sits at offset k - 1
)


def _offsets() -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    start = 0
    for kind, count in TABLE:
        out[kind] = (start, count)
        start += count
    return out


OFFSETS: dict[str, tuple[int, int]] = _offsets()
VOCAB_SIZE: int = sum(count for _, count in TABLE)

PAD = OFFSETS["PAD"][0]
BOS = OFFSETS["BOS"][0]
EOS = OFFSETS["EOS"][0]
ROLE_BASE = OFFSETS["ROLE"][0]
NOTE_ON_BASE = OFFSETS["NOTE_ON"][0]
NOTE_OFF_BASE = OFFSETS["NOTE_OFF"][0]
VELOCITY_BASE = OFFSETS["VELOCITY"][0]
SHIFT_BASE = OFFSETS["SHIFT"][0]


def role_token(role: Role) -> int:
    return ROLE_BASE + int(role)


def note_on(pitch: int) -> int:
    if not 0 <= pitch <= 127:
        raise ValueError(f"pitch {pitch} is outside 0..127")
    return NOTE_ON_BASE + pitch


def note_off(pitch: int) -> int:
    if not 0 <= pitch <= 127:
        raise ValueError(f"pitch {pitch} is outside 0..127")
    return NOTE_OFF_BASE + pitch


def velocity_token(bin_: int) -> int:
    if not 0 <= bin_ < VELOCITY_BINS:
        raise ValueError(f"velocity bin {bin_} is outside 0..{VELOCITY_BINS - 1}")
    return VELOCITY_BASE + bin_


def shift_token(steps: int) -> int:
    if not 1 <= steps <= MAX_SHIFT:
        raise ValueError(f"shift {steps} is outside 1..{MAX_SHIFT}")
    return SHIFT_BASE + steps - 1


def velocity_to_bin(velocity: int) -> int:
    """Velocity 1..127 -> bin 0..31; 1 and 127 are the exact ends."""
    v = min(127, max(1, int(velocity)))
    return round((v - 1) * (VELOCITY_BINS - 1) / 126)


def bin_to_velocity(bin_: int) -> int:
    """The velocity a bin plays back as; velocity_to_bin(bin_to_velocity(b)) == b."""
    return 1 + round(bin_ * 126 / (VELOCITY_BINS - 1))


def shifts_for(steps: int) -> list[int]:
    """Tokens that advance ``steps`` grid steps: as many SHIFT(48) as fit, then the rest."""
    full, rest = divmod(steps, MAX_SHIFT)
    out = [shift_token(MAX_SHIFT)] * full
    if rest:
        out.append(shift_token(rest))
    return out


def kind_of(token: int) -> tuple[str, int]:
    """(kind, argument) of a token id; the argument is the pitch, bin, role or shift."""
    for kind, (start, count) in OFFSETS.items():
        if start <= token < start + count:
            arg = token - start
            return kind, arg + 1 if kind == "SHIFT" else arg
    raise ValueError(f"token {token} is outside the vocabulary (size {VOCAB_SIZE})")


def token_name(token: int) -> str:
    kind, arg = kind_of(token)
    if kind in ("PAD", "BOS", "EOS"):
        return kind
    if kind == "ROLE":
        return f"ROLE({Role(arg).name.lower()})"
    return f"{kind}({arg})"


def describe() -> dict:
    """The vocabulary as it goes into checkpoints and ONNX metadata."""
    return {
        "version": VOCAB_VERSION,
        "size": VOCAB_SIZE,
        "grid_steps_per_beat": GRID_STEPS_PER_BEAT,
        "table": [[kind, count] for kind, count in TABLE],
    }


def to_step(beat: float) -> int:
    """Nearest grid step of a time in beats."""
    return int(round(beat * GRID_STEPS_PER_BEAT))


@dataclass
class StreamingEncoder:
    """Turns timed note events into tokens, one event at a time.

    Events must come in time order. The same object serves a MIDI file (fed all its events)
    and a live keyboard (fed as notes arrive, with ``advance`` on each beat), so training data
    and live data are encoded by one code path.

    Shifts are emitted lazily, just before the next note token: a gap is always split the
    same way (``shifts_for``: SHIFT(48)s, then the rest), however often the clock ticked
    during it. ``advance`` only moves the clock; ``pending`` shows the shifts that a token
    played now would follow (a planner feeds them to the model speculatively, after a
    snapshot, and rolls them back). Trailing silence after the last note-off emits nothing.

    A note-off that lands on its note-on's grid step is pushed one step later, so no note
    ever has zero length on the grid; later events never move back in time.
    """

    step: int = 0  # grid step the token stream has reached (shifts emitted up to here)
    now: int = 0  # grid step the clock has reached (advance); the gap to ``step`` is pending
    role: Role | None = None
    velocity_bin: int | None = None
    sounding: dict[int, int] = field(default_factory=dict)  # pitch -> on step

    def advance(self, beat: float) -> list[int]:
        """Move the clock to ``beat`` (never backwards); emits no token, so returns [].

        An eager SHIFT here would split gaps by beat (SHIFT(12) x 5) where a file encodes
        SHIFT(48) SHIFT(12): live and training streams would drift apart.
        """
        self.now = max(self.now, to_step(beat))
        return []

    def pending(self) -> list[int]:
        """Shifts (not yet emitted) from the stream's step up to the clock's ``now``."""
        return shifts_for(max(0, self.now - self.step))

    def _advance_to_step(self, target: int) -> list[int]:
        if target <= self.step:
            return []
        out = shifts_for(target - self.step)
        self.step = target
        self.now = max(self.now, target)
        return out

    def feed(self, event: NoteEvent) -> list[int]:
        """Tokens for one event (possibly none, e.g. a note-off for a silent pitch)."""
        target = max(to_step(event.beat), self.step)
        if not event.is_on:
            on_step = self.sounding.pop(event.pitch, None)
            if on_step is None:
                return []
            out = self._advance_to_step(max(target, on_step + 1))
            out.append(note_off(event.pitch))
            return out
        out = self._advance_to_step(target)
        if event.pitch in self.sounding:
            # A re-strike of a sounding pitch ends the old note first (one step later if
            # it would otherwise be empty).
            on_step = self.sounding.pop(event.pitch)
            out += self._advance_to_step(max(self.step, on_step + 1))
            out.append(note_off(event.pitch))
        if event.role != self.role:
            out.append(role_token(event.role))
            self.role = event.role
        vbin = velocity_to_bin(event.velocity)
        if vbin != self.velocity_bin:
            out.append(velocity_token(vbin))
            self.velocity_bin = vbin
        out.append(note_on(event.pitch))
        self.sounding[event.pitch] = self.step
        return out

    def finish(self) -> list[int]:
        """Release whatever still sounds (one step on at least) and close with EOS."""
        out: list[int] = []
        for pitch, on_step in sorted(self.sounding.items()):
            out += self._advance_to_step(max(self.step, on_step + 1))
            out.append(note_off(pitch))
        self.sounding.clear()
        out.append(EOS)
        return out


def encode_notes(notes: list[Note], bos: bool = True, eos: bool = True) -> list[int]:
    """One-pass encoding of a whole piece: the streaming encoder fed every event."""
    from rtgen.events import notes_to_events

    enc = StreamingEncoder()
    out = [BOS] if bos else []
    for ev in notes_to_events(notes):
        out += enc.feed(ev)
    tail = enc.finish()
    return out + (tail if eos else tail[:-1])


@dataclass
class Decoder:
    """Turns tokens back into notes on the grid; tolerant of any token sequence.

    A NOTE_OFF for a silent pitch is ignored; a NOTE_ON for a sounding pitch ends the old
    note first. Notes still sounding at the end are closed at the last step (min. 1 step).
    """

    step: int = 0
    role: Role = Role.PLAYER
    velocity: int = 80
    sounding: dict[int, tuple[int, int, Role]] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)

    def feed(self, token: int) -> Note | None:
        """Consume one token; returns a note when one is completed."""
        kind, arg = kind_of(token)
        if kind == "SHIFT":
            self.step += arg
        elif kind == "ROLE":
            self.role = Role(arg)
        elif kind == "VELOCITY":
            self.velocity = bin_to_velocity(arg)
        elif kind == "NOTE_ON":
            done = self._close(arg)
            self.sounding[arg] = (self.step, self.velocity, self.role)
            return done
        elif kind == "NOTE_OFF":
            return self._close(arg)
        elif kind == "BOS":
            self.__init__()  # a new piece starts from scratch
        return None

    def _close(self, pitch: int) -> Note | None:
        held = self.sounding.pop(pitch, None)
        if held is None:
            return None
        on_step, velocity, role = held
        end = max(self.step, on_step + 1)
        g = GRID_STEPS_PER_BEAT
        note = Note(on_step / g, end / g, pitch, velocity, role)
        self.notes.append(note)
        return note

    def finish(self) -> list[Note]:
        for pitch in sorted(self.sounding):
            self._close(pitch)
        return sorted(self.notes)


def decode_tokens(tokens: list[int]) -> list[Note]:
    dec = Decoder()
    for t in tokens:
        if t == EOS:
            break
        dec.feed(int(t))
    return dec.finish()
