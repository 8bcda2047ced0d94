"""One bench run: every measurement, side by side, on the same model; one dict of figures.

    result = run_bench(BenchOptions(model=Path("default.onnx"), seconds=20))
    result.figures        # what ``rtgen bench --json`` prints
    result.samples        # raw nanosecond samples, for the histogram plot

Optional parts (torch backends, the Transformer window, the JACK onset run) that cannot run
here are null, with the reason in ``figures["skipped"]``; they never stop the run.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtgen.bench.machine import machine_info, peak_rss_mb, rss_mb
from rtgen.bench.models import ModelFiles, prepare_models, random_transformer, torch_available
from rtgen.bench.stats import ratio, summary
from rtgen.errors import RtgenError

log = logging.getLogger("rtgen.bench")
DEFAULT_STEPS = 2000
DEFAULT_SECONDS = 20.0
TARGETS = {"ratio_torch_eager_over_ort": (">=", 5.0), "transformer.ratio": ("<=", 1.3)}


@dataclass
class BenchOptions:
    model: Path
    device: str = "auto"
    seconds: float = DEFAULT_SECONDS  # of onset timing, idle and again loaded
    steps: int = DEFAULT_STEPS  # timed model steps per backend


@dataclass
class BenchResult:
    figures: dict
    samples: dict[str, np.ndarray] = field(default_factory=dict)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RtgenError):
        return exc.format_message()
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def check_device(device: str) -> None:
    """One-line errors, before any work, for a device this machine cannot run."""
    from rtgen.engine.session import DEVICES
    from rtgen.graph_contract import load_ort

    if device not in DEVICES:
        raise RtgenError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
    if device == "cuda" and "CUDAExecutionProvider" not in load_ort().get_available_providers():
        raise RtgenError("--device cuda: no CUDA here (this ONNX Runtime has no CUDA provider)")


class _Run:
    def __init__(self, opts: BenchOptions, progress: Callable[[str], None]) -> None:
        self.opts, self.progress = opts, progress
        self.skipped: dict[str, str] = {}
        self.samples: dict[str, np.ndarray] = {}
        self.figures: dict = {}

    def steps(self, files: ModelFiles, workdir: Path) -> None:
        from rtgen.bench.step import BACKENDS, onnx_backends, step_latency, torch_backends

        backends = onnx_backends(files, self.opts.device)
        try:
            backends += torch_backends(files, workdir)
        except Exception as exc:  # a torch backend that cannot start is reported, not fatal
            log.debug("torch backends", exc_info=exc)
            for name in BACKENDS[2:]:
                files.skipped.setdefault(name, _reason(exc))
        names = ", ".join(b.name for b in backends)
        self.progress(f"step latency: {names} ({self.opts.steps} steps each)")
        found = step_latency(backends, self.opts.steps)
        providers = {b.name: b.providers for b in backends}
        step_us = {}
        for name in BACKENDS:
            if name in found:
                step_us[name] = {**summary(found[name]), "providers": providers[name]}
                self.samples[f"step.{name}"] = found[name]
            else:
                step_us[name] = None
                self.skipped[f"step_us.{name}"] = files.skipped.get(name, "not available")
        self.figures["step_us"] = step_us
        p50 = {k: (v or {}).get("p50") for k, v in step_us.items()}
        p99 = {k: (v or {}).get("p99") for k, v in step_us.items()}
        self.figures["ratio_torch_eager_over_ort"] = ratio(p50["torch_eager"], p50["ort_fp32"])
        self.figures["ratios"] = {
            "torch_eager_over_ort_p99": ratio(p99["torch_eager"], p99["ort_fp32"]),
            "torch_eager_nomkldnn_over_ort": ratio(p50["torch_eager_nomkldnn"], p50["ort_fp32"]),
            "torchscript_over_ort": ratio(p50["torchscript"], p50["ort_fp32"]),
            "ort_fp32_over_int8": ratio(p50["ort_fp32"], p50["ort_int8"]),
        }

    def transformer(self, files: ModelFiles, workdir: Path) -> None:
        from rtgen.bench.window import window_latency

        self.figures["transformer"] = None
        try:
            if files.kind == "transformer" and files.fp32 is not None:
                path, source = files.fp32, "the benchmarked model"
            elif torch_available():
                path, source = random_transformer(workdir)
            else:
                self.skipped["transformer"] = (
                    "the model is not a Transformer, and building one needs torch"
                )
                return
            self.progress(f"transformer window: {source}")
            figures, samples = window_latency(path, self.opts.device)
        except Exception as exc:
            log.debug("transformer", exc_info=exc)
            self.skipped["transformer"] = _reason(exc)
            return
        self.figures["transformer"] = {**figures, "source": source}
        self.samples["transformer"] = samples
        self.transformer_int8(path, workdir)

    def transformer_int8(self, fp32: Path, workdir: Path) -> None:
        """The same Transformer quantized to int8 (dynamic, as rtgen export --quantize)."""
        from rtgen.bench.window import window_latency

        self.figures["transformer_int8"] = None
        try:
            from rtgen.export.quantize import quantize_int8

            int8 = workdir / "transformer.int8.onnx"
            quantize_int8(fp32, int8)
            self.progress("transformer window: int8")
            figures, _ = window_latency(int8, self.opts.device)
        except Exception as exc:  # onnx/quantization tools missing: say so, go on
            log.debug("transformer int8", exc_info=exc)
            self.skipped["transformer_int8"] = _reason(exc)
            return
        self.figures["transformer_int8"] = figures

    def engine(self, files: ModelFiles) -> None:
        from rtgen.assets import will_use_cuda
        from rtgen.bench.listener import listener_latency
        from rtgen.bench.plan import PLAN_BEATS, plan_times

        # What rtgen play steps on CPU: int8 when there is one (rtgen.assets), else fp32;
        # fp32 is timed beside it when both exist.
        on_cpu = not will_use_cuda(self.opts.device)
        model = (files.int8 if on_cpu else None) or files.fp32 or files.int8
        session = "ort_int8" if model == files.int8 else "ort_fp32"
        for bpm in (120, 240):
            self.progress(f"plan time: {PLAN_BEATS} beats at {bpm} BPM")
            figures, samples = plan_times(model, self.opts.device, float(bpm))
            self.figures[f"plan_ms_{bpm}"] = {**figures, "session": session}
            self.samples[f"plan.{bpm}"] = samples
            if session == "ort_int8" and files.fp32 is not None:
                figures, _ = plan_times(files.fp32, self.opts.device, float(bpm))
                self.figures[f"plan_ms_{bpm}_fp32"] = {**figures, "session": "ort_fp32"}
        self.figures["plan_ms"] = dict(self.figures["plan_ms_240"])
        if session == "ort_int8" or files.int8 is None:  # best of N: the model play runs
            from rtgen.bench.plan import CANDIDATES, candidate_plan_times

            for n in CANDIDATES:
                self.progress(f"answer plans, best of {n}, at 240 BPM")
                try:
                    self.figures[f"candidates_{n}"] = candidate_plan_times(
                        model, self.opts.device, 240.0, n
                    )
                except RtgenError as exc:  # an old graph, or no critic: say so, go on
                    self.skipped[f"candidates_{n}"] = str(exc)
        from rtgen.bench.plan import harmony_plan_times

        self.progress("plan time with harmonic steering, on and off, at 240 BPM")
        self.figures["harmony"] = harmony_plan_times(model, self.opts.device, 240.0)
        self.progress("listener latency")
        figures, samples = listener_latency(model, self.opts.device)
        self.figures["listener_us"] = {**figures, "session": session}
        self.samples["listener"] = samples

    def onsets(self) -> None:
        from rtgen.bench.burner import CpuBurner
        from rtgen.bench.jack import jack_server
        from rtgen.bench.onset import BPM, measure_onsets
        from rtgen.bench.stalls import MachineStalls

        seconds = self.opts.seconds
        onset: dict = {"idle": None, "loaded": None, "bpm": BPM, "seconds": seconds}
        self.figures["onset_ms"] = onset
        self.figures["drift_ms"] = None
        try:
            with jack_server() as server:
                onset["jack"] = server.describe()
                self.progress(f"onset timing at a JACK port: {seconds:g} s idle")
                rss_before = rss_mb()
                # canaries beside the idle run only: under the burners they would measure
                # the burners, not the machine
                with MachineStalls() as stalls:
                    onset["idle"], self.samples["onset.idle"] = measure_onsets(seconds, "idle")
                onset["idle"]["machine_stalls"] = stalls.describe()
                # the real-time part's own growth (the process's start/end RSS also counts
                # loading torch and every model): a leak in the send path would show here
                onset["rss_mb"] = {"start": rss_before, "end": rss_mb()}
                burner = CpuBurner()
                self.progress(f"onset timing: {seconds:g} s with {burner.processes} CPU burners")
                with burner:
                    onset["loaded"], self.samples["onset.loaded"] = measure_onsets(
                        seconds, "loaded"
                    )
                onset["burners"] = burner.processes
        except Exception as exc:
            log.debug("onsets", exc_info=exc)
            self.skipped["onset_ms"] = _reason(exc)
        if onset["idle"] is not None:
            self.figures["drift_ms"] = onset["idle"]["drift_ms"]


def _targets(figures: dict) -> dict:
    out = {}
    values = {
        "ratio_torch_eager_over_ort": figures.get("ratio_torch_eager_over_ort"),
        "transformer.ratio": (figures.get("transformer") or {}).get("ratio"),
    }
    for key, (op, target) in TARGETS.items():
        value = values[key]
        met = None if value is None else (value >= target if op == ">=" else value <= target)
        out[key] = {"target": f"{op} {target:g}", "value": value, "met": met}
    return out


def run_bench(opts: BenchOptions, progress: Callable[[str], None] | None = None) -> BenchResult:
    """Measure everything; see the module doc."""
    start_mb = rss_mb()
    check_device(opts.device)
    if opts.steps < 10 or opts.seconds <= 0:
        raise RtgenError("--steps must be >= 10 and --seconds > 0")
    run = _Run(opts, progress or (lambda _msg: None))
    with tempfile.TemporaryDirectory(prefix="rtgen-bench-") as tmp:
        files = prepare_models(opts.model, Path(tmp))
        run.figures["model"] = files.describe()
        run.figures["device"] = opts.device
        run.steps(files, Path(tmp))
        run.transformer(files, Path(tmp))
        run.engine(files)
    run.onsets()
    figures = run.figures
    figures["rss_mb"] = {"start": start_mb, "end": rss_mb(), "peak": peak_rss_mb()}
    figures["machine"] = machine_info()
    figures["targets"] = _targets(figures)
    figures["skipped"] = run.skipped
    figures["settings"] = {"steps": opts.steps, "seconds": opts.seconds, "threads": 1}
    return BenchResult(figures, run.samples)
