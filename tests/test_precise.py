"""
Tests for precise waits: C{epoll_pwait2}'s nanosecond timeout in
L{epollreactor.epoll.pollPrecisely} and in the reactor's loop, and the
fall back to C{epoll_wait(2)}'s whole milliseconds where the C library
lacks the call or the kernel refuses it.

What each wait is given is recorded (L{tests.waits.WaitRecorder}) while the
calls go through to the kernel on real descriptors; the kernel's refusal is
real too, from a seccomp filter in a child process (L{tests.waits.refuse}).
The missing symbol is simulated, in a child process, by a C library lookup
that does not find it.
"""

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import epollreactor
from epollreactor import EPOLLIN, _epoll
from epollreactor._libc import epoll_pwait2
from tests.waits import WaitRecorder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

requiresPreciseWaits = pytest.mark.skipif(
    _epoll.preciseWaitsMissing(probe=True) is not None,
    reason="no precise waits here: {}".format(_epoll.preciseWaitsMissing()),
)


@pytest.fixture
def pair() -> Iterator[Tuple[socket.socket, socket.socket]]:
    """
    A connected socket pair, closed after the test.
    """
    left, right = socket.socketpair()
    yield left, right
    left.close()
    right.close()


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> WaitRecorder:
    """
    The binding's wait calls, recorded for the test.
    """
    return WaitRecorder(monkeypatch)


@requiresPreciseWaits
@pytest.mark.parametrize("timeout", [1e-9, 0.0003, 0.0013, 0.005, 2])
def test_pollPreciselyWaitsTheNanoseconds(
    recorder: WaitRecorder, timeout: float
) -> None:
    """
    C{pollPrecisely} gives C{epoll_pwait2} the timeout in nanoseconds,
    rounded up (never 0), where C{poll} gives C{epoll_wait} whole
    milliseconds, as C{select.epoll.poll} does.
    """
    with epollreactor.epoll() as ep:
        assert ep.pollPrecisely(timeout) == []
        assert recorder.timed() == [("epoll_pwait2", math.ceil(timeout * 1e9))]
        del recorder.calls[:]
        assert ep.poll(timeout) == []
        assert recorder.timed() == [("epoll_wait", math.ceil(timeout * 1e3))]


@pytest.mark.parametrize(
    "timeout, milliseconds", [(None, -1), (-1, -1), (-0.0005, -1), (0, 0), (0.0, 0)]
)
def test_pollPreciselyWithoutATimeoutWaitsAsEpollWait(
    recorder: WaitRecorder,
    pair: Tuple[socket.socket, socket.socket],
    timeout: Any,
    milliseconds: int,
) -> None:
    """
    With no timeout, or a negative one, C{pollPrecisely} waits until an
    event comes (C{epoll_wait} with -1); with 0 it does not wait; either
    way it returns the events as C{poll} does.
    """
    left, right = pair
    right.send(b"x")
    with epollreactor.epoll() as ep:
        ep.register(left, EPOLLIN)
        assert ep.pollPrecisely(timeout) == [(left.fileno(), EPOLLIN)]
        assert ep.pollPrecisely(timeout, 1) == [(left.fileno(), EPOLLIN)]
    assert recorder.calls == [("epoll_wait", milliseconds)] * 2


def test_pollPreciselyReturnsEvents(pair: Tuple[socket.socket, socket.socket]) -> None:
    """
    C{pollPrecisely} with a timeout returns the events that are ready, as
    C{poll} does, however many a call asks for; more than its first buffer
    holds too; by default at most as many as C{poll} returns.
    """
    left, right = pair
    others = [socket.socketpair() for _ in range(1100)]
    try:
        with epollreactor.epoll() as ep:
            ep.register(left, EPOLLIN)
            assert ep.pollPrecisely(0.05) == []
            right.send(b"x")
            assert ep.pollPrecisely(0.05) == [(left.fileno(), EPOLLIN)]
            for one, _ in others:
                ep.register(one, epollreactor.EPOLLOUT)
            assert len(ep.pollPrecisely(0.05)) == len(ep.poll(0.05)) == 1023
            everything = sorted(ep.poll(0.05, 2000))
            assert sorted(ep.pollPrecisely(0.05, 2000)) == everything
            assert len(everything) == 1101
    finally:
        for one, other in others:
            one.close()
            other.close()


@pytest.mark.parametrize(
    "arguments, error",
    [
        ((float("nan"),), ValueError),
        (("1",), TypeError),
        ((10**10,), OverflowError),
        ((1.0, 0), ValueError),
        ((1.0, "many"), TypeError),
    ],
)
def test_pollPreciselyRefusesWhatPollRefuses(arguments: Any, error: Any) -> None:
    """
    C{pollPrecisely} raises what C{poll} raises for the same mistakes,
    among them a timeout longer than C{epoll_wait(2)} takes (its fall
    back), and a closed object.
    """
    ep = epollreactor.epoll()
    with pytest.raises(error):
        ep.poll(*arguments)
    with pytest.raises(error):
        ep.pollPrecisely(*arguments)
    ep.close()
    with pytest.raises(ValueError):
        ep.pollPrecisely(0.001)


@requiresPreciseWaits
@pytest.mark.parametrize("timeout", [1e-9, 0.0003, 0.0009, 0.005])
def test_doPollWaitsTheNanoseconds(recorder: WaitRecorder, timeout: float) -> None:
    """
    The reactor's C{doPoll} gives C{epoll_pwait2} its timeout in
    nanoseconds, rounded up, never to 0: a timer due in 0.3 ms waits 0.3
    ms, not a millisecond, nor in a busy loop.
    """
    reactor = epollreactor.EPollReactor()
    try:
        reactor.doPoll(0)
        del recorder.calls[:]
        reactor.doPoll(timeout)
        assert recorder.timed() == [("epoll_pwait2", math.ceil(timeout * 1e9))]
    finally:
        reactor._poller.close()


def test_doPollWaitsLongTimeoutsInMilliseconds(recorder: WaitRecorder) -> None:
    """
    A wait of C{PRECISE_BELOW} or longer is made with C{epoll_wait},
    rounded up to milliseconds: the millisecond it may add is 2% of it at
    most, and a busy loop does not pay for the precise call on every turn.
    """
    reactor = epollreactor.EPollReactor()
    try:
        reactor.doPoll(0)
        del recorder.calls[:]
        reactor.doPoll(0.0500001)
        assert recorder.timed() == [("epoll_wait", 51)]
    finally:
        reactor._poller.close()


@requiresPreciseWaits
def test_callLaterShorterThanAMillisecond(recorder: WaitRecorder) -> None:
    """
    A running reactor waits for a C{callLater} of 0.3 ms with
    C{epoll_pwait2} and a timeout under a millisecond, and runs the call.
    (On a loaded machine the call may be due before the loop waits for it:
    it is scheduled again, up to L{_TIMERS} times, until a wait was made.)
    """
    reactor = epollreactor.EPollReactor()
    ran: List[bool] = []

    def waited() -> List[Any]:
        return [t for name, t in recorder.timed() if name == "epoll_pwait2"]

    def due() -> None:
        ran.append(True)
        if waited() or len(ran) == _TIMERS:
            reactor.stop()
        else:
            reactor.callLater(0.0003, due)

    reactor.callWhenRunning(reactor.callLater, 0.0003, due)
    reactor.callLater(30, reactor.stop)
    reactor.run(installSignalHandlers=False)
    for call in reactor.getDelayedCalls():
        call.cancel()
    assert ran
    assert waited() and all(0 < t <= 300_000 for t in waited()), recorder.calls
    assert [call for call in recorder.timed() if call[0] == "epoll_wait"] == []


#: How many times L{test_callLaterShorterThanAMillisecond} may schedule
#: its call before a wait was made for it.
_TIMERS = 200


# The fall back, in child processes: one whose C library lookup does not
# find epoll_pwait2, and one whose kernel refuses it (a seccomp filter).

#: The child's checks: a timed pollPrecisely, a doPoll with a short
#: timeout, a reactor running a short callLater, all on real descriptors,
#: and what the binding and the doctor then say.  It prints them as JSON.
_CHECKS = """
import json, socket
import epollreactor
from epollreactor import _doctor, _epoll
from tests.waits import WaitRecorder

before = _epoll.preciseWaitsMissing()
recorder = WaitRecorder()
report = {"before": before}
with epollreactor.epoll() as ep:
    left, right = socket.socketpair()
    ep.register(left, epollreactor.EPOLLIN)
    report["empty"] = ep.pollPrecisely(0.05)
    report["first"] = recorder.timed()
    recorder.calls[:] = []
    right.send(b"x")
    report["event"] = ep.pollPrecisely(0.0003) == [(left.fileno(), 1)]
    report["second"] = recorder.timed()
reactor = epollreactor.EPollReactor()
recorder.calls[:] = []
reactor.doPoll(0.0003)
report["doPoll"] = recorder.timed()
ran = []
reactor.callWhenRunning(reactor.callLater, 0.0003, lambda: (ran.append(1), reactor.stop()))
reactor.callLater(30, reactor.stop)
reactor.run(installSignalHandlers=False)
report["ran"] = ran
report["after"] = _epoll.preciseWaitsMissing()
report["doctor"] = _doctor.preciseWaitsRow()
print(json.dumps(report))
"""

#: A C library lookup that does not find epoll_pwait2, as glibc before
#: 2.35 does not: ctypes asks CDLL.__getattr__ for a name it has not
#: looked up yet.
_WITHOUT_SYMBOL = """
import ctypes
lookup = ctypes.CDLL.__getattr__
def withoutPwait2(library, name):
    if name == "epoll_pwait2":
        raise AttributeError(name)
    return lookup(library, name)
ctypes.CDLL.__getattr__ = withoutPwait2
"""

#: A kernel that refuses epoll_pwait2, with the errno in braces.
_REFUSED = """
import errno
from tests.waits import SYS_EPOLL_PWAIT2, refuse
try:
    refuse(SYS_EPOLL_PWAIT2, errno.{})
except OSError as e:
    print(json.dumps({{"noFilter": str(e)}}))
    raise SystemExit(0)
"""


def runChild(prelude: str) -> Dict[str, Any]:
    """
    Run L{_CHECKS} after C{prelude} in a new interpreter.

    @return: what it reported.
    """
    child = subprocess.run(
        [sys.executable, "-c", "import json\n" + prelude + _CHECKS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, (child.stdout, child.stderr)
    report: Dict[str, Any] = json.loads(child.stdout.splitlines()[-1])
    if "noFilter" in report:
        pytest.skip("no seccomp filter here: " + report["noFilter"])
    return report


def test_withoutTheSymbolWaitsRoundUp() -> None:
    """
    Where the C library has no C{epoll_pwait2}, the binding says so from
    the start, and every timed wait goes to C{epoll_wait} rounded up to a
    whole millisecond, never down to a busy 0; the reactor runs a short
    timer, and the doctor reports the waits as rounded, and why.
    """
    report = runChild(textwrap.dedent(_WITHOUT_SYMBOL))
    reason = "the C library has no epoll_pwait2 (glibc has it from 2.35 on)"
    assert report["before"] == report["after"] == reason
    assert report["empty"] == []
    assert report["first"] == [["epoll_wait", 50]]
    assert report["event"] is True
    assert report["second"] == [["epoll_wait", 1]]
    assert report["doPoll"] == [["epoll_wait", 1]]
    assert report["ran"] == [1]
    assert report["doctor"] == (
        "no: {}; timeouts round up to whole milliseconds".format(reason)
    )


@pytest.mark.skipif(epoll_pwait2 is None, reason="the C library has no epoll_pwait2")
@pytest.mark.parametrize("refusal", ["ENOSYS", "EPERM"])
def test_refusedByTheKernelFallsBackOnce(refusal: str) -> None:
    """
    Where the kernel refuses C{epoll_pwait2} (ENOSYS before Linux 5.11;
    EPERM from a seccomp profile older than the call), the first timed
    wait tries it once, learns the refusal, and waits with C{epoll_wait}
    rounded up instead; every later wait, the reactor's included, goes to
    C{epoll_wait} without trying again, and the events still come.
    """
    report = runChild(textwrap.dedent(_REFUSED.format(refusal)))
    assert report["before"] is None
    # One try, its repeat with a zero timeout (which is not listed here),
    # then a millisecond wait for what remains, if anything does (not on a
    # machine that kept the process off its processor past the deadline).
    first = report["first"]
    assert first[0] == ["epoll_pwait2", math.ceil(0.05 * 1e9)]
    assert len(first) <= 2
    assert all(name == "epoll_wait" and 0 < t <= 50 for name, t in first[1:])
    assert report["empty"] == []
    assert report["event"] is True
    assert report["second"] == [["epoll_wait", 1]]
    assert report["doPoll"] == [["epoll_wait", 1]]
    assert report["ran"] == [1]
    assert report["after"].startswith(
        "the kernel refuses epoll_pwait2 ({}: ".format(refusal)
    )
    assert report["doctor"] == (
        "no: {}; timeouts round up to whole milliseconds".format(report["after"])
    )


@pytest.mark.skipif(epoll_pwait2 is None, reason="the C library has no epoll_pwait2")
def test_doctorAsksTheKernel() -> None:
    """
    C{python -m epollreactor} asks the kernel before any wait has: where
    it refuses C{epoll_pwait2}, the report says so, and the installation
    is still well.
    """
    script = (
        "import errno, json, sys\n"
        "from tests.waits import SYS_EPOLL_PWAIT2, refuse\n"
        "try:\n"
        "    refuse(SYS_EPOLL_PWAIT2, errno.ENOSYS)\n"
        "except OSError:\n"
        "    sys.exit(77)\n"
        "from epollreactor import _doctor\n"
        "sys.exit(_doctor.main([]))\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if child.returncode == 77:
        pytest.skip("no seccomp filter here")
    assert child.returncode == 0, (child.stdout, child.stderr)
    assert (
        "precise waits:       no: the kernel refuses epoll_pwait2 (ENOSYS: "
        in child.stdout
    )
    assert child.stdout.endswith("All well.\n")
