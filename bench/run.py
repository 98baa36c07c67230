"""
The reactor benchmark suite: echo ping-pong, the same beside 10,000 idle
connections, and connection churn, each on every peer reactor, alternating
peers within each round; then C{epoll_ctl} calls per echoed message counted
with strace.  Writes C{bench/results/latest.md}, C{latest.json} and
C{latest.png} (C{latest-pypy.*} on PyPy).  bench/README.md explains the setup and the numbers.

    python bench/run.py [--rounds N] [--seconds S] [--peers a,b] [--scenarios x,y]

Environment knobs (what C{make bench} passes through): C{ROUNDS},
C{SECONDS}, C{PEERS}, C{SCENARIOS}.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "build")
RESULTS = os.path.join(HERE, "results")
LOADGEN_SOURCE = os.path.join(HERE, "loadgen.c")
LOADGEN = os.path.join(BUILD, "loadgen")
SERVER = os.path.join(HERE, "echo_server.py")

#: Peer reactors, in the order each round runs them; names as in
#: echo_server.REACTORS.
PEERS = ["ours", "epoll", "poll", "select", "asyncio", "uvloop"]

#: What each peer is, for the table.
PEER_TITLES = {
    "ours": "ours (epollreactor.EPollReactor, ctypes)",
    "epoll": "stock twisted epollreactor (C select.epoll)",
    "poll": "twisted pollreactor",
    "select": "twisted selectreactor",
    "asyncio": "twisted asyncioreactor, default asyncio",
    "uvloop": "twisted asyncioreactor on uvloop",
}

CONNECTIONS = 50
MESSAGE = 64
IDLE = 10_000
CHURN_CLIENTS = 20
WARMUP = 0.5

#: Scenario name -> (title, unit, loadgen arguments after the port, minus
#: SECONDS and WARMUP which are filled in).
SCENARIOS: Dict[str, Tuple[str, str, List[str]]] = {
    "echo": (
        "echo, {} connections, {} B".format(CONNECTIONS, MESSAGE),
        "round trips/s",
        ["echo", str(CONNECTIONS), str(MESSAGE)],
    ),
    "idle": (
        "echo + {:,} idle connections".format(IDLE),
        "round trips/s",
        ["echo", str(CONNECTIONS), str(MESSAGE)],
    ),
    "churn": (
        "churn, {} clients".format(CHURN_CLIENTS),
        "connections/s",
        ["churn", str(CHURN_CLIENTS), str(MESSAGE)],
    ),
}


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

    def __init__(self, peer: str, cpu: Optional[int], wrapper: List[str]) -> None:
        self.process = subprocess.Popen(
            wrapper + [sys.executable, SERVER, peer],
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

    def cpuSeconds(self) -> float:
        """
        @return: the CPU time (user and system) the server has used so far,
            from C{/proc/<pid>/stat} (proc(5): utime and stime, fields 14 and
            15, in clock ticks).
        """
        with open("/proc/{}/stat".format(self.pid)) as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

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


def runClient(
    port: int,
    arguments: List[str],
    seconds: float,
    idle: int,
    cpu: Optional[int],
    server: Optional["Server"] = None,
) -> Dict[str, float]:
    """
    Run the load client once and parse its line.  With C{server}, also
    measure the server's CPU time over the counted window: C{cpu} in the
    result is its CPU time per unit, in microseconds.
    """
    command = (
        [LOADGEN, arguments[0], str(port)]
        + arguments[1:]
        + [
            str(seconds),
            str(WARMUP),
        ]
    )
    if arguments[0] == "echo":
        command.append(str(idle))
    client = subprocess.Popen(
        command, stdout=subprocess.PIPE, preexec_fn=pinner(cpu), text=True
    )
    assert client.stdout is not None
    startCpu = None
    output = ""
    try:
        for line in client.stdout:
            if line.startswith("measuring") and server is not None:
                startCpu = server.cpuSeconds()
            else:
                output += line
        endCpu = server.cpuSeconds() if server is not None else None
        status = client.wait(timeout=seconds + WARMUP + 180)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    if status != 0:
        raise RuntimeError("load client failed ({}): {}".format(status, command))
    result = {key: float(value) for key, value in re.findall(r"(\w+)=([\d.]+)", output)}
    if startCpu is not None and endCpu is not None and result.get("count"):
        result["cpu"] = (endCpu - startCpu) / result["count"] * 1e6
    return result


def measure(peer: str, scenario: str, seconds: float) -> Tuple[float, float]:
    """
    One measurement: a fresh server on C{peer}, one client run.

    @return: the rate, and the server's CPU time per unit (round trip or
        connection) in microseconds over the counted window; the second is
        what a busy shared machine disturbs least.
    """
    serverCpu, clientCpu = cpus()
    server = Server(peer, serverCpu, [])
    try:
        result = runClient(
            server.port,
            SCENARIOS[scenario][2],
            seconds,
            IDLE if scenario == "idle" else 0,
            clientCpu,
            server,
        )
    finally:
        server.stop()
    return result["rate"], result.get("cpu", float("nan"))


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
            result = runClient(server.port, SCENARIOS["echo"][2], seconds, 0, clientCpu)
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


def applicable(peer: str, scenario: str) -> bool:
    """
    select(2) cannot watch descriptors numbered 1024 or above (FD_SETSIZE).
    """
    return not (peer == "select" and scenario == "idle")


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


def formatRate(value: float) -> str:
    return "{:,.0f}".format(value)


def goals(
    medians: Dict[str, Dict[str, float]],
    cpuMedians: Dict[str, Dict[str, float]],
    strace: Dict[str, Any],
) -> List[str]:
    """
    @return: markdown lines checking the issue's goals against this run,
        twice: by the rates, and by the server's CPU time per unit (a speed
        is its inverse), which shows what the server would do on a core of
        its own when other load on the machine makes the rates unreliable.
    """
    lines = ["| goal | by rate | by server CPU time per unit |", "|---|---|---|"]

    def speed(
        table: Dict[str, Dict[str, float]], peer: str, scenario: str, inverse: bool
    ) -> Optional[float]:
        value = table.get(scenario, {}).get(peer)
        if not value or value != value:
            return None
        return 1 / value if inverse else value

    def both(
        peer: str, scenario: str, other: str, otherScenario: str
    ) -> List[Optional[float]]:
        results: List[Optional[float]] = []
        for table, inverse in ((medians, False), (cpuMedians, True)):
            a = speed(table, peer, scenario, inverse)
            b = speed(table, other, otherScenario, inverse)
            results.append(None if a is None or b is None else a / b)
        return results

    def row(goal: str, ratios: List[Optional[float]], target: float, unit: str) -> None:
        cells = []
        for value in ratios:
            if value is None:
                cells.append("-")
            elif unit == "%":
                cells.append(
                    "{:.0%}: {}".format(value, "met" if value >= target else "NOT met")
                )
            else:
                cells.append(
                    "{:.2f}x: {}".format(value, "met" if value >= target else "NOT met")
                )
        lines.append("| {} | {} |".format(goal, " | ".join(cells)))

    row("echo >= 1.3x stock", both("ours", "echo", "epoll", "echo"), 1.3, "x")
    row(
        "echo ahead of selectreactor",
        both("ours", "echo", "select", "echo"),
        1.0000001,
        "x",
    )
    row("10k idle >= 1.3x stock", both("ours", "idle", "epoll", "idle"), 1.3, "x")
    row(
        "10k idle within 10% of ours without them",
        both("ours", "idle", "ours", "echo"),
        0.9,
        "%",
    )
    row("churn >= 1.0x stock", both("ours", "churn", "epoll", "churn"), 1.0, "x")
    counted = strace.get("ours")
    if counted:
        perMessage = counted["epoll_ctl_per_message"]
        lines.append(
            "| epoll_ctl per echoed message <= 0.2 | {:.4f}: {} | |".format(
                perMessage, "met" if perMessage <= 0.2 else "NOT met"
            )
        )
    return lines


def writeMarkdown(
    path: str,
    machine: Dict[str, str],
    settings: Dict[str, Any],
    samples: Dict[str, Dict[str, List[float]]],
    cpuSamples: Dict[str, Dict[str, List[float]]],
    strace: Dict[str, Any],
) -> None:
    """
    The table: medians per scenario and peer, with ratios to stock epoll;
    then the server's CPU time per unit, the strace counts, the goals and
    every sample.
    """
    medians = {
        scenario: {peer: statistics.median(values) for peer, values in row.items()}
        for scenario, row in samples.items()
    }
    scenarios = [s for s in SCENARIOS if s in samples]
    peers = [p for p in PEERS if any(p in samples[s] for s in scenarios)]
    lines = [
        "# Reactor benchmarks, latest run",
        "",
        "Machine: {cpu}, {cores} cores, Linux {kernel}; {python}, Twisted "
        "{twisted}; {date}.".format(**machine),
        "Medians of {rounds} rounds of {seconds} s each (after {warmup} s "
        "warm-up), peers alternating within each round; server on one core, "
        "C load client (bench/loadgen.c) on the other.  Ratios are to stock "
        "Twisted epollreactor in the same run.".format(**settings),
        "",
    ]
    header = "| reactor | " + " | ".join(
        "{} ({})".format(SCENARIOS[s][0], SCENARIOS[s][1]) for s in scenarios
    )
    lines.append(header + " |")
    lines.append("|---" * (len(scenarios) + 1) + "|")
    for peer in peers:
        cells = []
        for scenario in scenarios:
            value = medians[scenario].get(peer)
            stock = medians[scenario].get("epoll")
            if value is None:
                cells.append("-")
            elif stock:
                cells.append("{} ({:.2f}x)".format(formatRate(value), value / stock))
            else:
                cells.append(formatRate(value))
        lines.append("| {} | {} |".format(PEER_TITLES[peer], " | ".join(cells)))
    lines.append("")
    if "select" in peers and "idle" in scenarios:
        lines.append(
            "selectreactor is left out of the idle run: select(2) cannot "
            "watch descriptors past 1024 (FD_SETSIZE)."
        )
        lines.append("")
    lines.append(
        "Server CPU time (user + system, from /proc) per round trip or "
        "connection, in microseconds, median over the rounds, over the "
        "counted window (lower is better; less disturbed by other load on "
        "the machine than the rates):"
    )
    lines.append("")
    lines.append("| reactor | " + " | ".join(scenarios) + " |")
    lines.append("|---" * (len(scenarios) + 1) + "|")
    for peer in peers:
        cells = []
        for scenario in scenarios:
            values = cpuSamples.get(scenario, {}).get(peer)
            cells.append("{:.1f}".format(statistics.median(values)) if values else "-")
        lines.append("| {} | {} |".format(peer, " | ".join(cells)))
    lines.append("")
    if strace:
        lines.append(
            "System calls of the server per echoed message (strace -f -c, "
            "echo scenario, one run of {} s):".format(settings["seconds"])
        )
        lines.append("")
        lines.append(
            "| reactor | messages | epoll_ctl | epoll_ctl/message | sendto/message |"
        )
        lines.append("|---|---|---|---|---|")
        for peer, counted in strace.items():
            lines.append(
                "| {} | {:,.0f} | {:,} | {:.4f} | {:.3f} |".format(
                    PEER_TITLES[peer],
                    counted["messages"],
                    counted["epoll_ctl"],
                    counted["epoll_ctl_per_message"],
                    counted["sendto_per_message"],
                )
            )
        lines.append("")
    lines.append("Goals (issue 7):")
    lines.append("")
    cpuMedians = {
        scenario: {
            peer: statistics.median(values) for peer, values in row.items() if values
        }
        for scenario, row in cpuSamples.items()
    }
    lines.extend(goals(medians, cpuMedians, strace))
    lines.append("")
    lines.append("Every sample (per second):")
    lines.append("")
    for scenario in scenarios:
        for peer in peers:
            values = samples[scenario].get(peer)
            if values:
                lines.append(
                    "- {} / {}: {}".format(
                        scenario, peer, ", ".join(formatRate(v) for v in values)
                    )
                )
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def writeChart(
    path: str,
    samples: Dict[str, Dict[str, List[float]]],
    cpuSamples: Dict[str, Dict[str, List[float]]],
    machine: Dict[str, str],
) -> None:
    """
    One column per scenario, one bar per peer: the median rate on top (with
    the spread of the rounds as error bars), the median server CPU time per
    unit below; each bar labelled with its ratio to stock epoll (for CPU
    time, stock's over the peer's, so that higher is better in both rows).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s in SCENARIOS if s in samples]
    fig, axes = plt.subplots(
        2, len(scenarios), figsize=(5 * len(scenarios), 8), squeeze=False
    )
    for column, scenario in enumerate(scenarios):
        for row, (table, inverse) in enumerate(((samples, False), (cpuSamples, True))):
            ax = axes[row][column]
            values = {
                p: [v for v in table.get(scenario, {}).get(p, []) if v == v]
                for p in PEERS
            }
            peers = [p for p in PEERS if values[p]]
            if not peers:
                ax.set_visible(False)
                continue
            medians = [statistics.median(values[p]) for p in peers]
            low = [m - min(values[p]) for m, p in zip(medians, peers)]
            high = [max(values[p]) - m for m, p in zip(medians, peers)]
            colours = [
                "tab:red" if p == "ours" else "tab:blue" if p == "epoll" else "tab:gray"
                for p in peers
            ]
            bars = ax.bar(peers, medians, yerr=[low, high], color=colours, capsize=3)
            if "epoll" in peers:
                stock = medians[peers.index("epoll")]
                for bar, value in zip(bars, medians):
                    ratio = stock / value if inverse else value / stock
                    ax.annotate(
                        "{:.2f}x".format(ratio),
                        (bar.get_x() + bar.get_width() / 2, value),
                        ha="center",
                        va="bottom",
                        fontsize=8,
                        xytext=(0, 3),
                        textcoords="offset points",
                    )
            if inverse:
                ax.set_ylabel(
                    "server CPU us per {}".format(
                        "connection" if scenario == "churn" else "round trip"
                    )
                )
                if scenario == "idle" and "poll" in peers:
                    # poll's CPU time is ten times everyone else's.
                    ax.set_yscale("log")
            else:
                ax.set_title(SCENARIOS[scenario][0], fontsize=10)
                ax.set_ylabel(SCENARIOS[scenario][1])
            ax.tick_params(axis="x", labelrotation=30)
    fig.suptitle(
        "Twisted echo server per reactor ({python}, {cores} cores, {date}); "
        "top: rate, bottom: server CPU time per unit; labels: ratio to stock "
        "epoll, higher is better".format(**machine),
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    """
    Run the suite and write the results.
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
    scenarios = [s for s in arguments.scenarios.split(",") if s]
    for name in peers:
        if name not in PEERS:
            parser.error("unknown peer {!r}; known: {}".format(name, PEERS))
    for name in scenarios:
        if name not in SCENARIOS:
            parser.error("unknown scenario {!r}".format(name))
    if "uvloop" in peers:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            log("uvloop is not installed for {}; leaving it out".format(sys.executable))
            peers.remove("uvloop")
    buildLoadgen()
    machine = describeMachine()
    settings = {
        "rounds": arguments.rounds,
        "seconds": arguments.seconds,
        "warmup": WARMUP,
    }
    samples: Dict[str, Dict[str, List[float]]] = {s: {} for s in scenarios}
    cpuSamples: Dict[str, Dict[str, List[float]]] = {s: {} for s in scenarios}
    total = (
        sum(1 for s in scenarios for p in peers if applicable(p, s)) * arguments.rounds
    )
    done = 0
    started = time.monotonic()
    for round in range(arguments.rounds):
        for scenario in scenarios:
            # Alternate the order from round to round, so that a peer is not
            # always the one that runs right after another's load.
            order = peers if round % 2 == 0 else list(reversed(peers))
            for peer in order:
                if not applicable(peer, scenario):
                    continue
                rate, cpu = measure(peer, scenario, arguments.seconds)
                samples[scenario].setdefault(peer, []).append(rate)
                cpuSamples[scenario].setdefault(peer, []).append(cpu)
                done += 1
                log(
                    "[{:3d}/{}] round {} {:6s} {:8s} {:>10s} {} {:6.1f} us "
                    "CPU/unit ({:.0f} s)".format(
                        done,
                        total,
                        round + 1,
                        scenario,
                        peer,
                        formatRate(rate),
                        SCENARIOS[scenario][1],
                        cpu,
                        time.monotonic() - started,
                    )
                )
    strace: Dict[str, Any] = {}
    if not arguments.no_strace and "echo" in scenarios:
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
    # CPython's results are latest.*; another interpreter's carry its name
    # (latest-pypy.*), so that PYTHON=pypy3 make bench keeps both.
    implementation = platform.python_implementation()
    stem = (
        "latest" if implementation == "CPython" else "latest-" + implementation.lower()
    )
    markdown = os.path.join(arguments.output, stem + ".md")
    writeMarkdown(markdown, machine, settings, samples, cpuSamples, strace)
    with open(os.path.join(arguments.output, stem + ".json"), "w") as f:
        json.dump(
            {
                "machine": machine,
                "settings": settings,
                "samples": samples,
                "cpu_us_per_unit": cpuSamples,
                "strace": strace,
            },
            f,
            indent=1,
        )
    try:
        writeChart(
            os.path.join(arguments.output, stem + ".png"), samples, cpuSamples, machine
        )
    except ImportError:
        log("matplotlib is missing: no chart")
    with open(markdown) as f:
        sys.stdout.write(f.read())


if __name__ == "__main__":
    main()
