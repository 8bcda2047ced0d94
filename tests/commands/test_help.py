"""`--help` reads as plain text: every command's options with their value types, and flags
shown as flags (typer 0.29's rich tables printed "<bool>" after each, as if they took one)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

RTGEN = [sys.executable, "-m", "rtgen"]


@pytest.mark.parametrize("command", ["play", "bench", "generate"])
def test_help_shows_flags_as_flags_and_values_with_their_types(command: str) -> None:
    res = subprocess.run([*RTGEN, command, "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "<bool>" not in res.stdout, res.stdout
    assert "<float>" in res.stdout, res.stdout  # a value option still shows its type


@pytest.mark.parametrize(
    "command",
    [
        ["play", "--in", "x", "--out", "y"],
        ["demo", "--out", "y"],
        ["ports"],
        ["panic", "--out", "y"],
        ["calibrate", "--in", "x", "--out", "y"],
    ],
)
def test_every_api_option_takes_the_api_in_any_case(command: list[str], tmp_path) -> None:
    """`--api` is one option everywhere (rtgen.commands.choices.api_option): `JaCk` is read
    as jack, so with no JACK server the command says JACK is not usable (it got past its
    options; a usage error would say "Invalid value")."""
    env = {"JACK_DEFAULT_SERVER": "rtgen-no-such-server", "JACK_NO_START_SERVER": "1"}
    res = subprocess.run(
        [*RTGEN, *command, "--api", "JaCk"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        cwd=tmp_path,  # demo writes its files here before it opens --out
    )
    assert res.returncode == 2, res.stderr
    assert "Invalid value" not in res.stderr and "jack" in res.stderr.lower(), res.stderr
