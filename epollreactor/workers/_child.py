"""
One worker process: an L{EPollReactor} whose C{listenTCP} asks the
supervisor for the listening socket instead of opening its own, running a
C{twist} plugin's service or an application's, until the supervisor asks
it to stop (or goes).

Run by the supervisor as C{python -m epollreactor.workers._child
--channel FD --number N --slot S -- KIND TARGET...}; not a command for
people.
"""

import os
import resource
import socket
import sys
from time import monotonic
from typing import Any, Dict, List, Optional, Sequence, TextIO, cast

from zope.interface import implementer

from twisted.internet import error, tcp
from twisted.internet.interfaces import IListeningPort
from twisted.logger import FileLogObserver, Logger, formatEvent, formatTime

from epollreactor._libc import EPOLLEXCLUSIVE, EPOLLIN
from epollreactor._reactor import EPollReactor
from epollreactor.workers import _channel, _retiring

__all__ = ["WorkerPort", "HandedPort", "WorkerReactor", "main"]

_log = Logger(namespace="epollreactor.workers")

#: After this many accepted connections, a worker's exclusive registration
#: of a shared listener is removed and added again, which moves it to the
#: end of the socket's wait queue: nginx's C{ngx_reorder_accept_events}
#: (1.11.3) uses 16.
REORDER_ACCEPTS = 16

#: How often a stopping worker looks whether its connections have ended.
DRAIN_INTERVAL = 0.05


class WorkerPort(tcp.Port):
    """
    A listening port on a socket the supervisor opened: it counts what it
    accepts and how often it was woken, and on a queue shared by several
    workers it accepts one connection per wake-up (nginx's default,
    C{multi_accept off}), so that a burst is spread over the workers
    instead of taken by the first one woken.

    @ivar exclusive: whether the reactor registers it with
        C{EPOLLEXCLUSIVE}, and moves it to the end of the wait queue every
        L{REORDER_ACCEPTS} connections.
    @ivar acceptBatch: the most connections one wake-up accepts; C{None}
        for Twisted's own adaptive number.
    @ivar accepted: connections accepted.
    @ivar wakeups: calls of C{doRead}.
    @ivar idleWakeups: calls of C{doRead} that found no connection (another
        worker took it: the thundering herd).
    """

    exclusive = False
    acceptBatch: Optional[int] = None
    accepted = 0
    wakeups = 0
    idleWakeups = 0

    def doRead(self) -> None:
        """
        Accept, as C{tcp.Port.doRead} does, at most L{acceptBatch}
        connections, and count.
        """
        if self.acceptBatch is not None:
            self.numberAccepts = min(self.numberAccepts, self.acceptBatch)
        before = self.sessionno
        tcp.Port.doRead(self)
        accepted = self.sessionno - before
        self.wakeups += 1
        if not accepted:
            self.idleWakeups += 1
        self.accepted += accepted
        if (
            self.exclusive
            and self.accepted // REORDER_ACCEPTS
            != (self.accepted - accepted) // REORDER_ACCEPTS
            and self.connected
            and not self.disconnecting
        ):
            # EPOLL_CTL_DEL then EPOLL_CTL_ADD: the next connection wakes
            # the next idle worker in the queue, not this one again.
            self.stopReading()  # type: ignore[no-untyped-call]
            self.startReading()  # type: ignore[no-untyped-call]


@implementer(IListeningPort)
class HandedPort:
    """
    The port a worker serves under the C{handoff} strategy: the supervisor
    accepts, and hands each connection over the channel; this gives it to
    the factory.

    @ivar accepted: connections handed over.
    """

    accepted = 0
    wakeups = 0
    idleWakeups = 0

    def __init__(self, reactor: "WorkerReactor", address: Any, factory: Any) -> None:
        """
        @param address: the L{IPv4Address<twisted.internet.address.IPv4Address>} or
            L{IPv6Address<twisted.internet.address.IPv6Address>} listened on.
        """
        self.reactor = reactor
        self.address = address
        self.factory = factory
        self.listening = True
        factory.doStart()

    def adopt(self, fd: int, family: int) -> None:
        """
        Serve the connection on C{fd}, which the caller closes.
        """
        self.accepted += 1
        self.reactor.adoptStreamConnection(  # type: ignore[no-untyped-call]
            fd, family, self.factory
        )

    def stopListening(self) -> None:
        """
        Take no more connections (the supervisor has stopped handing them
        over before it asks a worker to stop).
        """
        if self.listening:
            self.listening = False
            self.factory.doStop()

    loseConnection = stopListening

    def getHost(self) -> Any:
        """
        @return: the address listened on.
        """
        return self.address

    def startListening(self) -> None:
        """
        Nothing to do: the supervisor listens.
        """


class WorkerReactor(EPollReactor):
    """
    An L{EPollReactor} whose TCP ports are the supervisor's: C{listenTCP}
    asks for the listening socket over the channel, and listens on it.

    @ivar channel: the worker's end of the channel.
    @ivar number: this worker's number, which the supervisor's log uses.
    @ivar ports: the ports C{listenTCP} made.
    """

    def __init__(self, channel: socket.socket, number: int) -> None:
        """
        @param channel: the worker's end of the channel, blocking.
        """
        self.channel = channel
        self.number = number
        self.ports: List[Any] = []
        self.handed: Dict[str, HandedPort] = {}
        EPollReactor.__init__(self)

    #: The channel's reader, once the worker serves: it stops the worker.
    stopper: Optional["ChannelReader"] = None

    def sigInt(self, number: int, frame: Any = None) -> None:
        """
        SIGINT (Ctrl-C reaches every process of the terminal's group): stop
        as the supervisor would ask, letting connections finish; a second
        one stops at once, as Twisted does.
        """
        self._signalled(number, EPollReactor.sigInt)

    def sigTerm(self, number: int, frame: Any = None) -> None:
        """
        SIGTERM: as L{sigInt}.
        """
        self._signalled(number, EPollReactor.sigTerm)

    def _signalled(self, number: int, stock: Any) -> None:
        """
        Stop after the open connections, or, when that is under way
        already (or the worker does not serve yet), as C{stock} does.
        """
        stopper = self.stopper
        if stopper is None or stopper.stopping:
            stock(self, number)
            return
        _log.info(
            "Received signal {number}: stopping once connections finish "
            "({grace} s at most); again to stop now",
            number=number,
            grace=stopper.grace,
        )
        self._exitSignal = number
        self.callFromThread(stopper.stop)

    def _register(self, xer: Any, event: int, fd: Any = None) -> None:
        """
        Register C{xer} as L{EPollReactor} does (a stale registration
        under its number is evicted, one under its old number moved), and
        then an exclusive L{WorkerPort}'s entry with C{EPOLLEXCLUSIVE}: the
        kernel wakes one waiting worker per connection, not all
        (epoll_ctl(2)).  The table makes that change by C{EPOLL_CTL_DEL}
        and C{EPOLL_CTL_ADD}, which a reorder every L{REORDER_ACCEPTS}
        connections pays twice more: nothing beside the accepts.
        """
        EPollReactor._register(self, xer, event, fd)
        if event == EPOLLIN and getattr(xer, "exclusive", False):
            table = self._registrations
            record = table.byOwner.get(id(xer))
            if record is not None and not record.mask & EPOLLEXCLUSIVE:
                table.remask(record, record.mask | EPOLLEXCLUSIVE)

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> Any:
        """
        Listen on the supervisor's socket for C{interface} and C{port}.

        @raise twisted.internet.error.CannotListenError: when the supervisor
            could not open it.
        """
        request = {"op": "listen", "interface": interface, "port": port}
        _channel.send(self.channel, dict(request, backlog=backlog))
        reply, fds = _channel.receive(self.channel)
        if not reply or reply.get("op") == "stop":
            # The supervisor stops (or has gone) before this worker served.
            raise SystemExit(0)
        if "error" in reply:
            raise error.CannotListenError(
                interface, port, OSError(reply.get("errno", 0), reply["error"])
            )
        family = socket.AF_INET6 if ":" in interface else socket.AF_INET
        if reply["strategy"] == "handoff":
            handed = HandedPort(self, _address(family, reply["address"]), factory)
            self.handed[reply["key"]] = handed
            self.ports.append(handed)
            return handed
        try:
            listening = WorkerPort._fromListeningDescriptor(  # type: ignore[no-untyped-call]
                self, fds[0], family, factory
            )
        finally:
            for fd in fds:
                os.close(fd)
        listening.exclusive = reply["strategy"] == "exclusive"
        if reply["strategy"] != "reuseport":
            listening.acceptBatch = 1
        listening.startListening()
        self.ports.append(listening)
        return listening


def _address(family: int, address: Sequence[Any]) -> Any:
    """
    @return: Twisted's address object for a C{getsockname()} result.
    """
    from twisted.internet.address import IPv4Address, IPv6Address

    if family == socket.AF_INET6:
        return IPv6Address("TCP", address[0], address[1])
    return IPv4Address("TCP", address[0], address[1])


class ChannelReader:
    """
    The worker's end of the channel, once the worker is serving: connections
    handed over, and the request to stop.

    @ivar grace: how long a stopping worker lets its connections finish.
    """

    def __init__(self, reactor: WorkerReactor, grace: float) -> None:
        self.reactor = reactor
        self.grace = grace
        self.stopping = False
        reactor.channel.setblocking(False)

    def fileno(self) -> int:
        """
        @return: the channel's descriptor.
        """
        return self.reactor.channel.fileno()

    def logPrefix(self) -> str:
        """
        @return: the name Twisted's log gives what this logs.
        """
        return "worker {} channel".format(self.reactor.number)

    def doRead(self) -> None:
        """
        Take every message waiting: a connection handed over is served, a
        request to stop (or the supervisor's end closing) starts the stop.
        """
        reactor = self.reactor
        for message, fds in _channel.waiting(reactor.channel):
            if message.get("op") == "connection":
                handed = reactor.handed[message["key"]]
                try:
                    handed.adopt(fds[0], message["family"])
                finally:
                    for fd in fds:
                        os.close(fd)
                continue
            self.stop()
            return

    def connectionLost(self, reason: Any) -> None:
        """
        Removed from the reactor: nothing to do.
        """

    def stop(self) -> None:
        """
        Stop taking connections, have each HTTP connection close after a
        response that says so (L{_retiring}), let the open ones finish for
        up to L{grace} seconds, then stop the reactor.
        """
        if self.stopping:
            return
        self.stopping = True
        self.reactor.removeReader(cast(Any, self))
        for port in self.reactor.ports:
            port.stopListening()
        asked = _retiring.retire(self.reactor)
        if asked:
            _log.info(
                "{count} HTTP connections close after their next response",
                count=asked,
            )
        self._drain(monotonic() + self.grace)

    def _drain(self, deadline: float) -> None:
        """
        Stop the reactor once no TCP connection is open, or at C{deadline}.
        """
        reactor = self.reactor
        if not _retiring.openConnections(reactor) or monotonic() >= deadline:
            if not reactor._stopped:
                reactor.stop()
        else:
            reactor.callLater(DRAIN_INTERVAL, self._drain, deadline)


def statistics(reactor: WorkerReactor) -> Dict[str, Any]:
    """
    @return: what the worker's ports counted, and its voluntary context
        switches (getrusage(2)): the supervisor logs them, and the
        benchmark reads them.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "accepted": sum(port.accepted for port in reactor.ports),
        "wakeups": sum(port.wakeups for port in reactor.ports),
        "idleWakeups": sum(port.idleWakeups for port in reactor.ports),
        "voluntarySwitches": usage.ru_nvcsw,
    }


def _observer(out: TextIO, name: Optional[str]) -> FileLogObserver:
    """
    @param name: the worker's name, when it writes to the supervisor's own
        output; C{None} when the supervisor relays its lines.
    @return: an observer writing each event as one line: C{[system] text}
        for the supervisor to relay with its time and the worker's name,
        or with them, C{TIME [NAME] [system] text}.
    """

    def format(event: Dict[str, Any]) -> Optional[str]:
        text = formatEvent(event)
        if "log_failure" in event:
            text += "\n" + event["log_failure"].getTraceback()
        system = event.get("log_system", event.get("log_namespace", "-"))
        line = "[{}] {}\n".format(system, text.rstrip("\n"))
        if name is None:
            return line
        return "{} [{}] {}".format(formatTime(event.get("log_time")), name, line)

    return FileLogObserver(out, format)


def filtered(observer: Any, level: str) -> Any:
    """
    @return: C{observer}, given only events of level C{level} and above
        (as C{twist --log-level} filters), so that what is left out costs
        no formatting (C{twist web}'s access log, a line per request, is
        at level info).
    """
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
    )

    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    return FilteringLogObserver(observer, [cast(Any, predicate)])


def _service(reactor: WorkerReactor, target: List[str]) -> Any:
    """
    @return: the service C{target} names: C{["twist", ARGS...]} for a
        C{twist} plugin with its arguments, C{["service", FQPN]} for an
        application's callable that returns one.
    """
    if target[0] == "service":
        from twisted.python.reflect import namedAny

        return namedAny(target[1])()
    from twisted.application.twist._twist import Twist

    options = Twist.options(["twist"] + target[1:])
    if options["reactor"] is not reactor:
        raise SystemExit("epollreactor.workers: a worker runs its own reactor")
    assert options.subCommand is not None
    return Twist.service(options.plugins[options.subCommand], options.subOptions)


def main(argv: Optional[List[str]] = None) -> None:
    """
    Run one worker: C{--channel FD --number N --grace SECONDS [--stamp] --
    KIND TARGET...}; with C{--stamp} it writes its log lines with the time
    and its name itself.
    """
    import argparse

    from twisted.internet.main import installReactor
    from twisted.logger import globalLogBeginner

    parser = argparse.ArgumentParser(prog="epollreactor.workers._child")
    parser.add_argument("--channel", type=int, required=True)
    parser.add_argument("--number", type=int, required=True)
    parser.add_argument("--grace", type=float, required=True)
    parser.add_argument("--stamp", action="store_true")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("target", nargs=argparse.REMAINDER)
    arguments = parser.parse_args(argv)
    channel = socket.socket(fileno=arguments.channel)
    reactor = WorkerReactor(channel, arguments.number)
    name = "worker {} (pid {})".format(arguments.number, os.getpid())
    installReactor(reactor)
    observer = _observer(sys.stdout, name if arguments.stamp else None)
    globalLogBeginner.beginLoggingTo(
        [filtered(observer, arguments.log_level)], redirectStandardIO=False
    )
    target = (
        arguments.target[1:] if arguments.target[:1] == ["--"] else arguments.target
    )
    service = _service(reactor, target)
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reader = ChannelReader(reactor, arguments.grace)

    def serving() -> None:
        _channel.send(channel, {"op": "ready"})
        reactor.addReader(cast(Any, reader))
        reactor.stopper = reader

    reactor.callWhenRunning(serving)
    reactor.run()
    try:
        _channel.send(channel, dict(statistics(reactor), op="statistics"))
    except OSError:
        pass  # The supervisor has gone: nobody to tell.
    sys.stdout.flush()


if __name__ == "__main__":
    main()
