"""
A Twisted echo client and server in one process, on the reactor named on
the command line, over one loopback TCP connection, with messages of SIZE
bytes, one in flight: the shape in which a write sent too early meets
Nagle's algorithm and the peer's delayed ACK (epollreactor/_writing.py,
"Write attempts").  Neither side sets any socket option, as Twisted's own
protocols do not.

    python bench/bulk_echo.py REACTOR SIZE SECONDS WARMUP

Nothing is counted during the first WARMUP seconds; then, for SECONDS, it
counts round trips and their latencies, and prints one line:

    rate=<round trips/s> count=<n> cpu=<process CPU us per round trip>
    p50=<us> p99=<us> max=<us>
"""

import os
import sys
import time
from typing import List

from echo_server import REACTORS


def main() -> None:
    """
    Install the reactor, connect a client to a server, echo, report.
    """
    name, size, seconds, warmup = (
        sys.argv[1],
        int(sys.argv[2]),
        float(sys.argv[3]),
        float(sys.argv[4]),
    )
    REACTORS[name]()
    from twisted.internet import reactor
    from twisted.internet.protocol import ClientFactory, Factory, Protocol

    message = b"x" * size
    latencies: List[float] = []

    class Echo(Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    class Client(Protocol):
        def connectionMade(self) -> None:
            self.got = 0
            self.measureFrom = time.perf_counter() + warmup
            self.end = self.measureFrom + seconds
            self.cpuFrom = -1.0
            self.sentAt = time.perf_counter()
            self.transport.write(message)

        def dataReceived(self, data: bytes) -> None:
            self.got += len(data)
            if self.got < size:
                return
            self.got -= size
            now = time.perf_counter()
            if now >= self.measureFrom:
                if self.cpuFrom < 0:
                    times = os.times()
                    self.cpuFrom = times.user + times.system
                    self.startedAt = now
                else:
                    latencies.append((now - self.sentAt) * 1e6)
            if now >= self.end:
                times = os.times()
                cpu = times.user + times.system - self.cpuFrom
                count = len(latencies)
                latencies.sort()
                print(
                    "rate={:.1f} count={} cpu={:.2f} p50={:.1f} p99={:.1f} "
                    "max={:.1f}".format(
                        count / (now - self.startedAt),
                        count,
                        cpu / max(count, 1) * 1e6,
                        latencies[count // 2] if count else 0.0,
                        latencies[int(count * 0.99)] if count else 0.0,
                        latencies[-1] if count else 0.0,
                    )
                )
                reactor.stop()
                return
            self.sentAt = now
            self.transport.write(message)

    port = reactor.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")
    factory = ClientFactory.forProtocol(Client)
    reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    # A bound on the whole run, whatever happens to the connection.
    reactor.callLater(warmup + seconds + 60, reactor.stop)
    reactor.run()


if __name__ == "__main__":
    main()
