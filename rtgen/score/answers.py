"""Answers through the real engine offline: the call is played into the same Engine, planner
and sampler as `rtgen play` (rtgen.jam, as `rtgen demo` and `rtgen generate` do), with play's
defaults, and what the engine plays in its answer is kept.

The one setting that is not play's default is the answer's length: two bars, as long as the
truth it is compared with (play's default answers as long as the call, rounded up to bars).
"""

from __future__ import annotations

from dataclasses import replace

from rtgen import tokens as T
from rtgen.config import PlaySettings
from rtgen.events import Note
from rtgen.jam import beats_to_answer, jam_offline
from rtgen.score.calls import CALL_BARS, WINDOW_BEATS


def settings_for(seed: int) -> PlaySettings:
    """rtgen play's defaults (call-response, its sampler and key tracking), a two-bar answer."""
    return PlaySettings(seed=seed, answer_bars=CALL_BARS).validate()


def engine_answer(
    session,
    call: tuple[Note, ...] | list[Note],
    seed: int,
    settings: PlaySettings | None = None,
) -> list[Note]:
    """The engine's answer to ``call`` with ``seed`` (and ``settings``, else play's
    defaults): times in beats from the answer's first beat, notes that start in its two
    bars (ended there). Answers the engine cut short when the call went on after a rest
    (a barge-in) are not the answer; the last answer is."""
    session.reset()  # the planner starts from the session's state: a fresh piece each call
    settings = settings or settings_for(seed)
    res = jam_offline(session, settings, seed, list(call), beats_to_answer(settings, WINDOW_BEATS))
    start = res.stats["answer_start"]
    if start is None:
        return []
    end = start + WINDOW_BEATS
    lo, hi = T.to_step(start), T.to_step(end)  # on the grid: times came back from ns
    return [
        replace(n, start=n.start - start, end=min(n.end, end) - start)
        for n in res.model
        if lo <= T.to_step(n.start) < hi
    ]
