"""Ports that come and go while `rtgen play` runs, and input floods.

Five times a second (``PORT_CHECK_NS``) the live loop calls :meth:`PortWatch.check`. An
output that disappeared is reported and its notes become owed (the engine cuts and panics;
the :class:`rtgen.io.guarded.GuardedOutput` keeps their note-offs, with CC64=0 and CC123,
for when it is back, and sends them first then). An input that disappeared has its held
keys released, so a call cannot hang on a key-up that will never come; the chord port
(``--chords PORT``) likewise, so keys it held cannot join the next chord it spells. Both
are reopened once back. A flood (more input than hands can play, or messages dropped) may
have lost key-ups: once it is calm, the keys still held are released.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rtgen.engine.portproto import InputPort, PortVanishedError
from rtgen.io.guarded import GuardedOutput
from rtgen.jamstats import JamStats

log = logging.getLogger("rtgen.play")
PORT_CHECK_NS = 200_000_000  # a peer that leaves and returns faster than this goes unnoticed
FLOOD_MSGS = 300  # messages in one port check (1,500/s): no hands play that much


class _InputWatch:
    """One input: when it vanishes, counted, said, its keys released; reopened once back."""

    def __init__(self, port: InputPort, what: str, stats: JamStats, release) -> None:
        self.port, self.what, self.stats, self._release = port, what, stats, release
        self.away = False

    def check(self, now: int) -> None:
        present = self.port.is_present()
        if not present and not self.away:
            self.away = True
            self.stats.port_losses += 1
            log.warning("%s disappeared; held keys released, will reconnect", self.what)
            self._release(now)
        elif present and self.away:
            try:
                self.port.reconnect()
            except PortVanishedError:
                return
            self.away = False
            self.stats.reconnects += 1
            log.warning("%s is back", self.what)


class PortWatch:
    """Watches the ports; ``output_lost(now)``, ``input_lost(now)`` (the input gone: its
    keys, and on a split keyboard its chord keys), ``release_keys(now)`` (the keys alone,
    after a flood's calm) and ``release_chord_keys(now)`` are the loop's."""

    def __init__(
        self,
        out: GuardedOutput,
        inp: InputPort,
        stats: JamStats,
        output_lost: Callable[[int], None],
        input_lost: Callable[[int], None],
        release_keys: Callable[[int], None],
        now_ns: int,
        chords: InputPort | None = None,
        release_chord_keys: Callable[[int], None] | None = None,
    ) -> None:
        self.out, self.inp, self.stats = out, inp, stats
        self._output_lost, self._release_keys = output_lost, release_keys
        self._out_seen_ns = now_ns  # the output's last check found it present
        self._out_away = False
        self._inputs = [_InputWatch(inp, "input port", stats, input_lost)]
        if chords is not None and release_chord_keys is not None:
            self._inputs.append(_InputWatch(chords, "chord port", stats, release_chord_keys))
        self._drops_seen = self._seen = 0
        self._flooded = False

    def check(self, now: int) -> None:
        """A port that vanished is reported, released, reopened; a flood is watched."""
        self._check_output(now)
        self._watch_flood(now)
        for watch in self._inputs:
            watch.check(now)

    def _check_output(self, now: int) -> None:
        out, present = self.out, self.out.port.is_present()
        if not self._out_away and present and out.connected:
            self._out_seen_ns = now
        if not self._out_away and (not present or not out.connected):
            self._out_away = True
            self.stats.port_losses += 1
            out.away(self._out_seen_ns)
            log.warning("output port %s disappeared; will reconnect", out.name)
            self._output_lost(now)
        elif self._out_away and present:
            try:
                out.port.reconnect()
                owed = out.back()
            except PortVanishedError:
                return
            self._out_away = False
            self.stats.reconnects += 1
            log.warning("output port %s is back (%d owed messages sent)", out.name, owed)

    def _watch_flood(self, now: int) -> None:
        """More input than hands can play, or any dropped: key-ups may have been lost (the
        queue dropped them, or JACK did while the process lagged). When it is calm again,
        the keys still held are released, so a lost note-off cannot keep rtgen waiting."""
        dropped = self.inp.dropped
        burst = self.stats.msgs_in + dropped - self._seen
        self._seen = self.stats.msgs_in + dropped
        if burst > FLOOD_MSGS or dropped > self._drops_seen:
            self.stats.floods += not self._flooded
            self._flooded, self._drops_seen = True, dropped
        elif self._flooded:
            self._flooded = False
            self._release_keys(now)
