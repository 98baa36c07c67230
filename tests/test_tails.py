"""
How L{epollreactor.EPollReactor} has the kernel send the held tail of a TCP
connection's burst (L{epollreactor._tails}), on real connections over
loopback, judged by the kernel's own counts: the bytes a socket holds
unsent (C{SIOCOUTQNSD}), its C{TCP_NODELAY} setting, and the questions and
settings the reactor made, never by a clock.

The tail is made deterministically: the client asks for an MSS of 1,000
bytes and a receive buffer of 8 KiB, delays its acknowledgements
(C{TCP_QUICKACK} off, tcp(7)) and reads nothing; the server writes 100
bytes, which leave at once and stay unacknowledged, then a burst of 8,500,
whose last short segment Nagle's algorithm holds behind them until the
client's delayed ACK, 40 ms or more later.  Should a loaded machine let
the ACK come before the reactor asks, the attempt shows no held tail and
is made again on a new connection.
"""

import socket
from array import array
from fcntl import ioctl
from typing import Any, Iterator, List, Tuple, Type

import pytest
from twisted.internet.protocol import Factory, Protocol

from epollreactor import _tails
from epollreactor._reactor import EPollReactor
from epollreactor._tails import SIOCOUTQNSD
from tests.test_earlywrite import LIMIT, drain

#: What the client asks for, and the writes that make a held tail of them.
ASKED_SEGMENT = 1_000
RECEIVE_BUFFER = 8_192
FIRST = 100
BURST = 8_500

#: The settings that push a tail: C{TCP_NODELAY} set and cleared again.
PUSHED = [
    (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
    (socket.IPPROTO_TCP, socket.TCP_NODELAY, 0),
]

#: Connections a test makes before it gives up on seeing a tail held.
ATTEMPTS = 5


def unsent(sock: Any) -> int:
    """
    @return: the bytes queued on C{sock} and not yet sent (C{SIOCOUTQNSD},
        linux/sockios.h).
    """
    answer = array("i", [0])
    ioctl(sock.fileno(), SIOCOUTQNSD, answer, True)
    return answer[0]


def noDelay(sock: Any) -> int:
    """
    @return: C{sock}'s C{TCP_NODELAY} setting.
    """
    value: int = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    return value


class RecordingSocket:
    """
    The server connection's socket, which records every C{setsockopt()}
    and counts the bytes sent; everything else goes to the real socket.
    """

    def __init__(self, real: socket.socket) -> None:
        """
        @param real: the socket Twisted's transport holds.
        """
        self._real = real
        self.settings: List[Tuple[int, int, int]] = []
        self.sent = 0

    def send(self, data: Any) -> int:
        """
        C{send(2)}, counted.
        """
        sent = self._real.send(data)
        self.sent += sent
        return sent

    def setsockopt(self, level: int, option: int, value: int) -> None:
        """
        C{setsockopt(2)}, recorded.
        """
        self.settings.append((level, option, value))
        self._real.setsockopt(level, option, value)

    def __getattr__(self, name: str) -> Any:
        """
        @return: the real socket's attribute.
        """
        return getattr(self._real, name)


@pytest.fixture
def questions(monkeypatch: pytest.MonkeyPatch) -> List[int]:
    """
    The answers the kernel gave to the reactor's C{SIOCOUTQNSD} questions,
    in order: the one system call of the mechanism no socket shows.
    """
    answers: List[int] = []

    def recorded(fd: int, request: int, buffer: Any, mutate: bool) -> int:
        result: int = ioctl(fd, request, buffer, mutate)
        if request == SIOCOUTQNSD:
            answers.append(buffer[0])
        return result

    monkeypatch.setattr(_tails, "ioctl", recorded)
    return answers


def slowReader(
    reactor: EPollReactor,
    receiveBuffer: int = RECEIVE_BUFFER,
    protocol: Type[Protocol] = Protocol,
) -> Tuple[socket.socket, Any, Any]:
    """
    A server on C{reactor} whose protocol writes nothing by itself (or a
    server of C{protocol}), and a client connected to it over loopback that
    asks for a small MSS and receive buffer, delays its ACKs and does not
    read.

    @return: the client socket, the server's transport (its socket a
        L{RecordingSocket}) and the listening port.
    """
    servers: List[Protocol] = []

    class Recorded(protocol):  # type: ignore[valid-type,misc]
        def connectionMade(self) -> None:
            servers.append(self)

    port = reactor.listenTCP(0, Factory.forProtocol(Recorded), interface="127.0.0.1")
    client = socket.socket()
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, ASKED_SEGMENT)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receiveBuffer)
    client.connect(("127.0.0.1", port.getHost().port))
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
    client.setblocking(False)
    for _ in range(LIMIT):
        if servers:
            break
        reactor.doIteration(0.01)
    transport: Any = servers[0].transport
    transport.socket = RecordingSocket(transport.socket)
    return client, transport, port


def writeAll(reactor: EPollReactor, transport: Any, data: bytes) -> None:
    """
    Have C{transport} write C{data} and run C{reactor} until its buffer is
    empty: the kernel has taken all of it.
    """
    transport.write(data)
    for _ in range(LIMIT):
        if not (transport.dataBuffer or transport._tempDataLen):
            return
        reactor.doIteration(0)
    raise AssertionError("the kernel never took the whole write")


@pytest.fixture
def connections(reactor: EPollReactor) -> Iterator[List[Tuple[socket.socket, Any]]]:
    """
    A list the test appends the slow readers it makes to; all closed
    afterwards.
    """
    made: List[Tuple[socket.socket, Any]] = []
    yield made
    for client, port in made:
        client.close()
        port.stopListening()


def heldTail(
    reactor: EPollReactor, connections: List[Tuple[socket.socket, Any]]
) -> Tuple[socket.socket, Any]:
    """
    A slow reader to which the server wrote L{FIRST} bytes, which left,
    and then L{BURST}, in one C{doWrite}.

    @return: the client socket and the server's transport.
    """
    client, transport, port = slowReader(reactor)
    connections.append((client, port))
    writeAll(reactor, transport, b"f" * FIRST)
    assert unsent(transport.socket) == 0
    writeAll(reactor, transport, b"b" * BURST)
    return client, transport


def pushedOnce(questions: List[int], transport: Any) -> bool:
    """
    After a burst of L{BURST} bytes ended: check that the reactor asked the
    kernel once what it holds and, if it held a tail, pushed it by setting
    C{TCP_NODELAY} and clearing it again, so that the socket holds nothing
    unsent, with C{TCP_NODELAY} as the application left it (off).

    @return: whether a tail was held; if not, the delayed ACK came first,
        and the attempt is to be made again.
    """
    assert len(questions) == 1
    if not questions[0]:
        return False
    assert 0 < questions[0] < BURST
    assert transport.socket.settings == PUSHED
    assert unsent(transport.socket) == 0
    assert noDelay(transport.socket) == 0
    return True


def test_theKernelHoldsATailThatSettingNoDelayPushes() -> None:
    """
    The kernel facts the mechanism rests on, on plain sockets: after a
    short segment still unacknowledged, a write longer than a segment goes
    out but for its short tail, which Nagle's algorithm holds; setting
    C{TCP_NODELAY} and clearing it again sends that tail at once, leaves
    the setting as it was, and a later short write is Nagle's to hold
    again (tcp(7); C{tcp_skb_entail} clears the push mark).
    """
    for _ in range(ATTEMPTS):
        listening = socket.create_server(("127.0.0.1", 0))
        client = socket.socket()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, ASKED_SEGMENT)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        client.connect(listening.getsockname())
        server = listening.accept()[0]
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
        with listening, client, server:
            segment = server.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
            assert server.send(b"f" * FIRST) == FIRST
            assert unsent(server) == 0
            assert server.send(b"b" * BURST) == BURST
            held = unsent(server)
            if not held:
                continue  # The delayed ACK came first: try again.
            assert 0 < held < segment
            for setting in PUSHED:
                server.setsockopt(*setting)
            assert unsent(server) == 0
            assert noDelay(server) == 0
            assert server.send(b"s" * FIRST) == FIRST
            assert unsent(server) in (0, FIRST)
            if unsent(server) == FIRST:
                return
    raise AssertionError("no attempt showed a tail held and then Nagle again")


def test_aHeldTailIsPushedAtTheBurstsEnd(
    reactor: EPollReactor,
    connections: List[Tuple[socket.socket, Any]],
    questions: List[int],
) -> None:
    """
    When the reactor's write that ends a burst leaves its tail held by the
    kernel, the reactor asks once, pushes it by setting C{TCP_NODELAY} and
    clearing it again, and the socket then holds nothing unsent, with
    C{TCP_NODELAY} as the application left it (off).
    """
    for _ in range(ATTEMPTS):
        del questions[:]
        client, transport = heldTail(reactor, connections)
        if pushedOnce(questions, transport):
            return
    raise AssertionError("no attempt showed a tail held")


def test_aConnectionWithNoDelayIsLeftAlone(
    reactor: EPollReactor,
    connections: List[Tuple[socket.socket, Any]],
    questions: List[int],
) -> None:
    """
    On a connection whose application set C{TCP_NODELAY}, a burst whose
    end the kernel holds (here for the client's window: a 4 KiB receive
    buffer, not read) is left as it is: the write policy, which read the
    option, does not even ask what is held, no setting is made, and
    C{TCP_NODELAY} is still on.
    """
    client, transport, port = slowReader(reactor, receiveBuffer=4_096)
    connections.append((client, port))
    transport.setTcpNoDelay(True)
    transport.socket.settings.clear()
    writeAll(reactor, transport, b"f" * FIRST)
    writeAll(reactor, transport, b"w" * 5_000)
    assert questions == []
    assert unsent(transport.socket) > 0
    assert transport.socket.settings == []
    assert noDelay(transport.socket) == 1


def test_noDelaySetSinceTheLastReadingIsLeftAlone(
    reactor: EPollReactor,
    connections: List[Tuple[socket.socket, Any]],
    questions: List[int],
) -> None:
    """
    An application may set C{TCP_NODELAY} after the write policy last read
    it: the kernel is then asked what it holds at a burst's end, but the
    push looks at the option itself and leaves the connection as it is.
    """
    client, transport, port = slowReader(reactor, receiveBuffer=4_096)
    connections.append((client, port))
    for _ in range(2):
        # Writes longer than the smallest segment, each a decision of the
        # write policy, the second of which finds the MSS the first read:
        # the options read then serve the decisions that follow.
        writeAll(reactor, transport, b"f" * 1_000)
    transport.setTcpNoDelay(True)
    transport.socket.settings.clear()
    del questions[:]
    writeAll(reactor, transport, b"w" * 5_000)
    assert questions and 0 < questions[-1] < 5_000
    assert unsent(transport.socket) > 0
    assert transport.socket.settings == []
    assert noDelay(transport.socket) == 1


class Answers(Protocol):
    """
    Answers each request, from C{dataReceived}, with as many bytes as the
    request has.
    """

    def dataReceived(self, data: bytes) -> None:
        """
        Answer C{data}.
        """
        self.transport.write(b"a" * len(data))


def test_aReplySentInTheTurnThatReadIsPushedToo(
    reactor: EPollReactor,
    connections: List[Tuple[socket.socket, Any]],
    questions: List[int],
) -> None:
    """
    A reply of several segments that goes out in the turn that read its
    request (L{epollreactor._writing}, "The same turn") ends its burst
    there: when the kernel holds its tail, the reactor pushes it then, in
    that one iteration, as it does for a burst that EPOLLOUT ends.
    """
    for _ in range(ATTEMPTS):
        del questions[:]
        client, transport, port = slowReader(reactor, protocol=Answers)
        connections.append((client, port))
        client.send(b"f" * FIRST)
        for _ in range(LIMIT):
            reactor.doIteration(0.01)
            if transport.socket.sent == FIRST:
                break
        assert unsent(transport.socket) == 0
        client.send(b"b" * BURST)
        reactor.doIteration(0.01)
        assert transport.socket.sent == FIRST + BURST
        if pushedOnce(questions, transport):
            return
    raise AssertionError("no attempt showed a tail held")


@pytest.mark.parametrize(
    "size, pushed", [(FIRST, False), (536, False), (600, True), (900, True)]
)
def test_aWriteHeldWholeIsPushedUnlessTiny(
    reactor: EPollReactor,
    connections: List[Tuple[socket.socket, Any]],
    questions: List[int],
    size: int,
    pushed: bool,
) -> None:
    """
    A write that Nagle's algorithm holds whole, behind an earlier short
    segment not yet acknowledged, is pushed when it is longer than 536
    bytes (a second burst of one response, as a proxy relays it); one of
    at most 536 bytes is the small write whose coalescing the application
    keeps by not setting C{TCP_NODELAY}: nothing is asked, nothing pushed,
    and it stays queued.  (Every size is less than the client's MSS of
    about 1,000 bytes: one short segment, held whole.)
    """
    for _ in range(ATTEMPTS):
        del questions[:]
        client, transport, port = slowReader(reactor)
        connections.append((client, port))
        writeAll(reactor, transport, b"f" * FIRST)
        writeAll(reactor, transport, b"u" * size)
        if not pushed:
            assert questions == []
            assert transport.socket.settings == []
            if unsent(transport.socket) == 0:
                continue  # The delayed ACK came first: try again.
            assert unsent(transport.socket) == size
            return
        assert len(questions) == 1
        if not questions[0]:
            continue  # The delayed ACK came first: try again.
        assert questions[0] == size
        assert transport.socket.settings == PUSHED
        assert unsent(transport.socket) == 0
        return
    raise AssertionError("no attempt showed a write held")


@pytest.mark.parametrize("size", [120_000, 4_000_000])
def test_noQuestionUntilTheBurstEnds(
    reactor: EPollReactor,
    connections: List[Tuple[socket.socket, Any]],
    questions: List[int],
    size: int,
) -> None:
    """
    While the transport still has bytes to write, its burst goes on and
    the kernel is not asked what it holds; the C{doWrite} that empties the
    buffer asks once.  Both sizes are more than the client's window and
    the kernel's send buffer take: one that Twisted's C{SEND_LIMIT} lets
    one C{send()} ask for whole, and one sent in whole segments.
    """
    client, transport, port = slowReader(reactor, receiveBuffer=4_096)
    connections.append((client, port))
    transport.write(b"m" * size)
    for _ in range(20):
        reactor.doIteration(0)
    assert transport.dataBuffer or transport._tempDataLen
    assert questions == []
    for _ in range(LIMIT):
        drain(client)
        if not (transport.dataBuffer or transport._tempDataLen):
            break
        reactor.doIteration(0.01)
    assert len(questions) == 1


@pytest.mark.parametrize("size", [1, 64, 536])
def test_aShortWriteAsksNothing(
    reactor: EPollReactor,
    connections: List[Tuple[socket.socket, Any]],
    questions: List[int],
    size: int,
) -> None:
    """
    A write of at most 536 bytes (RFC 1122's smallest MSS) is never cut in
    two by the kernel: the reactor asks nothing after it.
    """
    client, transport, port = slowReader(reactor)
    connections.append((client, port))
    writeAll(reactor, transport, b"s" * size)
    writeAll(reactor, transport, b"s" * size)
    assert questions == []


def test_theLastBytesOfACutBurstAreAskedAbout(
    reactor: EPollReactor,
    connections: List[Tuple[socket.socket, Any]],
    questions: List[int],
) -> None:
    """
    A burst that the reactor sends in whole segments (here because the
    application's C{SEND_LIMIT} is eight of them) ends with a call that
    writes what is left, 300 bytes: fewer than a write that asks by
    itself, but the end of a burst, whose tail the kernel may hold (its
    own cut, C{tcp_bound_to_half_wnd}), so the reactor asks then, and only
    then.
    """
    client, transport, port = slowReader(reactor)
    connections.append((client, port))
    segment = transport.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    transport.SEND_LIMIT = 8 * segment
    transport.write(b"c" * (8 * segment + 300))
    reactor.doIteration(0)
    assert transport.dataBuffer or transport._tempDataLen
    assert questions == []
    writeAll(reactor, transport, b"")
    assert len(questions) == 1
    assert questions[0] in (0, 300)
