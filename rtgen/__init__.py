"""rtgen: a real-time MIDI improvisation daemon."""

__version__ = "0.1.0"
