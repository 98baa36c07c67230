"""
Timers: how late a C{callLater} runs, and what the reactor costs while
idle, on our reactor (with precise waits, C{epoll_pwait2}, and with them
turned off, as where the kernel or the C library lacks them) beside
Twisted's stock epoll, poll and select reactors, in one run.

Each peer runs in a fresh process: a chain of C{callLater(delay, f)} calls,
each scheduling the next when it runs, for delays of 0.3, 1 and 5 ms, each
call's lateness measured from when it was scheduled; then the reactor sits
idle (one timer far away, nothing else) while its CPU time is measured.
Peers alternate within each round, their order reversed every other round.

It prints, per delay and peer, the median and p99 of every call's
lateness over all rounds, the spread of the per-round medians (the noise),
and the median against stock's; then the CPU time per timer, and the CPU
time idle, per second; with the load average and the steal time the run
saw.

    python bench/bench_timers.py [--rounds 3] [--timers 1000] [--idle 2]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

#: The delays, in seconds, and how many calls each gets per --timers.
DELAYS = [(0.0003, 1.0), (0.001, 0.5), (0.005, 0.2)]

#: Peers in the order a round runs them; "ours-ms" is ours with precise
#: waits turned off, waiting as where the kernel refuses epoll_pwait2.
PEERS = ["ours", "ours-ms", "epoll", "poll", "select"]


def _install(peer: str) -> None:
    """
    Install C{peer}'s reactor in this process.
    """
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from echo_server import REACTORS

    REACTORS["ours" if peer == "ours-ms" else peer]()
    if peer.startswith("ours"):
        from epollreactor import _epoll

        if peer == "ours-ms":
            _epoll._imprecise = "turned off by bench_timers.py"
        assert _epoll.preciseWaitsMissing(probe=True) == _epoll._imprecise


def serve(peer: str, timers: int, idle: float) -> Dict[str, Any]:
    """
    Measure C{peer} in this process (a fresh one per run).

    @return: every call's lateness in seconds by delay, the CPU seconds
        per timer by delay, and the CPU seconds per second idle.
    """
    _install(peer)
    from twisted.internet import reactor

    results: Dict[str, Any] = {"late": {}, "cpu": {}}
    phases = list(DELAYS)

    def phase() -> None:
        if not phases:
            rest()
            return
        delay, share = phases.pop(0)
        count = max(int(timers * share), 10)
        late: List[float] = []
        cpu = time.process_time()

        def schedule() -> None:
            reactor.callLater(delay, fire, time.perf_counter())

        def fire(scheduled: float) -> None:
            late.append(time.perf_counter() - scheduled - delay)
            if len(late) < count:
                schedule()
                return
            results["late"][str(delay)] = late
            results["cpu"][str(delay)] = (time.process_time() - cpu) / count
            phase()

        schedule()

    def rest() -> None:
        began, cpu = time.perf_counter(), time.process_time()

        def done() -> None:
            elapsed = time.perf_counter() - began
            results["idle"] = (time.process_time() - cpu) / elapsed
            reactor.stop()

        reactor.callLater(idle, done)

    reactor.callWhenRunning(phase)
    reactor.run(installSignalHandlers=False)
    return results


def _cpuCounters() -> Tuple[int, int]:
    """
    @return: the steal time and the total of the C{cpu} line of
        C{/proc/stat}, in clock ticks.
    """
    with open("/proc/stat") as stat:
        fields = [int(field) for field in stat.readline().split()[1:]]
    return fields[7] if len(fields) > 7 else 0, sum(fields)


def _quantile(samples: List[float], q: float) -> float:
    """
    @return: the C{q} quantile of C{samples}, by rank.
    """
    ordered = sorted(samples)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def _table(
    title: str, peers: List[str], rows: List[Tuple[str, Callable[[str], str]]]
) -> None:
    """
    Print a Markdown table: a row per C{(label, cell of a peer)}.
    """
    print("\n" + title + "\n")
    print("| | " + " | ".join(peers) + " |")
    print("|---" * (len(peers) + 1) + "|")
    for label, cell in rows:
        print("| {} | {} |".format(label, " | ".join(cell(peer) for peer in peers)))


def report(runs: Dict[str, List[Dict[str, Any]]], peers: List[str]) -> None:
    """
    Print the tables for the runs of every peer.
    """
    rows = []
    for delay, _ in DELAYS:
        key = str(delay)
        label = "{:g} ms".format(delay * 1000)

        def pooled(peer: str, key: str = key) -> List[float]:
            return [late for run in runs[peer] for late in run["late"][key]]

        def latency(peer: str, pooled: Any = pooled, key: str = key) -> str:
            samples = pooled(peer)
            medians = [statistics.median(run["late"][key]) for run in runs[peer]]
            ratio = statistics.median(samples) / statistics.median(pooled("epoll"))
            return "{:.3f} / {:.3f} ({:.3f}-{:.3f}) {:.2f}x".format(
                statistics.median(samples) * 1e3,
                _quantile(samples, 0.99) * 1e3,
                min(medians) * 1e3,
                max(medians) * 1e3,
                ratio,
            )

        rows.append((label, latency))
    _table(
        "callLater lateness, ms: median / p99 over all rounds (the per-round "
        "medians' range) and the median against stock epoll's",
        peers,
        rows,
    )

    def cpuPerTimer(key: str) -> Callable[[str], str]:
        return lambda peer: "{:.1f}".format(
            statistics.median(run["cpu"][key] for run in runs[peer]) * 1e6
        )

    _table(
        "CPU time: per timer (us, the median of the rounds), and idle (ms per second)",
        peers,
        [("{:g} ms timer".format(d * 1000), cpuPerTimer(str(d))) for d, _ in DELAYS]
        + [
            (
                "idle",
                lambda peer: "{:.3f}".format(
                    statistics.median(run["idle"] for run in runs[peer]) * 1e3
                ),
            )
        ],
    )


def main() -> None:
    """
    Run every peer in each round, alternating, and print the tables.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timers", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=2.0)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        result = serve(arguments.serve, arguments.timers, arguments.idle)
        print(json.dumps(result))
        return
    peers = arguments.peers.split(",")
    runs: Dict[str, List[Dict[str, Any]]] = {peer: [] for peer in peers}
    steal, total = _cpuCounters()
    loads = []
    for round in range(arguments.rounds):
        for peer in peers if round % 2 == 0 else list(reversed(peers)):
            output = subprocess.run(
                [sys.executable, __file__, "--serve", peer]
                + ["--timers", str(arguments.timers), "--idle", str(arguments.idle)],
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            ).stdout
            runs[peer].append(json.loads(output.strip().splitlines()[-1]))
            loads.append(os.getloadavg()[0])
    stealAfter, totalAfter = _cpuCounters()
    print(
        "{} rounds, {} peers; load average {:.1f}-{:.1f}, steal {:.1f}% of "
        "CPU time; {} timers of 0.3 ms a round".format(
            arguments.rounds,
            len(peers),
            min(loads),
            max(loads),
            100.0 * (stealAfter - steal) / max(totalAfter - total, 1),
            arguments.timers,
        )
    )
    if "epoll" in peers:
        report(runs, peers)


if __name__ == "__main__":
    main()
