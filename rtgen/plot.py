"""Piano-roll pictures of notes (player and model) as PNG (or PDF, SVG, JPEG...) files.

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

PLAYER_COLOR = "#1f6fb4"  # blue
MODEL_COLOR = "#e8590c"  # orange: far from blue in hue and lightness, and colour-blind safe
ROLE_COLORS = {Role.PLAYER: PLAYER_COLOR, Role.MODEL: MODEL_COLOR}
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


def note_name(pitch: int) -> str:
    """Scientific pitch name of a C, ``60 -> "C4"`` (MIDI 60 is middle C)."""
    return f"C{pitch // 12 - 1}"


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


def _draw_keyboard(ax, lo: int, hi: int) -> None:
    """Grey rows for black keys, a line under each C, and C names on the y axis."""
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
    ax.set_yticks(cs, [note_name(c) for c in cs])
    ax.set_ylim(lo - 0.5, hi + 0.5)


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
    known = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if fmt not in known:
        raise RtgenError(
            f"{path}: cannot write .{fmt} pictures; use one of: {', '.join(sorted(known))}"
        )
    return fmt


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
    """Draw ``notes`` (times in beats) as a piano roll and save it at ``out_png``, in the
    format of its extension (PNG when it has none).

    Player notes are blue, model notes orange; velocity sets the fill's opacity. The x axis is
    in bars of ``beats_per_bar`` beats, or in seconds with ``seconds=True`` (from ``tempos``,
    a tempo map ``[(beat, bpm), ...]``, else a constant ``bpm``, else 120 BPM); the beat and
    bar grid is drawn either way. Raises RtgenError when there are no notes or matplotlib is
    missing.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RtgenError("plotting needs matplotlib: pip install matplotlib") from None
    if not notes:
        raise RtgenError("nothing to plot: no notes")
    fmt = image_format(out_png)  # before drawing: a bad extension should not cost the plot
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
    _draw_keyboard(ax, lo, hi)
    px_per_beat = width * DPI * 0.9 / end_beat  # the axes take about 90% of the width
    _draw_grid(ax, end_beat, beats_per_bar, x_of, px_per_beat)
    roles = _draw_notes(ax, notes, x_of, px_per_beat)
    ax.set_xlim(0, x_of(end_beat))
    _label_x(ax, end_beat, beats_per_bar, seconds, None if tempos and len(tempos) > 1 else bpm)
    ax.set_ylabel("pitch")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_color("#adb5bd")
    _legend(ax, roles)
    if title:
        ax.set_title(title, loc="left", fontsize=12)
    try:
        # The format follows the extension: format="png" put PNG bytes in a .jpg file.
        fig.savefig(Path(out_png), format=fmt, dpi=DPI, facecolor="white")
    except OSError as exc:
        raise RtgenError(f"{out_png}: cannot write ({exc.strerror or exc})") from None
    except (RuntimeError, ValueError) as exc:  # e.g. pgf without LaTeX, avif without support
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RtgenError(f"{out_png}: cannot write .{fmt} ({reason})") from None


def _legend(ax, roles: list[Role]) -> None:
    """A legend of the roles drawn, above the plot's right corner, clear of the notes."""
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=ROLE_COLORS[r], edgecolor="none", label=r.name.lower()) for r in roles
    ]
    ax.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=len(handles),
        frameon=False,
        borderaxespad=0.2,
    )
