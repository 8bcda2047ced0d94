"""rtgen.humanize: seeded, within its stated figures, and never breaks a note or the order."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rtgen.events import Note, Role
from rtgen.humanize import HumanizeParams, PlayerRanges, draw_params, humanize, stable_seed
from rtgen.tokens import decode_tokens, encode_notes

STILL = HumanizeParams(
    onset_sd_ms=0.0, chord_spread_ms=0.0, release_sd_ms=0.0, articulation=1.0, velocity_sd=0.0
)


def _melody(n: int = 2000, step: float = 0.5, phrase: float = 8.0) -> list[Note]:
    """8th notes, roles alternating every ``phrase`` beats, one velocity (as the corpus)."""
    return [
        Note(i * step, (i + 1) * step, 60 + i % 12, 80, Role(int(i * step // phrase) % 2))
        for i in range(n)
    ]


def _random_notes(rng: np.random.Generator, n: int = 300) -> list[Note]:
    """Notes on the 1/12 grid, chords, overlaps, repeated pitches and a few zero lengths."""
    starts = np.sort(rng.integers(0, 600, n)) / 12
    lengths = rng.integers(0, 30, n) / 12
    pitches = rng.integers(55, 67, n)
    roles = rng.integers(0, 2, n)
    return [
        Note(float(s), float(s + d), int(p), 80, Role(int(r)))
        for s, d, p, r in zip(starts, lengths, pitches, roles)
    ]


def test_same_seed_same_notes_other_seed_other_notes() -> None:
    """Two generators with one seed give identical notes; another seed gives other notes."""
    notes = _melody(200)
    a = humanize(notes, HumanizeParams(), np.random.default_rng(7))
    b = humanize(notes, HumanizeParams(), np.random.default_rng(7))
    c = humanize(notes, HumanizeParams(), np.random.default_rng(8))
    assert a == b and a != c
    assert stable_seed("x.mid") == stable_seed("x.mid") != stable_seed("y.mid")
    assert stable_seed("x.mid") == 18229877935584414041  # sha1, the same on every machine


@pytest.mark.parametrize("bpm", [80.0, 120.0, 160.0])
def test_onset_jitter_is_the_stated_milliseconds(bpm: float) -> None:
    """Onset moves have mean ~0 and sd within 12% of sqrt(onset_sd^2 + spread^2), in ms."""
    p = HumanizeParams(bpm=bpm, onset_sd_ms=15.0, chord_spread_ms=4.0)
    notes = _melody()
    out = humanize(notes, p, np.random.default_rng(1))
    ms = np.array([(b.start - a.start) * 60_000 / bpm for a, b in zip(notes, out)])[1:]
    want = np.hypot(15.0, 4.0)
    assert abs(ms.mean()) < 1.5
    assert 0.88 * want < ms.std() < 1.12 * want
    assert np.abs(ms).max() <= 2.5 * (15.0 + 4.0) + 1e-6  # draws are truncated


def test_velocity_phrase_means_in_range_and_accents_on_beats() -> None:
    """Each phrase averages within its drawn range; downbeats > beats > off-beats on average."""
    p = replace(HumanizeParams(), phrase_beats=8.0)
    notes = _melody(4000)
    out = humanize(notes, p, np.random.default_rng(2))
    vel = np.array([n.velocity for n in out], dtype=float)
    start = np.array([n.start for n in notes])
    phrase = (start // 8).astype(int)
    means = np.bincount(phrase, weights=vel) / np.bincount(phrase)
    noise = 3 * p.velocity_sd / np.sqrt(16)  # 16 notes a phrase
    assert means.min() > p.velocity_low - noise and means.max() < p.velocity_high + noise
    assert means.std() > 5  # phrases differ: the mean varies per phrase
    assert vel.min() >= 1 and vel.max() <= 127
    resid = vel - means[phrase]
    down = start % 4 == 0
    beat = (start % 1 == 0) & ~down
    off = start % 1 != 0
    assert resid[down].mean() > resid[beat].mean() + 2 > resid[off].mean() + 4


def test_swing_moves_only_offbeat_eighths() -> None:
    """With jitter off, swing 2/3 moves x.5 to x+2/3 (onsets and ends) and nothing else."""
    notes = [Note(i / 4, i / 4 + 0.25, 60 + i % 5, 80) for i in range(64)]  # 16ths
    out = humanize(notes, replace(STILL, swing=2 / 3), np.random.default_rng(3))
    for a, b in zip(notes, out):
        if a.start % 1 == 0.5:
            assert b.start == pytest.approx(a.start + 1 / 6)
        else:
            assert b.start == a.start
        if a.end % 1 == 0.5:
            assert b.end == pytest.approx(a.end + 1 / 6)
        else:
            assert b.end == pytest.approx(a.end)
    with pytest.raises(ValueError):
        HumanizeParams(swing=0.75)


@pytest.mark.parametrize("seed", range(20))
def test_no_negative_time_no_short_note_onsets_keep_order(seed: int) -> None:
    """Fuzzed grid notes: starts >= 0, lengths >= one grid step, distinct onsets keep order."""
    rng = np.random.default_rng(seed)
    notes = _random_notes(rng)
    p = draw_params(rng, ranges=replace(PlayerRanges(), swing_prob=0.5))
    out = humanize(notes, p, rng)
    assert len(out) == len(notes)
    assert all(n.start >= 0 for n in out)
    assert all(n.end - n.start >= p.min_duration_beats - 1e-12 for n in out)
    assert [(n.pitch, n.role, n.channel) for n in out] == [
        (n.pitch, n.role, n.channel) for n in notes
    ]
    # Two notes with different (swung) written onsets never swap.
    written = np.array([n.start for n in humanize(notes, replace(STILL, swing=p.swing), rng)])
    played = np.array([n.start for n in out])
    i, j = np.triu_indices(len(notes), 1)
    differ = np.abs(written[i] - written[j]) > 1e-9
    assert np.all(
        np.sign(written[i] - written[j])[differ] == np.sign(played[i] - played[j])[differ]
    )


@pytest.mark.parametrize("seed", range(20))
def test_untouched_role_stays_and_decodes_the_same(seed: int) -> None:
    """Humanising the player only leaves model notes as they were, through tokens too."""
    rng = np.random.default_rng(100 + seed)
    notes = decode_tokens(encode_notes(_random_notes(rng)))  # on the grid, as shards hold
    p = draw_params(rng)
    out = humanize(notes, p, rng, roles={Role.PLAYER})
    model = [n for n in notes if n.role == Role.MODEL]
    assert [n for n in out if n.role == Role.MODEL] == model
    player_before = [n for n in notes if n.role == Role.PLAYER]
    assert [n for n in out if n.role == Role.PLAYER] != player_before
    again = decode_tokens(encode_notes(out))
    assert [n for n in again if n.role == Role.MODEL] == model


def test_draw_params_stays_in_its_ranges() -> None:
    """A drawn player's tempo, jitter and phrase come from PlayerRanges; swing off by default."""
    rng = np.random.default_rng(5)
    ps = [draw_params(rng) for _ in range(200)]
    assert all(80 <= p.bpm <= 160 and 10 <= p.onset_sd_ms <= 20 for p in ps)
    assert {p.phrase_beats for p in ps} == {4.0, 8.0, 16.0}
    assert all(p.swing == 0.5 for p in ps)
