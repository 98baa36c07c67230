"""
The reactor benchmark suite, the measuring half: every scenario of
L{SCENARIOS} on every peer reactor, alternating peers within each round,
each server in a process of its own on one core and its load (the C client
bench/loadgen.c, or wrk) on the other; then system calls per echoed
message counted with strace.  It writes every sample to
C{bench/results/latest.json} (C{latest-pypy.json} on PyPy), and
L{report} turns that into C{latest.md}, C{latest.png} and the README's
table.  bench/README.md explains the setup and what each number means.

    python bench/run.py [--rounds N] [--seconds S] [--peers a,b] [--scenarios x,y]

Environment knobs (what C{make bench} passes through): C{ROUNDS},
C{SECONDS}, C{PEERS}, C{SCENARIOS}.
"""

import argparse
import compileall
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

import report

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "build")
RESULTS = os.path.join(HERE, "results")
LOADGEN_SOURCE = os.path.join(HERE, "loadgen.c")
LOADGEN = os.path.join(BUILD, "loadgen")
SERVER = os.path.join(HERE, "echo_server.py")
BULK = os.path.join(HERE, "bulk_echo.py")
SHAPES = os.path.join(HERE, "twisted_shapes.py")
TWIST_WEB = os.path.join(HERE, "twist_web.py")

#: Peer reactors, in the order each round runs them; names as in
#: echo_server.REACTORS.  The baseline (another checkout of ours) runs only
#: where C{BENCH_BASELINE} names one.
PEERS = [
    peer
    for peer in report.PEERS
    if peer != "baseline" or os.environ.get("BENCH_BASELINE")
]

CONNECTIONS = 50
IDLE = 10_000
CHURN_CLIENTS = 20
WARMUP = 0.5
#: wrk's keep-alive connections, for twist web and the proxy.
HTTP_CONNECTIONS = 20
#: The large page and the proxied response.
LARGE = 100 * 1024
#: The small page.
SMALL = 128

#: Scenario name -> what to run: C{kind} picks the measuring function, the
#: rest are its parameters.  Titles and units are in L{report.SCENARIOS}.
SCENARIOS: Dict[str, Dict[str, Any]] = {}
for _size, _label in (
    (64, "64B"),
    (4096, "4K"),
    (65536, "64K"),
    (262144, "256K"),
    (1 << 20, "1M"),
):
    for _connections in (1, CONNECTIONS):
        SCENARIOS["echo-{}-{}".format(_label, _connections)] = {
            "kind": "echo",
            "connections": _connections,
            "size": _size,
        }
SCENARIOS.update(
    {
        "bulk-200K": {"kind": "bulk", "size": 200_000},
        "stream": {"kind": "stream", "connections": 1},
        "proxy-100K": {"kind": "proxy", "size": LARGE},
        "web-small": {"kind": "web", "path": "small.html"},
        "web-100K": {"kind": "web", "path": "large.bin"},
        # The shape most twisted.web applications have: a resource whose
        # render_GET returns the page, written from the doRead that parsed
        # the request (static.File writes from a producer instead).
        "web-resource": {
            "kind": "web",
            "path": "",
            "role": "web-resource",
            "connections": 32,
        },
        "threads": {"kind": "threads"},
        "idle": {"kind": "echo", "connections": CONNECTIONS, "size": 64, "idle": IDLE},
        "churn": {"kind": "churn"},
    }
)
# Other people's benchmarks, in their shapes (bench/README.md, "Other
# people's benchmarks"): Twisted's own, client and server in one process
# (twisted_shapes.py), uvloop's vmbench echo (a TCP_NODELAY server, a client
# without it) and wrk -c 200 on twist web (twist_web.py).
OTHERS = ["tcp-throughput", "tcp-connect", "accepts"]
for _label in OTHERS:
    SCENARIOS[_label] = {
        "kind": "bulk",
        "script": SHAPES,
        "argument": _label.replace("-", "_"),
    }
for _connections in (4, 10):
    for _size, _label in ((1024, "1K"), (10240, "10K"), (102400, "100K")):
        _label = "vmbench-{}-{}".format(_label, _connections)
        OTHERS.append(_label)
        SCENARIOS[_label] = {
            "kind": "echo",
            "connections": _connections,
            "size": _size,
            "role": "echo-nodelay",
            "nodelay": 0,
        }
OTHERS.append("twist-web-200")
SCENARIOS["twist-web-200"] = {
    "kind": "web",
    "path": "small.html",
    "server": TWIST_WEB,
    "connections": 200,
}
#: Names that stand for several scenarios in C{--scenarios}.
GROUPS = {"others": OTHERS}
del _size, _label, _connections
assert set(SCENARIOS) == set(report.SCENARIOS), set(SCENARIOS) ^ set(report.SCENARIOS)


def log(message: str) -> None:
    """
    Show progress on stderr at once.
    """
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def buildLoadgen() -> None:
    """
    Compile the C load client into bench/build/ when it is missing or older
    than its source.
    """
    if os.path.exists(LOADGEN) and os.path.getmtime(LOADGEN) >= os.path.getmtime(
        LOADGEN_SOURCE
    ):
        return
    os.makedirs(BUILD, exist_ok=True)
    compiler = os.environ.get("CC", "gcc")
    log("building {} with {}".format(os.path.relpath(LOADGEN), compiler))
    subprocess.run(
        [compiler, "-O2", "-Wall", "-o", LOADGEN, LOADGEN_SOURCE], check=True
    )


def cpus() -> Tuple[Optional[int], Optional[int]]:
    """
    @return: the CPU for the server and the one for the load client, or
        C{None}s when there is only one to run on.
    """
    if not hasattr(os, "sched_getaffinity"):
        # PyPy 3.9's os module has no sched_getaffinity/sched_setaffinity.
        return None, None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def pinner(cpu: Optional[int]) -> Any:
    """
    @return: a C{preexec_fn} that pins the child to C{cpu}, or C{None}.
    """
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


class Server:
    """
    An echo server process on one reactor.
    """

    def __init__(
        self,
        peer: str,
        cpu: Optional[int],
        wrapper: List[str],
        role: str = "echo",
        script: str = SERVER,
    ) -> None:
        self.process = subprocess.Popen(
            wrapper + [sys.executable, script, peer, "--role", role],
            stdout=subprocess.PIPE,
            preexec_fn=pinner(cpu),
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"port=(\d+) pid=(\d+)", line)
        if match is None:
            self.process.kill()
            raise RuntimeError("{} server did not start: {!r}".format(peer, line))
        self.port = int(match.group(1))
        self.pid = int(match.group(2))

    def usage(self) -> Tuple[float, int]:
        """
        @return: the CPU time (user and system, seconds) the server has used
            so far, and its minor page faults, from C{/proc/<pid>/stat}
            (proc(5): minflt, utime and stime, fields 10, 14 and 15).
        """
        with open("/proc/{}/stat".format(self.pid)) as f:
            fields = f.read().rpartition(")")[2].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks, int(fields[7])

    def stop(self) -> None:
        """
        Ask the server to stop (Twisted stops the reactor on SIGTERM), and
        wait for it; C{kill} it if it does not go.
        """
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def delayedAcks() -> int:
    """
    @return: how often the kernel's delayed-ACK timer has fired, on every
        TCP connection of the machine (C{DelayedACKs} of C{TcpExt} in
        C{/proc/net/netstat}).  In a ping-pong each firing is a peer that
        waited at least 40 ms: a reply answers, and so acknowledges, the
        data at once, unless a tail segment is held back by Nagle's
        algorithm until the ACK the other side delays (bench/README.md,
        "Big messages on many connections: the tail-segment wait").
    """
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            counts = dict(zip(names.split()[1:], values.split()[1:]))
            return int(counts["DelayedACKs"])
    raise RuntimeError("no TcpExt counters in /proc/net/netstat")


def runClient(
    command: List[str],
    seconds: float,
    cpu: Optional[int],
    server: Optional["Server"] = None,
) -> Dict[str, float]:
    """
    Run a load client (bench/loadgen.c) once and parse its last line.  With
    C{server}, also measure the server's CPU time over the counted window,
    which starts when the client prints "measuring": C{cpu} in the result
    is its CPU time per unit, in microseconds.  C{delayedAcks} is how often
    per second the delayed-ACK timer fired meanwhile (L{delayedAcks}).
    """
    client = subprocess.Popen(
        command, stdout=subprocess.PIPE, preexec_fn=pinner(cpu), text=True
    )
    assert client.stdout is not None
    start = None
    acksBefore = None
    output = ""
    try:
        for line in client.stdout:
            if line.startswith("measuring"):
                acksBefore = delayedAcks()
                if server is not None:
                    start = server.usage()
            else:
                output += line
        end = server.usage() if server is not None else None
        acks = delayedAcks() - acksBefore if acksBefore is not None else None
        status = client.wait(timeout=seconds + WARMUP + 180)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    if status != 0:
        raise RuntimeError("load client failed ({}): {}".format(status, command))
    result = {key: float(value) for key, value in re.findall(r"(\w+)=([\d.]+)", output)}
    if start is not None and end is not None and result.get("count"):
        result["cpu"] = (end[0] - start[0]) / result["count"] * 1e6
        result["faults"] = (end[1] - start[1]) / result["count"]
    if acks is not None and result.get("elapsed"):
        result["delayedAcks"] = acks / result["elapsed"]
    return result


def wrk(
    url: str,
    seconds: float,
    cpu: Optional[int],
    server: "Server",
    connections: int = HTTP_CONNECTIONS,
) -> Dict[str, float]:
    """
    Run wrk against C{url} with C{connections} keep-alive connections:
    a warm-up run, then the counted one, with the server's CPU time read
    around it.

    @return: requests per second, the server's CPU time per request (us),
        and the latency percentiles and maximum (us) wrk reports.
    """
    binary = shutil.which("wrk")
    assert binary is not None
    base = [binary, "-t1", "-c{}".format(connections), "--latency"]
    subprocess.run(
        base + ["-d{}s".format(max(1, round(WARMUP))), url],
        stdout=subprocess.DEVNULL,
        preexec_fn=pinner(cpu),
        check=True,
        timeout=120,
    )
    start = server.usage()
    acksBefore = delayedAcks()
    began = time.monotonic()
    output = subprocess.run(
        base + ["-d{}s".format(max(1, round(seconds))), url],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=pinner(cpu),
        check=True,
        timeout=seconds + 120,
    ).stdout
    end = server.usage()
    result = parseWrk(output, end[0] - start[0], end[1] - start[1])
    result["delayedAcks"] = (delayedAcks() - acksBefore) / (time.monotonic() - began)
    return result


_WRK_UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}


def parseWrk(output: str, cpuSeconds: float, faults: int) -> Dict[str, float]:
    """
    @param cpuSeconds: the server's CPU time over the counted run.
    @param faults: its minor page faults over the counted run.
    @return: what L{wrk} returns, read from wrk's report.
    @raise RuntimeError: when wrk saw errors or no request completed.
    """

    def duration(text: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
        return float(number) * _WRK_UNITS[unit]

    result: Dict[str, float] = {}
    requests = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if requests is None or rate is None or not int(requests.group(1)):
        raise RuntimeError("wrk completed no request:\n" + output)
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError("wrk saw errors:\n" + output)
    result["rate"] = float(rate.group(1))
    result["count"] = float(requests.group(1))
    result["cpu"] = cpuSeconds / result["count"] * 1e6
    result["faults"] = faults / result["count"]
    latency = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", output)
    if latency is not None:
        result["max"] = duration(latency.group(1))
    for percentile, key in (("50", "p50"), ("99", "p99")):
        match = re.search(r"^\s+{}%\s+(\S+)".format(percentile), output, re.M)
        if match is not None:
            result[key] = duration(match.group(1))
    return result


def loadgen(*arguments: object) -> List[str]:
    """
    @return: the command line of bench/loadgen.c with C{arguments}.
    """
    return [LOADGEN] + [str(argument) for argument in arguments]


def measure(peer: str, scenario: str, seconds: float, webRoot: str) -> Dict[str, float]:
    """
    One measurement: a fresh server on C{peer}, one load run.

    @return: C{rate} (per second), C{cpu} (the server's CPU time per unit,
        in microseconds, over the counted window: what a busy shared
        machine disturbs least), C{delayedAcks} (per second; L{delayedAcks})
        and, where latency means something, C{p50}, C{p99} and C{max}
        (microseconds).
    """
    spec = SCENARIOS[scenario]
    kind = spec["kind"]
    serverCpu, clientCpu = cpus()
    if kind == "bulk":
        # Client and server in one process, on the server's core.
        acksBefore = delayedAcks()
        began = time.monotonic()
        output = subprocess.run(
            [
                sys.executable,
                spec.get("script", BULK),
                peer,
                str(spec.get("argument", spec.get("size"))),
                str(seconds),
                str(WARMUP),
            ],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=pinner(serverCpu),
            check=True,
            timeout=seconds + WARMUP + 120,
        ).stdout
        result = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", output)}
        # Over the whole run, warm-up and start-up included.
        result["delayedAcks"] = (delayedAcks() - acksBefore) / (
            time.monotonic() - began
        )
        return result
    backend = None
    role = spec.get("role", "echo")
    statsPath = None
    if kind == "stream":
        role = "stream"
    elif kind == "web" and "role" not in spec:
        role = "web:" + webRoot
    elif kind == "proxy":
        backend = subprocess.Popen(
            loadgen("httpd", 0, spec["size"], seconds + WARMUP + 300),
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=pinner(clientCpu),
        )
        assert backend.stdout is not None
        match = re.search(r"port=(\d+)", backend.stdout.readline())
        if match is None:
            backend.kill()
            raise RuntimeError("the proxy's backend did not start")
        role = "proxy:" + match.group(1)
    elif kind == "threads":
        handle, statsPath = tempfile.mkstemp(suffix=".json")
        os.close(handle)
        role = "threads:" + statsPath
    server = Server(peer, serverCpu, [], role, spec.get("server", SERVER))
    try:
        if kind == "echo":
            result = runClient(
                loadgen(
                    "echo",
                    server.port,
                    spec["connections"],
                    spec["size"],
                    seconds,
                    WARMUP,
                    spec.get("idle", 0),
                    spec.get("nodelay", 1),
                ),
                seconds,
                clientCpu,
                server,
            )
        elif kind == "threads":
            result = runClient(
                loadgen("echo", server.port, CONNECTIONS, 64, seconds, WARMUP, 0),
                seconds,
                clientCpu,
                server,
            )
        elif kind == "churn":
            result = runClient(
                loadgen("churn", server.port, CHURN_CLIENTS, 64, seconds, WARMUP),
                seconds,
                clientCpu,
                server,
            )
        elif kind == "stream":
            result = runClient(
                loadgen("sink", server.port, spec["connections"], seconds, WARMUP),
                seconds,
                clientCpu,
                server,
            )
            # Bytes to MB.
            result["rate"] /= 1e6
            result["cpu"] = result.get("cpu", float("nan")) * 1e6
            result["faults"] = result.get("faults", float("nan")) * 1e6
        else:
            path = spec.get("path", "")
            result = wrk(
                "http://127.0.0.1:{}/{}".format(server.port, path),
                seconds,
                clientCpu,
                server,
                spec.get("connections", HTTP_CONNECTIONS),
            )
    finally:
        server.stop()
        if backend is not None:
            backend.kill()
            backend.wait()
    if statsPath is not None:
        with open(statsPath) as f:
            latencies = sorted(json.load(f))
        os.unlink(statsPath)
        if latencies:
            # The echo load's own latencies give way to deferToThread's.
            result["p50"] = latencies[len(latencies) // 2]
            result["p99"] = latencies[int(len(latencies) * 0.99)]
            result["max"] = latencies[-1]
            result["probes"] = len(latencies)
    return result


def makeWebRoot() -> str:
    """
    @return: a new folder with the pages twist web serves: C{small.html}
        (L{SMALL} bytes) and C{large.bin} (L{LARGE} bytes).
    """
    root = tempfile.mkdtemp(prefix="bench-web-")
    with open(os.path.join(root, "small.html"), "wb") as f:
        f.write(b"<p>" + b"x" * (SMALL - 7) + b"</p>\n")
    with open(os.path.join(root, "large.bin"), "wb") as f:
        f.write(os.urandom(LARGE))
    return root


def countEpollCtl(peer: str, seconds: float) -> Optional[Dict[str, float]]:
    """
    Run the echo scenario with the server under C{strace -c -f} and count
    its system calls.

    @return: C{epoll_ctl} and C{sendto} calls per echoed message, and the
        raw numbers; C{None} when strace is missing.
    """
    strace = shutil.which("strace")
    if strace is None:
        return None
    serverCpu, clientCpu = cpus()
    with tempfile.NamedTemporaryFile(suffix=".strace", delete=False) as f:
        summary = f.name
    try:
        server = Server(
            peer,
            serverCpu,
            [strace, "-f", "-c", "-o", summary, "-e", "trace=epoll_ctl,sendto"],
        )
        try:
            result = runClient(
                loadgen("echo", server.port, CONNECTIONS, 64, seconds, WARMUP, 0),
                seconds,
                clientCpu,
            )
        finally:
            server.stop()
        with open(summary) as f:
            text = f.read()
    finally:
        os.unlink(summary)
    calls = {}
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[-1] in ("epoll_ctl", "sendto"):
            # % time, seconds, usecs/call, calls, [errors,] syscall
            calls[fields[-1]] = int(fields[3])
    messages = result["total"]
    return {
        "messages": messages,
        "epoll_ctl": calls.get("epoll_ctl", 0),
        "sendto": calls.get("sendto", 0),
        "epoll_ctl_per_message": calls.get("epoll_ctl", 0) / messages,
        "sendto_per_message": calls.get("sendto", 0) / messages,
    }


def describeMachine() -> Dict[str, str]:
    """
    @return: what the numbers were measured on.
    """
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import twisted

    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": "{} {}".format(
            platform.python_implementation(), platform.python_version()
        ),
        "twisted": twisted.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def applicable(peer: str, scenario: str) -> bool:
    """
    select(2) cannot watch descriptors numbered 1024 or above (FD_SETSIZE).
    """
    return not (peer == "select" and scenario == "idle")


def compileCheckouts() -> None:
    """
    Write the bytecode of our package, and of the baseline's, as installing
    a package does: every peer then imports bytecode, as Twisted's own
    modules are imported.  Compiling at import instead (no C{.pyc}, or
    C{PYTHONDONTWRITEBYTECODE} with sources newer than it) frees blocks
    large enough that glibc raises its mmap and trim thresholds for the
    rest of the process (mallopt(3), M_MMAP_THRESHOLD), which hides any
    heap churn of the 64-256 KiB echoes (bench/README.md, "Heap layout").
    """
    checkouts = [os.path.dirname(HERE), os.environ.get("BENCH_BASELINE")]
    for checkout in checkouts:
        if checkout:
            package = os.path.join(checkout, "epollreactor")
            compileall.compile_dir(package, quiet=1, force=True)


def main() -> None:
    """
    Run the suite, write the samples, and have L{report} write the tables.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=int(os.environ.get("ROUNDS") or 3)
    )
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("SECONDS") or 2)
    )
    parser.add_argument("--peers", default=os.environ.get("PEERS") or ",".join(PEERS))
    parser.add_argument(
        "--scenarios", default=os.environ.get("SCENARIOS") or ",".join(SCENARIOS)
    )
    parser.add_argument(
        "--no-strace", action="store_true", help="skip the epoll_ctl count"
    )
    parser.add_argument("--output", default=RESULTS)
    arguments = parser.parse_args()
    peers = [p for p in arguments.peers.split(",") if p]
    scenarios = [
        name for s in arguments.scenarios.split(",") if s for name in GROUPS.get(s, [s])
    ]
    for name in peers:
        if name not in PEERS:
            parser.error("unknown peer {!r}; known: {}".format(name, PEERS))
    for name in scenarios:
        if name not in SCENARIOS:
            parser.error(
                "unknown scenario {!r}; known: {}".format(name, list(SCENARIOS))
            )
    if "uvloop" in peers:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            log("uvloop is not installed for {}; leaving it out".format(sys.executable))
            peers.remove("uvloop")
    if shutil.which("wrk") is None:
        http = [s for s in scenarios if SCENARIOS[s]["kind"] in ("web", "proxy")]
        if http:
            log("wrk is not installed: leaving out {}".format(", ".join(http)))
            scenarios = [s for s in scenarios if s not in http]
    buildLoadgen()
    compileCheckouts()
    webRoot = makeWebRoot()
    machine = describeMachine()
    settings = {
        "rounds": arguments.rounds,
        "seconds": arguments.seconds,
        "warmup": WARMUP,
        "connections": CONNECTIONS,
        "http_connections": HTTP_CONNECTIONS,
    }
    samples: Dict[str, Dict[str, List[Dict[str, float]]]] = {s: {} for s in scenarios}
    total = (
        sum(1 for s in scenarios for p in peers if applicable(p, s)) * arguments.rounds
    )
    done = 0
    started = time.monotonic()
    try:
        for round in range(arguments.rounds):
            for scenario in scenarios:
                # Alternate the order from round to round, so that a peer is
                # not always the one that runs right after another's load.
                order = peers if round % 2 == 0 else list(reversed(peers))
                for peer in order:
                    if not applicable(peer, scenario):
                        continue
                    try:
                        result = measure(peer, scenario, arguments.seconds, webRoot)
                    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
                        # One failed run costs its sample, not the suite; it
                        # is in the log, and the round's table lacks it.
                        log("{} on {} failed: {}".format(scenario, peer, e))
                        continue
                    samples[scenario].setdefault(peer, []).append(result)
                    done += 1
                    log(
                        "[{:3d}/{}] round {} {:10s} {:8s} {:>12s}/s {:8.1f} us CPU/unit"
                        " p99 {:>9s} us ({:.0f} s)".format(
                            done,
                            total,
                            round + 1,
                            scenario,
                            peer,
                            "{:,.1f}".format(result["rate"]),
                            result.get("cpu", float("nan")),
                            "{:,.0f}".format(result["p99"]) if "p99" in result else "-",
                            time.monotonic() - started,
                        )
                    )
    finally:
        shutil.rmtree(webRoot, ignore_errors=True)
    strace: Dict[str, Any] = {}
    if not arguments.no_strace and "echo-64B-50" in scenarios:
        for peer in ("ours", "epoll"):
            if peer in peers:
                counted = countEpollCtl(peer, arguments.seconds)
                if counted is not None:
                    strace[peer] = counted
                    log(
                        "strace {:6s}: {:.4f} epoll_ctl and {:.3f} sendto per "
                        "echoed message".format(
                            peer,
                            counted["epoll_ctl_per_message"],
                            counted["sendto_per_message"],
                        )
                    )
    os.makedirs(arguments.output, exist_ok=True)
    path = os.path.join(arguments.output, report.stem() + ".json")
    with open(path, "w") as f:
        json.dump(
            {
                "machine": machine,
                "settings": settings,
                "samples": samples,
                "strace": strace,
            },
            f,
            indent=1,
        )
    report.main([path])


if __name__ == "__main__":
    main()
