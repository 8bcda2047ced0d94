"""Make sure each JACK port rtgen opened is wired to the port it opened it to.

rtmidi opens a port on JACK by connecting ours to the peer's, and never checks that the
connection was made (RtMidi's ``openPort`` ignores ``jack_connect``'s result). After a
server restart, with the peers' clients coming up at the same moment, once in about twelve
asynchronous runs of tests/reliability/test_server_restart.py it was not: ``jack_lsp -c``
showed ``rtgen-out:rtgen out`` with no connection while rtgen's input was wired, and rtgen
played its answers into nothing. So the jam's watch client (rtgen/io/jackwatch.py) checks
each opened port's cable once, and again after any reconnect, and makes it when it is
missing. A cable the user pulls later in a patchbay is left pulled.

    wiring = Wiring(watch, [out_port, in_port])
    wiring.check(reconnects)        # in the loop's port checks
"""

from __future__ import annotations

import logging

from rtgen.io.jackwatch import JackWatch

log = logging.getLogger("rtgen.play")


class Wiring:
    """The cables of ``ports`` (rtgen's JACK ports opened to a peer, not virtual ones)."""

    def __init__(self, watch: JackWatch | None, ports: list) -> None:
        self.watch = watch
        self.ports = [
            p
            for p in ports
            if p is not None and getattr(p, "api", None) == "jack" and not p.virtual
        ]
        self._seen: dict[int, tuple[str, str, int]] = {}  # port -> the cable found, when
        self.made = 0  # cables that were missing and were made

    def check(self, reconnects: int) -> None:
        """Each port's cable, once per (its names, the jam's reconnect count): made if it
        is missing; one that cannot be made yet (the peer away) is tried at the next check."""
        if self.watch is None:
            return
        for port in self.ports:
            key = (port.own_name, port.name, reconnects)
            if self._seen.get(id(port)) == key:
                continue
            if port.kind == "output":
                source, destination = port.own_name, port.name
            else:
                source, destination = port.name, port.own_name
            result = self.watch.connect(source, destination)
            if result == "made":
                self.made += 1
                log.warning("%s was not wired to %s: wired now", port.own_name, port.name)
            if result != "failed":
                self._seen[id(port)] = key
