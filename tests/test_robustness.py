"""
L{epollreactor.EPollReactor} keeps its registrations straight when
application code closes, duplicates and reuses descriptors behind its back,
hands it bad objects, or reads from a pipe that hangs up with input still
buffered.

Everything runs on real descriptors: socket pairs, pipes, child processes.
C{dup2(2)} forces a closed number's reuse at once, as a busy server's next
C{accept} would.  The few places that reach into the reactor's private state
say why.
"""

import errno
import math
import os
import sys
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest
from twisted.internet import error, protocol
from twisted.internet.process import reapAllProcesses
from twisted.logger import LogLevel, formatEvent, globalLogPublisher

from epollreactor import EPOLLIN, EPOLLOUT, EPollReactor
from epollreactor._registrations import PREEN_BATCH, WATCH_PERIOD
from tests.kernel import interestList
from tests.scenarios.stale import (
    BAD_INPUT,
    SCENARIOS,
    Outcome,
    Watcher,
    closeAll,
    dispose,
    iterate,
    reuse,
    socketPair,
)


@pytest.fixture
def warnings() -> Iterator[List[str]]:
    """
    The text of every warning logged through C{twisted.logger} during the
    test.
    """
    seen: List[str] = []

    def observer(event: Any) -> None:
        if event.get("log_level") == LogLevel.warn:
            seen.append(formatEvent(event))

    globalLogPublisher.addObserver(observer)
    yield seen
    globalLogPublisher.removeObserver(observer)


def _state(reactor: EPollReactor) -> Tuple[List[Any], List[Any], Any]:
    """
    @return: what C{reactor} watches, as its callers and the kernel see it:
        its readers, its writers, and its epoll instance's interest list.
    """
    return (
        reactor.getReaders(),
        reactor.getWriters(),
        interestList(reactor._poller.fileno()),
    )


class SocketLike(Watcher):
    """
    A L{Watcher} whose C{fileno()} turns to -1 once L{close} has run, as a
    Python socket's (and so a Twisted C{tcp.Connection}'s) does.
    """

    closed = False

    def fileno(self) -> int:
        """
        @return: -1 once closed, else the number.
        """
        return -1 if self.closed else self.fd

    def close(self) -> None:
        """
        Close the descriptor.
        """
        os.close(self.fd)
        self.closed = True


def _pair(
    descriptors: List[int], kind: Callable[[int, str], Watcher]
) -> Tuple[Watcher, int]:
    fd, peer = socketPair()
    descriptors += [fd, peer]
    return kind(fd, "watcher"), peer


def _closeBehindBack(watcher: Watcher, descriptors: List[int]) -> None:
    """
    Close C{watcher}'s descriptor without telling the reactor, and stop
    tracking its number: the number may soon name something else, such as
    an epoll instance the reactor rebuilds.
    """
    if isinstance(watcher, SocketLike):
        watcher.close()
    else:
        os.close(watcher.fd)
    descriptors.remove(watcher.fd)


KINDS = [
    pytest.param(Watcher, id="cached-number"),
    pytest.param(SocketLike, id="socket-like"),
]


@pytest.mark.parametrize(
    "scenario", [pytest.param(s[2], id=s[2].__name__) for s in SCENARIOS]
)
def test_scenario(scenario: Callable[[Any], Outcome]) -> None:
    """
    Every scenario that L{tests.scenarios.compare} runs against the stock
    reactor passes on ours.
    """
    reactor = EPollReactor()
    try:
        ok, detail = scenario(reactor)
    finally:
        dispose(reactor)
    assert ok, detail


# Removal never raises.


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reused", [False, True], ids=["closed", "reused"])
def test_removeAfterCloseNeverRaises(
    reactor: EPollReactor,
    descriptors: List[int],
    kind: Callable[[int, str], Watcher],
    reused: bool,
) -> None:
    """
    C{removeReader}, C{removeWriter} and C{removeAll} of an object whose
    descriptor was closed without removal (EBADF from C{EPOLL_CTL_DEL}), or
    whose number now names another file (ENOENT), raise nothing and forget
    the object.
    """
    reader, _ = _pair(descriptors, kind)
    writer, _ = _pair(descriptors, kind)
    both, _ = _pair(descriptors, kind)
    reactor.addReader(reader)
    reactor.addWriter(writer)
    reactor.addReader(both)
    reactor.addWriter(both)
    iterate(reactor, 1)
    for watcher in (reader, writer, both):
        _closeBehindBack(watcher, descriptors)
        if reused:
            descriptors.append(reuse(watcher.fd))
    reactor.removeReader(reader)
    reactor.removeWriter(writer)
    reactor.removeAll()
    assert reactor.getReaders() == [reactor.waker]
    assert reactor.getWriters() == []
    iterate(reactor)


def test_removeAfterRegularFileTookTheNumber(
    reactor: EPollReactor, descriptors: List[int], tmp_path: Any
) -> None:
    """
    C{removeReader} of an object whose number now names a regular file,
    which epoll cannot watch (EPERM from C{EPOLL_CTL_DEL}), raises nothing
    and forgets the object.
    """
    watcher, _ = _pair(descriptors, Watcher)
    reactor.addReader(watcher)
    regular = os.open(str(tmp_path / "regular"), os.O_RDWR | os.O_CREAT)
    descriptors.append(regular)
    os.dup2(regular, watcher.fd)
    reactor.removeReader(watcher)
    assert watcher not in reactor.getReaders()
    iterate(reactor)


def test_removeOfOtherObjectLeavesOwner(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    Removing an object that is not the one registered under its number
    touches neither the registered object's entry in the tables nor its
    registration in the kernel.
    """
    owner, peer = _pair(descriptors, Watcher)
    impostor = Watcher(owner.fd, "impostor")
    reactor.addReader(owner)
    reactor.addWriter(owner)
    reactor.removeReader(impostor)
    reactor.removeWriter(impostor)
    assert owner in reactor.getReaders()
    assert owner in reactor.getWriters()
    os.write(peer, b"x")
    iterate(reactor)
    assert owner.data == b"x"
    assert owner.writes > 0
    assert impostor.reads == impostor.writes == 0


def test_removeByIdentityWhenFilenoIsMinusOne(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    An object whose C{fileno()} has turned to -1 is still found by identity
    and removed, as in stock Twisted, and its kernel registration goes with
    it, so the next owner of the number registers cleanly.
    """
    watcher, _ = _pair(descriptors, SocketLike)
    reactor.addReader(watcher)
    fd = watcher.fd
    assert isinstance(watcher, SocketLike)
    watcher.closed = True  # fileno() says -1; the descriptor is still open
    reactor.removeReader(watcher)
    assert watcher not in reactor.getReaders()
    # The kernel no longer holds fd: adding it again is a plain ADD.
    fresh = Watcher(fd, "fresh")
    reactor.addReader(fresh)
    assert fresh in reactor.getReaders()


# Adding under a number a stale object still holds.


@pytest.mark.parametrize("first", ["addReader", "addWriter"])
@pytest.mark.parametrize("second", ["addReader", "addWriter"])
def test_addEvictsStaleOwnerAndWarns(
    reactor: EPollReactor,
    descriptors: List[int],
    warnings: List[str],
    first: str,
    second: str,
) -> None:
    """
    Adding a new object under a number that a closed, never removed object
    still holds drops the stale object, repairs the kernel registration,
    sends events to the new object only, and logs a warning that names both.
    """
    stale, _ = _pair(descriptors, Watcher)
    getattr(reactor, first)(stale)
    iterate(reactor, 1)
    stale.reads = stale.writes = 0
    newPeer = reuse(stale.fd)
    descriptors.append(newPeer)
    fresh = Watcher(stale.fd, "fresh")
    getattr(reactor, second)(fresh)
    os.write(newPeer, b"x")
    iterate(reactor)
    if second == "addReader":
        assert fresh.data == b"x"
    else:
        assert fresh.writes > 0
    assert stale.reads == stale.writes == 0
    assert stale not in reactor.getReaders() + reactor.getWriters()
    assert any(repr(stale) in w and repr(fresh) in w for w in warnings), warnings


@pytest.mark.parametrize("add", ["addReader", "addWriter"])
def test_addClosedDescriptorRaisesEBADF(
    reactor: EPollReactor, descriptors: List[int], add: str
) -> None:
    """
    Adding an object whose descriptor is closed raises C{OSError(EBADF)},
    registers nothing, and leaves every other registration alone.
    """
    bystander, peer = _pair(descriptors, Watcher)
    reactor.addReader(bystander)
    fd, other = socketPair()
    closeAll(fd, other)
    before = _state(reactor)
    with pytest.raises(OSError) as raised:
        getattr(reactor, add)(Watcher(fd, "closed"))
    assert raised.value.errno == errno.EBADF
    assert _state(reactor) == before
    os.write(peer, b"x")
    iterate(reactor)
    assert bystander.data == b"x"


def test_addClosedDescriptorUnderStaleNumber(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    Adding an object whose descriptor is closed, under a number that a stale
    object holds, raises C{OSError(EBADF)} and leaves no entry for either.
    """
    stale, _ = _pair(descriptors, Watcher)
    reactor.addReader(stale)
    _closeBehindBack(stale, descriptors)
    with pytest.raises(OSError) as raised:
        reactor.addWriter(Watcher(stale.fd, "closed"))
    assert raised.value.errno == errno.EBADF
    assert reactor.getReaders() == [reactor.waker]
    assert reactor.getWriters() == []
    iterate(reactor)


# Bad input.


@pytest.mark.parametrize("add", ["addReader", "addWriter"])
@pytest.mark.parametrize(
    "obj, expected", [pytest.param(o, e, id=n) for n, o, e in BAD_INPUT]
)
def test_badInputRaisesAndRegistersNothing(
    reactor: EPollReactor, add: str, obj: Any, expected: Tuple[type, ...]
) -> None:
    """
    C{addReader} and C{addWriter} of an object with no C{fileno}, a non-int
    C{fileno()}, a negative or an absurdly large number raise C{TypeError},
    C{ValueError} or C{OSError}, and register nothing.
    """
    before = _state(reactor)
    with pytest.raises(expected):
        getattr(reactor, add)(obj)
    assert _state(reactor) == before
    # Nor is a change queued for the next wait.
    reactor.doIteration(0)
    assert _state(reactor) == before


def test_filenoAttributeErrorIsNotMasked(reactor: EPollReactor) -> None:
    """
    An C{AttributeError} raised inside a C{fileno()} method is a bug in that
    method, and reaches the caller as it is.
    """

    class Broken:
        def fileno(self) -> int:
            raise AttributeError("inside fileno")

    with pytest.raises(AttributeError, match="inside fileno"):
        reactor.addReader(Broken())


# Failures found later, and what they set off.


def test_deferredModifyFailureLosesConnection(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    A change of mask queued for the next iteration that the kernel then
    refuses (the descriptor was closed meanwhile) ends in C{connectionLost}
    with the kernel's C{OSError}, not in a silent drop.
    """
    watcher, _ = _pair(descriptors, Watcher)
    reactor.addReader(watcher)
    iterate(reactor, 1)
    reactor.addWriter(watcher)
    _closeBehindBack(watcher, descriptors)
    iterate(reactor, 1)
    assert watcher.lost is not None
    assert isinstance(watcher.lost.value, OSError)
    assert watcher.lost.value.errno == errno.EBADF
    assert watcher not in reactor.getReaders() + reactor.getWriters()


def test_numberMovedUnderItsOwnerLosesItsConnection(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    A registered reader's number is C{dup2}'d over behind the reactor's
    back (the kernel drops the old file's registration, epoll(7) Q6), and
    its owner, whose C{fileno()} still names that number, then asks to
    write too.  The reactor's queued mask change finds no registration
    (ENOENT): the owner loses its connection, with a reason that says its
    number names another file now, and never reads the newcomer's bytes.
    """
    watcher, _ = _pair(descriptors, Watcher)
    reactor.addReader(watcher)
    iterate(reactor, 1)
    peer = reuse(watcher.fd)
    descriptors.append(peer)
    reactor.addWriter(watcher)
    os.write(peer, b"x")
    iterate(reactor, 1)
    assert watcher.lost is not None
    assert watcher.lost.check(OSError)
    assert watcher.lost.value.errno == errno.ENOENT
    assert "names another file" in str(watcher.lost.value)
    assert watcher.data == b""
    assert watcher not in reactor.getReaders()
    assert watcher not in reactor.getWriters()
    assert watcher.fd not in interestList(reactor._poller.fileno())


@pytest.mark.parametrize("reused", [False, True], ids=["closed", "reused"])
def test_staleEntryRevalidatesOthers(
    reactor: EPollReactor, descriptors: List[int], reused: bool
) -> None:
    """
    Once one stale entry is found, every other registration is checked
    before the next wait: one whose descriptor was also closed behind the
    reactor's back (or whose number now names a file no one registered)
    gets C{connectionLost}; a healthy one keeps working.
    """
    first, _ = _pair(descriptors, Watcher)
    second, _ = _pair(descriptors, Watcher)
    healthy, peer = _pair(descriptors, Watcher)
    for watcher in (first, second, healthy):
        reactor.addReader(watcher)
    _closeBehindBack(first, descriptors)
    _closeBehindBack(second, descriptors)
    if reused:
        descriptors.append(reuse(second.fd))
    reactor.removeReader(first)
    os.write(peer, b"x")
    iterate(reactor)
    assert second.lost is not None
    assert set(reactor.getReaders()) == {healthy, reactor.waker}
    assert set(reactor._selectables.values()) == {healthy, reactor.waker}
    assert healthy.data == b"x"
    assert healthy.lost is None


def test_revalidationCatchesMinusOne(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    A registered object whose C{fileno()} turned to -1 without removal is
    told its descriptor went away when the reactor revalidates.
    """
    first, _ = _pair(descriptors, Watcher)
    gone, _ = _pair(descriptors, SocketLike)
    reactor.addReader(first)
    reactor.addReader(gone)
    _closeBehindBack(first, descriptors)
    assert isinstance(gone, SocketLike)
    _closeBehindBack(gone, descriptors)
    reactor.removeReader(first)
    iterate(reactor, 1)
    assert gone.lost is not None
    assert gone.lost.check(error.ConnectionFdescWentAway)


def test_revalidationUnregistersOwnerThatSaysMinusOne(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    A registered object whose C{fileno()} says -1 while its descriptor is
    in fact still open loses its connection when the reactor revalidates,
    and its kernel registration goes too, so its events stop at once.
    """
    first, _ = _pair(descriptors, Watcher)
    liar, peer = _pair(descriptors, SocketLike)
    reactor.addReader(first)
    reactor.addReader(liar)
    _closeBehindBack(first, descriptors)
    assert isinstance(liar, SocketLike)
    liar.closed = True  # fileno() says -1; the descriptor stays open
    os.write(peer, b"x")
    reactor.removeReader(first)
    old = reactor._poller.fileno()
    iterate(reactor, 1)
    assert liar.lost is not None
    assert liar.lost.check(error.ConnectionFdescWentAway)
    assert reactor._poller.poll(0) == []
    iterate(reactor, 3)
    assert reactor._poller.fileno() == old


class Misreporting(Watcher):
    """
    A L{Watcher} whose C{fileno()} says what L{says} returns once it is
    set, whatever its descriptor.
    """

    says: Optional[Callable[[], int]] = None

    def fileno(self) -> int:
        """
        @return: what L{says} returns, else the number.
        """
        return self.fd if self.says is None else self.says()


def _raiseEbadf() -> int:
    """
    A C{fileno()} of a closed file object that raises instead of
    answering -1.
    """
    raise OSError(errno.EBADF, os.strerror(errno.EBADF))


@pytest.mark.parametrize("answer", ["another number", "raises"])
def test_revalidationLosesOwnerThatMisreports(
    reactor: EPollReactor, descriptors: List[int], answer: str
) -> None:
    """
    A registered object whose C{fileno()} now names another open
    descriptor, or raises, loses its connection when the reactor
    revalidates (with C{ConnectionFdescWentAway}, or with what C{fileno()}
    raised), and its own registration goes, so its events stop; the other
    number is not watched for it.
    """
    first, _ = _pair(descriptors, Watcher)
    liar, peer = _pair(descriptors, Misreporting)
    other, _ = _pair(descriptors, Watcher)
    reactor.addReader(first)
    reactor.addReader(liar)
    _closeBehindBack(first, descriptors)
    assert isinstance(liar, Misreporting)
    liar.says = (lambda: other.fd) if answer == "another number" else _raiseEbadf
    os.write(peer, b"x")
    reactor.removeReader(first)
    iterate(reactor, 1)
    assert liar.lost is not None
    if answer == "another number":
        assert liar.lost.check(error.ConnectionFdescWentAway)
    else:
        assert liar.lost.check(OSError)
        assert liar.lost.value.errno == errno.EBADF
    assert liar.data == b""
    assert liar not in reactor.getReaders()
    assert reactor._poller.poll(0) == []
    assert liar.fd not in interestList(reactor._poller.fileno())
    assert other.fd not in interestList(reactor._poller.fileno())


def test_closedEarlierInBatchIsToldNotRead(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    Of two readers ready in one batch, whichever is dispatched first closes
    the other's descriptor without removing it (its C{fileno()} turns to
    -1): the other gets no C{doRead} on the closed descriptor, but
    C{connectionLost} with C{ConnectionFdescWentAway}, as Twisted's
    C{_doReadOrWrite} decides for a selectable whose C{fileno()} is -1.
    """
    a, peerA = _pair(descriptors, SocketLike)
    b, peerB = _pair(descriptors, SocketLike)
    assert isinstance(a, SocketLike) and isinstance(b, SocketLike)

    def closeTheOther(watcher: Watcher) -> None:
        other = b if watcher is a else a
        if not other.closed:
            _closeBehindBack(other, descriptors)

    a.onRead = b.onRead = closeTheOther
    reactor.addReader(a)
    reactor.addReader(b)
    os.write(peerA, b"a")
    os.write(peerB, b"b")
    iterate(reactor, 1)
    closed, survivor = (a, b) if a.closed else (b, a)
    assert survivor.reads == 1
    assert survivor.data in (b"a", b"b")
    assert closed.reads == 0
    assert closed.lost is not None
    assert closed.lost.check(error.ConnectionFdescWentAway)


class CountingWatcher(Watcher):
    """
    A L{Watcher} that counts the calls of its C{fileno()}.
    """

    calls = 0

    def fileno(self) -> int:
        """
        @return: the number, counted.
        """
        self.calls += 1
        return self.fd


@pytest.mark.parametrize("idle", [10, 300])
def test_preenIsBoundedPerIteration(
    reactor: EPollReactor, descriptors: List[int], idle: int
) -> None:
    """
    After a stale entry is found, each iteration checks at most
    L{PREEN_BATCH} registrations (one C{fileno()} each), and every owner
    closed behind the reactor's back gets C{connectionLost} within
    C{ceil(2 * N / PREEN_BATCH) + 1} iterations of N registrations, however
    many idle ones there are.
    """
    watchers = [_pair(descriptors, CountingWatcher)[0] for _ in range(idle)]
    for watcher in watchers:
        reactor.addReader(watcher)
    closed = watchers[:: max(1, idle // 4)]
    for watcher in closed:
        _closeBehindBack(watcher, descriptors)
    registrations = len(reactor.getReaders())
    bound = math.ceil(2 * registrations / PREEN_BATCH) + 1
    # The stale entry that starts the preen.
    reactor.removeReader(closed[0])
    iterations = 0
    while any(watcher.lost is None for watcher in closed[1:]):
        for watcher in watchers:
            watcher.calls = 0
        reactor.doIteration(0)
        iterations += 1
        # Each checked one is asked once (one that loses its connection is
        # asked again by the removals that follow).
        assert sum(1 for watcher in watchers if watcher.calls) <= PREEN_BATCH
        assert iterations <= bound, (iterations, bound)
    assert all(watcher.lost is None for watcher in watchers if watcher not in closed)


def test_preenDoesNotWaitForATimeout(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    An iteration that checks registrations for a preen does not wait, even
    when asked to wait until an event arrives: the preen finishes, and the
    owner closed behind the reactor's back hears of it, with no event.
    """
    watchers = [_pair(descriptors, Watcher)[0] for _ in range(3 * PREEN_BATCH)]
    for watcher in watchers:
        reactor.addReader(watcher)
    last = watchers[-1]
    _closeBehindBack(watchers[0], descriptors)
    _closeBehindBack(last, descriptors)
    reactor.removeReader(watchers[0])
    for _ in range(math.ceil(2 * len(watchers) / PREEN_BATCH) + 1):
        if last.lost is not None:
            break
        reactor.doIteration(None)
    assert last.lost is not None


def test_movedObjectIsRegisteredOnce(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    An object whose C{fileno()} changed since it was added (its socket was
    swapped) and that is added again is moved, with the interest it had, to
    its new number: it is listed once, the kernel watches only the new
    number, and one C{removeReader} and C{removeWriter} take it away.
    """
    watcher, _ = _pair(descriptors, Watcher)
    old = watcher.fd
    reactor.addReader(watcher)
    iterate(reactor, 1)
    watcher.fd = _pair(descriptors, Watcher)[0].fd
    reactor.addWriter(watcher)
    iterate(reactor, 1)
    assert reactor.getReaders().count(watcher) == 1
    assert reactor.getWriters() == [watcher]
    interest = interestList(reactor._poller.fileno())
    assert old not in interest
    assert interest[watcher.fd].events & (EPOLLIN | EPOLLOUT) == EPOLLIN | EPOLLOUT
    reactor.removeReader(watcher)
    reactor.removeWriter(watcher)
    assert watcher not in reactor.getReaders() + reactor.getWriters()
    assert watcher.fd not in interestList(reactor._poller.fileno())


def test_removeAllListsAMovedObjectOnce(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    C{removeAll} returns an object moved to a new number once, and leaves
    nothing of it registered.
    """
    watcher, _ = _pair(descriptors, Watcher)
    reactor.addReader(watcher)
    reactor.addWriter(watcher)
    watcher.fd = _pair(descriptors, Watcher)[0].fd
    reactor.addReader(watcher)
    assert reactor.removeAll() == [watcher]
    assert reactor.getReaders() == [reactor.waker]
    assert reactor.getWriters() == []
    assert set(interestList(reactor._poller.fileno())) == {reactor.waker.fileno()}


def test_filenoReturningAListSaysSo(reactor: EPollReactor) -> None:
    """
    An object whose C{fileno()} returns a list gets the reactor's
    C{TypeError}, which names what it returned, not a complaint about
    hashing.
    """
    with pytest.raises(TypeError, match=r"fileno\(\) returned \[3\], not an int"):
        reactor.addReader(_FilenoList())


class _FilenoList:
    """
    An object whose C{fileno()} returns a list.
    """

    def fileno(self) -> List[int]:
        """
        @return: a list, which no descriptor is.
        """
        return [3]


@pytest.mark.parametrize("found", ["deferred change", "preen", "routine"])
def test_numberDup2dOverUnderSameOwnerIsNeverReadForIt(
    reactor: EPollReactor, descriptors: List[int], found: str
) -> None:
    """
    One policy for a number whose file was replaced behind the reactor's
    back (C{dup2}) while its owner still reports it: the kernel dropped the
    entry (fact 1), and whether a queued change of its mask, a preen or the
    routine checks (a L{WATCH_PERIOD} later) find it, the owner loses its
    connection and the new file is not watched for it, so the newcomer's
    bytes stay unread.
    """
    watcher, _ = _pair(descriptors, Watcher)
    reactor.addReader(watcher)
    iterate(reactor, 1)
    peer = reuse(watcher.fd)
    descriptors.append(peer)
    if found == "deferred change":
        reactor.addWriter(watcher)
    elif found == "preen":
        other, _ = _pair(descriptors, Watcher)
        reactor.addReader(other)
        _closeBehindBack(other, descriptors)
        reactor.removeReader(other)
    else:
        table = reactor._registrations
        began = table.clock()
        table.clock = lambda: began + WATCH_PERIOD
    iterate(reactor, 1)
    os.write(peer, b"x")
    iterate(reactor, 1)
    assert watcher.lost is not None
    assert watcher.lost.value.errno == errno.ENOENT
    assert watcher.data == b""
    assert watcher not in reactor.getReaders()
    assert watcher.fd not in interestList(reactor._poller.fileno())


def test_ghostEventsRebuildTheInstance(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    A registration the kernel keeps for a file that survives in a duplicate
    after its number was closed and removed keeps reporting events no one
    can take; the reactor replaces its epoll instance, keeps every other
    registration, and the ghost stops waking it.
    """
    ghost, ghostPeer = _pair(descriptors, Watcher)
    healthy, peer = _pair(descriptors, Watcher)
    writer, _ = _pair(descriptors, Watcher)
    reactor.addReader(ghost)
    reactor.addReader(healthy)
    reactor.addWriter(writer)
    descriptors.append(os.dup(ghost.fd))
    _closeBehindBack(ghost, descriptors)
    reactor.removeReader(ghost)
    os.write(ghostPeer, b"boo")
    old = reactor._poller.fileno()
    iterate(reactor, 4)
    assert reactor._poller.fileno() != old
    assert reactor._poller.poll(0) == [(writer.fd, 4)]
    os.write(peer, b"x")
    iterate(reactor)
    assert healthy.data == b"x"
    assert writer.writes > 0
    assert ghost.reads == 0


def test_oneStaleEventDoesNotRebuild(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    A single event for a registration replaced within the batch is dropped
    without rebuilding the epoll instance.
    """
    ok, detail = SCENARIOS[5][2](reactor)
    assert ok, detail
    old = reactor._poller.fileno()
    iterate(reactor, 3)
    assert reactor._poller.fileno() == old


# Hang-ups with input still buffered (Twisted issue 7932).


def test_hangUpOnPipeReadsEverything(
    reactor: EPollReactor, descriptors: List[int]
) -> None:
    """
    A pipe whose writer wrote more than one read takes and then closed
    reports EPOLLHUP; the reader gets every byte, then C{ConnectionDone}.
    """
    readEnd, writeEnd = os.pipe()
    descriptors += [readEnd, writeEnd]
    os.set_blocking(readEnd, False)
    watcher = Watcher(readEnd, "pipe")
    reactor.addReader(watcher)
    payload = os.urandom(60000)
    os.write(writeEnd, payload)
    os.close(writeEnd)
    descriptors.remove(writeEnd)
    for _ in range(10):
        reactor.doIteration(0)
        if watcher.lost is not None:
            break
    assert watcher.data == payload
    assert watcher.lost is not None
    assert watcher.lost.check(error.ConnectionDone)


class _Collector(protocol.ProcessProtocol):
    """
    Gathers a child's standard output.
    """

    def __init__(self) -> None:
        self.out = b""
        self.outEnded = False
        self.ended: Any = None

    def outReceived(self, data: bytes) -> None:
        self.out += data

    def outConnectionLost(self) -> None:
        self.outEnded = True

    def processEnded(self, reason: Any) -> None:
        self.ended = reason


def test_processOutputSurvivesHangUp(reactor: EPollReactor) -> None:
    """
    Children that write and exit at once, so that the hang-up can race
    their last write (Twisted issue 7932): every byte of every child's
    output arrives before its output is reported closed.
    """
    script = "import sys; sys.stdout.write('x' * 70000 + 'end')"
    children = [_Collector() for _ in range(12)]
    for child in children:
        reactor.spawnProcess(
            child, sys.executable, [sys.executable, "-c", script], env=None
        )
    # The reactor is not running, so no SIGCHLD handler reaps the children;
    # reap them here, as that handler would.
    for _ in range(2000):
        if all(child.ended is not None for child in children):
            break
        reactor.doIteration(0.05)
        reapAllProcesses()
    for child in children:
        assert child.outEnded
        assert child.out == b"x" * 70000 + b"end"
        assert child.ended is not None
