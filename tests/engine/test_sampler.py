"""Masks, the draw and the generation state of the constrained sampler (rtgen/engine/sampler.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtgen.engine.keys import scale_pitch_classes
from rtgen.engine.sampler import GenState, Sampler, SamplerConfig
from rtgen.events import Role
from rtgen.tokens import (
    BOS,
    EOS,
    GRID_STEPS_PER_BEAT,
    MAX_SHIFT,
    NOTE_OFF_BASE,
    NOTE_ON_BASE,
    OFFSETS,
    PAD,
    SHIFT_BASE,
    VELOCITY_BASE,
    VOCAB_SIZE,
    kind_of,
    note_off,
    note_on,
    role_token,
    shift_token,
    velocity_token,
)

G = GRID_STEPS_PER_BEAT
SEEDED = settings(derandomize=True, max_examples=60, deadline=None)
BLOCKS = ("NOTE_ON", "NOTE_OFF", "SHIFT", "VELOCITY", "ROLE", "EOS", "BOS", "PAD")


@st.composite
def configs(draw: st.DrawFn) -> SamplerConfig:
    """Sampler configs across the whole parameter space, tight limits drawn often."""
    low = draw(st.integers(0, 120))
    high = draw(st.integers(low, min(127, low + draw(st.sampled_from([0, 3, 12, 40, 127])))))
    key = draw(
        st.one_of(
            st.none(),
            st.builds(scale_pitch_classes, st.integers(0, 11), st.sampled_from(["major", "minor"])),
            st.sets(st.integers(0, 11), min_size=1, max_size=4),
        )
    )
    if key is not None and not any(p % 12 in key for p in range(low, high + 1)):
        key = None  # SamplerConfig refuses a key with no pitch in range (tested below)
    lo_density = draw(st.sampled_from([0, 0, 1, 2, 3]))
    return SamplerConfig(
        temperature=draw(st.sampled_from([0.05, 0.5, 1.0, 2.0])),
        top_p=draw(st.sampled_from([1e-6, 0.5, 0.9, 1.0])),
        min_p=draw(st.sampled_from([0.0, 0.05, 0.5])),
        low=low,
        high=high,
        key=key,
        max_polyphony=draw(st.integers(1, 6)),
        max_note_beats=draw(st.sampled_from([1 / G, 0.25, 0.5, 1.0, 2.0, 4.5])),
        min_notes_per_beat=lo_density,
        max_notes_per_beat=draw(st.integers(max(1, lo_density), 8)),
        seed=draw(st.integers(0, 2**16)),
    )


def logits_stream(seed: int, kind: str, bias: float):
    """Endless random (vocab,) float32 logits; ``bias`` added to one block pushes the model
    toward one kind of token (e.g. toward EOS, or toward long shifts)."""
    rng = np.random.default_rng(seed)
    offset = np.zeros(VOCAB_SIZE, dtype=np.float32)
    start, count = OFFSETS[kind]
    offset[start : start + count] = bias
    while True:
        yield (rng.normal(0.0, 3.0, VOCAB_SIZE) + offset).astype(np.float32)


def generate(sampler: Sampler, logits, n: int = 200, state: GenState | None = None) -> list[int]:
    state = state or GenState()
    out = []
    for _ in range(n):
        token = sampler.sample(next(logits), state)
        state.update(token)
        out.append(token)
    return out


@SEEDED
@given(
    configs(),
    st.integers(0, 2**31),
    st.sampled_from(BLOCKS),
    st.sampled_from([0.0, 4.0, 40.0]),
)
def test_generated_streams_obey_every_rule(cfg, seed, kind, bias):
    """200 drawn tokens should break no rule, checked by a tracker independent of GenState."""
    sampler = Sampler(cfg)
    tokens = generate(sampler, logits_stream(seed, kind, bias))
    limit = cfg.max_note_steps
    allowed = sampler._pitch_ok  # range and key, as a (128,) table
    step, sounding, per_beat = 0, {}, {}
    for token in tokens:
        kind_, arg = kind_of(token)
        assert kind_ in ("NOTE_ON", "NOTE_OFF", "SHIFT", "VELOCITY")
        if kind_ == "SHIFT":
            step += arg
            assert all(step - on <= limit for on in sounding.values()), "note past its limit"
        elif kind_ == "NOTE_OFF":
            assert arg in sounding, "note-off for a pitch that does not sound"
            assert sounding.pop(arg) < step, "zero-length note"
        elif kind_ == "NOTE_ON":
            assert cfg.low <= arg <= cfg.high and allowed[arg]
            assert cfg.key is None or arg % 12 in cfg.key
            assert arg not in sounding
            sounding[arg] = step
            assert len(sounding) <= cfg.max_polyphony
            per_beat[step // G] = per_beat.get(step // G, 0) + 1
            assert per_beat[step // G] <= cfg.max_notes_per_beat
    # Density: every finished beat got its note-ons whenever the rule can be met (it yields
    # only when all voices are held by notes struck on that very step).
    n_pitches = int(allowed.sum())
    if cfg.min_notes_per_beat <= min(cfg.max_polyphony, n_pitches):
        for beat in range(step // G):
            assert per_beat.get(beat, 0) >= cfg.min_notes_per_beat, f"beat {beat} too sparse"


@SEEDED
@given(configs(), st.integers(0, 2**31))
def test_velocity_then_note_on(cfg, seed):
    """A VELOCITY should always be followed by a NOTE_ON and never repeat the current bin."""
    tokens = generate(Sampler(cfg), logits_stream(seed, "VELOCITY", 6.0), n=150)
    current = None
    for prev, token in zip(tokens, tokens[1:]):
        if kind_of(prev)[0] == "VELOCITY":
            assert kind_of(token)[0] == "NOTE_ON"
            assert kind_of(prev)[1] != current
            current = kind_of(prev)[1]


def random_state(rng: np.random.Generator) -> GenState:
    """A state reached by a short random (legal) stream."""
    sampler = Sampler(SamplerConfig(max_polyphony=3, seed=int(rng.integers(1 << 30))))
    state = GenState()
    for _ in range(int(rng.integers(0, 30))):
        state.update(sampler.sample(rng.normal(0, 2, VOCAB_SIZE), state))
    return state


def test_cold_temperature_picks_the_best_allowed_token():
    """As the temperature goes to 0 the draw should be the argmax of the allowed logits."""
    rng = np.random.default_rng(7)
    sampler = Sampler(SamplerConfig(temperature=1e-6, low=40, high=90, key="D", seed=1))
    for _ in range(200):
        state = random_state(rng)
        logits = rng.normal(0, 1, VOCAB_SIZE).astype(np.float32)
        mask = sampler.mask(state)
        best = int(np.flatnonzero(mask)[np.argmax(logits[mask])])
        assert sampler.sample(logits, state) == best


def test_tiny_top_p_picks_the_best_allowed_token():
    """A nucleus of almost no mass should hold only the most likely allowed token."""
    rng = np.random.default_rng(8)
    sampler = Sampler(SamplerConfig(top_p=1e-9, min_p=0.1, seed=2))
    for _ in range(200):
        state = random_state(rng)
        logits = rng.normal(0, 3, VOCAB_SIZE)
        mask = sampler.mask(state)
        assert sampler.sample(logits, state) == int(np.flatnonzero(mask)[np.argmax(logits[mask])])


def test_min_p_and_top_p_cut_the_tail():
    """min-p should drop tokens below min_p x best; top-p keep the smallest set reaching p."""
    logits = np.full(VOCAB_SIZE, -50.0)
    wanted = [note_on(60), note_on(62), note_on(64), shift_token(3)]
    logits[wanted] = np.log([0.5, 0.3, 0.15, 0.05])
    state = GenState()
    ids, p = Sampler(SamplerConfig(min_p=0.2)).distribution(logits, state)
    assert sorted(ids) == sorted(wanted[:3]) and p.sum() == pytest.approx(1.0)
    ids, p = Sampler(SamplerConfig(top_p=0.75)).distribution(logits, state)
    assert list(ids) == wanted[:2]
    assert p == pytest.approx([0.625, 0.375], abs=1e-6)


def test_same_seed_same_tokens():
    """Two samplers with one seed and one logit stream should draw identical tokens."""
    cfg = SamplerConfig(temperature=1.5, top_p=0.9, min_notes_per_beat=1, seed=1234)
    a = generate(Sampler(cfg), logits_stream(5, "NOTE_ON", 0.0), n=300)
    b = generate(Sampler(cfg), logits_stream(5, "NOTE_ON", 0.0), n=300)
    c = generate(Sampler(SamplerConfig(temperature=1.5, top_p=0.9, min_notes_per_beat=1, seed=9)),
                 logits_stream(5, "NOTE_ON", 0.0), n=300)  # fmt: skip
    assert a == b and a != c


def test_forced_note_off_wins_over_density():
    """A note at its length limit should allow only NOTE_OFFs, even in an under-filled beat."""
    cfg = SamplerConfig(max_note_beats=1.0, min_notes_per_beat=2, max_polyphony=4)
    state = GenState.from_tokens([note_on(60), shift_token(6), note_on(64), shift_token(6)])
    state.beat_note_ons = 0  # pretend the new beat is empty: density wants a NOTE_ON
    mask = Sampler(cfg).mask(state)
    assert set(np.flatnonzero(mask)) == {note_off(60), note_off(64)}
    state = GenState.from_tokens([note_on(60), shift_token(5)])
    mask = Sampler(SamplerConfig(max_note_beats=1.0)).mask(state)
    shifts = np.flatnonzero(mask[SHIFT_BASE : SHIFT_BASE + MAX_SHIFT]) + 1
    assert shifts.max() == 7  # SHIFT(7) ends exactly at the limit; SHIFT(8) would pass it


def test_density_masks_shifts_into_the_next_beat():
    """With too few note-ons, no SHIFT should reach the next beat; NOTE_ONs stay allowed."""
    sampler = Sampler(SamplerConfig(min_notes_per_beat=1))
    state = GenState(step=5 * G + 4)
    mask = sampler.mask(state)
    assert np.flatnonzero(mask[SHIFT_BASE : SHIFT_BASE + MAX_SHIFT]).max() + 1 == G - 4 - 1
    state.step = 6 * G - 1  # last step of the beat: no SHIFT at all
    mask = sampler.mask(state)
    assert not mask[SHIFT_BASE : SHIFT_BASE + MAX_SHIFT].any()
    assert mask[NOTE_ON_BASE : NOTE_ON_BASE + 128].all()
    state.update(note_on(60))  # the beat is filled: a SHIFT may now land in the next beat,
    shifts = np.flatnonzero(sampler.mask(state)[SHIFT_BASE : SHIFT_BASE + MAX_SHIFT]) + 1
    assert shifts.max() == 1 + G - 1  # but not jump past it (it would be skipped empty)


def test_density_yields_when_nothing_can_be_played():
    """When every voice holds a note struck this step, SHIFTs should come back (no stall)."""
    sampler = Sampler(SamplerConfig(min_notes_per_beat=3, max_polyphony=1))
    state = GenState.from_tokens([shift_token(G - 1), note_on(60)])
    mask = sampler.mask(state)
    assert mask[shift_token(1)] and not mask[NOTE_ON_BASE : NOTE_ON_BASE + 128].any()


def test_note_on_rules():
    """NOTE_ON should be masked out of range, out of key, for sounding pitches, and when full."""
    sampler = Sampler(SamplerConfig(low=60, high=72, key="C", max_polyphony=2))
    state = GenState.from_tokens([note_on(64)])
    ons = np.flatnonzero(sampler.mask(state)[NOTE_ON_BASE : NOTE_ON_BASE + 128])
    assert list(ons) == [60, 62, 65, 67, 69, 71, 72]
    state.update(note_on(67))
    assert not sampler.mask(state)[NOTE_ON_BASE : NOTE_ON_BASE + 128].any()
    full_beat = Sampler(SamplerConfig(max_notes_per_beat=1))
    state = GenState.from_tokens([note_on(60), shift_token(1), note_off(60)])
    assert not full_beat.mask(state)[NOTE_ON_BASE : NOTE_ON_BASE + 128].any()
    state.update(shift_token(G))
    assert full_beat.mask(state)[note_on(60)]


def test_never_special_or_role_tokens():
    """PAD, BOS, EOS and ROLE should never be allowed, and NOTE_OFF only for sounding notes."""
    mask = Sampler().mask(GenState.from_tokens([note_on(60), shift_token(2), note_on(61)]))
    assert not mask[[PAD, BOS, EOS, role_token(Role.PLAYER), role_token(Role.MODEL)]].any()
    assert list(np.flatnonzero(mask[NOTE_OFF_BASE : NOTE_OFF_BASE + 128])) == [60]


def test_fallback_when_everything_is_masked(monkeypatch: pytest.MonkeyPatch):
    """With an all-False mask the draw should end the oldest note, else take SHIFT(1)."""
    sampler = Sampler()
    monkeypatch.setattr(sampler, "mask", lambda state: np.zeros(VOCAB_SIZE, dtype=bool))
    logits = np.zeros(VOCAB_SIZE)
    state = GenState.from_tokens([note_on(70), shift_token(1), note_on(50), note_on(40)])
    assert sampler.sample(logits, state) == note_off(70)
    assert sampler.sample(logits, GenState()) == shift_token(1)


def test_non_finite_logits():
    """+inf should win outright; nan and -inf logits should never break the draw."""
    sampler = Sampler(SamplerConfig(seed=3))
    logits = np.zeros(VOCAB_SIZE)
    logits[note_on(61)] = np.inf
    logits[EOS] = np.inf  # masked: an infinite logit on a masked token changes nothing
    assert sampler.sample(logits, GenState()) == note_on(61)
    mask = sampler.mask(GenState())
    for value in (np.nan, -np.inf):
        token = sampler.sample(np.full(VOCAB_SIZE, value), GenState())
        assert mask[token]
    with pytest.raises(ValueError, match="vocabulary"):
        sampler.sample(np.zeros(VOCAB_SIZE - 1), GenState())
    assert mask[sampler.sample(np.zeros((1, VOCAB_SIZE)), GenState())]


def test_gen_state_update():
    """Shifts should move the step and reset the beat's count; player notes should not count."""
    state = GenState.from_tokens([velocity_token(20), note_on(60), shift_token(11)])
    assert (state.step, state.beat_note_ons, state.sounding) == (11, 1, {60: 0})
    assert state.velocity_bin == 20 and not state.after_velocity
    state.update(shift_token(1))
    assert (state.step, state.beat, state.beat_note_ons, state.steps_since_on) == (12, 1, 0, 12)
    state.update(role_token(Role.PLAYER))
    state.update(note_on(64))
    assert state.sounding == {60: 0} and state.beat_note_ons == 0
    state.update(note_off(60))  # a note-off ends the model's note, whoever's turn it is
    assert state.sounding == {}
    copy = state.copy()
    copy.update(role_token(Role.MODEL))
    copy.update(note_on(62))
    assert state.sounding == {} and state.role == Role.PLAYER
    with pytest.raises(ValueError):
        state.update(VOCAB_SIZE)


def test_after_velocity_only_note_on():
    """Right after a VELOCITY only NOTE_ONs should be allowed; the same bin never twice."""
    sampler = Sampler()
    state = GenState.from_tokens([velocity_token(5), note_on(60), shift_token(3)])
    mask = sampler.mask(state)
    assert mask[velocity_token(6)] and not mask[velocity_token(5)]
    state.update(velocity_token(6))
    kinds = {kind_of(int(t))[0] for t in np.flatnonzero(sampler.mask(state))}
    assert kinds == {"NOTE_ON"}


def test_after_role_only_velocity_or_note_on():
    """Right after a ROLE only VELOCITY or NOTE_ON should be allowed, as the encoder writes."""
    state = GenState.from_tokens([note_on(60), shift_token(3), role_token(Role.MODEL)])
    kinds = {kind_of(int(t))[0] for t in np.flatnonzero(Sampler().mask(state))}
    assert kinds == {"VELOCITY", "NOTE_ON"}
    state.update(velocity_token(3))
    assert not state.after_role and state.after_velocity


@pytest.mark.parametrize(
    "bad",
    [
        {"temperature": 0.0},
        {"temperature": float("inf")},
        {"top_p": 0.0},
        {"top_p": 1.5},
        {"min_p": 1.0},
        {"low": 70, "high": 60},
        {"high": 128},
        {"max_polyphony": 0},
        {"max_note_beats": 0.01},
        {"min_notes_per_beat": 3, "max_notes_per_beat": 2},
        {"max_notes_per_beat": 0},
        {"key": {12}},
        {"key": set()},
        {"key": "H minor"},
        {"key": {1}, "low": 60, "high": 60},
    ],
)
def test_config_errors(bad: dict):
    """Each impossible setting should be a ValueError at construction."""
    with pytest.raises(ValueError):
        SamplerConfig(**bad)


def test_key_names_and_reconfigure():
    """A key name should become its scale; reconfigure should change it for the next draw."""
    sampler = Sampler(SamplerConfig(key="Am", low=60, high=71, seed=4))
    assert sampler.config.key == frozenset({9, 11, 0, 2, 4, 5, 7})
    sampler.reconfigure(key="F#")
    ons = np.flatnonzero(sampler.mask(GenState())[NOTE_ON_BASE : NOTE_ON_BASE + 128])
    assert {p % 12 for p in ons} == scale_pitch_classes(6, "major")
    sampler.reconfigure(key=None)
    assert sampler.mask(GenState())[NOTE_ON_BASE : NOTE_ON_BASE + 128].sum() == 12


def _softmax_cumsum(row: np.ndarray) -> np.ndarray:
    """The least a top-p sampler must do with a logit row: the reference for its speed."""
    z = np.exp(row - row.max())
    return np.cumsum(np.sort(z / z.sum()))


def test_sample_costs_a_few_softmaxes():
    """sample() costs at most 15 plain softmax+sort+cumsum passes over the same row, timed
    interleaved in the same loop: a ratio, so it holds on a slow or loaded CPU as on a fast
    one (measured here: 1.9x; the absolute figure is printed, and rtgen bench reports it)."""
    cfg = SamplerConfig(
        temperature=0.9, top_p=0.95, min_p=0.02, low=48, high=84, key="Am",
        max_polyphony=3, max_note_beats=2.0, min_notes_per_beat=1, seed=0,
    )  # fmt: skip
    sampler, state = Sampler(cfg), GenState()
    logits = np.random.default_rng(0).normal(0, 2, (2000, VOCAB_SIZE)).astype(np.float32)
    times, refs = [], []
    for row in logits:
        t0 = time.perf_counter_ns()
        token = sampler.sample(row, state)
        t1 = time.perf_counter_ns()
        _softmax_cumsum(row)
        refs.append(time.perf_counter_ns() - t1)
        times.append(t1 - t0)
        state.update(token)
    median_us, ref_us = float(np.median(times)) / 1e3, float(np.median(refs)) / 1e3
    print(
        f"sample(): median {median_us:.1f} us, p99 {np.percentile(times, 99) / 1e3:.1f} us; "
        f"reference softmax+sort+cumsum {ref_us:.1f} us: ratio {median_us / ref_us:.1f}"
    )
    assert median_us <= 15 * ref_us
    assert VELOCITY_BASE > NOTE_OFF_BASE  # the table's order, which the mask slices rely on
