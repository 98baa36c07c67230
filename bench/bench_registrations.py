"""
What one operation costs beside many idle registrations, ours and stock
Twisted's C{EPollReactor} in one run, in one process, without a network
peer: the cost must stay flat from 1,000 to 16,000 registrations, whatever
happened before.  Three cases:

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
 - C{idle}: the reactor waits for two seconds with nothing to do; the CPU
   it spends a second, which for ours is the checks that find descriptors
   closed behind its back (C{WATCH_PERIOD} in
   C{epollreactor/_registrations.py}), and for stock nothing.

The idle registrations are duplicates of one socket's descriptor (C{dup}),
each its own entry in the interest list (epoll(7), Q1), so 16,000 of them
fit under the usual descriptor limit.  Each figure is CPU time per
operation, the best of several repeats, which a busy machine disturbs far
less than rates (bench/README.md).

    python bench/bench_registrations.py [--sizes 1000,2000,4000,8000,16000]
        [--only ours,epoll] [--repeats 3]
"""

import argparse
import os
import resource
import socket
import time
from typing import Any, Callable, Dict, List, Tuple

from twisted.internet.abstract import FileDescriptor

#: The cases, and the unit each is reported in.
CASES = [
    ("stale", "us per stale removal"),
    ("close", "us per close after an alias"),
    ("event", "ns per dispatched event"),
    ("idle", "ms of CPU per second idle"),
]


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
    @return: the reactors to compare, by name.
    """
    from twisted.internet import epollreactor as stock

    import epollreactor

    return {"ours": epollreactor.EPollReactor, "epoll": stock.EPollReactor}


def populate(reactor: Any, size: int) -> Tuple[List[int], List[socket.socket]]:
    """
    Register C{size} idle descriptors with C{reactor} for reading.

    @return: the duplicated numbers and the socket pair behind them.
    """
    pair = list(socket.socketpair())
    numbers = []
    for _ in range(size):
        number = os.dup(pair[0].fileno())
        numbers.append(number)
        reactor.addReader(Idle(number, reactor))
    return numbers, pair


def cpu(run: Callable[[Any], int], reactor: Any, repeats: int) -> float:
    """
    @return: the least CPU seconds per operation over C{repeats} runs of
        C{run(reactor)}, which returns how many operations it did.
    """
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        count = run(reactor)
        best = min(best, (time.process_time() - start) / count)
    return best


def staleRemovals(reactor: Any, cycles: int = 200) -> int:
    """
    C{cycles} times: register a socket, close it behind the reactor's back,
    remove it (EBADF), iterate once.
    """
    for _ in range(cycles):
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
    return cycles


def closes(reactor: Any, cycles: int = 500) -> int:
    """
    C{cycles} times: open a connection, register it, close it as
    C{tcp.Connection} does.
    """
    for _ in range(cycles):
        left, right = socket.socketpair()
        connection = Connection(left, reactor)
        reactor.addReader(connection)
        reactor.removeReader(connection)
        reactor.removeWriter(connection)
        left.close()
        reactor.removeReader(connection)
        reactor.removeWriter(connection)
        right.close()
    return cycles


def swapOneSocket(reactor: Any) -> List[socket.socket]:
    """
    Register an object, swap its socket for another and add it again: the
    object has been under two numbers.

    @return: the sockets, to close at the end.
    """
    first = list(socket.socketpair())
    second = list(socket.socketpair())
    connection = Connection(first[0], reactor)
    reactor.addReader(connection)
    connection.socket = second[0]
    reactor.addReader(connection)
    return first + second


def events(reactor: Any, polls: int = 400, active: int = 50) -> int:
    """
    Dispatch C{active} readable descriptors C{polls} times.
    """
    pairs = []
    for _ in range(active):
        left, right = socket.socketpair()
        right.send(b"x")
        reader = Idle(left.fileno(), reactor)
        reactor.addReader(reader)
        pairs.append((reader, left, right))
    doIteration = reactor.doIteration
    for _ in range(polls):
        doIteration(0)
    for reader, left, right in pairs:
        reactor.removeReader(reader)
        left.close()
        right.close()
    return polls * active


def idling(reactor: Any, seconds: float = 2.0) -> float:
    """
    @return: the CPU seconds C{reactor} spends per second of waiting for
        C{seconds} with nothing ready and no timer.
    """
    start = time.process_time()
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        reactor.doIteration(left)
    return (time.process_time() - start) / seconds


def measure(factory: Callable[[], Any], size: int, repeats: int) -> Dict[str, float]:
    """
    @return: each case's cost with C{size} idle registrations, in its unit.
    """
    results = {}
    for case, _ in CASES:
        reactor = factory()
        numbers, pair = populate(reactor, size)
        extra: List[socket.socket] = []
        if case == "stale":
            value = cpu(staleRemovals, reactor, repeats) * 1e6
        elif case == "close":
            extra = swapOneSocket(reactor)
            value = cpu(closes, reactor, repeats) * 1e6
        elif case == "event":
            value = cpu(events, reactor, repeats) * 1e9
        else:
            value = idling(reactor) * 1e3
        results[case] = value
        reactor.removeAll()
        for number in numbers:
            os.close(number)
        for sock in pair + extra:
            sock.close()
        reactor._poller.close()
    return results


def main() -> None:
    """
    Measure every case at every size on every reactor, and print one
    markdown table per case with the ratio stock / ours.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,2000,4000,8000,16000")
    parser.add_argument("--only", default="")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < max(sizes) + 200 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    reactors = makeReactors()
    names = [n for n in arguments.only.split(",") if n] or list(reactors)
    table = {
        (name, size): measure(reactors[name], size, arguments.repeats)
        for size in sizes
        for name in names
    }
    for case, unit in CASES:
        print()
        print("{} ({}, CPU)".format(case, unit))
        print()
        header = "| registrations | " + " | ".join(names)
        if "ours" in names and "epoll" in names:
            header += " | stock / ours"
        print(header + " |")
        print("|---" * (header.count("|")) + "|")
        for size in sizes:
            values = [table[name, size][case] for name in names]
            row = "| {:,} | ".format(size) + " | ".join(
                "{:.2f}".format(v) if v < 100 else "{:,.0f}".format(v) for v in values
            )
            if "ours" in names and "epoll" in names:
                ours = table["ours", size][case]
                # Idle, stock spends nothing: no ratio.
                row += (
                    " | {:.2f}x".format(table["epoll", size][case] / ours)
                    if case != "idle" and ours
                    else " | -"
                )
            print(row + " |")


if __name__ == "__main__":
    main()
