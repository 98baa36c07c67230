"""
The stricter check C{lost-within-bound} (L{epollreactor.contract.lost}) on
L{EPollReactor}: any program of registrations, closes and C{dup2}s behind
its back, reactions and iterations gives every lost registration's object
C{connectionLost} within a second of the reactor's clock, and never reads
or writes the file its number names now on its behalf.
"""

from epollreactor import EPollReactor
from epollreactor.contract.lost import LOST_BOUND, lostMachine

LostMachine = lostMachine(EPollReactor)


class TestLostMachine(LostMachine.TestCase):  # type: ignore[name-defined]
    """
    L{EPollReactor} holds C{lost-within-bound}, with every other rule.
    """


def test_aReactorThatNeverChecksBreaksTheRule() -> None:
    """
    The machine catches a reactor that does not look for lost
    registrations: ours with its checks' clock stopped, given a reader whose
    number is then C{dup2}'d over behind its back, still lists it after
    more than L{LOST_BOUND} of the reactor's time.
    """
    machine = LostMachine()
    try:
        machine.ours.reactor._registrations.clock = lambda: 0.0
        machine.openFirst("socketpair")
        machine.takeStep(("add", 0, 0, 0))
        machine.takeStep(("iterate", 0, 0, 0))
        machine.takeStep(("dup2Onto", 0, 0, 0))
        assert "c0" in machine.lostSince
        for _ in range(int(LOST_BOUND) + 2):
            machine.takeStep(("iterate", 0, 0, 0))
        broken = [rule for rule, _, _ in machine.judge.violations]
        assert "lost-within-bound" in broken, machine.judge.violations
    finally:
        machine.teardown()
