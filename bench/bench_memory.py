"""
What an epoll object costs beyond its calls, ours against C{select.epoll}:

 - memory: the resident set (C{/proc/self/statm}) that 5,000 live objects
   add, when just made and after each has polled once; each measured in a
   fresh process;
 - per-call cost of C{poll(0, maxevents)} with one descriptor ready, for
   C{maxevents} from the default up to a million (a buffer made per call
   shows here);
 - threads: how long a thread blocked in C{poll()} takes to run once its
   descriptor is ready while the main thread loops over C{modify()} or
   C{poll(0)} (a call that keeps the GIL makes it wait for the
   interpreter's 5 ms switch interval).

Writes C{bench/results/memory.md} (C{memory-pypy.md} on PyPy) and prints
it.  bench/README.md says what the numbers mean.

    python bench/bench_memory.py
"""

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
OBJECTS = 5000


def implementations() -> Dict[str, Callable[[], Any]]:
    """
    @return: the epoll classes to compare, by name.
    """
    import select

    import epollreactor

    found: Dict[str, Callable[[], Any]] = {"ours": epollreactor.epoll}
    if hasattr(select, "epoll"):
        found["select.epoll"] = select.epoll
    return found


def residentBytes() -> int:
    """
    @return: this process's resident set size.
    """
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memoryChild(name: str, polled: bool) -> None:
    """
    In a fresh process: make L{OBJECTS} objects of C{name}, optionally
    poll each once, and print the resident bytes they added per object.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    make = implementations()[name]
    make().close()
    before = residentBytes()
    objects = [make() for _ in range(OBJECTS)]
    if polled:
        for ep in objects:
            ep.poll(0)
    print((residentBytes() - before) / OBJECTS)
    for ep in objects:
        ep.close()


def memoryPerObject(name: str, polled: bool) -> float:
    """
    @return: resident bytes per live object, from L{memoryChild}.
    """
    output = subprocess.run(
        [sys.executable, __file__, "--memory-child", name, "1" if polled else "0"],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return float(output.strip())


def pollCost(make: Callable[[], Any], maxevents: int) -> float:
    """
    @return: microseconds per C{poll(0, maxevents)} with one ready
        descriptor, best of three runs.
    """
    ep = make()
    left, right = socket.socketpair()
    try:
        ep.register(left.fileno(), 4)
        ep.poll(0, maxevents)
        best = float("inf")
        for _ in range(3):
            count = 2000
            started = time.perf_counter()
            for _ in range(count):
                ep.poll(0, maxevents)
            best = min(best, (time.perf_counter() - started) / count * 1e6)
        return best
    finally:
        ep.close()
        left.close()
        right.close()


def wakeLatency(make: Callable[[], Any], loop: str) -> Tuple[float, float]:
    """
    A thread waits in C{poll()}; the main thread makes its descriptor
    readable and then loops over C{modify()} or C{poll(0)} of another
    object until the thread has run.

    @return: the median and worst time, in milliseconds, from the write to
        the thread running, over 30 tries.
    """
    spinner = make()
    a, b = socket.socketpair()
    spinner.register(a.fileno(), 1)
    if loop == "modify":

        def spin() -> None:
            spinner.modify(a.fileno(), 1)

    else:

        def spin() -> None:
            spinner.poll(0)

    latencies = []
    try:
        for _ in range(30):
            waiter = make()
            r, w = socket.socketpair()
            waiter.register(r.fileno(), 1)
            woke: List[float] = []

            def wait(waiter: Any = waiter, woke: List[float] = woke) -> None:
                waiter.poll()
                woke.append(time.perf_counter())

            thread = threading.Thread(target=wait)
            thread.start()
            time.sleep(0.005)
            started = time.perf_counter()
            w.send(b"x")
            # Bounded: 100 ms at most, then the thread is late.
            while not woke and time.perf_counter() - started < 0.1:
                for _ in range(50):
                    spin()
            thread.join(10)
            latencies.append((woke[0] - started) * 1e3 if woke else 100.0)
            waiter.close()
            r.close()
            w.close()
    finally:
        spinner.close()
        a.close()
        b.close()
    return statistics.median(latencies), max(latencies)


def main() -> None:
    """
    Measure, write the markdown, print it.
    """
    found = implementations()
    names = list(found)
    lines = [
        "# The epoll object beyond its calls, latest run",
        "",
        "{} {}; {}.".format(
            platform.python_implementation(),
            platform.python_version(),
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        ),
        "",
        "Resident memory per live object ({:,} objects, each set in a fresh "
        "process):".format(OBJECTS),
        "",
        "| | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    results: Dict[str, Any] = {"memory": {}, "poll": {}, "wake": {}}
    for polled in (False, True):
        cells = []
        for name in names:
            value = memoryPerObject(name, polled)
            results["memory"]["{} {}".format(name, "polled" if polled else "new")] = (
                value
            )
            cells.append("{:,.0f} B".format(value))
        lines.append(
            "| {} | {} |".format(
                "after one poll(0) each" if polled else "just made", " | ".join(cells)
            )
        )
    lines += [
        "",
        "poll(0, maxevents) with one descriptor ready, microseconds per call:",
        "",
        "| maxevents | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for maxevents in (1023, 65_536, 100_000, 1_000_000):
        cells = []
        for name in names:
            value = pollCost(found[name], maxevents)
            results["poll"]["{} {}".format(name, maxevents)] = value
            cells.append("{:.2f}".format(value))
        lines.append("| {:,} | {} |".format(maxevents, " | ".join(cells)))
    lines += [
        "",
        (
            "A thread blocked in poll() runs after its descriptor became ready, "
            "while the main thread loops over another object's calls "
            "(milliseconds, median / worst of 30):"
        ),
        "",
        "| main thread loops over | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for loop in ("modify", "poll(0)"):
        cells = []
        for name in names:
            middle, worst = wakeLatency(found[name], loop)
            results["wake"]["{} {}".format(name, loop)] = [middle, worst]
            cells.append("{:.2f} / {:.2f}".format(middle, worst))
        lines.append("| {} | {} |".format(loop, " | ".join(cells)))
    lines.append("")
    implementation = platform.python_implementation()
    stem = (
        "memory" if implementation == "CPython" else "memory-" + implementation.lower()
    )
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, stem + ".md"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(RESULTS, stem + ".json"), "w") as f:
        json.dump(results, f, indent=1)
    sys.stdout.write("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory-child"]:
        memoryChild(sys.argv[2], sys.argv[3] == "1")
    else:
        main()
