"""
L{epollreactor.EPollReactor}, method by method, on real descriptors: socket
pairs, pipes and regular files, with the kernel's interest list read back
from C{/proc/self/fdinfo} (proc(5)).  The ways users reach it are
C{tests/test_install.py}'s.
"""

import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any, Dict, Iterator, List

import pytest
from twisted.internet import posixbase
from twisted.internet.interfaces import IReactorFDSet
from twisted.python.failure import Failure

import epollreactor
from epollreactor import (
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
    EPollReactor,
    _epoll,
    _registrations,
)
from epollreactor.contract.kernel import sleptIn
from tests.kernel import interestList
from tests.signalling import joinThroughSignals

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)

#: How long a subprocess or a wait for an event may take before the test
#: gives up; generous, because the machine may be loaded.  Never asserted.
PATIENCE = 60.0


class Descriptor:
    """
    A reader and writer on a real descriptor that records what the reactor
    calls on it.  Not a C{FileDescriptor}, so the reactor treats it as any
    L{IReadDescriptor}/L{IWriteDescriptor}.

    @ivar reads: how many times C{doRead} was called.
    @ivar writes: how many times C{doWrite} was called.
    @ivar lost: the reasons passed to C{connectionLost}.
    @ivar onRead: called from C{doRead}, if set.
    @ivar onWrite: called from C{doWrite}, if set.
    """

    def __init__(self, fd: int) -> None:
        """
        @param fd: the descriptor number C{fileno} returns.
        """
        self.fd = fd
        self.reads = 0
        self.writes = 0
        self.lost: List[Failure] = []
        self.onRead: Any = None
        self.onWrite: Any = None

    def fileno(self) -> int:
        """
        @return: the descriptor number.
        """
        return self.fd

    def doRead(self) -> None:
        """
        Count the call, and run C{onRead}.
        """
        self.reads += 1
        if self.onRead is not None:
            self.onRead()

    def doWrite(self) -> None:
        """
        Count the call, and run C{onWrite}.
        """
        self.writes += 1
        if self.onWrite is not None:
            self.onWrite()

    def connectionLost(self, reason: Failure) -> None:
        """
        Record the reason.
        """
        self.lost.append(reason)

    def logPrefix(self) -> str:
        """
        @return: a name for log lines.
        """
        return "Descriptor"


def kernelInterest(reactor: EPollReactor) -> Dict[int, int]:
    """
    Read the kernel's interest list of the reactor's epoll instance
    (L{tests.kernel.interestList}).

    @return: maps each watched descriptor to its mask of C{EPOLLIN} and
        C{EPOLLOUT} (the kernel adds EPOLLERR and EPOLLHUP to every one).
    """
    return {
        number: registration.events & (EPOLLIN | EPOLLOUT)
        for number, registration in interestList(reactor._poller.fileno()).items()
    }


@pytest.fixture
def pair() -> Iterator[List[socket.socket]]:
    """
    A connected pair of UNIX stream sockets, closed afterwards.
    """
    sockets = list(socket.socketpair())
    yield sockets
    for s in sockets:
        s.close()


@pytest.fixture
def otherPair() -> Iterator[List[socket.socket]]:
    """
    A second connected pair, for tests of two descriptors in one batch.
    """
    sockets = list(socket.socketpair())
    yield sockets
    for s in sockets:
        s.close()


@pytest.fixture
def regularFile(tmp_path: Any) -> Iterator[int]:
    """
    A descriptor open for reading and writing on a regular file, which
    epoll refuses (EPERM, epoll_ctl(2)); closed afterwards.
    """
    fd = os.open(str(tmp_path / "regular"), os.O_RDWR | os.O_CREAT)
    yield fd
    os.close(fd)


def userReaders(reactor: EPollReactor) -> set:
    """
    @return: the readers, without the reactor's own (the waker).
    """
    return set(reactor.getReaders()) - reactor._internalReaders


def iterateUntil(reactor: EPollReactor, condition: Any) -> None:
    """
    Run reactor iterations (timers included) until C{condition()} is true;
    fail after L{PATIENCE} seconds.
    """
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        reactor.runUntilCurrent()
        reactor.doIteration(0.01)


# Attributes.


def test_providesIReactorFDSet(reactor: EPollReactor) -> None:
    """
    L{EPollReactor} provides L{IReactorFDSet} and builds on
    L{posixbase.PosixReactorBase} and L{posixbase._PollLikeMixin}.
    """
    assert IReactorFDSet.providedBy(reactor)
    assert isinstance(reactor, posixbase.PosixReactorBase)
    assert isinstance(reactor, posixbase._PollLikeMixin)


def test_attributes(reactor: EPollReactor) -> None:
    """
    The attributes Twisted's documentation lists for its C{EPollReactor}:
    C{_poller} is an L{epollreactor.epoll}, C{_selectables} a mapping,
    C{_reads} and C{_writes} sets (read-only views of the records),
    C{_continuousPolling} a L{posixbase._ContinuousPolling}, and the
    methods C{_add} and C{_remove}.  A new reactor watches only its waker.
    """
    assert isinstance(reactor._poller, epollreactor.epoll)
    assert not reactor._poller.closed
    assert isinstance(reactor._selectables, Mapping)
    assert isinstance(reactor._reads, AbstractSet)
    assert isinstance(reactor._writes, AbstractSet)
    assert callable(reactor._add) and callable(reactor._remove)
    assert isinstance(reactor._continuousPolling, posixbase._ContinuousPolling)
    waker = reactor.waker
    assert reactor._reads == {waker.fileno()}
    assert reactor._writes == set()
    assert reactor._selectables == {waker.fileno(): waker}
    assert kernelInterest(reactor) == {waker.fileno(): EPOLLIN}


def test_pollConstants() -> None:
    """
    The C{_POLL_*} constants that L{posixbase._PollLikeMixin} reads are the
    epoll event bits: EPOLLHUP|EPOLLERR for disconnection, EPOLLIN, EPOLLOUT.
    """
    assert EPollReactor._POLL_DISCONNECTED == EPOLLHUP | EPOLLERR
    assert EPollReactor._POLL_IN == EPOLLIN
    assert EPollReactor._POLL_OUT == EPOLLOUT
    assert (EPOLLHUP, EPOLLERR, EPOLLIN, EPOLLOUT) == (0x10, 0x8, 0x1, 0x4)


# Adding and removing.


def test_addReader(reactor: EPollReactor, pair: List[socket.socket]) -> None:
    """
    C{addReader} lists the reader in C{getReaders} and not in
    C{getWriters}, the kernel watches its descriptor for EPOLLIN, and once
    data arrives a poll calls C{doRead}.
    """
    reader = Descriptor(pair[0].fileno())
    reactor.addReader(reader)
    fd = reader.fd
    assert userReaders(reactor) == {reader}
    assert reactor.getWriters() == []
    reactor.doPoll(0)
    assert kernelInterest(reactor)[fd] == EPOLLIN
    assert reader.reads == 0
    pair[1].send(b"x")
    reactor.doPoll(PATIENCE)
    assert reader.reads == 1
    assert reader.writes == 0


def test_addReaderTwice(reactor: EPollReactor, pair: List[socket.socket]) -> None:
    """
    Adding the same reader twice is the same as adding it once.
    """
    reader = Descriptor(pair[0].fileno())
    reactor.addReader(reader)
    reactor.addReader(reader)
    pair[1].send(b"x")
    reactor.doPoll(PATIENCE)
    assert reader.reads == 1
    assert userReaders(reactor) == {reader}


def test_addWriter(reactor: EPollReactor, pair: List[socket.socket]) -> None:
    """
    C{addWriter} lists the writer in C{getWriters} and not in
    C{getReaders}, the kernel watches its descriptor for EPOLLOUT, and a
    poll calls C{doWrite} on a writable socket, and never C{doRead}.
    """
    writer = Descriptor(pair[0].fileno())
    reactor.addWriter(writer)
    fd = writer.fd
    assert reactor.getWriters() == [writer]
    assert userReaders(reactor) == set()
    pair[1].send(b"readable too")
    reactor.doPoll(PATIENCE)
    assert writer.writes == 1
    assert writer.reads == 0
    assert kernelInterest(reactor)[fd] == EPOLLOUT


def test_addReaderAndWriter(reactor: EPollReactor, pair: List[socket.socket]) -> None:
    """
    One object added as reader and as writer gets both C{doRead} and
    C{doWrite} from one poll, and the kernel watches both events.
    """
    both = Descriptor(pair[0].fileno())
    reactor.addReader(both)
    reactor.addWriter(both)
    pair[1].send(b"x")
    reactor.doPoll(PATIENCE)
    assert (both.reads, both.writes) == (1, 1)
    assert kernelInterest(reactor)[both.fd] == EPOLLIN | EPOLLOUT


def test_addClosedDescriptor(reactor: EPollReactor) -> None:
    """
    Adding an object whose descriptor is closed raises the kernel's EBADF
    and leaves no trace: it is not listed, and the kernel watches nothing
    new.
    """
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as raised:
        reactor.addReader(Descriptor(r))
    assert raised.value.errno == 9  # EBADF
    assert userReaders(reactor) == set()
    assert r not in kernelInterest(reactor)


def test_removeReader(reactor: EPollReactor, pair: List[socket.socket]) -> None:
    """
    C{removeReader} forgets the reader, the kernel stops watching its
    descriptor, and data arriving afterwards is not dispatched.
    """
    reader = Descriptor(pair[0].fileno())
    reactor.addReader(reader)
    reactor.doPoll(0)
    reactor.removeReader(reader)
    assert userReaders(reactor) == set()
    pair[1].send(b"x")
    reactor.doPoll(0)
    assert reader.reads == 0
    assert reader.fd not in kernelInterest(reactor)


def test_removeWriter(reactor: EPollReactor, pair: List[socket.socket]) -> None:
    """
    C{removeWriter} forgets the writer and the kernel stops watching its
    descriptor.
    """
    writer = Descriptor(pair[0].fileno())
    reactor.addWriter(writer)
    reactor.removeWriter(writer)
    assert reactor.getWriters() == []
    reactor.doPoll(0)
    assert writer.writes == 0
    assert writer.fd not in kernelInterest(reactor)


def test_removeWriterKeepsReader(
    reactor: EPollReactor, pair: List[socket.socket]
) -> None:
    """
    Removing the writer interest of an object that also reads leaves it a
    reader, watched for EPOLLIN alone.
    """
    both = Descriptor(pair[0].fileno())
    reactor.addReader(both)
    reactor.addWriter(both)
    reactor.doPoll(0)
    writes = both.writes
    reactor.removeWriter(both)
    assert userReaders(reactor) == {both}
    assert reactor.getWriters() == []
    pair[1].send(b"x")
    reactor.doPoll(PATIENCE)
    assert both.writes == writes
    assert both.reads >= 1
    assert kernelInterest(reactor)[both.fd] == EPOLLIN


def test_removeNeverAdded(reactor: EPollReactor, pair: List[socket.socket]) -> None:
    """
    Removing an object that was never added does nothing.
    """
    stranger = Descriptor(pair[0].fileno())
    reactor.removeReader(stranger)
    reactor.removeWriter(stranger)
    assert userReaders(reactor) == set()
    assert reactor.getWriters() == []
    assert stranger.fd not in kernelInterest(reactor)


def test_removeAfterClose(reactor: EPollReactor) -> None:
    """
    Removing a reader whose descriptor the application closed first (its
    C{fileno()} now -1, as Twisted's transports do) does not raise, and
    forgets it.
    """
    r, w = os.pipe()
    reader = Descriptor(r)
    reactor.addReader(reader)
    os.close(r)
    os.close(w)
    reader.fd = -1
    reactor.removeReader(reader)
    assert reader not in userReaders(reactor)
    assert r not in kernelInterest(reactor)


def test_removeAll(reactor: EPollReactor, pair: List[socket.socket]) -> None:
    """
    C{removeAll} removes and returns every reader and writer, continuously
    polled ones included, but keeps the waker.
    """
    reader = Descriptor(pair[0].fileno())
    writer = Descriptor(pair[1].fileno())
    r, w = os.pipe()
    try:
        both = Descriptor(w)
        reactor.addReader(reader)
        reactor.addWriter(writer)
        reactor.addReader(both)
        reactor.addWriter(both)
        removed = reactor.removeAll()
        assert sorted(map(id, removed)) == sorted(map(id, [reader, writer, both]))
        assert reactor.getReaders() == [reactor.waker]
        assert reactor.getWriters() == []
        reactor.doPoll(0)
        assert set(kernelInterest(reactor)) == {reactor.waker.fileno()}
    finally:
        os.close(r)
        os.close(w)


def test_getReadersAndWriters(reactor: EPollReactor, pair: List[socket.socket]) -> None:
    """
    C{getReaders} and C{getWriters} list what was added, and stop listing
    it once removed.
    """
    reader = Descriptor(pair[0].fileno())
    writer = Descriptor(pair[1].fileno())
    reactor.addReader(reader)
    reactor.addWriter(writer)
    assert userReaders(reactor) == {reader}
    assert reactor.getWriters() == [writer]
    reactor.removeReader(reader)
    reactor.removeWriter(writer)
    assert userReaders(reactor) == set()
    assert reactor.getWriters() == []


def test_regularFileReader(reactor: EPollReactor, regularFile: int) -> None:
    """
    A regular file added as a reader goes to C{_continuousPolling} (epoll
    refuses it with EPERM), is listed by C{getReaders}, gets C{doRead} as
    the reactor's timers run, and comes out on C{removeReader}.
    """
    reader = Descriptor(regularFile)
    reactor.addReader(reader)
    assert reactor._continuousPolling.isReading(reader)
    assert regularFile not in kernelInterest(reactor)
    assert reader in reactor.getReaders()
    iterateUntil(reactor, lambda: reader.reads > 0)
    reactor.removeReader(reader)
    assert not reactor._continuousPolling.isReading(reader)
    assert reader not in reactor.getReaders()
    assert reactor._continuousPolling._loop is None


def test_regularFileWriter(reactor: EPollReactor, regularFile: int) -> None:
    """
    A regular file added as a writer goes to C{_continuousPolling}, is
    listed by C{getWriters}, gets C{doWrite}, and comes out on
    C{removeWriter}.
    """
    writer = Descriptor(regularFile)
    reactor.addWriter(writer)
    assert reactor._continuousPolling.isWriting(writer)
    assert regularFile not in kernelInterest(reactor)
    assert reactor.getWriters() == [writer]
    iterateUntil(reactor, lambda: writer.writes > 0)
    reactor.removeWriter(writer)
    assert not reactor._continuousPolling.isWriting(writer)
    assert reactor.getWriters() == []
    assert reactor._continuousPolling._loop is None


def test_regularFileRemoveAll(reactor: EPollReactor, regularFile: int) -> None:
    """
    C{removeAll} returns continuously polled readers and writers too, and
    takes them out.
    """
    reader = Descriptor(regularFile)
    writer = Descriptor(regularFile)
    reactor.addReader(reader)
    reactor.addWriter(writer)
    assert sorted(map(id, reactor.removeAll())) == sorted(map(id, [reader, writer]))
    assert reactor._continuousPolling.getReaders() == []
    assert reactor._continuousPolling.getWriters() == []


# The loop.


def test_doPollZeroReturnsWithoutEvents(
    reactor: EPollReactor, pair: List[socket.socket]
) -> None:
    """
    C{doPoll(0)} returns at once when nothing is ready, dispatching nothing.
    """
    reader = Descriptor(pair[0].fileno())
    reactor.addReader(reader)
    reactor.doPoll(0)
    assert reader.reads == 0


def test_doPollNoneWaitsForAnEvent(
    reactor: EPollReactor, pair: List[socket.socket]
) -> None:
    """
    C{doPoll(None)} blocks until an event arrives, then dispatches it: data
    sent by another thread only after the call began is read when it
    returns.
    """
    reader = Descriptor(pair[0].fileno())
    reactor.addReader(reader)
    reactor.doPoll(0)
    sender = threading.Timer(0.2, pair[1].send, [b"x"])
    sender.start()
    try:
        reactor.doPoll(None)
    finally:
        sender.join()
    assert reader.reads == 1


def test_doIterationIsDoPoll(reactor: EPollReactor, pair: List[socket.socket]) -> None:
    """
    C{doIteration}, which L{twisted.internet.base.ReactorBase.mainLoop}
    calls, polls and dispatches as C{doPoll} does.
    """
    assert EPollReactor.doIteration is EPollReactor.doPoll
    reader = Descriptor(pair[0].fileno())
    reactor.addReader(reader)
    pair[1].send(b"x")
    reactor.doIteration(PATIENCE)
    assert reader.reads == 1


def test_doPollEINTRReturnsQuietly(
    reactor: EPollReactor, pair: List[socket.socket]
) -> None:
    """
    A signal that interrupts C{epoll_wait(2)} (EINTR, which epoll_wait never
    restarts: signal(7)) makes C{doPoll(None)} return without raising and
    without dispatching, so that the main loop can run what the handler
    scheduled.

    Another thread sends SIGUSR1 to this one until the call returns (the
    first may arrive before the call blocks); if the call kept waiting, it
    would only return on the data sent after L{PATIENCE} seconds, and would
    dispatch it.
    """
    reader = Descriptor(pair[0].fileno())
    reactor.addReader(reader)
    reactor.doPoll(0)
    handled = []
    returned = threading.Event()
    mainThread = threading.get_ident()

    def interrupt() -> None:
        deadline = time.monotonic() + PATIENCE
        while not returned.wait(0.05):
            if time.monotonic() > deadline:
                pair[1].send(b"x")
                return
            signal.pthread_kill(mainThread, signal.SIGUSR1)

    previous = signal.signal(
        signal.SIGUSR1, lambda number, frame: handled.append(number)
    )
    interrupter = threading.Thread(target=interrupt)
    interrupter.start()
    try:
        reactor.doPoll(None)
    finally:
        returned.set()
        joinThroughSignals(interrupter)
        signal.signal(signal.SIGUSR1, previous)
    assert handled
    assert reader.reads == 0


@pytest.mark.parametrize("writing", [False, True], ids=["reading", "both"])
def test_removedEarlierInIterationNotDispatched(
    reactor: EPollReactor,
    pair: List[socket.socket],
    otherPair: List[socket.socket],
    writing: bool,
) -> None:
    """
    When two ready descriptors come back from one C{epoll_wait(2)} and the
    first one dispatched takes away the other's read interest, the other
    gets no C{doRead}.  A reader that wanted nothing else is unregistered
    and its event dropped; one that is also writing (and writable) stays
    registered and still gets C{doWrite}, but not C{doRead}: every event is
    masked by the interest its owner has when it is dispatched, not when
    the batch was read.
    """
    first = Descriptor(pair[0].fileno())
    second = Descriptor(otherPair[0].fileno())
    first.onRead = lambda: reactor.removeReader(second)
    second.onRead = lambda: reactor.removeReader(first)
    for descriptor in (first, second):
        reactor.addReader(descriptor)
        if writing:
            reactor.addWriter(descriptor)
    # Give the kernel both masks; nothing is readable yet.
    reactor.doPoll(0)
    first.writes = second.writes = 0
    pair[1].send(b"x")
    otherPair[1].send(b"x")
    # Both are ready before the poll, so one epoll_wait reports both.
    reactor.doPoll(PATIENCE)
    assert first.reads + second.reads == 1
    assert (first.writes, second.writes) == ((1, 1) if writing else (0, 0))
    assert len(userReaders(reactor)) == 1


def test_writerRemovedEarlierInIterationNotDispatched(
    reactor: EPollReactor, pair: List[socket.socket], otherPair: List[socket.socket]
) -> None:
    """
    The write twin of L{test_removedEarlierInIterationNotDispatched}: when
    two writable descriptors come back from one C{epoll_wait(2)} and the
    first one dispatched takes away the other's write interest, the other
    gets no C{doWrite} (Twisted issues 6796 and 4759).  Both also read, with
    nothing to read, so the other stays registered and its EPOLLOUT event is
    still in the batch when its turn comes.
    """
    first = Descriptor(pair[0].fileno())
    second = Descriptor(otherPair[0].fileno())
    first.onWrite = lambda: reactor.removeWriter(second)
    second.onWrite = lambda: reactor.removeWriter(first)
    for descriptor in (first, second):
        reactor.addReader(descriptor)
        reactor.addWriter(descriptor)
    # Both are writable from the start, so this one epoll_wait reports
    # both; whichever is dispatched first removes the other.
    reactor.doPoll(PATIENCE)
    assert first.writes + second.writes == 1
    assert len(reactor.getWriters()) == 1
    assert (first.reads, second.reads) == (0, 0)
    assert len(userReaders(reactor)) == 2


def test_sleptInTellsNothingOfACallThatOutlastedItsDeadline() -> None:
    """
    L{sleptIn} says C{False} of a call that returns at once without
    sleeping, C{True} of one that sleeps, and nothing (C{None}) of one
    that ran past its deadline without sleeping: from the inside, a
    thread the host did not run looks like that.
    """
    for _ in range(50):
        quick = sleptIn(lambda: None, 1.0)
        if quick is not None:
            # Not preempted on the way.
            break
    assert quick is False
    assert sleptIn(lambda: time.sleep(0.002), 1.0) is True

    def spin() -> None:
        until = time.monotonic() + 0.002
        while time.monotonic() < until:
            pass

    assert sleptIn(spin, 0.001) in (None, True)


#: What C{epoll_wait(2)} waits at most for a timeout under a millisecond.
_ROUNDED_UP = 0.001


@pytest.mark.parametrize("timeout", [1e-9, 0.0004, 0.000999])
def test_doPollRoundsShortTimeoutUp(
    reactor: EPollReactor, timeout: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Where waits are not precise (no C{epoll_pwait2}), a timeout shorter
    than C{epoll_wait(2)}'s millisecond is rounded up, not down to 0: with
    nothing ready, C{doPoll} sleeps in the kernel (the thread makes a
    voluntary context switch) instead of returning at once, so that a timer
    due in less than a millisecond does not turn the main loop into a busy
    poll until it is due.  (Precise waits: tests/test_precise.py.)
    """
    monkeypatch.setattr(_epoll, "_imprecise", "off for this test")
    reactor.doPoll(0)
    # On a loaded machine a preemption can make one try tell nothing; the
    # first try that tells decides.
    for _ in range(50):
        slept = sleptIn(lambda: reactor.doPoll(timeout), _ROUNDED_UP)
        if slept is not None:
            break
    assert slept


def test_removedAndReplacedInIterationNotDispatched(
    reactor: EPollReactor, pair: List[socket.socket]
) -> None:
    """
    When the first descriptor dispatched removes and closes another that
    is ready in the same batch, and a new descriptor takes its number and is
    added, the old event is not dispatched to the newcomer (which has
    nothing to read).
    """
    other = socket.socketpair()
    newcomers: List[Descriptor] = []
    extra: List[Any] = []
    first = Descriptor(pair[0].fileno())
    second = Descriptor(other[0].fileno())

    def replace(victim: Descriptor, victimSocket: socket.socket) -> None:
        if newcomers:
            return
        reactor.removeReader(victim)
        number = victimSocket.fileno()
        victimSocket.close()
        r, w = os.pipe()
        extra.extend([r, w])
        if r != number:
            os.dup2(r, number)
            extra.append(number)
        newcomer = Descriptor(number)
        newcomers.append(newcomer)
        reactor.addReader(newcomer)

    first.onRead = lambda: replace(second, other[0])
    second.onRead = lambda: replace(first, pair[0])
    try:
        reactor.addReader(first)
        reactor.addReader(second)
        pair[1].send(b"x")
        other[1].send(b"x")
        reactor.doPoll(PATIENCE)
        assert first.reads + second.reads == 1
        assert newcomers[0].reads == 0
        # The newcomer is watched, and gets its own events.
        assert kernelInterest(reactor)[newcomers[0].fd] == EPOLLIN
    finally:
        for newcomer in newcomers:
            reactor.removeReader(newcomer)
        for fd in set(extra):
            os.close(fd)
        for s in other:
            s.close()


def test_hangupWithoutReadInterestLosesConnection(reactor: EPollReactor) -> None:
    """
    A writer whose peer went away gets EPOLLERR (which the kernel always
    reports, epoll_ctl(2)) and loses its connection through
    L{posixbase._PollLikeMixin}, and is removed.
    """
    r, w = os.pipe()
    try:
        writer = Descriptor(w)
        reactor.addWriter(writer)
        os.close(r)
        iterateUntil(reactor, lambda: writer.lost)
        assert reactor.getWriters() == []
        assert w not in kernelInterest(reactor)
    finally:
        os.close(w)


def test_forkWhileTwistedDisguisesTheReactor(reactor: EPollReactor) -> None:
    """
    Twisted's C{ReactorBuilder} turns the global reactor into each test's
    reactor by swapping its C{__dict__} and C{__class__}, keeping the
    original C{__dict__} in C{_originalReactorDict}.  A fork meanwhile
    marks the disguised reactor's own table forked, raises nothing in the
    child, and leaves the parent's untouched.
    """
    from twisted.internet.pollreactor import PollReactor

    disguise = PollReactor()
    table = reactor._registrations
    disguise._originalReactorDict = reactor.__dict__  # type: ignore[attr-defined]
    original = reactor.__dict__
    reactor.__dict__ = disguise.__dict__
    reactor.__class__ = PollReactor  # type: ignore[assignment]
    readEnd, writeEnd = os.pipe()
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover (the child reports through the pipe)
            os.write(writeEnd, b"%d" % (table.pending & _registrations.FORKED))
            os._exit(0)
    finally:
        reactor.__class__ = EPollReactor
        reactor.__dict__ = original
        for waker in list(disguise._internalReaders):
            waker.connectionLost(None)
        os.close(writeEnd)
    with os.fdopen(readEnd, "rb") as report:
        marked = report.read()
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert marked == b"%d" % _registrations.FORKED
    assert not table.pending & _registrations.FORKED
