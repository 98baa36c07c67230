"""
Failing examples that the state machines (L{epollreactor.contract}, run
by C{tests/test_statemachine_*.py}) found, each shrunk by Hypothesis and written out as an explicit test of the
behaviour that was wrong, on real descriptors.

Each test names the machine that found it and the shrunk program.
"""

import os
import socket
import tempfile
from typing import Any, List

import pytest

from epollreactor import EPollReactor
from epollreactor.contract.channel import Call, Channel
from epollreactor.contract.kernel import masksAndInodes
from epollreactor.contract.target import ReactorUnderTest, Target


def socketPair(descriptors: List[int]) -> List[int]:
    """
    @return: the two non-blocking descriptors of a new socket pair, which
        C{descriptors} will close.
    """
    left, right = socket.socketpair()
    numbers = [left.detach(), right.detach()]
    for number in numbers:
        os.set_blocking(number, False)
    descriptors.extend(numbers)
    return numbers


def regularFile(descriptors: List[int]) -> int:
    """
    @return: a descriptor of a new regular file, which C{descriptors} will
        close.
    """
    handle, path = tempfile.mkstemp()
    os.unlink(path)
    descriptors.append(handle)
    return handle


def interest(reactor: EPollReactor) -> dict:
    """
    @return: the kernel's interest list for C{reactor}'s epoll instance, as
        numbers to masks, without the waker's.
    """
    view = masksAndInodes(reactor._poller.fileno())
    for reader in reactor._internalReaders:
        view.pop(reader.fileno(), None)
    return {number: mask for number, (mask, _) in view.items()}


def test_removeAfterRegularFileWasMovedOntoTheNumber(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    C{removeReader} does not raise when a regular file was C{dup2}'d onto
    the registered number: C{EPOLL_CTL_DEL} then fails with EPERM, not EBADF
    or ENOENT, because epoll_ctl(2) checks the target file before it looks
    the number up.

    Found by C{ReactorMachine}: C{open(socketpair); addReader(0);
    dup2Onto(0, regular); removeAll()} raised C{PermissionError}.
    """
    calls: List[Call] = []
    number, _ = socketPair(descriptors)
    channel = Channel(reactor, "c0", number, calls)
    reactor.addReader(channel)
    os.dup2(regularFile(descriptors), number)

    reactor.removeReader(channel)

    assert reactor.getReaders() == list(reactor._internalReaders)
    assert interest(reactor) == {}


def test_polledObjectMovedOntoASocketStaysPolled(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    An object polled continuously because its descriptor was a regular file
    stays polled continuously, and is listed once by C{getReaders},
    C{getWriters} and C{removeAll}, when it is added again after a socket
    was C{dup2}'d onto its number: it is neither registered with epoll a
    second time nor does it evict the socket's own object.

    Found by C{ReactorMachine}: C{open(regular); addReader(0);
    dup2Onto(0, socketpair); addReader(0)} listed C{c0} twice in
    C{getReaders()}; with C{addReader(1)} (the socket's object) before the
    last step, C{c1} was evicted while the kernel kept its registration.
    """
    calls: List[Call] = []
    number = regularFile(descriptors)
    polled = Channel(reactor, "c0", number, calls)
    reactor.addReader(polled)
    moved, _ = socketPair(descriptors)
    os.dup2(moved, number)
    owner = Channel(reactor, "c1", number, calls)
    reactor.addReader(owner)

    reactor.addReader(polled)
    reactor.addWriter(polled)

    internal = set(reactor._internalReaders)
    readers = [r for r in reactor.getReaders() if r not in internal]
    assert sorted(r.name for r in readers) == ["c0", "c1"]
    assert [w.name for w in reactor.getWriters()] == ["c0"]
    assert interest(reactor) == {number: 1}
    removed = [r for r in reactor.removeAll() if r not in internal]
    assert sorted(r.name for r in removed) == ["c0", "c1"]
    assert interest(reactor) == {}


def test_writerRestartedWithinOneIterationWritesOnce(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    A reader that starts writing, stops and starts again before the next
    iteration gets one optimistic C{doWrite}, not one per start.

    Found by C{ReactorMachine}: C{open(socketpair); addReader(0);
    addWriter(0); removeWriter(0); addWriter(0); iterate()} called C{doWrite}
    three times in one iteration (two optimistic, one for EPOLLOUT).
    """
    calls: List[Call] = []
    number, peer = socketPair(descriptors)
    channel = Channel(reactor, "c0", number, calls)
    reactor.addReader(channel)
    reactor.addWriter(channel)
    reactor.removeWriter(channel)
    reactor.addWriter(channel)
    # Fill the send buffer, so that the only doWrite is the optimistic one.
    try:
        while os.write(number, b"x" * 65536):
            pass
    except BlockingIOError:
        pass

    reactor.doIteration(0)

    assert calls == [("c0", "doWrite")]
    # Still writing: EPOLLOUT is asked for before the next wait, which then
    # has nothing for it (the buffer is still full).
    assert interest(reactor) == {number: 1}
    reactor.doIteration(0)
    assert calls == [("c0", "doWrite")]
    assert interest(reactor) == {number: 5}


def test_ownerAddedAfterAStaleEntryIsPreened(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    The preen that a stale entry starts checks every registration there is
    when it begins, not only those there were when the stale entry was
    found: an object added in between whose number is then C{dup2}'d over
    is found before the next wait, as it would be if it had been
    registered earlier, and loses its connection (its number names
    another file now, which is not read on its behalf).

    Found by C{ReactorMachine}: C{open(socketpair); addReader(0);
    closeBehindBack(0); removeAll(); addReader(1); dup2Onto(1, socketpair);
    iterate()} left C{c1} with no entry in the kernel and no
    C{connectionLost}: it would have waited for ever.
    """
    calls: List[Call] = []
    first, second = socketPair(descriptors)
    reactor.addReader(Channel(reactor, "c0", first, calls))
    os.close(first)
    descriptors.remove(first)
    reactor.removeAll()
    owner = Channel(reactor, "c1", second, calls)
    reactor.addReader(owner)
    replacement, peer = socketPair(descriptors)
    os.dup2(replacement, second)

    reactor.doIteration(0)

    assert interest(reactor) == {}
    os.write(peer, b"x")
    reactor.doIteration(0)
    assert calls == [("c1", "connectionLost")]


def test_writeOwedToAStaleOwnerDoesNotHoldBackTheNewcomers(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    A write attempt owed to an owner whose number was closed behind the
    reactor's back does not stand in for the EPOLLOUT of the object added
    under that number next: the newcomer, reading and writing, is watched
    for both, and gets its C{doWrite} when its file is writable.

    Found by C{ReactorMachine} (make fuzz, 20,000 examples):
    C{open(socketpair); addReader(1); addWriter(1); closeBehindBack(1);
    open(pipe); addWriter(3); addReader(3); iterate()}, where 3 is the
    pipe's write end on the closed number, gave C{c3} no C{doWrite} and
    left its kernel entry without EPOLLOUT for good.
    """
    calls: List[Call] = []
    first, second = socketPair(descriptors)
    stale = Channel(reactor, "c1", second, calls)
    reactor.addReader(stale)
    reactor.addWriter(stale)
    readEnd, writeEnd = os.pipe()
    os.close(second)
    descriptors.remove(second)
    # The write end on the closed number, as the lowest free one would be.
    os.dup2(writeEnd, second)
    os.close(writeEnd)
    descriptors.extend([readEnd, second])
    newcomer = Channel(reactor, "c3", second, calls)
    reactor.addWriter(newcomer)
    reactor.addReader(newcomer)

    reactor.doIteration(0)

    assert ("c3", "doWrite") in calls
    assert ("c1", "doWrite") not in calls
    assert interest(reactor)[second] == 5


@pytest.mark.parametrize(
    "which", ["ours", pytest.param("stock", marks=pytest.mark.requiresSelectEpoll)]
)
def test_pollerReadsAndBatchReadsAReaderAddedAgainBetween(
    descriptors: List[int], which: str
) -> None:
    """
    A continuously polled reader whose number has come to name a socket,
    and which its own C{doRead} removes and adds again, is read twice in
    one iteration: by the poller, then by the batch of the wait, for its
    new registration with epoll; stock Twisted does the same.  So the
    reactor machine lets a channel be called again once its interest was
    taken away and given back since its last call (C{Iteration.renewed}).

    Found by C{ReactorMachine} (make fuzz, 20,000 examples) as "doRead
    twice in one iteration", with the removal and the addition made by
    other polled channels' reactions, in the order of the poller's set.
    """
    if which == "ours":
        makeReactor = EPollReactor
    else:
        from twisted.internet.epollreactor import EPollReactor as makeReactor
    underTest = ReactorUnderTest(Target(makeReactor))
    reactor = underTest.reactor
    calls: List[Call] = []
    number = regularFile(descriptors)
    socketNumber, peer = socketPair(descriptors)

    class Renewing(Channel):
        def doRead(self) -> Any:
            result = Channel.doRead(self)
            reactor.removeReader(self)
            reactor.addReader(self)
            return result

    channel = Renewing(reactor, "c0", number, calls)
    reactor.addReader(channel)
    os.dup2(socketNumber, number)
    os.write(peer, b"x")

    # The poller's LoopingCall is due a moment after it was started.
    underTest.clock.now += 1
    try:
        reactor.runUntilCurrent()
        reactor.doIteration(0)

        assert calls == [("c0", "doRead"), ("c0", "doRead")], makeReactor
    finally:
        underTest.close()
