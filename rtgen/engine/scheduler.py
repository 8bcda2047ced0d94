"""Scheduler: sends timed MIDI messages at absolute deadlines, and ends every note it started.

    sched = Scheduler(port, MonotonicClock())
    sched.start()                                   # the send thread
    sched.schedule_note(t_on, t_off, channel=0, pitch=60, velocity=90)
    sched.cancel_from(t_barge_in, channel=0)        # the player came back in
    sched.stop()                                    # panic + flush before the port closes

Invariants:

- Deadlines are absolute clock times (ns). Nothing is scheduled in the past: ``schedule`` and
  ``schedule_note`` refuse a deadline earlier than ``clock.now_ns()`` and count it in
  ``stats.rejected_past``. The one exception is a note-off for a note that is sounding: it is
  moved to now, because a note-off that ends a sounding note is never lost.
- Messages go out in deadline order; at equal deadlines note-offs, then other messages (CCs,
  program changes), then note-ons, so a repeated pitch is re-struck, not cut.
- Every message sent goes through the :class:`NoteLedger`; ``panic`` ends what it holds.
- Sending happens under the scheduler's lock, so a panic can never interleave with a send and
  miss a note-on. ``port.send`` must therefore be quick (rtmidi's is: it only enqueues).
- The send thread runs no model code: the planner thread only calls ``schedule*`` and
  ``cancel_from``, which take the lock for microseconds.
- Any exception in the send thread is kept in ``error``, logged, followed by a best-effort
  panic and ``on_error(exc)`` (called on the send thread); then the thread ends.

The thread waits on a :class:`threading.Condition` (so a newly scheduled, earlier event wakes
it) until ``guard_ns`` before the next send time, then in ``clock.sleep_until`` slices of at
most ``slice_ns`` (re-checking the queue between slices) until the send time. With a FakeClock
drive the scheduler with :meth:`Scheduler.run_due` instead of the thread: the condition waits
in real time.

Two timing options, both off by default:

- ``send_ahead_ns``: hand each message to the port this long before its deadline. A port that
  delivers once per period (JACK: at the start of the next cycle) makes every message up to
  a period late; sending half a period early moves it to the cycle *nearest* its deadline,
  so the error is centred (within about half a period either way) instead of always late.
- ``rt_priority``: the send thread asks for SCHED_FIFO at this priority (Linux; needs
  CAP_SYS_NICE or an rtprio limit). A normal thread on a loaded machine is woken late by the
  kernel (measured: p99 0.8-1.3 ms with both cores busy; FIFO: under 0.05 ms). Refused, the
  thread runs at its normal priority and ``realtime`` stays False. Keep it below JACK's own
  threads (FIFO 10 and its clients' just under): 1 is enough to come before every normal task.
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rtgen.engine.ledger import NoteLedger
from rtgen.engine.portproto import OutputPort
from rtgen.midi import Message, channel_of, checked, is_note_off, is_note_on, note_off, note_on

log = logging.getLogger("rtgen.scheduler")

# Order at equal deadlines: note-offs, then anything else, then note-ons.
_RANK_OFF, _RANK_OTHER, _RANK_ON = 0, 1, 2
_NO_NOTE = -1  # note id of a message scheduled with schedule(), not schedule_note()

# (t_ns, rank, seq, message, note_id): seq is unique, so message is never compared.
_Entry = tuple[int, int, int, Message, int]


class SchedulerClock(Protocol):
    """What the scheduler needs from a clock (engine.clock's MonotonicClock and FakeClock)."""

    def now_ns(self) -> int: ...

    def sleep_until(self, t_ns: int) -> None: ...


@dataclass
class SchedulerStats:
    """Counters of what was sent and missed; read them from any thread."""

    sent: int = 0  # messages sent from the queue (panic messages not included)
    late: int = 0  # sent later than late_tolerance_ns after their deadline
    max_late_ns: int = 0
    max_late_at_ns: int = 0  # when the latest send was due (clock time): to find its cause
    rejected_past: int = 0  # schedule calls refused: the deadline had already passed
    dropped: int = 0  # queued messages discarded unsent (cancel_from, panic)
    dropped_late: int = 0  # notes whose note-on was too late to play (a frozen process)
    recent_late_ns: deque[int] = field(default_factory=lambda: deque(maxlen=1024))

    def as_dict(self) -> dict[str, int]:
        """The counters, without the recent lateness samples."""
        return {
            "sent": self.sent,
            "late": self.late,
            "max_late_ns": self.max_late_ns,
            "rejected_past": self.rejected_past,
            "dropped": self.dropped,
            "dropped_late": self.dropped_late,
        }


def _rank(message: Message) -> int:
    if is_note_off(message):
        return _RANK_OFF
    return _RANK_ON if is_note_on(message) else _RANK_OTHER


class Scheduler:
    """An absolute-deadline queue of MIDI messages, a note ledger, a send thread, a panic."""

    def __init__(
        self,
        port: OutputPort,
        clock: SchedulerClock,
        ledger: NoteLedger | None = None,
        late_tolerance_ns: int = 2_000_000,
        flush_s: float = 0.005,
        on_error: Callable[[BaseException], None] | None = None,
        slice_ns: int = 1_000_000,
        guard_ns: int = 3_000_000,
        send_ahead_ns: int = 0,
        rt_priority: int | None = None,
        max_late_ns: int | None = None,
    ) -> None:
        if send_ahead_ns < 0:
            raise ValueError(f"send_ahead_ns must be >= 0, not {send_ahead_ns}")
        self.port = port
        self.clock = clock
        self.ledger = ledger if ledger is not None else NoteLedger()
        self.late_tolerance_ns = late_tolerance_ns
        self.flush_s = flush_s  # ~2 JACK periods: panic messages reach the port before close
        self.on_error = on_error
        self.slice_ns = slice_ns
        self.guard_ns = guard_ns
        self.send_ahead_ns = send_ahead_ns
        self.rt_priority = rt_priority
        self.realtime = False  # True once the send thread runs with rt_priority
        self.stats = SchedulerStats()
        self.error: BaseException | None = None
        self._heap: list[_Entry] = []
        self._seq = 0
        # RLock: a signal handler (main thread) may panic while the main thread holds it.
        self._cond = threading.Condition(threading.RLock())
        self._thread: threading.Thread | None = None
        self._stop_requested = False
        self._running = False
        # Every deadline up to this was sent (None: nothing run yet). A session log's stop
        # record carries it: the replay sends exactly what the stopped send thread had sent.
        self.sent_through_ns: int | None = None
        # A note (schedule_note) whose note-on is due more than this long ago is not played
        # late: its note-on and its note-off are dropped and counted (after a freeze, a
        # laptop's sleep). None: every note is sent, however late. Note-offs of notes that
        # sound are always sent: the note that sounded through the freeze ends at once.
        self.max_late_ns = max_late_ns
        self._dropped_notes: set[int] = set()  # ids whose note-on was dropped

    # -- queueing (any thread) --------------------------------------------------------------

    def schedule(self, t_ns: int, message: Message) -> bool:
        """Queue ``message`` for ``t_ns``; False (counted) if ``t_ns`` is already past.

        A past note-off for a (channel, pitch) that is sounding is sent now instead.
        """
        message = checked(message)  # rtgen.midi's one rule, as for the input
        with self._cond:
            now = self.clock.now_ns()
            if t_ns < now:
                channel = channel_of(message)
                if not (is_note_off(message) and self.ledger.count(channel, message[1])):
                    self.stats.rejected_past += 1
                    return False
                t_ns = now
            self._push(t_ns, message, _NO_NOTE)
            self._cond.notify()
        return True

    def schedule_note(self, t_on: int, t_off: int, channel: int, pitch: int, velocity: int) -> bool:
        """Queue a note-on at ``t_on`` and its note-off at ``t_off`` as one note.

        False (counted in ``stats.rejected_past``) if ``t_on`` is already past; nothing is
        queued then. ``cancel_from`` knows the two belong together.
        """
        return self.schedule_note_id(t_on, t_off, channel, pitch, velocity) is not None

    def schedule_note_id(
        self, t_on: int, t_off: int, channel: int, pitch: int, velocity: int
    ) -> int | None:
        """:meth:`schedule_note`, returning the note's id (for :meth:`cancel_notes`), or None
        when ``t_on`` is already past."""
        if not (0 <= channel <= 15 and 0 <= pitch <= 127 and 1 <= velocity <= 127):
            raise ValueError(f"bad note: channel={channel} pitch={pitch} velocity={velocity}")
        if t_off <= t_on:
            raise ValueError(f"note-off at {t_off} is not after its note-on at {t_on}")
        with self._cond:
            if t_on < self.clock.now_ns():
                self.stats.rejected_past += 1
                return None
            note_id = self._seq
            self._push(t_on, note_on(channel, pitch, velocity), note_id)
            self._push(t_off, note_off(channel, pitch), note_id)
            self._cond.notify()
        return note_id

    def drop_queued(self, test) -> int:
        """Drop every queued message for which ``test(message)`` holds, with the note-offs
        of the notes whose note-on it drops (a note-off alone is kept: it ends a sound).
        Returns how many messages were dropped."""
        with self._cond:
            notes = {e[4] for e in self._heap if e[1] == _RANK_ON and test(e[3])}
            kept = [
                e
                for e in self._heap
                if not (e[4] in notes and e[4] != _NO_NOTE)
                and not (e[4] == _NO_NOTE and e[1] != _RANK_OFF and test(e[3]))
            ]
            dropped = len(self._heap) - len(kept)
            heapq.heapify(kept)
            self._heap = kept
            self._cond.notify()
        return dropped

    def cancel_notes(self, ids: set[int]) -> set[int]:
        """Unschedule the notes ``ids`` whose note-on is still queued (their note-on and
        note-off both); a note already sent keeps its note-off. Returns the ids taken back."""
        with self._cond:
            queued_on = {e[4] for e in self._heap if e[1] == _RANK_ON and e[4] in ids}
            kept = [e for e in self._heap if e[4] not in queued_on]
            self.stats.dropped += len(self._heap) - len(kept)
            heapq.heapify(kept)
            self._heap = kept
            self._cond.notify()
        return queued_on

    def end_note_by(self, note_id: int, t_ns: int) -> int | None:
        """Move the queued note-off of note ``note_id`` to ``t_ns`` if it is due later (the
        note ends sooner; never later). Returns when it was due, or None when nothing moved:
        its note-off is sent or due by then, or its note-on is queued at or after ``t_ns``."""
        return self._move_off(note_id, t_ns, lambda due: due > t_ns)

    def restore_note_end(self, note_id: int, t_ns: int) -> bool:
        """Move the still-queued note-off of note ``note_id`` back to ``t_ns`` (what
        :meth:`end_note_by` returned: undoing it). False when it is sent."""
        return self._move_off(note_id, t_ns, lambda due: True) is not None

    def _move_off(self, note_id: int, t_ns: int, wanted: Callable[[int], bool]) -> int | None:
        with self._cond:
            on = [e[0] for e in self._heap if e[4] == note_id and e[1] == _RANK_ON]
            if on and t_ns <= on[0]:
                return None  # a note-off never comes before its note-on
            for i, (t, rank, seq, message, nid) in enumerate(self._heap):
                if nid == note_id and rank == _RANK_OFF and wanted(t):
                    self._heap[i] = (t_ns, rank, seq, message, nid)
                    heapq.heapify(self._heap)
                    self._cond.notify()
                    return t
        return None

    def _push(self, t_ns: int, message: Message, note_id: int) -> None:
        heapq.heappush(self._heap, (t_ns, _rank(message), self._seq, message, note_id))
        self._seq += 1

    def cancel_from(
        self, t_ns: int, channel: int | None = None, keep_sounding: bool = False
    ) -> int:
        """Barge-in: end the plan at ``t_ns`` (on ``channel``, or all channels if None).

        Drops queued note-ons due at or after ``t_ns``, and the note-offs of notes scheduled
        with ``schedule_note`` whose note-on was dropped. Every other queued note-off due
        after ``t_ns`` is moved to ``max(t_ns, now)``: notes already sounding (or starting
        before ``t_ns``) end then and never hang; with ``keep_sounding`` (a replan) they
        keep their own note-offs. Other messages (CCs) are kept as they are. Returns the
        number of messages dropped.
        """
        with self._cond:
            end = max(t_ns, self.clock.now_ns())
            dropped_notes: set[int] = set()
            kept: list[_Entry] = []
            for entry in self._heap:
                t, rank, _, message, note_id = entry
                if rank == _RANK_ON and t >= t_ns and self._on(message, channel):
                    if note_id != _NO_NOTE:
                        dropped_notes.add(note_id)
                    continue
                kept.append(entry)
            heap: list[_Entry] = []
            for entry in kept:
                t, rank, seq, message, note_id = entry
                if note_id in dropped_notes:
                    continue
                if (
                    rank == _RANK_OFF
                    and t > end
                    and self._on(message, channel)
                    and not keep_sounding
                ):
                    entry = (end, rank, seq, message, note_id)
                heap.append(entry)
            dropped = len(self._heap) - len(heap)
            heapq.heapify(heap)
            self._heap = heap
            self.stats.dropped += dropped
            self._cond.notify()
        return dropped

    @staticmethod
    def _on(message: Message, channel: int | None) -> bool:
        return channel is None or channel_of(message) == channel

    def pending(self) -> int:
        """How many messages are queued."""
        with self._cond:
            return len(self._heap)

    def queued(self) -> list[tuple[int, Message]]:
        """A snapshot of the queue as ``(t_ns, message)`` in the order it would be sent."""
        with self._cond:
            return [(e[0], e[3]) for e in sorted(self._heap)]

    def next_deadline(self) -> int | None:
        """The earliest queued deadline, or None when the queue is empty."""
        with self._cond:
            return self._heap[0][0] if self._heap else None

    # -- sending ----------------------------------------------------------------------------

    def run_due(self, now_ns: int) -> int:
        """Send every message due at ``now_ns`` in deadline order; returns how many were sent.

        A message is due ``send_ahead_ns`` before its deadline; lateness is counted from
        then. The send thread calls this; tests call it directly with a fake clock's time. An
        exception from the port propagates; the message that raised is not retried (a
        failed note-off stays in the ledger, so the panic still ends that note).
        """
        sent = 0
        with self._cond:
            heap, stats = self._heap, self.stats
            due_ns = now_ns + self.send_ahead_ns  # deadlines up to this are sent now
            self.sent_through_ns = due_ns
            while heap and heap[0][0] <= due_ns:
                t_ns, rank, _, message, note_id = heapq.heappop(heap)
                if note_id != _NO_NOTE and self._too_late(rank, note_id, due_ns - t_ns):
                    continue
                self.port.send(message)
                self.ledger.record(message)
                sent += 1
                late = due_ns - t_ns
                stats.sent += 1
                stats.recent_late_ns.append(late)
                if late > self.late_tolerance_ns:
                    stats.late += 1
                if late > stats.max_late_ns:
                    stats.max_late_ns = late
                    stats.max_late_at_ns = t_ns - self.send_ahead_ns
        return sent

    def _too_late(self, rank: int, note_id: int, late: int) -> bool:
        """Whether a note's message is not sent: a note-on later than ``max_late_ns``, or
        the note-off of such a note (no zero-length notes). Called with the lock held."""
        if note_id in self._dropped_notes:
            if rank == _RANK_OFF:
                self._dropped_notes.discard(note_id)
            return True
        if rank == _RANK_ON and self.max_late_ns is not None and late > self.max_late_ns:
            self._dropped_notes.add(note_id)
            self.stats.dropped_late += 1
            return True
        return False

    def panic(self, hard: bool = False) -> int:
        """Clear the queue, send the ledger's panic messages now, flush; returns how many sent.

        Best effort: a message the port refuses is logged and skipped. ``hard`` adds CC120.
        Then waits ``flush_s`` (real time) so a port closed right after loses nothing.
        """
        sent = 0
        with self._cond:
            self.stats.dropped += len(self._heap)
            self._heap.clear()
            self._dropped_notes.clear()
            messages = self.ledger.panic_messages(hard=hard)
            failures = 0
            for message in messages:
                try:
                    self.port.send(message)
                    sent += 1
                except Exception as exc:  # the port may be gone: keep trying the rest
                    failures += 1
                    if failures == 1:
                        log.warning("panic: port %r refused %r: %s", self.port.name, message, exc)
            if failures:
                log.warning("panic: %d of %d messages not sent", failures, len(messages))
        if self.flush_s > 0:
            time.sleep(self.flush_s)
        return sent

    # -- the send thread --------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        """True while the send thread is sending (False once it stopped or failed)."""
        return self._running

    def start(self) -> None:
        """Start the send thread (a daemon: call :meth:`stop` on every exit path)."""
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError("scheduler already running")
            self._stop_requested = False
            self._running = True
            self._thread = threading.Thread(target=self._loop, name="rtgen-scheduler", daemon=True)
            self._thread.start()

    def stop(self, panic: bool = True, hard: bool = False, timeout_s: float = 2.0) -> None:
        """Stop the send thread, then (by default) panic and flush.

        With ``panic=False`` the queue is kept (``start`` or ``run_due`` can send it later).
        Safe to call twice, without ``start``, and from ``on_error``.
        """
        with self._cond:
            self._stop_requested = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
            if thread.is_alive():
                log.error("scheduler thread did not stop within %.1f s", timeout_s)
        self._running = False
        if panic:
            self.panic(hard=hard)

    def __enter__(self) -> Scheduler:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _loop(self) -> None:
        if self.rt_priority is not None:
            self.realtime = _make_realtime(self.rt_priority)
        try:
            while self._wait_for_due():
                self.run_due(self.clock.now_ns())
        except Exception as exc:
            self._fail(exc)
        finally:
            self._running = False

    def _wait_for_due(self) -> bool:
        """Block until the earliest deadline has come; False when asked to stop."""
        while True:
            with self._cond:
                if self._stop_requested:
                    return False
                if not self._heap:
                    self._cond.wait(0.1)
                    continue
                next_t = self._heap[0][0] - self.send_ahead_ns
                now = self.clock.now_ns()
                if next_t <= now:
                    return True
                if next_t - now > self.guard_ns:
                    # Woken early by schedule()/stop(); re-check then.
                    self._cond.wait((next_t - now - self.guard_ns) / 1e9)
                    continue
            # Near the deadline: precise sleep, in slices so an earlier event is not missed.
            self.clock.sleep_until(min(next_t, now + self.slice_ns))

    def _fail(self, exc: Exception) -> None:
        self.error = exc
        self._running = False
        log.error("scheduler stopped by %s: %s", type(exc).__name__, exc, exc_info=exc)
        try:
            self.panic()
        except Exception:
            log.exception("panic after a scheduler error failed")
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:
                log.exception("scheduler on_error callback failed")


def _make_realtime(priority: int) -> bool:
    """Put the calling thread on SCHED_FIFO at ``priority``; False (logged) if refused."""
    try:
        # pid 0 is the calling thread on Linux: the rest of the process keeps its policy.
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (AttributeError, OSError) as exc:  # not Linux, or no permission
        log.info("scheduler: real-time priority %d refused (%s); running without", priority, exc)
        return False
    return True
