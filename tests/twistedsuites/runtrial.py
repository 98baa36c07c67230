"""
C{trial}, recording each test's outcome as one JSON line in a file.

Usage::

    python -m tests.twistedsuites.runtrial RESULTS [--builder-reactor=FQPN] \\
        [--hang-limit=SECONDS] [--exclude=TEST_ID...] \\
        [trial options and test names...]

Each line of C{RESULTS} is C{{"id": ..., "outcome": ..., "detail": ...}},
written and flushed as the test ends, so a run that crashes or hangs still
leaves the outcomes it got to.  C{outcome} is one of C{success}, C{failure},
C{error}, C{skip}, C{expectedFailure}, C{unexpectedSuccess}.  A test may be
reported more than once (an error in its cleanup after a pass, say); the
reader keeps the worst.  When C{trial} has run every test, a last line
C{{"finished": true, "successful": ...}} records that and the result's
C{wasSuccessful()}: a file without it comes from a run that ended early
(killed, or an C{os._exit} in a test), whatever its exit status says.

C{--builder-reactor=FQPN} replaces
C{twisted.internet.test.reactormixins.ReactorBuilder._reactors} with
C{[FQPN]} once C{trial} has installed its global reactor and before it
imports any test module, so that every ReactorBuilder suite generates its
test case classes for that reactor alone.

C{--hang-limit=SECONDS} starts a L{Watchdog}: when one test has run longer
than that, its record is written as an C{error} with C{"hung": true}, every
thread's stack goes to standard error, and the process ends with
L{HUNG_STATUS}.  A test that blocks without returning to the reactor (a
C{waitpid} that never returns, say) is beyond C{trial}'s own timeout, which
runs on the reactor; without the watchdog such a test stops the whole run.
L{defaultHangLimit} is above C{trial}'s timeout, so that a test that times
out on C{trial}'s clock is still an ordinary error.

C{--exclude=TEST_ID} (repeatable) leaves the test whose C{id()} that is out
of the suite, so that a run the watchdog ended can start again without the
test that hung; naming a test the suite does not hold is an error.

C{EPOLLREACTOR_TRIAL_TIMEOUT}, when set in the environment, is the seconds
a test that sets no timeout of its own may wait for its L{Deferred}
(C{trial}'s default is 120).  The matrix sets it for old Twisted releases,
a dozen of whose TLS tests wait out the whole timeout on every reactor
alike under OpenSSL 3 (the handshake fails, "no suitable signature
algorithm"): a test that times out on stock is no regression, but at 120
seconds each they would take longer than CI allows.
"""

import faulthandler
import json
import os
import sys
import threading
import time
from typing import IO, Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Set

BUILDER_OPTION = "--builder-reactor="
HANG_OPTION = "--hang-limit="
EXCLUDE_OPTION = "--exclude="

#: The environment variable that sets C{trial}'s default test timeout.
TIMEOUT_VARIABLE = "EPOLLREACTOR_TRIAL_TIMEOUT"

#: Seconds a test may run past C{trial}'s timeout before L{defaultHangLimit}
#: calls it hung: room for its C{tearDown} and cleanups after the timeout.
HANG_MARGIN = 30.0

#: The exit status of a run the L{Watchdog} ended, as C{timeout(1)}'s is of
#: a command that ran out of time; distinct from C{trial}'s 0, 1 and 2.
HUNG_STATUS = 124


def trialTimeout() -> float:
    """
    @return: the seconds a test that sets no timeout of its own may wait
        for its L{Deferred}: C{EPOLLREACTOR_TRIAL_TIMEOUT}, or C{trial}'s
        default.
    """
    if os.environ.get(TIMEOUT_VARIABLE):
        return float(os.environ[TIMEOUT_VARIABLE])
    from twisted.trial import util

    return float(util.DEFAULT_TIMEOUT_DURATION)


def defaultHangLimit() -> float:
    """
    @return: the C{--hang-limit} for a run in this environment: L{HANG_MARGIN}
        past L{trialTimeout}.  (No Twisted test sets a timeout of its own
        above C{trial}'s default.)
    """
    return trialTimeout() + HANG_MARGIN


class Recorder:
    """
    Writes records to the results file, one JSON line each, from the test
    thread and the L{Watchdog}'s alike.

    @ivar lock: held while a line is written, so that lines never mix.
    """

    def __init__(self, out: IO[str]) -> None:
        """
        @param out: the results file, open for writing.
        """
        self._out = out
        self.lock = threading.Lock()

    def write(self, record: Dict[str, Any]) -> None:
        """
        Write C{record} as one line and flush it.
        """
        with self.lock:
            self._writeLocked(record)

    def _writeLocked(self, record: Dict[str, Any]) -> None:
        """
        Write C{record}, the caller holding L{lock}.
        """
        self._out.write(json.dumps(record) + "\n")
        self._out.flush()

    def last(self, record: Dict[str, Any]) -> None:
        """
        Write C{record} and keep L{lock} for good, so that nothing is written
        after it: the caller ends the process next.
        """
        self.lock.acquire()
        self._writeLocked(record)


class Watchdog:
    """
    A daemon thread that ends the process when one test has run longer than
    its limit, with that test's record (an C{error} marked C{"hung": true})
    as the results file's last line, and every thread's stack on standard
    error.

    @ivar limit: the seconds a test may run.
    """

    def __init__(self, limit: float, recorder: Recorder) -> None:
        """
        Start watching; no test is running yet.

        @param limit: the seconds a test may run.
        @param recorder: where the hung test's record goes.
        """
        self.limit = limit
        self._recorder = recorder
        self._running: Optional[Any] = None
        self._started = 0.0
        self._changed = threading.Condition()
        threading.Thread(target=self._watch, name="hang watchdog", daemon=True).start()

    def startTest(self, test: Any) -> None:
        """
        C{test} starts now.
        """
        with self._changed:
            self._running, self._started = test, time.monotonic()
            self._changed.notify()

    def stopTest(self) -> None:
        """
        The running test has ended.
        """
        with self._changed:
            self._running = None
            self._changed.notify()

    def _watch(self) -> None:
        """
        Wait until a test has run past L{limit}, then L{_end} the process.
        """
        with self._changed:
            while True:
                if self._running is None:
                    self._changed.wait()
                    continue
                left = self._started + self.limit - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            test = self._running
        self._end(test.id())

    def _end(self, testId: str) -> None:
        """
        Record C{testId} as hung, dump every thread's stack to standard error
        (the run's log), and end the process with L{HUNG_STATUS}.
        """
        detail = "hung: still running after {:g} s".format(self.limit)
        self._recorder.last(
            {"id": testId, "outcome": "error", "detail": detail, "hung": True}
        )
        stderr = sys.__stderr__ or sys.stderr
        try:
            sys.stdout.flush()
            stderr.write("\n*** {} {}; every thread's stack:\n".format(testId, detail))
            stderr.flush()
            faulthandler.dump_traceback(file=stderr, all_threads=True)
        finally:
            os._exit(HUNG_STATUS)


def _describe(error: Any) -> str:
    """
    @param error: a L{twisted.python.failure.Failure} or an C{exc_info}
        tuple.
    @return: the error's type and message on one line, at most 300
        characters.
    """
    try:
        if isinstance(error, tuple):
            text = "{}: {}".format(error[0].__name__, error[1])
        else:
            text = "{}: {}".format(
                getattr(error.type, "__name__", error.type), error.getErrorMessage()
            )
    except Exception as e:  # a description must never break the run
        text = "undescribable error ({!r})".format(e)
    return " ".join(text.split())[:300]


def recordingReporter(
    base: type, recorder: Recorder, watchdog: Optional[Watchdog] = None
) -> Callable[..., Any]:
    """
    Make a reporter class that reports as C{base} does and also writes each
    outcome to C{recorder}.

    @param base: a L{twisted.trial.reporter.Reporter} subclass.
    @param recorder: where the outcomes go.
    @param watchdog: told when each test starts and stops, if given.
    @return: the subclass.
    """

    def record(test: Any, outcome: str, detail: str = "") -> None:
        recorder.write({"id": test.id(), "outcome": outcome, "detail": detail})

    class RecordingReporter(base):  # type: ignore[misc]
        """
        C{base}, recording every outcome.
        """

        def startTest(self, test: Any) -> None:
            """
            Tell the watchdog C{test} starts.
            """
            if watchdog is not None:
                watchdog.startTest(test)
            super().startTest(test)

        def stopTest(self, test: Any) -> None:
            """
            Tell the watchdog C{test} has ended.
            """
            super().stopTest(test)
            if watchdog is not None:
                watchdog.stopTest()

        def addSuccess(self, test: Any) -> None:
            """
            Record a pass.
            """
            record(test, "success")
            super().addSuccess(test)

        def addFailure(self, test: Any, fail: Any) -> None:
            """
            Record a failure.
            """
            record(test, "failure", _describe(fail))
            super().addFailure(test, fail)

        def addError(self, test: Any, error: Any) -> None:
            """
            Record an error.
            """
            record(test, "error", _describe(error))
            super().addError(test, error)

        def addSkip(self, test: Any, reason: Any) -> None:
            """
            Record a skip and its reason.
            """
            record(test, "skip", " ".join(str(reason).split())[:300])
            super().addSkip(test, reason)

        def addExpectedFailure(self, test: Any, error: Any, todo: Any = None) -> None:
            """
            Record a failure that a C{todo} expected.
            """
            record(test, "expectedFailure", _describe(error))
            super().addExpectedFailure(test, error, todo)

        def addUnexpectedSuccess(self, test: Any, todo: Any = None) -> None:
            """
            Record a pass that a C{todo} expected to fail.
            """
            record(test, "unexpectedSuccess")
            super().addUnexpectedSuccess(test, todo)

    return RecordingReporter


class Arguments(NamedTuple):
    """
    The command line, parsed.

    @ivar results: the results file's path.
    @ivar builderReactor: the builder reactor's FQPN, or L{None}.
    @ivar hangLimit: the L{Watchdog}'s limit in seconds, or L{None} for no
        watchdog.
    @ivar excluded: the ids of the tests to leave out.
    @ivar trialArguments: the arguments for C{trial}.
    """

    results: str
    builderReactor: Optional[str]
    hangLimit: Optional[float]
    excluded: Set[str]
    trialArguments: List[str]


def parseArguments(argv: List[str]) -> Arguments:
    """
    @param argv: the arguments after the program name.
    @return: what they say.
    @raise SystemExit: with the usage when there are none, or when
        C{--hang-limit} is not a positive number.
    """
    if not argv:
        raise SystemExit(__doc__)
    parsed = Arguments(argv[0], None, None, set(), [])
    for argument in argv[1:]:
        if argument.startswith(BUILDER_OPTION):
            parsed = parsed._replace(builderReactor=argument[len(BUILDER_OPTION) :])
        elif argument.startswith(HANG_OPTION):
            parsed = parsed._replace(hangLimit=_positive(argument))
        elif argument.startswith(EXCLUDE_OPTION):
            parsed.excluded.add(argument[len(EXCLUDE_OPTION) :])
        else:
            parsed.trialArguments.append(argument)
    return parsed


def _positive(argument: str) -> float:
    """
    @param argument: C{--option=NUMBER}.
    @return: the number.
    @raise SystemExit: naming the option, when it is not a positive number.
    """
    option, _, value = argument.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise SystemExit(
            "{} wants a positive number of seconds, not {!r}".format(option, value)
        )
    return number


def _iterateTests(suite: Any) -> Iterator[Any]:
    """
    @param suite: a test suite or a test.
    @return: the tests in C{suite}, depth first, in order.
    """
    try:
        members = iter(suite)
    except TypeError:
        yield suite
        return
    for member in members:
        yield from _iterateTests(member)


def excluding(suite: Any, excluded: Set[str]) -> Any:
    """
    @param suite: the suite C{trial} built.
    @param excluded: ids of tests in it.
    @return: a suite of the tests of C{suite} whose ids are not in
        C{excluded}, in the same order.
    @raise SystemExit: naming the ids C{suite} does not hold, lest a
        misspelt name exclude nothing without a word.
    """
    from twisted.trial.unittest import TestSuite

    tests = list(_iterateTests(suite))
    unknown = excluded.difference(test.id() for test in tests)
    if unknown:
        raise SystemExit(
            "{}: no such test in the suite: {}".format(
                EXCLUDE_OPTION.rstrip("="), ", ".join(sorted(unknown))
            )
        )
    return TestSuite([test for test in tests if test.id() not in excluded])


def main(argv: List[str]) -> int:
    """
    Run C{trial} as its own script does, with the recording reporter.

    @param argv: the arguments after the program name.
    @return: the exit status: 0 when every test passed.
    """
    arguments = parseArguments(argv)
    from twisted.scripts import trial
    from twisted.trial import util

    # TestCase.getTimeout reads it at each test.
    util.DEFAULT_TIMEOUT_DURATION = trialTimeout()
    config: Any = trial.Options()
    # Parsing the options installs the reactor named by --reactor.
    config.parseOptions(arguments.trialArguments)
    if arguments.builderReactor is not None:
        from twisted.internet.test.reactormixins import ReactorBuilder

        ReactorBuilder._reactors = [arguments.builderReactor]
    trial._initialDebugSetup(config)
    with open(arguments.results, "w") as out:
        recorder = Recorder(out)
        watchdog = None
        if arguments.hangLimit is not None:
            watchdog = Watchdog(arguments.hangLimit, recorder)
        config["reporter"] = recordingReporter(config["reporter"], recorder, watchdog)
        trialRunner = trial._makeRunner(config)
        suite = trial._getSuite(config)
        if arguments.excluded:
            suite = excluding(suite, arguments.excluded)
        result: Any = trialRunner.run(suite)
        successful = bool(result.wasSuccessful())
        recorder.write({"finished": True, "successful": successful})
    return 0 if successful else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
