"""
What a reactor leaves behind: descriptors and memory after many add/remove
cycles on one reactor, and descriptors after many reactors are created,
run briefly, stopped and dropped.

The last line of output is a JSON object:
 - C{cycles}: add/remove cycles run; C{fdsAfterCycles}: descriptors open
   after them minus before (C{/proc/self/fd}); C{rssGrowthKiB}: resident
   memory after them minus after a warm-up of the same size.
 - C{reactors}: reactors created; C{epollLeft}: epoll descriptors open
   after they were all dropped minus before; C{otherLeft}: any other
   descriptors (Twisted's waker pipes) likewise.

Usage: C{python -m tests.faults.leaks [--stock] [--cycles=N] [--reactors=N]}
"""

import gc
import os
import socket
import sys
from typing import Any, Dict, Tuple

from tests.faults import report


def _option(name: str, default: int) -> int:
    for argument in sys.argv:
        if argument.startswith(name + "="):
            return int(argument.split("=", 1)[1])
    return default


def _reactorClass() -> Any:
    if "--stock" in sys.argv:
        from twisted.internet.epollreactor import EPollReactor
    else:
        from epollreactor import EPollReactor  # type: ignore[assignment]
    return EPollReactor


def _descriptors() -> Tuple[int, int]:
    """
    @return: how many epoll descriptors, and how many others, this process
        has open.
    """
    epolls = others = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue  # the listing's own descriptor, closed by now
        if target == "anon_inode:[eventpoll]":
            epolls += 1
        else:
            others += 1
    return epolls, others


def _rssKiB() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


class _Descriptor:
    """
    The least an C{IReadDescriptor}/C{IWriteDescriptor} needs.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def logPrefix(self) -> str:
        return "churn"

    def doRead(self) -> None:
        pass

    def doWrite(self) -> None:
        pass

    def connectionLost(self, reason: Any) -> None:
        pass


def _churn(reactor: Any, cycles: int) -> None:
    """
    Run C{cycles} add/remove cycles, as readers, writers and both, with an
    iteration every 100 cycles so that queued changes reach the kernel.
    """
    a, b = socket.socketpair()
    try:
        descriptor = _Descriptor(a.fileno())
        for i in range(cycles):
            kind = i % 3
            if kind != 1:
                reactor.addReader(descriptor)
            if kind != 0:
                reactor.addWriter(descriptor)
            if i % 100 == 0:
                reactor.doIteration(0)
            if kind != 1:
                reactor.removeReader(descriptor)
            if kind != 0:
                reactor.removeWriter(descriptor)
    finally:
        a.close()
        b.close()


def main() -> None:
    """
    Measure and report.
    """
    EPollReactor = _reactorClass()
    cycles = _option("--cycles", 100000)
    count = _option("--reactors", 1000)
    results: Dict[str, Any] = {"cycles": cycles, "reactors": count}

    reactor = EPollReactor()
    # A warm-up as long as the measured run: PyPy's JIT keeps compiling the
    # rarer paths (the routine checks) well past 20,000 cycles.
    _churn(reactor, cycles)
    gc.collect()
    fdsBefore = sum(_descriptors())
    rssBefore = _rssKiB()
    _churn(reactor, cycles)
    gc.collect()
    results["fdsAfterCycles"] = sum(_descriptors()) - fdsBefore
    results["rssGrowthKiB"] = _rssKiB() - rssBefore
    del reactor
    gc.collect()

    epollBefore, othersBefore = _descriptors()
    for _ in range(count):
        reactor = EPollReactor()
        reactor.callWhenRunning(reactor.stop)
        reactor.run(installSignalHandlers=False)
        del reactor
    gc.collect()
    epollAfter, othersAfter = _descriptors()
    results["epollLeft"] = epollAfter - epollBefore
    results["otherLeft"] = othersAfter - othersBefore
    report(results)


if __name__ == "__main__":
    main()
