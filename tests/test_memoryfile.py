"""`rtgen play --memory FILE`: a missing file is a fresh memory, a bad one a one-line error
before any port opens, and what is saved at the end loads back the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtgen.engine.memory import Memory
from rtgen.errors import RtgenError
from rtgen.memoryfile import load_memory, save_memory


def test_no_file_given_no_memory_and_a_missing_file_is_a_fresh_one(tmp_path: Path) -> None:
    """ "" means no --memory; a file that does not exist yet starts empty."""
    assert load_memory("") is None
    mem = load_memory(str(tmp_path / "new.json"))
    assert mem is not None and mem.notes == 0


@pytest.mark.parametrize("text", ["not json", '{"format": "other"}', "[1, 2]"])
def test_a_file_that_is_no_memory_is_one_line(tmp_path: Path, text: str) -> None:
    """Text, another JSON or another format: one RtgenError line naming --memory."""
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(RtgenError, match=r"^--memory .*not an rtgen memory file") as err:
        load_memory(str(path))
    assert len(str(err.value).splitlines()) == 1


def test_a_folder_that_is_not_there_is_refused_at_the_start(tmp_path: Path) -> None:
    """Found now, not when the jam ends and the memory would be lost."""
    with pytest.raises(RtgenError, match="--memory .*no such folder"):
        load_memory(str(tmp_path / "none" / "m.json"))


def test_saved_at_the_end_loaded_at_the_next_start(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """save_memory writes what load_memory reads back, and says so in one line."""
    mem = Memory()
    mem.learn([60, 62, 64, 60], [6, 6, 12])
    path = tmp_path / "m.json"
    save_memory(mem.to_dict(), str(path))
    assert "memory of 1 phrases (3 intervals) saved to" in capsys.readouterr().err
    assert load_memory(str(path)).phrases == mem.phrases
