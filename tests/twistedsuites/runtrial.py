"""
C{trial}, recording each test's outcome as one JSON line in a file.

Usage::

    python -m tests.twistedsuites.runtrial RESULTS [--builder-reactor=FQPN] \\
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

C{EPOLLREACTOR_TRIAL_TIMEOUT}, when set in the environment, is the seconds
a test that sets no timeout of its own may wait for its L{Deferred}
(C{trial}'s default is 120).  The matrix sets it for old Twisted releases,
a dozen of whose TLS tests wait out the whole timeout on every reactor
alike under OpenSSL 3 (the handshake fails, "no suitable signature
algorithm"): a test that times out on stock is no regression, but at 120
seconds each they would take longer than CI allows.
"""

import json
import os
import sys
from typing import IO, Any, Callable, List, Optional, Tuple

BUILDER_OPTION = "--builder-reactor="

#: The environment variable that sets C{trial}'s default test timeout.
TIMEOUT_VARIABLE = "EPOLLREACTOR_TRIAL_TIMEOUT"


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


def recordingReporter(base: type, out: IO[str]) -> Callable[..., Any]:
    """
    Make a reporter class that reports as C{base} does and also writes each
    outcome to C{out}.

    @param base: a L{twisted.trial.reporter.Reporter} subclass.
    @param out: a text file open for writing.
    @return: the subclass.
    """

    def record(test: Any, outcome: str, detail: str = "") -> None:
        out.write(
            json.dumps({"id": test.id(), "outcome": outcome, "detail": detail}) + "\n"
        )
        out.flush()

    class RecordingReporter(base):  # type: ignore[misc]
        """
        C{base}, recording every outcome.
        """

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


def parseArguments(argv: List[str]) -> Tuple[str, Optional[str], List[str]]:
    """
    @param argv: the arguments after the program name.
    @return: the results path, the builder reactor's FQPN or L{None}, and
        the arguments for C{trial}.
    """
    if not argv:
        raise SystemExit(__doc__)
    results, rest = argv[0], argv[1:]
    builderReactor = None
    trialArguments = []
    for argument in rest:
        if argument.startswith(BUILDER_OPTION):
            builderReactor = argument[len(BUILDER_OPTION) :]
        else:
            trialArguments.append(argument)
    return results, builderReactor, trialArguments


def main(argv: List[str]) -> int:
    """
    Run C{trial} as its own script does, with the recording reporter.

    @param argv: the arguments after the program name.
    @return: the exit status: 0 when every test passed.
    """
    results, builderReactor, trialArguments = parseArguments(argv)
    from twisted.scripts import trial
    from twisted.trial import util

    if os.environ.get(TIMEOUT_VARIABLE):
        # TestCase.getTimeout reads it at each test.
        util.DEFAULT_TIMEOUT_DURATION = float(os.environ[TIMEOUT_VARIABLE])

    config: Any = trial.Options()
    # Parsing the options installs the reactor named by --reactor.
    config.parseOptions(trialArguments)
    if builderReactor is not None:
        from twisted.internet.test.reactormixins import ReactorBuilder

        ReactorBuilder._reactors = [builderReactor]
    trial._initialDebugSetup(config)
    with open(results, "w") as out:
        config["reporter"] = recordingReporter(config["reporter"], out)
        trialRunner = trial._makeRunner(config)
        suite = trial._getSuite(config)
        result: Any = trialRunner.run(suite)
        successful = bool(result.wasSuccessful())
        out.write(json.dumps({"finished": True, "successful": successful}) + "\n")
    return 0 if successful else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
