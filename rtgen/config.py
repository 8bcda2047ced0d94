"""Play settings: defaults here, a TOML preset (--config) over them, then command-line flags.

Every key of a preset is a field below (unknown keys and wrong types are one-line errors);
``[cc]`` maps MIDI controllers to actions. Channels are 1-16 as musicians count them.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from rtgen.engine.clock import check_bpm
from rtgen.engine.keys import parse_key
from rtgen.engine.modes import MODES
from rtgen.errors import RtgenError

CC_ACTIONS = ("end_call", "panic", "temperature", "mode")


@dataclass
class PlaySettings:
    mode: str = "call-response"
    bpm: float = 120.0
    beats_per_bar: int = 4
    clock: str = "internal"  # or "external": follow the input's MIDI clock
    send_clock: bool = False
    temperature: float = 0.9
    top_p: float = 0.95
    min_p: float = 0.0
    key: str = ""  # "" = estimate from what the player plays; "none" = no key mask
    range: str = "36-96"  # lowest-highest pitch the model may play
    max_polyphony: int = 4
    max_note_beats: float = 4.0
    silence: float = 1.0  # beats of silence that end a call
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
    realtime: bool = True  # the send thread asks for SCHED_FIFO (quietly normal if refused)
    cc: dict[str, int] = field(default_factory=dict)  # action -> controller number

    def validate(self) -> PlaySettings:
        try:
            check_bpm(self.bpm)
        except ValueError as exc:
            raise RtgenError(f"--bpm: {exc}") from None
        if self.mode not in MODES:
            raise RtgenError(f"--mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.clock not in ("internal", "external"):
            raise RtgenError(f"--clock must be internal or external, not {self.clock!r}")
        for name in ("out_channel", "duet_channel"):
            if not 1 <= getattr(self, name) <= 16:
                raise RtgenError(
                    f"--{name.replace('_', '-')} must be 1..16, not {getattr(self, name)}"
                )
        if not 0 <= self.in_channel <= 16:
            raise RtgenError(f"--in-channel must be 0 (all) or 1..16, not {self.in_channel}")
        if self.program != -1 and not 1 <= self.program <= 128:
            raise RtgenError(f"--program must be 1..128, not {self.program}")
        if not self.temperature > 0:
            raise RtgenError(f"--temperature must be > 0, not {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise RtgenError(f"--top-p must be in (0, 1], not {self.top_p}")
        if not (self.send_ahead_ms == -1 or 0 <= self.send_ahead_ms <= 20):
            raise RtgenError(f"--send-ahead must be -1 (auto) or 0..20, not {self.send_ahead_ms}")
        self.pitch_range()
        if self.key and self.key.lower() != "none":
            try:
                parse_key(self.key)
            except ValueError as exc:
                raise RtgenError(f"--key: {exc}") from None
        for action, number in self.cc.items():
            if action not in CC_ACTIONS:
                raise RtgenError(f"[cc] unknown action {action!r}; known: {', '.join(CC_ACTIONS)}")
            if not isinstance(number, int) or not 0 <= number <= 127:
                raise RtgenError(f"[cc] {action} must be a controller number 0..127")
        return self

    def pitch_range(self) -> tuple[int, int]:
        low, dash, high = self.range.partition("-")
        try:
            lo, hi = int(low), int(high)
        except ValueError:
            raise RtgenError(
                f"--range must look like LOW-HIGH (e.g. 48-84), not {self.range!r}"
            ) from None
        if not (dash and 0 <= lo < hi <= 127):
            raise RtgenError(f"--range {self.range}: need 0 <= LOW < HIGH <= 127")
        return lo, hi


def load_preset(path: Path | None) -> dict[str, Any]:
    """Preset values as a dict (validated keys and types); {} without a preset."""
    if path is None:
        return {}
    if not path.is_file():
        raise RtgenError(f"{path}: no such preset file")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RtgenError(f"{path}: not a TOML preset (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise RtgenError(f"{path}: not valid TOML ({exc})") from None
    defaults = PlaySettings()
    known = {f.name for f in dataclasses.fields(PlaySettings)}
    for key, value in doc.items():
        if key not in known:
            raise RtgenError(f"{path}: unknown key {key!r}; known: {', '.join(sorted(known))}")
        want = type(getattr(defaults, key))
        if want is float and type(value) is int:
            doc[key] = float(value)
        elif type(value) is not want:
            raise RtgenError(f"{path}: {key} must be {want.__name__}, got {value!r}")
    return doc


def merge(preset: dict[str, Any], flags: dict[str, Any]) -> PlaySettings:
    """Preset over defaults, then every flag the user actually gave (not None)."""
    values = {**preset, **{k: v for k, v in flags.items() if v is not None}}
    return PlaySettings(**values).validate()
