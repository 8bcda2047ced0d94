"""Play presets: the shipped example lists every key at its default; bad presets are refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rtgen.config import PlaySettings, load_preset, merge
from rtgen.errors import RtgenError

EXAMPLE = Path(__file__).resolve().parents[1] / "configs" / "play.toml"


def test_example_preset_names_every_key_at_its_default() -> None:
    """configs/play.toml documents every setting, each at the default value."""
    preset = load_preset(EXAMPLE)
    assert set(preset) == {f.name for f in dataclasses.fields(PlaySettings)}
    loaded = dataclasses.replace(merge(preset, {}), cc={})
    assert loaded == PlaySettings()


def test_flags_override_the_preset(tmp_path: Path) -> None:
    """A flag given on the command line wins over the preset; None means 'not given'."""
    p = tmp_path / "p.toml"
    p.write_text('mode = "duet"\nbpm = 90\n')
    s = merge(load_preset(p), {"bpm": 140.0, "mode": None})
    assert (s.mode, s.bpm) == ("duet", 140.0)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("bpm = 0\n", "--bpm"),
        ('bpm = "fast"\n', "bpm must be float"),
        ("[cc]\nexplode = 3\n", "unknown action 'explode'"),
        ("out_channel = 17\n", "must be 1..16"),
        ('range = "80-40"\n', "LOW < HIGH"),
    ],
)
def test_bad_presets_are_one_line_errors(tmp_path: Path, text: str, needle: str) -> None:
    """Wrong values and types in a preset name the key and the problem."""
    p = tmp_path / "p.toml"
    p.write_text(text)
    with pytest.raises(RtgenError, match=needle):
        merge(load_preset(p), {})
