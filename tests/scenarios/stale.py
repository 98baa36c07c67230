"""
Closed, reused and duplicated descriptors, hang-ups, bad input and fork,
each as a function that takes a reactor class and says whether the reactor
handled the situation.

Every scenario runs on real descriptors (socket pairs and pipes), and uses
C{dup2(2)} to put a new file under a number the reactor still knows, because
that is what the kernel does to a busy server when application code closes a
descriptor without removing it first.  The same code runs against Twisted's
stock C{EPollReactor} and ours; L{tests.scenarios.compare} prints the table.
"""

import errno
import os
import socket
from typing import Any, Callable, List, Optional, Tuple

from twisted.internet import error
from twisted.internet.main import CONNECTION_DONE

from epollreactor._libc import EPOLL_CTL_MOD, EVENT, epoll_ctl
from tests.kernel import interestList

#: A scenario's verdict: whether the reactor handled it, and what happened.
Outcome = Tuple[bool, str]


class Watcher:
    """
    A read and write descriptor over a raw descriptor number that it keeps
    after the descriptor is closed, as Twisted's process pipes do.

    @ivar fd: the descriptor number L{fileno} returns.
    @ivar data: everything L{doRead} has read.
    @ivar reads: how many times L{doRead} ran.
    @ivar writes: how many times L{doWrite} ran.
    @ivar lost: the reason given to L{connectionLost}, if it ran.
    @ivar onRead: called with this watcher before each read, if set.
    """

    def __init__(self, fd: int, name: str = "watcher") -> None:
        self.fd = fd
        self.name = name
        self.data = b""
        self.reads = 0
        self.writes = 0
        self.lost: Any = None
        self.onRead: Optional[Callable[[Watcher], None]] = None

    def fileno(self) -> int:
        """
        @return: the descriptor number given at creation.
        """
        return self.fd

    def logPrefix(self) -> str:
        """
        @return: the name given at creation.
        """
        return self.name

    def doRead(self) -> Any:
        """
        Read what is there; report end-of-file as C{CONNECTION_DONE}.
        """
        self.reads += 1
        if self.onRead is not None:
            self.onRead(self)
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return None
        except OSError as e:
            return error.ConnectionLost(str(e))
        if not chunk:
            return CONNECTION_DONE
        self.data += chunk
        return None

    def doWrite(self) -> Any:
        """
        Count the call; there is nothing to write.
        """
        self.writes += 1
        return None

    def connectionLost(self, reason: Any) -> None:
        """
        Record C{reason}.
        """
        self.lost = reason


def socketPair() -> Tuple[int, int]:
    """
    @return: the two descriptor numbers of a new non-blocking UNIX stream
        socket pair.
    """
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a.detach(), b.detach()


def reuse(number: int) -> int:
    """
    Put one end of a new socket pair under C{number}, closing whatever file
    the number named (C{dup2(2)}), as the kernel does when it hands a freed
    number to the next C{accept}.

    @return: the number of the other end of the new pair.
    """
    mine, peer = socketPair()
    os.dup2(mine, number)
    os.close(mine)
    return peer


def closeAll(*fds: int) -> None:
    """
    Close every number in C{fds}, ignoring those already closed.
    """
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def iterate(reactor: Any, times: int = 3) -> None:
    """
    Run C{times} iterations of C{reactor} without waiting.
    """
    for _ in range(times):
        reactor.doIteration(0)


def dispose(reactor: Any) -> None:
    """
    Close what C{reactor} opened: its waker and its epoll instance.  A
    reactor whose tables a scenario corrupted may fail to remove the rest;
    what it opened is closed all the same.
    """
    try:
        reactor.removeAll()
    except Exception:
        pass
    waker = getattr(reactor, "waker", None)
    if waker is not None:
        _raised(lambda: reactor.removeReader(waker))
        waker.connectionLost(None)
    reactor._poller.close()


def _raised(call: Callable[[], Any]) -> Optional[BaseException]:
    try:
        call()
    except Exception as e:
        return e
    return None


def _name(exception: Optional[BaseException]) -> str:
    if exception is None:
        return "no exception"
    return "{}({})".format(
        type(exception).__name__,
        errno.errorcode.get(getattr(exception, "errno", None) or 0, exception),
    )


def _listing(reactor: Any, watcher: Watcher) -> str:
    """
    @return: whether C{reactor.getReaders()} lists C{watcher}, or how it
        failed to tell.
    """
    try:
        readers = reactor.getReaders()
    except Exception as e:
        return "tables corrupt, getReaders raised {}".format(_name(e))
    return "still listed" if watcher in readers else "forgotten"


# Each scenario takes a reactor instance and returns an Outcome.


def removeAfterClose(reactor: Any) -> Outcome:
    """
    C{removeReader} of an object whose descriptor was closed behind the
    reactor's back (EBADF from C{EPOLL_CTL_DEL}).
    """
    fd, peer = socketPair()
    watcher = Watcher(fd)
    reactor.addReader(watcher)
    os.close(fd)
    raised = _raised(lambda: reactor.removeReader(watcher))
    still = _listing(reactor, watcher)
    closeAll(peer)
    ok = raised is None and still == "forgotten"
    return ok, "{}; {}".format(_name(raised), still)


def removeAfterReuse(reactor: Any) -> Outcome:
    """
    C{removeReader} of an object whose number now names another file
    (ENOENT from C{EPOLL_CTL_DEL}).
    """
    fd, peer = socketPair()
    watcher = Watcher(fd)
    reactor.addReader(watcher)
    newPeer = reuse(fd)
    raised = _raised(lambda: reactor.removeReader(watcher))
    still = _listing(reactor, watcher)
    closeAll(fd, peer, newPeer)
    ok = raised is None and still == "forgotten"
    return ok, "{}; {}".format(_name(raised), still)


def addReaderOnReusedNumber(reactor: Any) -> Outcome:
    """
    C{addReader} of a new object under a number that a closed, never removed
    object still holds: the new object must get its data.
    """
    fd, peer = socketPair()
    stale = Watcher(fd, "stale")
    reactor.addReader(stale)
    newPeer = reuse(fd)
    fresh = Watcher(fd, "fresh")
    raised = _raised(lambda: reactor.addReader(fresh))
    os.write(newPeer, b"x")
    iterate(reactor)
    closeAll(fd, peer, newPeer)
    ok = raised is None and fresh.data == b"x" and stale.reads == 0
    return ok, "{}; new object read {!r}".format(_name(raised), fresh.data)


def addWriterOnReusedNumber(reactor: Any) -> Outcome:
    """
    C{addWriter} of a new object under a number that a closed, never removed
    reader still holds (Twisted issue 11625): no exception, and write events
    go to the new object only.
    """
    fd, peer = socketPair()
    stale = Watcher(fd, "stale")
    reactor.addReader(stale)
    newPeer = reuse(fd)
    fresh = Watcher(fd, "fresh")
    raised = _raised(lambda: reactor.addWriter(fresh))
    iterate(reactor)
    closeAll(fd, peer, newPeer)
    ok = raised is None and fresh.writes > 0 and stale.writes == stale.reads == 0
    return ok, "{}; new object wrote {} times".format(_name(raised), fresh.writes)


def lateRemoveOfStaleObject(reactor: Any) -> Outcome:
    """
    A second C{removeReader} of an object removed and closed earlier, after
    its number went to a new reader (Twisted issues 6373, 6346): the new
    reader keeps its registration.
    """
    fd, peer = socketPair()
    stale = Watcher(fd, "stale")
    reactor.addReader(stale)
    reactor.removeReader(stale)
    newPeer = reuse(fd)
    fresh = Watcher(fd, "fresh")
    reactor.addReader(fresh)
    raised = _raised(lambda: reactor.removeReader(stale))
    os.write(newPeer, b"x")
    iterate(reactor)
    closeAll(fd, peer, newPeer)
    ok = raised is None and fresh.data == b"x"
    return ok, "{}; new reader read {!r}".format(_name(raised), fresh.data)


def _twoReady(
    reactor: Any, make: Callable[[int, str], Watcher]
) -> Tuple[List[Watcher], List[int]]:
    fds: List[int] = []
    watchers: List[Watcher] = []
    for name in ("first", "second"):
        fd, peer = socketPair()
        fds += [fd, peer]
        watcher = make(fd, name)
        watchers.append(watcher)
        os.write(peer, b"x")
    return watchers, fds


def staleEventInBatch(reactor: Any) -> Outcome:
    """
    While one C{epoll_wait(2)} batch is dispatched, the first object to run
    removes and closes the other, whose number goes at once to a new reader
    with nothing to read: the batch's event for the old file must not reach
    the new reader (fact 3 in L{epollreactor._reactor}).
    """
    watchers, fds = _twoReady(reactor, Watcher)
    newcomers: List[Watcher] = []

    def swap(me: Watcher) -> None:
        if newcomers:
            return
        other = watchers[1] if me is watchers[0] else watchers[0]
        reactor.removeReader(other)
        fds.append(reuse(other.fd))
        newcomer = Watcher(other.fd, "newcomer")
        newcomers.append(newcomer)
        reactor.addReader(newcomer)

    for watcher in watchers:
        watcher.onRead = swap
        reactor.addReader(watcher)
    raised = _raised(lambda: reactor.doIteration(0))
    closeAll(*fds)
    spurious = newcomers[0].reads if newcomers else -1
    ok = raised is None and spurious == 0
    return ok, "{}; new reader woken {} times for the old file".format(
        _name(raised), spurious
    )


def writerRemovedEarlierInBatch(reactor: Any) -> Outcome:
    """
    Two objects readable and writable in one batch; the first to run takes
    the other's write interest away.  The other, now a reader only without a
    C{doWrite}, must not get C{doWrite} (Twisted issues 6796, 4759).
    """
    watchers, fds = _twoReady(reactor, Watcher)
    done: List[bool] = []

    def takeWriter(me: Watcher) -> None:
        if done:
            return
        done.append(True)
        other = watchers[1] if me is watchers[0] else watchers[0]
        reactor.removeWriter(other)
        # From now on the other is a reader only, with no doWrite at all.
        other.doWrite = None  # type: ignore[assignment]

    lost: List[Any] = []
    for watcher in watchers:
        watcher.onRead = takeWriter
        reactor.addReader(watcher)
        reactor.addWriter(watcher)
    # Only the read event is wanted; the write interest above is there for
    # the other object to take away.
    raised = _raised(lambda: reactor.doIteration(0))
    lost = [w.lost for w in watchers if w.lost is not None]
    closeAll(*fds)
    ok = raised is None and not lost
    return ok, "{}; {}".format(
        _name(raised),
        "reader disconnected: {}".format(lost[0].value) if lost else "no doWrite",
    )


def ghostEventsAfterDupAndClose(reactor: Any) -> Outcome:
    """
    A registered descriptor is duplicated and closed behind the reactor's
    back, and then removed: its open file survives in the duplicate, so the
    kernel keeps its registration and reports it readable on every wait,
    under a number no one holds (celery 4185, libuv 1468).  The reactor must
    stop hearing about it.
    """
    fd, peer = socketPair()
    watcher = Watcher(fd)
    reactor.addReader(watcher)
    duplicate = os.dup(fd)
    os.close(fd)
    raised = _raised(lambda: reactor.removeReader(watcher))
    os.write(peer, b"x")
    iterate(reactor, 5)
    ghosts = reactor._poller.poll(0)
    closeAll(duplicate, peer)
    ok = raised is None and not ghosts
    return ok, "{}; {} event(s) still reported per wait".format(
        _name(raised), len(ghosts)
    )


def _kernelMaskWithoutInput(reactor: Any, fd: int) -> None:
    """
    Take EPOLLIN out of the kernel's mask for C{fd}, leaving our tables as
    they are, so the next wait reports EPOLLHUP alone: what a pipe reports
    when C{pipe_poll} samples the buffer just before the writer's last write
    and the writer count just after its close (Twisted issue 7932).
    """
    # The entry's epoll_data as the kernel has it (ours tags it with a
    # generation, stock does not), so that only the mask changes.
    epfd = reactor._poller.fileno()
    number, tag = interestList(epfd)[fd].words
    assert epoll_ctl(epfd, EPOLL_CTL_MOD, fd, EVENT.pack(0, number, tag)) == 0


def hangUpWithBufferedInput(reactor: Any) -> Outcome:
    """
    A pipe's writer writes and closes; the wait reports EPOLLHUP without
    EPOLLIN (the race of Twisted issue 7932).  The reader must still get
    every byte before it is told the connection is done.
    """
    readEnd, writeEnd = os.pipe()
    os.set_blocking(readEnd, False)
    watcher = Watcher(readEnd, "pipe")
    reactor.addReader(watcher)
    os.write(writeEnd, b"last words")
    os.close(writeEnd)
    _kernelMaskWithoutInput(reactor, readEnd)
    raised = None
    for _ in range(5):
        raised = raised or _raised(lambda: reactor.doIteration(0))
        if watcher.lost is not None:
            break
    closeAll(readEnd)
    ok = raised is None and watcher.data == b"last words" and watcher.lost is not None
    return ok, "{}; read {!r} before {}".format(
        _name(raised),
        watcher.data,
        type(watcher.lost.value).__name__ if watcher.lost else "no end",
    )


def addClosedDescriptor(reactor: Any) -> Outcome:
    """
    C{addReader} and C{addWriter} of an object whose descriptor is closed
    raise C{OSError(EBADF)} and leave everyone else's registration alone.
    """
    fd, peer = socketPair()
    bystander = Watcher(fd, "bystander")
    reactor.addReader(bystander)
    closedFd, otherPeer = socketPair()
    closeAll(closedFd, otherPeer)
    results = []
    for add in (reactor.addReader, reactor.addWriter):
        raised = _raised(lambda: add(Watcher(closedFd, "closed")))
        results.append(isinstance(raised, OSError) and raised.errno == errno.EBADF)
    os.write(peer, b"x")
    iterate(reactor)
    closeAll(fd, peer)
    ok = all(results) and bystander.data == b"x"
    return ok, "EBADF raised: {}; bystander read {!r}".format(results, bystander.data)


class _FilenoReturns:
    def __init__(self, value: Any) -> None:
        self.value = value

    def fileno(self) -> Any:
        return self.value

    def logPrefix(self) -> str:
        return "bad"

    def doRead(self) -> None:
        pass

    def connectionLost(self, reason: Any) -> None:
        pass


#: Bad arguments to addReader, and the exceptions that make a clear error.
BAD_INPUT: List[Tuple[str, Any, Tuple[type, ...]]] = [
    ("no fileno", object(), (TypeError,)),
    ("fileno() is a str", _FilenoReturns("3"), (TypeError,)),
    ("fileno() is a float", _FilenoReturns(3.0), (TypeError,)),
    ("fileno() is None", _FilenoReturns(None), (TypeError,)),
    ("fileno() is a list", _FilenoReturns([3]), (TypeError,)),
    ("fileno() is -1", _FilenoReturns(-1), (ValueError,)),
    ("fileno() is -5", _FilenoReturns(-5), (ValueError,)),
    ("fileno() is 2**31", _FilenoReturns(2**31), (ValueError,)),
    ("fileno() is 2**64", _FilenoReturns(2**64), (ValueError,)),
    ("fileno() is 2**30", _FilenoReturns(2**30), (OSError,)),
]


def badInput(reactor: Any) -> Outcome:
    """
    C{addReader} of objects with no C{fileno}, a non-int C{fileno()}, or a
    negative or absurdly large number raises C{TypeError}, C{ValueError} or
    C{OSError} and registers nothing.
    """
    before = set(reactor.getReaders())
    wrong = []
    for name, obj, expected in BAD_INPUT:
        raised = _raised(lambda: reactor.addReader(obj))
        if not isinstance(raised, expected):
            wrong.append("{}: {}".format(name, type(raised).__name__))
    leftover = set(reactor.getReaders()) - before
    ok = not wrong and not leftover
    return ok, "; ".join(wrong) or "all clear errors" + (
        "; registered {}".format(leftover) if leftover else ""
    )


def forkedChildRemoves(reactor: Any) -> Outcome:
    """
    After C{fork()}, the child removes one of the parent's readers and closes
    it; the parent's reader must keep getting its data (fact 6).
    """
    fd, peer = socketPair()
    watcher = Watcher(fd, "parent")
    reactor.addReader(watcher)
    iterate(reactor, 1)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            reactor.removeReader(watcher)
            os.close(fd)
            reactor.doIteration(0)
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    os.write(peer, b"x")
    iterate(reactor)
    closeAll(fd, peer)
    ok = watcher.data == b"x" and os.WEXITSTATUS(status) == 0
    return ok, "parent read {!r} after the child removed its copy".format(watcher.data)


#: Every scenario, with the Twisted issue or kernel fact it comes from.
SCENARIOS: List[Tuple[str, str, Callable[[Any], Outcome]]] = [
    ("removeReader after close (EBADF)", "11625", removeAfterClose),
    ("removeReader after number reuse (ENOENT)", "11625", removeAfterReuse),
    ("addReader on a reused number", "6373", addReaderOnReusedNumber),
    ("addWriter on a reused number", "11625", addWriterOnReusedNumber),
    ("late removeReader of a stale object", "6373/6346", lateRemoveOfStaleObject),
    ("stale event in the same batch", "fact 3", staleEventInBatch),
    ("writer removed earlier in the batch", "6796/4759", writerRemovedEarlierInBatch),
    ("ghost events after dup and close", "celery 4185", ghostEventsAfterDupAndClose),
    ("EPOLLHUP with input buffered", "7932", hangUpWithBufferedInput),
    ("add a closed descriptor", "EBADF", addClosedDescriptor),
    ("bad input to addReader", "-", badInput),
    ("forked child removes a reader", "fact 6", forkedChildRemoves),
]


def run(reactorClass: Callable[[], Any], scenario: Callable[[Any], Outcome]) -> Outcome:
    """
    Run C{scenario} on a new reactor of C{reactorClass}, then dispose of it.

    @return: the scenario's outcome; an exception escaping it is a failure.
    """
    reactor = reactorClass()
    try:
        return scenario(reactor)
    except Exception as e:
        return False, "escaped: {!r}".format(e)
    finally:
        dispose(reactor)


__all__ = ["SCENARIOS", "Outcome", "Watcher", "run", "socketPair", "reuse"]
