"""Session logs (`rtgen play --log`) and their replay (`rtgen replay`) on a simulated clock.

The engine is deterministic given its inputs, its seed, its model and the clock values it
reads. So the live loop routes every call into the engine through :func:`apply`, and the log
records each call with the wall time it was made at and every clock value the engine read
while it ran (``RecordingClock``). Replay makes the same calls in the same order on a fresh
engine whose clock hands back the recorded values (``ReplayClock``): the planner sees the same
deadlines and the same "now", the sampler draws the same tokens, and the notes come out the
same. A replay that asks for a clock value the log does not hold has diverged and says so.

One JSON object a line. Times are nanoseconds relative to ``origin_ns`` (the timeline's beat
0 with rtgen's own clock); replay adds ``origin_ns`` back, so every number is the same.

    {"k": "header", "format": "rtgen-log-1", "seed": 7, "settings": {...},
     "model": "...", "model_sha256": "...", "origin_ns": ..., "clock": "internal"}
    {"k": "in", "t": 1234, "b": 0.5, "m": [144, 60, 96], "w": 1300, "r": [1310]}
    {"k": "x", "t": 1500, "m": [248], "why": "system"}  (seen, not given to the engine)
    {"k": "tick", "w": 2000, "r": [...]}                     (also: clk, halt, cut, panic,
    {"k": "stop", "w": 9000, "s": 8990}                       skip, endcall, memreset,
                                                              chordsgone, temp, mode)

``t``: arrival time of a message; ``b``: its beat; ``w``: when the call was made; ``r``: the
clock values the engine read during it; ``s`` (stop): every deadline up to it had been
sent. A log cut short (kill -9) replays up to its end.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rtgen.errors import RtgenError

FORMAT = "rtgen-log-1"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def apply(engine, scheduler, rec: dict, origin_ns: int) -> Any:
    """Make one logged call on ``engine`` (through its named operations only): the one place
    both live and replay go through."""
    kind = rec["k"]
    if kind == "in":
        return engine.on_message(tuple(rec["m"]), origin_ns + rec["t"], rec.get("h", False))
    if kind == "tick":
        return engine.tick(origin_ns + rec["w"])
    if kind == "clk":
        return engine.clock_message(tuple(rec["m"]), origin_ns + rec["t"])
    if kind == "cut":
        return engine.cut(origin_ns + rec.get("t", rec["w"]))
    if kind == "halt":  # the external clock stopped: plan afresh when it runs again
        return engine.halt(origin_ns + rec.get("t", rec["w"]))
    if kind in ("panic", "stop"):
        return scheduler.panic()
    if kind == "skip":
        engine.skip_to(rec["beat"])
    elif kind == "endcall":
        engine.end_call()
    elif kind == "tap":
        engine.tap(origin_ns + rec["t"])
    elif kind == "memreset":
        engine.reset_memory()
    elif kind == "chordsgone":
        engine.chord_keys_lost()
    elif kind == "temp":
        engine.set_temperature(rec["v"])
    elif kind == "mode":
        engine.set_mode(rec["v"])
    elif kind != "x":
        raise ValueError(f"unknown log record {kind!r}")
    return None


class RecordingClock:
    """A clock that, while a record is open, keeps every value read on the owner thread."""

    def __init__(self, base) -> None:
        self.base = base
        self.owner = threading.get_ident()
        self.reads: list[int] | None = None

    def now_ns(self) -> int:
        t = self.base.now_ns()
        if self.reads is not None and threading.get_ident() == self.owner:
            self.reads.append(t)
        return t

    def sleep_until(self, t_ns: int) -> None:
        self.base.sleep_until(t_ns)


class ReplayDiverged(RtgenError):
    exit_code = 1


class ReplayClock:
    """Hands back the clock values one record read live, in order."""

    def __init__(self) -> None:
        self._reads: deque[int] = deque()
        self.where = ""

    def load(self, reads: list[int], where: str) -> None:
        self._reads = deque(reads)
        self.where = where

    def left(self) -> int:
        return len(self._reads)

    def now_ns(self) -> int:
        if not self._reads:
            raise ReplayDiverged(f"replay diverged at {self.where}: one clock read too many")
        return self._reads.popleft()

    def sleep_until(self, t_ns: int) -> None:
        """Nothing: replay never waits."""


class SessionLog:
    """Writes the log: a header, then one record a line (buffered; flushed every second)."""

    def __init__(self, path: Path, header: dict) -> None:
        self.path = Path(path)
        try:
            self.file: IO[str] | None = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise RtgenError(f"--log {path}: cannot write ({exc.strerror})") from None
        self.records = 0
        self.write({"k": "header", "format": FORMAT, **header})

    def write(self, rec: dict) -> None:
        if self.file is not None:
            self.file.write(json.dumps(rec, separators=(",", ":")) + "\n")
            self.records += 1

    def flush(self) -> None:
        if self.file is not None:
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class LoggedCalls:
    """The live loop's calls into the engine, each through :func:`apply` and, with a log,
    written down with the wall time it was made at and the clock values the engine read."""

    def __init__(
        self,
        engine,
        scheduler,
        clock: RecordingClock,
        origin_ns: int,
        log: SessionLog | None,
    ) -> None:
        self.engine, self.scheduler, self.clock = engine, scheduler, clock
        self.origin, self.log = origin_ns, log
        self.busy = False  # the engine is running (a signal then interrupts it)

    def __call__(self, rec: dict, w: int) -> Any:
        """Make the call ``rec`` (made at ``w``, perf_counter_ns); the engine's answer."""
        rec["w"] = w - self.origin
        reads: list[int] | None = [] if self.log is not None else None
        self.clock.reads = reads
        self.busy = True
        try:
            result = apply(self.engine, self.scheduler, rec, self.origin)
        finally:
            self.busy = False
            self.clock.reads = None
        if self.log is not None and reads is not None:
            rec["r"] = [r - self.origin for r in reads]
            self.log.write(rec)
        return result


def read_log(path: Path) -> tuple[dict, list[dict]]:
    """(header, records); a torn last line (the process was killed) is left out."""
    path = Path(path)
    if not path.is_file():
        raise RtgenError(f"{path}: no such session log")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise RtgenError(f"{path}:{i + 1}: not a session log line") from None
    if not records or records[0].get("k") != "header" or records[0].get("format") != FORMAT:
        raise RtgenError(f"{path}: not an rtgen session log (no '{FORMAT}' header)")
    return records[0], records[1:]


@dataclass
class ReplayResult:
    player: list
    model: list
    calls: int
    inputs: int
    settings: Any
    seed: int
    # every message the replay sent, at its deadline: (CLOCK_MONOTONIC ns, message), the
    # live session's own clock (its origin is the log's), to judge live arrivals against
    sent: list = dataclasses.field(default_factory=list)


def _checked(header: dict, model: Path | None) -> tuple[Any, Path]:
    """The session's settings, and its model file (sha256 checked)."""
    from rtgen.config import PlaySettings

    fields = {f.name for f in dataclasses.fields(PlaySettings)}
    settings = PlaySettings(**{k: v for k, v in header["settings"].items() if k in fields})
    model_path = Path(model or header["model"])
    if not model_path.is_file():
        raise RtgenError(f"{model_path}: the session's model is not there; give --model")
    if sha256_of(model_path) != header["model_sha256"]:
        raise RtgenError(
            f"{model_path}: not the model this session played (sha256 differs); give --model"
        )
    return settings.validate(), model_path


class _ReplayRig:
    """The engine on a ReplayClock; the scheduler sends to a fake port at exact deadlines."""

    def __init__(self, header: dict, settings: Any, model_path: Path) -> None:
        from rtgen.engine.build import engine_config
        from rtgen.engine.clock import BeatClock, FakeClock
        from rtgen.engine.engine import Engine
        from rtgen.engine.memory import Memory
        from rtgen.engine.midiclock import MidiClockFollower
        from rtgen.engine.portproto import FakeOutputPort
        from rtgen.engine.scheduler import Scheduler
        from rtgen.sessions import open_session

        self.origin, self.seed = int(header["origin_ns"]), int(header["seed"])
        self.clock, self.port_clock = ReplayClock(), FakeClock(self.origin - 10**12)
        if header.get("clock") == "external":
            self.timeline = MidiClockFollower(settings.beats_per_bar)
        else:
            self.timeline = BeatClock(settings.bpm, settings.beats_per_bar, origin_ns=self.origin)
        self.port = FakeOutputPort("replay", clock=self.port_clock)
        self.scheduler = Scheduler(self.port, self.clock, flush_s=0.0)
        self.cfg = engine_config(settings, self.seed)
        session = open_session(model_path, "cpu")
        doc = header.get("memory")  # the session memory as the jam loaded it (--memory)
        memory = Memory.from_dict(doc) if doc else None
        self.engine = Engine(
            self.cfg, session, self.timeline, self.clock, self.scheduler, memory=memory
        )

    def send_due(self, until: int) -> None:
        """Everything due by ``until``, each at its own deadline (as the send thread does)."""
        while (due := self.scheduler.next_deadline()) is not None and due <= until:
            self.port_clock.set(max(self.port_clock.now_ns(), due))
            self.scheduler.run_due(due)
        self.port_clock.set(max(self.port_clock.now_ns(), until))

    def run(self, records: list[dict]) -> tuple[int, int]:
        """Make every logged call; (calls, inputs)."""
        calls = inputs = last_w = 0
        for i, rec in enumerate(records):
            if rec["k"] == "x":
                continue
            last_w = rec.get("w", last_w)
            # At the stop, only what the live send thread had sent: it was stopped first, so
            # a note due between its last run and the stop record was never sent.
            sent = rec.get("s") if rec["k"] == "stop" else None
            self.send_due(self.origin + (last_w if sent is None else min(sent, last_w)))
            self.port_clock.set(max(self.port_clock.now_ns(), self.origin + last_w))
            reads = [self.origin + r for r in rec.get("r", [])]
            self.clock.load(reads, f"record {i + 2} ({rec['k']})")
            apply(self.engine, self.scheduler, rec, self.origin)
            if self.clock.left():
                raise ReplayDiverged(f"replay diverged at {self.clock.where}: fewer clock reads")
            calls += 1
            inputs += rec["k"] == "in"
        if not records or records[-1]["k"] != "stop":  # cut short: end as play would have
            self.send_due(self.origin + last_w)
            self.scheduler.panic()
        return calls, inputs


def replay(path: Path, model: Path | None = None) -> ReplayResult:
    """Run a logged session again on a simulated clock; the notes it plays (in beats)."""
    from rtgen.engine.build import sent_to_notes
    from rtgen.events import Role

    header, records = read_log(path)
    if header.get("clock") == "link":  # the engine read beats from the session, not logged
        raise RtgenError(
            f"{path}: played with --clock link; a Link session's tempo and phase are not in"
            " the log, so it cannot be replayed yet"
        )
    try:
        settings, model_path = _checked(header, model)
        rig = _ReplayRig(header, settings, model_path)
    except (KeyError, TypeError, ValueError) as exc:  # a header edited or cut by hand
        raise RtgenError(
            f"{path}: malformed session log header ({type(exc).__name__}: {exc})"
        ) from None
    calls, inputs = rig.run(records)
    beat_at = rig.timeline.beat_at
    model_notes = sent_to_notes(rig.port.sent, beat_at, Role.MODEL, rig.cfg.out_channel)
    player = rig.engine.player_notes()
    return ReplayResult(player, model_notes, calls, inputs, settings, rig.seed, rig.port.sent)


def bar_aligned(player: list, model: list, beats_per_bar: int) -> list:
    """Both parts moved so the bar of the first note is bar 0 (as --record writes them)."""
    notes = player + model
    if not notes:
        return []
    origin = min(n.start for n in notes)
    shift = origin - (origin % beats_per_bar)
    return [dataclasses.replace(n, start=n.start - shift, end=n.end - shift) for n in notes]
