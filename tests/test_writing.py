"""
How L{epollreactor.EPollReactor} has a TCP connection cut a burst of
output, counted in C{send()} calls on real connections over loopback: every
call of a burst asks for a whole number of segments (the connection's MSS
at that moment) but the last, so the burst carries one short segment, at
its end, and Nagle's algorithm has no earlier one to hold it behind
(L{epollreactor._writing}).  Output that one call takes whole, and output
of a pull producer, goes as Twisted sends it.
"""

import socket
from typing import Any, Callable, Iterator, List, Optional, Tuple

from zope.interface import implementer

import pytest
from twisted.internet import tcp
from twisted.internet.interfaces import IPullProducer
from twisted.internet.protocol import Factory, Protocol

from epollreactor import _writing
from epollreactor._reactor import EPollReactor
from epollreactor._writing import HOLD_LIMIT, REREAD
from tests.test_earlywrite import LIMIT, Echo, drain, exchange, serveEcho

#: One C{send()}: bytes asked for, bytes taken, the connection's MSS then.
Send = Tuple[int, int, int]


class MeasuringSocket:
    """
    The server connection's socket, which records every C{send()} with the
    connection's MSS (C{TCP_MAXSEG}, tcp(7)) as it was when the call was
    made, and the option of every C{getsockopt()}; everything else goes to
    the real socket.

    @ivar options: the options asked for, in order.
    @ivar infoLength: if not 0, how much of C{TCP_INFO} to answer, as a
        kernel older than 5.4 answers less than today's.
    """

    infoLength = 0

    def __init__(self, real: socket.socket, sends: List[Send]) -> None:
        """
        @param real: the socket Twisted's transport holds.
        @param sends: where calls are recorded.
        """
        self._real = real
        self._sends = sends
        self.options: List[int] = []

    def getsockopt(self, level: int, option: int, *length: int) -> Any:
        """
        C{getsockopt(2)}, recorded; C{TCP_INFO} cut to L{infoLength}.
        """
        self.options.append(option)
        value = self._real.getsockopt(level, option, *length)
        if option == socket.TCP_INFO and self.infoLength:
            return value[: self.infoLength]
        return value

    def send(self, data: Any) -> int:
        """
        C{send(2)}, recorded.
        """
        segment = self._real.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
        sent = self._real.send(data)
        self._sends.append((len(data), sent, segment))
        return sent

    def __getattr__(self, name: str) -> Any:
        """
        @return: the real socket's attribute.
        """
        return getattr(self._real, name)


@pytest.fixture(autouse=True)
def stillClock(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Stop the clock L{epollreactor._writing} reads: a burst's shape is
    then what its input makes it, not how fast this machine runs it, and
    L{HOLD_LIMIT} is checked on its own, by counted ticks.
    """
    monkeypatch.setattr(_writing, "monotonic", Clock())


@pytest.fixture
def served(
    reactor: EPollReactor,
) -> Iterator[Tuple[socket.socket, Any, List[Send]]]:
    """
    An echo server on C{reactor} and a non-blocking client socket connected
    to it, with the server connection's C{send()} calls recorded.

    @return: the client socket, the server's transport, and the record.
    """
    sends: List[Send] = []
    client, transport, port = serveEcho(reactor)
    transport.socket = MeasuringSocket(transport.socket, sends)
    yield client, transport, sends
    client.close()
    transport.loseConnection()
    port.stopListening()


def shortSends(sends: List[Send]) -> List[int]:
    """
    @return: the positions in C{sends} of the calls that asked for a length
        that is not a whole number of segments.
    """
    return [index for index, (asked, _, segment) in enumerate(sends) if asked % segment]


def echoBursts(
    reactor: EPollReactor,
    client: socket.socket,
    sends: List[Send],
    size: int,
    count: int,
) -> int:
    """
    Echo C{count} messages of C{size} bytes, each sent as fast as the
    connection takes it, and check that each was sent back in sends of
    whole segments but the last.

    @return: how many sends they took.
    """
    taken = 0
    for _ in range(count):
        del sends[:]
        exchange(reactor, client, b"b" * size, burst=True)
        assert sum(sent for _, sent, _ in sends) == size
        assert shortSends(sends) in ([], [len(sends) - 1]), sends
        taken += len(sends)
    return taken


@pytest.mark.parametrize("size", [200_000, 262_144, 1_048_576, 3_000_001])
def test_aBurstEndsInItsOnlyShortSegment(
    reactor: EPollReactor,
    served: Tuple[socket.socket, Any, List[Send]],
    size: int,
) -> None:
    """
    A message that arrives in several reads is echoed in sends that each
    ask for a whole number of segments, but the last one: one short segment
    per message, at its end.  Twisted's transport alone asks for 131,072
    bytes at a time (C{SEND_LIMIT}), which no MSS divides, and empties its
    buffer whenever it can, so each of its sends ends short.
    """
    client, transport, sends = served
    for _ in range(3):
        del sends[:]
        exchange(reactor, client, b"m" * size, burst=True)
        assert sum(sent for _, sent, _ in sends) == size
        assert len(sends) > 1
        assert shortSends(sends) in ([], [len(sends) - 1]), sends


def test_aSettledSegmentServesTheCuts(reactor: EPollReactor) -> None:
    """
    Once the peer's window has been more than twice the MSS, the MSS can no
    longer grow, and the cuts of a burst take it from the reading that
    showed it (C{TCP_INFO}) until the options are read again, every
    L{REREAD} decisions: twenty 1 MiB echoes to a client that asked for an
    MSS of 1,000 bytes, each cut many times, ask for C{TCP_INFO} once a
    reading of the options (C{TCP_MAXSEG} and C{TCP_NODELAY}), not once a
    cut, and still end each burst in its only short segment.  Each reading
    asks for a new proof, since path MTU discovery may have lowered the MSS
    since the last.
    """
    sends: List[Send] = []
    client, transport, port = serveEcho(reactor, segment=1000)
    real = transport.socket
    if len(real.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)) < 232:
        pytest.skip(
            "TCP_INFO here ends before the send window (qemu-user copies one "
            "int of it): test_withoutTheWindowEachCutReadsTheSegment applies"
        )
    measured = transport.socket = MeasuringSocket(real, sends)
    try:
        echoBursts(reactor, client, sends, 1_048_576, 1)
        del measured.options[:]
        cuts = echoBursts(reactor, client, sends, 1_048_576, 20)
    finally:
        client.close()
        transport.loseConnection()
        port.stopListening()
    readings = measured.options.count(socket.TCP_MAXSEG)
    proofs = measured.options.count(socket.TCP_INFO)
    assert readings >= 3, (cuts, measured.options)
    assert readings - 1 <= proofs <= readings + 2, (cuts, measured.options)


def test_withoutTheWindowEachCutReadsTheSegment(
    reactor: EPollReactor,
    served: Tuple[socket.socket, Any, List[Send]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """
    A kernel whose C{TCP_INFO} ends before the send window (older than
    5.4; qemu-user copies one int of it) cannot show that the MSS stands:
    after that one short answer, every cut reads C{TCP_MAXSEG}, and bursts
    still end in their only short segment.
    """
    monkeypatch.setattr(_writing, "_windowReported", True)
    client, transport, sends = served
    transport.socket.infoLength = 104
    options = transport.socket.options
    cuts = echoBursts(reactor, client, sends, 1_048_576, 3)
    assert options.count(socket.TCP_INFO) == 1
    assert options.count(socket.TCP_MAXSEG) >= cuts - 3, (cuts, options)
    assert _writing._windowReported is False


def test_aMessageOneSendTakesIsSentWhole(
    reactor: EPollReactor,
    served: Tuple[socket.socket, Any, List[Send]],
) -> None:
    """
    A 64 KiB message, read at once and answered in one call, goes out in
    that one call as Twisted sends it: nothing is held back when no more
    input is arriving, so a request's response costs no extra C{send()}.
    """
    client, transport, sends = served
    for _ in range(5):
        del sends[:]
        exchange(reactor, client, b"q" * 65_536, burst=True)
        if len(sends) == 1:
            assert sends[0][:2] == (65_536, 65_536)
            return
    # The message arrived in two reads every time: it is then a burst, and
    # must have been cut as one.
    assert shortSends(sends) in ([], [len(sends) - 1]), sends


def test_theTransportsOwnSendLimitIsKeptAndHonoured(
    reactor: EPollReactor,
    served: Tuple[socket.socket, Any, List[Send]],
) -> None:
    """
    An application that set its connection's C{SEND_LIMIT} gets sends no
    larger, still in whole segments, and finds its own value afterwards;
    one that did not finds no attribute of ours on its transport.
    """
    client, transport, sends = served
    exchange(reactor, client, b"d" * 1_048_576, burst=True)
    assert "SEND_LIMIT" not in vars(transport)
    del sends[:]
    transport.SEND_LIMIT = 100_000
    exchange(reactor, client, b"l" * 1_048_576, burst=True)
    assert max(asked for asked, _, _ in sends) <= 100_000
    assert shortSends(sends) in ([], [len(sends) - 1]), sends
    assert vars(transport)["SEND_LIMIT"] == 100_000


def test_aCutNeverReadsTheTransportsDict(
    reactor: EPollReactor,
    served: Tuple[socket.socket, Any, List[Send]],
) -> None:
    """
    A burst cut to whole segments sets and restores its transport's
    C{SEND_LIMIT} without reading the transport's C{__dict__}: on CPython
    3.11 and later that read gives up the object's inline attribute
    values, and every attribute access on the connection is slower for the
    rest of its life.
    """
    client, transport, sends = served
    reads: List[str] = []

    class Watched(transport.__class__):
        def __getattribute__(self, name: str) -> Any:
            if name == "__dict__":
                reads.append(name)
            return super().__getattribute__(name)

    transport.__class__ = Watched
    exchange(reactor, client, b"w" * 1_048_576, burst=True)
    assert len(sends) > 1 and shortSends(sends) == [len(sends) - 1], sends
    assert reads == []


class Download(Protocol):
    """
    Answers any input with one write of L{SIZE} bytes: a large response,
    written at once.
    """

    SIZE = 3_000_000

    def dataReceived(self, data: bytes) -> None:
        """
        Write the response.
        """
        self.transport.write(b"r" * self.SIZE)


def test_aLargeWriteIsSentInWholeSegments(reactor: EPollReactor) -> None:
    """
    A response written at once, larger than Twisted's C{SEND_LIMIT}, goes
    out in sends of whole segments and one short one, the last: Twisted's
    transport alone sends 131,072 bytes a call, each ending short.
    """
    sends: List[Send] = []
    client, transport, port = serveEcho(reactor, Download)
    transport.socket = MeasuringSocket(transport.socket, sends)
    try:
        client.send(b"get")
        received = 0
        for _ in range(LIMIT):
            reactor.doIteration(0.01)
            received += drain(client)
            if received == Download.SIZE:
                break
    finally:
        client.close()
        transport.loseConnection()
        port.stopListening()
    assert received == Download.SIZE
    assert shortSends(sends) in ([], [len(sends) - 1]), sends


@implementer(IPullProducer)
class Chunks:
    """
    A pull producer that writes C{count} chunks of C{size} bytes, one each
    time the transport asks for more, as C{twisted.web} sends a file.
    """

    def __init__(self, transport: Any, size: int, count: int) -> None:
        """
        @param transport: the connection it writes to.
        @param size: bytes per chunk.
        @param count: how many chunks.
        """
        self.transport = transport
        self.size = size
        self.left = count

    def resumeProducing(self) -> None:
        """
        Write the next chunk, or unregister after the last.
        """
        if not self.left:
            self.transport.unregisterProducer()
            return
        self.left -= 1
        self.transport.write(b"c" * self.size)

    def stopProducing(self) -> None:
        """
        Nothing to release.
        """


def test_aPullProducersChunksAreSentAsTwistedSendsThem(
    reactor: EPollReactor,
    served: Tuple[socket.socket, Any, List[Send]],
) -> None:
    """
    A pull producer writes again only when the buffer is empty, so a held
    tail would stall it for an iteration per chunk: each chunk goes out
    whole, in one C{send()}, as Twisted sends it, even while input waits to
    be read (which on its own would mean the burst goes on).
    """
    client, transport, sends = served
    transport.stopReading()
    client.send(b"unread")
    size, count = 65_536 + 1_000, 8
    transport.registerProducer(Chunks(transport, size, count), False)
    received = 0
    for _ in range(LIMIT):
        reactor.doIteration(0.01)
        received += drain(client)
        if received == size * count:
            break
    assert received == size * count
    assert [asked for asked, _, _ in sends] == [size] * count


class ElsewhereBuffered(tcp.Server):
    """
    A TCP connection that keeps its output in a buffer of its own, as a
    Twisted release that renamed C{FileDescriptor}'s private fields would:
    it has no C{dataBuffer}.

    @ivar limits: the C{SEND_LIMIT} each of its C{doWrite} calls found.
    """

    @property
    def dataBuffer(self) -> bytes:  # type: ignore[override]
        """
        Not here.
        """
        raise AttributeError("dataBuffer")

    def write(self, data: bytes) -> None:
        """
        Keep C{data} until the connection can take it.
        """
        self.__dict__.setdefault("pending", bytearray()).extend(data)
        self.startWriting()

    def doWrite(self) -> None:
        """
        Send what the connection takes, up to C{SEND_LIMIT}.
        """
        self.__dict__.setdefault("limits", []).append(self.SEND_LIMIT)
        pending = self.__dict__["pending"]
        sent = self.socket.send(bytes(pending[: self.SEND_LIMIT]))
        del pending[:sent]
        if not pending:
            self.stopWriting()


def test_aTransportWithoutTheFieldsReadIsLeftToItsOwnWrites(
    reactor: EPollReactor,
) -> None:
    """
    A TCP connection without the private fields the whole-segment rule
    reads (another Twisted release's) is written as it writes itself: its
    C{doWrite} runs untouched, with its own C{SEND_LIMIT}, and a 1 MiB echo
    arrives whole.
    """

    class Port(tcp.Port):
        transport = ElsewhereBuffered

    port = Port(0, Factory.forProtocol(Echo), interface="127.0.0.1", reactor=reactor)
    port.startListening()
    client = socket.create_connection(("127.0.0.1", port.getHost().port))
    client.setblocking(False)
    try:
        exchange(reactor, client, b"e" * 1_048_576, burst=True)
        (transport,) = [
            reader
            for reader in reactor.getReaders()
            if isinstance(reader, ElsewhereBuffered)
        ]
        assert set(transport.limits) == {tcp.Server.SEND_LIMIT}
        transport.loseConnection()
    finally:
        client.close()
        port.stopListening()


def test_unixSocketsAreLeftToTwisted(reactor: EPollReactor, tmp_path: Any) -> None:
    """
    A Unix socket connection is a TCP connection by class, but has no
    segments: a large echo over one is sent as Twisted sends it, 131,072
    bytes a call, and arrives whole.
    """
    asked: List[int] = []

    class Recording(Echo):
        def connectionMade(self) -> None:
            real = self.transport.socket
            self.transport.socket = MeasuringUnixSocket(real, asked)

    path = str(tmp_path / "echo.sock")
    port = reactor.listenUNIX(path, Factory.forProtocol(Recording))
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    client.setblocking(False)
    try:
        exchange(reactor, client, b"u" * 1_048_576)
    finally:
        client.close()
        port.stopListening()
    assert asked and max(asked) == 131_072


class MeasuringUnixSocket(MeasuringSocket):
    """
    A Unix socket's C{send()} calls, recorded by the length asked for.
    """

    def __init__(self, real: socket.socket, asked: List[int]) -> None:
        """
        @param real: the socket Twisted's transport holds.
        @param asked: where each call's length is recorded.
        """
        self._real = real
        self._asked = asked

    def send(self, data: Any) -> int:
        """
        C{send(2)}, recorded.
        """
        self._asked.append(len(data))
        sent: int = self._real.send(data)
        return sent


#: One update of the trickle that follows a snapshot: shorter than a
#: segment, longer than L{SMALLEST_SEGMENT}.
UPDATE = b"u" * 600

#: The snapshot a trickle follows: more than one call sends, so its first
#: call is cut and leaves a tail behind.
SNAPSHOT = b"s" * 200_000


class Updates(Protocol):
    """
    Writes one L{UPDATE} each time it is asked: by its input, as a server
    answers a client that asked for a change, or by a timer, as a server
    pushes changes of its own.

    @ivar updates: how many it wrote.
    """

    updates = 0

    def dataReceived(self, data: bytes) -> None:
        """
        Answer with one update.
        """
        self.push()

    def push(self) -> None:
        """
        Write one update.
        """
        self.transport.write(UPDATE)
        self.updates += 1


class Clock:
    """
    The time L{epollreactor._writing} reads, moved by the test alone, so
    that a hold's bound is checked by counting, never by the machine's
    speed.
    """

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """
        @return: the time now.
        """
        return self.now


def trickleAfterSnapshot(
    reactor: EPollReactor,
    monkeypatch: pytest.MonkeyPatch,
    tick: float,
    noDelay: Optional[Callable[[Any], None]] = None,
    noDelayAt: int = -1,
    asked: bool = True,
    iterations: int = 60,
) -> List[int]:
    """
    Serve L{Updates} after a L{SNAPSHOT}, one update in every iteration,
    with the clock moving C{tick} seconds each time.

    @param noDelay: if given, called with the server's transport to set
        C{TCP_NODELAY} on it: first, or as iteration C{noDelayAt} begins.
    @param asked: the client asks for each update; otherwise the server
        pushes them, as a timer would, and the client sends nothing.
    @return: for each update, how many iterations passed until all that was
        written up to it had been sent: 1 when it is sent after the next
        C{epoll_wait(2)}, where Twisted's reactor sends it.
    """
    clock = Clock()
    monkeypatch.setattr(_writing, "monotonic", clock)
    sends: List[Send] = []
    client, transport, port = serveEcho(reactor, Updates)
    transport.socket = MeasuringSocket(transport.socket, sends)
    if noDelay is not None and noDelayAt < 0:
        noDelay(transport)
    # Each question leaves at once, not when Nagle lets it.
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    waits: List[int] = []
    pending: List[Tuple[int, int]] = []
    updates = 0
    try:
        transport.write(SNAPSHOT)
        for iteration in range(iterations):
            if noDelay is not None and iteration == noDelayAt:
                noDelay(transport)
            if asked:
                client.send(b"?")
            else:
                transport.protocol.push()
            clock.now += tick
            reactor.doIteration(0)
            drain(client)
            while updates < transport.protocol.updates:
                # Written in this iteration, in answer to input.
                updates += 1
                pending.append((iteration, len(SNAPSHOT) + updates * len(UPDATE)))
            sent = sum(taken for _, taken, _ in sends)
            while pending and pending[0][1] <= sent:
                waits.append(iteration - pending.pop(0)[0])
    finally:
        client.close()
        transport.loseConnection()
        port.stopListening()
    return waits + [LIMIT] * len(pending)


def test_aTrickleAfterABurstIsSentAWriteAtATime(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Small writes that no input drives (a timer's updates) after a large one
    are each sent after the next wait, as Twisted's reactor sends them,
    however still the clock stands: output no input drives is no burst
    still arriving, so the snapshot's tail is not held waiting for a
    segment's worth of updates.
    """
    waits = trickleAfterSnapshot(reactor, monkeypatch, 0.0, asked=False)
    assert waits and max(waits) <= 1, waits


def test_aHeldTailWaitsNoLongerThanTheHoldLimit(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    While input keeps a burst going, its tail is held for the rest of the
    burst, but no byte of it longer than L{HOLD_LIMIT}: a segment (65,483
    bytes on loopback) can take long to fill, and updates written while
    it fills must not wait for it.
    """
    tick = HOLD_LIMIT / 4
    waits = trickleAfterSnapshot(reactor, monkeypatch, tick)
    assert waits
    assert max(waits) * tick <= HOLD_LIMIT + 2 * tick, waits


def test_noTailIsHeldOnAConnectionWithNoDelay(
    reactor: EPollReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A connection whose application set C{TCP_NODELAY} asked for every write
    to leave at once, and Nagle holds nothing there: each update is sent
    after the next wait, as Twisted's reactor sends it, however still the
    clock stands.
    """
    waits = trickleAfterSnapshot(reactor, monkeypatch, 0.0, noDelay=byTransport)
    assert waits and max(waits) <= 1, waits


def byTransport(transport: Any) -> None:
    """
    Set C{TCP_NODELAY} as a Twisted application does.
    """
    transport.setTcpNoDelay(True)


def bySocket(transport: Any) -> None:
    """
    Set C{TCP_NODELAY} on the connection's socket itself, which the reactor
    cannot see done.
    """
    transport.getHandle().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@pytest.mark.parametrize("noDelay", [byTransport, bySocket])
def test_noDelaySetLaterIsHonoured(
    reactor: EPollReactor,
    monkeypatch: pytest.MonkeyPatch,
    noDelay: Callable[[Any], None],
) -> None:
    """
    An application may set C{TCP_NODELAY} at any time, and the write
    policy, which reads it once for L{REREAD} decisions, honours it by the
    L{REREAD}th after: updates that input drives, held waiting for a
    segment's worth while it is off (with the clock stopped, for as long as
    the test runs), are each sent after the next wait from then on.
    """
    at = 10
    waits = trickleAfterSnapshot(
        reactor, monkeypatch, 0.0, noDelay, noDelayAt=at, iterations=at + 3 * REREAD
    )
    assert min(waits[: at - 1]) > 1, waits
    assert max(waits[at + REREAD :]) <= 1, waits
