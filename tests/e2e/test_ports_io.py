"""rtgen's MIDI ports (open_output, open_input, hot-plug) and `rtgen panic` on real JACK ports.

The peers are other JACK clients made with rtmidi (tests/support/peers.py, the ``synth`` and
``keyboard`` fixtures): a synth (an input port that records) and a keyboard (an output port).
The synth reads rtmidi's own queue rather than a Python callback: a callback holds the GIL on
JACK's process thread and cannot keep up with a 2,000-message panic in one period.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest
import rtmidi

from rtgen.bench.stalls import MachineStalls
from rtgen.engine.portproto import OutputPort, PortVanishedError
from rtgen.errors import RtgenError
from rtgen.io.ports import open_input, open_output
from rtgen.io.ports_rtmidi import MidiInput, MidiOutput
from tests.support.jack import jack_ports
from tests.support.peers import KBD_PORT, SYNTH_PORT, Keyboard, Synth
from tests.support.play import run_rtgen


def _wait_for(condition: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_open_output_delivers_messages_in_order(synth: Synth) -> None:
    """Messages sent to an opened output arrive at the synth complete and in send order."""
    sent = [(0x90 | ch, p, 1 + p % 127) for ch in range(4) for p in range(128)]
    sent += [(0x80 | ch, p, 0) for ch in range(4) for p in range(128)]
    with open_output("rtgenTestSynth", "jack") as out:
        assert isinstance(out, OutputPort)
        assert out.name == SYNTH_PORT and out.api == "jack"
        for message in sent:
            out.send(message)
        assert synth.collect(len(sent)) == sent


def test_close_flushes_what_was_just_sent(synth: Synth) -> None:
    """Messages sent right before close() still arrive; a second close() does nothing."""
    out = open_output(SYNTH_PORT, "jack")
    sent = [(0xB0, 7, v) for v in range(40)]
    for message in sent:
        out.send(message)
    out.close()
    out.close()
    assert synth.collect() == sent
    with pytest.raises(PortVanishedError, match="closed"):
        out.send((0x90, 60, 100))


def test_open_input_stamps_messages_with_perf_counter_ns(keyboard: Keyboard) -> None:
    """Each message comes as (bytes tuple, perf_counter_ns on arrival), in order, via get()."""
    with open_input("rtgenTestKbd", "jack") as inp:
        assert inp.name == KBD_PORT
        before = time.perf_counter_ns()
        keyboard.send((0x90, 60, 100), (0x80, 60, 0))
        first = inp.get(timeout=2)
        second = inp.get(timeout=2)
        after = time.perf_counter_ns()
        assert first is not None and second is not None
        assert [first[0], second[0]] == [(0x90, 60, 100), (0x80, 60, 0)]
        assert before <= first[1] <= second[1] <= after
        assert inp.get(timeout=0.05) is None
        assert inp.dropped == 0


def test_open_input_passes_clock_but_not_sysex_or_active_sensing(keyboard: Keyboard) -> None:
    """MIDI clock and transport reach the queue (to follow a DAW); SysEx and 0xFE do not."""
    with open_input("rtgenTestKbd", "jack") as inp:
        keyboard.send((0xFA,), (0xF8,), (0xF0, 0x7E, 0x01, 0xF7), (0xFE,), (0x90, 64, 90))
        got: list[tuple[int, ...]] = []
        assert _wait_for(lambda: got.extend(m for m, _ in inp.poll()) or len(got) >= 3)
        time.sleep(0.05)
        got.extend(m for m, _ in inp.poll())
        assert got == [(0xFA,), (0xF8,), (0x90, 64, 90)]


def test_input_stamps_are_arrival_times_not_poll_times(keyboard: Keyboard) -> None:
    """Stamps come from rtmidi's arrival times (JACK's thread), not from when the reader
    polled: with a reader that polls only every 50 ms, each note is still stamped within a
    few ms after it was sent. SysEx and active sensing in between (discarded) must not
    take their time gaps with them."""
    with MidiInput("rtgenTestKbd", "jack", poll_s=0.05) as inp, MachineStalls() as stalls:
        for k in range(120):  # a message a millisecond: some land right before a poll
            keyboard.send((0xB0, 1, k))
            time.sleep(0.001)
        sent = []
        for pitch in range(60, 66):
            for filler in ((0xFE,), (0xF0, 0x7E, 0x01, 0xF7), (0xFE,)):
                keyboard.send(filler)
                time.sleep(0.01)
            sent.append(time.perf_counter_ns())
            keyboard.send((0x90, pitch, 100))
            time.sleep(0.017)
        time.sleep(0.12)
        got = {m[1]: t for m, t in inp.poll() if m[0] == 0x90}
    lags = [(got[pitch] - t) / 1e6 for pitch, t in zip(range(60, 66), sent)]
    stamps = [got[pitch] / 1e9 for pitch in range(60, 66)]
    own, _ = stalls.judge(stamps, lags, 5.0)  # a VM host's stall in between is not rtgen's
    assert all(lag >= -0.1 for lag in lags) and not own, f"stamp - send, ms: {lags}; {own}"


def test_full_input_queue_drops_oldest_and_counts(keyboard: Keyboard) -> None:
    """With more messages than queue_size waiting, the newest are kept and the rest counted."""
    with open_input("rtgenTestKbd", "jack", queue_size=8) as inp:
        keyboard.send(*[(0x90, p, 100) for p in range(20)])
        assert _wait_for(lambda: inp.dropped == 12)
        time.sleep(0.05)
        assert [m[1] for m, _ in inp.poll()] == list(range(12, 20))
        assert inp.dropped == 12
        assert inp.poll() == []


CLOSE_WHILE_FLOODED = """
import sys, time
from rtgen.io.ports import open_input
for _ in range(20):
    inp = open_input("rtgenTestKbd", "jack")
    time.sleep(0.01)
    inp.reconnect()
    time.sleep(0.01)
    inp.close()
print("ok")
"""


def test_input_closes_and_reconnects_safely_while_flooded(keyboard: Keyboard) -> None:
    """Opening, reconnecting and closing an input while messages pour in never crashes or
    hangs (a Python rtmidi callback did both)."""
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            keyboard.send((0xF8,), (0x90, 60, 1))
            time.sleep(0.0005)

    sender = threading.Thread(target=flood)
    sender.start()
    try:
        result = subprocess.run(
            [sys.executable, "-c", CLOSE_WHILE_FLOODED],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop.set()
        sender.join()
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_send_racing_close_raises_instead_of_crashing(synth: Synth) -> None:
    """A send on another thread while close() runs either goes out or raises PortVanishedError."""
    out = open_output("rtgenTestSynth", "jack")
    outcomes: collections.Counter = collections.Counter()

    def blast() -> None:
        while True:
            try:
                out.send((0x90, 60, 1))
                outcomes["sent"] += 1
            except PortVanishedError:
                outcomes["refused"] += 1
                return

    sender = threading.Thread(target=blast)
    sender.start()
    time.sleep(0.02)
    out.close()
    sender.join(timeout=5)
    assert not sender.is_alive()
    assert outcomes["sent"] > 0 and outcomes["refused"] == 1


def test_virtual_ports_appear_in_jack_lsp_and_can_be_connected(synth: Synth) -> None:
    """Virtual ports are listed as 'rtgen:...'; one wired up outside rtgen (as a DAW would)
    carries messages; closing removes it."""
    with open_output(None, "jack", virtual=True) as out:
        assert out.name == "rtgen:rtgen out"
        assert "rtgen:rtgen out" in jack_ports()
        assert out.is_present()
        wired = subprocess.run(["jack_connect", "rtgen:rtgen out", SYNTH_PORT], timeout=10)
        assert wired.returncode == 0
        out.send((0x90, 61, 80))
        assert synth.collect(1) == [(0x90, 61, 80)]
    assert "rtgen:rtgen out" not in jack_ports()
    with open_input(None, "jack", virtual=True) as inp:
        assert inp.name == "rtgen:rtgen in"
        assert "rtgen:rtgen in" in jack_ports()
    assert "rtgen:rtgen in" not in jack_ports()


def test_output_vanishes_with_its_peer_and_reconnects_when_it_returns(synth: Synth) -> None:
    """is_present() turns False when the synth quits (then send raises), and reconnect()
    works once a synth of that name is back."""
    out = open_output("rtgenTestSynth", "jack")
    try:
        assert out.is_present()
        synth.delete()
        assert _wait_for(lambda: not out.is_present())
        assert out.vanished
        with pytest.raises(PortVanishedError, match="vanished"):
            out.send((0x90, 60, 100))
        with pytest.raises(PortVanishedError, match="no MIDI output matches 'rtgenTestSynth'"):
            out.reconnect()
        synth.start()  # the synth restarts under the same name
        assert _wait_for(out.is_present)
        out.reconnect()
        assert not out.vanished and out.name == SYNTH_PORT
        out.send((0x90, 62, 100))
        assert synth.collect(1) == [(0x90, 62, 100)]
    finally:
        out.close()


def test_input_vanishes_with_its_peer_and_reconnects_when_it_returns(keyboard: Keyboard) -> None:
    """is_present() turns False when the keyboard quits; after reconnect() messages arrive."""
    with open_input("rtgenTestKbd", "jack") as inp:
        keyboard.delete()
        assert _wait_for(lambda: not inp.is_present())
        with pytest.raises(PortVanishedError):
            inp.reconnect()
        keyboard.start()
        assert _wait_for(inp.is_present)
        inp.reconnect()
        keyboard.send((0x90, 67, 70))
        item = inp.get(timeout=2)
        assert item is not None and item[0] == (0x90, 67, 70)


def test_open_output_without_a_match_lists_the_outputs(synth: Synth) -> None:
    """A pattern that names no output is a one-line RtgenError that lists what exists."""
    with pytest.raises(RtgenError) as info:
        open_output("NoSuchSynth", "jack")
    message = str(info.value)
    assert "\n" not in message
    assert "no MIDI output matches 'NoSuchSynth'" in message and SYNTH_PORT in message


def _kinds(messages: list[tuple[int, ...]]) -> collections.Counter:
    """Counts by ('off', channel, pitch) for note-offs and ('cc', channel, number, value)."""
    counts: collections.Counter = collections.Counter()
    for m in messages:
        if m[0] & 0xF0 == 0x80:
            counts[("off", m[0] & 0x0F, m[1])] += 1
        elif m[0] & 0xF0 == 0xB0:
            counts[("cc", m[0] & 0x0F, m[1], m[2])] += 1
        else:
            counts[("other", m)] += 1
    return counts


def test_panic_sends_every_note_off_then_sustain_off_and_all_notes_off(synth: Synth) -> None:
    """`rtgen panic` delivers exactly one note-off per channel and pitch, then CC64=0 and CC123
    on each of the 16 channels, prints one line and exits 0."""
    result = run_rtgen("panic", "--out", "rtgenTestSynth", "--api", "jack")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
    assert "2048 note-offs" in result.stdout and SYNTH_PORT in result.stdout
    got = synth.collect(2048 + 32)
    assert len(got) == 2048 + 32 and synth.collect(timeout_s=0.3) == []
    expected = collections.Counter({("off", ch, p): 1 for ch in range(16) for p in range(128)})
    for ch in range(16):
        expected[("cc", ch, 64, 0)] = 1
        expected[("cc", ch, 123, 0)] = 1
    assert _kinds(got) == expected
    assert all(m[0] & 0xF0 == 0x80 for m in got[:2048])  # note-offs first, then the CCs


def test_panic_hard_adds_all_sound_off(synth: Synth) -> None:
    """With --hard, each channel also gets CC120 (all sound off)."""
    result = run_rtgen("panic", "--out", "rtgenTestSynth", "--api", "jack", "--hard")
    assert result.returncode == 0, result.stderr
    got = synth.collect(2048 + 48)
    assert synth.collect(timeout_s=0.3) == []
    kinds = _kinds(got)
    assert sum(kinds.values()) == 2048 + 48
    assert all(kinds[("cc", ch, 120, 0)] == 1 for ch in range(16))
    assert all(kinds[("cc", ch, 64, 0)] == 1 and kinds[("cc", ch, 123, 0)] == 1 for ch in range(16))


def test_panic_channel_option_limits_the_channels(synth: Synth) -> None:
    """--channel (repeatable, 1-based) restricts the panic to those channels."""
    result = run_rtgen("panic", "--out", "rtgenTestSynth", "--api", "jack", "-c", "1", "-c", "10")
    assert result.returncode == 0, result.stderr
    got = synth.collect(2 * 128 + 4)
    assert synth.collect(timeout_s=0.3) == []
    assert {m[0] & 0x0F for m in got} == {0, 9}
    assert len(got) == 2 * 128 + 4


def test_panic_without_a_match_is_one_line_error_listing_ports(synth: Synth) -> None:
    """`rtgen panic --out NoSuchSynth` exits 2 with one stderr line that lists the outputs."""
    result = run_rtgen("panic", "--out", "NoSuchSynth", "--api", "jack")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rtgen: error: no MIDI output matches 'NoSuchSynth'")
    assert SYNTH_PORT in lines[0]
    assert synth.collect(timeout_s=0.3) == []


def test_an_input_never_matches_this_process_own_output(synth: Synth) -> None:
    """rtgen's own output port is listed among the inputs too; `--in rtgen` must not wire
    rtgen to itself: the own port is left out of the match; another client's is not."""
    with open_output(None, "jack", virtual=True):
        assert "rtgen:rtgen out" in jack_ports()
        with pytest.raises(RtgenError, match="no MIDI input matches 'rtgen out'") as err:
            open_input("rtgen out", "jack", client_name="rtgenOwnTest")
        assert "rtgen:rtgen out" not in str(err.value)  # not even listed
    peer = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="rtgenPeer")
    peer.open_virtual_port("rtgen out")  # another program's port of the same name matches
    try:
        inp = open_input("rtgen out", "jack", client_name="rtgenOwnTest2")
        assert inp.name == "rtgenPeer:rtgen out"
        inp.close()
    finally:
        peer.close_port()
        peer.delete()


def _peer_port(client: str, port: str) -> rtmidi.MidiOut:
    """Another program's virtual output (e.g. a first rtgen's 'rtgen-out:rtgen out')."""
    peer = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=client)
    peer.open_virtual_port(port)
    return peer


def _delete(peer: rtmidi.MidiOut) -> None:
    peer.close_port()
    peer.delete()


def test_a_second_rtgen_virtual_ports_are_named_as_jack_renamed_them(jack_server: str) -> None:
    """While another program holds 'rtgen-out' and 'rtgen-in' (a first `rtgen play
    --virtual`), our virtual ports' names are the ones JACK gave ('rtgen-out-01:rtgen out'),
    as listed, and no temporary name is left behind."""
    # Both peers are outputs: only their client names matter here, and rtmidi's JACK input
    # unregisters its port while JACK's thread may still read it (with a peer input, this
    # test segfaulted in its close once in 40 runs); its output waits for a cycle's end first.
    peers = [
        _peer_port("rtgen-out", "rtgen out"),
        _peer_port("rtgen-in", "rtgen in"),
    ]
    try:
        with (
            open_output(None, "jack", virtual=True, client_name="rtgen-out") as out,
            open_input(None, "jack", virtual=True, client_name="rtgen-in") as inp,
        ):
            listed = jack_ports()
            assert out.name == out.own_name == "rtgen-out-01:rtgen out", listed
            assert inp.name == inp.own_name == "rtgen-in-01:rtgen in", listed
            assert {out.name, inp.name, "rtgen-out:rtgen out"} <= set(listed)
            assert not [name for name in listed if "~" in name], listed
    finally:
        for peer in peers:
            _delete(peer)


def test_an_input_matches_another_rtgen_output_but_not_its_own(synth: Synth) -> None:
    """`--in rtgen-out` connects to another rtgen's output ('rtgen-out:rtgen out') although
    this process's own output has the same client name (JACK named it 'rtgen-out-01'); when
    only the own one matches, the error says that rtgen's own output is left out."""
    other = _peer_port("rtgen-out", "rtgen out")  # another rtgen's output
    try:
        with open_output("rtgenTestSynth", "jack", client_name="rtgen-out") as out:
            assert out.own_name == "rtgen-out-01:rtgen out" and out.name == SYNTH_PORT
            with open_input("rtgen-out", "jack", client_name="rtgen-in") as inp:
                assert inp.name == "rtgen-out:rtgen out"
                other.send_message((0x90, 60, 100))
                assert inp.get(timeout=2.0)[0] == (0x90, 60, 100)
            _delete(other)
            other = None
            with pytest.raises(RtgenError) as err:
                open_input("rtgen-out", "jack", client_name="rtgen-in")
            message = err.value.format_message()
            assert message.startswith("no MIDI input matches 'rtgen-out' but this rtgen's own")
            assert "rtgen-out-01" not in message  # the own port is not offered
    finally:
        if other is not None:
            _delete(other)


def test_a_port_waited_for_is_looked_for_on_one_client(jack_server: str, monkeypatch) -> None:
    """With ``waiting`` (rtgen play after a server restart), an input or output not there
    yet is waited for: ``waiting`` is called at each look, the port opens once the peer
    comes, and every look is made through the one client (a client opened and closed per
    look can leave the peer's client never scheduled; rtgen/io/ports_rtmidi.py)."""
    made = []
    for cls in (MidiInput, MidiOutput):

        def counted(self, rtapi, make=cls._make):
            made.append(1)
            return make(self, rtapi)

        monkeypatch.setattr(cls, "_make", counted)
    late: list = []
    for opener, peer, name in (
        (open_input, Keyboard, "rtgenLateKbd"),
        (open_output, Synth, "rtgenLateSynth"),
    ):
        made.clear()
        looks = []
        timer = threading.Timer(0.7, lambda peer=peer, name=name: late.append(peer(name)))
        timer.start()
        try:

            def look(looks=looks) -> None:
                looks.append(1)
                assert len(looks) < 50, "the late peer never came (10 s)"  # never hang CI

            with opener(name, "jack", waiting=look) as port:
                timer.join()
                assert port.name == late[-1].port
                assert len(looks) >= 2 and len(made) == 1, (name, looks, made)
                if opener is open_input:
                    late[-1].send([0x90, 61, 100])
                    assert _wait_for(lambda: any(m[:2] == (0x90, 61) for m, _ in port.poll()))
                else:
                    port.send((0x90, 62, 100))
                    assert late[-1].collect(1) == [(0x90, 62, 100)]
        finally:
            timer.join()
            for p in late:
                p.delete()
            late.clear()
    with pytest.raises(RtgenError, match="^no MIDI input matches"):  # without: an error
        open_input("rtgenNoSuchKbd", "jack")
