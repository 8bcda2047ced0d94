"""rtgen.midi: the one table of statuses and data-byte counts, and the one validator that the
input and the scheduler both use."""

from __future__ import annotations

import random

import pytest

from rtgen import midi
from rtgen.engine.clock import FakeClock
from rtgen.engine.portproto import FakeOutputPort
from rtgen.engine.scheduler import Scheduler


def _scheduler() -> tuple[Scheduler, FakeClock]:
    clock = FakeClock(10**9)
    return Scheduler(FakeOutputPort(clock=clock), clock, flush_s=0.0), clock


@pytest.mark.parametrize("data", range(0x80, 0x100))
def test_a_data_byte_of_0x80_or_more_is_refused_by_input_and_scheduler_alike(data: int) -> None:
    """A data byte 0x80-0xFF (a status byte where data belongs) makes no message, whether it
    came down the cable or was handed to the scheduler."""
    sched, clock = _scheduler()
    for message in [(0x90, 60, data), (0x90, data, 100), (0xB0, 7, data), (0xC0, data)]:
        assert not midi.well_formed(message)
        with pytest.raises(ValueError, match="not a raw MIDI message"):
            sched.schedule(clock.now_ns() + 1, message)
    assert sched.pending() == 0


def test_each_status_takes_exactly_its_data_bytes() -> None:
    """Channel messages by kind (program change and channel pressure take one data byte, the
    rest two), system messages by status; one byte more or less is not a message."""
    for status in range(0x80, 0xF0):
        n = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
        assert midi.well_formed((status, *[0] * n)), hex(status)
        assert not midi.well_formed((status, *[0] * (n - 1)))
        assert not midi.well_formed((status, *[0] * (n + 1)))
    system = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0}
    for status in range(0xF0, 0x100):
        n = system.get(status)
        if n is None:  # SysEx, undefined, active sensing, reset: never used
            assert not any(midi.well_formed((status, *[0] * k)) for k in range(4)), hex(status)
        else:
            assert midi.well_formed((status, *[0] * n)), hex(status)


def test_the_scheduler_takes_what_the_input_takes() -> None:
    """Seeded random byte strings: the scheduler accepts exactly the well-formed ones."""
    rng = random.Random(13)
    sched, clock = _scheduler()
    for _ in range(2000):
        message = tuple(rng.randrange(256) for _ in range(rng.randrange(5)))
        try:
            sched.schedule(clock.now_ns() + 1, message)
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == midi.well_formed(message), message


def test_note_helpers_read_the_table() -> None:
    """A note-on of velocity 0 is a note-off; channels come from the status's low nibble."""
    assert midi.is_note_on(midi.note_on(3, 60, 1)) and not midi.is_note_on((0x93, 60, 0))
    assert midi.is_note_off((0x93, 60, 0)) and midi.is_note_off(midi.note_off(3, 60))
    assert midi.channel_of((0x9F, 1, 1)) == 15 and midi.channel_of((0xF8,)) is None
    assert midi.kind_of(0x9F) == midi.NOTE_ON and midi.kind_of(0xF8) == midi.CLOCK
