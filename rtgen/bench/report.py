"""The bench's figures for people: a rich table, and a histogram PNG of the samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from rtgen.errors import RtgenError

STEP_LABELS = {
    "ort_fp32": "ORT fp32",
    "ort_int8": "ORT int8",
    "torch_eager": "torch eager",
    "torch_eager_nomkldnn": "torch, no oneDNN",
    "torchscript": "TorchScript",
}
DASH = "—"


def _num(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _row(table: Table, label: str, unit: str, fig: dict | None, note: str = "") -> None:
    if fig is None:
        table.add_row(label, unit, DASH, DASH, DASH, f"[dim]{note}[/dim]")
        return
    cells = (_num(fig.get(k)) if k in fig else "" for k in ("p50", "p99", "max"))
    table.add_row(label, unit, *cells, note)


def _target(figures: dict, key: str) -> str:
    t = figures["targets"][key]
    if t["met"] is None:
        return f"target {t['target']}"
    return f"target {t['target']}: " + ("[green]met[/green]" if t["met"] else "[red]missed[/red]")


def _steps(table: Table, figures: dict) -> None:
    for name, label in STEP_LABELS.items():
        fig = figures["step_us"].get(name)
        note = figures["skipped"].get(f"step_us.{name}", "") if fig is None else f"{fig['n']} steps"
        _row(table, f"step, {label}", "µs", fig, note)
    fig = {"p50": figures["ratio_torch_eager_over_ort"]}
    fig["p99"] = figures["ratios"]["torch_eager_over_ort_p99"]
    _row(table, "torch eager / ORT fp32", "x", fig, _target(figures, "ratio_torch_eager_over_ort"))


def _transformer(table: Table, figures: dict) -> None:
    tr = figures["transformer"]
    if tr is None:
        _row(table, "Transformer step", "µs", None, figures["skipped"].get("transformer", ""))
        return
    for part, (a, b) in tr["positions"].items():
        fig = {"p50": tr[f"p50_{part}_us"], "p99": tr[f"p99_{part}_us"]}
        _row(table, f"Transformer [{a}, {b})", "µs", fig, tr["source"] if part == "start" else "")
    _row(
        table,
        "Transformer end / start",
        "x",
        {"p99": tr["ratio"]},
        _target(figures, "transformer.ratio"),
    )
    q = figures.get("transformer_int8")
    if q is not None:
        for part, (a, b) in q["positions"].items():
            fig = {"p50": q[f"p50_{part}_us"], "p99": q[f"p99_{part}_us"]}
            _row(table, f"Transformer int8 [{a}, {b})", "µs", fig)


def _engine(table: Table, figures: dict) -> None:
    for bpm in (120, 240):
        fig = figures[f"plan_ms_{bpm}"]
        label = STEP_LABELS.get(fig["session"], fig["session"])
        note = f"{label}; {fig['plans']} plans, {fig['steps_per_plan']} steps each"
        note += f"; budget {fig['budget_ms']:g} ms"
        _row(table, f"plan per beat, {bpm} BPM", "ms", fig, note)
        fp32 = figures.get(f"plan_ms_{bpm}_fp32")
        if fp32 is not None:
            _row(table, f"plan per beat, {bpm} BPM", "ms", fp32, "ORT fp32, for comparison")
    for n in (1, 4, 8):
        fig = figures.get(f"candidates_{n}")
        if fig is None:
            continue
        note = f"{fig['plans']} answer plans"
        if fig["per_candidate_vs_single"] is not None:
            note += f"; batched step {fig['batch_step_us']} µs = "
            note += f"{fig['per_candidate_vs_single']} x a single step per candidate"
            note += f"; critic {fig['critic_ms_p50']} ms"
        _row(table, f"answer plan, best of {n}, 240 BPM", "ms", fig, note)
    fig = figures.get("harmony")
    if fig is not None:
        note = f"chords below C4 changed every 2 beats; {fig['plans']} plans (replans too); "
        note += f"steering off p99 {_num(fig['off_p99'])} ms: +{_num(fig['added_p99_ms'])} ms"
        _row(table, "plan per beat, harmony, 240 BPM", "ms", fig, note)
    lis = figures["listener_us"]
    _row(table, "listener, note-on", "µs", lis, f"{lis['tokens_per_note']} tokens per note")


def _onsets(table: Table, figures: dict) -> None:
    onset = figures["onset_ms"]
    for cond in ("idle", "loaded"):
        fig = onset.get(cond)
        if fig is None:
            note = figures["skipped"].get("onset_ms", "")
        else:
            note = f"{fig['notes']} notes, {fig['lost']} lost; scheduler p99 "
            note += f"{_num((fig['send_late_ms'] or {}).get('p99'))} ms"
            if cond == "loaded":
                note += f"; {onset.get('burners')} CPU burners"
            elif fig.get("machine_stalls"):  # the host taking the CPUs: no process is on time
                m = fig["machine_stalls"]
                note += f"; machine stalled {m['over_5ms']}x > 5 ms (longest {m['longest_ms']:g})"
        _row(table, f"onset error, {cond}", "ms", fig, note)
    if onset.get("rss_mb"):
        r = onset["rss_mb"]
        note = f"{r['start']:.1f} -> {r['end']:.1f} MB over the idle run"
        _row(table, "RSS growth, onset timing", "MB", {"p50": r["end"] - r["start"]}, note)
    drift = figures["drift_ms"]
    _row(table, "onset drift, idle", "ms", {"p50": drift}, "mean error: last 10 s - first 10 s")


def build_table(figures: dict) -> Table:
    """One table, a section per measurement; missing parts show their reason."""
    m, mach = figures["model"], figures["machine"]
    params = f", {m['parameters']:,} parameters" if m.get("parameters") else ""
    table = Table(
        title=f"rtgen bench: {Path(m['path']).name} ({m['kind']}{params})",
        caption=f"{mach['cpu']}, {mach['cores']} cores, int8 path {mach.get('int8_path', '?')}; "
        f"Python {mach['python']}, "
        f"onnxruntime {mach['onnxruntime']}, torch {mach['torch'] or 'not installed'}",
    )
    table.add_column("measure")
    table.add_column("unit")
    for col in ("p50", "p99", "max"):
        table.add_column(col, justify="right")
    table.add_column("notes")
    for part in (_steps, _transformer, _engine, _onsets):
        part(table, figures)
        table.add_section()
    rss = figures["rss_mb"]
    _row(
        table,
        "RSS start / end / peak",
        "MB",
        {"p50": rss["start"], "p99": rss["end"], "max": rss["peak"]},
    )
    return table


def print_table(figures: dict, console: Console | None = None) -> None:
    (console or Console()).print(build_table(figures))


def _hist(ax, series: dict[str, np.ndarray], scale: float, unit: str, log: bool) -> None:
    values = [v / scale for v in series.values() if len(v)]
    if not values:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
        return
    lo, hi = min(v.min() for v in values), max(v.max() for v in values)
    if log:
        bins = np.geomspace(max(lo, 1e-3), max(hi, lo * 1.01, 1e-3 * 1.01), 80)
        ax.set_xscale("log")
    else:
        bins = np.linspace(lo, max(hi, lo + 1e-3), 80)
    for label, v in series.items():
        if len(v):
            p99 = np.percentile(v / scale, 99)
            ax.hist(
                v / scale,
                bins=bins,
                histtype="step",
                linewidth=1.4,
                label=f"{label} (p99 {_num(p99)})",
            )
    ax.set_xlabel(unit)
    ax.set_ylabel("count")
    ax.legend(fontsize=8)


def write_plot(samples: dict[str, np.ndarray], out: Path, title: str) -> None:
    """Histograms: model step latency per backend (log µs), and onset errors (ms)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RtgenError("--plot needs matplotlib: pip install matplotlib") from None
    fig = Figure(figsize=(10, 9), dpi=120)
    FigureCanvasAgg(fig)
    ax_step, ax_onset, ax_plan = fig.subplots(3, 1)
    steps = {STEP_LABELS[k[5:]]: v for k, v in samples.items() if k.startswith("step.")}
    _hist(ax_step, steps, 1e3, "model step latency per token (µs, log scale)", log=True)
    ax_step.set_title(title)
    onsets = {k.split(".")[1]: v for k, v in samples.items() if k.startswith("onset.")}
    _hist(ax_onset, onsets, 1e6, "onset error at the receiving JACK port (ms)", log=False)
    plans = {f"{k.split('.')[1]} BPM": v for k, v in samples.items() if k.startswith("plan.")}
    _hist(ax_plan, plans, 1e6, "plan time per beat (ms)", log=False)
    fig.tight_layout()
    fig.savefig(str(out))
