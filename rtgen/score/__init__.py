"""`rtgen score`: rtgen's answers to real calls, judged by the metrics in docs/score.md,
next to baselines on the same calls (copy, random-in-key, the n-gram through the same
engine, and the truth).

    line.py       the melodic line of a part (the highest sounding note at each moment)
    calls.py      two-bar calls and their true next two bars, cut from MIDI files
    answers.py    answers through the real engine offline, with rtgen play's defaults
    baselines.py  copy and random-in-key
    metrics.py    the metrics: pure functions on note lists
    nll.py        bits per token of the truth given the call
    runner.py     all of it over calls and seeds, aggregated per system
"""
