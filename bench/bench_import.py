"""
What C{import epollreactor} costs a fresh interpreter, beside C{import
select}: the price a script pays that only wants an epoll object.

Each case is a child interpreter (C{python -c CODE}) started C{--runs}
times, the cases interleaved round by round so that the machine's noise
falls on all of them alike.  For each case it prints the median wall time
of the whole child, that median less the bare interpreter's (what the
import and the call add), the median of the cumulative time C{python -X
importtime} gives the case's top-level import (a separate set of runs, as
importtime slows what it measures), the spread of the wall times (the
interquartile range as a share of the median), and how many C{twisted}
modules the child had in C{sys.modules} at its end.  Ratios are to C{import
select}.

The children run in an empty temporary folder, so they import the
epollreactor this interpreter has installed.  Most cases read the
bytecode caches a first run wrote (into a C{-X pycache_prefix} of their
own, whatever C{PYTHONDONTWRITEBYTECODE} says), as an installed package
has them; "no caches" cases compile every module from source (C{-B} and a
fresh, empty C{-X pycache_prefix}).

    python bench/bench_import.py [--runs 20]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, NamedTuple, Optional, Tuple

#: Appended to each case's code: the number of Twisted modules loaded.
_COUNT_TWISTED = (
    "\nimport sys as _s; print(sum(1 for _m in _s.modules"
    " if _m == 'twisted' or _m.startswith('twisted.')))"
)


class Case(NamedTuple):
    """
    One child interpreter's job.

    @ivar name: the row's label.
    @ivar code: what the child runs.
    @ivar modules: the top-level imports whose C{-X importtime} is
        reported, summed (a name loaded on first use is a second top-level
        import), or C{None}.
    @ivar cached: whether the child may read (and write) bytecode caches.
    """

    name: str
    code: str
    modules: Optional[Tuple[str, ...]]
    cached: bool


_EPOLL = "import epollreactor\nepollreactor.epoll().close()"
_SELECT = "import select\nselect.epoll().close()"

CASES = [
    Case("bare interpreter", "pass", None, True),
    Case("import select; select.epoll()", _SELECT, ("select",), True),
    Case("import epollreactor; epollreactor.epoll()", _EPOLL, ("epollreactor",), True),
    Case(
        "import selectors; EpollSelector()",
        "import selectors\nselectors.EpollSelector().close()",
        ("selectors",),
        True,
    ),
    Case(
        "import epollreactor; EpollSelector()",
        "import epollreactor\nepollreactor.EpollSelector().close()",
        ("epollreactor", "epollreactor._selector"),
        True,
    ),
    Case(
        "epollreactor.EPollReactor (loads Twisted)",
        "import epollreactor\nepollreactor.EPollReactor",
        ("epollreactor", "epollreactor._reactor"),
        True,
    ),
    Case("bare interpreter, no caches", "pass", None, False),
    Case("import select; select.epoll(), no caches", _SELECT, ("select",), False),
    Case(
        "import epollreactor; epollreactor.epoll(), no caches",
        _EPOLL,
        ("epollreactor",),
        False,
    ),
]


def command(case: Case, importtime: bool, folder: str) -> List[str]:
    """
    @param folder: the run's temporary folder: cached cases keep their
        bytecode caches in its C{cache} folder, and the others get an empty
        folder of their own in it.
    @return: the child's command line.
    """
    line = [sys.executable]
    if importtime:
        line += ["-X", "importtime"]
    if case.cached:
        line += ["-X", "pycache_prefix=" + os.path.join(folder, "cache")]
    else:
        line += ["-B", "-X", "pycache_prefix=" + tempfile.mkdtemp(dir=folder)]
    return line + ["-c", case.code + _COUNT_TWISTED]


def cumulative(stderr: str, modules: Tuple[str, ...]) -> float:
    """
    @return: the sum of the cumulative microseconds C{-X importtime} reports
        for those of C{modules} imported at the top level (a module that
        another of them imported is in that one's sum already).
    @raise LookupError: when the output has none of them.
    """
    found = []
    for line in stderr.splitlines():
        fields = line.split("|")
        if line.startswith("import time:") and len(fields) == 3:
            name = fields[2]
            if name.strip() in modules and not name.startswith("  "):
                found.append(float(fields[1]))
    if not found:
        raise LookupError("no import of {} in:\n{}".format(modules, stderr))
    return sum(found)


def runOnce(case: Case, importtime: bool, folder: str) -> Tuple[float, float, str, str]:
    """
    Start one child and wait for it.

    @return: its wall time and CPU time (user and system) in seconds, its
        standard output and its standard error.
    @raise RuntimeError: when the child fails.
    """
    line = command(case, importtime, folder)
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    child = subprocess.run(
        line, cwd=folder, env=environment, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode != 0:
        raise RuntimeError("{!r} failed:\n{}".format(case.code, child.stderr))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, child.stdout, child.stderr


def measure(runs: int) -> Dict[str, Dict[str, List[float]]]:
    """
    Run every case C{runs} times for its times and C{runs} times under
    C{-X importtime}, the cases interleaved round by round.

    @return: by case name: C{"wall"} and C{"cpu"} (seconds), C{"added"}
        (the CPU seconds beyond the bare interpreter's of the same round and
        caching), C{"importtime"} (microseconds) and C{"twisted"} (module
        counts).
    """
    samples: Dict[str, Dict[str, List[float]]] = {
        case.name: {"wall": [], "cpu": [], "added": [], "importtime": [], "twisted": []}
        for case in CASES
    }
    with tempfile.TemporaryDirectory() as folder:
        for case in CASES:
            # Writes the bytecode caches the "cached" cases read.
            runOnce(case, False, folder)
        for _ in range(runs):
            bare = 0.0
            for case in CASES:
                wall, cpu, out, _ = runOnce(case, False, folder)
                if case.modules is None:
                    bare = cpu
                sample = samples[case.name]
                sample["wall"].append(wall)
                sample["cpu"].append(cpu)
                sample["added"].append(cpu - bare)
                sample["twisted"].append(float(out.split()[-1]))
                if case.modules is not None:
                    err = runOnce(case, True, folder)[3]
                    sample["importtime"].append(cumulative(err, case.modules))
    return samples


def spread(values: List[float]) -> float:
    """
    @return: the interquartile range of C{values} as a share of their
        median.
    """
    quartiles = statistics.quantiles(values, n=4)
    return (quartiles[2] - quartiles[0]) / statistics.median(values)


def table(samples: Dict[str, Dict[str, List[float]]]) -> str:
    """
    @return: the results as a Markdown table, one row per case, with the
        ratio of each case's C{-X importtime} to C{import select}'s (with
        caches or without, as the case).
    """
    rows = [
        (
            "| case | -X importtime | ratio | CPU | CPU less bare | wall"
            " | wall spread (IQR) | Twisted modules |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def median(name: str, kind: str, scale: float) -> float:
        return statistics.median(samples[name][kind]) * scale

    for case in CASES:
        select = "import select; select.epoll()" + (
            "" if case.cached else ", no caches"
        )
        cells = ["-", "-", "{:.1f} ms".format(median(case.name, "cpu", 1e3)), "-"]
        if case.modules is not None:
            imported = median(case.name, "importtime", 1e-3)
            cells[0] = "{:.2f} ms".format(imported)
            cells[1] = "{:.1f}x".format(imported / median(select, "importtime", 1e-3))
            cells[3] = "{:.1f} ms".format(median(case.name, "added", 1e3))
        cells += [
            "{:.1f} ms".format(median(case.name, "wall", 1e3)),
            "{:.0%}".format(spread(samples[case.name]["wall"])),
            "{:.0f}".format(max(samples[case.name]["twisted"])),
        ]
        rows.append("| {} | {} |".format(case.name, " | ".join(cells)))
    return "\n".join(rows)


def main() -> None:
    """
    Measure and print the table.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each case")
    options = parser.parse_args()
    samples = measure(options.runs)
    print(
        "Import cost in fresh interpreters, medians of {} runs ({} {}.{}.{}):\n".format(
            options.runs, sys.implementation.name, *sys.version_info[:3]
        )
    )
    print(table(samples))
    print(
        "\n(medians; CPU is the child's user and system time, and CPU less bare"
        " the median of its differences from the bare interpreter's in the same"
        " round; the ratio is to import select's -X importtime.)"
    )


if __name__ == "__main__":
    main()
