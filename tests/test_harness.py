"""
The test suite's own machinery: a test that hangs must fail rather than
stop C{make test}, C{trial}'s test timeout can be shortened for the Twisted
suites, and the list of planted bugs behind C{make mutate} must still match
the source it plants them in.
"""

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
