"""A session of calls that changes key: the engine's key tracking is tested on it offline
(tests/engine/test_keys.py, tests/engine/test_answers_in_key.py) and over JACK
(tests/e2e/test_play.py)."""

from __future__ import annotations

from rtgen.events import Note, Role

# Four two-bar calls, one note a beat, in the keys named (Dm with its C sharp).
MODULATING_CALLS = {
    "C": [60, 64, 67, 72, 71, 67, 65, 62],
    "G": [67, 71, 74, 72, 66, 67, 69, 71],
    "F": [65, 69, 72, 70, 69, 67, 64, 65],
    "Dm": [62, 65, 69, 67, 65, 64, 61, 62],
}
# A call (8 beats), its two-bar answer and a rest: the JACK test's 4 s + 4 s + 1.5 s at 120 bpm.
CYCLE_BEATS = 19.0
GATE = 0.9  # the share of each beat a key is held (tests.support.peers.Keyboard.play's default)


def modulating_session(rng=None, jitter_beats: float = 0.0) -> list[Note]:
    """The calls as the player's notes, in beats from the first; with ``rng`` (a numpy
    Generator) each onset moves by a normal wobble of ``jitter_beats``."""
    notes = []
    for i, pitches in enumerate(MODULATING_CALLS.values()):
        for j, pitch in enumerate(pitches):
            start = i * CYCLE_BEATS + j + (rng.normal(0.0, jitter_beats) if rng else 0.0)
            notes.append(Note(start, start + GATE, pitch, 96, Role.PLAYER, 0))
    return notes
