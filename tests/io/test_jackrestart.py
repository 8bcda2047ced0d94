"""rtgen/io/jackrestart.py's small rules: the restart count, and where the parts of a jam
that started again are written."""

from __future__ import annotations

from pathlib import Path

from rtgen.io.jackrestart import RESTARTS_ENV, restarts, segment_path


def test_a_first_jam_writes_where_it_was_told(monkeypatch) -> None:
    monkeypatch.delenv(RESTARTS_ENV, raising=False)
    assert restarts() == 0 and segment_path(Path("out/jam.mid")) == Path("out/jam.mid")
    assert segment_path(None) is None


def test_a_jam_that_started_again_keeps_the_part_before(monkeypatch) -> None:
    monkeypatch.setenv(RESTARTS_ENV, "2")
    assert restarts() == 2
    assert segment_path(Path("out/jam.mid")) == Path("out/jam.2.mid")
    assert segment_path(Path("s.jsonl")) == Path("s.2.jsonl")
    monkeypatch.setenv(RESTARTS_ENV, "garbage")
    assert restarts() == 0
