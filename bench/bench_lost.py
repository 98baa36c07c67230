"""
What looking for lost registrations costs (bench/README.md, "Lost
descriptors"), beside N idle registrations (both ends of N / 2 socket
pairs), in three tables.

First, what each way of asking "does this number still name the file we
registered?" costs a registration, hot (every registration in a row, best
of 9): the sweep as it is (the owner's C{fileno()} compared and an
C{EPOLL_CTL_ADD} that fails with EEXIST), an C{EPOLL_CTL_MOD} each through
the binding, C{fstat(2)} each against the inode recorded beforehand, and
one read of the epoll instance's C{/proc/self/fdinfo}, the kernel's list
of its entries.

Second, what the checks cost a second as they run, cold, once a period:
the CPU spent inside the checks alone by an idle reactor with them on (its
process CPU a second with them on and with their clock stopped, beside),
and the CPU an iteration of a busy loop costs (one reader always ready,
beside the idle ones) with the checks on and off, rounds interleaved.

Third, with C{--echo ROUNDS}: the checks' CPU a second beside 10,000 (from
the second table) divided by the server's CPU a second under the 10,000-idle
echo (bench/run.py's C{idle} scenario, ours, run that many rounds): the
share of the server's CPU the checks add to that benchmark.  The checks
are driven by the clock, not by the load, so their cost a second is the
same busy or idle, and this ratio is what they add per round trip.

Run: python bench/bench_lost.py [--rounds 5] [--seconds 2]
[--sizes 1000,10000,19000] [--echo 3].
"""

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

from epollreactor import EPollReactor
from epollreactor._libc import EPOLL_CTL_MOD

HERE = os.path.dirname(os.path.abspath(__file__))


class Idle:
    """
    A reader that nothing ever happens to.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def doRead(self) -> None:
        raise AssertionError("an idle reader was read")

    def connectionLost(self, reason: Any) -> None:
        raise AssertionError("an idle reader was lost: {}".format(reason))

    def logPrefix(self) -> str:
        return "Idle"


class Busy(Idle):
    """
    A reader whose socket is always readable: it never drains it.
    """

    def doRead(self) -> None:
        pass


def best(call: Callable[[], Any], repeat: int) -> float:
    """
    @return: the least CPU time (seconds) of C{repeat} calls of C{call}.
    """
    times = []
    for _ in range(repeat):
        began = time.process_time()
        call()
        times.append(time.process_time() - began)
    return min(times)


def settle(reactor: EPollReactor, checking: bool) -> None:
    """
    Give the reactor's checks the real clock, or a stopped one, and let
    them make the catch-up sweep a changed clock owes before measuring.
    """
    table = reactor._registrations
    table.clock = time.monotonic if checking else (lambda: 0.0)
    table.checkAt = 0.0
    reactor.doIteration(0)


def idleCpu(reactor: EPollReactor, seconds: float, checking: bool) -> List[float]:
    """
    @return: the CPU (ms) a second that C{reactor} spends idle for
        C{seconds}, with its checks on or with their clock stopped, and
        the part of it spent inside the checks.
    """
    settle(reactor, checking)
    table = reactor._registrations
    check = table.check
    spent = [0.0]

    def timed() -> None:
        began = time.process_time()
        check()
        spent[0] += time.process_time() - began

    table.check = timed  # type: ignore[method-assign]
    try:
        deadline = time.monotonic() + seconds
        began = time.process_time()
        while time.monotonic() < deadline:
            reactor.doIteration(deadline - time.monotonic())
        whole = (time.process_time() - began) / seconds * 1000
    finally:
        del table.check
    return [whole, spent[0] / seconds * 1000]


def busyCpu(reactor: EPollReactor, seconds: float, checking: bool) -> float:
    """
    @return: the CPU (us) an iteration costs in a loop whose one busy
        reader makes every wait return at once, for C{seconds}.
    """
    settle(reactor, checking)
    iterations = 0
    deadline = time.monotonic() + seconds
    began = time.process_time()
    while time.monotonic() < deadline:
        for _ in range(100):
            reactor.doIteration(0)
        iterations += 100
    return (time.process_time() - began) / iterations * 1e6


def ways(reactor: EPollReactor) -> Dict[str, float]:
    """
    @return: what each way of checking every registration costs one, in
        ns, hot: the sweep, C{EPOLL_CTL_MOD}, C{fstat} and the fdinfo read.
    """
    table = reactor._registrations
    records = list(table.byNumber.values())
    control = table.poller._control
    inodes = {record.fd: os.fstat(record.fd).st_ino for record in records}
    fdinfo = "/proc/self/fdinfo/{}".format(table.poller.fileno())

    def modify() -> None:
        for record in records:
            control(EPOLL_CTL_MOD, record.fd, record.mask, record.generation)

    def stat() -> None:
        fstat = os.fstat
        for fd, inode in inodes.items():
            if fstat(fd).st_ino != inode:
                raise AssertionError("a number names another file")

    def listed() -> None:
        with open(fdinfo, "rb", buffering=0) as f:
            assert f.readall().count(b"tfd:") == len(records)

    count = len(records)
    return {
        name: best(call, 9) / count * 1e9
        for name, call in [
            ("sweep", lambda: table._sweep(table._ring.records)),
            ("mod", modify),
            ("fstat", stat),
            ("fdinfo", listed),
        ]
    }


def measure(size: int, rounds: int, seconds: float) -> Dict[str, Any]:
    """
    @return: every measurement beside C{size} registrations.
    """
    fds: List[int] = []
    for _ in range(size // 2):
        left, right = socket.socketpair()
        fds += [left.detach(), right.detach()]
    reactor = EPollReactor()
    try:
        for fd in fds[:-2]:
            reactor.addReader(Idle(fd))
        reactor.addReader(Busy(fds[-2]))
        os.write(fds[-1], b"x")
        table = reactor._registrations
        result: Dict[str, Any] = {"count": len(table.byNumber)}
        result.update(ways(reactor))
        result["busyOn"], result["busyOff"] = [], []
        for _ in range(rounds):
            result["busyOn"].append(busyCpu(reactor, seconds, True))
            result["busyOff"].append(busyCpu(reactor, seconds, False))
        reactor.removeReader(table.byNumber[fds[-2]].owner)
        result["on"], result["checks"], result["off"] = [], [], []
        for _ in range(rounds):
            whole, checks = idleCpu(reactor, seconds, True)
            result["on"].append(whole)
            result["checks"].append(checks)
            result["off"].append(idleCpu(reactor, seconds, False)[0])
        return result
    finally:
        reactor.removeAll()
        for fd in fds:
            os.close(fd)


def spread(values: List[float], digits: int = 2) -> str:
    """
    @return: the median of C{values}, and their range.
    """
    ordered = sorted(values)
    form = "{{:.{0}f}} ({{:.{0}f}}-{{:.{0}f}})".format(digits)
    return form.format(ordered[len(ordered) // 2], ordered[0], ordered[-1])


def median(values: List[float]) -> float:
    """
    @return: the median of C{values}.
    """
    return sorted(values)[len(values) // 2]


def echoServerCpu(rounds: int, seconds: float) -> List[float]:
    """
    Run bench/run.py's C{idle} scenario (50 echo connections beside
    10,000 idle ones) on ours.

    @return: the server's CPU (ms) a second in each round.
    """
    with tempfile.TemporaryDirectory() as output:
        subprocess.run(
            [sys.executable, os.path.join(HERE, "run.py"), "--peers", "ours"]
            + ["--scenarios", "idle", "--no-strace", "--output", output]
            + ["--rounds", str(rounds), "--seconds", str(seconds)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with open(os.path.join(output, "latest.json")) as f:
            samples = json.load(f)["samples"]["idle"]["ours"]
    return [sample["rate"] * sample["cpu"] / 1000 for sample in samples]


def printTables(results: List[Dict[str, Any]]) -> None:
    """
    Print the first two tables.
    """
    print(
        "| registrations | sweep (fileno() + EPOLL_CTL_ADD) | EPOLL_CTL_MOD "
        "| fstat | fdinfo read | (ns a registration, hot, best of 9) |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            "| {:,} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | |".format(
                r["count"], r["sweep"], r["mod"], r["fstat"], r["fdinfo"]
            )
        )
    print()
    print(
        "| registrations | checks alone, ms a second (us a registration "
        "a period) | idle CPU a second, checks on / off (ms) | busy loop "
        "CPU an iteration, checks on / off (us) |"
    )
    print("|---|---|---|---|")
    for r in results:
        perRecord = median(r["checks"]) / 1000 * 0.9 / r["count"] * 1e6
        print(
            "| {:,} | {} ({:.2f}) | {} / {} | {} / {} |".format(
                r["count"],
                spread(r["checks"]),
                perRecord,
                spread(r["on"]),
                spread(r["off"]),
                spread(r["busyOn"]),
                spread(r["busyOff"]),
            )
        )


def printShare(results: List[Dict[str, Any]], server: List[float]) -> None:
    """
    Print the third table: the checks' CPU a second as a share of the
    server's under the 10,000-idle echo.
    """
    print()
    print(
        "| registrations | checks, ms a second | share of the 10,000-idle echo's server CPU |"
    )
    print("|---|---|---|")
    low, high = min(server), max(server)
    for r in results:
        checks = median(r["checks"])
        print(
            "| {:,} | {:.2f} | {:.2f}% ({:.2f}-{:.2f}%) |".format(
                r["count"],
                checks,
                checks / median(server) * 100,
                checks / high * 100,
                checks / low * 100,
            )
        )
    print()
    print(
        "server CPU a second under the 10,000-idle echo, per round: "
        + ", ".join("{:.0f} ms".format(value) for value in server)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--sizes", default="1000,10000,19000")
    parser.add_argument("--echo", type=int, default=0, metavar="ROUNDS")
    arguments = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("load average before: {}".format(os.getloadavg()))
    results = []
    for size in map(int, arguments.sizes.split(",")):
        if size + 64 > hard:
            print(
                "{:,} registrations: left out, RLIMIT_NOFILE is {:,}".format(size, hard)
            )
            continue
        results.append(measure(size, arguments.rounds, arguments.seconds))
    print()
    printTables(results)
    if arguments.echo:
        printShare(results, echoServerCpu(arguments.echo, arguments.seconds))
    print()
    print("load average after: {}".format(os.getloadavg()))


if __name__ == "__main__":
    main()
