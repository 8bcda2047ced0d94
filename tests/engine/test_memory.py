"""The session memory: it learns the player's motifs and rhythms, echoes them through the
steer, forgets on request, and survives a save and a load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rtgen import tokens as T
from rtgen.engine.bias import Strengths
from rtgen.engine.manner import estimate_manner
from rtgen.engine.memory import MAX_INTERVAL, Memory
from rtgen.engine.sampler import GenState
from rtgen.engine.steer import Steer, SteerConfig
from rtgen.events import Note

MOTIF = [60, 62, 64, 60]  # up, up, back down: intervals +2 +2 -4


def _phrase(pitches: list[int], start: float = 0.0) -> list[Note]:
    return [Note(start + i * 0.5, start + i * 0.5 + 0.5, p) for i, p in enumerate(pitches)]


def test_it_learns_a_motif_transposition_free() -> None:
    """Having heard +2 +2 -4 (twice, in two keys), after +2 +2 it expects -4 most."""
    mem = Memory()
    mem.learn(MOTIF + [67, 69, 71, 67], [6] * 7)
    p = mem.interval_probs([2, 2])
    assert np.argmax(p) - MAX_INTERVAL == -4
    assert mem.interval_probs([5, 7, 2, 2]) is not None  # an unheard context falls back
    assert mem.notes == 7 and len(mem.phrases) == 1


def test_it_learns_rhythm() -> None:
    """After gaps 8, 4, 8, 4 the next after an 8 is a 4."""
    mem = Memory()
    mem.learn([60, 62, 64, 65, 67], [8, 4, 8, 4])
    assert np.argmax(mem.gap_probs([4, 8])) == 4


def test_empty_or_one_note_teaches_nothing() -> None:
    """No phrase, no prediction."""
    mem = Memory()
    assert mem.learn([60], []) is False
    assert mem.interval_probs([2]) is None and mem.gap_probs([6]) is None


def test_oldest_phrases_are_forgotten_first_and_the_last_can_be_taken_back() -> None:
    """Past max_phrases the oldest goes; forget_last and reset undo learning exactly."""
    mem = Memory(max_phrases=2)
    mem.learn([60, 72], [12])  # +12
    mem.learn([60, 61], [12])  # +1
    mem.learn([60, 63], [12])  # +3: the +12 phrase is forgotten
    p = mem.interval_probs([])
    assert p[MAX_INTERVAL + 12] == 0 and p[MAX_INTERVAL + 1] == p[MAX_INTERVAL + 3] == 0.5
    mem.forget_last()
    assert mem.interval_probs([])[MAX_INTERVAL + 1] == 1.0
    mem.reset()
    assert mem.notes == 0 and mem.interval_probs([]) is None


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    """A saved memory loads with the same phrases and the same predictions."""
    mem = Memory()
    mem.learn(MOTIF, [6, 6, 12])
    mem.learn([55, 57, 59, 62, 55], [4, 8, 4, 8])
    path = tmp_path / "mem.json"
    mem.save(path)
    back = Memory.load(path)
    assert back.phrases == mem.phrases
    for ctx in ([], [2], [2, 2], [2, 2, 3]):
        assert np.array_equal(back.interval_probs(ctx), mem.interval_probs(ctx))
    assert np.array_equal(back.gap_probs([4, 8]), mem.gap_probs([4, 8]))


@pytest.mark.parametrize(
    "doc",
    [{"format": "other"}, {"format": "rtgen-memory-1", "phrases": [[[99], [6]]]}, [], "x"],
)
def test_a_file_that_is_no_memory_is_refused(tmp_path: Path, doc: object) -> None:
    """Another format, a symbol out of range, or no object at all: ValueError."""
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError):
        Memory.load(path)


def test_the_steer_echoes_the_motif_after_its_opening() -> None:
    """With the memory's weight at 1 and the model indifferent, after the answer played
    67, 69, 71 (+2 +2) the next pitch is 67 (-4) as the call did; the NOTE_ONs' total (the
    chance to strike now at all) is the model's."""
    call = _phrase(MOTIF + [62, 64, 66, 62])
    manner = estimate_manner(call)
    mem = Memory()
    mem.learn(manner.line, manner.gaps)
    steer = Steer(SteerConfig(Strengths(), memory=1.0), mem)
    steer.begin(manner, start_step=96, steps=96)
    gen = GenState(step=108, recent=((96, 67), (100, 69), (104, 71)))
    z = steer.adjust(np.zeros(T.VOCAB_SIZE, dtype=np.float32), gen)
    on = z[T.NOTE_ON_BASE : T.NOTE_ON_BASE + 128]
    assert np.argmax(on) == 67
    assert np.exp(on).sum() == pytest.approx(128.0)


def test_the_steer_leaves_the_logits_it_was_given_alone() -> None:
    """adjust returns new logits; the planner keeps the model's own."""
    steer = Steer(SteerConfig(Strengths(texture=3, rhythm=1), memory=0.5), Memory())
    steer.begin(estimate_manner(_phrase(MOTIF)), 96, 96)
    logits = np.zeros(T.VOCAB_SIZE)
    z = steer.adjust(logits, GenState(step=100, sounding={60: 96}, recent=((96, 60),)))
    assert not logits.any() and z.any()
