"""
What an epoll object costs beyond its calls, ours against C{select.epoll}:

 - memory: the resident set (C{/proc/self/statm}) that 5,000 live objects
   add, when just made and after each has polled once; each measured in a
   fresh process, here: pyperf's C{--track-memory} reports a worker's peak
   resident set, the interpreter's included, in which 5,000 objects of 84 B
   do not show, and its C{--tracemalloc} sees Python's allocator only, not
   the mappings our event buffers grow into;
 - on pyperf (C{bench/microbench.py}), the per-call cost of
   C{poll(0, maxevents)} with one descriptor ready, for C{maxevents} from
   the default up to a million (a buffer made per call shows here);
 - on pyperf too, threads: how long a thread blocked in C{poll()} takes to
   run once its descriptor is ready while the main thread loops over
   C{modify()} or C{poll(0)} (a call that keeps the GIL makes it wait for
   the interpreter's 5 ms switch interval); wall time per wake.

Writes the tables to C{bench/results/memory.md} (C{memory-pypy.md} on PyPy)
as it prints them.  bench/README.md says what the numbers mean.

    python bench/bench_memory.py [--only ours,select.epoll] [pyperf's options]
"""

import os
import platform
import socket
import subprocess
import sys
import threading
import time
from functools import partial
from typing import Any, Callable, Dict, List

import microbench

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
OBJECTS = 5000


def implementations() -> Dict[str, Callable[[], Any]]:
    """
    @return: the epoll classes to compare, by name, C{select.epoll} first.
    """
    import select

    import epollreactor

    found: Dict[str, Callable[[], Any]] = {}
    if hasattr(select, "epoll"):
        found["select.epoll"] = select.epoll
    found["ours"] = epollreactor.epoll
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


def polling(make: Callable[[], Any], maxevents: int) -> microbench.Run:
    """
    @return: a runner of C{poll(0, maxevents)} with one ready descriptor.
    """
    ep = make()
    left, right = socket.socketpair()
    ep.register(left.fileno(), 4)
    poll = ep.poll
    poll(0, maxevents)

    def run(n: int) -> None:
        """
        Run the case C{n} times.
        """
        for _ in range(n):
            poll(0, maxevents)

    run.keep = (ep, left, right)  # type: ignore[attr-defined]
    return run


def waking(make: Callable[[], Any], loop: str) -> microbench.Run:
    """
    A thread waits in C{poll()}; the main thread makes its descriptor
    readable and then loops over C{modify()} or C{poll(0)} of another
    object until the thread has run.

    @return: a runner of C{n} such wakes, which returns the wall time from
        each write to the thread running, summed.
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

    def run(n: int) -> float:
        """
        Run the case C{n} times.

        @return: the seconds it measured.
        """
        total = 0.0
        for _ in range(n):
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
            total += woke[0] - started if woke else 0.1
            waiter.close()
            r.close()
            w.close()
        return total

    run.keep = (spinner, a, b)  # type: ignore[attr-defined]
    return run


def main() -> None:
    """
    Measure the memory here and the rest on pyperf, print the tables and
    write them to C{bench/results/}.
    """
    found = implementations()
    suite = microbench.Suite(list(found), processes=6)
    suite.parse()
    for maxevents in (1023, 65_536, 100_000, 1_000_000):
        for peer in suite.peers:
            build = partial(polling, found[peer], maxevents)
            suite.add("poll(0, {:,})".format(maxevents), peer, build)
    for loop in ("modify", "poll(0)"):
        for peer in suite.peers:
            build = partial(waking, found[peer], loop)
            suite.add("wake, main loops over " + loop, peer, build)
    if suite.runner.args.worker:
        return
    compared = suite.compare("select.epoll", "ours")
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
        "| | " + " | ".join(suite.peers) + " |",
        "|---" * (len(suite.peers) + 1) + "|",
    ]
    for polled in (False, True):
        cells = [
            "{:,.0f} B".format(memoryPerObject(peer, polled)) for peer in suite.peers
        ]
        title = "after one poll(0) each" if polled else "just made"
        lines.append("| {} | {} |".format(title, " | ".join(cells)))
    lines += [
        "",
        (
            "On pyperf: `poll(0, maxevents)` with one descriptor ready (CPU "
            "time per call), and a thread blocked in `poll()` woken while the "
            "main thread loops over another object's calls (wall time per wake):"
        ),
        "",
        compared,
    ]
    implementation = platform.python_implementation()
    stem = (
        "memory" if implementation == "CPython" else "memory-" + implementation.lower()
    )
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, stem + ".md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:-2]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory-child"]:
        memoryChild(sys.argv[2], sys.argv[3] == "1")
    else:
        main()
