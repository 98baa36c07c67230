"""
L{epollreactor.EPollReactor} under faults and load: clients that reset
mid-request, a storm of signals, descriptor exhaustion, fork, and
thousands of add/remove cycles and reactors.

Each test runs one program of L{tests.faults} in a process of its own
(loopback only), bounded in count and time, and judges it with
L{tests.faults.drive}; C{python -m tests.scenarios.compare} runs the same
programs on Twisted's stock reactor for comparison.
"""

import sys

import pytest

from tests.faults import drive

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="epoll(7) is Linux's"
)


def test_abortStorm() -> None:
    """
    twisted.web on our reactor takes 3,000 clients, every other one
    resetting (SO_LINGER 0) right after it sent its request: every normal
    request is answered, the log holds no traceback, and the server still
    answers afterwards.
    """
    ok, detail, results = drive.abortStorm(stock=False, clients=3000)
    assert ok, (detail, results)


def test_signalStorm() -> None:
    """
    With SIGUSR1 arriving without pause from another process, the reactor
    lets nothing escape C{doPoll}, keeps its timer ticking, and echoes a
    two-second loopback stream with every byte intact.
    """
    ok, detail, results = drive.signalStorm(stock=False, seconds=2)
    assert ok, (detail, results)


def test_descriptorExhaustion() -> None:
    """
    With C{RLIMIT_NOFILE} lowered, C{accept(2)} fails with EMFILE: the
    server keeps serving the connections it has, logs no traceback, and
    serves a new client once the others have gone.
    """
    ok, detail, results = drive.exhaustion(stock=False, clients=40, spare=8)
    assert ok, (detail, results)


def test_forkBothServe() -> None:
    """
    After C{fork()}, the child removes and closes everything it inherited
    and serves a connection of its own, while the parent keeps serving its
    connections and accepts a new one on its port.
    """
    ok, detail, results = drive.forkServe(stock=False)
    assert ok, (detail, results)


def test_noLeaks() -> None:
    """
    100,000 add/remove cycles leave no descriptor open and resident memory
    flat (under 4 MiB of growth); 1,000 reactors created, run, stopped and
    dropped leave no descriptor behind, neither epoll instances nor the
    waker pipes that Twisted's stock reactor leaves (two per reactor).
    """
    ok, detail, results = drive.leaks(stock=False, cycles=100000, reactors=1000)
    assert ok, (detail, results)
