"""The call's ornaments (manner.py's graces, rtgen/engine/ornament.py, the planner): grace
notes the player played are heard as such and answered in kind; a grace note never makes
the answer's line a chord, never hangs, and a barge-in takes back those not yet sent."""

from __future__ import annotations

import numpy as np
import pytest

from rtgen.engine.bias import Strengths
from rtgen.engine.clock import FakeClock
from rtgen.engine.engine import EngineConfig
from rtgen.engine.manner import estimate_manner
from rtgen.engine.modes import ModeConfig
from rtgen.engine.offline import OfflineRig
from rtgen.engine.ornament import Ornament
from rtgen.engine.sampler import SamplerConfig
from rtgen.engine.scheduler import Scheduler
from rtgen.engine.steer import SteerConfig
from rtgen.events import Note
from tests.engine.fakes import FakeSession

G = 12


def _flicked_line(beats: int = 8, every: int = 2) -> list[Note]:
    """Quarter notes from beat 0; every ``every``-th but the first led into by a grace
    note a 6th below it, 30 ms (0.06 beat) before, ending as it starts."""
    out = []
    for i in range(beats):
        p = 64 + (i % 4) * 2
        if i % every == 0 and i:
            out.append(Note(i - 0.06, i, p - 9))
        out.append(Note(float(i), i + 0.9, p))
    return out


def test_grace_notes_are_heard_with_their_interval_and_rate() -> None:
    m = estimate_manner(_flicked_line())
    assert m.graces == (-9, -9, -9) and m.grace_rate == pytest.approx(3 / 8)


def test_chords_runs_and_plain_lines_have_no_grace_notes() -> None:
    line = [Note(i * 0.5, i * 0.5 + 0.45, 60 + i) for i in range(8)]
    rolled = [Note(0.0, 1.0, 55), Note(0.04, 1.0, 60), Note(0.08, 1.0, 64)]  # sounding on
    run = [Note(i * 0.125, (i + 1) * 0.125, 60 + i) for i in range(8)]  # 32nd notes
    same = [Note(0.0, 0.05, 60), Note(0.05, 1.0, 60)]  # a re-strike, not a grace
    for notes in (line, rolled, run, same):
        m = estimate_manner(notes)
        assert m.graces == () and m.grace_rate == 0.0


def test_an_ornament_is_drawn_from_the_calls_own_by_seed_and_step() -> None:
    m = estimate_manner(_flicked_line())
    assert Ornament.of(m, strength=0.0, seed=0) is None
    assert Ornament.of(estimate_manner(_flicked_line(every=99)), 1.0, seed=0) is None
    orn = Ornament.of(m, strength=1.0, seed=3)
    drawn = [orn.grace(s) for s in range(4000)]
    assert {d for d in drawn if d is not None} == {-9}
    assert np.mean([d is not None for d in drawn]) == pytest.approx(3 / 8, abs=0.03)
    assert drawn == [Ornament.of(m, 1.0, seed=3).grace(s) for s in range(4000)]
    assert drawn != [Ornament.of(m, 1.0, seed=4).grace(s) for s in range(4000)]
    half = Ornament.of(m, strength=0.5, seed=3)
    assert np.mean([half.grace(s) is not None for s in range(4000)]) == pytest.approx(
        3 / 16, abs=0.03
    )


class _Port:
    def __init__(self) -> None:
        self.sent: list = []

    def send(self, message) -> None:
        self.sent.append(message)


def test_a_notes_end_can_come_sooner_never_later_and_be_given_back() -> None:
    clock = FakeClock()
    sched = Scheduler(_Port(), clock)
    nid = sched.schedule_note_id(1000, 5000, 0, 60, 90)
    assert sched.end_note_by(nid, 6000) is None  # later: never
    assert sched.end_note_by(nid, 1000) is None  # not before its own note-on
    assert sched.end_note_by(nid, 3000) == 5000
    assert [t for t, _ in sched.queued()] == [1000, 3000]
    assert sched.restore_note_end(nid, 5000) is True  # undone (a replan took a grace back)
    assert [t for t, _ in sched.queued()] == [1000, 5000]
    assert sched.end_note_by(nid, 3000) == 5000
    sched.run_due(3000)
    assert sched.end_note_by(nid, 2000) is None  # sent: it has ended
    assert sched.restore_note_end(nid, 5000) is False


def _call_events(rig: OfflineRig, with_graces: bool, sd_beats: float = 0.0) -> list:
    """The flicked line from beat 4; ``sd_beats``: each note and its grace moved together by
    N(0, sd) (a player's timing, so the feel moves the answer's notes too)."""
    rng = np.random.default_rng(7)
    out = []
    notes = _flicked_line(beats=8, every=1 if with_graces else 99)
    for k, n in enumerate(notes):
        main = notes[k + 1] if n.end - n.start < 0.1 else n  # a grace moves with its note
        d = float(np.random.default_rng((7, round(main.start * 12))).normal(0, sd_beats))
        out += [
            (rig.beats_to_ns(4 + n.start + d), (0x90, n.pitch, 90)),
            (rig.beats_to_ns(4 + n.end + d), (0x80, n.pitch, 0)),
        ]
    del rng
    return sorted(out)


def _answer(
    ornament: float,
    with_graces: bool = True,
    seed: int = 0,
    until: float = 40,
    sd_beats: float = 0.0,
):
    steer = SteerConfig(Strengths(texture=8.0), ornament=ornament)
    cfg = EngineConfig(
        ModeConfig(silence=1.0),
        SamplerConfig(seed=seed, low=48, high=84, max_note_beats=2.0),
        steer=steer,
    )
    rig = OfflineRig(cfg, FakeSession(seed), bpm=120.0)
    rig.run(_call_events(rig, with_graces, sd_beats), rig.beats_to_ns(until))
    return rig


def _spans(sent: list) -> tuple[list[tuple[int, int, int]], int]:
    """(on ns, off ns, pitch) of every note sent, and how many were left sounding (read
    before the rig's panic, which ends whatever still sounds)."""
    open_: dict[int, int] = {}
    spans = []
    for t, m in sent:
        if m[0] & 0xF0 == 0x90 and m[2]:
            assert m[1] not in open_, "a sounding pitch struck again"
            open_[m[1]] = t
        elif m[0] & 0xF0 in (0x80, 0x90) and m[1] in open_:
            spans.append((open_.pop(m[1]), t, m[1]))
    return sorted(spans), len(open_)


def _graces_sent(spans: list[tuple[int, int, int]]) -> int:
    """Notes no longer than a grid step that end as another note starts."""
    step_ns = 500_000_000 // G
    return sum(
        off - on <= step_ns + 1000 and any(b == off and q != p for b, _, q in spans)
        for on, off, p in spans
    )


@pytest.mark.parametrize("sd_beats", [0.0, 0.04], ids=["on the grid", "a player's timing"])
def test_an_answer_to_a_call_with_grace_notes_has_them_and_stays_a_line(sd_beats: float) -> None:
    """Over six seeds (a call with a grace note into every note but the first): grace
    notes are sent, each ending as the next note starts; no note of the answer starts
    while another sounds, also when the feel moves the notes off the grid; when the answer
    is over nothing sounds. With --ornament 0, or to a call without grace notes, none."""
    graces = 0
    for seed in range(6):
        rig = _answer(1.0, seed=seed, sd_beats=sd_beats)
        assert len(rig.ledger) == 0  # the answer over, before any panic
        spans, left = _spans([(t, m) for t, m in rig.port.sent if t > rig.beats_to_ns(12)])
        assert left == 0
        for (a_on, a_off, _), (b_on, _, _) in zip(spans, spans[1:]):
            assert a_off <= b_on or a_on == b_on, ("the line became a chord", seed, spans)
        sent = _graces_sent(spans)
        assert sent >= rig.engine.planner.stats.graces
        graces += rig.engine.planner.stats.graces
        rig.stop()
    assert graces >= 4
    for rig in (_answer(0.0, sd_beats=sd_beats), _answer(1.0, False, sd_beats=sd_beats)):
        assert rig.engine.planner.stats.graces == 0 and len(rig.ledger) == 0


def test_the_same_seed_plays_the_same_grace_notes() -> None:
    a, b = _answer(1.0, seed=0), _answer(1.0, seed=0)
    a.stop(), b.stop()
    assert a.port.sent == b.port.sent and a.engine.planner.stats.graces > 0


def test_a_barge_in_takes_back_grace_notes_not_yet_sent() -> None:
    """The player comes back while a grace note is queued: it is never sent, nothing of the
    model's starts after the cut, and nothing is left sounding."""
    step_ns = 500_000_000 // G
    checked = 0
    for seed in range(6):
        for beat in range(13, 21):
            rig = _answer(1.0, seed=seed, until=beat + 0.05)
            now = rig.clock.now_ns()
            queued = [s for s in _queued_notes(rig) if s[1] - s[0] <= step_ns + 1000]
            if not queued:
                continue
            # the player plays 100 ms; no new answer comes within the next 450 ms
            rig.run([(now, (0x90, 72, 90)), (now + 10**8, (0x80, 72, 0))], now + 45 * 10**7)
            spans, left = _spans(rig.port.sent)
            assert left == 0 and len(rig.ledger) == 0
            assert not [s for s in spans if s[0] > now + step_ns], spans
            assert all(s[0] != queued[0][0] for s in spans)
            checked += 1
            break
    assert checked >= 2


def _queued_notes(rig: OfflineRig) -> list[tuple[int, int, int]]:
    """(on ns, off ns, pitch) of the notes whose note-on is still queued."""
    q = rig.scheduler.queued()
    out = []
    for i, (t, m) in enumerate(q):
        if m[0] & 0xF0 == 0x90 and m[2]:
            ends = (u for u, n in q[i + 1 :] if n[1] == m[1] and (n[0] & 0xF0 == 0x80 or not n[2]))
            out.append((t, next(ends), m[1]))
    return out


def test_a_replan_takes_back_the_grace_notes_of_the_notes_it_takes_back() -> None:
    """A chord change replans the rest of the beat: a grace note whose note is taken back
    is taken back with it (the replan may send it again), so every grace note still queued
    leads into a queued note, none is queued twice, and nothing is left sounding."""
    step_ns = 500_000_000 // G
    checked = 0
    for seed in range(6):
        for beat in range(13, 21):
            rig = _answer(1.0, seed=seed, until=beat + 0.05)
            before = _queued_notes(rig)
            if not any(off - on <= step_ns + 1000 for on, off, _ in before):
                continue
            rig.engine.planner.replan_from(rig.clock.now_ns())
            queued = _queued_notes(rig)
            assert len({(on, p) for on, _, p in queued}) == len(queued), queued
            for on, off, pitch in queued:
                if off - on <= step_ns + 1000:
                    assert any(b_on == off and p != pitch for b_on, _, p in queued), queued
            rig.run([], rig.beats_to_ns(40))
            assert len(rig.ledger) == 0 and _spans(rig.port.sent)[1] == 0
            assert _graces_sent(_spans(rig.port.sent)[0]) >= rig.engine.planner.stats.graces
            checked += 1
            break
    assert checked >= 2


class _Always:
    """An ornament that gives every note a grace note a 4th below."""

    def grace(self, step: int) -> int:
        return -5


class _Moves:
    """A feel that moves the onsets at the given steps by the given grid steps."""

    def __init__(self, offsets: dict[int, float]) -> None:
        self.offsets = offsets

    def offset(self, step: int) -> float:
        return self.offsets.get(step, 0.0)


def _planner(feel: dict[int, float] | None = None):
    cfg = EngineConfig(ModeConfig(silence=1.0), SamplerConfig(seed=0))
    rig = OfflineRig(cfg, FakeSession(0), bpm=120.0)
    planner = rig.engine.planner
    planner.ornament = _Always()
    planner.feel = _Moves(feel) if feel else None
    return rig, planner


def _overlaps(notes: list[tuple[int, int, int]]) -> list:
    """Pairs of queued notes of which one starts while the other sounds."""
    notes = sorted(notes)
    return [(a, b) for a, b in zip(notes, notes[1:]) if b[0] < a[1] and b[0] != a[0]]


def test_a_grace_note_waits_for_the_note_before_it_as_sent_not_as_planned() -> None:
    """Two notes two grid steps apart; the feel sends the first late (+0.85 step) and the
    second early (-0.4): a grace one step before the second would start before the first
    has. The second gets none (the first does: nothing before it); with the notes on the
    grid both do. Nothing overlaps."""
    rig, planner = _planner({100: 0.85, 102: -0.4})
    planner._schedule([(100, 102, 60, 90), (102, 108, 64, 90)])
    queued = _queued_notes(rig)
    assert sorted(p for *_, p in queued) == [55, 60, 64] and not _overlaps(queued), queued
    rig, planner = _planner()
    planner._schedule([(100, 102, 60, 90), (102, 108, 64, 90)])
    queued = _queued_notes(rig)
    assert sorted(p for *_, p in queued) == [55, 59, 60, 64] and not _overlaps(queued), queued
    assert planner.stats.graces == 2


def test_a_grace_taken_back_is_undone_and_may_come_again() -> None:
    """A replan takes back the second note and its grace: the note before it ends as it
    was planned again, the grace is no longer counted, and planned again the same note
    gets its grace again."""
    rig, planner = _planner()
    planner._schedule([(100, 106, 60, 90)])
    planner._schedule([(106, 110, 64, 90)])
    ends = {p: off for _, off, p in _queued_notes(rig)}
    assert ends[60] == planner._time(105) and planner.stats.graces == 2  # ended by the grace
    planner._take_back(planner._time(106))
    back = {p: off for _, off, p in _queued_notes(rig)}
    assert back == {55: planner._time(100), 60: planner._time(106)}
    assert planner.stats.graces == 1
    planner._schedule([(106, 110, 64, 90)])
    again = _queued_notes(rig)
    assert sorted(p for *_, p in again) == [55, 59, 60, 64] and planner.stats.graces == 2
    assert not _overlaps(again)
