"""`rtgen plot` (rtgen/commands/plot_cmd.py, rtgen/plot.py), run as the user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rtgen.errors import RtgenError
from rtgen.events import Note, Role
from rtgen.io.midifile import write_midi

mpimg = pytest.importorskip("matplotlib.image")
from matplotlib.colors import to_rgb  # noqa: E402  (after the skip: matplotlib is optional)

from rtgen.plot import (  # noqa: E402
    MODEL_COLOR,
    PLAYER_COLOR,
    piano_roll_figure,
    pitch_ticks,
    plot_piano_roll,
    role_stretches,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TOLERANCE = 0.03  # per channel, of 1.0: opaque fills are exact but for PNG rounding
NOTE_PIXELS = 3000  # more than a legend swatch (~400 px): only drawn notes reach this


def _rtgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rtgen", *args], capture_output=True, text=True, timeout=120
    )


def _duet(path: Path, model: bool = True) -> Path:
    """Two bars of player notes, then two of model notes, all at full velocity (opaque)."""
    notes = [Note(2.0 * i, 2.0 * i + 1.9, 60 + 2 * i, 127, Role.PLAYER) for i in range(4)]
    if model:
        notes += [Note(8 + 2.0 * i, 9.9 + 2.0 * i, 67 - 2 * i, 127, Role.MODEL) for i in range(4)]
    write_midi(notes, path, bpm=90)
    return path


def _colour_pixels(png: Path, colour: str) -> int:
    image = mpimg.imread(png)  # (height, width, 4) floats in 0..1
    diff = abs(image[..., :3] - to_rgb(colour)).max(axis=-1)  # (height, width)
    return int((diff < COLOUR_TOLERANCE).sum())


def test_plot_writes_png_with_player_and_model_colours(tmp_path: Path) -> None:
    """A duet becomes a PNG in which player and model notes are drawn in their two colours."""
    out = tmp_path / "duet.png"
    result = _rtgen("plot", str(_duet(tmp_path / "duet.mid")), "-o", str(out), "--title", "Duet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    data = out.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 10_000
    height, width, _ = mpimg.imread(out).shape
    assert 600 <= width <= 2400 and 300 <= height <= 1200 and width > height
    assert _colour_pixels(out, PLAYER_COLOR) > NOTE_PIXELS
    assert _colour_pixels(out, MODEL_COLOR) > NOTE_PIXELS


def test_player_only_file_has_no_model_colour(tmp_path: Path) -> None:
    """A file without a "model" track shows no model colour, not even in the legend."""
    out = tmp_path / "solo.png"
    result = _rtgen("plot", str(_duet(tmp_path / "solo.mid", model=False)), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert _colour_pixels(out, PLAYER_COLOR) > NOTE_PIXELS
    assert _colour_pixels(out, MODEL_COLOR) == 0


def test_seconds_axis_and_default_output_path(tmp_path: Path) -> None:
    """With --seconds and no -o, the PNG goes next to the MIDI file with a .png suffix."""
    result = _rtgen("plot", str(_duet(tmp_path / "take.mid")), "--seconds")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "take.png"
    assert result.stdout.strip() == str(out)
    assert out.read_bytes()[:8] == PNG_SIGNATURE


def test_bad_input_is_one_line_error_exit_2(tmp_path: Path) -> None:
    """A file that is not MIDI gives one error line on stderr, exit code 2, and no PNG."""
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"this is not a MIDI file")
    out = tmp_path / "bad.png"
    result = _rtgen("plot", str(bad), "-o", str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("rtgen: error:") and "not a MIDI file" in lines[0]
    )
    assert not out.exists()


def test_missing_matplotlib_is_an_rtgen_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without matplotlib, plotting raises RtgenError naming the package to install."""
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: import fails
    with pytest.raises(RtgenError, match="pip install matplotlib"):
        plot_piano_roll([Note(0.0, 1.0, 60)], tmp_path / "x.png")


def test_picture_format_follows_the_extension(tmp_path: Path) -> None:
    """out.jpg is a JPEG, out.pdf a PDF, and "out" becomes out.png (was PNG bytes in all)."""
    midi = _duet(tmp_path / "duet.mid")
    for name, magic in (("out.jpg", b"\xff\xd8\xff"), ("out.pdf", b"%PDF"), ("out.svg", b"<?xml")):
        res = _rtgen("plot", str(midi), "-o", str(tmp_path / name))
        assert res.returncode == 0, res.stderr
        assert (tmp_path / name).read_bytes().startswith(magic), name
    res = _rtgen("plot", str(midi), "-o", str(tmp_path / "bare"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(tmp_path / "bare.png") and not (tmp_path / "bare").exists()
    assert (tmp_path / "bare.png").read_bytes().startswith(PNG_SIGNATURE)


def test_unsupported_extension_is_one_line_error(tmp_path: Path) -> None:
    """An extension matplotlib cannot write is refused before anything is drawn."""
    midi = _duet(tmp_path / "duet.mid")
    res = _rtgen("plot", str(midi), "-o", str(tmp_path / "out.xyz"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write .xyz pictures; use one of:" in lines[0]
    assert "png" in lines[0] and not (tmp_path / "out.xyz").exists()
    with pytest.raises(RtgenError, match=r"\.xyz"):
        plot_piano_roll([Note(0.0, 1.0, 60, 100, Role.PLAYER)], tmp_path / "api.xyz")


def _y_labels(fig) -> list[str]:
    return [label.get_text() for label in fig.axes[0].get_yticklabels()]


def test_pitch_ticks_name_every_c_and_every_pitch_played() -> None:
    """Every C in the range (the octaves) and each pitch played, low to high, with sharps."""
    ticks = pitch_ticks(55, 75, [64, 66, 64, 60, 90])
    assert ticks == [(60, "C4"), (64, "E4"), (66, "F#4"), (72, "C5")]


def test_figure_names_pitches_on_the_axis(tmp_path: Path) -> None:
    """The drawn pitch axis carries those names; Cs are bold, so octaves stand out."""
    notes = [Note(0.0, 1.0, 50, 90), Note(1.0, 2.0, 61, 90), Note(2.0, 3.0, 75, 90, Role.MODEL)]
    fig = piano_roll_figure(notes)
    assert _y_labels(fig) == ["C3", "D3", "C4", "C#4", "C5", "D#5"]  # rows 48..77
    ax = fig.axes[0]
    weights = {t.get_text(): t.get_fontweight() for t in ax.get_yticklabels()}
    assert weights["C4"] == "bold" and weights["C#4"] != "bold"


def test_call_and_answer_are_labelled_above_their_stretches() -> None:
    """A call then an answer: "call" over the player's stretch, "answer" over the model's,
    and the legend says which is which."""
    notes = [Note(i, i + 0.9, 60 + i, 100) for i in range(4)]
    notes += [Note(5 + i, 5.9 + i, 67 - i, 100, Role.MODEL) for i in range(4)]
    assert role_stretches(notes) == [(Role.PLAYER, 0, 3.9), (Role.MODEL, 5, 8.9)]
    ax = piano_roll_figure(notes).axes[0]
    texts = [(t.get_text(), t.get_position()[0]) for t in ax.texts]
    assert texts == [("call", 0), ("answer", 5)]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["call (player)", "answer (rtgen)"]


def test_a_duet_is_left_to_the_legend() -> None:
    """Parts that alternate every beat get no stretch labels (they would be a wall of words)."""
    notes = [Note(i, i + 0.5, 60, 100, Role.PLAYER if i % 2 else Role.MODEL) for i in range(40)]
    ax = piano_roll_figure(notes).axes[0]
    assert len(ax.texts) == 0 and len(ax.get_legend().get_texts()) == 2


def test_velocity_is_shade() -> None:
    """A soft note is drawn fainter than a loud one of the same part."""
    ax = piano_roll_figure([Note(0.0, 1.0, 60, 20), Note(1.0, 2.0, 62, 127)]).axes[0]
    faces = ax.collections[-1].get_facecolors()  # (notes, 4) RGBA
    assert faces[0][3] < 0.5 < faces[1][3] == 1.0


def test_html_is_one_zoomable_page(tmp_path: Path) -> None:
    """--html writes FILE.html: the roll as inline SVG with its zoom script, nothing fetched."""
    midi = _duet(tmp_path / "duet.mid")
    res = _rtgen("plot", str(midi), "--html")
    assert res.returncode == 0, res.stderr
    page = (tmp_path / "duet.html").read_text()
    assert res.stdout.strip() == str(tmp_path / "duet.html")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "setZoom" in page
    assert "<link" not in page and "src=" not in page  # self-contained
