"""NLL of the truth given the call: the same tokens for the model and the n-gram."""

from __future__ import annotations

import numpy as np
import pytest

from rtgen import tokens as T
from rtgen.assets import ASSETS
from rtgen.events import Role
from rtgen.ngram import NGram, NGramSession
from rtgen.score.nll import ngram_bits, session_bits, truth_tokens
from tests.score.helpers import line

CALL = tuple(line(60, 62, 64, 65, 67, 65, 64, 62, step=1.0))
TRUTH = tuple(line(72, 71, 69, 67, step=2.0))


def test_the_truth_tokens_follow_the_calls_own_encoding() -> None:
    """The sequence opens with the call's encoding; the rest is the truth, as the model's."""
    seq, first = truth_tokens(CALL, TRUTH)
    assert list(seq[:first]) == T.encode_notes(list(CALL), eos=False)
    assert T.role_token(Role.MODEL) in seq[first:] and T.EOS not in seq
    assert sum(T.NOTE_ON_BASE <= t < T.NOTE_ON_BASE + 128 for t in seq[first:]) == 4


def test_a_stepped_ngram_session_scores_as_the_ngram_does() -> None:
    """Stepping NGramSession and scoring the n-gram at once give the same bits."""
    ngram = NGram.load(ASSETS / "default.ngram.npz")
    seq, first = truth_tokens(CALL, TRUTH)
    bits = ngram_bits(ngram, seq, first)
    assert bits > 0
    assert session_bits(NGramSession(ngram), seq, first) == pytest.approx(bits, rel=1e-9)
    assert np.isfinite(bits)
