"""`--help` reads as plain text: every command's options with their value types, and flags
shown as flags (typer 0.29's rich tables printed "<bool>" after each, as if they took one)."""

from __future__ import annotations

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
