"""NoteLedger: sounding notes from sent messages, and the panic that ends them."""

from __future__ import annotations

import threading
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from rtgen.engine.ledger import NoteLedger
from rtgen.midi import is_note_off, is_note_on

SETTINGS = settings(derandomize=True, max_examples=150, deadline=None)


def hanging(messages: list[tuple[int, ...]]) -> set[tuple[int, int]]:
    """(channel, pitch) left sounding, counting note-on/note-off pairs (CC123 not trusted)."""
    counts: Counter[tuple[int, int]] = Counter()
    for m in messages:
        key = (m[0] & 0x0F, m[1]) if len(m) >= 2 else None
        if is_note_on(m):
            counts[key] += 1
        elif is_note_off(m) and counts[key]:
            counts[key] -= 1
    return {k for k, n in counts.items() if n}


def test_note_on_adds_and_note_off_removes() -> None:
    """A note-on with velocity > 0 adds a note; a note-off or a velocity-0 note-on removes it."""
    ledger = NoteLedger()
    ledger.record((0x90, 60, 100))
    ledger.record((0x93, 64, 1))
    assert ledger.sounding() == {(0, 60), (3, 64)}
    ledger.record((0x80, 60, 64))
    ledger.record((0x93, 64, 0))
    assert ledger.sounding() == set()
    assert len(ledger) == 0


def test_overlapping_same_pitch_is_counted() -> None:
    """Two note-ons of one pitch need two note-offs, and the panic sends two."""
    ledger = NoteLedger()
    ledger.record((0x90, 60, 100))
    ledger.record((0x90, 60, 90))
    ledger.record((0x80, 60, 0))
    assert ledger.sounding() == {(0, 60)}
    assert ledger.count(0, 60) == 1
    ledger.record((0x90, 60, 80))
    assert ledger.panic_messages()[:2] == [(0x80, 60, 0), (0x80, 60, 0)]


def test_note_off_without_note_on_is_harmless() -> None:
    """A note-off for a note not sounding leaves the ledger unchanged (no negative counts)."""
    ledger = NoteLedger()
    ledger.record((0x80, 60, 0))
    ledger.record((0x90, 60, 100))
    assert ledger.sounding() == {(0, 60)}


def test_channels_used_counts_every_channel_voice_message() -> None:
    """Any channel message marks its channel used; system messages have no channel."""
    ledger = NoteLedger()
    ledger.record((0xB5, 7, 100))
    ledger.record((0xC2, 4))
    ledger.record((0xF8,))
    ledger.record((0x99, 36, 100))
    ledger.record((0x89, 36, 0))
    assert ledger.channels_used() == {2, 5, 9}


def test_panic_messages_order_and_empty_after() -> None:
    """Panic: a note-off per note, then CC64=0 and CC123 per channel used; the ledger empties."""
    ledger = NoteLedger()
    ledger.record((0x91, 62, 100))
    ledger.record((0x90, 60, 100))
    ledger.record((0xB4, 1, 10))
    msgs = ledger.panic_messages()
    assert msgs == [
        (0x80, 60, 0),
        (0x81, 62, 0),
        (0xB0, 64, 0),
        (0xB0, 123, 0),
        (0xB1, 64, 0),
        (0xB1, 123, 0),
        (0xB4, 64, 0),
        (0xB4, 123, 0),
    ]
    assert ledger.sounding() == set()
    assert ledger.channels_used() == {0, 1, 4}
    assert ledger.panic_messages() == msgs[2:]


def test_hard_panic_adds_all_sound_off() -> None:
    """A hard panic also sends CC120 (all sound off) on each channel used."""
    ledger = NoteLedger()
    ledger.record((0x92, 60, 100))
    assert ledger.panic_messages(hard=True) == [
        (0x82, 60, 0),
        (0xB2, 64, 0),
        (0xB2, 123, 0),
        (0xB2, 120, 0),
    ]


def test_all_notes_off_sent_clears_that_channel() -> None:
    """A CC123 or CC120 that was sent ends the ledger's notes on its channel only."""
    ledger = NoteLedger()
    for m in [(0x90, 60, 100), (0x91, 61, 100), (0x92, 62, 100)]:
        ledger.record(m)
    ledger.record((0xB0, 123, 0))
    ledger.record((0xB1, 120, 0))
    assert ledger.sounding() == {(2, 62)}


# Note messages (with velocity-0 note-ons and stray note-offs) and CCs that do not end notes;
# CC123 is covered above: a pair counter cannot see what it ends.
messages = st.one_of(
    st.tuples(
        st.sampled_from([0x80, 0x90]), st.integers(0, 3), st.integers(58, 62), st.integers(0, 127)
    ).map(lambda t: (t[0] | t[1], t[2], t[3])),
    st.tuples(st.integers(0, 3), st.sampled_from([1, 7, 64])).map(
        lambda t: (0xB0 | t[0], t[1], 127)
    ),
)


@SETTINGS
@given(st.lists(messages, max_size=60), st.booleans())
def test_property_panic_ends_every_note(stream: list[tuple[int, ...]], hard: bool) -> None:
    """For any stream of messages and any stop point, stream + panic leaves nothing sounding."""
    ledger = NoteLedger()
    for m in stream:
        ledger.record(m)
    sent = list(stream) + ledger.panic_messages(hard=hard)
    assert hanging(sent) == set()
    assert ledger.sounding() == set()
    assert ledger.channels_used() == {m[0] & 0x0F for m in stream}


def test_concurrent_record_and_panic() -> None:
    """Threads recording note pairs while another panics never corrupt the counts."""
    ledger = NoteLedger()
    barrier = threading.Barrier(4)

    def play(channel: int) -> None:
        barrier.wait()
        for i in range(2000):
            ledger.record((0x90 | channel, i % 128, 100))
            ledger.record((0x80 | channel, i % 128, 0))

    def panic() -> None:
        barrier.wait()
        for _ in range(200):
            ledger.panic_messages()

    threads = [threading.Thread(target=play, args=(c,)) for c in range(3)]
    threads.append(threading.Thread(target=panic))
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert ledger.sounding() == set()
    assert ledger.channels_used() == {0, 1, 2}
