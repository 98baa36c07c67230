"""
What multi-process serving (L{epollreactor.workers}) will use on this
kernel, found by trying it: the doctor (C{python -m epollreactor}) prints
these rows.
"""

import errno
import socket
from typing import List, Tuple

from epollreactor._epoll import epoll
from epollreactor._libc import EPOLLEXCLUSIVE, EPOLLIN
from epollreactor.workers import DEFAULT_STRATEGY, defaultWorkers

__all__ = ["servingFacts", "exclusive", "reusePort", "migration"]

#: Where Linux 5.14 and later say whether a closed C{SO_REUSEPORT}
#: socket's queued connections move to another socket of its group.
MIGRATE_REQ = "/proc/sys/net/ipv4/tcp_migrate_req"


def exclusive() -> str:
    """
    Register a socket with C{EPOLLEXCLUSIVE}, then try C{EPOLL_CTL_MOD}.

    @return: what the kernel does with exclusive registrations.
    """
    a, b = socket.socketpair()
    try:
        with epoll() as poller:
            try:
                poller.register(a, EPOLLIN | EPOLLEXCLUSIVE)
            except OSError as e:
                return "refused ({}): no exclusive wake-ups (Linux 4.5+)".format(
                    errno.errorcode.get(e.errno or 0, e.errno)
                )
            try:
                poller.modify(a, EPOLLIN)
            except OSError as e:
                if e.errno == errno.EINVAL:
                    return "yes; MOD refused (EINVAL), so a change is DEL and ADD"
                raise
            return "yes; MOD accepted"
    finally:
        a.close()
        b.close()


def reusePort() -> str:
    """
    Bind two sockets to one port with C{SO_REUSEPORT}.

    @return: whether each worker can have a queue of its own.
    """
    sockets = [socket.socket(), socket.socket()]
    try:
        port = 0
        for s in sockets:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("127.0.0.1", port))
            s.listen(1)
            port = s.getsockname()[1]
    except (OSError, AttributeError) as e:
        return "no ({}): the reuseport strategy cannot run".format(e)
    finally:
        for s in sockets:
            s.close()
    return "yes: one accept queue per worker"


def migration() -> str:
    """
    @return: what closing one C{SO_REUSEPORT} socket does to its queue
        here, and why the supervisor loses nothing either way.
    """
    try:
        with open(MIGRATE_REQ) as f:
            value = f.read().strip()
    except OSError:
        value = "absent (Linux before 5.14)"
    return "{}; the supervisor keeps every listening socket open".format(
        "1: queued connections move" if value == "1" else value
    )


def _handoff() -> str:
    """
    @return: whether descriptors can be handed over (C{socket.send_fds}).
    """
    if hasattr(socket, "send_fds"):
        return "yes: the handoff strategy"
    return "no socket.send_fds: no handoff strategy"


def _workers() -> str:
    """
    @return: how many workers by default, with which strategy.
    """
    return "{} by default (usable cores), strategy {}".format(
        defaultWorkers(), DEFAULT_STRATEGY
    )


def servingFacts() -> List[Tuple[str, str]]:
    """
    @return: the doctor's C{(label, value)} rows about multi-process
        serving; a probe that fails (a process out of descriptors) says so
        in its row, which is not one of the doctor's problems: the
        self-tests report those.
    """
    rows = []
    for label, probe in (
        ("workers", _workers),
        ("EPOLLEXCLUSIVE", exclusive),
        ("SO_REUSEPORT", reusePort),
        ("tcp_migrate_req", migration),
        ("SCM_RIGHTS", _handoff),
    ):
        try:
            value = probe()
        except OSError as e:
            value = "could not check: {}: {}".format(type(e).__name__, e)
        rows.append((label, value))
    return rows
