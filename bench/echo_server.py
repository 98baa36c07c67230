"""
A Twisted server on the reactor named on the command line, for
L{bench/run.py}: one process per reactor, so that peers never share an
interpreter.

    python bench/echo_server.py REACTOR [--role ROLE] [--profile FILE]

It listens on 127.0.0.1 at a free port, prints C{port=<n> pid=<pid>} on
stdout, and runs until SIGTERM or SIGINT.  REACTOR is one of L{REACTORS};
ROLE is one of:

 - C{echo} (the default): writes back whatever it receives;
 - C{echo-nodelay}: the same with C{TCP_NODELAY}, as vmbench's servers;
 - C{stream}: sends 64 KiB chunks to every client as fast as it takes them,
   through a pull producer, as C{twisted.web} sends a file;
 - C{web:DIR}: C{twisted.web} serving DIR, what C{twist web --path DIR}
   runs;
 - C{web-resource}: C{twisted.web} serving a resource whose C{render_GET}
   returns 128 bytes;
 - C{proxy:PORT}: Twisted's C{portforward} proxy to 127.0.0.1:PORT;
 - C{threads:FILE}: echo, and meanwhile one C{deferToThread} of a no-op
   after another (a millisecond apart); at exit the round trips' latencies,
   in microseconds, are written to FILE as JSON.

With C{--profile}, the reactor runs under cProfile and the statistics are
dumped to FILE on exit (bench/README.md shows how they guided the work).
"""

import argparse
import json
import os
import resource
import sys
import time
from typing import Any, Callable, Dict, List

from twisted.internet.protocol import Factory, Protocol

#: The checkout this script belongs to: "ours" is its package, whatever
#: else the interpreter could import.
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ours() -> None:
    sys.path.insert(0, _CHECKOUT)
    import epollreactor

    assert os.path.dirname(epollreactor.__file__).startswith(_CHECKOUT)

    epollreactor.install()


def _baseline() -> None:
    """
    Ours as another checkout has it (the directory in C{BENCH_BASELINE}),
    so that a change is measured before and after in one interleaved run.
    """
    checkout = os.environ.get("BENCH_BASELINE")
    if not checkout:
        raise SystemExit("the baseline peer needs BENCH_BASELINE=<a checkout>")
    sys.path.insert(0, os.path.abspath(checkout))
    import epollreactor

    assert os.path.dirname(epollreactor.__file__).startswith(os.path.abspath(checkout))
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
    "baseline": _baseline,
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


class NoDelayEcho(Echo):
    """
    An echo that sets C{TCP_NODELAY} on its connection, as the echo servers
    of uvloop's vmbench and Twisted's C{test_tcp_throughput} do.
    """

    def connectionMade(self) -> None:
        """
        Turn Nagle's algorithm off (tcp(7)).
        """
        self.transport.setTcpNoDelay(True)


#: One chunk of the stream role.
CHUNK = b"s" * 65536
#: What C{web-resource} serves: 128 bytes, as the C{web-small} page.
PAGE = b"<p>" + b"x" * 121 + b"</p>\n"


class Chunks:
    """
    A pull producer that writes one chunk each time the transport asks.
    """

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def resumeProducing(self) -> None:
        """
        Write the next chunk.
        """
        self.transport.write(CHUNK)

    def stopProducing(self) -> None:
        """
        Nothing to release.
        """


class Stream(Protocol):
    """
    Sends chunks for as long as the connection lasts, and ignores input.
    """

    def connectionMade(self) -> None:
        """
        Start the producer.
        """
        self.transport.registerProducer(Chunks(self.transport), False)


def probeThreads(reactor: Any, path: str) -> None:
    """
    Run one C{deferToThread} of a no-op after another, a millisecond apart,
    keep each round trip's latency, and write them to C{path} at shutdown.
    """
    from twisted.internet.threads import deferToThread

    latencies: List[float] = []

    def nothing() -> None:
        pass

    def once() -> None:
        started = time.perf_counter()

        def done(result: object) -> None:
            latencies.append((time.perf_counter() - started) * 1e6)
            reactor.callLater(0.001, once)

        deferToThread(nothing).addCallback(done)

    def dump() -> None:
        with open(path, "w") as f:
            json.dump(latencies, f)

    reactor.callWhenRunning(once)
    reactor.addSystemEventTrigger("before", "shutdown", dump)


def makeFactory(role: str, reactor: Any) -> Any:
    """
    @return: the factory that plays C{role} (see the module docstring).
    """
    kind, _, argument = role.partition(":")
    if kind == "echo":
        return Factory.forProtocol(Echo)
    if kind == "echo-nodelay":
        return Factory.forProtocol(NoDelayEcho)
    if kind == "threads":
        probeThreads(reactor, argument)
        return Factory.forProtocol(Echo)
    if kind == "stream":
        return Factory.forProtocol(Stream)
    if kind == "web":
        from twisted.web import server, static

        return server.Site(static.File(argument))
    if kind == "web-resource":
        from twisted.web.resource import Resource
        from twisted.web.server import Site

        class Page(Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> bytes:
                return PAGE

        return Site(Page())
    if kind == "proxy":
        from twisted.protocols import portforward

        return portforward.ProxyFactory("127.0.0.1", int(argument))
    raise SystemExit("unknown role {!r}".format(role))


def main() -> None:
    """
    Install the reactor, listen, say where, run.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("reactor", choices=sorted(REACTORS))
    parser.add_argument("--role", default="echo", help="what to serve")
    parser.add_argument("--profile", help="dump cProfile statistics here")
    arguments = parser.parse_args()
    # 10,000 idle connections need more than the usual 1024 descriptors.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    REACTORS[arguments.reactor]()
    from twisted.internet import reactor

    factory = makeFactory(arguments.role, reactor)
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
