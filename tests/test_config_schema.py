"""The play settings' schema: one rule per field, and a value it lets through is one the
engine can run with; a preset that cannot be read is one line of rtgen's own."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtgen.config import SCHEMA, PlaySettings, load_preset, merge
from rtgen.engine.build import engine_config
from rtgen.engine.clock import BeatClock
from rtgen.engine.midiclock import MidiClockFollower
from rtgen.errors import MAX_QUOTE, RtgenError, short

FIELDS = [f.name for f in dataclasses.fields(PlaySettings)]
SEEDED = settings(derandomize=True, max_examples=400, deadline=None)

# The values issue 12 found passing validation, then failing after the ports opened (or
# playing nothing): each must now be refused, naming its key.
ISSUE_CASES = [
    ("beats_per_bar", 0),
    ("min_p", 2.0),
    ("max_polyphony", 0),
    ("max_note_beats", 0.0),
    ("answer_start", "never"),
    ("silence", math.nan),
    ("lookahead", 0),
    ("temperature", math.inf),
    ("answer_bars", -3),
    ("critic", "nowhere.onnx"),  # a --critic file is checked before the ports, too
    ("critic", "README.md"),
]

NASTY = st.one_of(
    st.sampled_from(
        [math.nan, math.inf, -math.inf, 0, 0.0, -0.0, -1, -1.0, -3, 1e300, -1e300, 1e-300]
        + [2**31, 2**32, 2**63 - 1, -(2**63), "", " ", "none", "nan", "-1", "x" * 10_000]
        + [True, False, [], [1], {}, {"panic": 300}, {"panic": 20, "mode": 20}]
    ),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=20),
    st.dictionaries(st.text(max_size=12), st.integers(-(2**63), 2**63 - 1), max_size=3),
)


def toml_value(value: object) -> str:
    """``value`` written as TOML (enough for NASTY's values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else {math.inf: "inf", -math.inf: "-inf"}.get(value, repr(value))
        )
    if isinstance(value, str):
        return '"' + "".join(_toml_char(c) for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _toml_char(c: str) -> str:
    if c in '"\\':
        return "\\" + c
    if c.isprintable():
        return c
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def assert_runs(s: PlaySettings) -> None:
    """What the engine needs of settings, read from the code that uses them."""
    cfg = engine_config(s, 0)  # ModeConfig and SamplerConfig check themselves
    BeatClock(s.bpm, s.beats_per_bar).time_of(1)
    MidiClockFollower(s.beats_per_bar)
    floats = [getattr(s, f.name) for f in dataclasses.fields(s) if isinstance(f.default, float)]
    assert all(math.isfinite(v) for v in floats)
    assert cfg.lookahead >= cfg.commit  # a plan keeps `commit` of its `lookahead` beats
    assert cfg.mode.answer_bars >= 0 and cfg.mode.silence > 0 and cfg.mode.beats_per_bar >= 1
    assert cfg.sampler.max_note_steps >= 1 and cfg.sampler.max_polyphony >= 1
    assert all(0 <= n <= 127 for n in s.cc.values()) and len(set(s.cc.values())) == len(s.cc)


def test_every_field_has_one_rule_and_its_default_passes() -> None:
    """SCHEMA names every PlaySettings field, and the defaults pass it unchanged."""
    assert list(SCHEMA) == FIELDS
    assert PlaySettings().validate() == PlaySettings()
    assert_runs(PlaySettings().validate())


@pytest.mark.parametrize(("key", "value"), ISSUE_CASES, ids=[k for k, _ in ISSUE_CASES])
def test_the_reported_values_are_refused(tmp_path: Path, key: str, value: object) -> None:
    """Each value the issue reported is a one-line error naming its key, in a preset."""
    p = tmp_path / "p.toml"
    p.write_text(f"{key} = {toml_value(value)}\n")
    with pytest.raises(RtgenError, match=f"{p}: {key} ") as err:
        merge(load_preset(p), {})
    assert len(str(err.value).splitlines()) == 1


@SEEDED
@given(key=st.sampled_from(FIELDS), value=NASTY)
def test_any_value_is_refused_in_one_line_or_runs(key: str, value: object) -> None:
    """NaN, infinities, 0, negatives, huge numbers, wrong types and empty strings for every
    field: a one-line error with the value cut short, or settings the engine runs with."""
    try:
        s = PlaySettings(**{key: value}).validate()
    except RtgenError as exc:
        msg = str(exc)
        assert len(msg.splitlines()) == 1 and len(msg) < 400, msg
        assert msg.startswith(SCHEMA[key].flag or key), msg
        return
    assert_runs(s)
    assert getattr(s, key) == value  # kept as given (an int for a float only changes type)


def test_a_preset_with_the_same_bad_value_names_the_key_and_the_flag(tmp_path: Path) -> None:
    """In a preset, a value error names the key and, where it has one, the flag."""
    p = tmp_path / "p.toml"
    p.write_text("top_p = 0\n")
    with pytest.raises(RtgenError, match=r"p.toml: top_p \(--top-p\) must be in \(0, 1\], not 0"):
        load_preset(p)


def test_a_huge_value_is_quoted_short(tmp_path: Path) -> None:
    """A 10 MB value is quoted to at most 80 characters, not echoed whole."""
    p = tmp_path / "p.toml"
    p.write_text(f'mode = "{"x" * 10_000_000}"\n')
    with pytest.raises(RtgenError) as err:
        load_preset(p)
    msg = str(err.value)
    assert msg.endswith(f"not {short('x' * 10_000_000)}") and len(msg) < len(str(p)) + 150
    assert len(short("y" * 10**6)) == MAX_QUOTE and len(short(10**5000)) <= MAX_QUOTE


def test_a_cc_controller_given_twice_is_refused() -> None:
    """Two actions on one controller would leave one of them dead: refused."""
    with pytest.raises(RtgenError, match="gives controller 20 to both panic and mode"):
        PlaySettings(cc={"panic": 20, "mode": 20}).validate()


def test_ints_in_a_preset_are_floats_where_the_field_is_a_float(tmp_path: Path) -> None:
    """TOML's `bpm = 90` is 90.0; `beats_per_bar = 4.0` is refused (a whole number)."""
    p = tmp_path / "p.toml"
    p.write_text("bpm = 90\nsend_ahead_ms = -1\n")
    assert load_preset(p) == {"bpm": 90.0, "send_ahead_ms": -1.0}
    p.write_text("beats_per_bar = 4.0\n")
    with pytest.raises(RtgenError, match="beats_per_bar must be int"):
        load_preset(p)


def _unreadable(tmp_path: Path, kind: str) -> Path:
    p = tmp_path / "p.toml"
    if kind == "bad TOML":
        p.write_text("bpm = = 3\n")
    elif kind == "binary":
        p.write_bytes(bytes(range(256)) * 4)
    elif kind == "NUL":
        p.write_bytes(b"bpm = 120\x00\n")
    elif kind == "deep":
        p.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    elif kind == "no permission":
        p.write_text("bpm = 120\n")
        p.chmod(0)
    elif kind == "folder":
        p.mkdir()
    return p


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("bad TOML", "not valid TOML"),
        ("binary", "not UTF-8"),
        ("NUL", "not valid TOML"),
        ("deep", "p.toml: "),
        ("missing", "no such preset file"),
        ("no permission", "cannot read the preset (Permission denied)"),
        ("folder", "is a folder"),
    ],
)
def test_an_unreadable_preset_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, needle: str
) -> None:
    """Whatever is wrong with the file, the error is one line that names it."""
    p = _unreadable(tmp_path, kind)
    if kind == "no permission" and os.access(p, os.R_OK):  # root reads any file: pretend

        def denied(self: Path) -> bytes:
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(RtgenError) as err:
        load_preset(p)
    msg = err.value.format_message()
    assert msg.startswith(f"{p}: ") and needle in msg and msg == str(err.value), msg
