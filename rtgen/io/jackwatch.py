"""Notice that the JACK server went away (killed, crashed, SIGTERM).

python-rtmidi gives no word of it: its clients keep running, deaf and mute, and the outside
run of issue 17 saw rtgen go on for good with nothing but libjack's "Server is not running"
lines. A small client of rtgen's own, opened with libjack through ctypes, asks JACK for its
shutdown callback: JACK calls it within milliseconds of the server's end (7 ms measured on
the dummy driver, server SIGKILLed).

Reconnecting in the same process cannot work: measured here (server SIGKILLed, started
again under the same name), a dead server's rtmidi clients go on listing their old ports
(why rtgen saw no port loss), and new rtmidi clients made in that process afterwards find no
server at all, even with the old ones closed and deleted first and seconds after the server
is back; only a fresh process connects. So `rtgen play` says so on one line, shuts its jam
down and starts itself again (rtgen/io/jackrestart.py: the new process waits for the server
and the ports), or, with --exit-on-server-loss, exits with EXIT_SERVER_LOST for a
supervisor.

    watch = JackWatch.open()      # None: no libjack, or no server (then nothing to watch)
    if watch is not None and watch.lost: ...
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import logging
import time

log = logging.getLogger("rtgen.play")
EXIT_SERVER_LOST = 3  # rtgen play's exit code when the JACK server went away
_NO_START_SERVER = 1  # JackNoStartServer: never start a server just to watch it
_SHUTDOWN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


@functools.cache
def libjack() -> ctypes.CDLL | None:
    """libjack through ctypes, its signatures declared (loaded once); None without it."""
    path = ctypes.util.find_library("jack")
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    lib.jack_client_open.restype = ctypes.c_void_p
    lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.jack_on_shutdown.argtypes = [ctypes.c_void_p, _SHUTDOWN, ctypes.c_void_p]
    lib.jack_activate.argtypes = [ctypes.c_void_p]
    lib.jack_client_close.argtypes = [ctypes.c_void_p]
    lib.jack_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.jack_connect.restype = ctypes.c_int
    return lib


def open_client(lib: ctypes.CDLL, name: str) -> int | None:
    """A client of the running server (never starting one), or None when none answers."""
    status = ctypes.c_int(0)
    return lib.jack_client_open(name.encode(), _NO_START_SERVER, ctypes.byref(status)) or None


class JackWatch:
    def __init__(self, lib, client: int) -> None:
        self._lib, self._client = lib, client
        self.lost_at: float | None = None  # perf_counter when the server's end was seen
        self._callback = _SHUTDOWN(self._on_shutdown)  # kept: JACK holds a pointer to it
        lib.jack_on_shutdown(client, self._callback, None)
        lib.jack_activate(client)

    @classmethod
    def open(cls, name: str = "rtgen-watch") -> JackWatch | None:
        try:
            lib = libjack()
            client = open_client(lib, name) if lib is not None else None
        except (OSError, AttributeError) as exc:
            log.debug("no JACK watch: %s", exc)
            return None
        return cls(lib, client) if client else None

    def connect(self, source: str, destination: str) -> str:
        """Wire two ports by their full names: "made" (they were not wired), "there" (they
        were), or "failed" (a port is missing, or the server refused)."""
        if not self._client or self.lost:
            return "failed"
        rc = self._lib.jack_connect(self._client, source.encode(), destination.encode())
        return "made" if rc == 0 else "there" if rc == errno.EEXIST else "failed"

    def _on_shutdown(self, _arg) -> None:  # JACK's thread: set a flag, nothing more
        self.lost_at = time.perf_counter()

    @property
    def lost(self) -> bool:
        return self.lost_at is not None

    def close(self) -> None:
        """Close the watch client (not after the server died: there is nothing to close)."""
        if self._client and not self.lost:
            self._lib.jack_client_close(self._client)
        self._client = 0
