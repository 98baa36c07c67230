"""
Threads polling one epoll object: L{epollreactor.epoll} against CPython's
C{select.epoll}, and optionally against the binding of an earlier commit,
in one process.

Every call releases the GIL inside C{epoll_wait(2)}, so while one thread
is in the kernel another runs Python code and may call C{poll} on the same
object: the calls overlap, and each needs a result buffer of its own.
C{select.epoll} mallocs one per call; ours keeps idle buffers on the
object (C{epollreactor/_epoll.py}).  This measures what the overlap costs.

The scenarios (L{SCENARIOS}), each for C{--seconds} per round:

 - busy: 1 or 2 threads call C{poll(0)} in a loop on one object with one
   ready descriptor;
 - churn: 4 such threads, while a fifth registers and unregisters another
   descriptor on the object in a loop;
 - fed: 1, 2 or 4 threads call C{poll(1.0)} on sockets that a feeder
   thread keeps sending a byte to, and read what they got: pollers that
   block, so that calls overlap.

Per implementation the table gives the polls all pollers made per second
(wall time: the threads share the GIL, so the total is what counts), the
process's CPU time per poll and its ratio to C{select.epoll}'s, and for
the bindings the result buffers made per thousand polls (counted on the
module's C{EventBuffer}): each median over C{--rounds} rounds run in
alternating order, with the rounds' spread, the noise of this shared
machine.  bench/README.md ("Threads polling one object") reads them.

    python bench/bench_threads.py [--before REV] [--rounds N] [--seconds S]

C{--before REV} adds C{epollreactor/_epoll.py} as it was at the git
revision C{REV}, loaded beside the current one (it must import only what
the current C{_libc} and C{_versions} still provide).
"""

import argparse
import importlib.util
import os
import platform
import resource
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Tuple

from epollreactor import EPOLLIN, EPOLLOUT, _epoll

HERE = os.path.dirname(os.path.abspath(__file__))


def loadRevision(revision: str) -> ModuleType:
    """
    Load C{epollreactor/_epoll.py} as it was at C{revision}, under a name of
    its own, beside the current module.

    @raise subprocess.CalledProcessError: when git does not know it.
    """
    source = subprocess.run(
        ["git", "show", "{}:epollreactor/_epoll.py".format(revision)],
        cwd=os.path.dirname(HERE),
        stdout=subprocess.PIPE,
        check=True,
    ).stdout
    directory = tempfile.mkdtemp(prefix="bench-threads-")
    path = os.path.join(directory, "_epoll_before.py")
    with open(path, "wb") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("epollreactor._epoll_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.remove(path)
    os.rmdir(directory)
    return module


class BufferCounter:
    """
    Count the result buffers a binding module makes, by replacing its
    C{EventBuffer} name with a subclass that counts its instances.

    @ivar made: how many buffers were made since the last L{reset}.
    """

    def __init__(self, module: ModuleType) -> None:
        """
        @param module: a binding module with a module-level C{EventBuffer}.
        """
        self.made = 0
        counter = self
        base = module.EventBuffer

        class CountedBuffer(base):  # type: ignore[misc, valid-type]
            """
            An C{EventBuffer} that counts itself.
            """

            __slots__ = ()

            def __init__(self, capacity: int) -> None:
                """
                @param capacity: as for C{EventBuffer}.
                """
                counter.made += 1
                super().__init__(capacity)

        module.EventBuffer = CountedBuffer

    def reset(self) -> None:
        """
        Start counting from zero.
        """
        self.made = 0


#: What the pollers do, by mode: a title for the table.
MODES = {
    "busy": "poll(0), one ready",
    "churn": "poll(0), one ready, + churn",
    "fed": "poll(1.0), fed",
}

#: The scenarios: how many pollers, in which mode.
SCENARIOS = [(1, "busy"), (2, "busy"), (4, "churn"), (1, "fed"), (2, "fed"), (4, "fed")]


class Round:
    """
    One round of one scenario: pollers on one new object, and the thread
    that feeds or churns it, if the mode has one.

    @ivar ep: the object polled.
    @ivar stop: set when the round is over.
    @ivar counts: how many polls each poller made, once it stopped.
    """

    def __init__(self, make: Callable[[], Any], pollers: int, mode: str) -> None:
        """
        @param make: the epoll class.
        @param pollers: how many threads poll.
        @param mode: one of L{MODES}.
        """
        self.ep = make()
        self.mode = mode
        self.pairs = [socket.socketpair() for _ in range(max(pollers, 2))]
        for left, right in self.pairs:
            left.setblocking(False)
            right.setblocking(False)
        self.stop = threading.Event()
        self.counts: List[int] = []
        self.timeout = 1.0 if mode == "fed" else 0
        if mode == "fed":
            for left, _ in self.pairs:
                self.ep.register(left.fileno(), EPOLLIN)
        else:
            self.ep.register(self.pairs[0][0].fileno(), EPOLLOUT)
        self.threads = [threading.Thread(target=self.poll) for _ in range(pollers)]
        if mode != "busy":
            self.threads.append(threading.Thread(target=getattr(self, mode)))
        self.start = threading.Barrier(len(self.threads) + 1)

    def poll(self) -> None:
        """
        Poll in a loop until told to stop; when fed, take the byte each
        returned descriptor holds (another poller may have taken it first),
        and look at the stop flag after every call, since a call may wait.
        """
        call = self.ep.poll
        timeout = self.timeout
        fed = self.mode == "fed"
        batch = 1 if fed else 100
        sockets = {left.fileno(): left for left, _ in self.pairs}
        done = 0
        self.start.wait()
        while not self.stop.is_set():
            for _ in range(batch):
                events = call(timeout)
                if fed:
                    for fd, _ in events:
                        try:
                            sockets[fd].recv(64)
                        except BlockingIOError:
                            pass
            done += batch
        self.counts.append(done)

    def churn(self) -> None:
        """
        Register and unregister a descriptor in a loop until told to stop.
        """
        fd = self.pairs[1][0].fileno()
        self.start.wait()
        while not self.stop.is_set():
            self.ep.register(fd, EPOLLIN)
            self.ep.unregister(fd)

    def fed(self) -> None:
        """
        Send one byte to each registered socket in turn, in a loop, until
        told to stop; then one more to each, so that pollers asleep in
        C{poll} see the flag at once.
        """
        peers = [right for _, right in self.pairs]
        self.start.wait()
        while not self.stop.is_set():
            for peer in peers:
                try:
                    peer.send(b"x")
                except BlockingIOError:
                    pass
        for peer in peers:
            try:
                peer.send(b"x")
            except BlockingIOError:
                pass

    def run(self, seconds: float) -> int:
        """
        Run the round for C{seconds}, then close everything.

        @return: how many polls the pollers made in all.
        """
        for thread in self.threads:
            thread.start()
        self.start.wait()
        time.sleep(seconds)
        self.stop.set()
        for thread in self.threads:
            thread.join()
        self.ep.close()
        for left, right in self.pairs:
            left.close()
            right.close()
        return sum(self.counts)


def processCpu() -> float:
    """
    @return: the CPU time, user and system, of all this process's threads.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Result:
    """
    One implementation's rounds of one scenario.

    @ivar rates: polls per second (wall) of each round.
    @ivar cpu: microseconds of the process's CPU time per poll, each round.
    @ivar polls: polls in all rounds.
    @ivar made: result buffers made in all rounds (0 when not counted).
    """

    def __init__(self) -> None:
        """
        No rounds yet.
        """
        self.rates: List[float] = []
        self.cpu: List[float] = []
        self.polls = 0
        self.made = 0


def measure(
    classes: Dict[str, Callable[[], Any]],
    counters: Dict[str, BufferCounter],
    scenario: Tuple[int, str],
    rounds: int,
    seconds: float,
) -> Dict[str, Result]:
    """
    Run one scenario (how many pollers, which mode) for every
    implementation, C{rounds} times, alternating the order.

    @return: the results by implementation.
    """
    names = list(classes)
    results = {name: Result() for name in names}
    for index in range(rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            counter = counters.get(name)
            if counter is not None:
                counter.reset()
            result = results[name]
            round = Round(classes[name], *scenario)
            began = processCpu()
            count = round.run(seconds)
            result.cpu.append((processCpu() - began) / count * 1e6)
            result.rates.append(count / seconds)
            result.polls += count
            if counter is not None:
                result.made += counter.made
    return results


def main(argv: Optional[List[str]] = None) -> int:
    """
    Run every scenario and print a table.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument(
        "--before", metavar="REV", help="also measure _epoll.py as of REV"
    )
    options = parser.parse_args(argv)

    modules: Dict[str, ModuleType] = {"ours": _epoll}
    if options.before:
        modules["before ({})".format(options.before)] = loadRevision(options.before)
    counters = {name: BufferCounter(module) for name, module in modules.items()}
    classes: Dict[str, Callable[[], Any]] = {
        name: module.epoll for name, module in modules.items()
    }
    if hasattr(select, "epoll"):
        classes["select.epoll"] = select.epoll
    print(
        "{} {} on {}, {} rounds of {} s each, medians (min-max of the rounds)".format(
            platform.python_implementation(),
            platform.python_version(),
            platform.machine(),
            options.rounds,
            options.seconds,
        )
    )
    print()
    print(
        "| scenario | binding | polls/s (wall) | CPU us/poll | CPU ratio"
        " | buffers made per 1000 polls |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for scenario in SCENARIOS:
        results = measure(classes, counters, scenario, options.rounds, options.seconds)
        theirs = results.get("select.epoll")
        for name, result in results.items():
            print(row(scenario, name, result, theirs, name in counters))
    return 0


def row(
    scenario: Tuple[int, str],
    name: str,
    result: Result,
    theirs: Optional[Result],
    counted: bool,
) -> str:
    """
    @return: one implementation's line of the table.
    """
    cpu = statistics.median(result.cpu)
    ratio = "-"
    if theirs is not None:
        ratio = "{:.2f}x".format(cpu / statistics.median(theirs.cpu))
    return "| {} pollers, {} | {} | {:.0f}k ({:.0f}-{:.0f}k) | {:.2f} ({:.2f}-{:.2f}) | {} | {} |".format(
        scenario[0],
        MODES[scenario[1]],
        name,
        statistics.median(result.rates) / 1000,
        min(result.rates) / 1000,
        max(result.rates) / 1000,
        cpu,
        min(result.cpu),
        max(result.cpu),
        ratio,
        "{:.2f}".format(1000.0 * result.made / max(result.polls, 1))
        if counted
        else "-",
    )


if __name__ == "__main__":
    sys.exit(main())
