"""
What one operation costs beside many idle registrations, ours and stock
Twisted's C{EPollReactor} in one run, without a network peer, on pyperf
(C{bench/microbench.py}): the cost must stay flat from 1,000 to 16,000
registrations, whatever happened before.  Three cases timed by pyperf:

 - C{stale}: a descriptor closed behind the reactor's back is removed
   (C{removeReader} meets EBADF), then one iteration runs.  A stale entry
   makes our reactor check the other registrations; per iteration it checks
   a bounded number of them.  Stock raises C{OSError} from the removal and
   leaves its tables inconsistent, which the benchmark repairs so that it
   can go on (it removes the number from C{_reads}).
 - C{close}: after one object had its socket swapped and was added again
   (a second number for one object), a connection is opened, registered
   for reading, and closed as C{tcp.Connection} closes: C{removeReader} and
   C{removeWriter}, the socket closed, then C{stopReading} and
   C{stopWriting} again from C{connectionLost} while C{fileno()} says -1.
 - C{event}: 50 readable socket pairs are dispatched per C{doIteration(0)}
   (nothing read, so they stay readable); the cost per event.

And one measured here: C{idle}, the reactor waits for two seconds with
nothing to do; the CPU it spends a second, which for ours is the checks
that find descriptors closed behind its back (C{WATCH_PERIOD} in
C{epollreactor/_registrations.py}), and for stock nothing.  pyperf has no
fit for it: it is CPU time per second of waiting, not the time of an
operation, and pyperf's calibration would double the loops until the CPU
time reached its minimum (0.1 s: a minute of waiting for ours, forever for
stock).

The idle registrations are duplicates of one socket's descriptor (C{dup}),
each its own entry in the interest list (epoll(7), Q1), so 16,000 of them
fit under the usual descriptor limit.  Each figure is CPU time per
operation, which a busy machine disturbs far less than rates
(bench/README.md).

    python bench/bench_registrations.py [--sizes 1000,2000,4000,8000,16000]
        [--only epoll,ours] [pyperf's options: --fast, -p N]
"""

import os
import resource
import socket
import sys
import time
from functools import partial
from typing import Any, Callable, Dict, List, Tuple

import microbench
from twisted.internet.abstract import FileDescriptor


class Idle(FileDescriptor):
    """
    A descriptor that never becomes ready: a duplicate of one end of a
    socket pair nobody writes to.
    """

    def __init__(self, fd: int, reactor: Any) -> None:
        FileDescriptor.__init__(self, reactor)
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def logPrefix(self) -> str:
        return "Idle"

    def doRead(self) -> None:
        return None

    def connectionLost(self, reason: Any) -> None:
        return None


class Connection(Idle):
    """
    A descriptor over a socket whose C{fileno()} says -1 once it is closed,
    as C{tcp.Connection}'s does.
    """

    def __init__(self, sock: socket.socket, reactor: Any) -> None:
        Idle.__init__(self, -1, reactor)
        self.socket = sock

    def fileno(self) -> int:
        return self.socket.fileno()


def makeReactors() -> Dict[str, Callable[[], Any]]:
    """
    @return: the reactors to compare, by name, stock first.
    """
    from twisted.internet import epollreactor as stock

    import epollreactor

    return {"epoll": stock.EPollReactor, "ours": epollreactor.EPollReactor}


def populate(reactor: Any, size: int) -> Tuple[List[int], List[socket.socket]]:
    """
    Register C{size} idle descriptors with C{reactor} for reading.

    @return: the duplicated numbers and the socket pair behind them, to
        keep referenced: once the pair is closed, every duplicate is
        readable.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < size + 200 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pair = list(socket.socketpair())
    numbers = []
    for _ in range(size):
        number = os.dup(pair[0].fileno())
        numbers.append(number)
        reactor.addReader(Idle(number, reactor))
    return numbers, pair


def staleRemovals(factory: Callable[[], Any], size: int) -> microbench.Run:
    """
    @return: a runner that, beside C{size} registrations, C{n} times
        registers a socket, closes it behind the reactor's back, removes it
        (EBADF) and iterates once.
    """
    reactor = factory()
    background = populate(reactor, size)

    def run(n: int) -> None:
        """
        Run the case C{n} times.
        """
        for _ in range(n):
            left, right = socket.socketpair()
            idle = Idle(left.fileno(), reactor)
            reactor.addReader(idle)
            fd = left.detach()
            os.close(fd)
            try:
                reactor.removeReader(idle)
            except OSError:
                # Stock: the removal failed half-way; undo its half.
                reactor._reads.discard(fd)
            reactor.doIteration(0)
            right.close()

    run.keep = background  # type: ignore[attr-defined]
    return run


def closes(factory: Callable[[], Any], size: int) -> microbench.Run:
    """
    @return: a runner that, beside C{size} registrations and after one
        object had its socket swapped and was added again (a second number
        for one object), C{n} times opens a connection, registers it and
        closes it as C{tcp.Connection} does.
    """
    reactor = factory()
    background = populate(reactor, size)
    first = list(socket.socketpair())
    connection = Connection(first[0], reactor)
    reactor.addReader(connection)
    second = list(socket.socketpair())
    connection.socket = second[0]
    reactor.addReader(connection)

    def run(n: int) -> None:
        """
        Run the case C{n} times.
        """
        for _ in range(n):
            left, right = socket.socketpair()
            connection = Connection(left, reactor)
            reactor.addReader(connection)
            reactor.removeReader(connection)
            reactor.removeWriter(connection)
            left.close()
            reactor.removeReader(connection)
            reactor.removeWriter(connection)
            right.close()

    run.keep = (background, first, second)  # type: ignore[attr-defined]
    return run


#: How many readable descriptors the C{event} case dispatches per iteration.
ACTIVE = 50


def events(factory: Callable[[], Any], size: int) -> microbench.Run:
    """
    @return: a runner of C{n} C{doIteration(0)}, each dispatching L{ACTIVE}
        readable descriptors beside C{size} idle ones.
    """
    reactor = factory()
    background = populate(reactor, size)
    pairs = [socket.socketpair() for _ in range(ACTIVE)]
    for left, right in pairs:
        right.send(b"x")
        reactor.addReader(Idle(left.fileno(), reactor))
    return microbench.calling(reactor.doIteration, 0, (background, pairs))


def idling(factory: Callable[[], Any], size: int, seconds: float = 2.0) -> float:
    """
    @return: the CPU seconds a reactor with C{size} idle registrations
        spends per second of waiting for C{seconds} with nothing ready and
        no timer.
    """
    reactor = factory()
    numbers, pair = populate(reactor, size)
    start = time.process_time()
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        reactor.doIteration(left)
    spent = (time.process_time() - start) / seconds
    reactor.removeAll()
    for number in numbers:
        os.close(number)
    for sock in pair:
        sock.close()
    reactor._poller.close()
    return spent


def main() -> None:
    """
    Measure the timed cases on pyperf and compare them with stock, then
    print the idle case as a markdown table.
    """
    reactors = makeReactors()
    suite = microbench.Suite(list(reactors), processes=6)
    suite.argparser.add_argument("--sizes", default="1000,2000,4000,8000,16000")
    options = suite.parse()
    sizes = [int(size) for size in options.sizes.split(",")]
    cases = [
        ("stale", staleRemovals, 1),
        ("close", closes, 1),
        ("event", events, ACTIVE),
    ]
    for case, build, inner in cases:
        for size in sizes:
            for peer in suite.peers:
                name = "{} beside {:,}".format(case, size)
                suite.add(name, peer, partial(build, reactors[peer], size), inner=inner)
    if suite.runner.args.worker:
        return
    suite.compare("epoll", *[peer for peer in suite.peers if peer != "epoll"])
    print("idle (ms of CPU per second idle)")
    print()
    print("| registrations | " + " | ".join(suite.peers) + " |")
    print("|---" * (len(suite.peers) + 1) + "|")
    for size in sizes:
        cells = [idling(reactors[peer], size) * 1e3 for peer in suite.peers]
        print(
            "| {:,} | ".format(size)
            + " | ".join("{:.2f}".format(c) for c in cells)
            + " |"
        )


if __name__ == "__main__":
    sys.exit(main())
