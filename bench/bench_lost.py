"""
What looking for lost registrations costs (bench/README.md, "Lost
descriptors"): beside N idle registrations (both ends of N / 2 socket
pairs), the CPU one sweep takes (every owner's C{fileno()} compared, one
C{poll(2)} over every number), one ring visit of every record (an
C{EPOLL_CTL_MOD} each) for comparison, the CPU an idle reactor spends a
second with its checks on and with them off (its checks' clock stopped),
and the CPU an iteration of a busy loop costs (one reader always ready,
beside the idle ones) with the checks on and off, rounds interleaved.  Run: python bench/bench_lost.py [--rounds 5]
[--seconds 2] [--sizes 1000,10000].
"""

import argparse
import os
import resource
import socket
import sys
import time
from typing import Any, Callable, List

from epollreactor import EPollReactor


class Idle:
    """
    A reader that nothing ever happens to.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def doRead(self) -> None:
        raise AssertionError("an idle reader was read")

    def connectionLost(self, reason: Any) -> None:
        raise AssertionError("an idle reader was lost: {}".format(reason))

    def logPrefix(self) -> str:
        return "Idle"


def best(call: Callable[[], Any], repeat: int) -> float:
    """
    @return: the least CPU time (seconds) of C{repeat} calls of C{call}.
    """
    times = []
    for _ in range(repeat):
        began = time.process_time()
        call()
        times.append(time.process_time() - began)
    return min(times)


def settle(reactor: EPollReactor, checking: bool) -> None:
    """
    Give the reactor's checks the real clock, or a stopped one, and let
    them make the catch-up pass a changed clock owes before measuring.
    """
    table = reactor._registrations
    table.clock = time.monotonic if checking else (lambda: 0.0)
    table.checkAt = 0.0
    reactor.doIteration(0)


def idleCpu(reactor: EPollReactor, seconds: float, checking: bool) -> float:
    """
    @return: the CPU (ms) a second that C{reactor} spends idle for
        C{seconds}, with its checks on or with their clock stopped.
    """
    settle(reactor, checking)
    deadline = time.monotonic() + seconds
    began = time.process_time()
    while time.monotonic() < deadline:
        reactor.doIteration(deadline - time.monotonic())
    return (time.process_time() - began) / seconds * 1000


class Busy(Idle):
    """
    A reader whose socket is always readable: it never drains it.
    """

    def doRead(self) -> None:
        pass


def busyCpu(reactor: EPollReactor, seconds: float, checking: bool) -> float:
    """
    @return: the CPU (us) an iteration costs in a loop whose one busy
        reader makes every wait return at once, for C{seconds}.
    """
    settle(reactor, checking)
    iterations = 0
    deadline = time.monotonic() + seconds
    began = time.process_time()
    while time.monotonic() < deadline:
        for _ in range(100):
            reactor.doIteration(0)
        iterations += 100
    return (time.process_time() - began) / iterations * 1e6


def measure(size: int, rounds: int, seconds: float) -> List[str]:
    """
    @return: the table rows for C{size} registrations.
    """
    fds: List[int] = []
    for _ in range(size // 2):
        left, right = socket.socketpair()
        fds += [left.detach(), right.detach()]
    reactor = EPollReactor()
    try:
        for fd in fds[:-2]:
            reactor.addReader(Idle(fd))
        reactor.addReader(Busy(fds[-2]))
        os.write(fds[-1], b"x")
        table = reactor._registrations
        count = len(table.byNumber)
        sweep = best(table._sweep, 15) / count * 1e9
        ring = best(lambda: table._visit(count), 3) / count * 1e9
        busyOn, busyOff = [], []
        for _ in range(rounds):
            busyOn.append(busyCpu(reactor, seconds, True))
            busyOff.append(busyCpu(reactor, seconds, False))
        reactor.removeReader(table.byNumber[fds[-2]].owner)
        on, off = [], []
        for _ in range(rounds):
            on.append(idleCpu(reactor, seconds, True))
            off.append(idleCpu(reactor, seconds, False))
        return [
            "| {:,} | {:.0f} ns | {:.0f} ns | {:.2f} ms | {} / {} ms | {} / {} us |".format(
                count,
                sweep,
                ring,
                sweep * count / 1e6,
                spread(on),
                spread(off),
                spread(busyOn),
                spread(busyOff),
            )
        ]
    finally:
        reactor.removeAll()
        for fd in fds:
            os.close(fd)


def spread(values: List[float]) -> str:
    """
    @return: the median of C{values}, and their range.
    """
    ordered = sorted(values)
    return "{:.2f} ({:.2f}-{:.2f})".format(
        ordered[len(ordered) // 2], ordered[0], ordered[-1]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--sizes", default="1000,10000")
    arguments = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("load average before: {}".format(os.getloadavg()))
    print()
    print(
        "| registrations | sweep, per record | ring visit (EPOLL_CTL_MOD), "
        "per record | one sweep | idle CPU a second, checks on / off | "
        "busy loop CPU an iteration, checks on / off |"
    )
    print("|---|---|---|---|---|---|")
    for size in arguments.sizes.split(","):
        for row in measure(int(size), arguments.rounds, arguments.seconds):
            print(row)
            sys.stdout.flush()
    print()
    print("load average after: {}".format(os.getloadavg()))


if __name__ == "__main__":
    main()
