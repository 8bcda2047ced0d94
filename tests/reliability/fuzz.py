"""Seeded random MIDI for the fuzz test: what a broken cable, a bad driver or a hostile
sender could put on rtgen's input, in every form python-rtmidi lets a JACK port send
(one to three raw bytes of any value, or SysEx of any length)."""

from __future__ import annotations

import random

SYSEX_MAX = 64 * 1024
UNDEFINED = (0xF4, 0xF5, 0xF9, 0xFD)


def _sysex(rng: random.Random) -> list[int]:
    n = int(2 ** rng.uniform(1, 16))  # 2 bytes .. 64 KB, log-uniform
    body = [rng.randrange(256) if rng.random() < 0.1 else rng.randrange(128) for _ in range(n)]
    return [0xF0, *body, 0xF7][:SYSEX_MAX]


def message(rng: random.Random) -> list[list[int]]:
    """One fuzz item: usually one message, sometimes a burst (clock or active sensing)."""
    r = rng.random()
    if r < 0.25:  # channel voice with any data bytes (above 127 too)
        status = rng.randrange(0x80, 0xF0)
        return [[status] + [rng.randrange(256) for _ in range(rng.choice((0, 1, 2, 2, 2)))]]
    if r < 0.45:  # well-formed notes and controllers, as a keyboard would send
        ch, kind = rng.randrange(16), rng.choice((0x80, 0x90, 0x90, 0xB0, 0xE0))
        return [[kind | ch, rng.randrange(128), rng.randrange(128)]]
    if r < 0.55:  # running status: data bytes with no status byte
        return [[rng.randrange(128) for _ in range(rng.randint(1, 3))]]
    if r < 0.65:  # undefined system statuses, with or without stray bytes
        return [[rng.choice(UNDEFINED)] + [rng.randrange(256) for _ in range(rng.randint(0, 2))]]
    if r < 0.75:  # a clock or active-sensing flood
        return [[rng.choice((0xF8, 0xFE, 0xFA, 0xFC, 0xFB))]] * rng.randint(8, 96)
    if r < 0.85:  # other system messages, short or whole
        status = rng.choice((0xF1, 0xF2, 0xF3, 0xF6, 0xF7, 0xFF))
        return [[status] + [rng.randrange(256) for _ in range(rng.randint(0, 2))]]
    if r < 0.995:  # anything at all, one to three bytes
        return [[rng.randrange(256) for _ in range(rng.randint(1, 3))]]
    return [_sysex(rng)]


def messages(seed: int, count: int) -> list[list[int]]:
    """``count`` messages from ``seed`` (bursts cut to fit)."""
    rng = random.Random(seed)
    out: list[list[int]] = []
    while len(out) < count:
        out += message(rng)
    return out[:count]
