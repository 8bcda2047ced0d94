"""`rtgen play` checks every setting, from a preset or a flag, before any port opens: a bad
one is exit 2 and one line on stderr, through the CLI's one error path."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtgen import cli
from rtgen.commands import play_cmd
from rtgen.config import SCHEMA, PlaySettings
from tests.test_config_schema import FIELDS, ISSUE_CASES, NASTY, assert_runs, toml_value

RTGEN = [sys.executable, "-m", "rtgen"]
PORTS = ["--in", "x", "--out", "y"]
SEEDED = settings(derandomize=True, max_examples=300, deadline=None)


class Started(Exception):
    """Raised in place of play's _start: the settings passed and ports would open now."""

    def __init__(self, settings: PlaySettings) -> None:
        self.settings = settings


def _start(settings: PlaySettings, *args: object) -> None:
    raise Started(settings)


def play(args: list[str]) -> tuple[int | None, str, PlaySettings | None]:
    """(exit code, stderr, settings that reached _start) of `rtgen play ARGS` in-process,
    with _start (model, then ports) replaced: exit code None when it got that far."""
    err = io.StringIO()
    with (
        mock.patch.object(play_cmd, "_start", _start),
        mock.patch.object(sys, "argv", ["rtgen", "play", *args]),
        contextlib.redirect_stderr(err),
    ):
        try:
            cli.main()
        except Started as started:
            return None, err.getvalue(), started.settings
        except SystemExit as exc:
            return exc.code, err.getvalue(), None
    raise AssertionError("rtgen play returned without exiting")


def assert_one_line_error(code: int | None, err: str, needle: str = "") -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("rtgen: error: ") and needle in lines[0], err


@pytest.mark.parametrize(("key", "value"), ISSUE_CASES, ids=[k for k, _ in ISSUE_CASES])
def test_each_reported_preset_value_stops_before_the_ports(
    tmp_path: Path, key: str, value: object
) -> None:
    """The issue's values in a preset: exit 2, one line naming the key, no port opened."""
    p = tmp_path / "bad.toml"
    p.write_text(f"{key} = {toml_value(value)}\n")
    code, err, started = play(["--config", str(p), *PORTS])
    assert started is None
    assert_one_line_error(code, err, f"{p}: {key} ")


@pytest.mark.parametrize(
    "flags",
    [
        ["--temperature", "inf"],
        ["--temperature", "nan"],
        ["--temperature", "0"],
        ["--bpm", "nan"],
        ["--bpm", "-inf"],
        ["--bpm", "1e-300"],
        ["--top-p", "0"],
        ["--seed", "-5"],
        ["--seed", str(2**40)],
        ["--program", "0"],
        ["--in-channel", "-1"],
        ["--out-channel", "0"],
        ["--send-ahead", "inf"],
        ["--range", ""],
        ["--key", " "],
    ],
    ids=lambda flags: " ".join(flags),
)
def test_bad_flags_stop_before_the_ports(flags: list[str]) -> None:
    """The same rules hold for flags: exit 2, one line naming the flag, no port opened."""
    code, err, started = play([*flags, *PORTS])
    assert started is None
    assert_one_line_error(code, err, flags[0])


@SEEDED
@given(key=st.sampled_from(FIELDS), value=NASTY)
def test_any_preset_value_is_exit_2_in_one_line_or_plays(key: str, value: object) -> None:
    """Every field with NaN, infinities, 0, negatives, huge numbers, wrong types or empty
    strings in a preset: exit 2 and one line before any port, or settings that run."""
    with tempfile.TemporaryDirectory() as folder:
        p = Path(folder) / "p.toml"
        p.write_text(f"{key} = {toml_value(value)}\n", encoding="utf-8")
        code, err, started = play(["--config", str(p), *PORTS])
    if started is None:
        assert_one_line_error(code, err, f"{p}: {key}")
        assert len(err) < len(str(p)) + 300, err
    else:
        assert err == "" and getattr(started, key) == value
        assert_runs(started)


FLAG_FIELDS = [k for k in FIELDS if SCHEMA[k].flag and SCHEMA[k].kind in (int, float, str)]
_NUMBERS = st.one_of(st.floats(), st.integers(-(2**70), 2**70))


@SEEDED
@given(key=st.sampled_from(FLAG_FIELDS), value=st.one_of(_NUMBERS, st.text(max_size=12)))
def test_any_flag_value_is_exit_2_in_one_line_or_plays(key: str, value: object) -> None:
    """The same for every flag that takes a value: typer's own refusal of a word for a
    number is exit 2 too (its usage block); anything it parses meets the schema."""
    flag = SCHEMA[key].flag
    code, err, started = play([f"{flag}={value}", *PORTS])
    if started is not None:
        assert_runs(started)
    elif "rtgen: error: " in err:
        assert_one_line_error(code, err, flag)
    else:  # typer could not parse it as the option's type (or choice)
        assert code == 2 and "Invalid value" in err, err


def test_a_folder_or_a_missing_preset_is_rtgens_own_one_line(tmp_path: Path) -> None:
    """An unreadable preset is rtgen's one line, not typer's usage block."""
    code, err, _ = play(["--config", str(tmp_path), *PORTS])
    assert_one_line_error(code, err, "is a folder")
    code, err, _ = play(["--config", str(tmp_path / "none.toml"), *PORTS])
    assert_one_line_error(code, err, "no such preset file")


@pytest.mark.parametrize(
    ("preset", "flags", "needle"),
    [
        ("beats_per_bar = 0\n", [], "beats_per_bar must be 1..16, not 0"),
        ("", ["--temperature", "inf"], "--temperature must be in (0, 5], not inf"),
        (None, [], "is a folder"),
    ],
    ids=["preset", "flag", "folder"],
)
def test_the_real_command_exits_2_at_once(
    tmp_path: Path, preset: str | None, flags: list[str], needle: str
) -> None:
    """`python -m rtgen play` with a bad setting: exit 2, one stderr line, and quickly (the
    bad presets used to open the ports and die about 10 s later)."""
    p = tmp_path / "bad.toml"
    if preset is None:
        p.mkdir()
    else:
        p.write_text(preset)
    t0 = time.monotonic()
    res = subprocess.run(
        [*RTGEN, "play", "--config", str(p), *flags, *PORTS],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtgen: error: "), res.stderr
    assert needle in lines[0], res.stderr
    assert time.monotonic() - t0 < 8.0
