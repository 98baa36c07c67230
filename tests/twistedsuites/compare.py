"""
Run Twisted's test suites on our reactor and on Twisted's stock epoll
reactor, each in its own process, and compare them test by test.

A test I{regresses} when it passes on stock and does not pass on ours: it
fails, errors, is skipped, or never reports at all.  A test that failed,
errored or was skipped on ours is run once more, alone, on our reactor; one
that passes then is reported as flaky (the machine is shared, and some of
Twisted's tests are sensitive to load), one that does not is a regression
and fails the comparison.  A test that never reported on ours is a
regression whether or not it would pass alone: something in our run ended
or lost it.

A test that runs past the hang limit (a test that blocks where C{trial}'s
own timeout cannot reach it) is ended by the watchdog of
L{tests.twistedsuites.runtrial}, which ends its process; the side then
starts again without every test that hung so far, up to L{MAX_HANGS}, and
its outcomes are those of all its attempts.  A hung test is an error on
its side, listed by name in the report: on stock, a test not compared; on
ours, a suspect rerun alone like any other (with the watchdog too).

Each run must also end normally: exit status 0 or 1, agreeing with the
failures it recorded, after C{trial} has run every test (the last line
L{tests.twistedsuites.runtrial} writes), in its last attempt.  A run that
was killed, died of a signal, called C{os._exit}, ran out of time or had
more than L{MAX_HANGS} tests hang fails the comparison, on either side: a
stock run cut short would shrink what is compared without a word.

Command line, for C{make test-twisted-full}::

    python -m tests.twistedsuites.compare [--builder] [--timeout=SECONDS] \\
        [--hang-limit=SECONDS] [--directory=DIR] TESTS...

exits 1 when anything regressed or a run ended abnormally.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from tests.twistedsuites.runtrial import HUNG_STATUS, defaultHangLimit

#: The repository's top directory: C{python -m tests.twistedsuites.runtrial}
#: runs from here.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

OURS = "ours"
STOCK = "stock"

#: The name, in the report, of the run that reruns our suspects alone.
RERUN = OURS + ", rerun"

#: For each side: the C{trial --reactor} plugin name and the reactor the
#: ReactorBuilder suites are pointed at.
REACTORS: Dict[str, Tuple[str, str]] = {
    OURS: ("ctypes-epoll", "epollreactor.EPollReactor"),
    STOCK: ("epoll", "twisted.internet.epollreactor.EPollReactor"),
}

#: Outcomes from best to worst; a test reported more than once keeps the
#: worst (a pass followed by an error in its cleanup is an error).
SEVERITY = {
    "success": 0,
    "unexpectedSuccess": 1,
    "expectedFailure": 2,
    "skip": 3,
    "failure": 4,
    "error": 5,
    "missing": 6,
}

#: The ReactorBuilder suites: every reactor must pass them.
BUILDER_SUITES = ["twisted.internet.test"]

#: The suites that use the global reactor, run under C{trial --reactor}.
GLOBAL_SUITES = [
    "twisted.test.test_tcp",
    "twisted.test.test_udp",
    "twisted.test.test_unix",
    "twisted.test.test_process",
    "twisted.test.test_internet",
    "twisted.test.test_ssl",
    "twisted.test.test_tcp_internals",
    "twisted.test.test_stdio",
    "twisted.test.test_loopback",
    "twisted.internet.test.test_endpoints",
    "twisted.web.test.test_web",
    "twisted.web.test.test_http",
    "twisted.web.test.test_webclient",
    "twisted.web.test.test_agent",
    "twisted.test.test_ftp",
    "twisted.test.test_threads",
    "twisted.test.test_iutils",
    "twisted.test.test_policies",
    "twisted.names.test.test_names",
    "twisted.spread.test.test_pb",
    "twisted.protocols.test.test_tls",
    "twisted.conch.test.test_conch",
]

#: More regressions than this are not rerun: they all count.
RERUN_LIMIT = 200

#: How many hung tests a run may start again without: one hang is a test's
#: bad luck, a few a bad day; more, and the run as a whole is in trouble.
MAX_HANGS = 3

#: The report lists at most this many tests of each kind.
REPORT_LIMIT = 50

Outcomes = Dict[str, Tuple[str, str]]


def hasStockEpoll() -> bool:
    """
    @return: whether this interpreter has C{select.epoll}, which Twisted's
        stock epoll reactor needs.
    """
    import select

    return hasattr(select, "epoll")


def normaliseId(testId: str, reactorFQPN: str) -> str:
    """
    Make the names of tests generated for different reactors comparable.

    L{twisted.internet.test.reactormixins.ReactorBuilder.makeTestCaseClasses}
    names each class C{<Builder>_<ReactorClassName>Tests}; both reactors'
    classes are called C{EPollReactor}, so the names agree already, but a
    rename of either must not turn every test into a regression.

    @param testId: a test's C{id()}.
    @param reactorFQPN: the fully qualified name of the reactor it ran on.
    @return: C{testId} with the reactor's class name replaced by
        C{REACTOR}.
    """
    short = reactorFQPN.rsplit(".", 1)[-1]
    return testId.replace("_" + short + "Tests.", "_REACTORTests.")


def readRecords(path: str) -> Iterator[Dict[str, Any]]:
    """
    @param path: a results file of L{tests.twistedsuites.runtrial}; a
        missing file reads as no records.
    @return: its records, in order, without a last line cut short (as that
        of a killed run may be).
    """
    if not os.path.exists(path):
        return
    with open(path) as results:
        for line in results:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def readOutcomes(
    path: str, reactorFQPN: str, outcomes: Optional[Outcomes] = None
) -> Outcomes:
    """
    Read what L{tests.twistedsuites.runtrial} recorded.

    @param path: its results file; a missing file reads as no results.
    @param reactorFQPN: the builder reactor of that run, for
        L{normaliseId}.
    @param outcomes: what earlier attempts of the same run recorded, to
        add to; a new mapping by default.
    @return: C{outcomes}, mapping each normalised test id to its worst
        outcome and that outcome's detail.
    """
    if outcomes is None:
        outcomes = {}
    for record in readRecords(path):
        if "id" not in record:
            # The end of the run (L{readEnd}).
            continue
        testId = normaliseId(record["id"], reactorFQPN)
        outcome = record["outcome"]
        known = outcomes.get(testId)
        if known is None or SEVERITY[outcome] > SEVERITY[known[0]]:
            outcomes[testId] = (outcome, record["detail"])
    return outcomes


def readEnd(path: str) -> Optional[Dict[str, Any]]:
    """
    Read the last line L{tests.twistedsuites.runtrial} writes once C{trial}
    has run every test.

    @param path: its results file.
    @return: that record (C{finished}, C{successful}), or L{None} when the
        run did not get that far.
    """
    end = None
    for record in readRecords(path):
        if record.get("finished"):
            end = record
    return end


def count(outcomes: Outcomes, outcome: str) -> int:
    """
    @return: how many tests in C{outcomes} ended with C{outcome}.
    """
    return sum(1 for got, _ in outcomes.values() if got == outcome)


def regressions(ours: Outcomes, stock: Outcomes) -> List[Tuple[str, str, str]]:
    """
    @return: C{(test id, our outcome, its detail)} for every test that passes
        on stock and not on ours, sorted by id.
    """
    found = []
    for testId, (outcome, _) in stock.items():
        if outcome != "success":
            continue
        got, detail = ours.get(testId, ("missing", "never reported"))
        if got != "success":
            found.append((testId, got, detail))
    return sorted(found)


class Attempt:
    """
    One C{trial} process of a L{Run}.

    @ivar results: the path of its results file.
    @ivar log: the path of its output.
    @ivar returncode: its exit status, once it has ended; L{None} when it
        was killed for running out of time.
    """

    def __init__(self, arguments: List[str], results: str, log: str) -> None:
        """
        Start the process.

        @param arguments: its command line, C{results} among them.
        @param results: the path of its results file.
        @param log: the path of its output.
        """
        self.results = results
        self.log = log
        self.returncode: Optional[int] = None
        # Twisted's tests run its console scripts (ckeygen, tkconch) by name.
        bindir = os.path.dirname(sys.executable)
        environment = dict(
            os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", "")
        )
        with open(log, "wb") as output:
            # Its own session, so that a timeout kills every process the
            # tests spawned too; default signal dispositions, because a shell
            # running us in the background may have SIGINT ignored and the
            # tests send it.
            self._process = subprocess.Popen(
                arguments,
                cwd=ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_defaultSignals,
            )

    def wait(self, deadline: float) -> None:
        """
        Wait for the process to end, killing it and its children at
        C{deadline} (a L{time.monotonic} value).
        """
        try:
            self.returncode = self._process.wait(
                timeout=max(0.0, deadline - time.monotonic())
            )
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
            with open(self.log, "a") as log:
                log.write("\n*** killed: out of time\n")

    def hung(self) -> Optional[str]:
        """
        @return: the C{trial} id of the test the watchdog ended the process
            at (L{tests.twistedsuites.runtrial.Watchdog}), or L{None} when it
            did not: the process must have exited with C{HUNG_STATUS} and
            have recorded a hung test.
        """
        if self.returncode != HUNG_STATUS:
            return None
        for record in readRecords(self.results):
            if record.get("hung"):
                return str(record["id"])
        return None

    def abnormal(self) -> Optional[str]:
        """
        Tell whether the process ended as a complete C{trial} run does: exit
        status 0 when it recorded no failure or error, 1 when it did, and
        only after C{trial} ran every test.

        @return: L{None} when it did; otherwise what went wrong, in words.
        """
        status = self.returncode
        if status is None:
            return "killed: out of time"
        if status < 0:
            try:
                name = signal.Signals(-status).name
            except ValueError:
                name = "signal {}".format(-status)
            return "killed by {}".format(name)
        end = readEnd(self.results)
        if end is None:
            return "exit status {} before trial had run every test".format(status)
        failed = any(
            outcome in ("failure", "error")
            for outcome, _ in readOutcomes(self.results, "").values()
        )
        if end["successful"] == failed:
            return "trial called the run {}, yet {} failure or error".format(
                "successful" if end["successful"] else "unsuccessful",
                "recorded a" if failed else "recorded no",
            )
        expected = 0 if end["successful"] else 1
        if status != expected:
            return "exit status {} where the failures recorded explain {}".format(
                status, expected
            )
        return None


class Run:
    """
    C{trial} on one side: one L{Attempt}, and one more each time the
    watchdog ends the last for a test that hung, without every test that hung
    so far, up to C{maxHangs} hung tests.

    @ivar side: L{OURS} or L{STOCK}.
    @ivar hangLimit: the watchdog's limit, in seconds.
    @ivar maxHangs: how many hung tests the run may restart without.
    @ivar attempts: the L{Attempt}s so far, in order.
    @ivar hung: the normalised ids of the tests that hung, in order.
    @ivar elapsed: its wall time in seconds, once it has ended.
    """

    def __init__(
        self,
        side: str,
        tests: Sequence[str],
        directory: str,
        builder: bool,
        tag: str = "",
        extraArguments: Sequence[str] = (),
        reactors: Dict[str, Tuple[str, str]] = REACTORS,
        hangLimit: Optional[float] = None,
        maxHangs: int = MAX_HANGS,
    ) -> None:
        """
        Start the first attempt.

        @param side: L{OURS} or L{STOCK}.
        @param tests: the test names for C{trial}.
        @param directory: where its results, output and C{_trial_temp} go.
        @param builder: whether to point the ReactorBuilder suites at this
            side's reactor alone.
        @param tag: added to the file names, to keep reruns apart.
        @param extraArguments: more options for C{trial}.
        @param reactors: for each side, the C{--reactor} plugin name and the
            builder reactor; L{REACTORS} unless a test of this module says
            otherwise.
        @param hangLimit: the watchdog's limit; by default
            L{tests.twistedsuites.runtrial.defaultHangLimit}.
        @param maxHangs: how many hung tests the run may restart without.
        """
        plugin, self.reactorFQPN = reactors[side]
        self.side = side
        self.hangLimit = defaultHangLimit() if hangLimit is None else hangLimit
        self.maxHangs = maxHangs
        self._name = side + tag
        self._directory = directory
        self._arguments = [
            "--reactor=" + plugin,
            "--reporter=text",
            "--hang-limit={:g}".format(self.hangLimit),
        ]
        if builder:
            self._arguments.append("--builder-reactor=" + self.reactorFQPN)
        self._arguments.extend(extraArguments)
        self._tests = list(tests)
        self.attempts: List[Attempt] = []
        self.hung: List[str] = []
        self._excluded: List[str] = []
        self.elapsed: Optional[float] = None
        self._started = time.monotonic()
        self._attempt()

    def _attempt(self) -> None:
        """
        Start the next attempt, without the tests that hung.
        """
        name = self._name
        if self.attempts:
            name += "-attempt{}".format(len(self.attempts) + 1)
        results = os.path.join(self._directory, name + ".jsonl")
        temporary = os.path.join(self._directory, "trial-" + name)
        arguments = [sys.executable, "-m", "tests.twistedsuites.runtrial", results]
        arguments += ["--temp-directory=" + temporary] + self._arguments
        arguments += ["--exclude=" + testId for testId in self._excluded]
        arguments += self._tests
        log = os.path.join(self._directory, name + ".log")
        self.attempts.append(Attempt(arguments, results, log))

    def wait(self, deadline: float) -> None:
        """
        Wait for the attempts to end, starting the next whenever the
        watchdog ended one and fewer than C{maxHangs} tests hung before,
        killing the last and its children at C{deadline} (a
        L{time.monotonic} value).
        """
        while True:
            attempt = self.attempts[-1]
            attempt.wait(deadline)
            testId = attempt.hung()
            if testId is None:
                break
            self._excluded.append(testId)
            self.hung.append(normaliseId(testId, self.reactorFQPN))
            if len(self.hung) > self.maxHangs:
                break
            self._attempt()
        self.elapsed = time.monotonic() - self._started

    @property
    def log(self) -> str:
        """
        The path of the last attempt's output.
        """
        return self.attempts[-1].log

    def outcomes(self) -> Outcomes:
        """
        @return: what its attempts recorded, by normalised test id; a test
            recorded by more than one keeps the worst outcome.
        """
        outcomes: Outcomes = {}
        for attempt in self.attempts:
            readOutcomes(attempt.results, self.reactorFQPN, outcomes)
        return outcomes

    def abnormal(self) -> Optional[str]:
        """
        Tell whether the run ended as a complete C{trial} run does (see
        L{Attempt.abnormal}): its last attempt must have, and no more than
        C{maxHangs} tests may have hung.

        @return: L{None} when it did; otherwise what went wrong, in words.
        """
        if len(self.hung) > self.maxHangs:
            return "{} tests hung, and a run restarts without at most {}".format(
                len(self.hung), self.maxHangs
            )
        return self.attempts[-1].abnormal()

    def tail(self, lines: int = 3) -> str:
        """
        @return: the last C{lines} lines of its last attempt's output
            (trial's summary, or the stacks of a hung test).
        """
        with open(self.log, errors="replace") as log:
            return "".join(log.readlines()[-lines:]).strip()


def _defaultSignals() -> None:
    """
    In the child, before C{exec}: give SIGINT its default disposition back.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def denormalise(testId: str, reactorFQPN: str) -> str:
    """
    @return: the C{trial} name of a test that L{normaliseId} renamed for
        C{reactorFQPN}.
    """
    short = reactorFQPN.rsplit(".", 1)[-1]
    return testId.replace("_REACTORTests.", "_" + short + "Tests.")


class Comparison:
    """
    Both sides' outcomes on one set of suites, and what regressed.

    @ivar title: what was compared, for the report.
    @ivar runs: the L{Run}s, by side.
    @ivar outcomes: their outcomes, by side.
    @ivar regressed: L{regressions} that never reported on ours, or failed
        again when rerun alone.
    @ivar flaky: L{regressions} that passed when rerun alone.
    @ivar hung: for every run that had tests hang (L{Run.hung}; the rerun is
        L{RERUN}), their normalised ids.
    @ivar abnormal: for every run that did not end normally (L{Run.abnormal};
        the rerun is L{RERUN}), what went wrong.
    @ivar elapsed: wall time of the whole comparison.
    """

    def __init__(
        self,
        title: str,
        tests: Sequence[str],
        builder: bool,
        directory: Optional[str] = None,
        timeout: float = 900.0,
        sides: Iterable[str] = (OURS, STOCK),
        reactors: Dict[str, Tuple[str, str]] = REACTORS,
        hangLimit: Optional[float] = None,
        maxHangs: int = MAX_HANGS,
    ) -> None:
        """
        Run the suites on each side in parallel, then rerun what regressed.

        @param title: what is compared, for the report.
        @param tests: the test names for C{trial}.
        @param builder: whether to point the ReactorBuilder suites at each
            side's reactor.
        @param directory: where results and logs go; a new temporary
            directory by default.
        @param timeout: seconds each side may run, its restarts after a
            hung test included, before it is killed; as many again for the
            rerun.
        @param sides: which sides to run (only L{OURS} where there is no
            C{select.epoll}).
        @param reactors: for each side, the C{--reactor} plugin name and the
            builder reactor.
        @param hangLimit: the watchdog's limit (L{Run}).
        @param maxHangs: how many hung tests a run may restart without.
        """
        started = time.monotonic()
        self.title = title
        self.directory = directory or tempfile.mkdtemp(prefix="twistedsuites-")
        self.builder = builder
        self.reactors = reactors
        self.hangLimit = defaultHangLimit() if hangLimit is None else hangLimit
        self.maxHangs = maxHangs
        self.runs = {
            side: Run(
                side,
                tests,
                self.directory,
                builder,
                reactors=reactors,
                hangLimit=self.hangLimit,
                maxHangs=maxHangs,
            )
            for side in sides
        }
        deadline = time.monotonic() + timeout
        for run in self.runs.values():
            run.wait(deadline)
        self.outcomes = {side: run.outcomes() for side, run in self.runs.items()}
        self.hung = {side: run.hung for side, run in self.runs.items() if run.hung}
        self.abnormal: Dict[str, str] = {}
        for side, run in self.runs.items():
            why = run.abnormal()
            if why is not None:
                self.abnormal[side] = why
        self.regressed: List[Tuple[str, str, str]] = []
        self.flaky: List[Tuple[str, str, str]] = []
        if STOCK in self.outcomes:
            suspects = []
            for found in regressions(self.outcomes[OURS], self.outcomes[STOCK]):
                # A test our run never reported is lost, not flaky: passing
                # alone says nothing about what ended or skipped it here.
                if found[1] == "missing":
                    self.regressed.append(found)
                else:
                    suspects.append(found)
            if len(suspects) > RERUN_LIMIT:
                # Not flakiness: something broke.
                self.regressed.extend(suspects)
            elif suspects:
                self._rerun(suspects, timeout)
            self.regressed.sort()
        self.elapsed = time.monotonic() - started

    def _rerun(self, suspects: List[Tuple[str, str, str]], timeout: float) -> None:
        """
        Run each suspect once more on our reactor, in one process, and sort
        them into L{regressed} and L{flaky}.
        """
        rerun = Run(
            OURS,
            [denormalise(testId, self.reactors[OURS][1]) for testId, _, _ in suspects],
            self.directory,
            self.builder,
            tag="-rerun",
            reactors=self.reactors,
            hangLimit=self.hangLimit,
            maxHangs=self.maxHangs,
        )
        rerun.wait(time.monotonic() + timeout)
        why = rerun.abnormal()
        if why is not None:
            self.abnormal[RERUN] = why
        if rerun.hung:
            self.hung[RERUN] = rerun.hung
        again = rerun.outcomes()
        for suspect in suspects:
            if again.get(suspect[0], ("missing", ""))[0] == "success":
                self.flaky.append(suspect)
            else:
                self.regressed.append(suspect)

    def counts(self, side: str) -> str:
        """
        @return: one line of C{side}'s counts and time.
        """
        outcomes = self.outcomes[side]
        run = self.runs[side]
        parts = ["{} passed".format(count(outcomes, "success"))]
        for outcome in ("failure", "error", "skip", "expectedFailure"):
            number = count(outcomes, outcome)
            if number:
                parts.append("{} {}".format(number, outcome))
            if outcome == "error" and run.hung:
                # The hung tests are among the errors.
                parts[-1] += " ({} hung; {} attempts)".format(
                    len(run.hung), len(run.attempts)
                )
        return "{:5} ({}): {} of {} tests, {:.0f} s{}".format(
            side,
            self.reactors[side][1],
            ", ".join(parts),
            len(outcomes),
            run.elapsed or 0.0,
            ", ENDED ABNORMALLY: " + self.abnormal[side]
            if side in self.abnormal
            else "",
        )

    def report(self) -> str:
        """
        @return: the counts of each side, the tests that hung on each, the
            flaky tests, and every regression with our outcome and its
            detail.
        """
        lines = [
            "{} ({:.0f} s, logs in {})".format(self.title, self.elapsed, self.directory)
        ]
        for side in self.runs:
            lines.append("  " + self.counts(side))
        for side, why in self.abnormal.items():
            if side not in self.runs:
                lines.append("  {}: ENDED ABNORMALLY: {}".format(side, why))
        for side, hung in self.hung.items():
            # Each is an error on its side: on stock, a test not compared;
            # on ours, a regression unless stock does not pass it either.
            lines.append(
                "  hung on {} (ended by the watchdog after {:g} s): {}".format(
                    side, self.hangLimit, len(hung)
                )
            )
            lines.extend("    " + testId for testId in hung)
        for label, found in (
            ("flaky (failed on ours, passed alone on rerun)", self.flaky),
            ("REGRESSIONS (pass on stock, not on ours)", self.regressed),
        ):
            if found:
                lines.append("  {}: {}".format(label, len(found)))
                for testId, outcome, detail in found[:REPORT_LIMIT]:
                    lines.append("    {} [{}] {}".format(testId, outcome, detail))
                if len(found) > REPORT_LIMIT:
                    lines.append(
                        "    ... and {} more: see the logs".format(
                            len(found) - REPORT_LIMIT
                        )
                    )
        return "\n".join(lines)

    def problems(self, allowed: Iterable[str] = ()) -> List[str]:
        """
        @param allowed: test ids allowed to fail on ours when there is no
            stock run to compare with.
        @return: one line per run that ended abnormally (with the end of its
            output), then one per regression; without a stock run, one per
            test that failed or errored on ours and is not in C{allowed}, or
            the run's failure to report anything.
        """
        found = [
            "the {} run ended abnormally ({}):\n{}".format(
                side, why, self.runs[side].tail() if side in self.runs else ""
            )
            for side, why in self.abnormal.items()
        ]
        if STOCK in self.outcomes:
            if not self.outcomes[STOCK]:
                found.append(
                    "the stock run reported no tests:\n" + self.runs[STOCK].tail()
                )
            return found + ["{} [{}] {}".format(*each) for each in self.regressed]
        ours = self.outcomes[OURS]
        if not ours:
            return found + ["our run reported no tests:\n" + self.runs[OURS].tail()]
        allowedSet = set(allowed)
        return found + sorted(
            "{} [{}] {}".format(testId, outcome, detail)
            for testId, (outcome, detail) in ours.items()
            if outcome in ("failure", "error", "missing") and testId not in allowedSet
        )


def main(argv: List[str]) -> int:
    """
    Compare the named suites and print the report.

    @param argv: the arguments after the program name.
    @return: 1 when anything regressed or a run ended abnormally, else 0.
    """
    builder = False
    timeout = 1800.0
    hangLimit = None
    directory = None
    tests = []
    for argument in argv:
        if argument == "--builder":
            builder = True
        elif argument.startswith("--timeout="):
            timeout = float(argument.split("=", 1)[1])
        elif argument.startswith("--hang-limit="):
            hangLimit = float(argument.split("=", 1)[1])
        elif argument.startswith("--directory="):
            directory = argument.split("=", 1)[1]
            os.makedirs(directory, exist_ok=True)
        else:
            tests.append(argument)
    if not tests:
        raise SystemExit(__doc__)
    sides = (OURS, STOCK) if hasStockEpoll() else (OURS,)
    comparison = Comparison(
        "trial " + " ".join(tests),
        tests,
        builder,
        directory,
        timeout,
        sides,
        hangLimit=hangLimit,
    )
    print(comparison.report())
    return 1 if comparison.problems() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
