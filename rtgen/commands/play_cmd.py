"""`rtgen play`: jam with a keyboard, live."""

from __future__ import annotations

import dataclasses
import logging
import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from rtgen.commands.choices import ClockSource, Device, MidiApi, ModeName, api_option
from rtgen.config import PlaySettings, load_preset, merge
from rtgen.engine.harmony import parse_chords
from rtgen.errors import RtgenError
from rtgen.io.jackrestart import restart_self, restarts, segment_path, wait_for_server
from rtgen.io.jackwatch import EXIT_SERVER_LOST, JackWatch
from rtgen.midi import pitch_name
from rtgen.paths import check_writable
from rtgen.statusline import Field, StatusLine, fit

if TYPE_CHECKING:
    from rtgen.live import LiveJam

VIRTUAL_IN, VIRTUAL_OUT = "rtgen-in", "rtgen-out"  # clients of --virtual's "rtgen in"/"out"
CHORDS_IN = "rtgen-chords"  # the client of --chords PORT's input


# (label, figure) of the status's problem counters: sends that went out late, model notes
# the planner moved or dropped, beats skipped, input messages dropped
_COUNTERS = (
    ("late", "late"),
    ("shifted", "shifted"),
    ("dropped", "dropped"),
    ("skipped", "skipped"),
    ("in-drop", "in_drop"),
)


def format_status(f: dict, width: int) -> str:
    """The play status line for figures ``f`` (as :func:`_status_figures` gives them), fitted
    to ``width`` columns (see :func:`status_fields`)."""
    return fit(status_fields(f), width)


def status_fields(f: dict) -> list[Field]:
    """The play status's fields: mode, tempo and bar stay longest; zero problem counters go
    first, then the step timings; the fixed-width full forms keep figures in place between
    refreshes."""
    return [
        Field(f"{f['state']:<10}", f["state"], rank=0),
        # the keys rtgen believes are down: a call stays open while they are (a lost
        # note-off shows here), and a keyboard wired but silent says so
        *([Field(f"holding {f['held']}", f"hold {f['held']}", rank=1)] if f.get("held") else []),
        *([Field("nothing heard yet", "no input", rank=1)] if f.get("deaf") else []),
        # the harmony the answers follow (--split, --chords)
        *([Field(f"chord {f['chord']}", f["chord"], rank=1)] if f.get("chord") else []),
        Field(f"{f['bpm']:6.1f} BPM", f"{f['bpm']:.0f} BPM", rank=0),
        # --clock link: the session the tempo comes from
        *(
            [Field(f"Link session ({f['link_peers']} peers)", f"Link {f['link_peers']}", 1)]
            if f.get("link_peers") is not None
            else []
        ),
        Field(f"bar {f['bar']:>4}", f"bar {f['bar']}", rank=1),
        Field(f"in {f['in']:>5}", f"in {f['in']}", rank=2),
        Field(f"out {f['out']:>5}", f"out {f['out']}", rank=2),
        Field(
            f"step p50 {f['p50_us']:5.0f} us p99 {f['p99_us']:5.0f} us",
            f"p99 {f['p99_us']:.0f}us",
            rank=4,
        ),
        *(
            Field(f"{name} {f[key]}", f"{name} {f[key]}" if f[key] else "", 3)
            for name, key in _COUNTERS
        ),
        # how much of the player the session memory holds (intervals), where it is known
        *([Field(f"memory {f['memory']:>5}", f"mem {f['memory']}", 5)] if "memory" in f else []),
    ]


def _status_figures(jam: LiveJam) -> dict:
    st, sched = jam.engine.stats(), jam.scheduler.stats
    steps = sorted(st.step_ns) or [0]
    return {
        "state": st.state,
        "bpm": jam.timeline.bpm or 0.0,
        "bar": int(jam.timeline.beat_at(jam.clock.now_ns()) // jam.s.beats_per_bar) + 1,
        "in": jam.stats.notes_in,
        "out": st.notes,
        "p50_us": steps[len(steps) // 2] / 1e3,
        "p99_us": steps[int(len(steps) * 0.99)] / 1e3,
        "late": sched.late,
        "shifted": st.shifted,
        "dropped": st.dropped,
        "skipped": jam.stats.beats_skipped,
        "in_drop": jam.inp.dropped,
        "memory": st.memory_notes,
        "held": held_names(jam.engine.held_keys()[0]),
        "chord": jam.engine.chord_name(),
        "link_peers": getattr(jam.timeline, "num_peers", None) if jam.s.clock == "link" else None,
        "deaf": jam.stats.msgs_in == 0 and jam.clock.now_ns() - jam.origin > DEAF_AFTER_NS,
    }


DEAF_AFTER_NS = 5_000_000_000  # a keyboard silent this long after the start is worth a word


def input_warnings(stats: dict, ran_ns: int, port: str) -> list[str]:
    """What the exit line's figures say about the input, in words: a keyboard that sent
    nothing in a jam of more than DEAF_AFTER_NS, keys whose note-off never came."""
    out = []
    if stats["in"] == 0 and ran_ns > DEAF_AFTER_NS:
        out.append(f"nothing came in on '{port}' (is the keyboard sending, on that port?)")
    if stats["stuck_keys"]:
        out.append(f"{stats['stuck_keys']} key(s) lost their note-off and were released by rtgen")
    return out


def held_names(keys: list[tuple[int, int]]) -> str:
    """``[(0, 64), (1, 64)]`` -> ``"E4 E4/ch2"``: the keys down, a channel shown when it is
    not the first (the 1-based number, as a keyboard shows it)."""
    return " ".join(pitch_name(p) + (f"/ch{c + 1}" if c else "") for c, p in keys)


class _PlayStatus:
    """The live status of `rtgen play` on stderr; LiveJam calls it once a second, and
    ``end()`` when the jam stops, before anything else is printed."""

    def __init__(self) -> None:
        self.line = StatusLine(sys.stderr)
        for handler in logging.getLogger().handlers:  # warnings start on a clean line
            handler.addFilter(self.line)

    def __call__(self, jam: LiveJam) -> None:
        if not jam.timeline.bpm:  # --clock external before the DAW's clock and Start arrive
            self.line.show([Field("waiting for MIDI clock and Start on the input port")])
            return
        self.line.show(status_fields(_status_figures(jam)))

    def end(self) -> None:
        self.line.end()


def _tempo_source(settings: PlaySettings, jam: LiveJam, link_bpm: float | None) -> str:
    """Where the jam's tempo comes from, for the start line."""
    if settings.clock == "external":
        return "the input's MIDI clock"
    if settings.clock == "link":
        peers = getattr(jam.timeline, "num_peers", 0)
        proposing = f", proposing {link_bpm:g} BPM" if link_bpm is not None else ""
        return f"the tempo of a Link session ({peers} peers{proposing})"
    return f"{settings.bpm:g} BPM"


def _status_printer(quiet: bool) -> _PlayStatus | None:
    """A one-line live status on a terminal; nothing when --quiet or not a terminal."""
    if quiet or not sys.stderr.isatty():
        return None
    return _PlayStatus()


def _with_stored_latency(settings: PlaySettings, out_name: str) -> PlaySettings:
    """``settings`` with the latency `rtgen calibrate` stored for the output ``out_name``
    (unchanged when none is stored); the session log then records it, so replay agrees."""
    from rtgen.calibrate import stored_latency

    found = stored_latency(out_name)
    return settings if found is None else dataclasses.replace(settings, latency_ms=found)


def _say(text: str) -> None:
    print(f"rtgen: {text}", file=sys.stderr, flush=True)


class _ServerLostWhileWaiting(Exception):
    """The JACK server went away again while rtgen waited for its ports after a restart."""


def _waiting_for(name: str | None, again: bool, watch: JackWatch | None):
    """After a restart (``again``), a port not back yet is waited for (the peer comes back
    after the server): the callback says once what rtgen waits for, and ends the wait if
    ``watch`` sees the server go away again (the waiting client's listing is empty for good
    then). None otherwise: no match is an error."""
    if not again:
        return None
    said = []

    def say() -> None:
        if watch is not None and watch.lost:
            raise _ServerLostWhileWaiting
        if not said:
            _say(f"waiting for '{name}' to come back (Ctrl-C to stop)")
            said.append(True)

    return say


def _bpm_number(text: str | None) -> float | None:
    """``--bpm``: a number (checked with the other settings), 'auto' (None here), or a
    one-line error."""
    if text is None or text.strip().lower() == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise RtgenError(
            f"--bpm must be a number of beats per minute or auto, not {text!r}"
        ) from None


def register(app: typer.Typer) -> None:
    @app.command("play")
    def play_command(
        inp: str = typer.Option(
            None, "--in", help="Input port (case-insensitive substring or regex), e.g. 'Keyboard'."
        ),
        out: str = typer.Option(
            None, "--out", help="Output port (substring or regex), e.g. 'Synth'."
        ),
        api: MidiApi = api_option(),
        virtual: bool = typer.Option(
            False,
            "--virtual",
            help="Create ports 'rtgen in' / 'rtgen out' for a DAW instead of connecting.",
        ),
        model: Path = typer.Option(
            None, "--model", "-m", help="ONNX model (default: the bundled one; int8 on CPU)."
        ),
        mode: ModeName = typer.Option(
            None, "--mode", help="call-response (default), continue or duet."
        ),
        bpm: str = typer.Option(
            None,
            "--bpm",
            help="Tempo of the internal clock (120), or 'auto': your first call sets tempo "
            "and beat (just start playing).",
        ),
        clock: ClockSource = typer.Option(
            None,
            "--clock",
            help="internal, external: follow MIDI clock on the input (a DAW), or link: join "
            "an Ableton Link session (pip install 'rtgen[link]'; --bpm proposes a tempo).",
        ),
        send_clock: bool = typer.Option(
            None, "--send-clock/--no-send-clock", help="Send MIDI clock (24 PPQN) with Start/Stop."
        ),
        temperature: float = typer.Option(
            None, "--temperature", help="Sampling temperature (0.9; lower is safer)."
        ),
        top_p: float = typer.Option(None, "--top-p", help="Nucleus sampling mass (0.95)."),
        key: str = typer.Option(
            None,
            "--key",
            help="Key to play in, e.g. 'Am' or 'Eb'; "
            "default: estimated from your playing; 'none' for no key.",
        ),
        pitch_range: str = typer.Option(None, "--range", help="Pitch range LOW-HIGH (36-96)."),
        in_channel: int = typer.Option(
            None, "--in-channel", help="Listen on channel 1-16 (0 = all, the default)."
        ),
        out_channel: int = typer.Option(None, "--out-channel", help="Play on channel 1-16 (1)."),
        program: int = typer.Option(None, "--program", help="GM program 1-128 sent at start."),
        thru: bool = typer.Option(
            None, "--thru/--no-thru", help="Echo your playing to the output too."
        ),
        metronome: bool = typer.Option(
            None, "--metronome/--no-metronome", help="Click on every beat (channel 10)."
        ),
        record: Path = typer.Option(
            None,
            "--record",
            help="Write the session (player and model tracks) to this MIDI file on exit.",
        ),
        seed: int = typer.Option(
            None, "--seed", help="Random seed (default: a fresh one, printed)."
        ),
        log_path: Path = typer.Option(
            None,
            "--log",
            help="Write a session log (every input, its time, seed, settings, model hash) "
            "for `rtgen replay`.",
        ),
        config: Path = typer.Option(None, "--config", help="A TOML preset; flags override it."),
        device: Device = typer.Option(None, "--device", help="auto, cpu or cuda."),
        send_ahead: float = typer.Option(
            None,
            "--send-ahead",
            help="Send each message this many ms before its time (-1, the default: half the "
            "JACK period on a JACK output, so notes land centred on their time; else 0).",
        ),
        latency_ms: float = typer.Option(
            None,
            "--latency-ms",
            help="The synth sounds this many ms late: send everything this much earlier "
            "(0..500; 0, the default).",
        ),
        max_polyphony: int = typer.Option(
            None, "--max-polyphony", help="Most model notes sounding at once (4)."
        ),
        silence: float = typer.Option(
            None,
            "--silence",
            help="Beats of silence that end a call (2.25: a call may rest 2 beats inside).",
        ),
        max_note_beats: float = typer.Option(
            None, "--max-note-beats", help="A model note is ended after this many beats (4)."
        ),
        texture: float = typer.Option(
            None, "--texture", help="Answer a single line with a line (strength, 8; 0 = off)."
        ),
        density: float = typer.Option(
            None, "--density", help="Notes per beat near the call's (strength, 1; 0 = off)."
        ),
        register: float = typer.Option(
            None, "--register", help="Pitches near the call's (strength, 2; 0 = off)."
        ),
        rhythm: float = typer.Option(
            None, "--rhythm", help="The call's onsets, swing and lengths (strength, 1; 0 = off)."
        ),
        dynamics: float = typer.Option(
            None, "--dynamics", help="Velocities like the call's (strength, 1; 0 = off)."
        ),
        feel: float = typer.Option(
            None, "--feel", help="The call's timing around the beat, 0..1 (1; 0 = on the grid)."
        ),
        ornament: float = typer.Option(
            None,
            "--ornament",
            help="Grace notes where the call had them, a share of its rate, 0..1 (1; 0 = none).",
        ),
        key_strength: float = typer.Option(
            None, "--key-strength", help="Preference for the key (2; 0 = no key at all)."
        ),
        key_strict: bool = typer.Option(
            None, "--key-strict/--no-key-strict", help="The key as a mask: no note outside it."
        ),
        memory_weight: float = typer.Option(
            None, "--memory-weight", help="Share of the session memory in each pitch (0.3)."
        ),
        candidates: int = typer.Option(
            None,
            "--candidates",
            help="Answers sampled per beat; the critic keeps the best (4; 1 = off).",
        ),
        critic: str = typer.Option(
            None, "--critic", help="Critic file for --candidates (default: the bundled one)."
        ),
        no_memory: bool = typer.Option(
            False, "--no-memory", help="Do not take up the player's phrases (memory weight 0)."
        ),
        memory_file: str = typer.Option(
            None, "--memory", help="Load the session memory from this file; save it at exit."
        ),
        split: str = typer.Option(
            None,
            "--split",
            help="Keys below this note (e.g. C4) are the harmony: held chords steer the "
            "answers and are not answered ('none', the default: no split).",
        ),
        chords: str = typer.Option(
            None,
            "--chords",
            help="Chords from 'channel:N' of the input, or from a second input port (a DAW's "
            "chord track, a second keyboard).",
        ),
        harmony: float = typer.Option(
            None, "--harmony", help="How strongly answers keep to the held chord (4; 0 = off)."
        ),
        exit_on_server_loss: bool = typer.Option(
            None,
            "--exit-on-server-loss/--wait-for-server",
            help="When the JACK server goes away: exit 3 for a supervisor to restart rtgen, "
            "instead of waiting for the server and playing on (the default).",
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No status line (for services)."),
        seconds: float = typer.Option(None, "--seconds", help="Stop after this long."),
    ) -> None:
        """Jam: rtgen listens on --in and answers on --out, in time. Ctrl-C stops it cleanly
        (every note released). Ports are matched by name, never by number."""
        logging.basicConfig(level=logging.WARNING, format="rtgen: %(message)s")
        flags = {
            "mode": mode.value if mode else None,
            "bpm": _bpm_number(bpm),
            "bpm_auto": True if bpm is not None and bpm.strip().lower() == "auto" else None,
            "clock": clock.value if clock else None,
            "send_clock": send_clock,
            "temperature": temperature,
            "top_p": top_p,
            "key": key,
            "range": pitch_range,
            "in_channel": in_channel,
            "out_channel": out_channel,
            "program": program,
            "thru": thru,
            "metronome": metronome,
            "seed": seed,
            "device": device.value if device else None,
            "send_ahead_ms": send_ahead,
            "latency_ms": latency_ms,
            "max_polyphony": max_polyphony,
            "silence": silence,
            "max_note_beats": max_note_beats,
            "texture": texture,
            "density": density,
            "register": register,
            "rhythm": rhythm,
            "dynamics": dynamics,
            "feel": feel,
            "ornament": ornament,
            "key_strength": key_strength,
            "key_strict": key_strict,
            "memory_weight": 0.0 if no_memory else memory_weight,
            "memory_file": memory_file,
            "candidates": candidates,
            "critic": critic,
            "split": split,
            "chords": chords,
            "harmony": harmony,
            "exit_on_server_loss": exit_on_server_loss,
        }
        preset = load_preset(config)
        settings = merge(preset, flags)
        # --clock link proposes a tempo only when the user gave one (flag or preset)
        link_bpm = settings.bpm if bpm is not None or "bpm" in preset else None
        if settings.bpm_auto and settings.mode != "call-response":
            raise RtgenError(
                f"--bpm auto takes the tempo from your first call: call-response mode only, "
                f"not {settings.mode}"
            )
        if settings.bpm_auto and settings.clock != "internal":
            raise RtgenError(
                f"--bpm auto sets rtgen's own clock: not with --clock {settings.clock}"
            )
        if not virtual and (inp is None or out is None):
            raise RtgenError("give --in and --out port names (see rtgen ports), or --virtual")
        if virtual and (inp is not None or out is not None):
            raise RtgenError("--virtual creates rtgen's own ports: give it without --in/--out")
        if seconds is not None and not seconds > 0:  # also NaN
            raise RtgenError(f"--seconds must be > 0, not {seconds}")
        record, log_path = segment_path(record), segment_path(log_path)  # after a restart
        if record is not None:
            check_writable(record, "--record")  # now: at the end the jam would be lost
        seed_used = settings.seed if settings.seed >= 0 else random.randrange(1 << 31)

        try:
            jam = _start(
                settings,
                model,
                api,
                inp,
                out,
                virtual,
                seed_used,
                record,
                log_path,
                quiet,
                link_bpm,
                latency_ms is None and "latency_ms" not in preset,
            )
        except KeyboardInterrupt:  # Ctrl-C while the model loads: nothing sounds yet
            print("rtgen: stopped before the jam began", file=sys.stderr)
            raise typer.Exit(0) from None
        except _ServerLostWhileWaiting:  # gone again before the ports were back
            if settings.exit_on_server_loss:
                print("rtgen: the JACK server went away again: rtgen stops", file=sys.stderr)
                raise typer.Exit(EXIT_SERVER_LOST) from None
            print("rtgen: the JACK server went away again: rtgen waits for it", file=sys.stderr)
            restart_self()
        code = jam.run(seconds)
        if not quiet:  # the status line, if any, ended when the jam stopped
            print(f"rtgen: stopped ({jam.stop_reason})", file=sys.stderr)
        stats = jam.summary()
        print("rtgen: stats " + " ".join(f"{k}={v}" for k, v in stats.items()), file=sys.stderr)
        for warning in input_warnings(stats, jam.clock.now_ns() - jam.origin, jam.inp.name):
            print(f"rtgen: warning: {warning}", file=sys.stderr)
        if jam.restart:  # the JACK server went away: a fresh process waits for it
            restart_self()
        raise typer.Exit(code)


def _start(
    settings: PlaySettings,
    model: Path | None,
    api: MidiApi | None,
    inp: str | None,
    out: str | None,
    virtual: bool,
    seed: int,
    record: Path | None,
    log_path: Path | None,
    quiet: bool,
    link_bpm: float | None = None,
    calibrated: bool = False,
):
    """Memory, model, ports, LiveJam with its signal handlers; every port closed if anything
    fails. ``link_bpm``: the tempo --clock link proposes (None: follow the session's)."""
    from rtgen.io import ports
    from rtgen.io.portclaim import claim_output
    from rtgen.live import LiveJam, link_clock
    from rtgen.memoryfile import load_memory
    from rtgen.sessions import open_play_session

    # --clock link: no binding is one line, before any port opens; joined by LiveJam
    link = link_clock(settings, link_bpm) if settings.clock == "link" else None
    memory = load_memory(settings.memory_file)  # a bad file: one line, before any port
    session = open_play_session(model, settings.device)
    api_name = api.value if api else None
    again = restarts() > 0  # the JACK server went away: wait for it, then for the ports
    watch = None  # after a restart: the server's end, seen while rtgen waits for its ports
    if again:
        wait_for_server(_say)
        watch = JackWatch.open("rtgen-wait")
    in_port = out_port = chords_port = None
    try:
        # Virtual ports live in two MIDI clients (rtmidi makes one per direction): named
        # apart, or JACK would rename the second "rtgen-01" and the printed name would not exist.
        out_port = ports.open_output(
            out,
            api_name,
            virtual=virtual,
            client_name=VIRTUAL_OUT,
            waiting=_waiting_for(out, again, watch),
        )
        in_port = ports.open_input(
            inp,
            api_name,
            virtual=virtual,
            client_name=VIRTUAL_IN,
            waiting=_waiting_for(inp, again, watch),
        )
        if calibrated and not virtual:  # no --latency-ms given: what rtgen calibrate stored
            settings = _with_stored_latency(settings, out_port.name)
        if parse_chords(settings.chords)[0] == "port":  # a second keyboard, a chord track
            chords_port = ports.open_input(
                settings.chords,
                api_name,
                client_name=CHORDS_IN,
                virtual_name="rtgen chords",
                waiting=_waiting_for(settings.chords, again, watch),
            )
        status = _status_printer(quiet)
        jam = LiveJam(
            settings,
            session,
            in_port,
            out_port,
            seed,
            record,
            status,
            log_path,
            memory,
            chords_port,
            link,
        )
        jam.install_signals()
        if not virtual:  # a virtual port is this process's own: nobody else plays to it
            jam.port_claim = claim_output(out_port.name)
            if jam.port_claim is None:
                print(
                    f"rtgen: warning: another rtgen already plays to '{out_port.name}': "
                    "every answer will sound twice (stop the other one)",
                    file=sys.stderr,
                )
    except BaseException:
        if link is not None:
            link.stop()  # type: ignore[attr-defined]
        for port in (in_port, out_port, chords_port):
            if port is not None:
                port.close()
        raise
    finally:
        if watch is not None:
            watch.close()  # the jam watches the server with its own
    if not quiet:
        print(
            f"rtgen: {settings.mode} at "
            + _tempo_source(settings, jam, link_bpm)
            + f", in '{in_port.name}', "
            f"out '{out_port.name}', model {Path(session.path).name} "
            f"({', '.join(session.providers)}), seed {seed}"
            + (f", latency {settings.latency_ms:g} ms" if settings.latency_ms else "")
            + (f", chords from '{chords_port.name}'" if chords_port is not None else "")
            + "; Ctrl-C to stop",
            file=sys.stderr,
        )
    return jam
