"""
When L{epollreactor.EPollReactor} sends what a protocol wrote, counted in
system calls on a real TCP connection over loopback: a write made while
handling input goes out only once the kernel was asked whether more of that
input is there, so input that arrives in several reads is answered in as
few C{send()} calls as Twisted's own reactor makes; a whole reply that one
C{send()} takes, with no input left unread, goes out in the loop turn that
read its request, so request/response traffic takes one C{epoll_wait(2)}
per message; and a write costs no C{epoll_ctl(2)} when everything goes out
at once.

The first rule keeps a reply from being sent in more calls than Twisted's
reactor sends it in (C{epollreactor._writing}, "Write attempts" and "The
same turn"; how each call is cut into segments is C{tests/test_writing.py}'s);
the other two are what make small request/response traffic cheaper than
on Twisted's reactor.
"""

import socket
import time
from typing import Any, Iterator, List, Tuple, Type

import pytest
from twisted.internet.abstract import FileDescriptor
from twisted.internet.protocol import Factory, Protocol

from epollreactor import _epoll, _registrations, _writing
from epollreactor._reactor import EPollReactor
from tests.waits import timespecAt

#: Iterations a test may take before it gives up; each one is bounded by
#: the loopback connection's progress, never by time.
LIMIT = 10_000


class Echo(Protocol):
    """
    Writes back whatever it receives.
    """

    def dataReceived(self, data: bytes) -> None:
        """
        Echo C{data}.
        """
        self.transport.write(data)


class CountingSocket:
    """
    The server connection's socket, which adds C{("recv", n)} and
    C{("send", n)} to a shared trace around the real calls; everything
    else goes to the real socket.
    """

    def __init__(self, real: socket.socket, trace: List[Tuple[str, int]]) -> None:
        """
        @param real: the socket Twisted's transport holds.
        @param trace: where calls are recorded.
        """
        self._real = real
        self._trace = trace

    def recv(self, size: int) -> bytes:
        """
        C{recv(2)}, recorded with the number of bytes it returned.
        """
        data = self._real.recv(size)
        self._trace.append(("recv", len(data)))
        return data

    def send(self, data: Any) -> int:
        """
        C{send(2)}, recorded with the number of bytes it took.
        """
        sent = self._real.send(data)
        self._trace.append(("send", sent))
        return sent

    def __getattr__(self, name: str) -> Any:
        """
        @return: the real socket's attribute.
        """
        return getattr(self._real, name)


def serveEcho(
    reactor: EPollReactor, protocol: Type[Protocol] = Echo
) -> Tuple[socket.socket, Any, Any]:
    """
    Start an echo server (or a server of C{protocol}) on C{reactor} and
    connect a non-blocking client socket to it over loopback.

    @return: the client socket, the server connection's transport, and the
        listening port.
    """
    servers: List[Protocol] = []

    class Recorded(protocol):  # type: ignore[valid-type,misc]
        def connectionMade(self) -> None:
            servers.append(self)

    port = reactor.listenTCP(0, Factory.forProtocol(Recorded), interface="127.0.0.1")
    client = socket.create_connection(("127.0.0.1", port.getHost().port))
    client.setblocking(False)
    for _ in range(LIMIT):
        if servers:
            break
        reactor.doIteration(0.01)
    return client, servers[0].transport, port


@pytest.fixture
def connection(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Tuple[socket.socket, List[Tuple[str, int]]]]:
    """
    An echo server on C{reactor} and a non-blocking client socket connected
    to it, with the server connection's C{recv}/C{send}, the reactor's
    waits (C{("epoll_wait", milliseconds)}, an C{epoll_pwait2}'s timeout
    rounded up to milliseconds too), its C{epoll_ctl} calls and
    the write policy's C{FIONREAD} questions (C{("unread", bytes)}) recorded,
    in order, in one trace.

    @return: the client socket and the trace.
    """
    trace: List[Tuple[str, int]] = []
    client, transport, port = serveEcho(reactor)
    transport.socket = CountingSocket(transport.socket, trace)
    realWait = _epoll.epoll_wait
    realPwait2 = _epoll._pwait2
    realControl = _epoll.epoll_ctl_bare
    realUnread = _writing._unread

    def wait(*arguments: Any) -> int:
        trace.append(("epoll_wait", arguments[3]))
        count: int = realWait(*arguments)
        return count

    def pwait2(*arguments: Any) -> int:
        nanoseconds = timespecAt(arguments[3])
        assert nanoseconds is not None
        trace.append(("epoll_wait", -(-nanoseconds // 1_000_000)))
        count: int = realPwait2(*arguments)
        return count

    def control(*arguments: Any) -> int:
        trace.append(("epoll_ctl", arguments[1]))
        result: int = realControl(*arguments)
        return result

    def unread(sock: Any) -> int:
        waiting: int = realUnread(sock)
        trace.append(("unread", waiting))
        return waiting

    # The reactor's every epoll_wait(2) and epoll_ctl(2) go through its
    # epoll object, and the write policy's every ioctl(FIONREAD) through
    # _unread: a system call the trace could not see otherwise.
    monkeypatch.setattr(_writing, "_unread", unread)
    monkeypatch.setattr(_epoll, "epoll_wait", wait)
    monkeypatch.setattr(_epoll, "_pwait2", pwait2)
    monkeypatch.setattr(_epoll, "epoll_ctl_bare", control)
    # The checks for descriptors closed behind the reactor's back
    # (WATCH_PERIOD) make epoll_ctl calls as the clock says, so many more
    # on a slow interpreter: with the clock stopped, the trace is the write
    # path's alone.
    now = time.monotonic()
    monkeypatch.setattr(_registrations, "monotonic", lambda: now)
    yield client, trace
    client.close()
    transport.loseConnection()
    port.stopListening()


def drain(client: socket.socket) -> int:
    """
    @return: how many bytes the client read, all it had.
    """
    received = 0
    try:
        while True:
            chunk = client.recv(4_194_304)
            assert chunk, "the server closed the connection"
            received += len(chunk)
    except BlockingIOError:
        pass
    return received


def exchange(
    reactor: EPollReactor, client: socket.socket, message: bytes, burst: bool = False
) -> None:
    """
    Send C{message} from the client while the reactor runs, a little at a
    time as the connection takes it, until all of it has been echoed back.

    @param burst: send each time as much as the connection takes, so that
        the server's input never runs dry before the whole message is in.
    """
    sent = received = 0
    for _ in range(LIMIT):
        try:
            while sent < len(message):
                sent += client.send(message[sent : sent + 262_144])
                if not burst:
                    break
        except BlockingIOError:
            pass
        reactor.doIteration(0.01)
        received += drain(client)
        if received == len(message):
            return
    raise AssertionError("echoed {} of {} bytes".format(received, len(message)))


@pytest.mark.parametrize("size", [64, 4096, 65536, 200_000, 1_000_000])
def test_sendOnlyAfterAskingForMoreInput(
    reactor: EPollReactor,
    connection: Tuple[socket.socket, List[Tuple[str, int]]],
    size: int,
) -> None:
    """
    Between the C{recv} that starts a reply and the C{send} that takes it
    out, the reactor always asked the kernel whether more input is there:
    an C{epoll_wait}, after which it reads that input into the same reply
    first, as Twisted's reactor does when EPOLLIN and EPOLLOUT come
    together; or, in the turn that read, for the whole reply, a C{FIONREAD}
    that found nothing left.  A reactor that sends
    at the end of every iteration that read (what ours did once) sends each
    64 KiB read on its own, leaving a short segment behind every one, and
    the last segment of the message then waits for the peer's delayed ACK.
    """
    client, trace = connection
    exchange(reactor, client, b"x" * size)
    unsent = 0
    waitOwed = asked = False
    sends = 0
    for call, value in trace:
        if call == "recv" and value:
            # The first input of a reply must see a wait before it goes out.
            waitOwed = waitOwed or unsent == 0
            unsent += value
            asked = False
        elif call == "epoll_wait":
            waitOwed = False
        elif call == "unread":
            asked = value == 0
        elif call == "send":
            sends += 1
            sameTurn = asked and value == unsent
            assert not waitOwed or sameTurn, trace
            unsent -= value
    assert unsent == 0
    assert sum(value for call, value in trace if call == "send") == size
    assert sends >= 1


@pytest.mark.parametrize("size", [64, 4096, 30_000])
def test_aWholeReplyGoesOutInTheTurnThatRead(
    reactor: EPollReactor,
    connection: Tuple[socket.socket, List[Tuple[str, int]]],
    size: int,
) -> None:
    """
    Request/response traffic turns the loop once per message: a reply that
    one C{send} takes whole, to a request with nothing more unread behind
    it, is sent right after the C{recv} that read the request, in the same
    iteration, so each message costs one C{epoll_wait}, one C{recv} and
    one C{send}, and no C{epoll_ctl}; and since nothing is owed after it,
    each wait may sleep.  (Twisted's reactor makes two waits and two
    C{epoll_ctl} calls per message.)
    """
    client, trace = connection
    for _ in range(20):
        exchange(reactor, client, b"q" * size)
    calls = [call for call, _ in trace]
    assert [value for call, value in trace if call == "epoll_wait"] == [10] * 20
    assert [(call, value) for call, value in trace if call in ("recv", "send")] == [
        ("recv", size),
        ("send", size),
    ] * 20
    assert calls.count("epoll_ctl") == 0


class Tally(Protocol):
    """
    Answers each piece of input with one byte.
    """

    def dataReceived(self, data: bytes) -> None:
        """
        Answer C{data}.
        """
        self.transport.write(b".")


def test_aReplyToInputStillWaitingWaitsForIt(reactor: EPollReactor) -> None:
    """
    A reply whose request is not all read yet (the kernel holds more input
    than one C{doRead} takes) is not sent in the turn that read: the next
    read may add to it, so it waits for the next C{epoll_wait}, and
    answers to several reads leave in fewer C{send} calls than there were
    reads, as on Twisted's reactor.
    """
    trace: List[Tuple[str, int]] = []
    client, transport, port = serveEcho(reactor, Tally)
    transport.socket = CountingSocket(transport.socket, trace)
    try:
        # Over 64 KiB at once: more than the first doRead takes.
        sent = client.send(b"m" * 262_144)
        assert sent > 131_072
        for _ in range(LIMIT):
            reactor.doIteration(0)
            drain(client)
            read = sum(value for call, value in trace if call == "recv")
            if read == sent and trace[-1][0] == "send":
                break
        calls = [call for call, _ in trace]
        assert calls.index("send") > 1, trace
        assert calls.count("send") < calls.count("recv"), trace
    finally:
        client.close()
        transport.loseConnection()
        port.stopListening()


def test_pingPongCostsNoEpollCtl(
    reactor: EPollReactor,
    connection: Tuple[socket.socket, List[Tuple[str, int]]],
) -> None:
    """
    Small request/response traffic keeps what the early write is for: each
    64-byte message is echoed in one C{send} and costs no C{epoll_ctl}
    (Twisted's reactor makes two per message: EPOLLOUT on, then off).
    """
    client, trace = connection
    for _ in range(20):
        exchange(reactor, client, b"p" * 64)
    assert [call for call, _ in trace].count("send") == 20
    assert [call for call, _ in trace].count("epoll_ctl") == 0


class AnswersNextTurn(Protocol):
    """
    Echoes what it receives from a timer, outside any C{doRead}, as a
    server that answers from a deferred's callback does.
    """

    def dataReceived(self, data: bytes) -> None:
        """
        Echo C{data} on the next run of the timers.
        """
        self.transport.reactor.callLater(0, self.transport.write, data)


def test_aWriteOutsideAReadCostsNoEpollCtl(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A write made outside any C{doRead} (a timer's, a deferred's) that goes
    out at once costs no C{epoll_ctl} either: it is owed a write attempt
    after the next wait, and EPOLLOUT is asked for only if that leaves
    something unwritten.
    """
    controls: List[int] = []
    realControl = _epoll.epoll_ctl_bare

    def control(*arguments: Any) -> int:
        controls.append(arguments[1])
        result: int = realControl(*arguments)
        return result

    client, transport, port = serveEcho(reactor, AnswersNextTurn)
    now = time.monotonic()
    monkeypatch.setattr(_registrations, "monotonic", lambda: now)
    monkeypatch.setattr(_epoll, "epoll_ctl_bare", control)
    try:
        for _ in range(20):
            client.send(b"t" * 64)
            received = 0
            for _ in range(LIMIT):
                reactor.runUntilCurrent()
                reactor.doIteration(0)
                received += drain(client)
                if received == 64:
                    break
            assert received == 64
        assert controls == []
    finally:
        client.close()
        transport.loseConnection()
        port.stopListening()


class CountingWriter(FileDescriptor):
    """
    A Twisted file descriptor over one end of a socket pair that counts its
    C{doWrite} calls and never finishes writing.

    @ivar writes: how many times C{doWrite} ran.
    """

    def __init__(self, sock: socket.socket, reactor: Any) -> None:
        """
        @param sock: the end it writes to.
        """
        super().__init__(reactor)
        self.sock = sock
        self.writes = 0

    def fileno(self) -> int:
        """
        @return: the socket's number.
        """
        return self.sock.fileno()

    def doWrite(self) -> None:
        """
        Count, and go on wanting to write.
        """
        self.writes += 1


def test_oneDoWritePerIterationWhenEpolloutIsWatched(reactor: Any) -> None:
    """
    A reader that starts writing is owed an early write attempt after the
    next wait; when it stops reading before that wait, it is watched for
    EPOLLOUT at once, and when the wait reports it writable it gets one
    C{doWrite} in the iteration, not a second from the attempt.
    """
    left, right = socket.socketpair()
    try:
        writer = CountingWriter(left, reactor)
        reactor.addReader(writer)
        reactor.doPoll(0)
        reactor.addWriter(writer)
        reactor.removeReader(writer)
        reactor.doPoll(0)
        assert writer.writes == 1
        reactor.doPoll(0)
        assert writer.writes == 2
        reactor.removeWriter(writer)
    finally:
        left.close()
        right.close()
