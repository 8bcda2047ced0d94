"""Each metric on hand-made answers whose figures are known."""

from __future__ import annotations

import pytest

from rtgen.events import Note
from rtgen.score import metrics as M
from tests.score.helpers import line, notes

CALL = line(60, 62, 64, 65, 67, 65, 64, 62)  # C major, 8ths from beat 0


def test_a_copied_call_is_a_copy_and_echoes_everything() -> None:
    """The call played back: copy rate 1, every motif from the call, L1 0."""
    m = M.answer_metrics(CALL, CALL, CALL)
    assert m["copy"] == 1.0 and m["echo"] == 1.0 and m["motif_share"] == 1.0
    assert m["echo_transposed"] == 0.0
    assert m["pc_l1_call"] == 0.0 and m["interval_l1"] == 0.0 and m["ioi_l1"] == 0.0
    assert m["density_vs_call"] == 1.0 and m["notes"] == 8.0


def test_a_transposed_motif_is_an_echo_transposed_only() -> None:
    """The call's first four notes a fifth up, then other notes: an echo by shape alone."""
    answer = line(67, 69, 71, 72, 60, 60, 72, 48)
    m = M.motifs(answer, CALL)
    assert m["echo"] == 1.0 and m["echo_transposed"] == 1.0
    assert m["motif_share"] == pytest.approx(1 / 5)  # one of its five 4-note shapes
    assert M.similarity(answer, CALL) < M.COPY_RATIO


def test_no_shared_shape_is_no_echo() -> None:
    """Repeated notes share no 4-note shape with a stepwise call."""
    assert M.motifs(line(60, 60, 60, 60), CALL) == {
        "echo": 0.0,
        "motif_share": 0.0,
        "echo_transposed": 0.0,
    }


def test_copy_rate_threshold() -> None:
    """One pitch changed in eight still copies (ratio 7/8); half changed does not."""
    one_off = line(60, 62, 64, 65, 67, 65, 64, 61)
    half = line(60, 62, 64, 65, 72, 74, 76, 77)
    assert M.similarity(one_off, CALL) == pytest.approx(7 / 8) and M.is_copy(one_off, CALL)
    assert not M.is_copy(half, CALL)


def test_a_chord_counts_as_polyphony() -> None:
    """A three-note chord then a single note: three of four notes start together."""
    assert M.polyphony(notes((0, 1, 60), (0, 1, 64), (0, 1, 67), (1, 2, 65))) == 0.75


def test_a_note_under_a_held_one_is_polyphony_and_legato_is_not() -> None:
    """A note struck under a held note counts (both are not: the held one started alone);
    a note starting where the last one ends does not."""
    assert M.polyphony(notes((0, 2, 60), (1, 2, 64))) == 0.5
    assert M.polyphony(CALL) == 0.0


def test_grid_shares_of_known_onsets() -> None:
    """Onsets at steps 0 (beat), 6 (8th), 3 (16th), 4 and 8 (triplets), 1 (off)."""
    g = 1 / 12
    on = [0, 6, 3, 4, 8, 1]
    m = M.grid_shares([Note(s * g, s * g + g, 60) for s in on])
    assert m == {
        "beat": pytest.approx(1 / 6),
        "8th": pytest.approx(2 / 6),
        "16th": pytest.approx(3 / 6),
        "triplet": pytest.approx(2 / 6),
        "off": pytest.approx(1 / 6),
    }


def test_in_key_of_known_notes() -> None:
    """A C major call: C, E and G are in key, F# and C# are not."""
    c_major = notes((0, 2, 60), (2, 3, 64), (3, 4, 67), (4, 6, 72), (6, 7, 65), (7, 8, 62))
    scale = M.call_scale(c_major)
    assert scale == {0, 2, 4, 5, 7, 9, 11}
    assert M.in_key(line(60, 64, 67, 66, 61), scale) == pytest.approx(3 / 5)


def test_a_minor_call_allows_its_raised_seventh() -> None:
    """An A minor call (duration-weighted): G# counts as in key, as does G."""
    a_minor = notes((0, 2, 69), (2, 3, 71), (3, 4, 72), (4, 5, 76), (5, 7, 69), (7, 8, 64))
    scale = M.call_scale(a_minor)
    assert {8, 7, 9} <= scale and 1 not in scale


def test_pitch_class_l1_and_gaps() -> None:
    """Disjoint pitch classes are 2 apart; mean-pitch and range gaps in semitones."""
    a, b = line(60, 64), line(62, 69)
    assert M.l1(M.pitch_classes(a), M.pitch_classes(b)) == 2.0
    assert M.mean_pitch_gap(a, b) == 3.5 and M.range_gap(a, b) == 3.0


def test_interval_and_inter_onset_histograms() -> None:
    """Intervals are clipped to +-12, gaps to 48 steps; same shape on other pitches is L1 0."""
    assert M.l1(M.intervals(line(60, 62, 64)), M.intervals(line(70, 72, 74))) == 0.0
    wide = M.intervals(line(40, 80))
    assert wide[2 * M.MAX_INTERVAL] == 1.0  # +40 lands in the +12 bin
    far = M.inter_onsets(notes((0, 1, 60), (6, 7, 60)))
    assert far[M.MAX_GAP_STEPS] == 1.0
    assert M.l1(M.inter_onsets(line(60, 62, step=0.5)), M.inter_onsets(line(60, 62))) == 0.0


def test_silence_and_diversity() -> None:
    """A silent answer has no pitch figures (None), and counts as silent; identical seeds
    have diversity 0, one answer has none."""
    m = M.answer_metrics([], CALL, CALL)
    assert m["silent"] == 1.0 and m["notes"] == 0.0 and m["pc_l1_truth"] is None
    assert M.diversity([CALL, CALL]) == 0.0 and M.diversity([CALL]) is None
    assert 0 < M.diversity([CALL, line(70, 71, 72)]) <= 1
