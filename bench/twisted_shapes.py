"""
Twisted's own TCP benchmarks, written again in their shapes, for
L{bench/run.py}: client and server in one process on the reactor named on
the command line, as Twisted runs them, so that both ends cost the reactor
under test.

    python bench/twisted_shapes.py REACTOR SHAPE SECONDS WARMUP

SHAPE is one of L{SHAPES}:

 - C{tcp_throughput}: Twisted's C{benchmarks/test_tcp_throughput.py}
   (pytest-benchmark and codspeed): listen, connect, push 1 MiB through a
   pull producer in 16 KiB writes to an echo server, both ends with
   C{TCP_NODELAY}, count the echo until all of it is back, close, stop
   listening; the unit is one such run.
 - C{tcp_connect}: the legacy twisted-benchmarks' C{tcp_connect.py}: 50
   connections at a time through C{TCP4ClientEndpoint}, bound to a
   127.0.0.x of their own, each closed by both ends as soon as it is made;
   the unit is a connection.
 - C{accepts}: the legacy C{accepts.py}: 50 at a time through
   C{connectTCP}, the server closes each as soon as it accepts it, the
   client waits to see it closed; the unit is a connection.

Nothing is counted during the first WARMUP seconds; then, for SECONDS, it
counts units and the process's CPU time, and prints one line:

    rate=<units/s> count=<n> cpu=<process CPU us per unit> errors=<n>
    total=<units, the warm-up's included>

(C{total} is what a count of system calls under C{strace -c} divides by.)
"""

import os
import sys
import time
from typing import Any, Callable, Dict

from echo_server import REACTORS, NoDelayEcho
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectError, ConnectionClosed
from twisted.internet.protocol import ClientFactory, Factory, Protocol

#: test_tcp_throughput's chunk and total.
CHUNK_SIZE = 16384
SEND_AMOUNT = 1024 * 1024
#: The legacy benchmarks' connections in flight.
CONCURRENCY = 50


class Meter:
    """
    Counts units after the warm-up, and stops the reactor with the result
    once the counted window is over.

    @ivar measuring: whether the counted window has begun.
    """

    def __init__(self, reactor: Any, seconds: float, warmup: float) -> None:
        self.reactor = reactor
        self.measureFrom = time.perf_counter() + warmup
        self.seconds = seconds
        self.measuring = False
        self.finished = False
        self.count = 0
        self.total = 0
        self.errors = 0

    def failed(self, failure: Any) -> None:
        """
        One unit failed: count it, once the window has begun.

        On loopback, with both ends closing at once, a connection now and
        then fails before its connect completes, on every reactor (the
        kernel reports the socket hung up with the connect, and Twisted's
        poll loop, seeing no EPOLLIN, calls it lost): the legacy benchmarks
        stopped there, these count it and go on.
        """
        failure.trap(ConnectError)
        if self.measuring:
            self.errors += 1

    def done(self, ignored: object = None) -> None:
        """
        One unit is done: start the window, count, or end it.
        """
        if self.finished:
            return
        self.total += 1
        now = time.perf_counter()
        if not self.measuring:
            if now >= self.measureFrom:
                self.measuring = True
                self.startedAt = now
                self.cpuFrom = self.cpu()
            return
        self.count += 1
        if now - self.startedAt >= self.seconds:
            self.finished = True
            cpu = self.cpu() - self.cpuFrom
            print(
                "rate={:.1f} count={} cpu={:.2f} errors={} total={}".format(
                    self.count / (now - self.startedAt),
                    self.count,
                    cpu / self.count * 1e6,
                    self.errors,
                    self.total,
                )
            )
            sys.stdout.flush()
            self.reactor.stop()

    @staticmethod
    def cpu() -> float:
        """
        @return: the process's CPU time so far, user and system, seconds.
        """
        times = os.times()
        return times.user + times.system


class Counter(Protocol):
    """
    test_tcp_throughput's client: counts the echo, closes once all of it
    is back, and fires L{finished} with the count when closed.
    """

    count = 0
    finished: "Deferred[int]"

    def connectionMade(self) -> None:
        """
        Turn Nagle's algorithm off, as the benchmark does.
        """
        self.transport.setTcpNoDelay(True)
        self.finished = Deferred()

    def dataReceived(self, data: bytes) -> None:
        """
        Count; close when everything sent has come back.
        """
        self.count += len(data)
        if self.count == SEND_AMOUNT:
            self.transport.loseConnection()

    def connectionLost(self, reason: object) -> None:
        """
        Report the count.
        """
        self.finished.callback(self.count)


class Chunks:
    """
    test_tcp_throughput's pull producer: one chunk per C{resumeProducing},
    unregistered once the total is written.
    """

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.chunk = b"x" * CHUNK_SIZE
        self.sent = 0

    def resumeProducing(self) -> None:
        """
        Write the next chunk; after the last, unregister.
        """
        self.transport.write(self.chunk)
        self.sent += CHUNK_SIZE
        if self.sent == SEND_AMOUNT:
            self.transport.unregisterProducer()

    def stopProducing(self) -> None:
        """
        The connection went: close it.
        """
        self.transport.loseConnection()


def tcpThroughput(reactor: Any, meter: Meter) -> None:
    """
    One run of test_tcp_throughput after another, each on a port of its
    own, as each benchmark round has one.
    """

    def once() -> None:
        port = reactor.listenTCP(
            0, Factory.forProtocol(NoDelayEcho), interface="127.0.0.1"
        )
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)

        def connected(counter: Counter) -> "Deferred[int]":
            counter.transport.registerProducer(Chunks(counter.transport), False)
            return counter.finished

        def check(count: int) -> "Deferred[None]":
            if count != SEND_AMOUNT:
                raise RuntimeError(
                    "{} bytes came back of {}".format(count, SEND_AMOUNT)
                )
            return port.stopListening()

        def again(ignored: object) -> None:
            meter.done()
            if not meter.finished:
                once()

        d = endpoint.connect(Factory.forProtocol(Counter))
        d.addCallback(connected).addCallback(check).addCallback(again)
        d.addErrback(fail, reactor)

    once()


class CloseConnection(Protocol):
    """
    The legacy benchmarks' protocol: closes as soon as it is connected.
    """

    def makeConnection(self, transport: Any) -> None:
        """
        Close at once.
        """
        transport.loseConnection()


def tcpConnect(reactor: Any, meter: Meter) -> None:
    """
    tcp_connect.py: L{CONCURRENCY} endpoint connections in flight, each
    closed by both ends as soon as it is made; the next starts when the
    endpoint's Deferred fires.  Its own 127.0.0.x, as the original picks
    one by the clock, keeps the ephemeral ports of earlier runs, still in
    TIME_WAIT, out of the way of C{bind}.
    """
    interface = "127.0.0.{}".format(int(time.time()) % 254 + 1)
    port = reactor.listenTCP(
        0, Factory.forProtocol(CloseConnection), interface=interface
    )
    endpoint = TCP4ClientEndpoint(
        reactor, interface, port.getHost().port, bindAddress=(interface, 0)
    )
    factory = Factory.forProtocol(CloseConnection)
    keepInFlight(reactor, meter, lambda: endpoint.connect(factory))


def accepts(reactor: Any, meter: Meter) -> None:
    """
    accepts.py: L{CONCURRENCY} C{connectTCP} connections in flight; the
    server closes each when it accepts it, and the next starts when the
    client has seen it closed.
    """
    port = reactor.listenTCP(
        0, Factory.forProtocol(CloseConnection), interface="127.0.0.1"
    )

    def connect() -> "Deferred[None]":
        finished: Deferred[None] = Deferred()
        factory = ClientFactory.forProtocol(Protocol)
        factory.clientConnectionLost = factory.clientConnectionFailed = (  # type: ignore[method-assign]
            lambda connector, reason: finished.errback(reason)
        )
        finished.addErrback(lambda f: f.trap(ConnectionClosed))
        reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
        return finished

    keepInFlight(reactor, meter, connect)


def keepInFlight(reactor: Any, meter: Meter, start: Callable[[], Any]) -> None:
    """
    Keep L{CONCURRENCY} units in flight, as the legacy C{benchlib.Client}
    does: each is begun by C{start}, whose Deferred fires when it is done;
    L{Meter} counts it, and the next begins, until the window is over.
    """

    def request() -> None:
        d = start()
        d.addCallbacks(meter.done, meter.failed)
        d.addCallback(lambda ignored: None if meter.finished else request())
        d.addErrback(fail, reactor)

    for _ in range(CONCURRENCY):
        request()


def fail(failure: Any, reactor: Any) -> None:
    """
    A unit failed: say why and stop, so that run.py sees no result.
    """
    sys.stderr.write(failure.getTraceback())
    if reactor.running:
        reactor.stop()


#: Shape name -> what starts it.
SHAPES: Dict[str, Callable[[Any, Meter], None]] = {
    "tcp_throughput": tcpThroughput,
    "tcp_connect": tcpConnect,
    "accepts": accepts,
}


def main() -> None:
    """
    Install the reactor, run the shape, report.
    """
    name, shape, seconds, warmup = (
        sys.argv[1],
        sys.argv[2],
        float(sys.argv[3]),
        float(sys.argv[4]),
    )
    if shape not in SHAPES:
        raise SystemExit("unknown shape {!r}; known: {}".format(shape, list(SHAPES)))
    REACTORS[name]()
    from twisted.internet import reactor

    meter = Meter(reactor, seconds, warmup)
    reactor.callWhenRunning(SHAPES[shape], reactor, meter)
    # A bound on the whole run, whatever happens to the connections.
    reactor.callLater(warmup + seconds + 60, reactor.stop)
    reactor.run()
    if not meter.finished:
        raise SystemExit("{} on {} did not finish".format(shape, name))


if __name__ == "__main__":
    main()
