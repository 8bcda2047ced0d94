"""The vocabulary table, the streaming encoder and the decoder (rtgen/tokens.py)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtgen.events import Note, NoteEvent, Role, notes_to_events
from rtgen.tokens import (
    BOS,
    EOS,
    GRID_STEPS_PER_BEAT,
    MAX_SHIFT,
    PAD,
    VELOCITY_BINS,
    VOCAB_SIZE,
    Decoder,
    StreamingEncoder,
    bin_to_velocity,
    decode_tokens,
    encode_notes,
    kind_of,
    note_off,
    note_on,
    role_token,
    shift_token,
    shifts_for,
    token_name,
    velocity_to_bin,
    velocity_token,
)

G = GRID_STEPS_PER_BEAT
SEEDED = settings(derandomize=True, max_examples=300, deadline=None)

# A pitch drawn from a narrow band half the time, so chords and neighbours collide often.
pitches = st.one_of(st.integers(58, 64), st.integers(0, 127))
# Gaps between notes of one pitch: often 0 (touching, end == start), sometimes longer
# than MAX_SHIFT so that shift runs of several tokens occur.
gaps = st.one_of(st.just(0), st.integers(0, 8), st.integers(0, 5 * MAX_SHIFT))


@st.composite
def voice(draw: st.DrawFn, pitch: int) -> list[Note]:
    """Non-overlapping notes of one pitch, on the grid, each at least one step long."""
    step = draw(st.integers(0, 2 * MAX_SHIFT))
    notes = []
    for _ in range(draw(st.integers(1, 6))):
        step += draw(gaps)
        length = draw(st.one_of(st.integers(1, 3), st.integers(1, 4 * G)))
        velocity = bin_to_velocity(draw(st.integers(0, VELOCITY_BINS - 1)))
        role = draw(st.sampled_from([Role.PLAYER, Role.MODEL]))
        notes.append(Note(step / G, (step + length) / G, pitch, velocity, role))
        step += length
    return notes


@st.composite
def grid_pieces(draw: st.DrawFn) -> list[Note]:
    """On-grid notes, no two of one pitch overlapping, in no particular order."""
    chosen = draw(st.lists(pitches, min_size=0, max_size=8, unique=True))
    notes = [n for p in chosen for n in draw(voice(p))]
    return draw(st.permutations(notes))


def live_encode(notes: list[Note], ticks: list[float] | None = None) -> list[int]:
    """Feed events one by one as a listener would, calling advance() on each beat crossed."""
    enc = StreamingEncoder()
    out = [BOS]
    beat = 0
    for ev in notes_to_events(notes):
        while beat + 1 <= ev.beat:
            beat += 1
            out += enc.advance(beat)
        for t in ticks or []:
            if t <= ev.beat:
                out += enc.advance(t)
        out += enc.feed(ev)
    out += enc.advance(beat + 3)  # the clock runs on after the last note
    return out + enc.finish()


# --- round trip -----------------------------------------------------------------------


@SEEDED
@given(grid_pieces())
def test_round_trip_of_on_grid_notes(notes: list[Note]) -> None:
    """Decoding the encoding of any on-grid piece gives back exactly its notes, sorted."""
    assert decode_tokens(encode_notes(notes)) == sorted(notes)


@SEEDED
@given(grid_pieces())
def test_shift_runs_are_canonical(notes: list[Note]) -> None:
    """In an encoding, only SHIFT(48) is ever followed by another shift."""
    tokens = encode_notes(notes)
    for a, b in pairwise(tokens):
        if kind_of(a)[0] == "SHIFT" and kind_of(b)[0] == "SHIFT":
            assert a == shift_token(MAX_SHIFT)


# --- streaming equals one pass ----------------------------------------------------------


@SEEDED
@given(grid_pieces())
def test_streaming_with_beat_ticks_equals_file_encoding(notes: list[Note]) -> None:
    """Feeding events one at a time with advance() on every beat gives the file's tokens."""
    assert live_encode(notes) == encode_notes(notes)


@SEEDED
@given(grid_pieces(), st.lists(st.integers(0, 40 * G).map(lambda s: s / G), max_size=30))
def test_streaming_with_any_clock_ticks_equals_file_encoding(
    notes: list[Note], ticks: list[float]
) -> None:
    """advance() at any times up to the next event never changes the token stream."""
    assert live_encode(notes, sorted(ticks)) == encode_notes(notes)


def test_long_gap_is_split_the_same_live_and_offline() -> None:
    """A 5-beat rest is SHIFT(48) SHIFT(12) whether or not the clock ticked each beat."""
    notes = [Note(0.0, 1.0, 60), Note(6.0, 7.0, 62)]
    live = live_encode(notes)
    assert live == encode_notes(notes)
    gap = live[live.index(note_off(60)) + 1 : live.index(note_on(62))]
    assert gap == [shift_token(48), shift_token(12)]


def test_advance_emits_nothing_and_pending_previews_the_shifts() -> None:
    """advance() only moves the clock; pending() is what a note struck now would follow."""
    enc = StreamingEncoder()
    enc.feed(NoteEvent(0.0, 60, 80))
    enc.feed(NoteEvent(1.0, 60, 0))
    assert [enc.advance(b) for b in (2, 3, 4, 5, 6)] == [[]] * 5
    assert enc.pending() == [shift_token(48), shift_token(12)]
    assert enc.feed(NoteEvent(6.0, 62, 80)) == [shift_token(48), shift_token(12), note_on(62)]
    assert enc.pending() == []
    enc.advance(5.0)  # the clock never goes back
    assert enc.pending() == [] and enc.now == 6 * G


# --- the table at its boundaries -------------------------------------------------------


def test_table_ids_are_pinned() -> None:
    """The special, role, note, velocity and shift tokens sit at fixed ids."""
    assert (PAD, BOS, EOS) == (0, 1, 2)
    assert (role_token(Role.PLAYER), role_token(Role.MODEL)) == (3, 4)
    assert (note_on(0), note_on(127)) == (5, 132)
    assert (note_off(0), note_off(127)) == (133, 260)
    assert (velocity_token(0), velocity_token(VELOCITY_BINS - 1)) == (261, 292)
    assert (shift_token(1), shift_token(MAX_SHIFT)) == (293, 340)
    assert VOCAB_SIZE == 341


def test_every_id_has_a_unique_name_and_kind_of_round_trips() -> None:
    """Each id has its own name, and kind_of's (kind, argument) rebuilds the same id."""
    build = {
        "PAD": lambda _: PAD,
        "BOS": lambda _: BOS,
        "EOS": lambda _: EOS,
        "ROLE": lambda a: role_token(Role(a)),
        "NOTE_ON": note_on,
        "NOTE_OFF": note_off,
        "VELOCITY": velocity_token,
        "SHIFT": shift_token,
    }
    names = [token_name(t) for t in range(VOCAB_SIZE)]
    assert len(set(names)) == VOCAB_SIZE
    assert names[3:5] == ["ROLE(player)", "ROLE(model)"]
    assert names[note_on(60)] == "NOTE_ON(60)" and names[shift_token(48)] == "SHIFT(48)"
    for t in range(VOCAB_SIZE):
        kind, arg = kind_of(t)
        assert build[kind](arg) == t


@pytest.mark.parametrize("bad", [-1, VOCAB_SIZE, 10_000])
def test_ids_outside_the_table_are_rejected(bad: int) -> None:
    """kind_of and token_name raise ValueError for an id outside the vocabulary."""
    with pytest.raises(ValueError, match="outside the vocabulary"):
        kind_of(bad)
    with pytest.raises(ValueError):
        token_name(bad)


@pytest.mark.parametrize(
    "helper, bad",
    [(note_on, 128), (note_on, -1), (note_off, 128), (velocity_token, 32), (shift_token, 0)]
    + [(shift_token, MAX_SHIFT + 1)],
)
def test_token_helpers_reject_out_of_range_arguments(helper, bad: int) -> None:
    """Each token helper raises ValueError for an argument outside its block."""
    with pytest.raises(ValueError):
        helper(bad)


def test_velocity_ends_map_to_the_end_bins_and_back_exactly() -> None:
    """Velocity 1 is bin 0 and 127 is bin 31, and those bins play back as 1 and 127."""
    assert velocity_to_bin(1) == 0 and velocity_to_bin(127) == VELOCITY_BINS - 1
    assert bin_to_velocity(0) == 1 and bin_to_velocity(VELOCITY_BINS - 1) == 127
    assert [velocity_to_bin(bin_to_velocity(b)) for b in range(VELOCITY_BINS)] == list(
        range(VELOCITY_BINS)
    )
    loud_soft = [Note(0.0, 1.0, 60, 1), Note(0.0, 1.0, 64, 127)]
    assert [n.velocity for n in decode_tokens(encode_notes(loud_soft))] == [1, 127]


@pytest.mark.parametrize(
    "steps, tokens",
    [
        (1, [shift_token(1)]),
        (48, [shift_token(48)]),
        (49, [shift_token(48), shift_token(1)]),
        (96, [shift_token(48)] * 2),
        (200, [shift_token(48)] * 4 + [shift_token(8)]),
    ],
)
def test_shifts_for_splits_into_full_shifts_then_the_rest(steps: int, tokens: list[int]) -> None:
    """A gap of k steps is as many SHIFT(48) as fit, then SHIFT(rest)."""
    assert shifts_for(steps) == tokens


def test_a_200_step_note_decodes_back_to_200_steps() -> None:
    """A 200-step note encodes with SHIFT(48) x4 + SHIFT(8) and decodes to 200 steps."""
    notes = [Note(0.0, 200 / G, 60)]
    tokens = encode_notes(notes, bos=False, eos=False)
    assert tokens[-6:] == [shift_token(48)] * 4 + [shift_token(8), note_off(60)]
    (note,) = decode_tokens(tokens)
    assert round((note.end - note.start) * G) == 200


# --- short notes and re-strikes -------------------------------------------------------


@pytest.mark.parametrize("end", [1.0, 1.0 + 0.3 / G, 0.99])
def test_zero_length_and_sub_grid_notes_get_one_step(end: float) -> None:
    """A note shorter than one step (even zero or reversed length) lasts exactly one step."""
    notes = [Note(1.0, end, 60), Note(3.0, 4.0, 64)]
    decoded = decode_tokens(encode_notes(notes))
    assert decoded == [
        Note(1.0, 1.0 + 1 / G, 60, bin_to_velocity(velocity_to_bin(80))),
        Note(3.0, 4.0, 64, bin_to_velocity(velocity_to_bin(80))),
    ]


def test_zero_length_note_in_a_chord_does_not_move_the_chord() -> None:
    """A zero-length note is released after the chord it is struck with, one step on."""
    notes = [Note(0.0, 0.0, 60), Note(0.0, 1.0, 64), Note(0.0, 1.0, 67)]
    names = [token_name(t) for t in encode_notes(notes, bos=False, eos=False)]
    assert names[2:5] == ["NOTE_ON(60)", "NOTE_ON(64)", "NOTE_ON(67)"]
    assert names[5:7] == ["SHIFT(1)", "NOTE_OFF(60)"]


def test_restrike_of_a_sounding_pitch_ends_the_old_note_first() -> None:
    """A note-on for a sounding pitch emits NOTE_OFF then NOTE_ON; the old note ends there."""
    enc = StreamingEncoder()
    tokens = enc.feed(NoteEvent(0.0, 60, 80)) + enc.feed(NoteEvent(1.0, 60, 80))
    assert tokens[-3:] == [shift_token(12), note_off(60), note_on(60)]
    tokens += enc.feed(NoteEvent(2.0, 60, 0)) + enc.finish()
    assert [(n.start, n.end) for n in decode_tokens(tokens)] == [(0.0, 1.0), (1.0, 2.0)]


def test_restrike_on_the_same_step_pushes_the_new_note_one_step() -> None:
    """Two note-ons for one pitch on one step: the first lasts one step, the second follows."""
    enc = StreamingEncoder()
    tokens = enc.feed(NoteEvent(0.0, 60, 80)) + enc.feed(NoteEvent(0.0, 60, 80)) + enc.finish()
    assert [(n.start, n.end) for n in decode_tokens(tokens)] == [(0.0, 1 / G), (1 / G, 2 / G)]


def test_overlapping_notes_of_one_pitch_keep_the_later_note_whole() -> None:
    """Overlapping notes of one pitch: the earlier ends where the later starts."""
    notes = [Note(0.0, 2.0, 60), Note(1.0, 3.0, 60), Note(1.0, 1.5, 60)]
    decoded = decode_tokens(encode_notes(notes))
    assert [(n.start, n.end) for n in decoded] == [(0.0, 1.0), (1.0, 3.0)]


def test_roles_and_velocities_are_emitted_only_when_they_change() -> None:
    """ROLE and VELOCITY precede a NOTE_ON only when they differ from the last note's."""
    notes = [Note(0.0, 1.0, 60), Note(1.0, 2.0, 62), Note(2.0, 3.0, 64, 120, Role.MODEL)]
    names = [token_name(t) for t in encode_notes(notes, bos=False, eos=False)]
    assert names.count("ROLE(player)") == 1 and names.count("ROLE(model)") == 1
    assert names.count("VELOCITY(19)") == 1 and names.count("VELOCITY(29)") == 1
    assert names.index("ROLE(model)") == names.index("NOTE_ON(64)") - 2


def test_finish_releases_sounding_notes_and_closes_with_eos() -> None:
    """finish() ends every sounding note one step on at least, then emits EOS."""
    enc = StreamingEncoder()
    enc.feed(NoteEvent(0.0, 64, 80))
    enc.feed(NoteEvent(0.0, 60, 80))
    assert enc.finish() == [shift_token(1), note_off(60), note_off(64), EOS]
    assert enc.sounding == {}


# --- tolerance --------------------------------------------------------------------------


def test_encoder_ignores_a_note_off_for_a_silent_pitch() -> None:
    """A note-off for a pitch that is not sounding emits no token and moves no time."""
    enc = StreamingEncoder()
    assert enc.feed(NoteEvent(2.0, 60, 0)) == []
    assert enc.step == 0


def test_decoder_ignores_a_note_off_for_a_silent_pitch() -> None:
    """The decoder skips NOTE_OFF for a silent pitch and closes open notes at the end."""
    tokens = [note_off(60), note_on(60), shift_token(3), note_off(60), note_off(60)]
    tokens += [note_on(62), shift_token(2)]
    assert [(n.pitch, n.start, n.end) for n in decode_tokens(tokens)] == [
        (60, 0.0, 3 / G),
        (62, 3 / G, 5 / G),
    ]


def test_decoder_stops_at_eos_and_restarts_at_bos() -> None:
    """decode_tokens ignores what follows EOS; a BOS starts a new piece from scratch."""
    tokens = [note_on(50), shift_token(1), BOS, note_on(60), shift_token(2), note_off(60), EOS]
    assert [(n.pitch, n.end) for n in decode_tokens(tokens + [note_on(70)])] == [(60, 2 / G)]


@settings(derandomize=True, max_examples=500, deadline=None)
@given(st.lists(st.integers(0, VOCAB_SIZE - 1), max_size=200))
def test_decoder_never_raises_on_random_tokens(tokens: list[int]) -> None:
    """Any sequence of in-vocabulary ids decodes to valid on-grid notes without raising."""
    dec = Decoder()
    for t in tokens:
        dec.feed(t)
    for n in dec.finish():
        assert 0 <= n.pitch <= 127 and 1 <= n.velocity <= 127
        assert n.start < n.end
        assert n.start * G == pytest.approx(round(n.start * G), abs=1e-9)
        assert n.end * G == pytest.approx(round(n.end * G), abs=1e-9)
    decode_tokens(tokens)
