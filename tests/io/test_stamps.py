"""ArrivalStamper: rtmidi's delta times placed on perf_counter_ns (pure; no rtmidi calls).

Each case plays a made-up history: messages arrive at known perf_counter times, rtmidi
reports the gaps between them (sometimes wrongly: lost messages, a drifting clock), and a
reader polls at known times. The stamps are compared with the true arrival times.
"""

from __future__ import annotations

import pytest

from rtgen.io.stamps import ArrivalStamper

MS = 1_000_000
WINDOW, SLACK = 5_000 * MS, MS // 2


class Reader:
    """Feeds a stamper as MidiInput's reader thread does: per poll, the messages that
    arrived since the previous one, and when the queue was last seen empty (a poll every
    millisecond: 1 ms before the first of them)."""

    def __init__(self) -> None:
        self.stamper = ArrivalStamper(WINDOW, SLACK)
        self.backend_last: float | None = None

    def poll(self, at_ns: int, arrivals: list[tuple[int, float]]) -> list[int]:
        """Take ``(true arrival ns, rtmidi's time in s)`` pairs, all taken at ``at_ns``."""
        empty_ns = arrivals[0][0] - MS
        stamps = []
        for true_ns, backend_s in arrivals:
            assert empty_ns <= true_ns <= at_ns, "a bad history"
            stamps.append(self.stamper.stamp(self.delta(backend_s), empty_ns, at_ns))
        return stamps

    def delta(self, backend_s: float) -> float:
        """rtmidi's delta: from the previous message it saw (kept or not)."""
        delta = 0.0 if self.backend_last is None else backend_s - self.backend_last
        self.backend_last = backend_s
        return delta

    def lose(self, backend_s: float) -> None:
        """rtmidi saw a message but dropped it (a full queue): its delta is gone."""
        self.delta(backend_s)


def backend(true_ns: int) -> float:
    """rtmidi's clock: the same rate as ours, another origin, whole microseconds (JACK)."""
    return round((true_ns + 123_456_789_000) / 1000) / 1e6


def test_stamps_are_exact_once_a_poll_came_right_after_an_arrival() -> None:
    """The tightest poll fixes the offset; from then on stamps equal the arrival times,
    however late later polls come (a 30 ms stall included)."""
    reader = Reader()
    lags = [900_000, 400_000, 0, 700_000, 30 * MS, 250_000]
    truths = [1_000 * MS + i * 125 * MS for i in range(len(lags))]
    stamps = [reader.poll(t + lag, [(t, backend(t))])[0] for t, lag in zip(truths, lags)]
    assert stamps[:2] == [truths[0] + lags[0], truths[1] + lags[1]]  # the best bound so far
    assert stamps[2:] == truths[2:]


def test_a_batch_keeps_the_gaps_between_its_messages() -> None:
    """Messages taken in one poll get their own times, not the poll's."""
    reader = Reader()
    reader.poll(10 * MS, [(10 * MS, backend(10 * MS))])  # a tight first poll
    truths = [40 * MS + k * 1_333_333 for k in range(4)]
    stamps = reader.poll(48 * MS, [(t, backend(t)) for t in truths])
    assert stamps == [round(t / 1000) * 1000 for t in truths]


def test_never_after_the_poll_nor_before_the_previous_stamp_or_the_empty_queue() -> None:
    """rtmidi times that claim otherwise are clamped to what the polls prove."""
    stamper = ArrivalStamper(WINDOW, SLACK)
    assert stamper.stamp(0.0, 100 * MS, 101 * MS) == 101 * MS  # first: the poll time
    # rtmidi says 50 ms later, but the poll came 2 ms later: the poll wins.
    assert stamper.stamp(0.050, 101 * MS, 103 * MS) == 103 * MS
    # 0.8 ms later by rtmidi puts it at 103.8 ms, 0.2 ms (< slack) before the queue was
    # seen empty: clamped to that moment, no restart.
    assert stamper.stamp(0.0008, 104 * MS, 106 * MS) == 104 * MS
    # Before the previous stamp: clamped to it.
    assert stamper.stamp(0.0, 103 * MS, 107 * MS) == 104 * MS
    assert stamper.restarts == 0


def test_lost_messages_restart_the_estimate_at_once() -> None:
    """rtmidi drops messages with their deltas when its queue overflows: the sum falls
    behind. The first stamp that would fall well before the queue was seen empty restarts
    the window, so stamps never come early; the next tight poll makes them exact again."""
    reader = Reader()
    t0 = 1_000 * MS
    reader.poll(t0, [(t0, backend(t0))])
    reader.lose(backend(t0 + 200 * MS))  # the 200 ms before it are lost from the sum
    t1 = t0 + 300 * MS
    [stamp] = reader.poll(t1 + 600_000, [(t1, backend(t1))])
    assert reader.stamper.restarts == 1
    assert stamp == t1 + 600_000  # the poll time: the best bound right after a restart
    t2 = t1 + 125 * MS
    assert reader.poll(t2, [(t2, backend(t2))]) == [t2]  # a tight poll: exact again
    assert reader.stamper.restarts == 1


def test_a_loss_within_the_slack_is_clamped_then_ages_out() -> None:
    """A loss too small to prove (0.3 ms) leaves stamps at most that early, never before
    the queue was seen empty; once the window has passed they are exact again."""
    reader = Reader()
    t0 = 1_000 * MS
    reader.poll(t0, [(t0, backend(t0))])
    reader.lose(backend(t0 + 300_000))
    errors = []
    for k in range(1, 81):  # 10 s of sixteenths; every 10th poll is tight
        t = t0 + k * 125 * MS
        lag = 0 if k % 10 == 0 else 100_000
        [stamp] = reader.poll(t + lag, [(t, backend(t))])
        errors.append(stamp - t)
    assert reader.stamper.restarts == 0
    assert all(-300_000 <= e <= 0 for e in errors)
    assert errors[0] == -300_000  # the old bound still rules
    assert errors[-40:] == [0] * 40  # 5 s on it has aged out


@pytest.mark.parametrize("ppm", [-200, 200])
def test_clock_drift_stays_within_what_the_window_allows(ppm: int) -> None:
    """rtmidi's clock running fast or slow: the error stays within the drift over one
    window (200 ppm x 5 s = 1 ms), and stamps never pass the polls."""
    reader = Reader()
    t0 = 1_000 * MS
    worst = 0
    for k in range(400):  # 50 s of sixteenths at 120 BPM
        t = t0 + k * 125 * MS
        lag = (k * 137_000) % 1_000_000  # polls 0..1 ms after each arrival
        [stamp] = reader.poll(t + lag, [(t, (t - t0) * (1 + ppm * 1e-6) / 1e9)])
        assert stamp <= t + lag
        if k > 10:
            worst = max(worst, abs(stamp - t))
    assert worst <= 1_100_000


def test_reset_forgets_the_offset() -> None:
    """After a re-open rtmidi may count afresh (first delta 0, whatever the gap): the new
    port's first message is placed at its poll, without taking it for lost time."""
    stamper = ArrivalStamper(WINDOW, SLACK)
    stamper.stamp(0.0, 0, 10 * MS)
    stamper.stamp(0.5, 10 * MS, 510 * MS)
    stamper.reset()
    assert stamper.stamp(0.0, 900 * MS, 901 * MS) == 901 * MS
    assert stamper.stamp(0.010, 901 * MS, 911 * MS) == 911 * MS
    assert stamper.restarts == 0
