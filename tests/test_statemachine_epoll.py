"""
The binding machine of L{epollreactor.contract.binding} on
L{epollreactor.epoll} beside C{select.epoll}: every step gives the same
result or raises the same exception type on both, and each side's
interest list, in the kernel's view, is what the calls asked for.
"""

import os
import platform
from typing import Any, Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epollreactor import EPOLLIN, EPOLLOUT, epoll
from epollreactor.contract import bindingMachine

pytestmark = [
    pytest.mark.requiresSelectEpoll,
    pytest.mark.skipif(
        platform.python_implementation() != "CPython",
        reason="the contract is CPython's select.epoll; PyPy's checks arguments "
        "in another order (modify(-1, 'x') raises TypeError, not ValueError) and "
        "its fromfd(-1) makes no new instance",
    ),
]

BindingMachine = bindingMachine(epoll)


class TestBindingMachine(BindingMachine.TestCase):  # type: ignore[name-defined]
    """
    Any sequence of C{epoll()}, C{fromfd}, C{register}, C{modify},
    C{unregister}, C{poll} and C{close} calls, on descriptors that become
    ready, full and closed, has the same results and raises the same
    exceptions on L{epollreactor.epoll} as on C{select.epoll}.
    """


def _oneProgram(test: Callable[[None], None]) -> Any:
    """
    Run C{test} once, as a Hypothesis example, where the machine's rules
    (which record notes and events) can be called one by one.
    """
    return settings(max_examples=1, database=None)(given(st.none())(test))


@pytest.fixture(params=["few", "manyWithAHole"])
def heldDescriptors(request: Any) -> Iterator[None]:
    """
    Run with the descriptors the test process holds, or with 160 more of
    which a low one is closed again, as a long test run leaves them: a new
    epoll object takes that hole, and then the numbers above all of them.
    """
    held = []
    if request.param == "manyWithAHole":
        held = [os.open(os.devnull, os.O_RDONLY) for _ in range(160)]
        os.close(held.pop(3))
    yield
    for number in held:
        os.close(number)


def test_aClosedSocketsNumberIsNotTakenByOneSidesNewEpoll(
    heldDescriptors: None,
) -> None:
    """
    A socket closed while a duplicate keeps its file open stays registered
    under its old number (epoll(7), Q6); an epoll object made afterwards
    does not take that number on one side only, so that both sides still
    name the ghost's events alike.
    """
    _socketGhostProgram()


@_oneProgram
def _socketGhostProgram(_: None) -> None:
    """
    The program of L{test_aClosedSocketsNumberIsNotTakenByOneSidesNewEpoll}.
    """
    machine = BindingMachine()
    try:
        machine.first()
        ghost = machine.descriptors[0][0]
        machine.register(0, ("fd", 0), EPOLLOUT)
        machine.fromfd(0, "socket")
        machine.closeDescriptor(0)
        machine.create(-1, 0)
        assert ghost not in [side.fileno() for side in machine.pairs[2]]
        machine.register(0, ("epoll", 2), EPOLLIN)
        machine.poll(0, -1)
    finally:
        machine.teardown()


@_oneProgram
def test_aClosedEpollsNumberIsNotTakenByANewEpoll(_: None) -> None:
    """
    An epoll object closed while a duplicate keeps its file open stays
    registered in another under its old number; an epoll object made
    afterwards takes neither side's old number.
    """
    machine = BindingMachine()
    try:
        machine.first()
        machine.register(0, ("fd", 0), EPOLLOUT)
        machine.fromfd(0, "epoll")
        machine.create(-1, 0)
        machine.register(2, ("epoll", 0), EPOLLIN)
        ghosts = [side.fileno() for side in machine.pairs[0]]
        machine.close(0)
        machine.create(-1, 0)
        assert not set(ghosts) & {side.fileno() for side in machine.pairs[3]}
        machine.register(2, ("epoll", 3), EPOLLIN)
        machine.poll(2, -1)
    finally:
        machine.teardown()
