"""
The stricter check C{lost-within-bound} (L{epollreactor.contract.lost}) on
L{EPollReactor}: any program of registrations, closes and C{dup2}s behind
its back, reactions and iterations gives every lost registration's object
C{connectionLost} within a second of the reactor's clock, and never reads
or writes the file its number names now on its behalf; alone, and beside
more registrations than checks made one by one at 1,000 a second (the
design before the sweep's C{EPOLL_CTL_ADD}) reach in a second.  Then the
same for real descriptors, a number closed and C{dup2}'d onto among more
than a thousand registrations.
"""

import errno
import os
import socket
from typing import Iterator, List, Optional

import pytest
from hypothesis import settings
from twisted.python.failure import Failure

from epollreactor import EPollReactor
from epollreactor._registrations import WATCH_PERIOD, WATCH_WAKE
from epollreactor.contract.lost import LOST_BOUND, lostMachine
from epollreactor.contract.shrink import replay
from tests.kernel import interestList

LostMachine = lostMachine(EPollReactor)

#: More registrations than checks made one by one at 1,000 a second reach
#: within L{LOST_BOUND}.
MANY = 1200

LostMachineBesideMany = lostMachine(EPollReactor, beside=MANY)


class TestLostMachine(LostMachine.TestCase):  # type: ignore[name-defined]
    """
    L{EPollReactor} holds C{lost-within-bound}, with every other rule.
    """


class TestLostMachineBesideMany(LostMachineBesideMany.TestCase):  # type: ignore[name-defined]
    """
    L{EPollReactor} holds C{lost-within-bound} beside L{MANY} idle
    registrations, with every other rule: a number closed and reused, or
    C{dup2}'d over, is found within the bound at that count too.  Fewer
    examples: each opens L{MANY} descriptors.
    """

    settings = settings(max_examples=20)


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


def test_anOwnerEvictedAndAddedAgainInOneIterationLostNothing() -> None:
    """
    Two stale owners of one number that add each other back from their
    callbacks, each add evicting the other with a warning, are each a new
    addition every time, which lost nothing: the machine holds no
    C{lost-within-bound} against the one whose file was replaced (the
    example Hypothesis found on 2026-12-07, where it did).
    """
    steps = [
        ("dup2Onto", 0, 0, 3),
        ("add", 2, 220, 7),
        ("react", 0, 255, 1),
        ("dup2Onto", 1, 0, 0),
        ("dup2Onto", 0, 0, 0),
        ("hangUp", 0, 0, 0),
        ("entangle", 0, 125, 9),
        ("dup2Onto", 1, 0, 0),
    ]
    iterations = [("iterate", 0, 0, 0)] * (int(LOST_BOUND) + 2)
    assert replay(LostMachine, "socketpair", steps + iterations) is None


class Reader:
    """
    A reader that keeps what it reads and why it lost its connection.

    @ivar data: the bytes its C{doRead} read.
    @ivar lost: the reason its C{connectionLost} was given, if it was.
    """

    def __init__(self, fd: int) -> None:
        """
        @param fd: the number it reports.
        """
        self.fd = fd
        self.data = b""
        self.lost: Optional[Failure] = None

    def fileno(self) -> int:
        """
        @return: the number it was given.
        """
        return self.fd

    def doRead(self) -> None:
        """
        Read what its number names now.
        """
        self.data += os.read(self.fd, 4096)

    def connectionLost(self, reason: Failure) -> None:
        """
        Keep the reason.
        """
        self.lost = reason

    def logPrefix(self) -> str:
        """
        @return: its class's name.
        """
        return "Reader"


@pytest.fixture
def many() -> Iterator[List[int]]:
    """
    Both ends of L{MANY} / 2 socket pairs, closed afterwards (those still
    open).
    """
    numbers: List[int] = []
    for _ in range(MANY // 2):
        numbers += [end.detach() for end in socket.socketpair()]
    yield numbers
    for fd in numbers:
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.mark.parametrize("how", ["dup2 over", "closed, then dup2"])
def test_aNumberReusedAmongManyIsLostWithinTheBound(
    reactor: EPollReactor, many: List[int], how: str
) -> None:
    """
    Among more than a thousand readers, the last one added, whose number
    is closed and taken by another socket behind the reactor's back,
    gets C{connectionLost} (ENOENT: the number names another file) once
    the reactor's clock has moved by C{WATCH_PERIOD + WATCH_WAKE}, not
    before; the bytes the newcomer's peer sent are never read for it, nor
    is the newcomer ever watched; every other reader is left alone.
    """
    now = [0.0]
    reactor._registrations.clock = lambda: now[0]
    readers = [Reader(fd) for fd in many]
    for reader in readers:
        reactor.addReader(reader)
    victim = readers[-1]
    reactor.doIteration(0)
    newcomer, peer = socket.socketpair()
    if how == "closed, then dup2":
        os.close(victim.fd)
    os.dup2(newcomer.fileno(), victim.fd)
    newcomer.close()
    peer.sendall(b"the newcomer's")
    for _ in range(3):
        reactor.doIteration(0)
    assert victim.lost is None
    now[0] += WATCH_PERIOD + WATCH_WAKE
    for _ in range(3):
        reactor.doIteration(0)
    assert victim.lost is not None
    assert victim.lost.value.errno == errno.ENOENT
    assert victim.data == b""
    assert os.read(victim.fd, 4096) == b"the newcomer's"
    assert victim not in reactor.getReaders()
    assert victim.fd not in interestList(reactor._poller.fileno())
    assert [r for r in readers if r.lost is not None or r.data] == [victim]
    assert set(readers) - {victim} <= set(reactor.getReaders())
    peer.close()
