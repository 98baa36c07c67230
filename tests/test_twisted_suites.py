"""
Twisted's own test suites pass on L{epollreactor.EPollReactor} wherever
they pass on Twisted's stock C{EPollReactor}.

Each comparison runs both reactors' suites in parallel subprocesses (see
L{tests.twistedsuites.compare}), prints both pass counts, and fails listing
every test that passes on stock and fails, errors, is skipped or is missing
on ours.  Where C{select.epoll} is missing (C{make test-noepoll}) there is
no stock reactor to run: our run alone must have no failures or errors
beyond L{ALLOWED_WITHOUT_STOCK}.

C{make test-twisted-full} runs the same comparison on all of Twisted.
"""

import os
import time
from typing import Any, Iterable, Sequence

import pytest

from tests.conftest import HAVE_SELECT_EPOLL, NO_SELECT_EPOLL_REASON
from tests.twistedsuites import dyingreactor
from tests.twistedsuites.compare import (
    BUILDER_SUITES,
    GLOBAL_SUITES,
    OURS,
    REACTORS,
    REPORT_LIMIT,
    STOCK,
    Comparison,
    Run,
    normaliseId,
    regressions,
)
from tests.twistedsuites.runtrial import TIMEOUT_VARIABLE

#: Seconds each side of a comparison may run, restarts after hung tests
#: included; the global-reactor suites, the longer, take under two minutes
#: a side on the shared machine.  A test that hangs costs its side the
#: watchdog's limit (trial's timeout, 120 s, + 30 s) and a second start, at
#: most 2 * 120 + 150 = 390 s: room for one hang, and for more on an idle
#: machine; past TIMEOUT the side is killed and the comparison fails.
TIMEOUT = 600.0

#: Both sides run at once, and what regressed runs again alone, with a
#: TIMEOUT of its own (a test that hung on ours hangs again there, for
#: another 150 s): the per-test timeout (pyproject.toml) of a comparison
#: covers both, 2 * 600 + 60 s, so one hang and its restart fit.
SLOW = pytest.mark.timeout(2 * TIMEOUT + 60)

#: Tests that fail on the stock reactor too for reasons of this machine, not
#: of the reactor, and are therefore allowed to fail on ours where there is
#: no stock run to compare with.
ALLOWED_WITHOUT_STOCK = (
    # Run as root, the test spawns the interpreter as uid/gid 1, which may
    # not read the virtualenv; the stock reactor fails it the same way.
    [
        "twisted.internet.test.test_process.{}_REACTORTests.test_change{}".format(
            builder, which
        )
        for builder in ("ProcessTestsBuilder", "PTYProcessTestsBuilder")
        for which in ("UID", "GID")
    ]
    if os.getuid() == 0
    else []
)


def compareAndReport(
    title: str,
    tests: Sequence[str],
    builder: bool,
    directory: str,
    capsys: pytest.CaptureFixture[str],
    sides: Iterable[str],
) -> None:
    """
    Run a comparison, print its report past pytest's capture (so that
    C{make test} shows both pass counts), and fail with its problems.
    """
    comparison = Comparison(title, tests, builder, directory, TIMEOUT, sides)
    with capsys.disabled():
        print("\n" + comparison.report())
    problems = comparison.problems(ALLOWED_WITHOUT_STOCK)
    assert not problems, "{} problems, the first ones:\n{}".format(
        len(problems), "\n".join(problems[:REPORT_LIMIT])
    )


@pytest.mark.requiresSelectEpoll
@SLOW
def test_reactorBuilderSuitesMatchStock(
    tmp_path: "os.PathLike[str]", capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Every test in C{twisted.internet.test} (the ReactorBuilder suites,
    pointed at one reactor through C{ReactorBuilder._reactors}) that passes
    on the stock epoll reactor passes on ours.
    """
    compareAndReport(
        "ReactorBuilder suites: trial " + " ".join(BUILDER_SUITES),
        BUILDER_SUITES,
        True,
        str(tmp_path),
        capsys,
        (OURS, STOCK),
    )


@pytest.mark.requiresSelectEpoll
@SLOW
def test_globalReactorSuitesMatchStock(
    tmp_path: "os.PathLike[str]", capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Every test of the suites that use the global reactor that passes under
    C{trial --reactor=epoll} passes under C{trial --reactor=ctypes-epoll}.
    """
    compareAndReport(
        "Global-reactor suites: trial " + " ".join(GLOBAL_SUITES),
        GLOBAL_SUITES,
        False,
        str(tmp_path),
        capsys,
        (OURS, STOCK),
    )


@pytest.mark.skipif(
    HAVE_SELECT_EPOLL,
    reason="select.epoll exists: the *MatchStock tests compare with stock",
)
@pytest.mark.parametrize(
    "tests, builder",
    [(BUILDER_SUITES, True), (GLOBAL_SUITES, False)],
    ids=["builder", "global"],
)
@SLOW
def test_suitesPassWithoutStock(
    tests: Sequence[str],
    builder: bool,
    tmp_path: "os.PathLike[str]",
    capsys: pytest.CaptureFixture[str],
) -> None:
    """
    Without C{select.epoll} there is no stock reactor to compare with: the
    suites run on ours alone, with no failure or error beyond
    L{ALLOWED_WITHOUT_STOCK}.
    """
    compareAndReport(
        "Without stock ({}): trial {}".format(NO_SELECT_EPOLL_REASON, " ".join(tests)),
        tests,
        builder,
        str(tmp_path),
        capsys,
        (OURS,),
    )


def test_regressionsAreWhatPassesOnStockOnly() -> None:
    """
    A regression is a test that passes on stock and, on ours, fails, errors,
    is skipped or is missing; what fails on stock, or passes on both, is
    not.
    """
    stock = {
        "a": ("success", ""),
        "b": ("success", ""),
        "c": ("success", ""),
        "d": ("success", ""),
        "e": ("failure", "broken on stock"),
        "f": ("success", ""),
    }
    ours = {
        "a": ("success", ""),
        "b": ("failure", "assertion"),
        "c": ("skip", "no reason"),
        "e": ("error", "broken here too"),
        "f": ("error", "cleanup"),
    }
    assert regressions(ours, stock) == [
        ("b", "failure", "assertion"),
        ("c", "skip", "no reason"),
        ("d", "missing", "never reported"),
        ("f", "error", "cleanup"),
    ]


def test_normaliseIdNamesEitherReactorAlike() -> None:
    """
    The test case classes that C{ReactorBuilder} generates for either
    reactor get the same normalised name, whatever the reactor class is
    called; other names are left alone.
    """
    name = "twisted.internet.test.test_tcp.TCPPortTestsBuilder_{}Tests.test_x"
    assert normaliseId(name.format("EPollReactor"), REACTORS[OURS][1]) == (
        normaliseId(name.format("EPollReactor"), REACTORS[STOCK][1])
    )
    assert normaliseId(name.format("Other"), "a.Other") == normaliseId(
        name.format("EPollReactor"), REACTORS[STOCK][1]
    )
    assert normaliseId("twisted.test.test_tcp.X.test_y", "a.Other") == (
        "twisted.test.test_tcp.X.test_y"
    )


@pytest.mark.requiresSelectEpoll
@SLOW
def test_comparisonCatchesABrokenReactor(
    tmp_path: "os.PathLike[str]", capsys: pytest.CaptureFixture[str]
) -> None:
    """
    The comparison is not vacuous: with a reactor whose C{getWriters}
    forgets the writers standing in for ours, Twisted's own
    C{test_getWriters} passes on stock, fails on the broken one (also when
    run again alone), and is reported as a regression.
    """
    broken = dict(REACTORS)
    broken[OURS] = (REACTORS[OURS][0], "tests.twistedsuites.brokenreactor.EPollReactor")
    comparison = Comparison(
        "A broken reactor: trial twisted.internet.test.test_fdset",
        ["twisted.internet.test.test_fdset"],
        True,
        str(tmp_path),
        TIMEOUT,
        (OURS, STOCK),
        broken,
    )
    assert [testId.rsplit(".", 2)[-2:] for testId, _, _ in comparison.regressed] == [
        ["ReactorFDSetTestsBuilder_REACTORTests", "test_getWriters"]
    ]
    assert comparison.flaky == []
    assert "REGRESSIONS (pass on stock, not on ours): 1" in comparison.report()
    # Failing tests end a run with status 1, which is normal.
    assert comparison.abnormal == {}


#: A small ReactorBuilder suite (eleven tests, one skipped, one reactor
#: built for each), for the comparisons of L{test_comparisonFailsOnAnAbnormalEnd}.
SMALL_SUITE = "twisted.internet.test.test_fdset"

#: For each way of dying (L{tests.twistedsuites.dyingreactor}), how
#: L{tests.twistedsuites.compare.Run.abnormal} puts it.
DEATHS = {
    "exit3": "exit status 3 before trial had run every test",
    "exit1": "exit status 1 before trial had run every test",
    "kill": "killed by SIGKILL",
}


def dyingComparison(
    tmp_path: "os.PathLike[str]",
    monkeypatch: pytest.MonkeyPatch,
    side: str,
    how: str,
    sides: Iterable[str],
) -> Comparison:
    """
    Compare L{SMALL_SUITE} with C{side}'s builder reactor replaced by one
    that ends its process as C{how} says at the fifth reactor it builds.
    """
    monkeypatch.setenv(dyingreactor.VARIABLE, how + ":5")
    reactors = dict(REACTORS)
    reactors[side] = (
        REACTORS[side][0],
        "tests.twistedsuites.dyingreactor."
        + ("EPollReactor" if side == OURS else "StockEPollReactor"),
    )
    return Comparison(
        "A dying reactor: trial " + SMALL_SUITE,
        [SMALL_SUITE],
        True,
        str(tmp_path),
        TIMEOUT,
        sides,
        reactors,
    )


@pytest.mark.requiresSelectEpoll
@pytest.mark.parametrize(
    "side, how",
    [(OURS, how) for how in DEATHS] + [(STOCK, how) for how in DEATHS],
)
@SLOW
def test_comparisonFailsOnAnAbnormalEnd(
    tmp_path: "os.PathLike[str]", monkeypatch: pytest.MonkeyPatch, side: str, how: str
) -> None:
    """
    A run on either side that ends before C{trial} has run every test (an
    C{os._exit} with any status, or death by a signal) fails the
    comparison, named as such; when it is ours, every test it never got to
    is a regression although each passes alone, and none is called flaky.
    """
    comparison = dyingComparison(tmp_path, monkeypatch, side, how, (OURS, STOCK))
    assert comparison.abnormal == {side: DEATHS[how]}
    problems = comparison.problems()
    assert problems[0].startswith(
        "the {} run ended abnormally ({})".format(side, DEATHS[how])
    )
    assert "ENDED ABNORMALLY: " + DEATHS[how] in comparison.report()
    assert comparison.flaky == []
    if side == OURS:
        # Four reactors were built: the tests after the fourth never ran.
        assert len(comparison.outcomes[OURS]) == 4
        missing = [testId for testId, outcome, _ in comparison.regressed]
        assert len(missing) == 6
        assert set(missing).isdisjoint(comparison.outcomes[OURS])
        assert {outcome for _, outcome, _ in comparison.regressed} == {"missing"}
    else:
        # What stock never ran cannot regress: only the end is a problem.
        assert comparison.regressed == []
        assert len(problems) == 1


@SLOW
def test_comparisonWithoutStockFailsOnAnAbnormalEnd(
    tmp_path: "os.PathLike[str]", monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Without a stock run to compare with (C{make test-noepoll}), our run
    ending part-way with the exit status of failed tests, and no failure
    recorded, fails the comparison.
    """
    comparison = dyingComparison(tmp_path, monkeypatch, OURS, "exit1", (OURS,))
    assert comparison.abnormal == {OURS: DEATHS["exit1"]}
    assert comparison.problems(ALLOWED_WITHOUT_STOCK)[0].startswith(
        "the ours run ended abnormally"
    )


#: Twisted's own test of a descriptor closed and replaced behind the
#: reactor's back, which it skips for any class named EPollReactor.
LOST_DESCRIPTOR = "test_lostFileDescriptor"


@pytest.mark.timeout(2 * TIMEOUT)
def test_lostFileDescriptorPassesOnOursUnderAnotherName(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Twisted's C{test_lostFileDescriptor}, which Twisted skips for every
    C{EPollReactor}, passes on ours under another class name: a reader
    whose socket was closed and another socket C{dup2}'d onto its number
    gets C{connectionLost}, and never the newcomer's bytes.  On stock, under
    another name too, it cannot pass (where C{select.epoll} exists to run
    it): its reactor runs until the test's timeout, here 15 s rather than
    Twisted's 120 (ours ends it within C{WATCH_PERIOD + WATCH_WAKE}).
    """
    monkeypatch.setenv(TIMEOUT_VARIABLE, "15")
    sides = {OURS: ("ctypes-epoll", "tests.twistedsuites.renamed.CtypesEPollReactor")}
    if HAVE_SELECT_EPOLL:
        sides[STOCK] = (
            "epoll",
            "tests.twistedsuites.renamed.StockEPollReactorRenamed",
        )
    runs = [
        Run(
            side,
            ["twisted.internet.test.test_fdset"],
            str(tmp_path),
            True,
            "",
            (),
            sides,
        )
        for side in sides
    ]
    deadline = time.monotonic() + TIMEOUT
    outcomes = {}
    for run in runs:
        run.wait(deadline)
        found = [
            outcome
            for testId, (outcome, _) in run.outcomes().items()
            if testId.endswith("." + LOST_DESCRIPTOR)
        ]
        assert len(found) == 1, (run.side, run.outcomes())
        outcomes[run.side] = found[0]
    assert outcomes[OURS] == "success", open(runs[0].log).read()[-3000:]
    if STOCK in outcomes:
        assert outcomes[STOCK] != "success"
