"""Arrival times for an input port: rtmidi's own stamps placed on ``perf_counter_ns``.

Pure logic, fed by the reader thread of :class:`rtgen.io.ports_rtmidi.MidiInput` and tested
on its own (tests/io/test_stamps.py).
"""

from __future__ import annotations

from collections import deque

#: Seconds of recent messages whose tightest poll fixes where rtmidi's times lie.
STAMP_WINDOW_S = 5.0
#: How far (s) a stamp may fall before the queue was last seen empty before that is taken
#: as proof that rtmidi's deltas lost time: the backend stamps a message a little before it
#: queues it (microseconds on JACK's thread, unless that thread is preempted in between).
STAMP_SLACK_S = 0.0005


class ArrivalStamper:
    """Places rtmidi's arrival times on ``time.perf_counter_ns()``, for one input.

    rtmidi stamps each message on the backend's own thread as it arrives (on JACK:
    ``jack_get_time``, CLOCK_MONOTONIC, as perf_counter on Linux) but hands out only the
    delta to the previous message. Their running sum is the arrival time on rtmidi's clock,
    up to an unknown offset. Every poll bounds that offset from above: a message was there
    before the poll took it, so ``offset <= taken - sum``. The tightest bound of the last
    ``window_ns`` is the estimate; polling every millisecond, it is within tens of
    microseconds of the truth after a few messages, where stamping at poll time lags by up
    to a poll period plus any wait for the GIL (in the onset bench: +0.5 ms median, +0.85 ms
    p99 against a reference receiver; this: under +0.06 ms p99).

    The sum goes wrong when rtmidi drops messages (a full queue drops them with their
    deltas) or its clock drifts from ours (other backends). So every stamp is clamped: never
    after the poll that took the message, never before the previous stamp nor before the
    queue was last seen empty. A stamp that would fall more than ``slack_ns`` before that
    moment proves time was lost: the window restarts from this message. Drift ages out
    with the window. A clamped stamp is no worse than stamping at poll time, which is why
    rtmidi's deltas, unreliable across backends (DESIGN.md), may be used here at all.

    Pure logic, fed by the reader thread; :meth:`reset` when the port is re-opened.
    """

    def __init__(self, window_ns: int, slack_ns: int) -> None:
        self.window_ns = window_ns
        self.slack_ns = slack_ns
        self.restarts = 0  # times lost time was detected
        self._sum_ns: int | None = None  # rtmidi time of the last message, from the first
        self._bounds: deque[tuple[int, int]] = deque()  # (taken_ns, bound), bounds increasing
        self._last_ns: int | None = None

    def reset(self) -> None:
        """Forget the offset: after a re-open rtmidi may count its deltas afresh (the first
        is 0 however long the gap), which no old bound fits."""
        self._bounds.clear()

    def stamp(self, delta_s: float, empty_ns: int, taken_ns: int) -> int:
        """perf_counter_ns arrival of a message with rtmidi delta ``delta_s``, taken from
        rtmidi's queue at ``taken_ns``; the queue was last seen empty at ``empty_ns``."""
        delta_ns = round(delta_s * 1e9)
        self._sum_ns = 0 if self._sum_ns is None else self._sum_ns + delta_ns
        self._add_bound(taken_ns, taken_ns - self._sum_ns)
        estimate = self._sum_ns + self._bounds[0][1]
        if estimate < empty_ns - self.slack_ns:  # rtmidi's times lost some: start again
            self.restarts += 1
            self._bounds.clear()
            self._add_bound(taken_ns, taken_ns - self._sum_ns)
            estimate = taken_ns
        earliest = empty_ns if self._last_ns is None else max(empty_ns, self._last_ns)
        self._last_ns = min(max(estimate, earliest), taken_ns)
        return self._last_ns

    def _add_bound(self, taken_ns: int, bound: int) -> None:
        """Keep the sliding minimum: drop bounds no tighter than the new one, and old ones."""
        bounds = self._bounds
        while bounds and bounds[-1][1] >= bound:
            bounds.pop()
        bounds.append((taken_ns, bound))
        while bounds[0][0] < taken_ns - self.window_ns:
            bounds.popleft()
