"""The output guard's debts: a synth that went away is owed the note-offs it may have
missed, including those sent after it left but before rtgen noticed (the port check runs
five times a second, and a send into a vanished JACK connection succeeds)."""

from __future__ import annotations

from rtgen.engine.clock import FakeClock
from rtgen.engine.portproto import FakeOutputPort
from rtgen.io.guarded import GuardedOutput, SentLog

MS = 1_000_000


def _guard() -> tuple[GuardedOutput, FakeOutputPort, FakeClock]:
    clock = FakeClock(1_000 * MS)
    port = FakeOutputPort(clock=clock)
    return GuardedOutput(port, SentLog(), clock), port, clock


def test_note_offs_sent_between_the_last_check_and_the_loss_are_owed_again() -> None:
    guard, port, clock = _guard()
    guard.send((0x90, 60, 100))
    guard.send((0x90, 64, 100))
    clock.set(1_050 * MS)
    guard.send((0x80, 60, 0))  # ended before the last check: the synth heard it
    seen = 1_100 * MS  # the last check that found the synth
    clock.set(1_150 * MS)
    guard.send((0x90, 64, 0))  # the synth had gone: this note-off went nowhere
    guard.send((0xB0, 123, 0))
    guard.send((0xB0, 7, 90))  # a volume change is not a debt
    guard.away(seen)
    guard.send((0x80, 67, 0))  # while away: owed as before
    clock.set(1_400 * MS)
    before = len(port.sent)
    assert guard.back() == 3
    assert [m for _, m in port.sent[before:]] == [(0x80, 64, 0), (0x80, 67, 0), (0xB0, 123, 0)]


def test_a_loss_found_by_the_check_alone_owes_only_what_followed_it() -> None:
    guard, port, clock = _guard()
    guard.send((0x90, 60, 100))
    guard.send((0x80, 60, 0))
    clock.set(1_200 * MS)
    guard.away(1_200 * MS)  # seen at 1.2 s, gone now: nothing was sent in between
    assert guard.back() == 0
