"""
Run the running interpreter's own C{test.test_epoll} and
C{test.test_selectors} against epollreactor: C{select.epoll} is replaced by
L{epollreactor.epoll}, and C{selectors.EpollSelector} and
C{selectors.DefaultSelector} by L{epollreactor.EpollSelector}, before either module is imported, so that
every test that would use the stock ones uses ours, unchanged.

Run as C{python -m tests.cpythonsuites}; it prints one JSON object with the
counts and the failing tests' names, and exits 0 when nothing failed.  It
exits 3 when the interpreter has no C{test} package (Debian ships it apart,
as C{libpython3.X-testsuite}).  A process of its own, since the
replacement is global.
"""

import importlib
import importlib.util
import io
import json
import select
import selectors
import sys
import unittest
from typing import Any, Dict, List

import epollreactor

#: The modules of CPython's test package to run.
SUITES = ["test.test_epoll", "test.test_selectors"]

#: What the runner prints when the test package is missing.
NO_TEST_PACKAGE = 3


def replaceStock() -> None:
    """
    Put our epoll and selector where the stock ones are, so that the test
    modules, imported afterwards, find ours.
    """
    select.epoll = epollreactor.epoll  # type: ignore[misc]
    # The constants too: on CPython they are equal (tests/test_epoll.py),
    # and where select has none (make test-noepoll) the suites need them.
    for name in epollreactor.__all__:
        if name.startswith("EPOLL"):
            setattr(select, name, getattr(epollreactor, name))
    selectors.EpollSelector = epollreactor.EpollSelector  # type: ignore[misc]
    # The stock default on Linux; DefaultSelectorTestCase runs it.
    selectors.DefaultSelector = epollreactor.EpollSelector  # type: ignore[misc]


def testsOf(module: Any) -> unittest.TestSuite:
    """
    The tests of one of CPython's test modules, as its own test runner
    finds them: where the module has a C{test_main} (CPython 3.9's
    C{test_selectors}, whose base class is a C{TestCase} that only its
    subclasses can run), the classes that function hands to
    C{test.support.run_unittest}; else all the module's tests.
    """
    loader = unittest.TestLoader()
    testMain = getattr(module, "test_main", None)
    if testMain is None:
        return loader.loadTestsFromModule(module)
    from test import support

    named: List[Any] = []
    runUnittest = support.run_unittest
    support.run_unittest = lambda *classes: named.extend(classes)
    try:
        testMain()
    finally:
        support.run_unittest = runUnittest
    return unittest.TestSuite(
        loader.loadTestsFromModule(sys.modules[test])
        if isinstance(test, str)
        else loader.loadTestsFromTestCase(test)
        for test in named
    )


def run() -> Dict[str, Any]:
    """
    Load and run L{SUITES}.

    @return: how many tests ran; the skipped ones with their reasons; and
        the names and tracebacks of those that did not pass.
    """
    replaceStock()
    suite = unittest.TestSuite(
        testsOf(importlib.import_module(name)) for name in SUITES
    )
    stream = io.StringIO()
    result = unittest.TextTestRunner(stream=stream, verbosity=0).run(suite)
    problems: List[List[str]] = [
        [kind, str(test), trace]
        for kind, outcomes in (("failure", result.failures), ("error", result.errors))
        for test, trace in outcomes
    ] + [["unexpected success", str(test), ""] for test in result.unexpectedSuccesses]
    return {
        "python": sys.version,
        "ran": result.testsRun,
        "skipped": [[str(test), reason] for test, reason in result.skipped],
        "problems": problems,
    }


def main() -> int:
    """
    Run the suites and print what happened as JSON.

    @return: the exit status.
    """
    for name in SUITES:
        try:
            found = importlib.util.find_spec(name)
        except ImportError:
            found = None
        if found is None:
            print(json.dumps({"missing": name}))
            return NO_TEST_PACKAGE
    outcome = run()
    print(json.dumps(outcome))
    return 1 if outcome["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
