"""Measure what MIDI can of a synth's latency, and keep it per output port.

    result = calibrate("Synth", "Synth thru", api="jack")   # probes out and back
    store_latency(result.out_name, result)                   # latency.json, atomically
    stored_latency("rtgenTestSynth:in")                      # -> 25.1, or None

The measurement: probes (a note-on on channel 16, velocity 1, pitch = probe number, its
note-off 5 ms later) go out on ``--out`` about every 150 ms; a loopback (a MIDI cable, a
synth's MIDI thru) brings them back on ``--in``, where each is matched by pitch. A probe's
round trip is its echo's arrival stamp (rtgen's input stamps, rtmidi's own arrival times on
``perf_counter_ns``) minus the moment it was sent. The transport's own share is the same
measured on a direct loopback that rtgen makes itself over the same MIDI API (its own
virtual input, an output connected to it); the latency is the difference of the medians.
Sends go out at once: no send-ahead applies.

The store: a JSON object ``{output port name: entry}`` at :func:`calibration_path`, written
atomically (a temporary file renamed over it). :func:`stored_latency` never raises: a
missing, unreadable or corrupt file, or an entry that is not a usable number, is None.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rtgen.errors import RtgenError

FILE_NAME = "latency.json"
PROBE_CHANNEL = 15  # 0-based: MIDI channel 16
PROBE_VELOCITY = 1
GAP_S = 0.150  # between two probes, plus a dither of up to DITHER_S
# Probes sent exactly 150 ms apart would meet a JACK period (or a USB frame) always at the
# same one or two phases, so each loopback's median would carry its own share of a period:
# up to a period's difference between the two. Each probe is sent up to DITHER_S later, by
# the golden ratio's multiples, so both loopbacks meet every phase of any period to 20 ms.
DITHER_S = 0.020
_GOLDEN = (5**0.5 - 1) / 2
OFF_AFTER_S = 0.005  # a probe's note-off follows its note-on
MAX_WAIT_S = 1.0  # an echo later than this after its probe counts as lost
GIVE_UP_S = 1.5  # no echo at all this long after the first probe: stop early
MAX_LOST = 0.20  # more probes lost than this: the loopback is not there
MIN_COUNT, MAX_COUNT = 4, 128  # pitches are probe numbers: at most 128 tell probes apart
MAX_LATENCY_MS = 500.0  # what --latency-ms accepts (rtgen.config)

# ALSA lists ports with their client:port numbers ("FLUID Synth:Synth input port 128:0"),
# which change when a device is plugged in again; lookups fall back to the name without them.
_ALSA_NUMBERS = re.compile(r"\s+\d+:\d+$")


# -- the store --------------------------------------------------------------------------------


def calibration_path() -> Path:
    """``$RTGEN_CONFIG_DIR/latency.json`` if that is set, else
    ``$XDG_CONFIG_HOME/rtgen/latency.json``, else ``~/.config/rtgen/latency.json``."""
    own = os.environ.get("RTGEN_CONFIG_DIR")
    if own:
        return Path(own).expanduser() / FILE_NAME
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec: a relative value is to be ignored
        return Path(xdg) / "rtgen" / FILE_NAME
    return Path.home() / ".config" / "rtgen" / FILE_NAME


def load_entries(path: Path | None = None) -> dict[str, dict]:
    """Every stored entry, ``{output port name: entry}``; {} when there is no file.
    An unreadable or corrupt file is a one-line RtgenError."""
    path = path or calibration_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise RtgenError(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RtgenError(
            f"{path} is not valid JSON ({exc}); remove it and calibrate again"
        ) from None
    if not isinstance(data, dict):
        raise RtgenError(f"{path} holds no object of ports; remove it and calibrate again")
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def _write_entries(entries: dict[str, dict], path: Path) -> None:
    """Write atomically: a temporary file in the same folder, flushed, renamed over ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RtgenError(f"cannot write {path}: {exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(entries, file, indent=2, sort_keys=True)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise RtgenError(f"cannot write {path}: {exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def store_latency(out_name: str, result: Calibration | dict) -> Path:
    """Keep ``result`` (a :class:`Calibration` or its :meth:`Calibration.entry` dict) for
    the output port ``out_name``; other ports' entries stay. A corrupt file is replaced.
    Returns the file's path; an RtgenError (one line) when it cannot be written."""
    path = calibration_path()
    try:
        entries = load_entries(path)
    except RtgenError:
        entries = {}  # nothing in it was usable
    entries[out_name] = result.entry() if isinstance(result, Calibration) else dict(result)
    _write_entries(entries, path)
    return path


def forget_latency(pattern: str) -> str:
    """Remove the entry of the one stored port ``pattern`` names (its whole name, else a
    case-insensitive part of it); the name removed. RtgenError when none or several match."""
    path = calibration_path()
    entries = load_entries(path)
    name = _pick(pattern, list(entries), path)
    del entries[name]
    _write_entries(entries, path)
    return name


def _pick(pattern: str, names: list[str], path: Path) -> str:
    if pattern in names:
        return pattern
    needle = pattern.casefold()
    hits = [n for n in names if n.casefold() == needle] or [
        n for n in names if needle in n.casefold()
    ]
    if len(hits) == 1:
        return hits[0]
    listed = ", ".join(f"'{n}'" for n in names) or "none"
    if not hits:
        raise RtgenError(f"no stored latency for {pattern!r} in {path}; stored: {listed}")
    quoted = ", ".join(f"'{n}'" for n in hits)
    raise RtgenError(f"{pattern!r} matches {len(hits)} stored ports: {quoted}; give more of it")


def _usable(entry: object) -> float | None:
    value = entry.get("latency_ms") if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= MAX_LATENCY_MS:
        return None
    return value


def stored_latency(out_name: str) -> float | None:
    """The latency (ms) stored for the output port ``out_name`` (as rtgen's port names it),
    or None: none stored, or the file unreadable or corrupt, or the value not a number in
    0..500. Never raises (for `rtgen play`). An ALSA name's client:port numbers, which
    change when a device is plugged in again, need not agree."""
    try:
        entries = load_entries()
        if out_name in entries:
            return _usable(entries[out_name])
        bare = _ALSA_NUMBERS.sub("", out_name)
        same = [v for k, v in entries.items() if _ALSA_NUMBERS.sub("", k) == bare]
        return _usable(same[0]) if len(same) == 1 else None
    except Exception:  # play must start whatever the file holds
        return None


# -- the measurement --------------------------------------------------------------------------


@dataclass
class Calibration:
    """One calibration: round trips through the device loopback and the direct one (ms)."""

    out_name: str
    in_name: str
    api: str
    device_ms: list[float]  # round trips of the probes that came back
    direct_ms: list[float]
    sent: int  # probes sent on each path

    @property
    def transport_ms(self) -> float:
        return _median(self.direct_ms)

    @property
    def latency_ms(self) -> float:
        return _median(self.device_ms) - self.transport_ms

    @property
    def p10_ms(self) -> float:
        return _percentile(self.device_ms, 10) - self.transport_ms

    @property
    def p90_ms(self) -> float:
        return _percentile(self.device_ms, 90) - self.transport_ms

    @property
    def lost(self) -> int:
        return self.sent - len(self.device_ms)

    def entry(self) -> dict:
        """What the store keeps for the port: the latency, clamped to what --latency-ms
        accepts (0..500), rounded to 0.1 ms."""
        return {
            "latency_ms": round(min(max(self.latency_ms, 0.0), MAX_LATENCY_MS), 1),
            "spread_ms": round(self.p90_ms - self.p10_ms, 2),
            "p10_ms": round(self.p10_ms, 2),
            "p90_ms": round(self.p90_ms, 2),
            "transport_ms": round(self.transport_ms, 2),
            "via": self.in_name,
            "api": self.api,
            "probes": len(self.device_ms),
            "measured": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        }

    def summary(self) -> str:
        """'latency 25.1 ms (spread p10-p90 24.8-25.4 ms, 24 probes, transport 0.7 ms)'."""
        lost = f", {self.lost} lost" if self.lost else ""
        return (
            f"latency {self.latency_ms:.1f} ms (spread p10-p90 {self.p10_ms:.1f}-"
            f"{self.p90_ms:.1f} ms, {len(self.device_ms)} probes{lost}, "
            f"transport {self.transport_ms:.1f} ms)"
        )


def _median(values: list[float]) -> float:
    return _percentile(values, 50)


def _percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def probe_dither_s(k: int) -> float:
    """How much later than ``k * gap`` probe ``k`` goes out: 0..DITHER_S, evenly spread."""
    return (k * _GOLDEN) % 1.0 * DITHER_S


def probe_on(k: int) -> tuple[int, int, int]:
    return (0x90 | PROBE_CHANNEL, k % 128, PROBE_VELOCITY)


def probe_off(k: int) -> tuple[int, int, int]:
    return (0x80 | PROBE_CHANNEL, k % 128, 0)


ALL_NOTES_OFF = (0xB0 | PROBE_CHANNEL, 123, 0)


def _echo_pitch(message: tuple[int, ...]) -> int | None:
    """The pitch of a probe's note-on coming back; None for anything else."""
    if len(message) == 3 and message[0] == 0x90 | PROBE_CHANNEL and message[2] > 0:
        return message[1]
    return None


def round_trips(
    send: Callable[[tuple[int, int, int]], None],
    poll: Callable[[], list[tuple[tuple[int, ...], int]]],
    count: int,
    gap_s: float = GAP_S,
    clock_ns: Callable[[], int] = time.perf_counter_ns,
    sleep: Callable[[float], None] = time.sleep,
    give_up: bool = True,
) -> list[float | None]:
    """Send ``count`` probes ``gap_s`` apart (each note-on's note-off follows OFF_AFTER_S
    later) and match what ``poll`` returns ``(message, t_ns)`` by pitch: each probe's round
    trip in ms, None if lost (no echo within MAX_WAIT_S). With ``give_up``, stops early
    when nothing at all came back GIVE_UP_S after the first probe."""
    sent_ns: list[int] = []
    back: dict[int, int] = {}

    def take() -> None:
        for message, t_ns in poll():
            pitch = _echo_pitch(message)
            if pitch is not None and pitch < len(sent_ns) and pitch not in back:
                if t_ns - sent_ns[pitch] <= MAX_WAIT_S * 1e9:
                    back[pitch] = t_ns

    def wait_until(t_ns: int) -> None:
        while True:
            take()
            left = (t_ns - clock_ns()) / 1e9
            if left <= 0:
                return
            sleep(min(left, 0.002))

    start = clock_ns()
    for k in range(count):
        wait_until(start + round((k * gap_s + probe_dither_s(k)) * 1e9))
        sent_ns.append(clock_ns())
        send(probe_on(k))
        wait_until(sent_ns[-1] + round(OFF_AFTER_S * 1e9))
        send(probe_off(k))
        if give_up and not back and clock_ns() - sent_ns[0] > GIVE_UP_S * 1e9:
            break
    deadline = sent_ns[-1] + round(MAX_WAIT_S * 1e9)
    while len(back) < len(sent_ns) and clock_ns() < deadline:
        wait_until(min(deadline, clock_ns() + round(0.01 * 1e9)))
    take()
    trips = [(back[k] - sent_ns[k]) / 1e6 if k in back else None for k in range(count)]
    return trips


def lost_error(in_name: str, out_name: str, came: int, sent: int) -> RtgenError:
    return RtgenError(
        f"no echo on --in '{in_name}' ({came} of {sent} probes sent to '{out_name}' came "
        "back): is --out's thru routed back?"
    )


def calibrate(
    out: str,
    inp: str,
    api: str | None = None,
    count: int = 24,
    gap_s: float = GAP_S,
) -> Calibration:
    """Measure through ``--out`` and back on ``--in`` (port patterns), then over a direct
    loopback on the same API. Every port is closed on every path; each probe's note-off and
    a CC123 on channel 16 are sent to ``--out`` even when interrupted. RtgenError (one line)
    when the ports cannot be opened or more than 20% of the probes do not come back."""
    from rtgen.io import ports

    if not MIN_COUNT <= count <= MAX_COUNT:
        raise RtgenError(f"--count must be {MIN_COUNT}..{MAX_COUNT}, not {count}")
    opened: list = []
    out_port = None
    sent_offs = [0]  # probes sent to out_port (their note-offs go out again at the end)
    try:
        out_port = ports.open_output(out, api, client_name="rtgen-calibrate-out")
        opened.append(out_port)
        in_port = ports.open_input(inp, out_port.api, client_name="rtgen-calibrate-in")
        opened.append(in_port)
        in_port.poll()  # nothing that came before the first probe

        def send_out(message: tuple[int, int, int]) -> None:
            out_port.send(message)
            if message[0] & 0xF0 == 0x90:
                sent_offs[0] += 1

        device = round_trips(send_out, in_port.poll, count, gap_s)
        came = [t for t in device if t is not None]
        if len(came) < (1 - MAX_LOST) * count:
            raise lost_error(in_port.name, out_port.name, len(came), count)

        # the direct loopback: rtgen's own virtual input, an output connected to it
        loop_in = ports.open_input(
            None,
            out_port.api,
            virtual=True,
            client_name="rtgen-calibrate-loop",
            virtual_name="loop in",
        )
        opened.append(loop_in)
        loop_out = ports.open_output(
            loop_in.own_name, out_port.api, client_name="rtgen-calibrate-loop-out"
        )
        opened.append(loop_out)
        time.sleep(0.05)  # the connection settles before the first probe
        loop_in.poll()
        direct = round_trips(loop_out.send, loop_in.poll, count, gap_s)
        direct_came = [t for t in direct if t is not None]
        if len(direct_came) < (1 - MAX_LOST) * count:
            raise RtgenError(
                f"the direct loopback over {out_port.api} lost {count - len(direct_came)} of "
                f"{count} probes: the MIDI system is overloaded; try again"
            )
        return Calibration(out_port.name, in_port.name, out_port.api, came, direct_came, count)
    finally:
        if out_port is not None and sent_offs[0]:
            with contextlib.suppress(Exception):
                _silence(out_port, sent_offs[0])
        for port in reversed(opened):
            with contextlib.suppress(Exception):
                port.close()


def _silence(port, probes: int) -> None:
    """Every probe's note-off again and CC123 on the probe channel."""
    for k in range(min(probes, 128)):
        port.send(probe_off(k))
    port.send(ALL_NOTES_OFF)
