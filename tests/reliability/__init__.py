"""Reliability tests: the real `rtgen play` over a private JACK server (the ``rig`` fixture).

Short by default (CI: the whole folder in a few minutes); ``RTGEN_LONG=1`` runs the long
versions that docs/reliability.md's table quotes (100,000 fuzz messages, a 10 s flood, a
10 minute soak, ...). Every test prints the figure it measured; run with ``-s`` to see them.
"""
