"""
Every core (bench/README.md, "Every core"): C{twist web} on several
processes under wrk, side by side in one run.

The arrangements: C{one}, one process on our reactor; C{stock}, N
processes of stock Twisted (C{twisted.internet.epollreactor}) each adopting
one inherited listening socket with C{adoptStreamPort}, as Twisted's
documentation shows and users do today; and C{python -m
epollreactor.workers} with each strategy.  The pages: C{cpu}, a handler
that spends about 200 us of CPU per request, and C{static}, a fixed page.

For each: requests per second, p50/p99/max latency (wrk's keep-alive
connections); each worker's share of connections and requests; with one
connection per request, voluntary context switches of all workers per
connection, and for ours the listener's wake-ups per accepted connection;
then errors and resets under wrk during a rolling restart (SIGHUP) of each
strategy, and during stock's: each process replaced in turn, the new one
started before the old one gets SIGTERM.

Also the module the servers import (C{twist web --class
bench_workers.CPUPage}): the pages count, per process, requests and
connections, and write them out at shutdown.

    python bench/bench_workers.py [--seconds 3] [--workers 2,4,8]
        [--arrangements one,stock,reuseport,...] [--no-restart]
"""

import argparse
import glob
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))

#: wrk's keep-alive connections.
CONNECTIONS = 32

#: wrk's connections for the runs with one request per connection: few,
#: so that workers wait between connections and a wake-up that finds
#: nothing (the thundering herd) can show.
CLOSING_CONNECTIONS = 4

#: CPU time the C{cpu} page spends per request, in seconds.
WORK = 200e-6

STRATEGIES = ["reuseport", "exclusive", "handoff", "shared"]

_STATIC = b"<!DOCTYPE html><title>static</title><p>" + b"every core " * 50 + b"</p>\n"


# The pages (imported by the servers).

_counts: Dict[str, Any] = {}


def _count(request: Any) -> None:
    """
    Count a request and its connection; the first time, arrange for the
    counts to be written at shutdown to C{$BENCH_WORKERS_STATS/<pid>.json}.
    """
    if not _counts:
        from twisted.internet import reactor

        _counts.update(requests=0, connections=0, first=_switches(), last=0)
        reactor.addSystemEventTrigger("before", "shutdown", _write)  # type: ignore[attr-defined]
    _counts["requests"] += 1
    channel = request.channel
    # Marked, not remembered by id(): a closed channel's id is soon a new
    # one's, which would count many short connections as few.
    if not getattr(channel, "_benchWorkersCounted", False):
        channel._benchWorkersCounted = True
        _counts["connections"] += 1
    _counts["last"] = _switches()


def _switches() -> int:
    """
    @return: this process's voluntary context switches so far.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw


def _write() -> None:
    """
    Write this process's counts.
    """
    folder = os.environ.get("BENCH_WORKERS_STATS")
    if folder and _counts:
        with open(os.path.join(folder, "{}.json".format(os.getpid())), "w") as f:
            json.dump(
                {
                    "requests": _counts["requests"],
                    "connections": _counts["connections"],
                    "switches": _counts["last"] - _counts["first"],
                },
                f,
            )


def _pageClass(cpu: bool) -> Any:
    """
    @return: a twisted.web resource class for the C{cpu} or C{static} page.
    """
    from twisted.web.resource import Resource

    class Page(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            _count(request)
            if cpu:
                end = time.thread_time() + WORK
                while time.thread_time() < end:
                    pass
            request.setHeader(b"content-type", b"text/html")
            return _STATIC

    return Page


if os.environ.get("BENCH_WORKERS_STATS"):
    CPUPage = _pageClass(True)
    StaticPage = _pageClass(False)


# The arrangements.


def freePort() -> int:
    """
    @return: a TCP port free on 127.0.0.1 a moment ago.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stockWorker(fd: int, page: str) -> None:
    """
    One process of the stock arrangement: Twisted's own epoll reactor,
    adopting the inherited listening socket C{fd}.
    """
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import reactor
    from twisted.web.server import Site

    resource = _pageClass(page == "cpu")()
    reactor.adoptStreamPort(fd, socket.AF_INET, Site(resource))  # type: ignore[attr-defined]
    os.close(fd)
    print("ready", flush=True)
    reactor.run()  # type: ignore[attr-defined]


class Server:
    """
    One arrangement, serving one page on a port, with its counts in a
    folder of its own.
    """

    def __init__(self, arrangement: str, workers: int, page: str) -> None:
        self.arrangement, self.workers, self.page = arrangement, workers, page
        self.port = freePort()
        self.stats = tempfile.mkdtemp(prefix="bench-workers-")
        self.history = os.path.join(self.stats, "history.json")
        self.log = open(os.path.join(self.stats, "log"), "w+")
        self.environment = dict(
            os.environ,
            BENCH_WORKERS_STATS=self.stats,
            PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
        )
        self.processes: List[subprocess.Popen[bytes]] = []
        self.listening: Optional[socket.socket] = None
        page = "bench_workers.{}Page".format("CPU" if page == "cpu" else "Static")
        web = ["web", "--class", page, "--listen"]
        web.append("tcp:{}:interface=127.0.0.1".format(self.port))
        # No access log (a line per request) anywhere: stock's processes
        # start no log observer.
        quiet = ["--log-level=warn"]
        if arrangement == "one":
            one = [sys.executable, "-m", "twisted", "--reactor=ctypes-epoll"]
            self._start(one + quiet + web)
        elif arrangement == "stock":
            self._startStock()
        else:
            command = [sys.executable, "-m", "epollreactor.workers"]
            command += ["--workers", str(workers), "--strategy", arrangement]
            command += ["--grace", "5", "--history", self.history]
            self._start(command + quiet + web)
        self._waitUntilServing()

    def _start(self, command: List[str], **options: Any) -> None:
        self.processes.append(
            subprocess.Popen(
                command,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                env=self.environment,
                **options,
            )
        )

    def _startStock(self) -> None:
        listening = self.listening = socket.socket()
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(("127.0.0.1", self.port))
        listening.listen(511)
        listening.setblocking(False)
        for _ in range(self.workers):
            self._startStockProcess()

    def _startStockProcess(self) -> None:
        assert self.listening is not None
        fd = self.listening.fileno()
        code = "import bench_workers; bench_workers._stockWorker({}, {!r})"
        self._start([sys.executable, "-c", code.format(fd, self.page)], pass_fds=[fd])

    def replaceStockProcesses(self) -> None:
        """
        The rolling restart stock Twisted users can make: each process in
        turn is replaced by a new one adopting the same inherited socket,
        started first, and then stopped with SIGTERM, which its reactor
        answers by closing its connections.
        """
        for index in range(self.workers):
            ready = self.text().count("ready")
            self._startStockProcess()
            deadline = time.monotonic() + 180
            while self.text().count("ready") <= ready:
                if time.monotonic() > deadline:
                    raise RuntimeError("a new stock process never served")
                time.sleep(0.05)
            old = self.processes[index]
            old.send_signal(signal.SIGTERM)
            old.wait(120)

    def cpu(self) -> float:
        """
        @return: the CPU seconds every process of the arrangement has used
            so far: stock's N processes are each started here, ours are
            the supervisor's children.
        """
        return sum(treeCpu(process.pid) for process in self.processes)

    def text(self) -> str:
        """
        @return: the servers' output so far.
        """
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def _waitUntilServing(self) -> None:
        expected = {"one": 0, "stock": self.workers}.get(self.arrangement)
        pattern = "ready" if self.arrangement == "stock" else r"\) serves"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            text = self.text()
            if expected is None:
                done = len(re.findall(pattern, text)) >= self.workers
            else:
                done = len(re.findall(pattern, text)) >= expected
            if done and self._answers():
                return
            time.sleep(0.1)
        raise RuntimeError("{} never served:\n{}".format(self.arrangement, self.text()))

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5):
                return True
        except OSError:
            return False

    def hangUp(self) -> None:
        """
        SIGHUP the supervisor: a rolling restart.
        """
        self.processes[0].send_signal(signal.SIGHUP)

    def stop(self) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
        """
        Stop every process.

        @return: each process's page counts, and (for ours) each worker's
            history as the supervisor wrote it.
        """
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.listening is not None:
            self.listening.close()
        counts = []
        for path in glob.glob(os.path.join(self.stats, "*.json")):
            if not path.endswith("history.json"):
                with open(path) as f:
                    counts.append(json.load(f))
        history = []
        if os.path.exists(self.history):
            with open(self.history) as f:
                history = json.load(f)
        self.log.close()
        shutil.rmtree(self.stats, ignore_errors=True)
        return counts, history


# wrk.

_UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}


def _us(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    assert found is not None, text
    return float(found.group(1)) * _UNITS[found.group(2)]


def wrk(
    port: int, seconds: float, close: bool = False, threads: int = 2
) -> Dict[str, float]:
    """
    Run wrk; with C{close}, one request per connection.

    @return: requests per second, latency p50, p99 and max (us), the
        number of requests and wrk's error counts.
    """
    connections = CLOSING_CONNECTIONS if close else CONNECTIONS
    command = ["wrk", "-t{}".format(threads), "-c{}".format(connections)]
    command += ["-d{}s".format(seconds), "--latency"]
    if close:
        command += ["-H", "Connection: close"]
    before = _childrenCpu()
    output = subprocess.run(
        command + ["http://127.0.0.1:{}/".format(port)],
        stdout=subprocess.PIPE,
        text=True,
        timeout=seconds + 120,
    ).stdout
    result = parseWrk(output)
    result["wrkCpu"] = _childrenCpu() - before
    return result


def _childrenCpu() -> float:
    """
    @return: the CPU seconds, user and system, of this process's children
        that have been waited for (getrusage(2)): around a wrk run, with
        the servers still running, wrk's.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def busyCpu() -> float:
    """
    @return: the CPU seconds every process has used so far, all cores
        together (proc(5): C{/proc/stat}'s first line, less idle and
        iowait).
    """
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def treeCpu(pid: int) -> float:
    """
    @return: the CPU seconds, user and system, that process C{pid} and
        every process below it have used so far (proc(5): C{stat}'s
        utime and stime, C{task/TID/children}).
    """
    total = 0.0
    pending = [pid]
    ticks = os.sysconf("SC_CLK_TCK")
    while pending:
        current = pending.pop()
        try:
            with open("/proc/{}/stat".format(current)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in os.listdir("/proc/{}/task".format(current)):
                path = "/proc/{}/task/{}/children".format(current, task)
                with open(path) as f:
                    pending.extend(int(child) for child in f.read().split())
        except (OSError, IndexError, ValueError):
            continue  # It ended meanwhile.
    return total


def parseWrk(output: str) -> Dict[str, float]:
    """
    @return: what L{wrk} returns, from wrk's report.
    """
    result: Dict[str, float] = {}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["rate"] = float(rate.group(1)) if rate else 0.0
    count = re.search(r"(\d+) requests in", output)
    result["count"] = float(count.group(1)) if count else 0.0
    for name, percent in (("p50", "50"), ("p99", "99")):
        found = re.search(r"\s{}%\s+(\S+)".format(percent), output)
        result[name] = _us(found.group(1)) if found else 0.0
    latency = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", output)
    result["max"] = _us(latency.group(1)) if latency else 0.0
    errors = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    for i, name in enumerate(("connect", "read", "write", "timeout")):
        result[name] = float(errors.group(i + 1)) if errors else 0.0
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non2xx"] = float(bad.group(1)) if bad else 0.0
    return result


# The runs.


def shares(counts: List[Dict[str, Any]], key: str, processes: int) -> str:
    """
    @param processes: how many processes served; one that served no
        request wrote no counts, and counts as 0.
    @return: each process's share of C{key}, largest first, as multiples of
        a fair share, e.g. C{1.62/0.38}.
    """
    values = [c[key] for c in counts]
    values = sorted(values + [0] * (processes - len(values)), reverse=True)
    total = sum(values)
    if not total:
        return "-"
    return "/".join("{:.2f}".format(v * len(values) / total) for v in values)


def measure(
    arrangement: str, workers: int, page: str, seconds: float
) -> Dict[str, Any]:
    """
    One arrangement under wrk: keep-alive, with a warm-up second; or, for
    the page C{closing} (the static page), one request per connection.

    @return: the row of the report.
    """
    closing = page == "closing"
    server = Server(arrangement, workers, "static" if closing else page)
    try:
        if closing:
            keepAlive, closed = None, wrk(server.port, seconds, True, threads=1)
        else:
            wrk(server.port, 1)  # Warm-up, counted with the rest.
            keepAlive, closed = wrk(server.port, seconds), None
    finally:
        counts, history = server.stop()
    row: Dict[str, Any] = {
        "arrangement": arrangement,
        "workers": workers,
        "page": page,
        "keepAlive": keepAlive,
        "closing": closed,
        "counts": counts,
        "history": history,
    }
    return row


def restart(strategy: str, workers: int, keepAlive: bool) -> Dict[str, Any]:
    """
    A rolling restart of every worker under wrk, with keep-alive
    connections or one request per connection: wrk runs until the
    supervisor says the restart is done, or for C{stock} until each of its
    processes has been replaced (L{Server.replaceStockProcesses}).

    @return: wrk's figures and how long the restart took.
    """
    server = Server(strategy, workers, "static")
    try:
        command = ["wrk", "-t2", "-c{}".format(CONNECTIONS), "-d300s"]
        if not keepAlive:
            command += ["-H", "Connection: close"]
        command.append("http://127.0.0.1:{}/".format(server.port))
        load = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        began = time.monotonic()
        if strategy == "stock":
            server.replaceStockProcesses()
        else:
            server.hangUp()
        while strategy != "stock" and "rolling restart done" not in server.text():
            if time.monotonic() - began > 240:
                break
            time.sleep(0.1)
        took = time.monotonic() - began
        time.sleep(1)
        load.send_signal(signal.SIGINT)
        output, _ = load.communicate(60)
    finally:
        server.stop()
    result = parseWrk(output)
    result["restart"] = took
    result["strategy"] = strategy
    result["keepAlive"] = keepAlive
    result["workers"] = workers
    return result


def alternate(
    pairs: List[Tuple[str, int]], page: str, seconds: float, rounds: int
) -> List[Dict[str, Any]]:
    """
    Measure each arrangement of C{pairs} in turn, C{rounds} times (1, 2,
    1, 2, ...), so that a load spike from other jobs falls on both sides
    of a ratio instead of on one: keep-alive, a warm-up second, then
    C{seconds} under wrk, with the CPU that wrk and the servers used.

    @return: one row per measurement, in order.
    """
    rows = []
    for round in range(rounds):
        for arrangement, workers in pairs:
            server = Server(arrangement, workers, page)
            try:
                wrk(server.port, 1)
                cpu, busy = server.cpu(), busyCpu()
                result = wrk(server.port, seconds)
                result["serverCpu"] = server.cpu() - cpu
                result["busyCpu"] = busyCpu() - busy
                result["seconds"] = seconds
            finally:
                server.stop()
            result.update(round=round, arrangement=arrangement, workers=workers)
            result["load"] = float(open("/proc/loadavg").read().split()[0])
            rows.append(result)
            print(
                "round {} {} x{}: {:.0f}/s, p99 {:.1f} ms".format(
                    round, arrangement, workers, result["rate"], result["p99"] / 1e3
                ),
                flush=True,
            )
    return rows


def _spread(values: List[float], form: str = "{:.2f}") -> str:
    """
    @return: the median of C{values}, and their least and greatest.
    """
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = (ordered[middle] + ordered[~middle]) / 2
    return (form + " (" + form + "-" + form + ")").format(
        median, ordered[0], ordered[-1]
    )


def ceiling(row: Dict[str, Any], cores: int) -> float:
    """
    @return: the most requests per second C{row}'s arrangement could
        serve at the CPU a request cost it and wrk in that run, if they
        had the C{cores} to themselves: each worker on one core at most,
        and all of them and wrk on C{cores}.
    """
    count = max(row["count"], 1.0)
    server, client = row["serverCpu"] / count, row["wrkCpu"] / count
    if not server:
        return 0.0
    return min(min(row["workers"], cores) / server, cores / (server + client))


def alternationTable(rows: List[Dict[str, Any]]) -> List[str]:
    """
    @return: the Markdown table of L{alternate}'s rows, each arrangement
        against the round's first (its rate, and its p99 at the same 32
        connections), with the CPU a request cost the servers and wrk,
        how many cores other processes took meanwhile, and the
        L{ceiling}, against the first's.
    """
    cores = len(os.sched_getaffinity(0))
    first = (rows[0]["arrangement"], rows[0]["workers"])
    base = {r["round"]: r for r in rows if (r["arrangement"], r["workers"]) == first}
    lines = [
        (
            "| arrangement | workers | requests/s | vs first | p99 ms | p99 vs first "
            "| server us/req | wrk us/req | others' cores | ceiling/s "
            "| ceiling vs first's |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    pairs: List[Tuple[str, int]] = []
    for r in rows:
        if (r["arrangement"], r["workers"]) not in pairs:
            pairs.append((r["arrangement"], r["workers"]))
    for pair in pairs:
        mine = [r for r in rows if (r["arrangement"], r["workers"]) == pair]
        count = [max(r["count"], 1.0) for r in mine]
        others = [
            (r["busyCpu"] - r["serverCpu"] - r["wrkCpu"]) / r["seconds"] for r in mine
        ]
        lines.append(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                pair[0],
                pair[1],
                _spread([r["rate"] for r in mine], "{:.0f}"),
                _spread([r["rate"] / base[r["round"]]["rate"] for r in mine]),
                _spread([r["p99"] / 1e3 for r in mine], "{:.1f}"),
                _spread([r["p99"] / base[r["round"]]["p99"] for r in mine]),
                _spread(
                    [r["serverCpu"] / c * 1e6 for r, c in zip(mine, count)], "{:.0f}"
                ),
                _spread([r["wrkCpu"] / c * 1e6 for r, c in zip(mine, count)], "{:.0f}"),
                _spread(others),
                _spread([ceiling(r, cores) for r in mine], "{:.0f}"),
                _spread(
                    [ceiling(r, cores) / ceiling(base[r["round"]], cores) for r in mine]
                ),
            )
        )
    return lines


def alternated(
    pairs: List[Tuple[str, int]], page: str, seconds: float, rounds: int
) -> None:
    """
    Run L{alternate} and print its table.
    """
    found = alternate(pairs, page, seconds, rounds)
    print("load after: {}".format(open("/proc/loadavg").read().strip()))
    print("\n{} page, keep-alive, median (least-most)\n".format(page))
    print("\n".join(alternationTable(found)))


# The report.


def _ratio(value: float, base: float) -> str:
    return "{:.2f}x".format(value / base) if base else "-"


def keepAliveTable(rows: List[Dict[str, Any]], page: str) -> List[str]:
    """
    @return: the Markdown table of the keep-alive runs of C{page}.
    """
    one = [r for r in rows if r["arrangement"] == "one" and r["page"] == page]
    base = one[0]["keepAlive"]["rate"] if one else 0.0
    lines = [
        (
            "| arrangement | workers | requests/s | vs one | p50 ms | p99 ms "
            "| max ms | connections (x fair) | requests (x fair) |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["page"] != page:
            continue
        k = r["keepAlive"]
        lines.append(
            "| {} | {} | {:.0f} | {} | {:.1f} | {:.1f} | {:.1f} | {} | {} |".format(
                r["arrangement"],
                r["workers"],
                k["rate"],
                _ratio(k["rate"], base),
                k["p50"] / 1e3,
                k["p99"] / 1e3,
                k["max"] / 1e3,
                shares(r["counts"], "connections", r["workers"]),
                shares(r["counts"], "requests", r["workers"]),
            )
        )
    return lines


def closingTable(rows: List[Dict[str, Any]]) -> List[str]:
    """
    @return: the Markdown table of the runs with one request per
        connection: wake-ups per connection and its shares.
    """
    lines = [
        (
            "| arrangement | workers | connections/s | errors | switches/conn "
            "| listener wake-ups/conn | idle wake-ups/conn | connections (x fair) |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c = r["closing"]
        if c is None:
            continue
        connections = sum(x["connections"] for x in r["counts"]) or 1
        switches = sum(x["switches"] for x in r["counts"]) / connections
        stats = [h["statistics"] for h in r["history"] if h.get("statistics")]
        accepted = sum(s["accepted"] for s in stats)
        if accepted:
            wakeups = "{:.2f}".format(sum(s["wakeups"] for s in stats) / accepted)
            idle = "{:.2f}".format(sum(s["idleWakeups"] for s in stats) / accepted)
        else:
            wakeups = idle = "-"
        errors = sum(c[k] for k in ("connect", "read", "write", "timeout", "non2xx"))
        lines.append(
            "| {} | {} | {:.0f} | {:.0f} | {:.2f} | {} | {} | {} |".format(
                r["arrangement"],
                r["workers"],
                c["rate"],
                errors,
                switches,
                wakeups,
                idle,
                shares(r["counts"], "connections", r["workers"]),
            )
        )
    return lines


def restartTable(results: List[Dict[str, Any]]) -> List[str]:
    """
    @return: the Markdown table of the rolling restarts under load.
    """
    lines = [
        (
            "| strategy | workers | connections | requests | connect | read "
            "| write | timeout | non-2xx | restart s |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            "| {} | {} | {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.0f} "
            "| {:.1f} |".format(
                r["strategy"],
                r["workers"],
                "keep-alive" if r.get("keepAlive") else "one request each",
                r["count"],
                r["connect"],
                r["read"],
                r["write"],
                r["timeout"],
                r["non2xx"],
                r["restart"],
            )
        )
    return lines


def report(
    rows: List[Dict[str, Any]],
    restarts: List[Dict[str, Any]],
    pages: List[str],
    seconds: int,
) -> None:
    """
    Print the tables.
    """
    for page in pages:
        print(
            "\n{} page, keep-alive ({} connections, {} s)\n".format(
                page, CONNECTIONS, seconds
            )
        )
        print("\n".join(keepAliveTable(rows, page)))
    closingRows = [r["closingRow"] for r in rows if "closingRow" in r]
    if closingRows:
        print(
            "\nstatic page, one request per connection ({} connections, {} s)\n".format(
                CLOSING_CONNECTIONS, seconds
            )
        )
        print("\n".join(closingTable(closingRows)))
    if restarts:
        print("\nrolling restart under wrk\n")
        print("\n".join(restartTable(restarts)))


def parser() -> argparse.ArgumentParser:
    """
    @return: the command line's parser.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--workers", default="2,4,8")
    parser.add_argument(
        "--arrangements", default=",".join(["one", "stock"] + STRATEGIES)
    )
    parser.add_argument("--pages", default="cpu,static")
    parser.add_argument("--no-restart", action="store_true")
    parser.add_argument(
        "--alternate",
        type=int,
        metavar="ROUNDS",
        help="only the keep-alive runs of the first page, the arrangements "
        "in turn, ROUNDS times, against the first",
    )
    parser.add_argument("--output", help="also write every figure here, as JSON")
    parser.add_argument(
        "--replay", help="print the tables of an earlier --output, measuring nothing"
    )
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    """
    Measure every arrangement and print the tables.
    """
    arguments = parser().parse_args(argv)
    if arguments.replay:
        with open(arguments.replay) as f:
            saved = json.load(f)
        report(saved["rows"], saved["restarts"], arguments.pages.split(","), 3)
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    seconds = int(arguments.seconds)
    counts = [int(n) for n in arguments.workers.split(",")]
    arrangements = arguments.arrangements.split(",")
    print("load before: {}".format(open("/proc/loadavg").read().strip()), flush=True)
    if arguments.alternate:
        pairs = [(a, n) for a in arrangements for n in ([1] if a == "one" else counts)]
        alternated(pairs, arguments.pages.split(",")[0], seconds, arguments.alternate)
        return
    rows = []
    for page in arguments.pages.split(","):
        for arrangement in arrangements:
            for workers in [1] if arrangement == "one" else counts:
                row = measure(arrangement, workers, page, seconds)
                if page == "static":
                    closing = measure(arrangement, workers, "closing", seconds)
                    row["closingRow"] = closing
                rows.append(row)
                print(
                    "{} {} x{}: {:.0f}/s".format(
                        page, arrangement, workers, row["keepAlive"]["rate"]
                    ),
                    flush=True,
                )
    restarts = []
    if not arguments.no_restart:
        for strategy in [a for a in arrangements if a in STRATEGIES + ["stock"]]:
            for keepAlive in (True, False):
                restarts.append(restart(strategy, counts[0], keepAlive))
    print("load after: {}".format(open("/proc/loadavg").read().strip()))
    report(rows, restarts, arguments.pages.split(","), seconds)
    if arguments.output:
        with open(arguments.output, "w") as f:
            json.dump({"rows": rows, "restarts": restarts}, f, indent=1, default=str)


if __name__ == "__main__":
    main()
