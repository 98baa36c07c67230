"""
The reactor's per-event cost, without a network peer, on pyperf
(C{bench/microbench.py}): ours against Twisted's epoll (stock) and poll
reactors.  50 socket pairs hold unread data, so level-triggered epoll
reports all 50 on every C{doIteration(0)}.  Two cases, per read event:

 - C{read}: each C{doRead} does nothing.  What is timed is the loop itself:
   C{epoll_wait}, decoding, the log context and the dispatch to C{doRead}.
 - C{echo}: each C{doRead} asks for a write (C{addWriter}) as a transport
   does when its protocol writes, and each C{doWrite} stops writing
   (C{removeWriter}) as a transport does once its buffer is flushed, without
   sending anything: the reactor's share of one echoed message.

A third case, C{close}, per closed descriptor: beside 5,000 registered
socket pairs, more are registered, then each removed as a closing
connection does (C{removeReader} and C{removeWriter}, then again from
C{FileDescriptor.connectionLost}'s C{stopReading}/C{stopWriting}) and
closed; only the removals and closes are timed.

    python bench/bench_dispatch.py [--events 50] [--close 5000] [--only ours,epoll]
"""

import resource
import socket
import sys
from functools import partial
from typing import Any, Callable, Dict, List

import microbench
from twisted.internet.abstract import FileDescriptor


class Readable(FileDescriptor):
    """
    A descriptor whose C{doRead} leaves the data where it is, so that it
    stays readable.
    """

    def __init__(self, sock: socket.socket, reactor: Any) -> None:
        FileDescriptor.__init__(self, reactor)
        self.socket = sock

    def fileno(self) -> int:
        return self.socket.fileno()

    def logPrefix(self) -> str:
        return "Readable"

    def doRead(self) -> None:
        return None


class Echoing(Readable):
    """
    A descriptor that asks to write whenever it reads, and stops writing
    whenever it is told it can, as a transport echoing each message does.
    """

    def doRead(self) -> None:
        self.reactor.addWriter(self)
        return None

    def doWrite(self) -> None:
        self.reactor.removeWriter(self)
        return None


def makeReactors() -> Dict[str, Callable[[], Any]]:
    """
    @return: the reactors to compare, by name, stock first.
    """
    from twisted.internet import epollreactor as stock
    from twisted.internet import pollreactor

    import epollreactor

    return {
        "epoll": stock.EPollReactor,
        "ours": epollreactor.EPollReactor,
        "poll": pollreactor.PollReactor,
    }


def dispatching(factory: Callable[[], Any], kind: type, events: int) -> microbench.Run:
    """
    @return: a runner of C{doIteration(0)} over C{events} ready descriptors
        of C{kind}.
    """
    reactor = factory()
    pairs = [socket.socketpair() for _ in range(events)]
    for a, b in pairs:
        b.send(b"x")
        reactor.addReader(kind(a, reactor))
    return microbench.calling(reactor.doIteration, 0, pairs)


def closing(
    factory: Callable[[], Any], registered: int, clock: Callable[[], float]
) -> microbench.Run:
    """
    @return: a runner closing C{n} descriptors beside C{registered}
        others, which times itself on C{clock}: opening and registering
        them is left out, a thousand at a time.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * registered + 2100 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    reactor = factory()
    idle = [socket.socketpair() for _ in range(registered)]
    for a, _ in idle:
        reactor.addReader(Readable(a, reactor))

    def run(n: int) -> float:
        """
        Run the case C{n} times.

        @return: the seconds it measured.
        """
        elapsed = 0.0
        while n > 0:
            pairs = [socket.socketpair() for _ in range(min(n, 1000))]
            n -= len(pairs)
            readables = [Readable(a, reactor) for a, _ in pairs]
            for readable in readables:
                reactor.addReader(readable)
            start = clock()
            for readable, (a, b) in zip(readables, pairs):
                # _disconnectSelectable, then FileDescriptor.connectionLost's
                # stopReading and stopWriting, then the socket is closed.
                reactor.removeReader(readable)
                reactor.removeWriter(readable)
                reactor.removeReader(readable)
                reactor.removeWriter(readable)
                a.close()
                b.close()
            elapsed += clock() - start
        return elapsed

    run.keep = idle  # type: ignore[attr-defined]
    return run


def main() -> None:
    """
    Measure every case on every reactor, then compare with stock.
    """
    reactors = makeReactors()
    suite = microbench.Suite(list(reactors), processes=10)
    suite.argparser.add_argument("--events", type=int, default=50)
    suite.argparser.add_argument("--close", type=int, default=5000)
    options = suite.parse()
    for case, kind in (("read", Readable), ("echo", Echoing)):
        for peer in suite.peers:
            build = partial(dispatching, reactors[peer], kind, options.events)
            suite.add(case + " (per event)", peer, build, inner=options.events)
    for peer in suite.peers:
        build = partial(closing, reactors[peer], options.close, suite.clock)
        suite.add("close among {:,}".format(options.close), peer, build)
    others: List[str] = [peer for peer in suite.peers if peer != "epoll"]
    suite.compare("epoll", *others)


if __name__ == "__main__":
    sys.exit(main())
