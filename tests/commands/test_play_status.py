"""rtgen play's status line: fitted to the terminal, so a refresh never adds a row, and ended
cleanly, so later messages start on their own line."""

from __future__ import annotations

import io
import logging

import pytest

from rtgen.commands.play_cmd import format_status
from rtgen.statusline import Field, StatusLine, fit

# Figures as wide as they get in a long, troubled jam (the full line is ~130 columns).
BUSY = {
    "state": "answering",
    "bpm": 120.0,
    "bar": 1234,
    "in": 12345,
    "out": 23456,
    "p50_us": 1234.0,
    "p99_us": 56789.0,
    "late": 12,
    "shifted": 3,
    "dropped": 0,
    "skipped": 1,
    "in_drop": 0,
}
CALM = {**BUSY, "late": 0, "shifted": 0, "skipped": 0}


def test_the_full_line_would_wrap_an_80_or_120_column_terminal() -> None:
    """The problem being solved: unfitted, the line is wider than common terminals."""
    assert len(format_status(BUSY, 10_000)) > 120


@pytest.mark.parametrize("width", [120, 80, 40])
@pytest.mark.parametrize("figures", [BUSY, CALM], ids=["busy", "calm"])
def test_fits_below_the_last_column(width: int, figures: dict) -> None:
    """At 120, 80 and 40 columns the line leaves the last column free (no wrap) and keeps
    the mode and the tempo."""
    line = format_status(figures, width)
    assert len(line) <= width - 1, line
    assert line.startswith("answering") and "120 BPM" in line.replace("120.0", "120")


def test_what_each_width_keeps() -> None:
    """120: every figure, the step timings (least important) abbreviated; 80: zero counters
    and the step timings go, the bar, note counts and the first problem counters stay; 40:
    mode, tempo and bar first."""
    wide, mid, narrow = (format_status(BUSY, w) for w in (120, 80, 40))
    for word in ("bar 1234", "in 12345", "out 23456", "late 12", "dropped 0", "in-drop 0"):
        assert word in wide, wide
    assert "step p50" not in wide and "p99 56789us" in wide
    assert "bar 1234  in 12345  out 23456  late 12  shifted 3" in mid, mid
    assert "dropped" not in mid and "p99" not in mid
    assert narrow.startswith("answering  120 BPM  bar 1234"), narrow


def test_a_wide_terminal_gets_the_whole_line_unchanged() -> None:
    """With room to spare nothing is abbreviated: fixed-width figures stay in place."""
    line = format_status(CALM, 200)
    assert "step p50  1234 us p99 56789 us" in line and "dropped 0" in line


@pytest.mark.parametrize("width", range(0, 140))
def test_fit_never_exceeds_the_width(width: int) -> None:
    """Whatever the width (a tiny window too), the line is at most width - 1 columns."""
    assert len(format_status(BUSY, width)) <= max(width - 1, 0)


def test_fit_drops_least_important_first_and_keeps_rank_0() -> None:
    """Abbreviate (highest rank first), then drop (rank 0 never), then cut."""
    fields = [Field("AAAA", "A", 0), Field("BBBB", "B", 1), Field("CCCC", None, 2)]
    assert fit(fields, 100) == "AAAA  BBBB  CCCC"
    assert fit(fields, 14) == "AAAA  B  CCCC"
    assert fit(fields, 12) == "A  B  CCCC"
    assert fit(fields, 5) == "A  B"
    assert fit(fields, 2) == "A"
    assert fit([Field("a long sentence")], 7) == "a long"


class _Terminal(io.StringIO):
    """A stream that says it is a 40-column terminal."""

    def fileno(self) -> int:
        raise OSError("not a real terminal")


def test_end_and_log_records_leave_clean_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A log record first erases the status (and the next refresh draws it again); end()
    moves below the last status once, so what follows starts at column 0."""
    monkeypatch.setenv("COLUMNS", "40")
    stream = _Terminal()
    line = StatusLine(stream)
    handler = logging.StreamHandler(stream)
    handler.addFilter(line)
    log = logging.getLogger("rtgen.test_status")
    log.addHandler(handler)
    log.propagate = False
    try:
        line.show([Field(format_status(BUSY, 1000))])
        log.warning("output port gone")
        line.show([Field("answering")])
        line.end()
        line.end()  # twice is harmless
        stream.write("rtgen: stopped (SIGINT)\n")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    first = out.split("\x1b[K")[0]
    assert len(first) <= 40  # "\r" + 39 columns
    assert "\x1b[K\r\x1b[Koutput port gone\n" in out
    assert out.endswith("\ranswering\x1b[K\nrtgen: stopped (SIGINT)\n")


def test_the_keys_held_and_a_silent_keyboard_show() -> None:
    """A key rtgen thinks is down is named (a lost note-off is seen, not guessed), with its
    channel when it is not the first; a keyboard that sent nothing says so."""
    from rtgen.commands.play_cmd import held_names

    assert held_names([(0, 64), (1, 64), (0, 61)]) == "E4 E4/ch2 C#4"
    line = format_status({**CALM, "held": "E4 E4/ch2"}, 200)
    assert "holding E4 E4/ch2" in line
    assert "nothing heard yet" in format_status({**CALM, "deaf": True}, 200)
    assert "holding" not in format_status(CALM, 200) and "nothing" not in format_status(CALM, 200)


def test_the_exit_warns_of_a_silent_keyboard_and_of_lost_note_offs() -> None:
    from rtgen.commands.play_cmd import input_warnings

    quiet = {"in": 0, "stuck_keys": 0}
    assert "nothing came in on 'kbd'" in input_warnings(quiet, 6_000_000_000, "kbd")[0]
    assert input_warnings(quiet, 2_000_000_000, "kbd") == []  # too short to tell
    assert "lost their note-off" in input_warnings({"in": 9, "stuck_keys": 1}, 10**10, "k")[0]
    assert input_warnings({"in": 9, "stuck_keys": 0}, 10**10, "kbd") == []
