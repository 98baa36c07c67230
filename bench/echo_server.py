"""
A Twisted echo server on the reactor named on the command line, for
L{bench/run.py}: one process per reactor, so that peers never share an
interpreter.

    python bench/echo_server.py REACTOR [--profile FILE]

It listens on 127.0.0.1 at a free port, prints C{port=<n> pid=<pid>} on
stdout, and runs until SIGTERM or SIGINT.  REACTOR is one of L{REACTORS}.
With C{--profile}, the reactor runs under cProfile and the statistics are
dumped to FILE on exit (bench/README.md shows how they guided the work).
"""

import argparse
import os
import resource
import sys
from typing import Callable, Dict

from twisted.internet.protocol import Factory, Protocol


def _ours() -> None:
    import epollreactor

    epollreactor.install()


def _stock() -> None:
    from twisted.internet import epollreactor

    epollreactor.install()


def _poll() -> None:
    from twisted.internet import pollreactor

    pollreactor.install()


def _select() -> None:
    from twisted.internet import selectreactor

    selectreactor.install()


def _asyncio() -> None:
    import asyncio

    from twisted.internet import asyncioreactor

    asyncioreactor.install(asyncio.new_event_loop())


def _uvloop() -> None:
    import uvloop
    from twisted.internet import asyncioreactor

    asyncioreactor.install(uvloop.new_event_loop())


#: Reactor names and how to install each.
REACTORS: Dict[str, Callable[[], None]] = {
    "ours": _ours,
    "epoll": _stock,
    "poll": _poll,
    "select": _select,
    "asyncio": _asyncio,
    "uvloop": _uvloop,
}


class Echo(Protocol):
    """
    Writes back whatever it receives.
    """

    def dataReceived(self, data: bytes) -> None:
        """
        Echo C{data}.
        """
        self.transport.write(data)


def main() -> None:
    """
    Install the reactor, listen, say where, run.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("reactor", choices=sorted(REACTORS))
    parser.add_argument("--profile", help="dump cProfile statistics here")
    arguments = parser.parse_args()
    # 10,000 idle connections need more than the usual 1024 descriptors.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    REACTORS[arguments.reactor]()
    from twisted.internet import reactor

    factory = Factory.forProtocol(Echo)
    # A backlog well above the load client's 64 connections in flight.
    port = reactor.listenTCP(0, factory, backlog=1024, interface="127.0.0.1")
    sys.stdout.write(
        "port={} pid={} reactor={}.{}\n".format(
            port.getHost().port,
            os.getpid(),
            type(reactor).__module__,
            type(reactor).__name__,
        )
    )
    sys.stdout.flush()
    if arguments.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.runcall(reactor.run)
        profiler.dump_stats(arguments.profile)
    else:
        reactor.run()


if __name__ == "__main__":
    main()
