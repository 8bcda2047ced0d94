"""rtgen/io/jackwiring.py: which ports' cables are checked, when, and what is made."""

from __future__ import annotations

from dataclasses import dataclass

from rtgen.io.jackwiring import Wiring


@dataclass
class Port:
    own_name: str
    name: str
    kind: str
    api: str = "jack"
    virtual: bool = False


class Watch:
    """A fake JackWatch: cables it has; ports it cannot reach yet ("failed")."""

    def __init__(self, wired=(), unreachable=()) -> None:
        self.wired, self.unreachable, self.calls = set(wired), set(unreachable), []

    def connect(self, source: str, destination: str) -> str:
        self.calls.append((source, destination))
        if source in self.unreachable or destination in self.unreachable:
            return "failed"
        if (source, destination) in self.wired:
            return "there"
        self.wired.add((source, destination))
        return "made"


OUT = Port("rtgen-out:rtgen out", "Synth:in", "output")
IN = Port("rtgen-in:rtgen in", "Kbd:out", "input")


def test_a_missing_cable_is_made_once_in_the_direction_of_the_port() -> None:
    watch = Watch(wired=[("Kbd:out", "rtgen-in:rtgen in")])
    wiring = Wiring(watch, [OUT, IN, None])
    wiring.check(0)
    assert watch.calls == [("rtgen-out:rtgen out", "Synth:in"), ("Kbd:out", "rtgen-in:rtgen in")]
    assert wiring.made == 1
    wiring.check(0)  # checked: not again (a cable pulled later in a patchbay stays pulled)
    assert len(watch.calls) == 2


def test_a_peer_not_reachable_yet_is_tried_again_and_a_reconnect_checks_again() -> None:
    watch = Watch(unreachable={"Synth:in"})
    wiring = Wiring(watch, [OUT])
    wiring.check(0)
    wiring.check(0)
    assert len(watch.calls) == 2 and wiring.made == 0
    watch.unreachable.clear()
    wiring.check(0)
    assert wiring.made == 1
    watch.wired.clear()  # the peer came back after a reconnect, unwired
    wiring.check(1)
    assert wiring.made == 2


def test_virtual_and_non_jack_ports_and_no_watch_are_left_alone() -> None:
    watch = Watch()
    virtual, alsa = Port("a:b", "a:b", "output", virtual=True), Port("x", "y", "input", "alsa")
    Wiring(watch, [virtual, alsa]).check(0)
    Wiring(None, [OUT]).check(0)
    assert watch.calls == []
