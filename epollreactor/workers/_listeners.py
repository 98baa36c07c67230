"""
The supervisor's listening sockets: opened on a worker's first request for
an address, and kept open in the supervisor for as long as it runs, so
that a worker that goes (stopped, restarted or dead) takes no accept queue
with it (L{epollreactor.workers}, facts 3 and 4).
"""

import socket
from typing import Dict, List, Tuple

from epollreactor.workers import STRATEGIES

__all__ = ["Listeners"]

#: The least backlog a listening socket gets: nginx's default.  Twisted's
#: 50 is short for one queue that several workers drain, and the queue is
#: what holds connections while a worker is replaced.
MIN_BACKLOG = 511

Address = Tuple[str, int]


def _family(interface: str) -> int:
    """
    @return: C{AF_INET6} for an IPv6 address, else C{AF_INET}, as
        Twisted's C{tcp.Port} decides.
    """
    return socket.AF_INET6 if ":" in interface else socket.AF_INET


class Listeners:
    """
    The listening sockets of one supervisor, by the address a worker asked
    for (port 0 included: every worker asking for port 0 on an interface
    gets the port the first one got).

    @ivar strategy: one of L{STRATEGIES}.
    @ivar shared: for the strategies with one queue, its socket per
        address.
    @ivar groups: for C{reuseport}, per address, one socket per worker slot,
        all bound to one port with C{SO_REUSEPORT}: the kernel spreads the
        connections over them by a hash of the peer's address (socket(7)).
    """

    def __init__(self, strategy: str) -> None:
        """
        @raise ValueError: for an unknown strategy.
        """
        if strategy not in STRATEGIES:
            raise ValueError(
                "unknown strategy {!r}: one of {}".format(
                    strategy, ", ".join(STRATEGIES)
                )
            )
        self.strategy = strategy
        self.shared: Dict[Address, socket.socket] = {}
        self.groups: Dict[Address, List[socket.socket]] = {}

    def _open(self, interface: str, port: int, backlog: int) -> socket.socket:
        """
        @return: a new non-blocking listening socket, with C{SO_REUSEADDR}
            as Twisted's ports have it, and C{SO_REUSEPORT} for the
            C{reuseport} strategy.
        @raise OSError: when it cannot be bound (EADDRINUSE) or listen.
        """
        s = socket.socket(_family(interface), socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.strategy == "reuseport":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind((interface, port))
            s.listen(max(backlog, MIN_BACKLOG))
            s.setblocking(False)
        except BaseException:
            s.close()
            raise
        return s

    def socketFor(
        self, slot: int, interface: str, port: int, backlog: int
    ) -> socket.socket:
        """
        The listening socket the worker in C{slot} is to serve for an
        address: the one socket of a shared queue, or the slot's own of a
        C{SO_REUSEPORT} group, opened now if it is not open yet.

        @param slot: the worker's slot, from 0; a replacement takes its
            predecessor's.
        @raise OSError: when the socket cannot be opened.
        """
        key = (interface, port)
        if self.strategy != "reuseport":
            if key not in self.shared:
                self.shared[key] = self._open(interface, port, backlog)
            return self.shared[key]
        group = self.groups.setdefault(key, [])
        while len(group) <= slot:
            # Port 0: every socket of the group on the port the first got.
            bound = group[0].getsockname()[1] if group else port
            group.append(self._open(interface, bound, backlog))
        return group[slot]

    def close(self) -> None:
        """
        Close every listening socket: connections still queued are refused
        (reset), so only once every worker has gone.
        """
        for s in list(self.shared.values()):
            s.close()
        for group in self.groups.values():
            for s in group:
                s.close()
        self.shared.clear()
        self.groups.clear()
