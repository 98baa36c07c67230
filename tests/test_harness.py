"""
The test suite's own machinery: a test that hangs must fail rather than
stop C{make test}, C{trial}'s test timeout can be shortened for the Twisted
suites, a Twisted test that hangs is ended by the watchdog of
L{tests.twistedsuites.runtrial} and the comparison goes on without it, and
the list of planted bugs behind C{make mutate} must still match the source
it plants them in.
"""

import json
import os
import subprocess
import sys
import textwrap
from typing import Any, Dict, List, Sequence

import pytest

from tests.twistedsuites import hanging
from tests.twistedsuites.compare import OURS, RERUN, STOCK, Comparison
from tests.twistedsuites.runtrial import HUNG_STATUS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The tests of L{tests.twistedsuites.hanging}, by method name.
HANGING = "tests.twistedsuites.hanging.Hanging."

#: The watchdog's limit in these tests: the tests that do not hang take
#: milliseconds.
HANG_LIMIT = 2.0


def test_timeoutConfigured(request: pytest.FixtureRequest) -> None:
    """
    The suite runs with a per-test timeout (pytest-timeout, configured in
    C{pyproject.toml}), so a hang cannot stall C{make test}.
    """
    assert float(request.config.getini("timeout")) > 0
    assert request.config.pluginmanager.hasplugin("timeout")


def test_hangFailsWithAStack(tmp_path: Any) -> None:
    """
    A test that blocks forever in L{epollreactor.epoll.poll} fails once its
    timeout has passed, with the stack it was blocked in, and the tests
    after it still run: the timeout's signal interrupts C{epoll_wait(2)},
    and its handler's exception leaves C{poll} (PEP 475).
    """
    hanging = tmp_path / "test_hanging.py"
    hanging.write_text(
        textwrap.dedent(
            """
            from epollreactor import epoll

            def test_hangs():
                with epoll() as ep:
                    ep.poll()

            def test_after():
                pass
            """
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-c",
            os.path.join(ROOT, "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "-o",
            "timeout=2",
            str(hanging),
        ],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Timeout" in result.stdout, result.stdout
    assert "ep.poll()" in result.stdout, result.stdout
    assert "1 failed, 1 passed" in result.stdout, result.stdout


def test_trialTimeoutFromEnvironment(tmp_path: Any) -> None:
    """
    With C{EPOLLREACTOR_TRIAL_TIMEOUT} set, L{tests.twistedsuites.runtrial}
    fails a test whose L{Deferred} never fires after that many seconds,
    with C{trial}'s C{TimeoutError}, instead of after C{trial}'s default 120.
    """
    (tmp_path / "test_waiting.py").write_text(
        textwrap.dedent(
            """
            from twisted.internet.defer import Deferred
            from twisted.trial import unittest

            class Waiting(unittest.TestCase):
                def test_waitsForever(self):
                    return Deferred()
            """
        )
    )
    results = tmp_path / "results.jsonl"
    environment = dict(
        os.environ,
        EPOLLREACTOR_TRIAL_TIMEOUT="0.5",
        PYTHONPATH=os.pathsep.join([ROOT, str(tmp_path)]),
    )
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.twistedsuites.runtrial",
            str(results),
            "--temp-directory=" + str(tmp_path / "trial"),
            "test_waiting",
        ],
        cwd=str(tmp_path),
        env=environment,
        capture_output=True,
        text=True,
        timeout=100,
    )
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert lines[0]["id"] == "test_waiting.Waiting.test_waitsForever", child.stdout
    assert lines[0]["outcome"] == "error"
    assert "TimeoutError" in lines[0]["detail"]
    assert "0.5 secs" in lines[0]["detail"]
    assert lines[-1] == {"finished": True, "successful": False}


def runTrial(
    tmp_path: Any, arguments: Sequence[str]
) -> "subprocess.CompletedProcess[str]":
    """
    Run L{tests.twistedsuites.runtrial} on L{tests.twistedsuites.hanging}
    from the repository's top directory, its results in C{tmp_path}.

    @param arguments: its options, before the test names.
    @return: the finished process, its output (standard error included) in
        C{stdout}.
    """
    return subprocess.run(
        [sys.executable, "-m", "tests.twistedsuites.runtrial"]
        + [str(tmp_path / "results.jsonl"), "--temp-directory=" + str(tmp_path / "t")]
        + list(arguments)
        + ["tests.twistedsuites.hanging"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=100,
    )


def records(tmp_path: Any) -> List[Dict[str, Any]]:
    """
    @return: the records in the results file of L{runTrial}.
    """
    text = (tmp_path / "results.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_watchdogEndsAHungTest(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    With C{--hang-limit}, a test that blocks outside the reactor is ended
    once it has run that long: it is recorded last, as an error marked
    hung, every thread's stack (the hung test's frame among them) is in the
    output, and the process exits with L{HUNG_STATUS}.
    """
    monkeypatch.setenv(hanging.VARIABLE, "both")
    child = runTrial(tmp_path, ["--hang-limit={:g}".format(HANG_LIMIT)])
    assert child.returncode == HUNG_STATUS, child.stdout
    assert records(tmp_path) == [
        {"id": HANGING + "test_beforeHanging", "outcome": "success", "detail": ""},
        {
            "id": HANGING + "test_hangs",
            "outcome": "error",
            "detail": "hung: still running after 2 s",
            "hung": True,
        },
    ]
    # The hung test's frames, by function: PyPy's line numbers are
    # approximate.
    assert 'hanging.py", line' in child.stdout, child.stdout
    assert "in hangHere\n" in child.stdout
    assert "in test_hangs\n" in child.stdout


def test_excludeLeavesTestsOut(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    C{--exclude}, once per test id, leaves those tests out of the suite and
    runs the rest to the end.
    """
    monkeypatch.setenv(hanging.VARIABLE, "both")
    child = runTrial(
        tmp_path,
        ["--exclude=" + HANGING + name for name in ("test_hangs", "test_hangsToo")],
    )
    assert child.returncode == 0, child.stdout
    assert [record.get("id") for record in records(tmp_path)] == [
        HANGING + "test_beforeHanging",
        HANGING + "test_runsAfterHanging",
        None,
    ]
    assert records(tmp_path)[-1] == {"finished": True, "successful": True}


def test_excludeNamesAnUnknownTest(tmp_path: Any) -> None:
    """
    Excluding a test the suite does not hold is an error that names it,
    before any test runs: a misspelt name must not exclude nothing
    silently.
    """
    child = runTrial(tmp_path, ["--exclude=" + HANGING + "test_nothing"])
    assert child.returncode == 1
    assert "no such test in the suite: " + HANGING + "test_nothing" in child.stdout
    assert records(tmp_path) == []


def hangingComparison(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, side: str, maxHangs: int = 3
) -> Comparison:
    """
    Compare L{tests.twistedsuites.hanging} on both sides (under each one's
    global reactor), its two hanging tests hanging on C{side}.
    """
    monkeypatch.setenv(hanging.VARIABLE, side)
    return Comparison(
        "Hanging tests on " + side,
        ["tests.twistedsuites.hanging"],
        False,
        str(tmp_path),
        hangLimit=HANG_LIMIT,
        maxHangs=maxHangs,
    )


#: What each hung test is recorded as.
HUNG = ("error", "hung: still running after 2 s")


@pytest.mark.requiresSelectEpoll
def test_hangOnStockIsNoComparison(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Tests that hang on stock are ended by the watchdog, stock starts again
    without each, and the tests after them are still compared; the hung
    tests are errors there, so not compared, and listed in the report; the
    run did not end abnormally.
    """
    comparison = hangingComparison(tmp_path, monkeypatch, STOCK)
    hung = [HANGING + "test_hangs", HANGING + "test_hangsToo"]
    assert comparison.hung == {STOCK: hung}
    assert len(comparison.runs[STOCK].attempts) == 3
    # test_beforeHanging ran in every attempt, test_runsAfterHanging in the
    # last alone: both count.
    assert comparison.outcomes[STOCK] == {
        HANGING + "test_beforeHanging": ("success", ""),
        hung[0]: HUNG,
        hung[1]: HUNG,
        HANGING + "test_runsAfterHanging": ("success", ""),
    }
    assert set(comparison.outcomes[OURS].values()) == {("success", "")}
    assert comparison.abnormal == {}
    assert comparison.regressed == comparison.flaky == []
    assert comparison.problems() == []
    report = comparison.report()
    assert "2 passed, 2 error (2 hung; 3 attempts) of 4 tests" in report, report
    assert (
        "hung on stock (ended by the watchdog after 2 s): 2\n    {}\n    {}".format(
            *hung
        )
        in report
    ), report


@pytest.mark.requiresSelectEpoll
def test_hangOnOursIsARegression(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Tests that hang on ours and pass on stock are suspects, rerun alone
    under the watchdog, where they hang again: regressions, as hung, in the
    report and the problems; neither run ended abnormally.
    """
    comparison = hangingComparison(tmp_path, monkeypatch, OURS)
    hung = [HANGING + "test_hangs", HANGING + "test_hangsToo"]
    assert comparison.hung == {OURS: hung, RERUN: hung}
    assert comparison.regressed == [(testId,) + HUNG for testId in hung]
    assert comparison.flaky == []
    assert comparison.abnormal == {}
    assert comparison.problems() == [
        "{} [error] hung: still running after 2 s".format(testId) for testId in hung
    ]
    assert "hung on ours (ended by the watchdog after 2 s): 2" in comparison.report()


@pytest.mark.requiresSelectEpoll
def test_moreHangsThanAllowedAreAbnormal(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A run with more hung tests than it may start again without ends there,
    abnormally: the tests it never got to are not silently dropped.
    """
    comparison = hangingComparison(tmp_path, monkeypatch, STOCK, maxHangs=1)
    why = "2 tests hung, and a run restarts without at most 1"
    assert comparison.abnormal == {STOCK: why}
    assert len(comparison.runs[STOCK].attempts) == 2
    assert comparison.problems()[0].startswith(
        "the stock run ended abnormally ({})".format(why)
    )
    assert HANGING + "test_runsAfterHanging" not in comparison.outcomes[STOCK]
