"""Piano-roll pictures of notes (player and model) as PNG (or PDF, SVG, JPEG...) files,
drawn for a musician: note names on the pitch axis, bars and beats, the call and the answer
labelled, velocity as shade.

matplotlib is optional (the ``train`` and ``dev`` extras): it is imported inside
``plot_piano_roll``, and only its object API with the Agg canvas is used, never pyplot, so
plotting neither needs a display nor changes the backend of a process that also uses pyplot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

from rtgen.errors import RtgenError
from rtgen.events import Note, Role
from rtgen.midi import pitch_name

PLAYER_COLOR = "#1f6fb4"  # blue
MODEL_COLOR = "#e8590c"  # orange: far from blue in hue and lightness, and colour-blind safe
ROLE_COLORS = {Role.PLAYER: PLAYER_COLOR, Role.MODEL: MODEL_COLOR}
ROLE_WORDS = {Role.PLAYER: "call", Role.MODEL: "answer"}  # what a musician calls each part
ROLE_LEGEND = {Role.PLAYER: "call (player)", Role.MODEL: "answer (rtgen)"}
DPI = 120
MIN_ALPHA = 0.3  # the face alpha of a velocity-1 note; velocity 127 is opaque
PITCH_MARGIN = 2  # semitones above and below the notes
MIN_PITCH_SPAN = 13  # show at least an octave, so a few notes still read as a keyboard
MAX_WIDTH_IN, MIN_WIDTH_IN = 20.0, 8.0
MAX_BAR_LABELS = 24
MIN_PX_PER_BEAT_LINE = 4.0  # beat lines closer than this are left out (bars only)
MIN_PX_PER_BAR_LINE = 30.0  # bar lines closer than this are thinned to every 2, 4, ... bars
MIN_PX_PER_BEAT_EDGE = 8.0  # below this notes are slivers: an edge would hide their colour
MAX_BARS_BEAT_LABELS = 4  # up to this many bars, beats are labelled too ("1.2", "1.3")
MIN_NOTE_BEATS = 0.05  # zero-length notes still show as a sliver
BLACK_KEYS = {1, 3, 6, 8, 10}  # pitch classes
STRETCH_GAP_BEATS = 0.25  # between one stretch's line and the next
MAX_STRETCH_LABELS = 12  # more call/answer alternations (a duet) are left to the legend
MAX_TICK_PT, MIN_TICK_PT = 9.0, 5.0  # pitch names as large as a row allows, within these


def _tempo_clock(tempos: Sequence[tuple[float, float]]) -> Callable[[float], float]:
    """A function from beats to seconds under a tempo map ``[(beat, bpm), ...]``."""
    points = sorted(tempos) or [(0.0, 120.0)]
    if points[0][0] > 0:
        points.insert(0, (0.0, points[0][1]))

    def seconds_at(beat: float) -> float:
        total, prev_beat, bpm = 0.0, 0.0, points[0][1]
        for t_beat, t_bpm in points:
            if t_beat >= beat:
                break
            total += (t_beat - prev_beat) * 60.0 / bpm
            prev_beat, bpm = t_beat, t_bpm
        return total + (beat - prev_beat) * 60.0 / bpm

    return seconds_at


def _pitch_range(notes: Sequence[Note]) -> tuple[int, int]:
    """Lowest and highest pitch row shown: the notes with a margin, at least an octave."""
    lo = min(n.pitch for n in notes) - PITCH_MARGIN
    hi = max(n.pitch for n in notes) + PITCH_MARGIN
    short = MIN_PITCH_SPAN - (hi - lo + 1)
    if short > 0:
        lo, hi = lo - short // 2, hi + short - short // 2
    return max(lo, 0), min(hi, 127)


def _figure_size(beats: float, pitch_span: int) -> tuple[float, float]:
    width = min(max(MIN_WIDTH_IN, 3.0 + 0.22 * beats), MAX_WIDTH_IN)
    height = min(max(3.5, 1.4 + 0.11 * pitch_span), 10.0)
    return width, height


def _bar_label_step(bars: int) -> int:
    """1, 2, 4, 8, ... bars between labels, so at most MAX_BAR_LABELS are shown."""
    step = 1
    while bars / step > MAX_BAR_LABELS:
        step *= 2
    return step


def pitch_ticks(lo: int, hi: int, played: Sequence[int]) -> list[tuple[int, str]]:
    """The pitch axis's ticks, ``[(pitch, name), ...]`` low to high: every C from ``lo`` to
    ``hi`` (so the octaves read at a glance) and every pitch ``played`` (so each note can be
    named), with sharps: ``[(60, "C4"), (64, "E4"), (66, "F#4"), (72, "C5")]``."""
    pitches = {p for p in range(lo, hi + 1) if p % 12 == 0} | {p for p in played if lo <= p <= hi}
    return [(p, pitch_name(p)) for p in sorted(pitches)]


def _tick_points(fig_height_in: float, rows: int) -> float:
    """A font size for pitch names that keeps two adjacent rows' names apart: about 80% of a
    row's height (the axes take about 80% of the figure's height)."""
    row_pt = fig_height_in * 72 * 0.8 / rows
    return min(max(0.8 * row_pt, MIN_TICK_PT), MAX_TICK_PT)


def _draw_keyboard(ax, lo: int, hi: int, played: Sequence[int], fontsize: float) -> None:
    """Grey rows for black keys, a line under each C; on the y axis the name of every C
    (bold) and of every pitch played."""
    for pitch in range(lo, hi + 1):
        if pitch % 12 in BLACK_KEYS:
            ax.axhspan(pitch - 0.5, pitch + 0.5, color="#f1f3f5", lw=0, zorder=0)
    cs = [p for p in range(lo, hi + 1) if p % 12 == 0]
    ax.hlines(
        [c - 0.5 for c in cs],
        0,
        1,
        transform=ax.get_yaxis_transform(),
        color="#ced4da",
        lw=0.7,
        zorder=1,
    )
    ticks = pitch_ticks(lo, hi, played)
    ax.set_yticks([p for p, _ in ticks], [name for _, name in ticks], fontsize=fontsize)
    for (pitch, _), label in zip(ticks, ax.get_yticklabels(), strict=True):
        if pitch % 12 == 0:
            label.set_fontweight("bold")
        else:
            label.set_color("#495057")
    ax.set_ylim(lo - 0.5, hi + 0.5)


def role_stretches(notes: Sequence[Note]) -> list[tuple[Role, float, float]]:
    """The contiguous stretches of one role, ``[(role, start, end), ...]`` in beats: runs of
    notes of one role in start order (a call, then its answer, ...)."""
    runs: list[tuple[Role, float, float]] = []
    for n in sorted(notes, key=lambda n: (n.start, n.pitch)):
        if runs and runs[-1][0] == n.role:
            role, start, end = runs[-1]
            runs[-1] = (role, start, max(end, n.end))
        else:
            runs.append((n.role, n.start, n.end))
    return runs


def _label_stretches(ax, notes: Sequence[Note], x_of) -> None:
    """Above the plot, a line in the role's colour over each stretch, named "call" or
    "answer"; left out when the parts alternate too often to read (a duet: the legend says
    it)."""
    stretches = role_stretches(notes)
    if len(stretches) > MAX_STRETCH_LABELS:
        return
    above = ax.get_xaxis_transform()  # x in data, y in axes fractions
    starts = [start for _, start, _ in stretches[1:]] + [math.inf]
    for (role, start, end), next_start in zip(stretches, starts, strict=True):
        colour = ROLE_COLORS[role]
        # A call's last note may ring into the answer: its line stops short of the next label.
        x0, x1 = x_of(start), x_of(max(start, min(end, next_start - STRETCH_GAP_BEATS)))
        ax.plot([x0, x1], [1.012, 1.012], transform=above, color=colour, lw=2.5, clip_on=False)
        ax.text(
            x0,
            1.025,
            ROLE_WORDS[role],
            transform=above,
            color=colour,
            fontsize=9,
            fontweight="bold",
            va="bottom",
            ha="left",
        )


def _draw_grid(ax, end_beat: float, beats_per_bar: int, x_of, px_per_beat: float) -> None:
    """Light beat lines and darker bar lines, at positions ``x_of(beat)``; when bars are
    narrow, a bar line every 2, 4, ... bars, so the grid never drowns the notes."""
    beats = range(int(end_beat) + 1)
    if px_per_beat >= MIN_PX_PER_BEAT_LINE:
        minor = [x_of(b) for b in beats if b % beats_per_bar]
        ax.vlines(
            minor, 0, 1, transform=ax.get_xaxis_transform(), color="#e9ecef", lw=0.6, zorder=1
        )
    bar_stride = 1
    while px_per_beat * beats_per_bar * bar_stride < MIN_PX_PER_BAR_LINE:
        bar_stride *= 2
    bars = [x_of(b) for b in beats[:: beats_per_bar * bar_stride]]
    ax.vlines(bars, 0, 1, transform=ax.get_xaxis_transform(), color="#adb5bd", lw=0.9, zorder=1)


def _draw_notes(ax, notes: Sequence[Note], x_of, px_per_beat: float) -> list[Role]:
    """One rectangle per note, face alpha by velocity, edge in a darker shade; the model on
    top; no edge when notes are only a few pixels wide. Returns the roles drawn, in legend
    order."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_rgb

    edge_width = 0.6 if px_per_beat >= MIN_PX_PER_BEAT_EDGE else 0.0
    drawn = []
    for role in (Role.PLAYER, Role.MODEL):
        part = [n for n in notes if n.role == role]
        if not part:
            continue
        rgb = to_rgb(ROLE_COLORS[role])
        edge = tuple(c * 0.6 for c in rgb)
        boxes, faces = [], []
        for n in part:
            x0, x1 = x_of(n.start), x_of(max(n.end, n.start + MIN_NOTE_BEATS))
            y0, y1 = n.pitch - 0.4, n.pitch + 0.4
            boxes.append([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
            vel = min(max(n.velocity, 1), 127)
            faces.append((*rgb, MIN_ALPHA + (1 - MIN_ALPHA) * (vel - 1) / 126))
        coll = PolyCollection(boxes, facecolors=faces, edgecolors=[edge], linewidths=edge_width)
        coll.set_zorder(2 + int(role))
        ax.add_collection(coll)
        drawn.append(role)
    return drawn


def _label_x(ax, end_beat: float, beats_per_bar: int, seconds: bool, bpm: float | None) -> None:
    """Seconds, or bar numbers at bar lines (every 2, 4, ... bars when many); in a short
    piece every beat is labelled ``bar.beat``."""
    if seconds:
        ax.set_xlabel("seconds")
        return
    bars = math.ceil(end_beat / beats_per_bar)
    if bars <= MAX_BARS_BEAT_LABELS:
        ticks = list(range(int(end_beat)))
        bar_of = [divmod(b, beats_per_bar) for b in ticks]
        labels = [f"{bar + 1}" if not beat else f"{bar + 1}.{beat + 1}" for bar, beat in bar_of]
    else:
        step = _bar_label_step(bars)
        ticks = [b * beats_per_bar for b in range(0, bars, step)]
        labels = [str(b + 1) for b in range(0, bars, step)]
    ax.set_xticks(ticks, labels)
    tempo = f" at {bpm:g} BPM" if bpm else ""
    ax.set_xlabel(f"bar ({beats_per_bar} beats each{tempo})")


def image_format(path: Path) -> str:
    """The file format for ``path``, from its extension (png when it has none); an extension
    matplotlib cannot write is an RtgenError naming those it can."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RtgenError("plotting needs matplotlib: pip install matplotlib") from None
    fmt = Path(path).suffix.lower().lstrip(".") or "png"
    known = {**FigureCanvasAgg(Figure()).get_supported_filetypes(), "html": "zoomable SVG page"}
    if fmt not in known:
        raise RtgenError(
            f"{path}: cannot write .{fmt} pictures; use one of: {', '.join(sorted(known))}"
        )
    return fmt


def piano_roll_figure(
    notes: Sequence[Note],
    title: str = "",
    beats_per_bar: int = 4,
    bpm: float | None = None,
    seconds: bool = False,
    *,
    tempos: Sequence[tuple[float, float]] | None = None,
):
    """The piano roll of ``notes`` (times in beats) as a matplotlib Figure on an Agg canvas,
    not yet saved (``plot_piano_roll`` saves it; tests read its labels).

    Player notes are blue and labelled "call", model notes orange and labelled "answer";
    velocity sets the fill's opacity. The pitch axis names every C and every pitch played.
    The x axis is in bars of ``beats_per_bar`` beats, or in seconds with ``seconds=True``
    (from ``tempos``, a tempo map ``[(beat, bpm), ...]``, else a constant ``bpm``, else 120
    BPM); the beat and bar grid is drawn either way. Raises RtgenError when there are no
    notes or matplotlib is missing.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RtgenError("plotting needs matplotlib: pip install matplotlib") from None
    if not notes:
        raise RtgenError("nothing to plot: no notes")
    if beats_per_bar < 1:
        raise RtgenError(f"beats per bar must be at least 1, not {beats_per_bar}")
    last = max(max(n.end, n.start + MIN_NOTE_BEATS) for n in notes)
    end_beat = max(1, math.ceil(last / beats_per_bar)) * beats_per_bar
    clock = _tempo_clock(tempos or [(0.0, bpm or 120.0)])
    x_of = clock if seconds else (lambda b: b)
    lo, hi = _pitch_range(notes)
    width, height = _figure_size(end_beat, hi - lo + 1)

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _draw_keyboard(ax, lo, hi, [n.pitch for n in notes], _tick_points(height, hi - lo + 1))
    px_per_beat = width * DPI * 0.9 / end_beat  # the axes take about 90% of the width
    _draw_grid(ax, end_beat, beats_per_bar, x_of, px_per_beat)
    roles = _draw_notes(ax, notes, x_of, px_per_beat)
    ax.set_xlim(0, x_of(end_beat))
    _label_stretches(ax, notes, x_of)
    _label_x(ax, end_beat, beats_per_bar, seconds, None if tempos and len(tempos) > 1 else bpm)
    ax.set_ylabel("pitch")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_color("#adb5bd")
    _legend(ax, roles)
    if title:
        ax.set_title(title, loc="left", fontsize=12, pad=22)  # clear of the call/answer labels
    return fig


def plot_piano_roll(
    notes: Sequence[Note],
    out_png: Path,
    title: str = "",
    beats_per_bar: int = 4,
    bpm: float | None = None,
    seconds: bool = False,
    *,
    tempos: Sequence[tuple[float, float]] | None = None,
) -> None:
    """Draw ``notes`` as ``piano_roll_figure`` does and save the picture at ``out_png``, in
    the format of its extension (PNG when it has none). Raises RtgenError when there are no
    notes, matplotlib is missing, or the file cannot be written."""
    fmt = image_format(out_png)  # before drawing: a bad extension should not cost the plot
    fig = piano_roll_figure(notes, title, beats_per_bar, bpm, seconds, tempos=tempos)
    try:
        if fmt == "html":
            Path(out_png).write_text(_html_page(fig, title), encoding="utf-8")
        else:  # the format follows the extension: format="png" put PNG bytes in a .jpg file
            fig.savefig(Path(out_png), format=fmt, dpi=DPI, facecolor="white")
    except OSError as exc:
        raise RtgenError(f"{out_png}: cannot write ({exc.strerror or exc})") from None
    except (RuntimeError, ValueError) as exc:  # e.g. pgf without LaTeX, avif without support
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RtgenError(f"{out_png}: cannot write .{fmt} ({reason})") from None


def _legend(ax, roles: list[Role]) -> None:
    """A legend of the roles drawn, right of the plot, clear of the notes and of the
    call/answer labels above it; its title says what the shade means."""
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=ROLE_COLORS[r], edgecolor="none", label=ROLE_LEGEND[r]) for r in roles
    ]
    ax.legend(
        handles=handles,
        title="darker = louder",
        title_fontsize=8,
        fontsize=9,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        frameon=False,
        borderaxespad=0.4,
    )


HTML_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ margin: 0; font: 14px sans-serif; }}
#bar {{ padding: 6px 10px; border-bottom: 1px solid #dee2e6; }}
#roll {{ overflow: auto; height: calc(100vh - 40px); }}
#roll svg {{ display: block; height: auto; }}
</style></head><body>
<div id="bar"><button id="out">-</button> <button id="in">+</button> <button id="fit">fit</button>
 zoom <span id="zoom">100</span>% (Ctrl + wheel zooms; drag or scroll to move)</div>
<div id="roll">{svg}</div>
<script>
const roll = document.getElementById("roll"), svg = roll.querySelector("svg");
let zoom = 1;
function setZoom(z, x) {{
  const frac = (roll.scrollLeft + (x ?? roll.clientWidth / 2)) / svg.clientWidth;
  zoom = Math.min(Math.max(z, 1), 32);
  svg.style.width = (100 * zoom) + "%";
  roll.scrollLeft = frac * svg.clientWidth - (x ?? roll.clientWidth / 2);
  document.getElementById("zoom").textContent = Math.round(100 * zoom);
}}
svg.removeAttribute("width"); svg.removeAttribute("height"); setZoom(1);
document.getElementById("in").onclick = () => setZoom(zoom * 1.5);
document.getElementById("out").onclick = () => setZoom(zoom / 1.5);
document.getElementById("fit").onclick = () => setZoom(1);
roll.addEventListener("wheel", e => {{
  if (!e.ctrlKey) return;
  e.preventDefault();
  setZoom(zoom * (e.deltaY < 0 ? 1.25 : 0.8), e.clientX - roll.getBoundingClientRect().left);
}}, {{ passive: false }});
let drag = null;
roll.onmousedown = e => {{ drag = [e.clientX, e.clientY, roll.scrollLeft, roll.scrollTop]; }};
window.onmouseup = () => {{ drag = null; }};
window.onmousemove = e => {{
  if (!drag) return;
  roll.scrollLeft = drag[2] - (e.clientX - drag[0]);
  roll.scrollTop = drag[3] - (e.clientY - drag[1]);
}};
</script></body></html>
"""


def _html_page(fig, title: str) -> str:
    """One self-contained page: the figure as inline SVG (sharp at any zoom) with buttons,
    Ctrl + wheel and dragging to zoom and move; no files beside it and
    no network, so it opens anywhere."""
    import html
    import io

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", facecolor="white")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # the XML prolog and DOCTYPE are not allowed inline
    return HTML_PAGE.format(title=html.escape(title or "piano roll"), svg=svg)
