"""What the tests share: a private JACK server, test MIDI peers, `rtgen` as a subprocess.

- :mod:`tests.support.jack`: the JACK dummy server behind the ``jack_server`` fixture, and
  the ``jack`` marker for every test that uses it.
- :mod:`tests.support.peers`: a test keyboard and a test synth on JACK (:class:`Keyboard`,
  :class:`Synth`), and note counting on what the synth got.
- :mod:`tests.support.play`: `rtgen play` as a subprocess (:class:`Rtgen`) between the two
  peers (:class:`Rig`, the ``rig`` fixture), and the helpers the timing tests share.
- :mod:`tests.support.checkpoints`: small checkpoints of both model kinds.

The fixtures themselves are in ``tests/conftest.py``, so every test folder sees the same ones.
"""
