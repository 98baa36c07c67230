"""
The reactor benchmark suite, the reporting half: reads the samples that
L{run} measured (C{bench/results/latest.json}) and writes
C{latest.md} (every table, the goals of issue 11 checked, every sample) and
C{latest.png} (the chart) beside it, then prints the markdown.  It measures
nothing, so a report can be rewritten, or its format changed, without
running the suite again.

    python bench/report.py [bench/results/latest.json]

bench/README.md explains what each number means.
"""

import json
import math
import os
import platform
import statistics
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")

#: Peer reactors, in the order of the tables; names as in
#: echo_server.REACTORS.
PEERS = ["ours", "baseline", "epoll", "poll", "select", "asyncio", "uvloop"]

#: What each peer is, for the table.
PEER_TITLES = {
    "ours": "ours (epollreactor.EPollReactor, ctypes)",
    "baseline": "ours as the checkout in BENCH_BASELINE has it",
    "epoll": "stock twisted epollreactor (C select.epoll)",
    "poll": "twisted pollreactor",
    "select": "twisted selectreactor",
    "asyncio": "twisted asyncioreactor, default asyncio",
    "uvloop": "twisted asyncioreactor on uvloop",
}

#: Scenario name -> (title, unit of the rate, unit of the CPU time, whether
#: latency is reported).  The order is the tables' order.
SCENARIOS: Dict[str, Any] = {}
for _label, _bytes in (
    ("64B", "64 B"),
    ("4K", "4 KiB"),
    ("64K", "64 KiB"),
    ("256K", "256 KiB"),
    ("1M", "1 MiB"),
):
    for _connections in (1, 50):
        SCENARIOS["echo-{}-{}".format(_label, _connections)] = (
            "echo {}, {} conn.".format(_bytes, _connections),
            "round trips/s",
            "round trip",
            True,
        )
SCENARIOS.update(
    {
        "bulk-200K": (
            "Twisted client+server, 200,000 B echo, 1 conn.",
            "round trips/s",
            "round trip",
            True,
        ),
        "stream": ("one-way stream, 64 KiB writes", "MB/s", "MB", False),
        "proxy-100K": (
            "portforward proxy, 100 KiB responses (wrk, 20 conn.)",
            "requests/s",
            "request",
            True,
        ),
        "web-small": (
            "twisted.web, 128 B page (wrk, 20 conn.)",
            "requests/s",
            "request",
            True,
        ),
        "web-100K": (
            "twisted.web, 100 KiB page (wrk, 20 conn.)",
            "requests/s",
            "request",
            True,
        ),
        "web-resource": (
            "twisted.web, a resource's 128 B page (wrk, 32 conn.)",
            "requests/s",
            "request",
            True,
        ),
        "threads": (
            "deferToThread round trip under 50-conn. 64 B echo",
            "echo round trips/s",
            "echo round trip",
            True,
        ),
        "idle": (
            "echo 64 B, 50 conn. + 10,000 idle",
            "round trips/s",
            "round trip",
            True,
        ),
        "churn": ("connection churn, 20 clients", "connections/s", "connection", False),
    }
)
SCENARIOS.update(
    {
        "tcp-throughput": (
            "Twisted test_tcp_throughput, 1 MiB in 16 KiB writes (client+server)",
            "transfers/s",
            "transfer",
            False,
        ),
        "tcp-connect": (
            "legacy Twisted tcp_connect, 50 at a time (client+server)",
            "connections/s",
            "connection",
            False,
        ),
        "accepts": (
            "legacy Twisted accepts, 50 at a time (client+server)",
            "connections/s",
            "connection",
            False,
        ),
    }
)
for _connections in (4, 10):
    for _label, _bytes in (("1K", "1 KiB"), ("10K", "10 KiB"), ("100K", "100 KiB")):
        SCENARIOS["vmbench-{}-{}".format(_label, _connections)] = (
            "vmbench echo {}, concurrency {}".format(_bytes, _connections),
            "round trips/s",
            "round trip",
            True,
        )
SCENARIOS["twist-web-200"] = (
    "twist web, 128 B page (wrk -c 200)",
    "requests/s",
    "request",
    True,
)
del _label, _bytes, _connections

#: The goals of issue 11 beyond "every scenario": scenario -> (what, least
#: ratio to stock by rate or by CPU time per unit).
SPEED_GOALS = {"echo-64B-50": 1.4, "idle": 1.4, "bulk-200K": 1.0}
#: Issue 24: ours must use no more server CPU per unit than any of these.
RIVALS = ("epoll", "poll", "select")
#: Issue 24's goals beyond that, by server CPU per unit: scenario -> least
#: ratio to stock epoll.
CPU_GOALS = {
    "echo-64B-1": 1.15,
    "echo-4K-1": 1.15,
    "echo-64B-50": 1.4,
    "idle": 1.4,
    "echo-64K-50": 1.0,
}
#: p99 at most this times stock's; the worst at most this much above it.
P99_FACTOR = 1.1
MAX_MARGIN_US = 10_000.0


def stem() -> str:
    """
    @return: the results' file name without extension: C{latest} on
        CPython, C{latest-<implementation>} elsewhere (PYTHON=pypy3 make
        bench keeps CPython's results).
    """
    implementation = platform.python_implementation()
    return (
        "latest" if implementation == "CPython" else "latest-" + implementation.lower()
    )


def median(samples: Sequence[Dict[str, float]], key: str) -> Optional[float]:
    """
    @return: the median of C{key} over the samples that have a number for
        it, or C{None}.
    """
    values = [s[key] for s in samples if key in s and not math.isnan(s[key])]
    return statistics.median(values) if values else None


def medians(data: Dict[str, Any]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """
    @return: scenario -> peer -> metric -> median over the rounds.
    """
    table: Dict[str, Dict[str, Dict[str, float]]] = {}
    for scenario, row in data["samples"].items():
        for peer, samples in row.items():
            cell = table.setdefault(scenario, {}).setdefault(peer, {})
            for key in ("rate", "cpu", "faults", "delayedAcks", "p50", "p99", "max"):
                value = median(samples, key)
                if value is not None:
                    cell[key] = value
    return table


def formatNumber(value: Optional[float]) -> str:
    """
    @return: C{value} with thousands separators and sensible decimals.
    """
    if value is None:
        return "-"
    if value >= 100:
        return "{:,.0f}".format(value)
    if value >= 10:
        return "{:.1f}".format(value)
    return "{:.2f}".format(value)


def formatLatency(microseconds: Optional[float]) -> str:
    """
    @return: a latency in the unit that reads best.
    """
    if microseconds is None:
        return "-"
    if microseconds >= 1000:
        return "{:.1f} ms".format(microseconds / 1000)
    return "{:.0f} us".format(microseconds)


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """
    @return: C{a / b}, or C{None} when either is missing or C{b} is zero.
    """
    if a is None or b is None or not b:
        return None
    return a / b


def checkGoals(
    scenario: str, ours: Dict[str, float], stock: Dict[str, float]
) -> List[str]:
    """
    @return: for one scenario, what fails of issue 11's goals (empty when
        every goal is met); throughput counts as met when either the rate
        or the server's CPU time per unit is at least the target, since a
        shared machine disturbs the rate more.
    """
    failures = []
    target = SPEED_GOALS.get(scenario, 1.0)
    byRate = ratio(ours.get("rate"), stock.get("rate"))
    byCpu = ratio(stock.get("cpu"), ours.get("cpu"))
    best = max([r for r in (byRate, byCpu) if r is not None], default=None)
    if best is not None and best < target:
        failures.append("throughput {:.3f}x < {:.1f}x".format(best, target))
    if SCENARIOS[scenario][3]:
        p99 = ratio(ours.get("p99"), stock.get("p99"))
        if p99 is not None and p99 > P99_FACTOR:
            failures.append("p99 {:.2f}x > {:.1f}x".format(p99, P99_FACTOR))
        if (
            "max" in ours
            and "max" in stock
            and ours["max"] > stock["max"] + MAX_MARGIN_US
        ):
            failures.append(
                "max {} > stock's + 10 ms".format(formatLatency(ours["max"]))
            )
    return failures


def summaryTable(table: Dict[str, Dict[str, Dict[str, float]]]) -> List[str]:
    """
    @return: markdown lines: per scenario, ours against stock, by rate, by
        CPU time per unit and by latency, with the goals' verdict.
    """
    lines = [
        (
            "| scenario | ours | stock | by rate | by CPU/unit | p99 ours / stock"
            " | max ours / stock | goals |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for scenario, (title, unit, _, latency) in SCENARIOS.items():
        row = table.get(scenario, {})
        ours, stock = row.get("ours"), row.get("epoll")
        if ours is None or stock is None:
            continue
        byRate = ratio(ours.get("rate"), stock.get("rate"))
        byCpu = ratio(stock.get("cpu"), ours.get("cpu"))
        failures = checkGoals(scenario, ours, stock)
        lines.append(
            "| {} | {} | {} | {} | {} | {} | {} | {} |".format(
                title,
                formatNumber(ours.get("rate")) + " " + unit,
                formatNumber(stock.get("rate")),
                "{:.2f}x".format(byRate) if byRate else "-",
                "{:.2f}x".format(byCpu) if byCpu else "-",
                "{} / {}".format(
                    formatLatency(ours.get("p99")), formatLatency(stock.get("p99"))
                )
                if latency
                else "-",
                "{} / {}".format(
                    formatLatency(ours.get("max")), formatLatency(stock.get("max"))
                )
                if latency
                else "-",
                "met" if not failures else "NOT met: " + "; ".join(failures),
            )
        )
    return lines


def peerCells(
    row: Dict[str, Dict[str, float]], peers: List[str], key: str
) -> List[str]:
    """
    @return: one scenario's cells for C{peers}: each median C{key} with its
        ratio to stock (none for C{faults} and C{delayedAcks}, counts where
        zero is common; for C{cpu}, stock's over the peer's, so that higher
        is better).
    """
    stock = row.get("epoll", {}).get(key)
    cells = []
    for peer in peers:
        value = row.get(peer, {}).get(key)
        if value is None:
            cells.append("-")
            continue
        scale = (
            None
            if key in ("faults", "delayedAcks")
            else ratio(stock, value)
            if key == "cpu"
            else ratio(value, stock)
        )
        cells.append(
            "{} ({:.2f}x)".format(formatNumber(value), scale)
            if scale
            else formatNumber(value)
        )
    return cells


def peersTable(
    table: Dict[str, Dict[str, Dict[str, float]]],
    key: str,
    verdict: Optional[Callable[[str, Dict[str, Dict[str, float]]], List[str]]] = None,
) -> List[str]:
    """
    @param verdict: when given, what fails of the goals for a scenario and
        its row (L{cpuGoals}), for a last column.
    @return: markdown lines: per scenario, every peer's median C{key}
        (C{rate}, C{cpu}, C{faults} or C{delayedAcks}) with its ratio to
        stock (L{peerCells}).
    """
    peers = [p for p in PEERS if any(p in row for row in table.values())]
    columns = peers + (["goals"] if verdict else [])
    lines = [
        "| scenario | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for scenario, (title, unit, cpuUnit, _) in SCENARIOS.items():
        row = table.get(scenario)
        if not row:
            continue
        label = "{} ({})".format(
            title,
            unit
            if key == "rate"
            else "per second"
            if key == "delayedAcks"
            else ("us per " if key == "cpu" else "per ") + cpuUnit,
        )
        cells = peerCells(row, peers, key)
        if verdict:
            failures = verdict(scenario, row)
            cells.append("met" if not failures else "NOT met: " + "; ".join(failures))
        lines.append("| {} | {} |".format(label, " | ".join(cells)))
    return lines


def cpuGoals(scenario: str, row: Dict[str, Dict[str, float]]) -> List[str]:
    """
    @return: for one scenario, what fails of issue 24's goals by server CPU
        time per unit (empty when all are met): ours at least the best of
        L{RIVALS}, and at least L{CPU_GOALS} times stock where it names the
        scenario.
    """
    ours = row.get("ours", {}).get("cpu")
    if ours is None:
        return ["ours not measured"]
    failures = []
    rivals = {peer: row[peer]["cpu"] for peer in RIVALS if "cpu" in row.get(peer, {})}
    for peer, cpu in sorted(rivals.items(), key=lambda item: item[1]):
        if cpu < ours:
            failures.append("{} {:.2f}x ours".format(peer, ours / cpu))
    target = CPU_GOALS.get(scenario)
    if target is not None and "epoll" in rivals and rivals["epoll"] / ours < target:
        failures.append(
            "{:.2f}x stock < {:.2f}x".format(rivals["epoll"] / ours, target)
        )
    return failures


def latencyTable(table: Dict[str, Dict[str, Dict[str, float]]]) -> List[str]:
    """
    @return: markdown lines: per scenario with latencies, every peer's
        p50 / p99 / max.
    """
    peers = [p for p in PEERS if any(p in row for row in table.values())]
    lines = [
        "| scenario | " + " | ".join(peers) + " |",
        "|---" * (len(peers) + 1) + "|",
    ]
    for scenario, (title, _, _, latency) in SCENARIOS.items():
        row = table.get(scenario)
        if not row or not latency:
            continue
        cells = []
        for peer in peers:
            cell = row.get(peer)
            if not cell or "p50" not in cell:
                cells.append("-")
                continue
            cells.append(
                " / ".join(formatLatency(cell.get(k)) for k in ("p50", "p99", "max"))
            )
        lines.append("| {} | {} |".format(title, " | ".join(cells)))
    return lines


def writeMarkdown(path: str, data: Dict[str, Any]) -> None:
    """
    Write every table of the report to C{path}.
    """
    table = medians(data)
    machine, settings = data["machine"], data["settings"]
    lines = [
        "# Reactor benchmarks, latest run",
        "",
        "Machine: {cpu}, {cores} cores, Linux {kernel}; {python}, Twisted "
        "{twisted}; {date}.".format(**machine),
        "Medians of {rounds} rounds of {seconds} s each (after {warmup} s "
        "warm-up), peers alternating within each round; server on one core, "
        "its load (bench/loadgen.c or wrk) on the other.  Ratios are to stock "
        "Twisted epollreactor in the same run; for CPU time, stock's over "
        "the peer's, so that higher is better everywhere.".format(**settings),
        "",
        "## Ours against stock, and the goals of issue 11",
        "",
        (
            "Goals: every scenario at least 1.0x stock (by rate or by server CPU "
            "time per unit), p99 latency at most 1.1x stock's, worst latency at "
            "most 10 ms above stock's; 64 B echo on 50 connections and the "
            "10,000-idle echo at least 1.4x; the 200,000 B echo at least 1.0x."
        ),
        "",
    ]
    lines.extend(summaryTable(table))
    lines += [
        "",
        "## Every peer by server CPU per unit, and the goals of issue 24",
        "",
        (
            "Goals: ours at least the best of stock epoll, poll and select by "
            "server CPU time per unit in every scenario; 64 B and 4 KiB echo on "
            "one connection at least 1.15x stock, 64 B echo on 50 connections "
            "and the 10,000-idle echo at least 1.4x, 64 KiB on 50 connections "
            "at least 1.0x.  A verdict names every rival that used less."
        ),
        "",
    ]
    lines.extend(peersTable(table, "cpu", cpuGoals))
    lines += ["", "## Rates, every peer", ""]
    lines.extend(peersTable(table, "rate"))
    lines += [
        "",
        (
            "## Server CPU time per unit, every peer (microseconds; user + system "
            "from /proc over the counted window)"
        ),
        "",
    ]
    lines.extend(peersTable(table, "cpu"))
    # Counts that older results do not have: a table only where they do.
    for key, heading in (
        (
            "faults",
            (
                "## Minor page faults of the server per unit, every peer "
                "(minflt from /proc over the counted window; bench/README.md, "
                '"the heap given back and faulted in again")'
            ),
        ),
        (
            "delayedAcks",
            (
                "## Delayed-ACK timer firings per second, every peer "
                "(TcpExt DelayedACKs, the whole machine, over the counted "
                'window; bench/README.md, "the tail-segment wait")'
            ),
        ),
    ):
        if any(key in cell for row in table.values() for cell in row.values()):
            lines += ["", heading, ""]
            lines.extend(peersTable(table, key))
    lines += ["", "## Latency, every peer: p50 / p99 / max", ""]
    lines.extend(latencyTable(table))
    lines.append("")
    if "select" in PEERS and "idle" in table:
        lines.append(
            "selectreactor is left out of the idle run: select(2) cannot "
            "watch descriptors past 1024 (FD_SETSIZE)."
        )
        lines.append("")
    strace = data.get("strace") or {}
    if strace:
        lines += [
            "## System calls of the server per echoed message",
            "",
            "strace -f -c, 64 B echo on 50 connections, one run of {} s:".format(
                settings["seconds"]
            ),
            "",
            "| reactor | messages | epoll_ctl | epoll_ctl/message | sendto/message |",
            "|---|---|---|---|---|",
        ]
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
    lines += ["## Every sample (rate / CPU us per unit / p99 us)", ""]
    for scenario, row in data["samples"].items():
        for peer, samples in row.items():
            lines.append(
                "- {} / {}: {}".format(
                    scenario,
                    peer,
                    ", ".join(
                        "{} / {} / {}".format(
                            formatNumber(s.get("rate")),
                            formatNumber(s.get("cpu")),
                            formatNumber(s.get("p99")),
                        )
                        for s in samples
                    ),
                )
            )
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def writeChart(path: str, data: Dict[str, Any]) -> None:
    """
    Two panels, one row per scenario, one bar per peer: throughput as a
    ratio to stock (by server CPU time per unit, stock's over the peer's:
    what a shared machine disturbs least), and p99 latency as a ratio to
    stock's (lower is better), both on a log scale; stock is the line at 1.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = medians(data)
    scenarios = [s for s in SCENARIOS if s in table and "epoll" in table[s]]
    peers = [p for p in PEERS if p != "epoll" and any(p in table[s] for s in scenarios)]
    colours = {
        "ours": "tab:red",
        "poll": "tab:gray",
        "select": "tab:olive",
        "asyncio": "tab:cyan",
        "uvloop": "tab:purple",
    }
    fig, axes = plt.subplots(1, 2, figsize=(16, 0.55 * len(scenarios) + 2))
    height = 0.8 / max(len(peers), 1)
    for panel, (key, inverse, label) in enumerate(
        (
            (
                "cpu",
                True,
                "throughput by CPU time per unit, ratio to stock (higher is better)",
            ),
            ("p99", False, "p99 latency, ratio to stock (lower is better)"),
        )
    ):
        ax = axes[panel]
        for index, peer in enumerate(peers):
            values = []
            for scenario in scenarios:
                stock = table[scenario]["epoll"].get(key)
                value = table[scenario].get(peer, {}).get(key)
                scale = (ratio(stock, value) if inverse else ratio(value, stock)) or 0
                if key == "p99" and not SCENARIOS[scenario][3]:
                    scale = 0
                values.append(scale)
            positions = [
                row + (index - (len(peers) - 1) / 2) * height
                for row in range(len(scenarios))
            ]
            ax.barh(
                positions, values, height=height, color=colours.get(peer), label=peer
            )
        ax.axvline(1.0, color="tab:blue", linewidth=1)
        ax.set_xscale("log")
        ax.set_yticks(range(len(scenarios)))
        ax.set_yticklabels(
            [SCENARIOS[s][0] for s in scenarios] if panel == 0 else [], fontsize=8
        )
        ax.invert_yaxis()
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(
        "Twisted servers per reactor against stock epollreactor (blue line) "
        "({python}, {cores} cores, {date})".format(**data["machine"]),
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(arguments: Optional[List[str]] = None) -> None:
    """
    Write the markdown and the chart beside the JSON, and print the
    markdown.
    """
    if arguments is None:
        arguments = sys.argv[1:]
    path = arguments[0] if arguments else os.path.join(RESULTS, stem() + ".json")
    with open(path) as f:
        data = json.load(f)
    base = os.path.splitext(path)[0]
    writeMarkdown(base + ".md", data)
    try:
        writeChart(base + ".png", data)
    except ImportError:
        sys.stderr.write("matplotlib is missing: no chart\n")
    with open(base + ".md") as f:
        sys.stdout.write(f.read())


if __name__ == "__main__":
    main()
