"""
The stricter check C{lost-within-bound} (L{epollreactor.contract.lost}) on
L{EPollReactor}: any program of registrations, closes and C{dup2}s behind
its back, reactions and iterations gives every lost registration's object
C{connectionLost} within a second of the reactor's clock, and never reads
or writes the file its number names now on its behalf.
"""

import os
import socket

from epollreactor import EPollReactor
from epollreactor.contract.lost import LOST_BOUND, lostMachine
from epollreactor.contract.machine import READ

LostMachine = lostMachine(EPollReactor)


class TestLostMachine(LostMachine.TestCase):  # type: ignore[name-defined]
    """
    L{EPollReactor} holds C{lost-within-bound}, with every other rule.
    """


def test_aReactorThatNeverChecksBreaksTheRule() -> None:
    """
    The machine catches a reactor that does not look for lost
    registrations: ours with its checks' clock stopped, given a reader whose
    number is closed and taken by another socket behind its back, still
    lists it after more than L{LOST_BOUND} of the reactor's time.
    """
    machine = LostMachine()
    try:
        table = machine.ours.reactor._registrations
        table.clock = lambda: 0.0
        machine.openFirst("socketpair")
        machine._add("c0", READ)
        machine.iterate(0, 0, 0)
        number = machine.ours.channels["c0"].number
        left, right = socket.socketpair()
        machine.world.close(number)
        os.dup2(left.fileno(), number)
        left.close()
        for _ in range(int(LOST_BOUND) + 2):
            machine.iterate(0, 0, 0)
        broken = [rule for rule, _, _ in machine.judge.violations]
        assert "lost-within-bound" in broken, machine.judge.violations
        os.close(number)
        right.close()
    finally:
        machine.teardown()
