"""
CPython's own contract suites for C{select.epoll} and
C{selectors.EpollSelector}, C{test.test_epoll} and C{test.test_selectors}
of the running interpreter, run unchanged against L{epollreactor.epoll} and
L{epollreactor.EpollSelector} (L{tests.cpythonsuites}): each interpreter's
suites pin down that interpreter's behaviour, so these check parity with
the version the tests run on.
"""

import json
import os
import platform
import subprocess
import sys

import pytest

from tests.cpythonsuites import NO_TEST_PACKAGE

#: Set (to anything) where a CPython without its test package must fail
#: this test instead of skipping it.
REQUIRED = "EPOLLREACTOR_REQUIRE_CPYTHON_SUITES"


def test_cpythonSuitesPassOnOurs() -> None:
    """
    Every test of this interpreter's C{test_epoll} and C{test_selectors}
    passes with ours in place of the stock epoll and selector: none fails,
    errs or unexpectedly succeeds.
    """
    result = subprocess.run(
        [sys.executable, "-m", "tests.cpythonsuites"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode == NO_TEST_PACKAGE:
        missing = (
            "this interpreter has no {} (its test package is not installed; "
            "Debian ships it as libpython3.X-testsuite)".format(
                json.loads(result.stdout)["missing"]
            )
        )
        # CI (.ci/run and every CPython of .ci/matrix) installs the test
        # package and sets this, so that a missing one cannot pass as a skip.
        if os.environ.get(REQUIRED) and platform.python_implementation() == "CPython":
            pytest.fail(missing + ", and {} is set".format(REQUIRED))
        pytest.skip(missing)
    assert result.stdout, result.stderr
    outcome = json.loads(result.stdout)
    print(
        "CPython suites on ours: {} ran, {} skipped, {} did not pass".format(
            outcome["ran"], len(outcome["skipped"]), len(outcome["problems"])
        )
    )
    assert outcome["ran"] > 0
    assert outcome["problems"] == []
    assert result.returncode == 0, result.stderr
