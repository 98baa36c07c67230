"""
Micro-benchmark of the binding: L{epollreactor.epoll} against CPython's
C{select.epoll}, call for call, in one process.

Every scenario is timed for both implementations in alternating order over
several rounds, and the median of each is reported in microseconds per call,
with the ratio ours / select's.  The issue's goal is a ratio of at most 1.5
for every scenario on CPython.

The scenarios:

 - C{poll(0)} on an epoll with nothing registered: the fixed cost of a call.
 - C{poll(0)} returning 1000 ready sockets (each one end of a socket pair,
   registered for C{EPOLLOUT}): the cost of decoding events.
 - C{register} then C{unregister} of one socket.
 - C{modify} of one registered socket, alternating two masks.

Usage::

    python bench/bench_binding.py [--rounds N] [--quick]

Interleaving matters on a shared machine: a slow moment hits both
implementations in the same round instead of biasing one of them, and the
median drops the rounds it spoiled.  Each timing includes the C{for} loop
around the call (as L{timeit} does), the same for both implementations.
"""

import argparse
import gc
import platform
import resource
import select
import socket
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import epollreactor

#: How many sockets the "poll 1000 ready" scenario registers.
READY = 1000

Runner = Callable[[int], None]
Factory = Callable[[type], Runner]


def _raiseDescriptorLimit(needed: int) -> None:
    """
    Raise the soft limit on open descriptors to at least C{needed}, if the
    hard limit allows, so that the ready-sockets scenario can open its pairs.

    @param needed: how many descriptors the process needs.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard == resource.RLIM_INFINITY or hard >= needed:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        else:
            sys.exit("need {} descriptors, the hard limit is {}".format(needed, hard))


def pollEmpty(implementation: type) -> Runner:
    """
    @return: a runner calling C{poll(0)} on an empty epoll set.
    """
    ep = implementation()

    def run(n: int) -> None:
        """
        Run the scenario C{n} times.
        """
        poll = ep.poll
        for _ in range(n):
            poll(0)

    return run


def pollReady(
    implementation: type, pairs: List[Tuple[socket.socket, socket.socket]]
) -> Runner:
    """
    @return: a runner calling C{poll(0)} on an epoll set of L{READY}
        writable sockets, each call returning all of them.
    """
    ep = implementation()
    for left, _ in pairs:
        ep.register(left.fileno(), epollreactor.EPOLLOUT)
    check = ep.poll(0)
    assert len(check) == len(pairs), len(check)

    def run(n: int) -> None:
        """
        Run the scenario C{n} times.
        """
        poll = ep.poll
        for _ in range(n):
            poll(0)

    return run


def registerUnregister(implementation: type, sock: socket.socket) -> Runner:
    """
    @return: a runner registering and unregistering one socket.
    """
    ep = implementation()
    fd = sock.fileno()
    mask = epollreactor.EPOLLIN

    def run(n: int) -> None:
        """
        Run the scenario C{n} times.
        """
        register = ep.register
        unregister = ep.unregister
        for _ in range(n):
            register(fd, mask)
            unregister(fd)

    return run


def modify(implementation: type, sock: socket.socket) -> Runner:
    """
    @return: a runner modifying one registered socket's mask, two masks
        alternately (two calls per iteration; per-call time is halved).
    """
    ep = implementation()
    fd = sock.fileno()
    ep.register(fd, epollreactor.EPOLLIN)
    first = epollreactor.EPOLLIN
    second = epollreactor.EPOLLIN | epollreactor.EPOLLOUT

    def run(n: int) -> None:
        """
        Run the scenario C{n} times.
        """
        modify = ep.modify
        for _ in range(n):
            modify(fd, first)
            modify(fd, second)

    return run


#: The clock, chosen on the command line: "cpu" (this thread's CPU time,
#: user and system) or "wall".
_clock = time.thread_time_ns


def bareWait(implementation: type) -> Runner:
    """
    The floor under C{poll(0)} on an empty set: for L{epollreactor.epoll},
    the ctypes call to C{epoll_wait} alone, without the method around it;
    for C{select.epoll}, its C{poll(0)}.
    """
    if implementation is not epollreactor.epoll:
        return pollEmpty(implementation)
    from epollreactor import _libc

    ep = implementation()
    epfd = ep.fileno()
    pointer = _libc.EventBuffer(1023).pointer

    def run(n: int) -> None:
        """
        Run the scenario C{n} times.
        """
        wait = _libc.epoll_wait_bare
        for _ in range(n):
            wait(epfd, pointer, 1023, 0)

    run.keep = ep  # type: ignore[attr-defined]
    return run


def bareModify(implementation: type, sock: socket.socket) -> Runner:
    """
    The floor under C{modify}: for L{epollreactor.epoll}, the ctypes call to
    C{epoll_ctl} alone, with the event packed beforehand; for
    C{select.epoll}, its C{modify}.
    """
    if implementation is not epollreactor.epoll:
        return modify(implementation, sock)
    from epollreactor import _libc

    ep = implementation()
    fd = sock.fileno()
    ep.register(fd, epollreactor.EPOLLIN)
    epfd = ep.fileno()
    first = _libc.FD_EVENT.pack(epollreactor.EPOLLIN, fd)
    second = _libc.FD_EVENT.pack(epollreactor.EPOLLIN | epollreactor.EPOLLOUT, fd)
    operation = _libc.EPOLL_CTL_MOD

    def run(n: int) -> None:
        """
        Run the scenario C{n} times.
        """
        ctl = _libc.epoll_ctl_bare
        for _ in range(n):
            ctl(epfd, operation, fd, first)
            ctl(epfd, operation, fd, second)

    run.keep = ep  # type: ignore[attr-defined]
    return run


def timeRunner(run: Runner, iterations: int) -> float:
    """
    @return: nanoseconds per iteration of C{run(iterations)}, with the garbage
        collector off as L{timeit} does.
    """
    clock = _clock
    gcWasEnabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        run(iterations)
        elapsed = clock() - start
    finally:
        if gcWasEnabled:
            gc.enable()
    return elapsed / iterations


def measure(
    runners: Dict[str, Runner], iterations: int, rounds: int, callsPerIteration: int
) -> Dict[str, float]:
    """
    Time every runner once per round, alternating which goes first, and take
    the median per runner.

    @return: microseconds per call, by runner name.
    """
    names = list(runners)
    samples: Dict[str, List[float]] = {name: [] for name in names}
    for name in names:
        # Warm up (and let a JIT compile the loop).
        runners[name](max(1, iterations // 10))
    for index in range(rounds):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(
                timeRunner(runners[name], iterations) / callsPerIteration / 1000.0
            )
    return {name: statistics.median(values) for name, values in samples.items()}


def _report(
    title: str,
    build: Callable[[type], Runner],
    implementations: Dict[str, type],
    iterations: int,
    rounds: int,
    calls: int,
) -> Optional[float]:
    """
    Measure one scenario on every implementation and print its row.

    @return: the ratio ours / select's, or C{None} without C{select.epoll}.
    """
    runners = {name: build(impl) for name, impl in implementations.items()}
    result = measure(runners, max(1, iterations), rounds, calls)
    ours = result["epollreactor"]
    theirs = result.get("select")
    if theirs is None:
        print("{:<24} {:>11.3f} us {:>14} {:>7}".format(title, ours, "-", "-"))
        return None
    ratio = ours / theirs
    print(
        "{:<24} {:>11.3f} us {:>11.3f} us {:>6.2f}x".format(title, ours, theirs, ratio)
    )
    return ratio


def main(argv: Optional[List[str]] = None) -> int:
    """
    Run every scenario and print a table.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the iterations"
    )
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu (default): this thread's CPU time, which a loaded machine"
        " disturbs far less than wall time; wall: time.perf_counter",
    )
    options = parser.parse_args(argv)
    global _clock
    _clock = time.thread_time_ns if options.clock == "cpu" else time.perf_counter_ns
    scale = 10 if options.quick else 1

    implementations: Dict[str, type] = {"epollreactor": epollreactor.epoll}
    if hasattr(select, "epoll"):
        implementations["select"] = select.epoll

    _raiseDescriptorLimit(2 * READY + 64)
    pairs = [socket.socketpair() for _ in range(READY)]
    spare, spareOther = socket.socketpair()

    # name, builder, iterations, calls per iteration
    scenarios: List[Tuple[str, Callable[[type], Runner], int, int]] = [
        ("poll(0), empty set", pollEmpty, 200_000, 1),
        (
            "poll(0), {} ready".format(READY),
            lambda impl: pollReady(impl, pairs),
            500,
            1,
        ),
        (
            "register+unregister",
            lambda impl: registerUnregister(impl, spare),
            100_000,
            1,
        ),
        ("modify", lambda impl: modify(impl, spare), 100_000, 2),
    ]
    # What no Python code around the ctypes call can beat.
    floors: List[Tuple[str, Callable[[type], Runner], int, int]] = [
        ("floor: ctypes epoll_wait", bareWait, 200_000, 1),
        ("floor: ctypes epoll_ctl", lambda impl: bareModify(impl, spare), 100_000, 2),
    ]

    print(
        "{} {} on {}, {} rounds, median, {} time".format(
            platform.python_implementation(),
            platform.python_version(),
            platform.machine(),
            options.rounds,
            options.clock,
        )
    )
    header = "{:<24} {:>14} {:>14} {:>7}".format(
        "scenario", "epollreactor", "select.epoll", "ratio"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    for title, build, iterations, calls in scenarios:
        ratio = _report(
            title, build, implementations, iterations // scale, options.rounds, calls
        )
        worst = max(worst, ratio or 0.0)
    if worst:
        print("worst ratio: {:.2f}x (goal: at most 1.5x)".format(worst))
    print("-" * len(header))
    for title, build, iterations, calls in floors:
        _report(
            title, build, implementations, iterations // scale, options.rounds, calls
        )
    for left, right in pairs:
        left.close()
        right.close()
    spare.close()
    spareOther.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
