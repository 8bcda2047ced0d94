"""`rtgen calibrate`: measure what MIDI can of a synth's latency and keep it for its port.

    rtgen calibrate --in "Synth MIDI thru" --out "Synth"     # loopback: --out's thru to --in
    rtgen calibrate --show                                   # what is stored
    rtgen calibrate --forget Synth                           # remove one

Probes go out on --out and come back on --in through a loopback (a MIDI cable, a synth's
MIDI thru); the round trip minus the transport's own share (a direct loopback rtgen makes
on the same MIDI API) is printed with its spread and stored for the output port
(rtgen.calibrate; docs/latency.md).
"""

from __future__ import annotations

import typer

from rtgen.commands.choices import MidiApi, api_option
from rtgen.errors import RtgenError


def calibrate_command(
    inp: str | None = typer.Option(
        None, "--in", help="Input port the probes come back on (the loopback's end)."
    ),
    out: str | None = typer.Option(
        None, "--out", help="Output port to calibrate (the synth); its thru goes to --in."
    ),
    api: MidiApi | None = api_option(),
    count: int = typer.Option(
        24, "--count", help="Probes to send (4..128), 150 ms apart, on each loopback."
    ),
    show: bool = typer.Option(False, "--show", help="List the stored latencies and exit."),
    forget: str | None = typer.Option(
        None, "--forget", help="Remove the stored latency of this output port and exit."
    ),
) -> None:
    """Measure a synth's MIDI latency through a loopback and store it for the output port.

    Probes (note-ons on channel 16, velocity 1, each with its note-off) go out on --out and
    must come back on --in (a MIDI cable, or the synth's MIDI thru routed back). Prints the
    latency with its spread and the transport's share, and stores it for --out.
    """
    from rtgen import calibrate as cal

    if show or forget is not None:
        if inp is not None or out is not None or (show and forget is not None):
            raise RtgenError("--show and --forget take no --in/--out and go alone")
        if forget is not None:
            name = cal.forget_latency(forget)
            typer.echo(f"rtgen calibrate: forgot '{name}' ({cal.calibration_path()})")
            return
        _show(cal)
        return
    if inp is None or out is None:
        raise RtgenError("give --in and --out (see rtgen ports), or --show / --forget OUT")
    try:
        result = cal.calibrate(out, inp, api.value if api is not None else None, count)
    except KeyboardInterrupt:
        typer.echo("rtgen calibrate: stopped; nothing stored", err=True)
        raise typer.Exit(130) from None
    cal.store_latency(result.out_name, result)
    typer.echo(f"{result.summary()}; stored for '{result.out_name}'")
    if result.latency_ms < 0:
        typer.echo(
            "rtgen calibrate: note: the loopback was faster than the direct one; stored 0 ms",
            err=True,
        )
    elif result.latency_ms > cal.MAX_LATENCY_MS:
        typer.echo(
            f"rtgen calibrate: note: more than --latency-ms allows; stored "
            f"{cal.MAX_LATENCY_MS:g} ms",
            err=True,
        )


def _show(cal) -> None:  # cal: the rtgen.calibrate module, imported late
    path = cal.calibration_path()
    entries = cal.load_entries(path)
    if not entries:
        typer.echo(f"no stored latencies ({path})")
        return
    typer.echo(f"stored latencies ({path}):")
    for name in sorted(entries):
        e = entries[name]
        typer.echo(
            f"  '{name}': {e.get('latency_ms')} ms (spread {e.get('spread_ms')} ms, "
            f"{e.get('probes')} probes via '{e.get('via')}', {e.get('measured')})"
        )


def register(app: typer.Typer) -> None:
    """Add the `calibrate` command to the rtgen app."""
    app.command("calibrate")(calibrate_command)
