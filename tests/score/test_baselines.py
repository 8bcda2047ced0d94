"""The model-free baselines: copy and random-in-key."""

from __future__ import annotations

from rtgen.score import metrics as M
from rtgen.score.baselines import copy_answer, random_in_key
from tests.score.helpers import notes

C_MAJOR = notes((0, 2, 60), (2, 3, 64), (3, 4, 67), (4, 6, 72), (6, 7, 65), (7, 8, 62))


def test_copy_is_the_call() -> None:
    """The copy baseline plays the call back unchanged."""
    assert copy_answer(C_MAJOR) == C_MAJOR


def test_random_in_key_keeps_count_scale_range_and_16ths() -> None:
    """As many notes as the call, in its key, within its range +-2, on distinct 16ths."""
    for seed in range(20):
        ans = random_in_key(C_MAJOR, seed, index=3)
        assert len(ans) == len(C_MAJOR)
        assert M.in_key(ans, M.call_scale(C_MAJOR)) == 1.0
        assert all(58 <= n.pitch <= 74 for n in ans)
        steps = M.onsets(ans)
        assert len(steps) == len(ans) and all(s % 3 == 0 and 0 <= s < 96 for s in steps)
        assert M.polyphony(ans) == 0.0 and all(n.end <= 8.0 for n in ans)


def test_random_in_key_is_seeded() -> None:
    """Same (seed, call index): same notes; another seed or call: other notes."""
    a = random_in_key(C_MAJOR, 1, 0)
    assert a == random_in_key(C_MAJOR, 1, 0)
    assert a != random_in_key(C_MAJOR, 2, 0) and a != random_in_key(C_MAJOR, 1, 1)
