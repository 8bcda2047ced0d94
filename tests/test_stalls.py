"""The canaries that tell a machine stall from rtgen's own lateness can see a stall, and do
not excuse what happened while the machine ran."""

from __future__ import annotations

import signal
import time

from rtgen.bench.stalls import MachineStalls


def test_a_stopped_machine_is_seen_and_excuses_only_what_it_covers() -> None:
    with MachineStalls() as stalls:
        time.sleep(0.2)
        t_stop = time.perf_counter()
        for proc, _ in stalls._procs:  # the host taking the CPUs, as a VM's canaries see it
            proc.send_signal(signal.SIGSTOP)
        time.sleep(0.03)
        for proc, _ in stalls._procs:
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.2)
    assert stalls.longest() >= 0.025, stalls.stalls
    assert stalls.over(t_stop, t_stop + 0.03) >= 0.025
    # 20 ms late, due inside the stall: the machine's; due 100 ms later: rtgen's own.
    assert stalls.excuses(t_stop + 0.005, 20.0, 5.0)
    assert not stalls.excuses(t_stop + 0.1, 20.0, 5.0)
    # a stall shorter than the lateness less the bound does not excuse it
    assert not stalls.excuses(t_stop + 0.005, 80.0, 5.0)


def test_one_busy_cpu_excuses_nothing() -> None:
    """Only one CPU's canary stalled: rtgen could have run on the other, so a late event in
    that window is rtgen's own; both stalled over it: the machine's."""
    stalls = MachineStalls()
    stalls.by_cpu = [[(10.0, 0.030)], []]
    stalls.stalls = [(10.0, 0.030)]
    assert stalls.over(10.0, 10.03) == 0.0 and not stalls.excuses(10.005, 20.0, 5.0)
    stalls.by_cpu = [[(10.0, 0.030)], [(10.010, 0.030)]]
    assert abs(stalls.over(9.9, 10.1) - 0.020) < 1e-9  # both stalled from 10.010 to 10.030
    assert stalls.excuses(10.012, 15.0, 5.0)
