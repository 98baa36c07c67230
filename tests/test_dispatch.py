"""
What a selectable observes of L{EPollReactor}'s event dispatch, which builds
the log context of C{log.callWithLogger} itself instead of calling it (Twisted
issue 2534; bench/README.md, "lean dispatch"): the same C{system} in what it
logs, the same logging and disconnection when it raises, on real socket
pairs, compared with Twisted's stock reactor where that has one.
"""

import errno
import os
import socket
from typing import Any, Dict, Iterator, List, Optional

from zope.interface import implementer

import pytest
from twisted.internet import abstract
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.python import context, log
from twisted.python.failure import Failure

from epollreactor import EPollReactor
from tests.test_earlywrite import Echo, serveEcho

try:
    from twisted.internet.epollreactor import EPollReactor as StockEPollReactor
except ImportError:
    # No select.epoll (make test-noepoll): the stock side skips.
    StockEPollReactor = None  # type: ignore[assignment,misc]

REACTORS = [
    pytest.param(EPollReactor, id="ours"),
    pytest.param(StockEPollReactor, id="stock", marks=pytest.mark.requiresSelectEpoll),
]


class Logging(abstract.FileDescriptor):
    """
    One end of a socket pair that logs from C{doRead}, reads what is there,
    and raises from C{doRead} when told to.

    @ivar prefix: what C{logPrefix} returns; an exception instance is raised
        instead.
    @ivar fail: an exception for C{doRead} to raise, if any.
    @ivar lost: the reasons passed to C{connectionLost}.
    """

    def __init__(self, sock: socket.socket, reactor: Any, prefix: Any) -> None:
        abstract.FileDescriptor.__init__(self, reactor)
        self.socket = sock
        self.prefix = prefix
        self.fail: Optional[BaseException] = None
        self.lost: List[Failure] = []

    def fileno(self) -> int:
        """
        @return: the socket's descriptor.
        """
        return self.socket.fileno()

    def logPrefix(self) -> str:
        """
        @return: L{prefix}, or raise it.
        """
        if isinstance(self.prefix, BaseException):
            raise self.prefix
        return str(self.prefix)

    def doRead(self) -> None:
        """
        Log, drain the socket, then raise L{fail} if set.
        """
        log.msg("reading")
        self.socket.recv(65536)
        if self.fail is not None:
            raise self.fail

    def connectionLost(self, reason: Failure) -> None:
        """
        Record C{reason}.
        """
        self.lost.append(reason)
        self.reactor.removeReader(self)
        self.reactor.removeWriter(self)


@pytest.fixture
def events() -> Iterator[List[Dict[str, Any]]]:
    """
    Every legacy log event emitted during the test.
    """
    seen: List[Dict[str, Any]] = []
    log.addObserver(seen.append)
    yield seen
    log.removeObserver(seen.append)


def dispatchOne(reactorType: Any, prefix: Any, fail: Optional[BaseException]) -> Any:
    """
    Make one end of a socket pair readable, register it with a new reactor of
    C{reactorType} and run iterations until C{doRead} has run.

    @return: the L{Logging} selectable.
    """
    reactor = reactorType()
    a, b = socket.socketpair()
    try:
        selectable = Logging(a, reactor, prefix)
        selectable.fail = fail
        reactor.addReader(selectable)
        b.send(b"x")
        for _ in range(100):
            reactor.doIteration(0.01)
            if selectable.lost or _drained(a):
                break
        reactor.removeAll()
        return selectable
    finally:
        a.close()
        b.close()
        reactor._poller.close()


def _drained(sock: socket.socket) -> bool:
    """
    @return: whether C{sock} has nothing left to read.
    """
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    return False


def systems(events: List[Dict[str, Any]], text: str) -> List[Any]:
    """
    @return: the C{system} of every event whose message is C{text}.
    """
    return [e.get("system") for e in events if e.get("message") == (text,)]


@pytest.mark.parametrize("reactorType", REACTORS)
def test_systemIsLogPrefix(reactorType: Any, events: List[Dict[str, Any]]) -> None:
    """
    What C{doRead} logs carries the selectable's C{logPrefix()} as
    C{system}, and the log context is back to what it was afterwards.
    """
    before = context.get(log.ILogContext)
    dispatchOne(reactorType, "prefix-one", None)
    assert systems(events, "reading") == ["prefix-one"]
    assert context.get(log.ILogContext) == before


@pytest.mark.parametrize("reactorType", REACTORS)
def test_failureLoggedAndDisconnects(
    reactorType: Any, events: List[Dict[str, Any]]
) -> None:
    """
    An exception from C{doRead} is logged with the selectable's prefix and
    disconnects it with that exception as the reason.
    """
    selectable = dispatchOne(reactorType, "prefix-two", RuntimeError("boom"))
    errors = [e for e in events if e.get("isError")]
    assert [e.get("system") for e in errors] == ["prefix-two"]
    assert [r.type for r in selectable.lost] == [RuntimeError]


@pytest.mark.parametrize("reactorType", REACTORS)
def test_buggyLogPrefix(reactorType: Any, events: List[Dict[str, Any]]) -> None:
    """
    A C{logPrefix} that raises is logged as an error and the event is
    still dispatched, under the system C{"(buggy logPrefix method)"}.
    """
    dispatchOne(reactorType, ValueError("no prefix"), None)
    assert systems(events, "reading") == ["(buggy logPrefix method)"]
    assert any(e.get("isError") and e["failure"].type is ValueError for e in events)


def test_logContextChangesBetweenIterations(events: List[Dict[str, Any]]) -> None:
    """
    The reactor keeps its dispatcher between iterations, but a change of the
    log context (as C{log.callWithContext} around an iteration makes) is
    seen by the next one.
    """
    reactor = EPollReactor()
    a, b = socket.socketpair()
    try:
        selectable = Logging(a, reactor, "prefix-three")
        reactor.addReader(selectable)
        b.send(b"x")
        reactor.doIteration(0.01)
        b.send(b"y")
        log.callWithContext({"extra": "outer"}, reactor.doIteration, 0.01)
        reading = [e for e in events if e.get("message") == ("reading",)]
        assert [e.get("extra") for e in reading] == [None, "outer"]
        assert [e.get("system") for e in reading] == ["prefix-three"] * 2
    finally:
        reactor.removeAll()
        a.close()
        b.close()
        reactor._poller.close()


def test_otherContextTracker(events: List[Dict[str, Any]]) -> None:
    """
    Under a context tracker of another kind than Twisted's own, the reactor
    dispatches through C{log.callWithLogger}, which uses it.
    """
    original = context.theContextTracker
    context.installContextTracker(context.ContextTracker())
    try:
        dispatchOne(EPollReactor, "prefix-four", None)
    finally:
        context.installContextTracker(original)
    assert systems(events, "reading") == ["prefix-four"]


class StopsWritingOnRead(abstract.FileDescriptor):
    """
    One end of a socket pair that wants to read and to write, and whose
    C{doRead} takes its write interest away.

    @ivar calls: C{"doRead"} and C{"doWrite"}, in the order they came.
    """

    def __init__(self, sock: socket.socket, reactor: Any) -> None:
        abstract.FileDescriptor.__init__(self, reactor)
        self.socket = sock
        self.calls: List[str] = []

    def fileno(self) -> int:
        """
        @return: the socket's descriptor.
        """
        return self.socket.fileno()

    def doRead(self) -> None:
        """
        Drain the socket and stop writing.
        """
        self.calls.append("doRead")
        self.socket.recv(65536)
        self.reactor.removeWriter(self)

    def doWrite(self) -> None:
        """
        Record the call.
        """
        self.calls.append("doWrite")

    def connectionLost(self, reason: Any) -> None:
        """
        Record the call: a failure in dispatch ends in it.
        """
        self.calls.append("connectionLost")


class HandsOverOnRead(StopsWritingOnRead):
    """
    Like L{StopsWritingOnRead}, but its C{doRead} adds another selectable
    on the same descriptor as a writer instead: the last one added under a
    number owns it, so this one is dropped from the reactor's lists.

    @ivar successor: that other selectable.
    """

    def __init__(self, sock: socket.socket, reactor: Any) -> None:
        StopsWritingOnRead.__init__(self, sock, reactor)
        self.successor = StopsWritingOnRead(sock, reactor)

    def doRead(self) -> None:
        """
        Drain the socket and hand the descriptor over.
        """
        self.calls.append("doRead")
        self.socket.recv(65536)
        self.reactor.addWriter(self.successor)


@pytest.fixture(params=["Twisted's own", "of another kind"])
def contextTracker(request: pytest.FixtureRequest) -> Iterator[str]:
    """
    Each kind of log context tracker, one per way the reactor dispatches:
    its own copy of the context under Twisted's, C{log.callWithLogger}
    under another kind.
    """
    original = context.theContextTracker
    if request.param != "Twisted's own":
        context.installContextTracker(context.ContextTracker())
    try:
        yield request.param
    finally:
        context.installContextTracker(original)


@pytest.mark.parametrize("kind", [StopsWritingOnRead, HandsOverOnRead])
def test_noDoWriteOnceDoReadStoppedWriting(contextTracker: str, kind: Any) -> None:
    """
    An event that finds a selectable both readable and writable gives it no
    C{doWrite} when its C{doRead} took the write interest away, or handed
    its descriptor to another selectable: the interest and the owner are
    checked again between the two calls (Twisted's C{_doReadOrWrite} does
    not, and calls C{doWrite} anyway, on a selectable that may no longer
    be registered).
    """
    reactor = EPollReactor()
    a, b = socket.socketpair()
    try:
        selectable = kind(a, reactor)
        # Writer first, so that the kernel watches EPOLLOUT from the start
        # and one event reports both directions.
        reactor.addWriter(selectable)
        reactor.addReader(selectable)
        b.send(b"x")
        for _ in range(100):
            reactor.doIteration(0.01)
            if "doRead" in selectable.calls:
                break
        assert selectable.calls[selectable.calls.index("doRead") :] == ["doRead"]
        reactor.removeAll()
    finally:
        a.close()
        b.close()
        reactor._poller.close()


class RefusingSocket:
    """
    A server connection's socket whose C{send} fails as on a connection the
    peer has reset (EPIPE), counting the attempts; the kernel cannot be
    made to fail one C{send(2)} on cue right after a read succeeded.

    @ivar sends: how many times C{send} was called.
    """

    def __init__(self, real: socket.socket) -> None:
        """
        @param real: the socket Twisted's transport holds.
        """
        self._real = real
        self.sends = 0

    def send(self, data: Any) -> int:
        """
        Fail, as C{send(2)} does on a broken connection.
        """
        self.sends += 1
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    def __getattr__(self, name: str) -> Any:
        """
        @return: the real socket's attribute.
        """
        return getattr(self._real, name)


def test_aFailedSameTurnWriteLosesTheConnection(
    contextTracker: str, events: List[Dict[str, Any]]
) -> None:
    """
    When the reply a C{doRead} wrote goes out in the same turn and its
    C{send} fails, the connection is lost with the write's reason, as when
    a C{doWrite} for EPOLLOUT fails, and what is logged meanwhile carries
    the connection's C{logPrefix()}, as its read's logs do: under either
    way of dispatching.
    """
    reactor = EPollReactor()
    lost: List[Failure] = []

    class Recording(Echo):
        def connectionLost(self, reason: Failure) -> None:
            log.msg("lost")
            lost.append(reason)

    client, transport, port = serveEcho(reactor, Recording)
    refusing = transport.socket = RefusingSocket(transport.socket)
    try:
        client.send(b"r" * 64)
        for _ in range(100):
            reactor.doIteration(0.01)
            if lost:
                break
        assert refusing.sends == 1
        assert [reason.type for reason in lost] == [ConnectionLost]
        assert systems(events, "lost") == [transport.logPrefix()]
    finally:
        client.close()
        port.stopListening()
        reactor.removeAll()
        reactor._poller.close()


@implementer(IHalfCloseableProtocol)
class SaysByeAndCloses(Echo):
    """
    A protocol that can be half-closed, and that answers its first input
    with C{b"bye"} and closes the connection.

    @ivar calls: C{"readConnectionLost"} and C{connectionLost}'s reason
        type, as they came.
    """

    def __init__(self) -> None:
        """
        Start recording.
        """
        self.calls: List[Any] = []

    def dataReceived(self, data: bytes) -> None:
        """
        Answer and close.
        """
        self.transport.write(b"bye")
        self.transport.loseConnection()

    def readConnectionLost(self) -> None:
        """
        Record the call.
        """
        self.calls.append("readConnectionLost")

    def writeConnectionLost(self) -> None:
        """
        Record the call.
        """
        self.calls.append("writeConnectionLost")

    def connectionLost(self, reason: Failure) -> None:
        """
        Record the call.
        """
        self.calls.append(reason.type)


def test_aReplyThenCloseInTheSameTurnCloses(contextTracker: str) -> None:
    """
    A protocol that answers and closes the connection from C{dataReceived}
    (an HTTP/1.0 server) has its answer sent and the connection closed,
    with C{connectionLost(ConnectionDone)}, when the answer goes out in the
    turn that read: the write's end of the connection is not taken for the
    end of its input, which would only half-close it.
    """
    reactor = EPollReactor()
    client, transport, port = serveEcho(reactor, SaysByeAndCloses)
    protocol = transport.protocol
    try:
        client.send(b"hello")
        received = b""
        for _ in range(100):
            reactor.doIteration(0.01)
            try:
                chunk = client.recv(100)
            except BlockingIOError:
                continue
            received += chunk
            if not chunk:
                break
        assert received == b"bye"
        assert protocol.calls == [ConnectionDone]
    finally:
        client.close()
        port.stopListening()
        reactor.removeAll()
        reactor._poller.close()
