"""
Micro-benchmark of the binding: L{epollreactor.epoll} against CPython's
C{select.epoll}, call for call, on pyperf (C{bench/microbench.py}).

The cases, each timed per call, including the C{for} loop around it (as
L{timeit} does, the same for both), with the garbage collector off:

 - C{poll(0)} on an epoll with nothing registered: the fixed cost of a call.
 - C{poll(0)} returning 1000 ready sockets (each one end of a socket pair,
   registered for C{EPOLLOUT}): the cost of decoding events.
 - C{register} then C{unregister} of one socket.
 - C{modify} of one registered socket, alternating two masks.

The issue's goal is at most 1.5x C{select.epoll}'s time in every case on
CPython.  A third peer, C{ctypes}, times the bare ctypes calls under ours
(C{epoll_wait} for C{poll(0)}, C{epoll_ctl} for C{modify}): what no Python
code around them can beat, compared with C{select.epoll}'s whole call.

Usage (pyperf's options too: C{--fast}, C{-p N}, C{--rigorous})::

    python bench/bench_binding.py [--clock wall] [--only ours,select.epoll]
"""

import functools
import resource
import select
import socket
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

import microbench

import epollreactor
from epollreactor import _libc

#: How many sockets the "poll 1000 ready" case registers.
READY = 1000

#: The two masks C{modify} alternates.
FIRST = epollreactor.EPOLLIN
SECOND = epollreactor.EPOLLIN | epollreactor.EPOLLOUT

#: The implementations, by peer name: C{ctypes}, the floors, on ours.
IMPLEMENTATIONS: Dict[str, type] = {"ours": epollreactor.epoll}
if hasattr(select, "epoll"):
    IMPLEMENTATIONS["select.epoll"] = select.epoll
IMPLEMENTATIONS["ctypes"] = epollreactor.epoll


def pollEmpty(implementation: type) -> microbench.Run:
    """
    @return: a runner calling C{poll(0)} on an empty epoll set.
    """
    ep = implementation()
    return microbench.calling(ep.poll, 0, ep)


def pollReady(implementation: type) -> microbench.Run:
    """
    @return: a runner calling C{poll(0)} on an epoll set of L{READY}
        writable sockets, each call returning all of them.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 2 * READY + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ep = implementation()
    pairs = [socket.socketpair() for _ in range(READY)]
    for left, _ in pairs:
        ep.register(left.fileno(), epollreactor.EPOLLOUT)
    assert len(ep.poll(0)) == READY
    return microbench.calling(ep.poll, 0, pairs)


def registerUnregister(implementation: type) -> microbench.Run:
    """
    @return: a runner registering and unregistering one socket.
    """
    ep = implementation()
    sock, other = socket.socketpair()
    fd = sock.fileno()
    register, unregister = ep.register, ep.unregister
    mask = epollreactor.EPOLLIN

    def run(n: int) -> None:
        """
        Run the case C{n} times.
        """
        for _ in range(n):
            register(fd, mask)
            unregister(fd)

    run.keep = (sock, other)  # type: ignore[attr-defined]
    return run


def _registered(implementation: type) -> Tuple[Any, int, Tuple[Any, ...]]:
    """
    @return: a new epoll object of C{implementation}, the number of a socket
        registered with it for C{EPOLLIN}, and what must stay open.
    """
    ep = implementation()
    sock, other = socket.socketpair()
    ep.register(sock.fileno(), epollreactor.EPOLLIN)
    return ep, sock.fileno(), (ep, sock, other)


def modify(implementation: type) -> microbench.Run:
    """
    @return: a runner modifying one registered socket's mask, two masks
        alternately (two calls per iteration).
    """
    ep, fd, keep = _registered(implementation)
    change = ep.modify

    def run(n: int) -> None:
        """
        Run the case C{n} times.
        """
        for _ in range(n):
            change(fd, FIRST)
            change(fd, SECOND)

    run.keep = keep  # type: ignore[attr-defined]
    return run


def bareModify(implementation: type) -> microbench.Run:
    """
    @return: a runner of the bare ctypes C{epoll_ctl} under L{modify}, the
        events packed beforehand: the floor under C{modify}.
    """
    ep, fd, keep = _registered(implementation)
    epfd, operation = ep.fileno(), _libc.EPOLL_CTL_MOD
    first, second = _libc.FD_EVENT.pack(FIRST, fd), _libc.FD_EVENT.pack(SECOND, fd)
    ctl = _libc.epoll_ctl_bare

    def run(n: int) -> None:
        """
        Run the case C{n} times.
        """
        for _ in range(n):
            ctl(epfd, operation, fd, first)
            ctl(epfd, operation, fd, second)

    run.keep = keep  # type: ignore[attr-defined]
    return run


def bareWait(implementation: type) -> microbench.Run:
    """
    @return: a runner of the bare ctypes C{epoll_wait} on an empty set,
        without the method around it: the floor under C{poll(0)}.
    """
    ep = implementation()
    epfd = ep.fileno()
    pointer = _libc.EventBuffer(1023).pointer
    wait = _libc.epoll_wait_bare

    def run(n: int) -> None:
        """
        Run the case C{n} times.
        """
        for _ in range(n):
            wait(epfd, pointer, 1023, 0)

    run.keep = ep  # type: ignore[attr-defined]
    return run


Build = Callable[[type], microbench.Run]

#: case, its runner, the floor's (if any), calls per iteration.
CASES: List[Tuple[str, Build, Optional[Build], int]] = [
    ("poll(0), empty set", pollEmpty, bareWait, 1),
    ("poll(0), {} ready".format(READY), pollReady, None, 1),
    ("register+unregister", registerUnregister, None, 1),
    ("modify", modify, bareModify, 2),
]


def main() -> None:
    """
    Measure every case on every peer, then compare ours and the ctypes
    floor with C{select.epoll}.
    """
    suite = microbench.Suite(list(IMPLEMENTATIONS), processes=10)
    suite.parse()
    for case, build, floor, calls in CASES:
        for peer in suite.peers:
            chosen = floor if peer == "ctypes" else build
            if chosen is not None:
                run = functools.partial(chosen, IMPLEMENTATIONS[peer])
                suite.add(case, peer, run, inner=calls, gcOff=True)
    suite.compare("select.epoll", "ours")
    suite.compare("select.epoll", "ctypes")


if __name__ == "__main__":
    sys.exit(main())
