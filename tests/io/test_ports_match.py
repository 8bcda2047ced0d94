"""match_port: choosing one MIDI port by name (pure; no rtmidi calls)."""

from __future__ import annotations

import pytest

from rtgen.commands.choices import MidiApi
from rtgen.errors import RtgenError
from rtgen.io.ports import API_NAMES, NoSuchPortError, compiled_apis, match_port

OUTPUTS = [
    "Midi Through:Midi Through Port-0 14:0",
    "FLUID Synth (123):Synth input port",
    "DAW:in 1",
]


def test_substring_picks_the_one_port() -> None:
    """A substring that occurs in exactly one name selects that port's index."""
    assert match_port("FLUID", OUTPUTS, "output") == 1


def test_match_ignores_case() -> None:
    """Matching ignores case: 'fluid synth' finds 'FLUID Synth ...'."""
    assert match_port("fluid synth", OUTPUTS, "output") == 1


def test_regex_used_when_substring_finds_nothing() -> None:
    """A valid regex is tried (case-insensitively) when no name contains the pattern literally."""
    assert match_port(r"^daw:in \d$", OUTPUTS, "output") == 2


def test_invalid_regex_is_just_no_match() -> None:
    """A pattern that is not a valid regex and not a substring is a plain no-match error."""
    with pytest.raises(RtgenError, match=r"no MIDI output matches '\['"):
        match_port("[", OUTPUTS, "output")


def test_exact_name_wins_over_longer_names() -> None:
    """A full name (any case) selects its port even when it is a substring of another name."""
    names = ["Synth:out", "Synth:out 2"]
    assert match_port("synth:out", names, "output") == 0


def test_no_match_lists_existing_ports_on_one_line() -> None:
    """No match raises NoSuchPortError (a port a wait may wait for) whose one-line message
    lists every port of that kind."""
    with pytest.raises(NoSuchPortError) as info:
        match_port("Keyboard", ["A:x", "B:y"], "input")
    message = info.value.format_message()
    assert message == "no MIDI input matches 'Keyboard'; inputs: 'A:x', 'B:y'"
    assert "\n" not in message


def test_no_ports_at_all_says_so() -> None:
    """With no ports of that kind, the error says there are none."""
    with pytest.raises(RtgenError, match="there are no MIDI outputs"):
        match_port("Synth", [], "output")


def test_ambiguous_match_lists_the_matches() -> None:
    """Several matches raise RtgenError (not NoSuchPortError: no wait resolves them) naming
    only the ports that matched."""
    with pytest.raises(RtgenError) as info:
        match_port("synth", ["Synth A:in", "Synth B:in", "DAW:in"], "output")
    assert not isinstance(info.value, NoSuchPortError)
    message = info.value.format_message()
    assert "'synth' matches 2 MIDI outputs: 'Synth A:in', 'Synth B:in'" in message
    assert "DAW" not in message


def test_empty_pattern_is_an_error() -> None:
    """An empty name never silently picks the only port."""
    with pytest.raises(RtgenError, match="empty MIDI input name") as info:
        match_port("", ["A:x"], "input")
    assert not isinstance(info.value, NoSuchPortError)


def test_cli_api_choices_match_api_names() -> None:
    """The --api choices of `rtgen ports` are exactly the API names ports.py knows."""
    assert [m.value for m in MidiApi] == list(API_NAMES)
    assert set(compiled_apis()) <= set(API_NAMES)


def test_only_an_own_port_matching_is_said_so() -> None:
    """When the pattern names only this rtgen's own output (left out of the inputs), the
    error says so instead of claiming there is nothing."""
    own = ["rtgen-out-01:rtgen out"]
    with pytest.raises(RtgenError, match="^no MIDI input matches 'rtgen-out' but this rtgen's"):
        match_port("rtgen-out", [], "input", own)
    with pytest.raises(RtgenError, match="own output.*; inputs: 'DAW:in 1'$"):
        match_port("rtgen-out", ["DAW:in 1"], "input", own)
    with pytest.raises(RtgenError, match="^no MIDI input matches 'Synth'; inputs: 'DAW:in 1'$"):
        match_port("Synth", ["DAW:in 1"], "input", own)  # an own port that does not match
    assert match_port("rtgen-out", ["rtgen-out:rtgen out"], "input", own) == 0
