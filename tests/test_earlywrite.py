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

import itertools
import socket
import time
from contextlib import contextmanager
from typing import Any, ClassVar, Dict, Iterator, List, Tuple, Type

import pytest
from twisted.internet.abstract import FileDescriptor
from twisted.internet.protocol import Factory, Protocol

from epollreactor import _dispatch, _epoll, _registrations, _writing
from epollreactor._reactor import EPollReactor
from epollreactor._writing import REREAD
from tests.waits import timespecAt

#: How many more times a new connection's socket options may be read while
#: its MSS still grows with the peer's window (three or four on loopback).
GROWTH = 6

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
    The server connection's socket, which adds C{("recv", n)},
    C{("send", n)} and C{("getsockopt", option)} to a shared trace around
    the real calls; everything else goes to the real socket.
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

    def getsockopt(self, level: int, option: int, *length: int) -> Any:
        """
        C{getsockopt(2)}, recorded with the option asked for.
        """
        self._trace.append(("getsockopt", option))
        return self._real.getsockopt(level, option, *length)

    def __getattr__(self, name: str) -> Any:
        """
        @return: the real socket's attribute.
        """
        return getattr(self._real, name)


def serveEcho(
    reactor: EPollReactor, protocol: Type[Protocol] = Echo, segment: int = 0
) -> Tuple[socket.socket, Any, Any]:
    """
    Start an echo server (or a server of C{protocol}) on C{reactor} and
    connect a non-blocking client socket to it over loopback.

    @param segment: if not 0, the MSS the client asks for (C{TCP_MAXSEG}
        before C{connect}, tcp(7)), which the server's connection then
        has too.
    @return: the client socket, the server connection's transport, and the
        listening port.
    """
    servers: List[Protocol] = []

    class Recorded(protocol):  # type: ignore[valid-type,misc]
        def connectionMade(self) -> None:
            super().connectionMade()
            servers.append(self)

    port = reactor.listenTCP(0, Factory.forProtocol(Recorded), interface="127.0.0.1")
    client = socket.socket()
    if segment:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, segment)
    client.connect(("127.0.0.1", port.getHost().port))
    client.setblocking(False)
    for _ in range(LIMIT):
        if servers:
            break
        reactor.doIteration(0.01)
    return client, servers[0].transport, port


@contextmanager
def traced(
    reactor: EPollReactor,
    monkeypatch: pytest.MonkeyPatch,
    protocol: Type[Protocol] = Echo,
    segment: int = 0,
) -> Iterator[Tuple[socket.socket, List[Tuple[str, int]]]]:
    """
    A server of C{protocol} (by default an echo server) on C{reactor} and a
    non-blocking client socket connected to it (asking for an MSS of
    C{segment}, if not 0), with the server connection's C{recv}, C{send}
    and C{getsockopt} calls, the reactor's waits (C{("epoll_wait",
    milliseconds)}, an C{epoll_pwait2}'s timeout rounded up to milliseconds
    too), its C{epoll_ctl} calls and the write policy's C{FIONREAD}
    questions (C{("unread", bytes)}) recorded, in order, in one trace.

    @return: the client socket and the trace.
    """
    trace: List[Tuple[str, int]] = []
    client, transport, port = serveEcho(reactor, protocol, segment)
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
    try:
        yield client, trace
    finally:
        client.close()
        transport.loseConnection()
        port.stopListening()


@pytest.fixture
def connection(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Tuple[socket.socket, List[Tuple[str, int]]]]:
    """
    An echo server on C{reactor} and a client connected to it, traced
    (L{traced}).

    @return: the client socket and the trace.
    """
    with traced(reactor, monkeypatch) as served:
        yield served


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
    reactor: EPollReactor,
    client: socket.socket,
    message: bytes,
    burst: bool = False,
    timers: bool = False,
) -> None:
    """
    Send C{message} from the client while the reactor runs, a little at a
    time as the connection takes it, until all of it has been echoed back.

    @param burst: send each time as much as the connection takes, so that
        the server's input never runs dry before the whole message is in.
    @param timers: run the reactor's timers before each iteration, for a
        server that answers from one.
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
        if timers:
            reactor.runUntilCurrent()
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


@pytest.mark.parametrize("size", [64, 4096, 30_000, 65_536])
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
    each wait may sleep, for a reply of several segments too (64 KiB is
    two on loopback).  (Twisted's reactor makes two waits and two
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


def oneWaitOfFourRequests(
    reactor: EPollReactor,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
    handling: float = 0.0,
    connections: int = 4,
    calls: Tuple[str, ...] = ("recv", "send"),
) -> List[str]:
    """
    Four clients (or C{connections}) of echo servers on C{reactor} each
    send a C{size}-byte request, and the reactor makes one iteration, whose
    wait reports all of them; every client then has its whole echo.

    @param handling: how long, in seconds, the dispatcher's clock says
        each event took to handle; by default the clock stands still, so
        that a slow interpreter's real handling time (PyPy before its JIT
        warms up) cannot make the batch send early.
    @param calls: which calls to return: the servers' C{"recv"} and
        C{"send"}, the write policy's C{"unread"} (C{FIONREAD}) and the
        reactor's C{"epoll_wait"}.
    @return: those calls, in order.
    """
    trace: List[Tuple[str, int]] = []
    ticks = itertools.count(1)
    monkeypatch.setattr(_dispatch, "monotonic", lambda: 1.0 + next(ticks) * handling)
    served = [serveEcho(reactor) for _ in range(connections)]
    for _, transport, _ in served:
        transport.socket = CountingSocket(transport.socket, trace)
    now = time.monotonic()
    monkeypatch.setattr(_registrations, "monotonic", lambda: now)
    realUnread, realWait = _writing._unread, _epoll.epoll_wait

    def unread(sock: Any) -> int:
        trace.append(("unread", 0))
        waiting: int = realUnread(sock)
        return waiting

    def wait(*arguments: Any) -> int:
        trace.append(("epoll_wait", arguments[3]))
        count: int = realWait(*arguments)
        return count

    monkeypatch.setattr(_writing, "_unread", unread)
    monkeypatch.setattr(_epoll, "epoll_wait", wait)
    try:
        for client, _, _ in served:
            client.send(b"r" * size)
        reactor.doIteration(0)
        assert [drain(client) for client, _, _ in served] == [size] * connections
        return [call for call, _ in trace if call in calls]
    finally:
        for client, transport, port in served:
            client.close()
            transport.loseConnection()
            port.stopListening()


def test_shortRepliesToOneWaitLeaveAfterItsLastRead(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Short requests that one C{epoll_wait} reports on several connections
    are all read before any reply goes out, and every reply still leaves
    in that turn: a peer serving many connections wakes once for the
    batch, not once for each reply sent while it sleeps in its own wait.
    """
    calls = oneWaitOfFourRequests(reactor, monkeypatch, 64)
    assert calls == ["recv"] * 4 + ["send"] * 4


def test_shortRepliesWaitForTheBatchOnlySoLong(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A batch of slow handlers sends the short replies it has so far once
    the first of them has waited longer than L{_writing.REPLY_HOLD}: here
    each request takes six tenths of that, so the first three replies leave
    after the third read, the last after its own.
    """
    handling = _writing.REPLY_HOLD * 0.6
    calls = oneWaitOfFourRequests(reactor, monkeypatch, 64, handling)
    assert calls == ["recv"] * 3 + ["send"] * 3 + ["recv", "send"]


@pytest.mark.parametrize(
    "connections, questions",
    [
        (_dispatch.ASK_ALL_FROM - 1, ["unread"] * (_dispatch.ASK_ALL_FROM - 1)),
        (_dispatch.ASK_ALL_FROM, ["epoll_wait"]),
        (_dispatch.ASK_ALL_FROM * 4, ["epoll_wait"]),
    ],
)
def test_aBatchOfRepliesAsksTheKernelOnce(
    reactor: EPollReactor,
    monkeypatch: pytest.MonkeyPatch,
    connections: int,
    questions: List[str],
) -> None:
    """
    Whether input waits on the connections of a batch's short replies is
    asked once for all of them, with an C{epoll_wait} that does not sleep,
    where there are at least L{_dispatch.ASK_ALL_FROM}; fewer ask each with
    its own C{FIONREAD}.  After the iteration's own wait, that is all the
    reactor asks.
    """
    calls = oneWaitOfFourRequests(
        reactor,
        monkeypatch,
        64,
        connections=connections,
        calls=("unread", "epoll_wait"),
    )
    assert calls == ["epoll_wait"] + questions


class Prompting(Echo):
    """
    An echo server that, when the fourth request of all its connections is
    read, has the client of the first connection read send more: input
    that arrives after its request was read, before its reply is sent.

    @cvar read: the transports in the order their requests were read.
    @cvar clients: each server transport's client socket.
    """

    read: ClassVar[List[Any]] = []
    clients: ClassVar[Dict[Any, socket.socket]] = {}

    def dataReceived(self, data: bytes) -> None:
        """
        Echo C{data}; at the fourth read, prompt the first.
        """
        super().dataReceived(data)
        self.read.append(self.transport)
        if len(self.read) == 4:
            self.clients[self.read[0]].send(b"m" * 16)


def test_aReplyWhoseInputGoesOnInTheBatchWaits(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Of a batch's short replies, one whose connection received more input
    after its request was read (the rest of a request, a pipelined one)
    is not sent in that turn: the kernel, asked once for all of them, says
    input waits there, and the reply goes out after the next wait has read
    it, with what answers it, in one C{send}.  The others leave at once.
    """
    # The batch is held whole however slowly a loaded machine handles it
    # (REPLY_HOLD is test_shortRepliesWaitForTheBatchOnlySoLong's).
    monkeypatch.setattr(_dispatch, "monotonic", lambda: 1.0)
    Prompting.read, Prompting.clients = [], {}
    served = [serveEcho(reactor, Prompting) for _ in range(4)]
    trace: List[Tuple[str, int]] = []
    for client, transport, _ in served:
        Prompting.clients[transport] = client
        transport.socket = CountingSocket(transport.socket, trace)
    try:
        for client, _, _ in served:
            client.send(b"r" * 64)
        reactor.doIteration(0)
        first = Prompting.read[0]
        received = {transport: drain(client) for client, transport, _ in served}
        assert received == {
            transport: 0 if transport is first else 64 for transport in received
        }
        assert [call for call, _ in trace].count("send") == 3
        del trace[:]
        reactor.doIteration(0)
        assert drain(Prompting.clients[first]) == 80
        assert [call for call in trace if call[0] in ("recv", "send")] == [
            ("recv", 16),
            ("send", 80),
        ]
    finally:
        for client, transport, port in served:
            client.close()
            transport.loseConnection()
            port.stopListening()


def test_longerRepliesLeaveRightAfterTheirRead(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A reply longer than L{_writing.BATCHED_REPLY} leaves right after its
    own read, in the same turn, so that the buffers of many such replies
    are not all alive at once.
    """
    size = _writing.BATCHED_REPLY * 2
    calls = oneWaitOfFourRequests(reactor, monkeypatch, size)
    assert calls == ["recv", "send"] * 4


def test_aLongReplyToARequestReadInPiecesWaitsForTheWaitsOtherEvents(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A reply of several segments that an earlier read began (its request
    came in pieces, and the first read found more waiting) is not sent in
    the turn that reads the last piece but after the other events of that
    wait: a client in the same process often writes the rest of such a
    request in those very events, and the whole-segment rule then sends
    the burst in whole segments, where a reply sent at once would end
    short at every piece, each pushed (three system calls more a piece).
    """
    trace: List[Tuple[str, int]] = []
    now = time.monotonic()
    monkeypatch.setattr(_registrations, "monotonic", lambda: now)
    served = [serveEcho(reactor) for _ in range(2)]
    for _, transport, _ in served:
        transport.socket = CountingSocket(transport.socket, trace)
    (pieces, _, _), (other, _, _) = served
    try:
        request = b"p" * (65_536 + 464)
        pieces.setblocking(True)
        pieces.sendall(request)
        reactor.doIteration(0.01)
        assert [call for call in trace if call[0] in ("recv", "send")] == [
            ("recv", 65_536)
        ]
        other.send(b"o" * 100)
        reactor.doIteration(0)
        assert [call for call in trace if call[0] in ("recv", "send")] == [
            ("recv", 65_536),
            ("recv", 464),
            ("recv", 100),
            ("send", 100),
            ("send", len(request)),
        ]
    finally:
        for client, transport, port in served:
            client.close()
            transport.loseConnection()
            port.stopListening()


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
    with traced(reactor, monkeypatch, AnswersNextTurn) as (client, trace):
        for _ in range(20):
            exchange(reactor, client, b"t" * 64, timers=True)
        assert [call for call, _ in trace].count("send") == 20
        assert [call for call, _ in trace].count("epoll_ctl") == 0


def test_theSocketOptionsServeManyMessages(
    reactor: EPollReactor,
    connection: Tuple[socket.socket, List[Tuple[str, int]]],
) -> None:
    """
    A connection's MSS and C{TCP_NODELAY} are read once for L{REREAD}
    decisions, not for each (C{_writing}, "What the rule reads"): 100
    echoes of 4 KiB, each sent in the turn that read it only because it is
    at most one segment, make 2 C{getsockopt} calls per L{REREAD} messages,
    and a few more while the MSS still grows with the peer's window; and
    one C{FIONREAD} each, which is asked per message.
    """
    client, trace = connection
    for _ in range(100):
        exchange(reactor, client, b"o" * 4096)
    options = [value for call, value in trace if call == "getsockopt"]
    assert set(options) <= {socket.TCP_MAXSEG, socket.TCP_NODELAY}
    assert len(options) <= 2 * (100 // REREAD + GROWTH), options
    assert [call for call, _ in trace].count("unread") == 100
    assert [call for call, _ in trace].count("send") == 100


def test_aWriteLongerThanTheSegmentAsksNothingAfterAQuietWait(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A write of several segments made outside any C{doRead} (a timer's) is
    owed a write attempt after the next wait; when that wait reports
    nothing, it said that no input waits on the connection, and the
    C{doWrite} after it sends the write whole without a C{FIONREAD}.  (The
    client asks for an MSS of 1,000 bytes, so that 4 KiB is several
    segments.)
    """
    with traced(reactor, monkeypatch, AnswersNextTurn, segment=1000) as (
        client,
        trace,
    ):
        for _ in range(20):
            exchange(reactor, client, b"s" * 4096, timers=True)
        assert [
            (call, value) for call, value in trace if call in ("recv", "unread", "send")
        ] == [("recv", 4096), ("send", 4096)] * 20
        assert [call for call, _ in trace].count("epoll_wait") == 40


def test_aWaitThatReportsInputLeavesTheQuestionToTheWrite(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    When the wait after a write of several segments reports input on its
    connection, that input is read first, and the C{doWrite} after it asks
    whether still more waits (C{FIONREAD}) before it sends the write whole:
    the wait spoke of a moment before that read.  (The write is longer
    than L{_writing.BATCHED_REPLY}, and that read did not begin it, so it
    is not sent in that turn.)
    """
    with traced(reactor, monkeypatch, AnswersNextTurn, segment=1000) as (
        client,
        trace,
    ):
        client.send(b"r" * 8192)
        reactor.doIteration(0.01)
        client.send(b"R" * 100)
        received = 0
        for _ in range(LIMIT):
            reactor.runUntilCurrent()
            reactor.doIteration(0.01)
            received += drain(client)
            if received == 8292:
                break
        assert [
            (call, value) for call, value in trace if call in ("recv", "unread", "send")
        ] == [
            ("recv", 8192),
            ("recv", 100),
            ("unread", 0),
            ("send", 8192),
            ("send", 100),
        ]


def test_aWriteShorterThanASegmentAsksNothing(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A write of less than a segment made outside any C{doRead} (a timer's)
    is sent whole whatever input waits, so its C{doWrite} does not ask
    the kernel whether any does: 20 of 4 KiB, no C{FIONREAD}.
    """
    with traced(reactor, monkeypatch, AnswersNextTurn) as (client, trace):
        for _ in range(20):
            exchange(reactor, client, b"t" * 4096, timers=True)
        assert [call for call, _ in trace].count("send") == 20
        assert [call for call, _ in trace].count("unread") == 0


class NoDelayEcho(Echo):
    """
    An echo server that sets C{TCP_NODELAY} on each connection, as
    vmbench's servers do.
    """

    def connectionMade(self) -> None:
        """
        Ask for every write to leave at once.
        """
        self.transport.setTcpNoDelay(True)


def test_aNoDelayReplyLeavesInTheTurnThatRead(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    An application that set C{TCP_NODELAY} asked for every write to leave at
    once, and with Nagle off no part of a reply waits for an acknowledgement
    (tcp(7)), so the write policy does not ask whether more of a request
    waits: a large echo there (100 KiB, vmbench's largest, read in pieces)
    asks no C{FIONREAD}, and each read's part leaves right after it, in the
    turn that read it; the socket options are read once for many messages.
    """
    with traced(reactor, monkeypatch, NoDelayEcho) as (client, trace):
        for _ in range(20):
            exchange(reactor, client, b"n" * 102_400, burst=True)
        calls = [call for call, _ in trace]
        reads = [i for i, (call, value) in enumerate(trace) if call == "recv" and value]
        assert len(reads) >= 40
        assert "unread" not in calls
        after = [next(c for c in calls[i + 1 :] if c != "getsockopt") for i in reads]
        assert set(after) == {"send"}, trace
        assert calls.count("getsockopt") <= 2 * (1 + GROWTH)


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
