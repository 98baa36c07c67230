"""
The reactor's per-event cost, in one process, without a network peer: 50
socket pairs hold unread data, so level-triggered epoll reports all 50 on
every C{doPoll(0)}.  Two cases:

 - C{read}: each C{doRead} does nothing.  What is timed is the loop itself:
   C{epoll_wait}, decoding, the log context and the dispatch to C{doRead}.
 - C{echo}: each C{doRead} asks for a write (C{addWriter}) as a transport
   does when its protocol writes, and each C{doWrite} stops writing
   (C{removeWriter}) as a transport does once its buffer is flushed, without
   sending anything: the reactor's share of one echoed message.

A third case, C{close}, registers 5,000 socket pairs, then removes each as
a closing connection does (C{removeReader} and C{removeWriter}, then again
from C{FileDescriptor.connectionLost}'s C{stopReading}/C{stopWriting}) and
closes it: the cost of one closing connection among many.

The best of several repeats is kept, which a busy machine disturbs far less
than the echo benchmark (bench/README.md).

    python bench/bench_dispatch.py [--events 50] [--polls 4000] [--only ours,epoll]
"""

import argparse
import socket
import time
from typing import Any, Callable, Dict, List

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
    @return: the reactors to compare, by name.
    """
    from twisted.internet import epollreactor as stock
    from twisted.internet import pollreactor

    import epollreactor

    return {
        "ours": epollreactor.EPollReactor,
        "epoll": stock.EPollReactor,
        "poll": pollreactor.PollReactor,
    }


def measure(
    factory: Callable[[], Any], kind: type, events: int, polls: int, repeats: int
) -> float:
    """
    @return: the best time per read event, in nanoseconds.
    """
    reactor = factory()
    pairs: List[Any] = []
    for _ in range(events):
        a, b = socket.socketpair()
        b.send(b"x")
        pairs.append((a, b))
        reactor.addReader(kind(a, reactor))
    best = float("inf")
    doPoll = reactor.doIteration
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(polls):
            doPoll(0)
        best = min(best, time.perf_counter() - start)
    for a, b in pairs:
        a.close()
        b.close()
    # The waker is registered too, but it is not readable.
    return best / (polls * events) * 1e9


def measureClose(factory: Callable[[], Any], registered: int) -> float:
    """
    @return: the time to remove one closed descriptor among C{registered},
        in microseconds.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * registered + 100 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    reactor = factory()
    pairs = []
    for _ in range(registered):
        a, b = socket.socketpair()
        readable = Readable(a, reactor)
        reactor.addReader(readable)
        pairs.append((readable, a, b))
    start = time.perf_counter()
    for readable, a, b in pairs:
        # _disconnectSelectable, then FileDescriptor.connectionLost's
        # stopReading and stopWriting, then the socket is closed.
        reactor.removeReader(readable)
        reactor.removeWriter(readable)
        reactor.removeReader(readable)
        reactor.removeWriter(readable)
        a.close()
        b.close()
    return (time.perf_counter() - start) / registered * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--polls", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", default="")
    parser.add_argument("--close", type=int, default=5000)
    arguments = parser.parse_args()
    reactors = makeReactors()
    names = [n for n in arguments.only.split(",") if n] or list(reactors)
    for case, kind in (("read", Readable), ("echo", Echoing)):
        for name in names:
            ns = measure(
                reactors[name],
                kind,
                arguments.events,
                arguments.polls,
                arguments.repeats,
            )
            print("{:5s} {:6s} {:7.0f} ns per read event".format(case, name, ns))
    if arguments.close:
        for name in names:
            us = measureClose(reactors[name], arguments.close)
            print(
                "close {:6s} {:7.1f} us per closed descriptor among {:,}".format(
                    name, us, arguments.close
                )
            )


if __name__ == "__main__":
    main()
