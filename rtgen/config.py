"""Play settings: defaults here, a TOML preset (--config) over them, then command-line flags.

Every key of a preset is a field below (unknown keys and wrong types are one-line errors);
``[cc]`` maps MIDI controllers to actions. Channels are 1-16 as musicians count them.

``SCHEMA`` holds the one rule for each field (type, range or choices, finite); presets, flags
and session logs are all checked against it before any port opens, so a value that passes
is one the engine can run with.
"""

from __future__ import annotations

import dataclasses
import math
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from rtgen.engine.clock import MAX_BPM
from rtgen.engine.harmony import parse_chords, parse_split
from rtgen.engine.keys import parse_key
from rtgen.engine.modes import BARGE_INS, MODES, SILENCE, STARTS, ModeConfig
from rtgen.engine.session import DEVICES
from rtgen.errors import RtgenError, short
from rtgen.fields import BadField, UnknownField, WrongType, check_fields, typed
from rtgen.tokens import GRID_STEPS_PER_BEAT as G

CC_ACTIONS = ("end_call", "panic", "temperature", "mode", "reset_memory", "tap")
CLOCKS = ("internal", "external", "link")  # rtgen's own, the input's MIDI clock, Ableton Link
MIN_BPM = 5.0  # slower, one beat lasts over 12 s (and 1e-300 BPM overflowed the clock)
MAX_TEMPERATURE = 5.0  # logits / 5 is already close to uniform noise; the CC knob reaches 2
MAX_BEATS = int(ModeConfig.max_answer_beats)  # an answer's longest: 32 beats
MAX_LOOKAHEAD = 8  # beats sampled per plan; each costs model steps inside one beat's time
SEED_LIMIT = 2**32  # seeds are 0 <= seed < 2**32 (fresh ones are drawn below 2**31)
MAX_CANDIDATES = 16  # best of N: more would not fit a beat's plan budget at 240 BPM
MAX_STRENGTH = 20.0  # logits: a manner strength this high already acts as a mask


@dataclass
class PlaySettings:
    mode: str = "call-response"
    bpm: float = 120.0
    beats_per_bar: int = 4
    clock: str = "internal"  # "external": the input's MIDI clock; "link": an Ableton Link session
    send_clock: bool = False
    temperature: float = 0.9
    top_p: float = 0.95
    min_p: float = 0.0
    key: str = ""  # "" = estimate from what the player plays; "none" = no key
    range: str = "36-96"  # lowest-highest pitch the model may play
    max_polyphony: int = 4
    max_note_beats: float = 4.0
    silence: float = SILENCE  # beats of silence that end a call (a call may rest 2 inside)
    answer_bars: int = 0  # 0 = as long as the call
    answer_start: str = "beat"  # or "bar"
    barge_in: str = "stop"  # or "finish"
    in_channel: int = 0  # 0 = all channels
    out_channel: int = 1
    duet_channel: int = 2  # the model's channel in duet mode
    program: int = -1  # General MIDI program 1-128 sent at start; -1 = none
    thru: bool = False
    metronome: bool = False
    seed: int = -1  # -1 = a fresh seed each session (it is logged for replay)
    device: str = "auto"
    lookahead: int = 1
    send_ahead_ms: float = -1.0  # -1 = half the JACK period on a JACK output, else 0
    exit_on_server_loss: bool = False  # the JACK server went away: exit 3, no restart
    bpm_auto: bool = False  # --bpm auto: the first call sets the tempo and the beat
    latency_ms: float = 0.0  # the synth sounds this late: everything is sent this much earlier
    realtime: bool = True  # the send thread asks for SCHED_FIFO (quietly normal if refused)
    cc: dict[str, int] = field(default_factory=dict)  # action -> controller number
    # The call's manner (docs/manner.md): strengths in logits, 0 = off; set with rtgen score
    texture: float = 8.0  # a single-line call gets a single line; chords where it had them
    density: float = 1.0  # notes per beat near the call's
    register: float = 2.0  # pitches near the call's range and mean
    rhythm: float = 1.0  # onsets on the call's grid steps (straight, triplet, swung), lengths
    dynamics: float = 1.0  # velocities following the call's level and contour
    feel: float = 1.0  # the answer's notes sit around the grid as the call's did (0: on it)
    ornament: float = 1.0  # grace notes where the call had them, a share of its rate (0: none)
    key_strength: float = 2.0  # notes outside the key lose this; 0 = no key preference
    key_strict: bool = False  # the key is a mask instead (no note ever leaves it)
    memory_weight: float = 0.3  # the session memory's share of the next pitch and gap
    # continuations sampled per beat of an answer; the critic keeps the one most like what
    # the player would play next (docs/critic.md: closer to the truth than a coin's pick on
    # 4 of 6 metrics); 1 = the model alone
    candidates: int = 4
    critic: str = ""  # the critic file ("": the bundled one)
    memory_file: str = ""  # the memory is loaded from here at start, saved at exit
    # Harmonic steering (docs/harmony.md): what sets the harmony, and how strongly it is kept
    split: str = "none"  # keys below this note (e.g. "C4") are the harmony, not the call
    chords: str = ""  # "channel:N" of the input, or a second input port, carries the chords
    harmony: float = 4.0  # logits a tone outside the held chord loses on the beat (0: off)

    def validate(self) -> PlaySettings:
        """Check every field against SCHEMA (an int given for a float becomes a float); the
        first problem is an RtgenError naming the flag or key. (No rule spans two fields: a
        range holds two neighbouring pitches, and every major or minor key has one of them.)"""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        try:
            checked = check_fields(values, _CHECKS)
        except BadField as exc:
            raise RtgenError(f"{SCHEMA[exc.key].flag or exc.key} {exc.error}") from None
        for name, value in checked.items():
            setattr(self, name, value)
        return self

    def pitch_range(self) -> tuple[int, int]:
        """(lowest, highest) pitch of ``range``; an RtgenError if it is not a valid range."""
        try:
            return _parse_range(self.range)
        except BadValue as exc:
            raise RtgenError(f"--range {exc}") from None


class BadValue(ValueError):
    """A setting's value breaks its rule; the message says how ("must be ..., not ...")."""


class BadType(BadValue):
    """A setting's value is of the wrong type (only a preset or a session log can do this)."""


_KINDS = {
    int: "int (a whole number)",
    float: "float (a number)",
    str: "str (quoted text)",
    bool: "bool (true or false)",
    dict: "a table",
}


@dataclass(frozen=True)
class Rule:
    """What one setting may hold: its type, then choices, a parser, or a numeric range
    (floats must also be finite). ``check`` is the only place a value is judged."""

    kind: type
    low: float | None = None  # the range, both ends included unless ..._open
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    also: float | None = None  # one value allowed outside the range (-1: auto / none)
    choices: tuple[str, ...] = ()
    parse: Callable[[Any], object] | None = None  # raises BadValue
    flag: str | None = None  # the `rtgen play` flag, if the setting has one
    text: str = ""  # what a value must be, where the range alone does not say it

    def check(self, value: Any) -> Any:
        """``value`` as the field holds it, or BadType / BadValue saying what it must be."""
        value = self._typed(value)
        if self.choices and value not in self.choices:
            raise BadValue(f"must be one of {', '.join(self.choices)}, not {short(value)}")
        if self.parse is not None:
            self.parse(value)
        if self.low is not None and value != self.also and not self._in_range(value):
            raise BadValue(f"must be {self.describe()}, not {short(value)}")
        return value

    def _typed(self, value: Any) -> Any:
        try:
            checked = typed(self.kind, value)  # TOML's 90 for 90.0 too
        except WrongType:
            raise BadType(f"must be {_KINDS[self.kind]}, not {short(value)}") from None
        except OverflowError:
            raise BadValue(f"must be {self.describe()}, not {short(value)}") from None
        return dict(checked) if self.kind is dict else checked

    def _in_range(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        """The allowed values in words: "1..16", "-1 or 0..127", "in (0, 1]"."""
        if self.text:
            return self.text
        if self.kind is int:
            span = f"{self.low:d}..{self.high:d}"
        else:
            opened, closed = "(["[not self.low_open], ")]"[not self.high_open]
            span = f"in {opened}{self.low:g}, {self.high:g}{closed}"
        return span if self.also is None else f"{self.also:g} or {span}"


def _parse_range(text: str) -> tuple[int, int]:
    low, dash, high = text.partition("-")
    try:
        lo, hi = int(low), int(high)
    except ValueError:
        raise BadValue(f"must look like LOW-HIGH (e.g. 48-84), not {short(text)}") from None
    if not (dash and 0 <= lo < hi <= 127):
        raise BadValue(f"{lo}-{hi}: need 0 <= LOW < HIGH <= 127")
    return lo, hi


def _check_key(text: str) -> None:
    if text and text.lower() != "none":
        try:
            parse_key(text)
        except ValueError:
            raise BadValue(
                "must be a key like 'C', 'Am', 'F#m' or 'Eb minor', 'none', or empty "
                f"(estimate it from the player), not {short(text)}"
            ) from None


def _check_critic(text: str) -> None:
    """A critic file, when one is named: there, and an rtgen critic (before any port opens)."""
    if not text:
        return  # the bundled one
    try:
        there = Path(text).is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        there = False
    if not there:
        raise BadValue(f"{short(text)}: no such file")
    from rtgen.critic.session import critic_meta

    if critic_meta(Path(text)) is None:
        raise BadValue(f"{short(text)} is not an rtgen critic (training/critic.py writes one)")


def _check_split(text: str) -> None:
    try:
        parse_split(text)
    except ValueError as exc:  # the value quoted short: a long one is still one short line
        raise BadValue(str(exc).replace(repr(text), short(text))) from None


def _check_chords(text: str) -> None:
    try:
        parse_chords(text)
    except ValueError as exc:  # the value quoted short: a long one is still one short line
        raise BadValue(str(exc).replace(repr(text), short(text))) from None


def _check_cc(table: dict) -> None:
    seen: dict[int, str] = {}
    for action, number in table.items():
        if action not in CC_ACTIONS:
            raise BadValue(f"has unknown action {short(action)}; known: {', '.join(CC_ACTIONS)}")
        if type(number) is not int or not 0 <= number <= 127:
            raise BadValue(f"{action} must be a controller number 0..127, not {short(number)}")
        if number in seen:
            raise BadValue(f"gives controller {number} to both {seen[number]} and {action}")
        seen[number] = action


# The one rule for each PlaySettings field, read by presets, flags and session logs alike.
# Bounds are those the code that uses the value can run with (see each constant above).
SCHEMA: dict[str, Rule] = {
    "mode": Rule(str, choices=MODES, flag="--mode"),
    "bpm": Rule(float, MIN_BPM, MAX_BPM, flag="--bpm"),
    "beats_per_bar": Rule(int, 1, 16),
    "clock": Rule(str, choices=CLOCKS, flag="--clock"),
    "send_clock": Rule(bool, flag="--send-clock"),
    "temperature": Rule(float, 0, MAX_TEMPERATURE, low_open=True, flag="--temperature"),
    "top_p": Rule(float, 0, 1, low_open=True, flag="--top-p"),
    "min_p": Rule(float, 0, 1, high_open=True),  # 1 would drop even the best token
    "key": Rule(str, parse=_check_key, flag="--key"),
    "range": Rule(str, parse=_parse_range, flag="--range"),
    "max_polyphony": Rule(int, 1, 16, flag="--max-polyphony"),
    # Below one grid step the sampler's limit rounds to 0; above, no answer is that long.
    "max_note_beats": Rule(
        float,
        1 / G,
        MAX_BEATS,
        flag="--max-note-beats",
        text=f"a number of beats from 1/{G} (one grid step) to {MAX_BEATS}",
    ),
    "silence": Rule(
        float, 0, MAX_BEATS, low_open=True, flag="--silence"
    ),  # beats; longer would never answer
    "answer_bars": Rule(int, 0, MAX_BEATS),  # 0: as long as the call; capped at 32 beats
    "answer_start": Rule(str, choices=STARTS),
    "barge_in": Rule(str, choices=BARGE_INS),
    "in_channel": Rule(int, 0, 16, flag="--in-channel", text="0 (all) or 1..16"),
    "out_channel": Rule(int, 1, 16, flag="--out-channel"),
    "duet_channel": Rule(int, 1, 16),
    "program": Rule(int, 1, 128, also=-1, flag="--program"),
    "thru": Rule(bool, flag="--thru"),
    "metronome": Rule(bool, flag="--metronome"),
    "seed": Rule(int, 0, SEED_LIMIT - 1, also=-1, flag="--seed"),
    "device": Rule(str, choices=DEVICES, flag="--device"),
    "lookahead": Rule(int, 1, MAX_LOOKAHEAD),  # 0 planned nothing: rtgen never played
    "send_ahead_ms": Rule(float, 0, 20, also=-1, flag="--send-ahead"),
    "exit_on_server_loss": Rule(bool, flag="--exit-on-server-loss"),
    "bpm_auto": Rule(bool, flag="--bpm auto"),
    "latency_ms": Rule(float, 0, 500, flag="--latency-ms"),
    "realtime": Rule(bool),
    "cc": Rule(dict, parse=_check_cc),
    "texture": Rule(float, 0, MAX_STRENGTH, flag="--texture"),
    "density": Rule(float, 0, MAX_STRENGTH, flag="--density"),
    "register": Rule(float, 0, MAX_STRENGTH, flag="--register"),
    "rhythm": Rule(float, 0, MAX_STRENGTH, flag="--rhythm"),
    "dynamics": Rule(float, 0, MAX_STRENGTH, flag="--dynamics"),
    "feel": Rule(float, 0, 1, flag="--feel"),  # a share of the call's deviations
    "ornament": Rule(float, 0, 1, flag="--ornament"),  # a share of the call's grace notes
    "key_strength": Rule(float, 0, MAX_STRENGTH, flag="--key-strength"),
    "key_strict": Rule(bool, flag="--key-strict"),
    "memory_weight": Rule(float, 0, 1, flag="--memory-weight"),  # a share of a mixture
    "candidates": Rule(int, 1, MAX_CANDIDATES, flag="--candidates"),
    "critic": Rule(str, parse=_check_critic, flag="--critic"),
    "memory_file": Rule(str, flag="--memory"),
    "split": Rule(str, parse=_check_split, flag="--split"),
    "chords": Rule(str, parse=_check_chords, flag="--chords"),
    "harmony": Rule(float, 0, MAX_STRENGTH, flag="--harmony"),
}

_CHECKS = {name: rule.check for name, rule in SCHEMA.items()}  # for rtgen.fields


def load_preset(path: Path | None) -> dict[str, Any]:
    """Preset values as a dict, each checked against SCHEMA; {} without a preset."""
    if path is None:
        return {}
    try:
        doc = tomllib.loads(_read_preset(path))
    except tomllib.TOMLDecodeError as exc:
        raise RtgenError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses into nested arrays and tables
        raise RtgenError(f"{path}: not a preset (nested too deeply)") from None
    try:
        return check_fields(doc, _CHECKS)
    except UnknownField as exc:
        known = ", ".join(sorted(SCHEMA))
        raise RtgenError(f"{path}: unknown key {short(exc.key)}; known: {known}") from None
    except BadField as exc:
        key, flag = exc.key, SCHEMA[exc.key].flag  # a bad value names the flag too: the
        named = f"{key} ({flag})" if flag and not isinstance(exc.error, BadType) else key
        raise RtgenError(f"{path}: {named} {exc.error}") from None  # same rule holds for it


def _read_preset(path: Path) -> str:
    """The preset's text, or an RtgenError saying why it cannot be read."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise RtgenError(f"{path}: is a folder, not a preset file")
        if not stat.S_ISREG(mode):  # a pipe or a device: reading could block for ever
            raise RtgenError(f"{path}: not a regular file, so not a preset")
        data = path.read_bytes()
    except FileNotFoundError:
        raise RtgenError(f"{path}: no such preset file") from None
    except OSError as exc:
        raise RtgenError(f"{path}: cannot read the preset ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RtgenError(f"{path}: not a TOML preset (not UTF-8 text)") from None


def merge(preset: dict[str, Any], flags: dict[str, Any]) -> PlaySettings:
    """Preset over defaults, then every flag the user actually gave (not None)."""
    values = {**preset, **{k: v for k, v in flags.items() if v is not None}}
    return PlaySettings(**values).validate()
