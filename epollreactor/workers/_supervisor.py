"""
The supervisor: L{WorkersService} starts the worker processes, answers
their requests for listening sockets, hands connections over under the
C{handoff} strategy, replaces a worker that dies, replaces them one at a
time on C{SIGHUP}, and stops them all when it stops.
"""

import json
import os
import signal
import socket
import sys
from time import monotonic
from typing import Any, Dict, List, Optional, Set, Tuple, cast

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from epollreactor.workers import DEFAULT_STRATEGY, _channel
from epollreactor.workers._listeners import Listeners

__all__ = ["Worker", "WorkersService", "HandoffListener", "describeEnd"]

#: A worker that died sooner than this after it started, or before it
#: served, counts as failing: its replacement waits this long, doubled for
#: each failure in a row of its slot.
RESPAWN_DELAY = 1.0

#: The longest wait before a replacement, for a worker that keeps failing.
MAX_RESPAWN_DELAY = 32.0

#: How much longer than its grace a stopping worker gets before SIGKILL.
KILL_AFTER = 10.0

#: How long a rolling restart waits for a new worker to serve.
READY_TIMEOUT = 60.0


def describeEnd(reason: Failure) -> str:
    """
    @return: how a process ended, in words: its exit status, or the signal
        that killed it.
    """
    value = reason.value
    if isinstance(value, ProcessDone):
        return "exited with status 0"
    if isinstance(value, ProcessTerminated):
        if value.signal is not None:
            name = signal.Signals(value.signal).name
            return "was killed by {} (signal {})".format(name, value.signal)
        return "exited with status {}".format(value.exitCode)
    return "ended: {}".format(value)


class Worker(ProcessProtocol):
    """
    One worker process, as its supervisor sees it: its output, prefixed
    with its name, goes to the supervisor's log; its channel carries its
    requests.

    @ivar number: this worker's number, never reused, which names it in
        the log.
    @ivar childEnd: the worker's end of the channel, which the supervisor
        keeps open too, so that what the worker leaves unread when it dies
        is not lost with it: the connections handed to it
        (L{WorkersService.rehand}).
    @ivar slot: the place it fills, from 0; a replacement takes its
        predecessor's (and, for C{reuseport}, its listening sockets).
    @ivar ready: fires once it serves; fails if it ends first.
    @ivar ended: fires with how it ended (L{describeEnd}).
    @ivar serving: whether it is ready and not retiring.
    @ivar retiring: whether it was asked to stop.
    @ivar statistics: what it reported as it stopped, if it did.
    """

    _log = Logger(namespace="epollreactor.workers")

    def __init__(self, supervisor: "WorkersService", number: int, slot: int) -> None:
        self.supervisor = supervisor
        self.number = number
        self.slot = slot
        self.channel, self.childEnd = _channel.channelPair()
        self.channel.setblocking(False)
        self.ready: defer.Deferred[None] = defer.Deferred()
        self.ended: defer.Deferred[str] = defer.Deferred()
        self.serving = False
        self.retiring = False
        self.started = monotonic()
        self.statistics: Optional[Dict[str, Any]] = None
        self.pid: Optional[int] = None
        self._partial = {1: b"", 2: b""}

    def __str__(self) -> str:
        return "worker {} (pid {})".format(self.number, self.pid)

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """
        Log each whole line the worker wrote, under its name.
        """
        lines = (self._partial.get(childFD, b"") + data).split(b"\n")
        self._partial[childFD] = lines.pop()
        for line in lines:
            self._log.info(
                "{worker}: {line}",
                worker=str(self),
                line=line.decode("utf-8", "replace"),
            )

    def processEnded(self, reason: Failure) -> None:
        """
        The process has gone: log what it left unfinished, close the
        channel, and tell the supervisor.
        """
        for childFD in (1, 2):
            if self._partial.get(childFD):
                self.childDataReceived(childFD, b"\n")
        self.supervisor.reactor.removeReader(self)
        self.channel.close()
        self.serving = False
        how = describeEnd(reason)
        if not self.ready.called:
            self.ready.errback(RuntimeError("{} {} before serving".format(self, how)))
        self.supervisor.workerEnded(self, how)
        self.ended.callback(how)

    # The channel, as a reader in the supervisor's reactor.

    def fileno(self) -> int:
        """
        @return: the supervisor's end of the channel, -1 once closed.
        """
        return self.channel.fileno()

    def logPrefix(self) -> str:
        """
        @return: the worker's name, for Twisted's log.
        """
        return str(self)

    def doRead(self) -> None:
        """
        Answer every message waiting: a request for a listening socket, the
        news that the worker serves, its statistics.
        """
        for message, fds in _channel.waiting(self.channel):
            for fd in fds:
                os.close(fd)  # A worker sends none.
            op = message.get("op")
            if op == "listen":
                self.supervisor.answerListen(self, message)
            elif op == "ready":
                self.serving = not self.retiring
                self._log.info("{worker} serves", worker=str(self))
                self.ready.callback(None)
                self.supervisor.serves(self)
            elif op == "statistics":
                self.statistics = message
            else:
                # Its end closed: processEnded follows.
                self.supervisor.reactor.removeReader(self)
                return

    def connectionLost(self, reason: Any) -> None:
        """
        Twisted calls it for a reader removed at shutdown: nothing to do.
        """

    def retire(self, grace: float) -> None:
        """
        Ask it to stop: it stops taking connections, lets its open ones
        finish for up to C{grace} seconds and exits; C{SIGKILL} if it has
        not gone L{KILL_AFTER} seconds later.
        """
        if self.retiring or self.ended.called:
            return
        self.retiring = True
        self.serving = False
        try:
            _channel.send(self.channel, {"op": "stop"})
        except OSError:
            self._signal(signal.SIGTERM)
        reactor = self.supervisor.reactor
        kill = reactor.callLater(grace + KILL_AFTER, self._signal, signal.SIGKILL)
        self.ended.addBoth(lambda how: kill.cancel() if kill.active() else None)

    def _signal(self, number: int) -> None:
        """
        Send signal C{number}, if the process is still there.
        """
        if self.transport is not None and not self.ended.called:
            try:
                cast(Any, self.transport).signalProcess(number)
            except Exception:
                pass  # It ended meanwhile.


class WorkersService(Service):
    """
    Serve one application on several worker processes, each with its own
    L{EPollReactor}.  As a service it runs under C{twistd}, C{twist} or an
    application's own C{Application}.

    @ivar target: what each worker runs: C{["twist", PLUGIN, ARGS...]} or
        C{["service", FQPN]} (L{epollreactor.workers}).
    @ivar count: how many workers serve.
    @ivar strategy: how connections reach them (L{epollreactor.workers.STRATEGIES}).
    @ivar grace: how long a stopping worker lets its connections finish.
    @ivar workers: the serving or starting worker of each slot.
    @ivar live: every worker whose process has not ended, retiring ones
        included.
    @ivar history: every worker that has ended: its number, slot, pid, how
        it ended and its statistics.
    """

    _log = Logger(namespace="epollreactor.workers")

    def __init__(
        self,
        target: List[str],
        count: int,
        strategy: str = DEFAULT_STRATEGY,
        grace: float = 10.0,
        reactor: Any = None,
        handleHangup: bool = True,
        relayOutput: bool = True,
        logLevel: str = "info",
    ) -> None:
        """
        @param reactor: the reactor to run on; the global one by default.
        @param handleHangup: whether C{SIGHUP} starts a rolling restart.
        @param relayOutput: whether the workers' log lines go through the
            supervisor's log (under C{twistd}, into its log file), or, for
            a supervisor that logs to its standard output, are written
            there by the workers, with the time and their names: relaying
            costs the supervisor a read, a log event and a write per line,
            a line per request for C{twist web} (bench/README.md, "Every
            core").  What a worker writes to its standard error is
            relayed either way.
        @param logLevel: the least level of the events the workers log
            (C{twist --log-level}'s names).
        @raise ValueError: for a count below 1 or an unknown strategy.
        """
        if count < 1:
            raise ValueError("at least one worker is needed, not {}".format(count))
        if target[:1] not in (["twist"], ["service"]) or len(target) < 2:
            raise ValueError("target is ['twist', PLUGIN, ...] or ['service', FQPN]")
        if reactor is None:
            from twisted.internet import reactor as globalReactor

            reactor = globalReactor
        self.listeners = Listeners(strategy)
        self.target = target
        self.count = count
        self.strategy = strategy
        self.grace = grace
        self.reactor = reactor
        self.handleHangup = handleHangup
        self.relayOutput = relayOutput
        self.logLevel = logLevel
        self.workers: Dict[int, Worker] = {}
        self.live: List[Worker] = []
        self.history: List[Dict[str, Any]] = []
        self.stopping = False
        self.restarting = False
        self._numbers = 0
        self._failures: Dict[int, int] = {}
        self._announced: Set[Tuple[str, int]] = set()
        self._handoff: Dict[str, HandoffListener] = {}

    def startService(self) -> None:
        """
        Start the workers, and listen for C{SIGHUP}.
        """
        Service.startService(self)
        self._log.info(
            "starting {count} workers, strategy {strategy}",
            count=self.count,
            strategy=self.strategy,
        )
        for slot in range(self.count):
            self.spawn(slot)
        if self.handleHangup:
            signal.signal(
                signal.SIGHUP,
                lambda number, frame: self.reactor.callFromThread(self.restart),
            )

    def spawn(self, slot: int) -> Worker:
        """
        Start a worker in C{slot}.

        @return: the worker.
        """
        self._numbers += 1
        worker = Worker(self, self._numbers, slot)
        arguments = [sys.executable, "-m", "epollreactor.workers._child"]
        arguments += ["--channel", "3", "--number", str(worker.number)]
        arguments += ["--grace", repr(self.grace), "--log-level", self.logLevel]
        arguments += ([] if self.relayOutput else ["--stamp"]) + ["--"] + self.target
        environment = dict(os.environ, PYTHONUNBUFFERED="1")
        childFDs: Dict[int, Any] = {0: "w", 1: "r", 2: "r", 3: worker.childEnd.fileno()}
        if not self.relayOutput:
            childFDs[1] = sys.stdout.fileno()
        try:
            process = self.reactor.spawnProcess(
                worker, sys.executable, arguments, env=environment, childFDs=childFDs
            )
        except BaseException:
            worker.childEnd.close()
            worker.channel.close()
            raise
        worker.pid = process.pid
        process.closeStdin()
        self.reactor.addReader(worker)
        self.workers[slot] = worker
        self.live.append(worker)
        self._log.info("{worker} started in slot {slot}", worker=str(worker), slot=slot)
        return worker

    def answerListen(self, worker: Worker, request: Dict[str, Any]) -> None:
        """
        Give C{worker} the listening socket it asked for (or, for
        C{handoff}, the key its connections will come with), or the error
        that kept it from opening.
        """
        interface, port = request["interface"], request["port"]
        try:
            listening = self.listeners.socketFor(
                worker.slot, interface, port, request["backlog"]
            )
        except OSError as e:
            reply = {"error": e.strerror or str(e), "errno": e.errno or 0}
            _channel.send(worker.channel, reply)
            return
        address = listening.getsockname()
        if (interface, port) not in self._announced:
            self._announced.add((interface, port))
            self._log.info(
                "listening on {host}:{port} for {request}",
                host=address[0],
                port=address[1],
                request="{}:{}".format(interface, port),
            )
        reply = {"strategy": self.strategy, "address": list(address[:2])}
        if self.strategy == "handoff":
            key = "{}:{}".format(interface, port)
            if key not in self._handoff:
                self._handoff[key] = HandoffListener(self, key, listening)
            self._handoff[key].workers.append(worker)
            _channel.send(worker.channel, dict(reply, key=key))
        else:
            _channel.send(worker.channel, reply, [listening.fileno()])

    def workerEnded(self, worker: Worker, how: str) -> None:
        """
        A worker has gone: remember it, and replace it unless it was asked
        to go.
        """
        self.history.append(
            {
                "number": worker.number,
                "slot": worker.slot,
                "pid": worker.pid,
                "ended": how,
                "statistics": worker.statistics,
            }
        )
        self.live.remove(worker)
        for listener in self._handoff.values():
            if worker in listener.workers:
                listener.workers.remove(worker)
        self.rehand(worker)
        if worker.retiring or self.stopping:
            self._log.info("{worker} stopped: {how}", worker=str(worker), how=how)
            return
        if self.workers.get(worker.slot) is not worker:
            return
        if worker.ready.called and monotonic() - worker.started > RESPAWN_DELAY:
            self._failures[worker.slot] = 0
        failures = self._failures.get(worker.slot, 0)
        self._failures[worker.slot] = failures + 1
        # A worker that cannot start must not spin: 0, 1, 2, 4 ... 32 s.
        delay = (
            min(RESPAWN_DELAY * 2 ** (failures - 1), MAX_RESPAWN_DELAY)
            if failures
            else 0
        )
        self._log.error(
            "{worker} died: it {how}; a new worker takes slot {slot}{later}",
            worker=str(worker),
            how=how,
            slot=worker.slot,
            later=" in {} s".format(delay) if delay else "",
        )
        self.reactor.callLater(delay, self._replace, worker)

    def rehand(self, worker: Worker) -> None:
        """
        Hand the connections C{worker}, which has ended, left unread on its
        channel to the other workers, and close its end of the channel.  A
        message the worker did not read is still queued on its end, which
        the supervisor holds too (L{Worker.childEnd}): the kernel keeps the
        descriptors it carries (unix(7)), and nobody has read a byte from
        them, so another worker can serve them from the start.  Only a
        connection the worker had taken off the channel when it died is
        lost with it.
        """
        count = 0
        for message, fds in _channel.waiting(worker.childEnd, socket.MSG_DONTWAIT):
            listener = self._handoff.get(message.get("key", ""))
            if message.get("op") == "connection" and fds and listener:
                listener.give(socket.socket(fileno=fds.pop(0)))
                count += 1
            for fd in fds:
                os.close(fd)
        worker.childEnd.close()
        if count:
            self._log.warn(
                "{worker} left {count} connections unread: other workers serve them",
                worker=str(worker),
                count=count,
            )

    def serves(self, worker: Worker) -> None:
        """
        C{worker} serves now: hand it what waits for a worker.
        """
        for listener in self._handoff.values():
            if worker in listener.workers:
                listener.flush()

    def _replace(self, dead: Worker) -> None:
        """
        Start a worker in C{dead}'s slot, unless the service stopped or
        another took the slot meanwhile.
        """
        if not self.stopping and self.workers.get(dead.slot) is dead:
            self.spawn(dead.slot)

    @defer.inlineCallbacks
    def restart(self) -> Any:
        """
        Replace every worker, one at a time: start the new one, wait until
        it serves, then retire the old one and wait until it has gone.  The
        listening sockets stay open in the supervisor all along, so no
        connection is refused, and none queued for the old one is reset.
        """
        if self.restarting or self.stopping:
            self._log.info("a restart is under way already, or the service stops")
            return
        self.restarting = True
        self._log.info("rolling restart of {count} workers", count=len(self.workers))
        try:
            for slot in sorted(self.workers):
                old = self.workers[slot]
                new = self.spawn(slot)
                try:
                    yield new.ready
                except RuntimeError as e:
                    self._log.error("restart abandoned: {why}", why=str(e))
                    return
                if self.stopping:
                    return
                self._log.info("{new} replaces {old}", new=str(new), old=str(old))
                old.retire(self.grace)
                yield old.ended
            self._log.info("rolling restart done")
        finally:
            self.restarting = False

    def stopService(self) -> Any:
        """
        Retire every worker, wait until all have gone, then close the
        listening sockets (refusing what is still queued: nobody is left to
        serve it).

        @return: a L{Deferred<twisted.internet.defer.Deferred>} that fires once they are closed.
        """
        Service.stopService(self)
        self.stopping = True
        alive = list(self.live)
        for worker in alive:
            worker.retire(self.grace)
        done = defer.DeferredList([w.ended for w in alive], consumeErrors=True)

        def closed(result: Any) -> None:
            for listener in self._handoff.values():
                listener.close()
            self.listeners.close()
            self._log.info("all workers stopped")

        return done.addCallback(closed)

    def writeHistory(self, path: str) -> None:
        """
        Write L{history} to C{path}, as JSON.
        """
        with open(path, "w") as f:
            json.dump(self.history, f, indent=1)


class HandoffListener:
    """
    Under the C{handoff} strategy, the supervisor's reader on a listening
    socket: it accepts, and hands each connection to the serving workers in
    turn (Node's cluster does the same, issue 4387 proposes it).

    @ivar workers: the workers that listen on it, in turn.
    @ivar held: connections a dead worker left unread, while no worker
        serves: the next to serve takes them (L{flush}).
    """

    def __init__(
        self, supervisor: WorkersService, key: str, listening: socket.socket
    ) -> None:
        self.supervisor = supervisor
        self.key = key
        self.listening = listening
        self.family = listening.family
        self.workers: List[Worker] = []
        self.held: List[socket.socket] = []
        self._turn = 0
        supervisor.reactor.addReader(self)

    def fileno(self) -> int:
        """
        @return: the listening socket's descriptor.
        """
        return self.listening.fileno()

    def logPrefix(self) -> str:
        """
        @return: the name Twisted's log gives it.
        """
        return "handoff {}".format(self.key)

    def doRead(self) -> None:
        """
        Accept what is queued, a batch at most, and hand each connection
        over; with no worker serving, leave the queue to the kernel.
        """
        for _ in range(64):
            serving = [w for w in self.workers if w.serving]
            if not serving:
                return
            try:
                connection, address = self.listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                # EMFILE and the like: the queue keeps it; try again later.
                Worker._log.error("handoff {key}: accept: {e}", key=self.key, e=e)
                return
            with connection:
                connection.setblocking(False)
                self._handOver(connection, serving)

    def give(self, connection: socket.socket) -> None:
        """
        Hand C{connection} to a serving worker and close it here, or hold
        it until one serves.
        """
        serving = [w for w in self.workers if w.serving]
        if not serving:
            self.held.append(connection)
            return
        with connection:
            self._handOver(connection, serving)

    def flush(self) -> None:
        """
        Hand over the connections held.
        """
        held, self.held = self.held, []
        for connection in held:
            self.give(connection)

    def _handOver(self, connection: socket.socket, serving: List[Worker]) -> None:
        """
        Send C{connection} to the next worker whose channel takes it; when
        every channel is full, wait on the next one's.
        """
        message = {"op": "connection", "key": self.key, "family": int(self.family)}
        for attempt in range(len(serving)):
            worker = serving[(self._turn + attempt) % len(serving)]
            try:
                _channel.send(worker.channel, message, [connection.fileno()])
            except BlockingIOError:
                continue
            except OSError:
                continue  # It is going; processEnded will say why.
            self._turn = (self._turn + attempt + 1) % len(serving)
            return
        worker = serving[self._turn % len(serving)]
        worker.channel.setblocking(True)
        try:
            _channel.send(worker.channel, message, [connection.fileno()])
        finally:
            worker.channel.setblocking(False)

    def connectionLost(self, reason: Any) -> None:
        """
        Removed at shutdown: nothing to do.
        """

    def close(self) -> None:
        """
        Stop accepting; close what is held (nobody is left to serve it).
        """
        self.supervisor.reactor.removeReader(self)
        for connection in self.held:
            connection.close()
        self.held = []
