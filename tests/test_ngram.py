"""rtgen.ngram: the n-gram training builds, read and scored by the package, and its session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtgen import tokens as T
from rtgen.errors import RtgenError
from rtgen.events import Note
from rtgen.ngram import NGram, NGramSession
from training.baseline import train_ngram


def _stream(seed: int = 0, pieces: int = 30) -> np.ndarray:
    """Token pieces (BOS ... EOS) of random short melodies."""
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for _ in range(pieces):
        t = 0.0
        notes = []
        for p in rng.integers(55, 75, size=12):
            d = float(rng.choice([0.5, 1.0]))
            notes.append(Note(t, t + d, int(p)))
            t += d
        out += T.encode_notes(notes)
    return np.asarray(out, dtype=np.int64)


@pytest.fixture(scope="module")
def ngram(tmp_path_factory: pytest.TempPathFactory) -> NGram:
    """Built by training, saved, and loaded back by the package."""
    path = tmp_path_factory.mktemp("ng") / "m.ngram.npz"
    train_ngram(_stream(), order=4).save(path)
    return NGram.load(path)


def test_next_token_distribution_matches_sequence_scoring(ngram: NGram) -> None:
    """For every position, the one-context distribution sums to 1 and gives log2_probs's
    value for the token that came."""
    seq = _stream(seed=1, pieces=2)
    want = ngram.log2_probs(seq)
    for i in range(1, len(seq)):
        dist = ngram.next_log2_probs(list(seq[:i]))
        assert np.exp2(dist).sum() == pytest.approx(1.0, abs=1e-9)
        assert dist[seq[i]] == pytest.approx(want[i - 1], abs=1e-12)


def test_session_steps_snapshots_and_restores(ngram: NGram) -> None:
    """step gives natural-log probabilities; restore returns to the snapshot's context."""
    s = NGramSession(ngram)
    s.step(T.BOS)
    snap = s.snapshot()
    a = s.step(T.note_on(60))
    s.step(T.shift_token(6))
    s.restore(snap)
    assert np.array_equal(s.step(T.note_on(60)), a)
    assert np.exp(a).sum() == pytest.approx(1.0, abs=1e-9)
    s.reset()
    assert s.snapshot() == ()


def test_a_file_that_is_not_an_ngram_is_one_line(tmp_path: Path) -> None:
    """Loading anything else is an RtgenError naming the file."""
    bad = tmp_path / "x.npz"
    bad.write_bytes(b"nope")
    with pytest.raises(RtgenError, match="not an rtgen n-gram file"):
        NGram.load(bad)
