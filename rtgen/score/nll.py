"""Bits per token of the truth given the call, for the model and the n-gram on the same tokens.

The call and its truth are encoded as one piece (the call the player's, the truth the
model's, as the engine hears a call and its answer), from BOS; the truth's tokens are those
after the call's own encoding (the shifts up to its first note included, no EOS: the music
goes on). Each model starts from a fresh state.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from rtgen import tokens as T
from rtgen.events import Note, Role
from rtgen.ngram import NGram
from rtgen.score.calls import WINDOW_BEATS
from rtgen.sessions import log_softmax


def truth_tokens(call: tuple[Note, ...], truth: tuple[Note, ...]) -> tuple[np.ndarray, int]:
    """(the whole token sequence, index of the truth's first token in it)."""
    player = [replace(n, role=Role.PLAYER) for n in call]
    model = [
        replace(n, start=n.start + WINDOW_BEATS, end=n.end + WINDOW_BEATS, role=Role.MODEL)
        for n in truth
    ]
    first = len(T.encode_notes(player, eos=False))
    seq = T.encode_notes(player + model, eos=False)
    return np.asarray(seq, dtype=np.int64), first


def session_bits(session, seq: np.ndarray, first: int) -> float:
    """Total -log2 p of seq[first:] under a session stepped from a fresh state."""
    session.reset()
    total = 0.0
    for i in range(1, len(seq)):
        logits = session.step(int(seq[i - 1]))
        if i >= first:
            total -= float(log_softmax(logits)[int(seq[i])])
    return total / math.log(2.0)


def ngram_bits(ngram: NGram, seq: np.ndarray, first: int) -> float:
    """Total -log2 p of seq[first:] under the n-gram (log2_probs starts at seq[1])."""
    return float(-ngram.log2_probs(seq)[first - 1 :].sum())
