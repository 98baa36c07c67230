"""
How the micro-benchmarks run on pyperf: every case on every peer (our
binding or reactor, C{select.epoll}, Twisted's reactors) is a pyperf
benchmark of its own, timed in pyperf's worker processes with its
calibration of loops and warm-ups and its stability warnings; then each
peer's benchmarks are written to a pyperf file of their own
(C{bench/build/pyperf/SCRIPT/PEER.json}; C{SCRIPT-pypy} on PyPy) and
C{pyperf compare_to --table} prints them side by side, with the ratios to
the reference peer.  Those files serve C{pyperf stats}, C{pyperf hist} and
a later C{pyperf compare_to} against another checkout's.

The time of a value is this thread's CPU time (user and system) by default,
which a loaded machine disturbs far less than wall time (bench/README.md,
"The machine"); C{--clock wall} takes C{time.perf_counter}.  A case is
built lazily in the worker that times it, so the parent process, which
only spawns workers, opens no descriptor.  The script's own options are
forwarded to the workers.

The peers of one case run one after the other, each in its own workers
(pyperf does not interleave benchmarks): a slow minute of a shared machine
hits one peer only, and shows as a large standard deviation or a warning
of pyperf's, not in the median of rounds as before.
"""

import gc
import os
import platform
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

import pyperf

#: Where each run leaves its pyperf files (bench/build/ is not committed).
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "build", "pyperf")

#: A prepared case: C{run(loops)} does C{loops} iterations of it.  It
#: returns C{None} to be timed around, or the seconds it measured itself
#: when part of each value must stay out of the time (set-up, sleeps).
Run = Callable[[int], Optional[float]]


def calling(function: Callable[[Any], Any], argument: Any, keep: Any) -> Run:
    """
    @return: a runner of C{function(argument)}, C{n} times, which keeps
        C{keep} (the descriptors the calls need) referenced.
    """

    def run(n: int) -> None:
        """
        Run the case C{n} times.
        """
        call, value = function, argument
        for _ in range(n):
            call(value)

    run.keep = keep  # type: ignore[attr-defined]
    return run


class Suite:
    """
    One script's benchmarks: a pyperf runner, the peers to compare, and the
    results gathered in the parent process.

    @ivar runner: the script's one L{pyperf.Runner}.
    @ivar argparser: its argument parser, for the script to add options to
        before L{parse}; every option added is forwarded to the workers.
    @ivar peers: the peers to measure, in order, after C{--only}.
    @ivar clock: the clock of a value, after L{parse}.
    """

    def __init__(self, peers: List[str], processes: Optional[int] = None) -> None:
        """
        @param peers: every peer the script knows, the reference first.
        @param processes: pyperf's default number of worker processes for
            this script (its own default, 20, when C{None}).
        """
        self.runner = pyperf.Runner(processes=processes, add_cmdline_args=self._forward)
        self.argparser = self.runner.argparser
        self._known = set(vars(self.argparser.parse_args([])))
        self.argparser.add_argument(
            "--clock",
            choices=["cpu", "wall"],
            default="cpu",
            help="cpu (default): this thread's CPU time; wall: time.perf_counter",
        )
        self.argparser.add_argument(
            "--only", default="", help="comma-separated peers: " + ",".join(peers)
        )
        self.peers = peers
        self.clock: Callable[[], float] = time.thread_time
        self._built: Dict[str, Run] = {}
        self._results: Dict[str, List[Any]] = {}

    def _forward(self, cmd: List[str], args: Any) -> None:
        """
        Give a worker's command line the script's own options.
        """
        for name, value in sorted(vars(args).items()):
            if name not in self._known and value is not None:
                cmd.extend(["--" + name.replace("_", "-"), str(value)])

    def parse(self) -> Any:
        """
        Parse the command line.

        @return: the options.
        """
        options = self.runner.parse_args()
        if options.clock == "wall":
            self.clock = time.perf_counter
        if options.only:
            self.peers = [
                peer for peer in self.peers if peer in options.only.split(",")
            ]
        return options

    def _time(
        self, loops: int, key: str, build: Callable[[], Run], gcOff: bool
    ) -> float:
        """
        pyperf's time function: build the case once per worker, then time
        C{loops} iterations of it.

        @return: the seconds they took.
        """
        run = self._built.get(key)
        if run is None:
            run = self._built[key] = build()
        clock = self.clock
        collecting = gc.isenabled()
        if gcOff:
            gc.disable()
        try:
            start = clock()
            measured = run(loops)
            elapsed = clock() - start
        finally:
            if collecting:
                gc.enable()
        return elapsed if measured is None else measured

    def add(
        self,
        case: str,
        peer: str,
        build: Callable[[], Run],
        inner: int = 1,
        gcOff: bool = False,
    ) -> None:
        """
        Measure one case on one peer.

        @param build: makes the prepared case, in the worker.
        @param inner: how many operations one iteration does (pyperf's
            C{inner_loops}): values are per operation.
        @param gcOff: turn the garbage collector off while timing, as
            L{timeit} does, for the binding's single calls.
        """
        key = "{} [{}]".format(case, peer)
        bench = self.runner.bench_time_func(
            key, self._time, key, build, gcOff, inner_loops=inner
        )
        if bench is not None and not self.runner.args.worker:
            bench.update_metadata({"name": case})
            self._results.setdefault(peer, []).append(bench)

    def compare(self, reference: str, *others: str) -> str:
        """
        In the parent process: write each peer's pyperf file, print
        C{pyperf compare_to --table} of C{others} against C{reference}.

        @return: what it printed (nothing in a worker, or when C{--only}
            left out a peer, which it says).
        """
        if self.runner.args.worker:
            return ""
        missing = [p for p in (reference,) + others if p not in self._results]
        if missing or not others:
            print(
                "\nNo comparison of {} with {}: {} not measured.".format(
                    ", ".join(others) or "nothing", reference, ", ".join(missing) or "-"
                )
            )
            return ""
        paths = [self._dump(peer) for peer in (reference,) + others]
        output = subprocess.run(
            [sys.executable, "-m", "pyperf", "compare_to", "--table"]
            + ["--table-format=md"]
            + paths,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        ).stdout
        print("\n{} against {}:".format(", ".join(others), reference))
        print(output)
        return output

    def _dump(self, peer: str) -> str:
        """
        Write C{peer}'s benchmarks to its pyperf file.

        @return: the file's path.
        """
        script = os.path.splitext(os.path.basename(sys.argv[0]))[0]
        implementation = platform.python_implementation()
        if implementation != "CPython":
            script += "-" + implementation.lower()
        directory = os.path.join(RESULTS, script)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, peer + ".json")
        pyperf.BenchmarkSuite(self._results[peer]).dump(path, replace=True)
        return path
