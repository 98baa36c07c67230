"""
Twisted's C{AsyncioSelectorReactor} on an asyncio loop built on
L{epollreactor.EpollSelector} passes Twisted's ReactorBuilder suites
wherever it passes them on a stock asyncio loop.

Both sides run in parallel subprocesses through
L{tests.twistedsuites.compare} (shared with C{tests/test_twisted_suites.py},
used here read-only): the ReactorBuilder suites are pointed at
L{epollAsyncioSelectorReactor} on one side and at Twisted's own
C{twisted.internet.test.reactormixins.AsyncioSelectorReactor} on the other;
a test that passes on the stock loop and not on ours is a regression.  Both
sides use C{trial --reactor=ctypes-epoll} as the global reactor, which the
ReactorBuilder suites replace for each test, so the loop's selector is the
only difference between them.

The stock loop's selector is C{selectors.DefaultSelector}: C{EpollSelector}
where C{select.epoll} exists, C{PollSelector} where it does not (C{make
test-noepoll}); the comparison is meaningful either way.
"""

import asyncio
import os
from typing import Any

import pytest

from tests.twistedsuites.compare import OURS, STOCK, Comparison
from tests.twistedsuites.runtrial import defaultHangLimit

#: The ReactorBuilder suites: the modules of C{twisted.internet.test} that
#: generate test case classes for every reactor in
#: C{ReactorBuilder._reactors} (cfreactor and win32events are for other
#: platforms).
BUILDER_SUITES = [
    "twisted.internet.test.test_core",
    "twisted.internet.test.test_fdset",
    "twisted.internet.test.test_newtls",
    "twisted.internet.test.test_process",
    "twisted.internet.test.test_socket",
    "twisted.internet.test.test_stdio",
    "twisted.internet.test.test_tcp",
    "twisted.internet.test.test_threads",
    "twisted.internet.test.test_time",
    "twisted.internet.test.test_tls",
    "twisted.internet.test.test_udp",
    "twisted.internet.test.test_unix",
]

#: Seconds each side may run; both take about a minute on an idle machine,
#: and the machine is shared.
TIMEOUT = 600.0

#: What one side's run is allowed in L{COMPARISON_TIMEOUT}: well under a
#: minute on an idle machine, twice that on a loaded one.
ONE_RUN = 120.0

#: pytest's limit for the comparison, above pyproject.toml's 240 s, so that
#: one hung test costs its own time and not the comparison: a side whose
#: test hangs runs until the watchdog ends it (L{defaultHangLimit}: trial's
#: timeout, 120 s, + 30 s) and then starts again without it, at most
#: 2 * ONE_RUN + 150 = 390 s; when the test hung on ours it hangs again
#: when rerun alone, another 150 s: 540 s, and 60 s of room (600 s with
#: trial's default timeout; the matrix's shorter one shortens it).  Two
#: hangs or more may outlast it, and fail the test as any hang did before.
COMPARISON_TIMEOUT = 2 * ONE_RUN + 2 * defaultHangLimit() + 60

#: The factory Twisted's own suites use for the asyncio reactor.
STOCK_FACTORY = "twisted.internet.test.reactormixins.AsyncioSelectorReactor"

#: Ours, named so that L{tests.twistedsuites.compare.normaliseId} can tell
#: the generated classes apart from the stock ones and then pair them up.
OUR_FACTORY = __name__ + ".epollAsyncioSelectorReactor"

#: Each side: the global reactor for C{trial --reactor}, and the factory the
#: ReactorBuilder suites are pointed at.
REACTORS = {
    OURS: ("ctypes-epoll", OUR_FACTORY),
    STOCK: ("ctypes-epoll", STOCK_FACTORY),
}


def epollAsyncioSelectorReactor(self: Any) -> Any:
    """
    Make an C{AsyncioSelectorReactor} on a new
    C{asyncio.SelectorEventLoop(EpollSelector())}, exactly as Twisted's
    C{twisted.internet.test.reactormixins.asyncioSelectorReactor} makes one
    on a new stock loop: the loop is the current one for the test, and is
    closed after it.

    @param self: the C{ReactorBuilder} test case; C{ReactorBuilder} stores a
        factory as a class attribute, so it is called as a method.
    @return: the reactor.
    """
    from twisted.internet.asyncioreactor import AsyncioSelectorReactor

    from epollreactor import EpollSelector

    loop = asyncio.SelectorEventLoop(EpollSelector())
    asyncio.set_event_loop(loop)

    def cleanUp() -> None:
        loop.close()
        asyncio.set_event_loop(None)

    self.addCleanup(cleanUp)
    return AsyncioSelectorReactor(loop)


def test_factoryMakesAReactorOnOurSelector() -> None:
    """
    L{epollAsyncioSelectorReactor} gives an C{AsyncioSelectorReactor} whose
    loop waits on an L{epollreactor.EpollSelector}, and its cleanup closes
    the loop.
    """
    from epollreactor import EpollSelector

    cleanups = []

    class Case:
        def addCleanup(self, f: Any) -> None:
            cleanups.append(f)

    reactor = epollAsyncioSelectorReactor(Case())
    loop = reactor._asyncioEventloop
    assert isinstance(loop._selector, EpollSelector)
    for cleanUp in cleanups:
        cleanUp()
    assert loop.is_closed()


@pytest.mark.timeout(COMPARISON_TIMEOUT)
def test_reactorBuilderSuitesMatchStockLoop(
    tmp_path: "os.PathLike[str]", capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Every ReactorBuilder test that passes on C{AsyncioSelectorReactor} with
    a stock asyncio loop passes on one whose loop uses
    L{epollreactor.EpollSelector}.
    """
    comparison = Comparison(
        "AsyncioSelectorReactor on EpollSelector vs a stock loop: trial "
        + " ".join(name.rsplit(".", 1)[1] for name in BUILDER_SUITES),
        BUILDER_SUITES,
        True,
        str(tmp_path),
        TIMEOUT,
        (OURS, STOCK),
        REACTORS,
    )
    with capsys.disabled():
        print("\n" + comparison.report())
    problems = comparison.problems()
    assert not problems, "{} problems:\n{}".format(len(problems), "\n".join(problems))
    # Not vacuous: our side ran the suites (about 300 tests of our reactor's
    # generated classes on CPython, 240 on PyPy 3.9), and most of them passed
    # (the rest skip: 270 of 300 pass on PyPy 3.11).
    ours = comparison.outcomes[OURS]
    generated = [
        outcome for testId, (outcome, _) in ours.items() if "_REACTORTests." in testId
    ]
    assert len(generated) > 200
    assert generated.count("success") > 0.8 * len(generated)
