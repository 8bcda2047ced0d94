"""The choices commands offer, each an Enum made from the one tuple that defines it.

Typer shows an Enum's values as a flag's choices; the values themselves are defined where the
code that acts on them lives (modes in the engine, devices by the ONNX session, clock sources
in the play settings), so a new one cannot be offered by one and refused by the other.
"""

from __future__ import annotations

from enum import Enum

import typer

from rtgen.config import CLOCKS
from rtgen.engine.modes import MODES
from rtgen.engine.session import DEVICES


class MidiApi(str, Enum):
    """MIDI APIs by their user-facing names: the keys of rtgen.io.ports.API_NAMES, spelled
    out because that module loads rtmidi (tests/io/test_ports_match.py checks they agree)."""

    alsa = "alsa"
    jack = "jack"
    coremidi = "coremidi"
    winmm = "winmm"


API_HELP = "MIDI API. Default: the first that works, ALSA before JACK on Linux."


def api_option(help: str = API_HELP):
    """The ``--api`` option of the commands that open ports by name: a MidiApi, any case."""
    return typer.Option(None, "--api", case_sensitive=False, help=help)


def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    return Enum(name, [(value, value) for value in values], type=str)  # type: ignore[return-value]


ModeName = _choices("ModeName", MODES)
ClockSource = _choices("ClockSource", CLOCKS)
Device = _choices("Device", DEVICES)
