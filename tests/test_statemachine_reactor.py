"""
The reactor machine of L{epollreactor.contract} (whose docstring states
the rules and their reasons) on L{epollreactor.EPollReactor}: alone, with
descriptors closed and C{dup2}'d over behind its back and channels whose
callbacks change each other's interest; and beside Twisted's stock
C{EPollReactor}.  Our reactor must hold every rule, Twisted's and the
stricter ones.
"""

from typing import Any

import pytest

from epollreactor import EPollReactor
from epollreactor.contract import reactorMachine
from epollreactor.contract.machine import KINDS, READ, WRITE


def stockReactor() -> Any:
    """
    @return: Twisted's own C{EPollReactor} (imported here: it needs
        C{select.epoll}).
    """
    from twisted.internet.epollreactor import EPollReactor as Stock

    return Stock()


ReactorMachine = reactorMachine(EPollReactor)


class TestReactorMachine(ReactorMachine.TestCase):  # type: ignore[name-defined]
    """
    Any sequence of registrations, readiness changes, closes behind the
    reactor's back, C{dup2}s, reactions and iterations keeps
    L{EPollReactor} within Twisted's contract, the stricter checks and the
    kernel's view.
    """


@pytest.mark.requiresSelectEpoll
class TestDifferentialMachine(
    reactorMachine(EPollReactor, reference=stockReactor).TestCase  # type: ignore[misc]
):
    """
    Without closing behind the reactor's back, our reactor and Twisted's
    stock C{EPollReactor} report the same readers and writers, raise the
    same exceptions and dispatch the same calls, but for our early writes
    and our reads on hang-up.
    """


@pytest.mark.parametrize("remover, target", [("c1", "c2"), ("c2", "c1")])
def test_aPolledWriterRemovedDuringTheWritersPassMayStillBeCalled(
    remover: str, target: str
) -> None:
    """
    Twisted's continuous poller copies its writers after the readers' pass
    and calls every writer in the copy: a regular file that a reader's
    C{doRead} made a writer, and that another writer's C{doWrite} then
    removed, still gets its C{doWrite} in that pass when it comes later in
    the copy.  The machine judges the writers' pass by the writers when it
    began.  (Either channel removes the other, so that one of the two runs
    has the remover first in the poller's set.)
    """
    machine = ReactorMachine()
    try:
        machine.openFirst("regular")
        machine.open(0, 0, KINDS.index("regular"))
        machine.open(0, 0, KINDS.index("regular"))
        assert machine.channels == ["c0", "c1", "c2"]
        machine._add("c0", READ)
        machine._add(remover, WRITE)
        machine.reactions[("c0", "doRead")] = ("addWriter", target)
        machine.reactions[(remover, "doWrite")] = ("removeWriter", target)
        machine.iterate(0, 0, 0)
        assert ("c0", "doRead") in machine.ours.calls
        assert not machine.judge.violations, machine.judge.violations
    finally:
        machine.teardown()
