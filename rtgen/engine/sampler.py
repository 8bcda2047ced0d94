"""Constrained sampling of the model's next token: masks from the rules, then a seeded draw.

    sampler = Sampler(SamplerConfig(temperature=0.9, top_p=0.95, low=48, high=84, key="Am"))
    state = GenState(step=beat * 12)
    for _ in range(n):
        token = sampler.sample(session.step(prev), state)   # logits: (vocab,)
        state.update(token)
        prev = token

The rules are logit masks over the one vocabulary table (rtgen.tokens); a masked token is never
drawn. In order of precedence, when two of them conflict:

1. Forced note-off. A sounding note that has reached ``max_note_beats`` must end now: only
   NOTE_OFFs are allowed (its own or another's), nothing else, density included.
2. Hard rules, always on. NOTE_ON only for a pitch in [low, high], in ``key`` when one is set,
   not sounding, while fewer than ``max_polyphony`` notes sound and fewer than
   ``max_notes_per_beat`` note-ons fell in this beat. NOTE_OFF only for a note that sounds and
   started before this step (the encoder never writes a zero-length note). A SHIFT that would
   carry a sounding note past its length limit is masked. PAD, BOS, EOS and ROLE are never
   drawn (the planner writes roles itself).
3. Grammar of the training data (tokens.StreamingEncoder: SHIFT* [ROLE] [VELOCITY] NOTE_ON).
   VELOCITY only where a NOTE_ON may follow and only for a bin that differs from the current
   one; right after a VELOCITY only a NOTE_ON; right after a ROLE only a VELOCITY or NOTE_ON
   (so the planner writes ROLE(model) just before the model's note, not before a gap). This
   also keeps the sampler from spinning on VELOCITY tokens, which advance nothing.
4. Minimum density. With ``min_notes_per_beat`` > 0 no SHIFT may jump past the next beat
   (that beat would be skipped empty), and while this beat has fewer note-ons than the
   minimum no SHIFT may reach the next beat at all, so the model has to play. The second part
   is soft: it yields (SHIFTs into the next beat come back) when neither a NOTE_ON nor a
   NOTE_OFF is allowed now, e.g. every voice is held by a note struck on this very step; the
   beat then ends under-filled rather than the sampler stalling.

If the mask leaves nothing (only possible with a hand-built, inconsistent state), ``sample``
returns ``safe_token``: a NOTE_OFF for the oldest sounding note, else SHIFT(1).

The draw: logits / temperature, softmax over the allowed tokens, then min-p (drop tokens whose
probability is below ``min_p`` times the best one's), then top-p (the smallest set of most
likely tokens whose mass reaches ``top_p``), then one draw from a seeded numpy Generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from rtgen.engine.keys import parse_key, scale_pitch_classes
from rtgen.events import Role
from rtgen.tokens import (
    GRID_STEPS_PER_BEAT,
    MAX_SHIFT,
    NOTE_OFF_BASE,
    NOTE_ON_BASE,
    OFFSETS,
    ROLE_BASE,
    SHIFT_BASE,
    VELOCITY_BASE,
    VELOCITY_BINS,
    VOCAB_SIZE,
    shift_token,
)

G = GRID_STEPS_PER_BEAT
_ROLE_END = ROLE_BASE + OFFSETS["ROLE"][1]
_NOTE_ON_END = NOTE_ON_BASE + OFFSETS["NOTE_ON"][1]
_NOTE_OFF_END = NOTE_OFF_BASE + OFFSETS["NOTE_OFF"][1]
_VELOCITY_END = VELOCITY_BASE + VELOCITY_BINS
_SHIFT_END = SHIFT_BASE + MAX_SHIFT
RECENT = 8  # model onsets GenState keeps (the session memory's context)


@dataclass(frozen=True)
class SamplerConfig:
    """How the model may play; each field is checked on construction (ValueError)."""

    temperature: float = 1.0  # > 0; logits are divided by it
    top_p: float = 1.0  # 0 < p <= 1; nucleus mass kept (1 = off)
    min_p: float = 0.0  # 0 <= p < 1; drop tokens below min_p * best probability (0 = off)
    low: int = 0  # lowest pitch the model may play (inclusive)
    high: int = 127  # highest pitch the model may play (inclusive)
    key: frozenset[int] | None = None  # allowed pitch classes; a set, a name ("Am"), or None
    max_polyphony: int = 4  # notes sounding at once, >= 1
    max_note_beats: float = 4.0  # a note is forced off at this length (>= 1 grid step)
    min_notes_per_beat: int = 0  # density floor (0 = off); soft, see the module docstring
    max_notes_per_beat: int = 16  # density ceiling, >= max(1, min_notes_per_beat)
    seed: int | None = None  # seed of the numpy Generator (None = fresh entropy)

    def __post_init__(self) -> None:
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ValueError(f"temperature must be a finite number > 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0 <= self.min_p < 1:
            raise ValueError(f"min_p must be in [0, 1), got {self.min_p}")
        if not 0 <= self.low <= self.high <= 127:
            raise ValueError(f"need 0 <= low <= high <= 127, got low={self.low} high={self.high}")
        if self.max_polyphony < 1:
            raise ValueError(f"max_polyphony must be >= 1, got {self.max_polyphony}")
        if not (math.isfinite(self.max_note_beats) and round(self.max_note_beats * G) >= 1):
            raise ValueError(f"max_note_beats must be finite and >= 1/{G}: {self.max_note_beats}")
        if not 0 <= self.min_notes_per_beat <= self.max_notes_per_beat:
            raise ValueError(
                "need 0 <= min_notes_per_beat <= max_notes_per_beat, got "
                f"{self.min_notes_per_beat} and {self.max_notes_per_beat}"
            )
        if self.max_notes_per_beat < 1:
            raise ValueError(f"max_notes_per_beat must be >= 1, got {self.max_notes_per_beat}")
        object.__setattr__(self, "key", _key_classes(self.key))
        if self.key is not None and not any(
            p % 12 in self.key for p in range(self.low, self.high + 1)
        ):
            raise ValueError(
                f"no pitch in {self.low}..{self.high} is in the key {sorted(self.key)}"
            )

    @property
    def max_note_steps(self) -> int:
        """``max_note_beats`` on the grid: a note sounds at most this many steps."""
        return round(self.max_note_beats * G)


def _key_classes(key: object) -> frozenset[int] | None:
    if key is None:
        return None
    if isinstance(key, str):
        return frozenset(scale_pitch_classes(*parse_key(key)))
    classes = frozenset(int(pc) for pc in key)
    if not classes or not all(0 <= pc < 12 for pc in classes):
        raise ValueError(f"key must be None, a key name or pitch classes 0..11, got {key!r}")
    return classes


@dataclass
class GenState:
    """What the sampler must know about the generation in progress.

    ``update(token)`` advances it for any token, so the planner feeds it every token it feeds
    the model. Only the model's own notes count: a NOTE_ON while ``role`` is PLAYER is not
    the model's (though it ends a model note on the same pitch, as tokens.Decoder does); a
    NOTE_OFF ends a model note of that pitch whoever's turn it is. ``copy()`` before a
    speculative run gives the planner its rollback.
    """

    step: int = 0  # absolute grid step the stream has reached (12 per beat)
    sounding: dict[int, int] = field(default_factory=dict)  # model pitch -> onset step
    beat_note_ons: int = 0  # model note-ons in the beat that holds ``step``
    steps_since_on: int = 0  # grid steps since the last model note-on
    velocity_bin: int | None = None  # bin of the last VELOCITY token, None before any
    after_velocity: bool = False  # the last token was a VELOCITY (a NOTE_ON must follow)
    after_role: bool = False  # the last token was a ROLE (a VELOCITY or NOTE_ON must follow)
    role: Role = Role.MODEL  # whose notes the stream holds now
    ons: int = 0  # model note-ons so far (an answer's density counts from it)
    recent: tuple[tuple[int, int], ...] = ()  # the last RECENT model onsets: (step, top pitch)

    @property
    def beat(self) -> int:
        """Index of the beat that holds ``step``."""
        return self.step // G

    def copy(self) -> GenState:
        return replace(self, sounding=dict(self.sounding))

    def update(self, token: int) -> None:
        """Advance the state past one token (any token in the vocabulary)."""
        token = int(token)
        self.after_velocity = self.after_role = False
        if SHIFT_BASE <= token < _SHIFT_END:
            k = token - SHIFT_BASE + 1
            if (self.step + k) // G != self.step // G:
                self.beat_note_ons = 0
            self.step += k
            self.steps_since_on += k
        elif NOTE_ON_BASE <= token < _NOTE_ON_END:
            pitch = token - NOTE_ON_BASE
            if self.role == Role.MODEL:
                self.sounding[pitch] = self.step
                self.beat_note_ons += 1
                self.steps_since_on = 0
                self.ons += 1
                if self.recent and self.recent[-1][0] == self.step:  # a chord: its top note
                    pitch = max(pitch, self.recent[-1][1])
                    self.recent = self.recent[:-1]
                self.recent = (*self.recent[1 - RECENT :], (self.step, pitch))
            else:
                self.sounding.pop(pitch, None)
        elif NOTE_OFF_BASE <= token < _NOTE_OFF_END:
            self.sounding.pop(token - NOTE_OFF_BASE, None)
        elif VELOCITY_BASE <= token < _VELOCITY_END:
            self.velocity_bin = token - VELOCITY_BASE
            self.after_velocity = True
        elif ROLE_BASE <= token < _ROLE_END:
            self.role = Role(token - ROLE_BASE)
            self.after_role = True
        elif not 0 <= token < VOCAB_SIZE:
            raise ValueError(f"token {token} is outside the vocabulary (size {VOCAB_SIZE})")

    @classmethod
    def from_tokens(cls, tokens: list[int], **fields: object) -> GenState:
        """A state built by feeding ``tokens`` to ``GenState(**fields)``."""
        state = cls(**fields)
        for t in tokens:
            state.update(t)
        return state


class Sampler:
    """Draws the model's next token under ``SamplerConfig``'s rules (module docstring)."""

    def __init__(self, config: SamplerConfig | None = None) -> None:
        config = config or SamplerConfig()
        self._rng = np.random.default_rng(config.seed)
        self._set_config(config)

    @property
    def config(self) -> SamplerConfig:
        return self._config

    def reconfigure(self, **changes: object) -> None:
        """Change config fields (e.g. ``key`` when the player modulates); the rng goes on."""
        self._set_config(replace(self._config, **changes))

    def _set_config(self, config: SamplerConfig) -> None:
        self._config = config
        pitches = np.arange(128)
        ok = (pitches >= config.low) & (pitches <= config.high)
        if config.key is not None:
            ok &= np.isin(pitches % 12, sorted(config.key))
        self._pitch_ok = ok  # (128,) pitches a NOTE_ON may name, before state rules
        self._pitch_ok_list = ok.tolist()  # the same, for cheap per-pitch lookups
        self._n_pitch_ok = int(ok.sum())
        self._max_steps = config.max_note_steps
        self._inv_t = 1.0 / config.temperature

    def mask(self, state: GenState) -> np.ndarray:
        """(vocab,) bool: True where the token may be drawn now."""
        cfg = self._config
        m = np.zeros(VOCAB_SIZE, dtype=bool)
        step, sounding = state.step, state.sounding
        has_off = False
        for pitch, onset in sounding.items():
            if onset < step:
                m[NOTE_OFF_BASE + pitch] = True
                has_off = True
        room = min(sounding.values()) + self._max_steps - step if sounding else MAX_SHIFT
        if room <= 0:
            return m  # 1. forced note-off: NOTE_OFFs only
        has_on = False
        if len(sounding) < cfg.max_polyphony and state.beat_note_ons < cfg.max_notes_per_beat:
            m[NOTE_ON_BASE:_NOTE_ON_END] = self._pitch_ok
            taken = 0  # allowed pitches that sound already (no re-strike)
            for pitch in sounding:
                if self._pitch_ok_list[pitch]:
                    m[NOTE_ON_BASE + pitch] = False
                    taken += 1
            has_on = self._n_pitch_ok > taken
        if state.after_velocity and has_on:
            m[NOTE_OFF_BASE:_NOTE_OFF_END] = False  # 3. VELOCITY is followed by its NOTE_ON
            return m
        if has_on:
            m[VELOCITY_BASE:_VELOCITY_END] = True
            if state.velocity_bin is not None:
                m[VELOCITY_BASE + state.velocity_bin] = False
            if state.after_role:
                m[NOTE_OFF_BASE:_NOTE_OFF_END] = False  # 3. ROLE is followed by its note
                return m
        k_max = min(MAX_SHIFT, room)
        if cfg.min_notes_per_beat > 0:
            to_next = G - step % G  # steps to the next beat's first step
            if state.beat_note_ons < cfg.min_notes_per_beat and (has_on or has_off):
                k_max = min(k_max, to_next - 1)  # 4. stay in this beat and play
            else:
                k_max = min(k_max, to_next + G - 1)  # 4. land in the next beat, not past it
        m[SHIFT_BASE : SHIFT_BASE + k_max] = True
        return m

    def distribution(
        self, logits: np.ndarray, state: GenState, extra: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(token ids, probabilities) that ``sample`` draws from; both empty if all is masked.
        ``extra`` (vocab,) bool narrows the mask further (the planner's fixed events)."""
        ids, p, cum = self._candidates(logits, state, extra)
        return ids, (p / cum[-1] if ids.size else p)

    def _candidates(
        self, logits: np.ndarray, state: GenState, extra: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(token ids, unnormalised weights, their running sum) after every rule, min-p and
        top-p. The running sum is all a draw needs: no normalising pass over the weights."""
        z = np.asarray(logits).reshape(-1)
        if z.shape[0] != VOCAB_SIZE:
            raise ValueError(f"logits have {z.shape[0]} entries, the vocabulary {VOCAB_SIZE}")
        allowed = self.mask(state)
        if extra is not None:
            allowed &= extra
        ids = np.flatnonzero(allowed)
        if ids.size == 0:
            return ids, np.zeros(0), np.zeros(0)
        z = np.multiply(z[ids], self._inv_t, dtype=np.float64)
        top = z.max()
        if math.isfinite(top):
            z -= top
            p = np.exp(z, out=z)  # best = 1
        else:
            p = _nonfinite_weights(z)
        cfg = self._config
        if cfg.min_p > 0:
            keep = p >= cfg.min_p  # the best weighs 1, so this is min_p times the best
            ids, p = ids[keep], p[keep]
        if cfg.top_p < 1:
            order = np.argsort(-p, kind="stable")
            p = p[order]
            cum = np.cumsum(p)
            n = int(np.searchsorted(cum, cfg.top_p * cum[-1])) + 1
            return ids[order[:n]], p[:n], cum[:n]
        return ids, p, np.cumsum(p)

    def sample(self, logits: np.ndarray, state: GenState, extra: np.ndarray | None = None) -> int:
        """One token drawn from ``logits`` ((vocab,) or (1, vocab)) under the rules."""
        ids, _, cum = self._candidates(logits, state, extra)
        if ids.size == 0:
            return self.safe_token(state)
        i = int(np.searchsorted(cum, self._rng.random() * cum[-1], side="right"))
        return int(ids[min(i, ids.size - 1)])

    @staticmethod
    def safe_token(state: GenState) -> int:
        """The fallback when nothing is allowed: end the oldest note, else SHIFT(1)."""
        if state.sounding:
            pitch = min(state.sounding, key=lambda p: (state.sounding[p], p))
            return NOTE_OFF_BASE + pitch
        return shift_token(1)


def _nonfinite_weights(z: np.ndarray) -> np.ndarray:
    """Weights for scaled logits with inf or nan: +inf ones share everything; nan counts as
    -inf; if every one is -inf, all are equally likely."""
    z = np.where(np.isnan(z), -np.inf, z)
    if np.any(z == np.inf):
        return (z == np.inf).astype(np.float64)
    if np.all(z == -np.inf):
        return np.ones_like(z)
    return np.exp(z - z.max())
