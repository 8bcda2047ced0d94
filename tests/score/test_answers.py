"""Answers through the real engine offline, from the bundled model and from the n-gram."""

from __future__ import annotations

import pytest

from rtgen.assets import ASSETS, default_play_model
from rtgen.jam import beats_to_answer, jam_offline
from rtgen.ngram import NGramSession
from rtgen.score.answers import engine_answer, settings_for
from rtgen.sessions import open_session
from tests.score.helpers import line


@pytest.fixture(scope="module")
def session():
    return open_session(default_play_model("cpu"), "cpu")


CALL = line(60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72)  # 6 beats of 8ths


def test_an_answer_is_two_bars_from_its_first_beat_and_repeats_by_seed(session) -> None:
    """The answer's notes lie in its 8 beats, it opens on its first beat, and a seed
    repeats it exactly (the session is reset for each call)."""
    a = engine_answer(session, CALL, 3)
    assert a and min(n.start for n in a) == pytest.approx(0.0, abs=1e-6)
    assert all(-1e-6 <= n.start < 8 and n.end <= 8 + 1e-6 for n in a)
    assert engine_answer(session, CALL, 3) == a
    assert engine_answer(session, CALL, 4) != a


def test_the_answer_after_the_call_is_kept_not_one_cut_by_barge_in(session) -> None:
    """A call with a three-beat rest is answered in the rest and barged in on; the call
    goes on, and the answer kept is the one after it ends, which waits for a silence longer
    than that rest (beat 11 here: the call ends on beat 7, 3 beats and a grid step later
    is 10.08, the next beat is 11)."""
    call = line(60, 62, 64, 65) + line(67, 65, 64, 62, start=5.0)
    session.reset()
    res = jam_offline(session, settings_for(0), 0, call, beats_to_answer(settings_for(0), 8.0))
    assert res.stats["answers"] == 2 and res.stats["answer_start"] == 11.0
    late = [(round(n.start - 11, 6), n.pitch) for n in res.model if n.start >= 11.0 - 1e-6]
    assert [(round(n.start, 6), n.pitch) for n in engine_answer(session, call, 0)] == late


def test_the_ngram_answers_through_the_same_engine() -> None:
    """An NGramSession drives the planner and sampler like a network does."""
    ngram = NGramSession.open(ASSETS / "default.ngram.npz")
    a = engine_answer(ngram, CALL, 0)
    assert a and all(36 <= n.pitch <= 96 for n in a)
    assert engine_answer(ngram, CALL, 0) == a
