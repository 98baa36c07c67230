"""
L{epollreactor.workers}: an exclusive registration is changed by
C{EPOLL_CTL_DEL} and C{EPOLL_CTL_ADD}, since the kernel refuses to modify
it; and, on real processes and sockets, the supervisor notices a worker's
death and replaces it, hands over to new workers on C{SIGHUP} without a
refused or reset connection (keep-alive HTTP connections close after a
response that says so), keeps the connections queued for a worker that
dies (under C{handoff}, those on its channel too), and stops every worker
when it stops.

The process tests wait for what the supervisor's log says (generously:
the machine may be loaded), never for a time.
"""

import errno
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from time import gmtime, monotonic, sleep, strftime, time
from typing import Any, Callable, Iterator, List, Optional, Tuple, cast

import pytest

from epollreactor._libc import (
    EPOLL_CTL_ADD,
    EPOLL_CTL_DEL,
    EPOLL_CTL_MOD,
    EPOLLERR,
    EPOLLEXCLUSIVE,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
)
from epollreactor._registrations import Registrations
from epollreactor.workers import STRATEGIES, allowedCores, defaultWorkers
from epollreactor.workers._child import REORDER_ACCEPTS, WorkerPort, WorkerReactor

#: How long a process test waits for the log to say something.
PATIENCE = 120.0


class Owner:
    """
    A selectable as the registration table sees one: a descriptor number.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        """
        @return: its descriptor number.
        """
        return self.fd


def kernelEntry(epfd: int, fd: int) -> Tuple[int, int]:
    """
    @return: the event mask and the data the kernel holds for C{fd} in the
        interest list of epoll instance C{epfd}, from
        C{/proc/self/fdinfo} (proc(5)).
    @raise LookupError: when it holds none.
    """
    for line in Path("/proc/self/fdinfo/{}".format(epfd)).read_text().splitlines():
        found = re.match(
            r"tfd:\s*(\d+) events:\s*([0-9a-f]+) data:\s*([0-9a-f]+)", line
        )
        if found and int(found.group(1)) == fd:
            return int(found.group(2), 16), int(found.group(3), 16)
    raise LookupError("no entry for {} in epoll {}".format(fd, epfd))


@pytest.fixture
def table() -> Iterator[Tuple[Registrations, List[Any]]]:
    """
    @return: a registration table, and the list its lost owners go to.
    """
    lost: List[Any] = []
    registrations = Registrations(lambda owner, reading, reason: lost.append(owner))
    yield registrations, lost
    registrations.poller.close()


def test_kernelRefusesToModifyExclusive(table: Any) -> None:
    """
    The kernel fact the table works around: C{EPOLL_CTL_MOD} of an entry
    added with C{EPOLLEXCLUSIVE} fails with EINVAL, whatever the new mask
    (epoll_ctl(2)).
    """
    registrations, lost = table
    a, b = socket.socketpair()
    with a, b:
        record = registrations.register(
            Owner(a.fileno()), a.fileno(), EPOLLIN | EPOLLEXCLUSIVE
        )
        control = registrations.poller._control
        assert (
            control(EPOLL_CTL_MOD, a.fileno(), EPOLLIN, record.generation)
            == errno.EINVAL
        )


def test_exclusiveRegistrationRefusedForModGetsDeleteAndAdd(table: Any) -> None:
    """
    A registration refused for MOD gets DEL+ADD: an exclusive record whose
    owner starts writing gets EPOLLOUT in the kernel, stays exclusive and
    keeps its generation, and is not lost.
    """
    registrations, lost = table
    a, b = socket.socketpair()
    with a, b:
        record = registrations.register(
            Owner(a.fileno()), a.fileno(), EPOLLIN | EPOLLEXCLUSIVE
        )
        epfd = registrations.poller.fileno()
        before = kernelEntry(epfd, a.fileno())
        record.writing = True
        registrations.apply({record})
        mask, data = kernelEntry(epfd, a.fileno())
        assert lost == []
        assert record.mask == EPOLLIN | EPOLLOUT | EPOLLEXCLUSIVE
        assert mask == EPOLLIN | EPOLLOUT | EPOLLEXCLUSIVE | EPOLLERR | EPOLLHUP
        assert data == before[1] == record.generation << 32 | a.fileno()


def test_exclusiveRegistrationSurvivesTheCheck(table: Any) -> None:
    """
    The check of every registration (C{Registrations.check}), whose
    C{EPOLL_CTL_MOD} an exclusive entry refuses, finds the entry there and
    keeps it exclusive instead of calling its owner lost.
    """
    registrations, lost = table
    a, b = socket.socketpair()
    with a, b:
        registrations.register(Owner(a.fileno()), a.fileno(), EPOLLIN | EPOLLEXCLUSIVE)
        registrations.suspectStale()
        registrations.check()
        assert lost == []
        mask, data = kernelEntry(registrations.poller.fileno(), a.fileno())
        assert mask & EPOLLEXCLUSIVE


class Controls:
    """
    A table's epoll object, put in its place, whose C{epoll_ctl(2)} calls
    are made on the real instance and written down: operation, number,
    mask and errno.
    """

    def __init__(self, registrations: Registrations) -> None:
        self.calls: List[Tuple[int, int, int, int]] = []
        self.poller = registrations.poller
        registrations.poller = cast(Any, self)

    def __getattr__(self, name: str) -> Any:
        """
        @return: the real epoll object's attribute.
        """
        return getattr(self.poller, name)

    def _control(self, operation: int, fd: int, mask: int, tag: int) -> int:
        """
        Make the call, and write it down.
        """
        failure = int(self.poller._control(operation, fd, mask, tag))
        self.calls.append((operation, fd, mask, failure))
        return failure


def assertLive(registrations: Registrations, fd: int, peer: socket.socket) -> None:
    """
    Assert that the kernel's entry for C{fd} is exclusive, carries the
    generation of the table's record, and reports C{fd} readable once
    C{peer} writes to it.
    """
    record = registrations.byNumber[fd]
    mask, data = kernelEntry(registrations.poller.fileno(), fd)
    assert mask & EPOLLEXCLUSIVE
    assert data == record.generation << 32 | fd
    peer.send(b"x")
    assert (fd, EPOLLIN) in registrations.poller.poll(0)


@pytest.mark.parametrize("reused", [False, True], ids=["same file", "number reused"])
def test_evictedNumberTakenOverExclusiveGetsDeleteAndAdd(
    table: Any, reused: bool
) -> None:
    """
    A number whose exclusive record was evicted (its owner closed it behind
    the reactor's back, or another object wraps the same file) is taken
    over by a new exclusive registration with C{EPOLL_CTL_DEL} and
    C{EPOLL_CTL_ADD}, never a C{MOD}, which the kernel refuses with EINVAL
    (epoll_ctl(2)): the entry is live, exclusive, with the new generation.
    """
    registrations, lost = table
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d:
        fd = a.fileno()
        old = registrations.register(Owner(fd), fd, EPOLLIN | EPOLLEXCLUSIVE)
        if reused:
            os.dup2(c.fileno(), fd)  # Closes a's file: its entry goes.
            b = d
        registrations.evict(old)
        controls = Controls(registrations)
        registrations.register(Owner(fd), fd, EPOLLIN | EPOLLEXCLUSIVE)
        assert [call[0] for call in controls.calls] == [EPOLL_CTL_DEL, EPOLL_CTL_ADD]
        assert controls.calls[1][3] == 0
        assertLive(registrations, fd, b)
        assert lost == []


@pytest.mark.parametrize(
    "mask", [EPOLLIN | EPOLLEXCLUSIVE, EPOLLIN], ids=["exclusive", "not exclusive"]
)
def test_forgottenExclusiveEntryIsTakenOver(table: Any, mask: int) -> None:
    """
    An exclusive entry the kernel holds and the table does not know of
    (EEXIST on C{EPOLL_CTL_ADD}) is taken over by C{DEL} and C{ADD}, with
    the mask asked for: no EINVAL escapes, whether that mask is exclusive
    (a C{MOD} to it is refused) or not (a C{MOD} of the entry is).
    """
    registrations, lost = table
    a, b = socket.socketpair()
    with a, b:
        control = registrations.poller._control
        assert control(EPOLL_CTL_ADD, a.fileno(), EPOLLIN | EPOLLEXCLUSIVE, 0) == 0
        record = registrations.register(Owner(a.fileno()), a.fileno(), mask)
        entry = kernelEntry(registrations.poller.fileno(), a.fileno())
        assert entry == (
            mask | EPOLLERR | EPOLLHUP,
            record.generation << 32 | a.fileno(),
        )
        b.send(b"x")
        assert (a.fileno(), EPOLLIN) in registrations.poller.poll(0)


def test_exclusivePortMovesToTheEndOfTheQueue() -> None:
    """
    An exclusive L{WorkerPort} is registered with C{EPOLLEXCLUSIVE}, accepts
    one connection per wake-up, and after L{REORDER_ACCEPTS} connections
    its entry is deleted and added again (a new generation), as nginx
    does so that the next connection wakes another worker.
    """
    from twisted.internet.protocol import Factory, Protocol

    channel, other = socket.socketpair()
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(64)
    listening.setblocking(False)
    reactor = WorkerReactor(channel, 1)
    clients: List[socket.socket] = []
    try:
        port = WorkerPort._fromListeningDescriptor(
            reactor, listening.fileno(), socket.AF_INET, Factory.forProtocol(Protocol)
        )
        port.exclusive, port.acceptBatch = True, 1
        port.startListening()
        epfd, fd = reactor._poller.fileno(), port.fileno()
        first = kernelEntry(epfd, fd)
        assert first[0] & EPOLLEXCLUSIVE
        for _ in range(REORDER_ACCEPTS):
            clients.append(socket.create_connection(listening.getsockname()))
        while port.accepted < REORDER_ACCEPTS:
            reactor.iterate(1.0)
        assert port.wakeups == REORDER_ACCEPTS
        second = kernelEntry(epfd, fd)
        assert second[0] & EPOLLEXCLUSIVE
        assert second[1] != first[1]
        port.stopListening()
        reactor.iterate(0)
    finally:
        for client in clients:
            client.close()
        listening.close()
        other.close()
        reactor.removeAll()
        reactor.__del__()


def test_defaultWorkersIsTheUsableCores() -> None:
    """
    By default one worker per core this process may run on: the kernel's
    affinity mask, which C{/proc/self/status} states too (where the
    interpreter's C{os} has no C{sched_getaffinity}, PyPy 3.9's).
    """
    assert defaultWorkers() == len(allowedCores()) >= 1
    if hasattr(os, "sched_getaffinity"):
        assert set(allowedCores()) == os.sched_getaffinity(0)


def test_doctorSaysWhatServingUses() -> None:
    """
    The doctor's rows about serving on every core: on this kernel (Linux
    4.5 or later) C{EPOLLEXCLUSIVE} registers and its C{MOD} is refused,
    and C{SO_REUSEPORT} binds two sockets to one port.
    """
    from epollreactor.workers._probe import servingFacts

    rows = dict(servingFacts())
    assert list(rows) == [
        "workers",
        "EPOLLEXCLUSIVE",
        "SO_REUSEPORT",
        "tcp_migrate_req",
        "SCM_RIGHTS",
    ]
    assert rows["EPOLLEXCLUSIVE"].startswith("yes; MOD refused (EINVAL)")
    assert rows["SO_REUSEPORT"].startswith("yes")
    assert rows["workers"].startswith("{} by default".format(defaultWorkers()))


@pytest.mark.parametrize(
    "arguments, complaint",
    [
        ([], "a twist plugin, or --service, is needed"),
        (["--workers", "0", "web"], "--workers must be at least 1"),
        (["--strategy", "fastest", "web"], "invalid choice: 'fastest'"),
    ],
)
def test_usageErrors(arguments: List[str], complaint: str) -> None:
    """
    The command exits with status 2 and says what is wrong when it is given
    nothing to run, no workers, or an unknown strategy.
    """
    child = subprocess.run(
        [sys.executable, "-m", "epollreactor.workers"] + arguments,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )
    assert child.returncode == 2
    assert complaint in child.stderr


class Supervisor:
    """
    C{python -m epollreactor.workers} serving a folder with C{twist web} on
    a port the supervisor chose, its log in a file.
    """

    def __init__(self, folder: Path, strategy: str, workers: int) -> None:
        folder.joinpath("index.html").write_text("every core\n")
        self.logPath = folder / "supervisor.log"
        self.log = open(self.logPath, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "epollreactor.workers", "--workers", str(workers)]
            + ["--strategy", strategy, "--grace", "2", "web", "--path", str(folder)]
            + ["--listen", "tcp:0:interface=127.0.0.1"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            # A process group of its own, as a terminal gives a command,
            # with SIGINT's default action, which a shell's background job
            # (make test &) would have ignored and passed down.
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.port = int(self.waitFor(r"listening on 127.0.0.1:(\d+)").group(1))
        for _ in range(workers):
            self.waitFor(r"serves", count=workers)

    def text(self) -> str:
        """
        @return: the log so far.
        """
        return self.logPath.read_text(errors="replace")

    def waitFor(self, pattern: str, count: int = 1) -> "re.Match[str]":
        """
        @return: the C{count}th match of C{pattern} in the log, once there.
        @raise AssertionError: when it is not there after L{PATIENCE}.
        """
        deadline = monotonic() + PATIENCE
        while monotonic() < deadline:
            matches = list(re.finditer(pattern, self.text()))
            if len(matches) >= count:
                return matches[count - 1]
            assert self.process.poll() is None or "stopped" in pattern, self.text()
            sleep(0.05)
        raise AssertionError("{!r} not in the log:\n{}".format(pattern, self.text()))

    def workerPid(self, number: int) -> int:
        """
        @return: the pid of worker C{number}.
        """
        return int(
            self.waitFor(r"worker {} \(pid (\d+)\) started".format(number)).group(1)
        )

    def stop(self, group: bool = False) -> int:
        """
        SIGTERM the supervisor, or SIGINT its whole process group, as
        Ctrl-C in a terminal does.

        @return: its exit status.
        """
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, signal.SIGINT)
            else:
                self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(PATIENCE)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.log.close()


def get(port: int) -> str:
    """
    One HTTP/1.0 request on a new connection.

    @return: the response's status line.
    @raise OSError: when the connection is refused or reset.
    """
    return getOn(socket.create_connection(("127.0.0.1", port), timeout=PATIENCE))


def getOn(connection: socket.socket) -> str:
    """
    One HTTP/1.0 request on C{connection}, which is closed afterwards.

    @return: the response's status line.
    @raise OSError: when the connection is reset.
    """
    with connection:
        connection.sendall(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n")
        response = b""
        while True:
            data = connection.recv(65536)
            if not data:
                break
            response += data
    return response.split(b"\r\n", 1)[0].decode("latin-1")


def acceptQueue(port: int) -> int:
    """
    @return: how many connections wait in the accept queue of the socket
        listening on 127.0.0.1:C{port} (C{rx_queue} of a listening socket in
        C{/proc/net/tcp}: proc(5)).
    """
    local = "0100007F:{:04X}".format(port)
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[3] == "0A":
                return int(fields[4].split(":")[1], 16)
    raise AssertionError("nothing listens on 127.0.0.1:{}".format(port))


def supervised(tmp_path: Path, strategy: str, workers: int) -> Iterator[Supervisor]:
    """
    Run a L{Supervisor}, and stop it afterwards.
    """
    supervisor = Supervisor(tmp_path, strategy, workers)
    try:
        yield supervisor
    finally:
        supervisor.stop()


@pytest.fixture
def reuseport(tmp_path: Path) -> Iterator[Supervisor]:
    """
    @return: a L{Supervisor} of two workers, strategy C{reuseport}.
    """
    yield from supervised(tmp_path, "reuseport", 2)


def test_deadWorkerIsReplaced(reuseport: Supervisor) -> None:
    """
    A worker killed is noticed and replaced in its slot, and the log says
    which worker died, how, and that a new one takes its slot; the new one
    serves.
    """
    pid = reuseport.workerPid(1)
    os.kill(pid, signal.SIGKILL)
    reuseport.waitFor(
        r"worker 1 \(pid {}\) died: it was killed by SIGKILL \(signal 9\); "
        r"a new worker takes slot 0".format(pid)
    )
    reuseport.waitFor(r"worker 3 \(pid \d+\) started in slot 0")
    reuseport.waitFor(r"worker 3 \(pid \d+\) serves")
    assert get(reuseport.port) == "HTTP/1.0 200 OK"


@pytest.mark.parametrize("group", [False, True], ids=["SIGTERM", "Ctrl-C"])
def test_stopStopsEveryWorker(reuseport: Supervisor, group: bool) -> None:
    """
    SIGTERM to the supervisor, or SIGINT to it and every worker (Ctrl-C),
    stops every worker, each exiting with status 0, and then the
    supervisor, with status 0.
    """
    pids = [reuseport.workerPid(1), reuseport.workerPid(2)]
    assert reuseport.stop(group) == 0
    text = reuseport.text()
    for number, pid in enumerate(pids, 1):
        assert (
            "worker {} (pid {}) stopped: exited with status 0".format(number, pid)
            in text
        )
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "all workers stopped" in text


class Clients(threading.Thread):
    """
    A client that makes one request per connection, one after another,
    until told to stop, and keeps every failure.
    """

    def __init__(self, port: int) -> None:
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.answered = 0
        self.failures: List[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        """
        Request until L{done}.
        """
        while not self.done.is_set():
            try:
                status = get(self.port)
            except OSError as e:
                self.fail(repr(e))
                continue
            if status == "HTTP/1.0 200 OK":
                self.answered += 1
            else:
                self.fail(status)

    def fail(self, what: str) -> None:
        """
        Keep C{what}, stamped with the time of day (UTC, to the
        millisecond), so that a failure can be placed in the supervisor's
        log: which worker started or stopped around it.
        """
        now = time()
        stamp = strftime("%H:%M:%S", gmtime(now)) + ".{:03d}".format(
            int(now % 1 * 1000)
        )
        self.failures.append("{} {}".format(stamp, what))


class KeepAliveClients(Clients):
    """
    A client that makes HTTP/1.1 requests one after another on one
    keep-alive connection (C{http.client}), opening a new one only when a
    response said C{Connection: close}, and keeps every failure.

    @ivar closes: how many responses said C{Connection: close}.
    """

    closes = 0

    def run(self) -> None:
        """
        Request until L{done}.
        """
        connection = HTTPConnection("127.0.0.1", self.port, timeout=PATIENCE)
        try:
            while not self.done.is_set():
                try:
                    connection.request("GET", "/index.html")
                    response = connection.getresponse()
                    body = response.read()
                except (OSError, HTTPException) as e:
                    self.fail(repr(e))
                    connection.close()
                    continue
                if response.status == 200 and body == b"every core\n":
                    self.answered += 1
                else:
                    self.fail("{} {!r}".format(response.status, body))
                if response.getheader("Connection") == "close":
                    self.closes += 1
        finally:
            connection.close()


def restartUnder(supervisor: Supervisor, clients: List[Clients]) -> str:
    """
    Start C{clients}, restart every worker with SIGHUP, let the clients
    make some requests after the last old worker went, and stop them.

    @return: the supervisor's log.
    """
    for client in clients:
        client.start()
    supervisor.process.send_signal(signal.SIGHUP)
    supervisor.waitFor(r"rolling restart done")
    before = sum(client.answered for client in clients)
    while sum(client.answered for client in clients) < before + 10:
        sleep(0.05)
    for client in clients:
        client.done.set()
        client.join(PATIENCE)
    return supervisor.text()


def failuresIn(clients: List[Clients], text: str) -> str:
    """
    @return: the clients' failures, and the supervisor's log C{text}
        without its access lines, to tell which step of a restart each
        failure came in.
    """
    failures = [failure for client in clients for failure in client.failures]
    events = [line for line in text.splitlines() if '"GET ' not in line]
    return "\n".join(
        ["failures:"] + failures + ["log, less the access lines:"] + events
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_rollingRestartClosesKeepAliveAfterAResponse(
    tmp_path: Path, strategy: str
) -> None:
    """
    SIGHUP replaces every worker while HTTP/1.1 clients make requests on
    keep-alive connections throughout: each retiring worker answers the
    next request on each of its connections with C{Connection: close}
    and closes it after that response, so every request is answered and
    none fails, though every connection open before the restart ends.
    """
    for supervisor in supervised(tmp_path, strategy, 2):
        clients = [KeepAliveClients(supervisor.port) for _ in range(3)]
        text = restartUnder(supervisor, clients)
        assert [c.failures for c in clients] == [[], [], []], failuresIn(clients, text)
        assert all(c.closes >= 1 for c in clients), [c.closes for c in clients]
        assert "close after their next response" in text
        assert "died" not in text


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_rollingRestartHandsOverWithoutAGap(tmp_path: Path, strategy: str) -> None:
    """
    SIGHUP replaces every worker, one at a time, while clients connect
    throughout: every request is answered, none is refused or reset.
    """
    for supervisor in supervised(tmp_path, strategy, 2):
        clients = [Clients(supervisor.port) for _ in range(3)]
        text = restartUnder(supervisor, clients)
        assert [c.failures for c in clients] == [[], [], []], failuresIn(clients, text)
        assert re.search(r"worker 3 \(pid \d+\) replaces worker 1", text)
        assert re.search(r"worker 4 \(pid \d+\) replaces worker 2", text)
        assert "died" not in text


def requestAtOnce(
    port: int, count: int
) -> Tuple[List[Optional[str]], List[threading.Thread]]:
    """
    Start C{count} threads, each making one request on a new connection
    (L{get}).

    @return: as L{requestOnEach}.
    """
    return inThreads(count, lambda i: get(port))


def requestOnEach(
    connections: List[socket.socket],
) -> Tuple[List[Optional[str]], List[threading.Thread]]:
    """
    Start a thread for each of C{connections}, making one request on it
    (L{getOn}).

    @return: as L{inThreads}.
    """
    return inThreads(len(connections), lambda i: getOn(connections[i]))


def inThreads(
    count: int, request: Callable[[int], str]
) -> Tuple[List[Optional[str]], List[threading.Thread]]:
    """
    Start C{count} threads, the C{i}th calling C{request(i)}.

    @return: the list each writes its status line (or its error) into, and
        the threads.
    """
    results: List[Optional[str]] = [None] * count

    def run(i: int) -> None:
        try:
            results[i] = request(i)
        except OSError as e:
            results[i] = repr(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return results, threads


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_connectionsQueuedForADeadWorkerAreServed(
    tmp_path: Path, strategy: str
) -> None:
    """
    Connections queued when the only worker dies are neither refused nor
    reset, and the replacement serves them: in the kernel's accept queue,
    whose listening socket stays open in the supervisor, or, under
    C{handoff}, on the dead worker's channel, which the supervisor reads
    back and holds until a worker serves.
    """
    for supervisor in supervised(tmp_path, strategy, 1):
        pid = supervisor.workerPid(1)
        os.kill(pid, signal.SIGSTOP)
        results, threads = requestAtOnce(supervisor.port, 5)
        sleep(0.5)  # Not a timing assertion: only lets the clients queue.
        os.kill(pid, signal.SIGKILL)
        supervisor.waitFor(r"worker 2 \(pid \d+\) serves")
        for thread in threads:
            thread.join(PATIENCE)
        assert results == ["HTTP/1.0 200 OK"] * 5


def test_connectionsHandedToADeadWorkerAreServedByAnother(tmp_path: Path) -> None:
    """
    Under C{handoff}, the connections handed to a worker that is killed
    before it reads them (stopped, then killed, while the supervisor hands
    every other connection to it) are read back from its channel and
    served by the other worker: every request is answered.
    """
    for supervisor in supervised(tmp_path, "handoff", 2):
        pid = supervisor.workerPid(1)
        os.kill(pid, signal.SIGSTOP)
        connections = [
            socket.create_connection(("127.0.0.1", supervisor.port), timeout=PATIENCE)
            for _ in range(8)
        ]
        # Connected, each is in the accept queue until the supervisor takes
        # it, and hands it over in the same call, in turn: 4 to each worker.
        deadline = monotonic() + PATIENCE
        while acceptQueue(supervisor.port) and monotonic() < deadline:
            sleep(0.05)
        assert acceptQueue(supervisor.port) == 0
        results, threads = requestOnEach(connections)
        # Worker 2 answers its turns; the others wait on worker 1's channel.
        while results.count("HTTP/1.0 200 OK") < 4 and monotonic() < deadline:
            sleep(0.05)
        assert results.count(None) == 4, results
        os.kill(pid, signal.SIGKILL)
        supervisor.waitFor(
            r"worker 1 \(pid {}\) left 4 connections unread: other workers "
            r"serve them".format(pid)
        )
        for thread in threads:
            thread.join(PATIENCE)
        assert results == ["HTTP/1.0 200 OK"] * 8
