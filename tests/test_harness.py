"""
The test suite's own machinery: a test that hangs must fail rather than
stop C{make test}, and the list of planted bugs behind C{make mutate} must
still match the source it plants them in.
"""

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
