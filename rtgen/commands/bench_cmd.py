"""`rtgen bench`: the runtime's latency figures on this machine, side by side, in one run."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import typer

from rtgen.commands.choices import Device
from rtgen.errors import RtgenError


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench_command(
        model: Path = typer.Option(
            None,
            "--model",
            "-m",
            help="An .onnx model (its NAME.int8.onnx and NAME.ckpt siblings are used too) or "
            "a .ckpt (exported to ONNX fp32 and int8 first; needs torch). Default: bundled.",
        ),
        device: Device = typer.Option(
            Device.auto, "--device", help="ONNX Runtime device; torch runs on the CPU."
        ),
        seconds: float = typer.Option(
            20.0, "--seconds", help="Seconds of onset timing at a JACK port, idle and loaded."
        ),
        steps: int = typer.Option(2000, "--steps", help="Timed model steps per backend."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        plot: Path = typer.Option(
            None, "--plot", help="Write a histogram PNG of step latencies and onset errors."
        ),
    ) -> None:
        """Measure, on one model: step latency per token for ONNX Runtime fp32 and int8,
        torch eager (oneDNN on and off) and TorchScript (1 thread); a Transformer's step at
        the start and end of its window; plan time per beat at 120 and 240 BPM; listener
        latency; onset error at a receiving JACK port, idle and with every core loaded
        (a private JACK server is started if none answers); and memory. Figures, not
        pass/fail: targets are shown beside them."""
        from rtgen.assets import default_model
        from rtgen.bench import BenchOptions, run_bench

        if plot is not None and plot.suffix.lower() != ".png":
            raise RtgenError(f"--plot {plot}: the plot is a PNG file (name it .png)")
        if plot is not None and importlib.util.find_spec("matplotlib") is None:
            raise RtgenError("--plot needs matplotlib: pip install matplotlib")
        opts = BenchOptions(model or default_model(), device.value, seconds, steps)
        t0 = time.monotonic()

        def progress(msg: str) -> None:
            typer.echo(f"bench [{time.monotonic() - t0:5.1f} s] {msg}", err=True)

        result = run_bench(opts, progress)
        if plot is not None:
            from rtgen.bench.report import write_plot

            write_plot(result.samples, plot, f"rtgen bench: {opts.model.name}")
            typer.echo(f"bench: wrote {plot}", err=True)
        if as_json:
            typer.echo(json.dumps(result.figures))
        else:
            from rtgen.bench.report import print_table

            print_table(result.figures)
