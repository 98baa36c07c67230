"""
Tests for L{epollreactor.epoll.poll} (epoll_wait(2)): results, timeouts,
C{maxevents}, and EINTR (PEP 475), run against both implementations
through the C{epoll} fixture.
"""

import errno
import math
import os
import resource
import signal
import socket
import threading
import warnings
from decimal import Decimal
from fractions import Fraction
from time import monotonic
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epollreactor import (
    EPOLLIN,
    EPOLLOUT,
)
from epollreactor._epoll import timeoutToMilliseconds
from tests.contract import (
    BEFORE_310,
    SINCE_315,
    Closer,
    Index,
    IntOnly,
    skipUnlessCPython,
    socketPair,
)
from tests.signalling import Pester, joinThroughSignals

# ---------------------------------------------------------------------------
# poll
# ---------------------------------------------------------------------------


def test_pollResultShape(epoll: Any, closer: Closer) -> None:
    """
    C{poll} returns a new list of C{(int, int)} tuples.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(left, EPOLLOUT)
        first = ep.poll(0)
        second = ep.poll(0)
        assert first == second == [(left.fileno(), EPOLLOUT)]
        assert first is not second
        assert type(first) is list
        assert type(first[0]) is tuple
        assert all(type(x) is int for x in first[0])
        assert ep.poll(0, 1) == first


def test_pollEmpty(epoll: Any) -> None:
    """
    With nothing registered, C{poll(0)} returns an empty list.
    """
    with epoll() as ep:
        assert ep.poll(0) == []
        assert ep.poll(0.0) == []
        assert ep.poll(timeout=0) == []


def writeLater(sock: socket.socket, signals: int = 0) -> threading.Thread:
    """
    Start a thread that sends the main thread C{signals} SIGUSR1s, a
    millisecond apart, and then writes one byte to C{sock}; join it after.
    """
    main = threading.main_thread().ident
    assert main is not None

    def run() -> None:
        """
        Signal, pause, then write.
        """
        for _ in range(signals):
            signal.pthread_kill(main, signal.SIGUSR1)
            threading.Event().wait(0.001)
        threading.Event().wait(0.01)
        sock.send(b"x")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("timeout", [None, -1, -0.5, -1.5, -(10**6), -1e6])
def test_pollWaitsForever(epoll: Any, closer: Closer, timeout: Any) -> None:
    """
    A timeout of C{None}, or of -1 ms or less, waits until an event arrives.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(left, EPOLLIN)
        thread = writeLater(right)
        try:
            assert ep.poll(timeout) == [(left.fileno(), EPOLLIN)]
        finally:
            thread.join()


@pytest.mark.parametrize("timeout", [-1e-7, -0.0009, -0.0])
def test_pollNegativeUnderAMillisecond(
    epoll: Any, closer: Closer, timeout: float
) -> None:
    """
    A negative timeout above -1 ms does not wait at all: CPython rounds
    milliseconds towards positive infinity, so it becomes 0, not -1.
    (Were it to wait, the writer thread, started only after, would make
    C{poll} return the event.)
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(left, EPOLLIN)
        result = ep.poll(timeout)
        writeLater(right).join()
        assert result == []
        assert ep.poll(timeout) == [(left.fileno(), EPOLLIN)]


def test_pollTinyTimeoutWaits(epoll: Any) -> None:
    """
    A positive timeout shorter than a millisecond rounds up to one: C{poll}
    waits at least a millisecond rather than busy-polling.  (A lower bound
    the kernel guarantees, not a timing expectation.)
    """
    with epoll() as ep:
        start = monotonic()
        assert ep.poll(1e-7) == []
        assert monotonic() - start >= 0.001


@pytest.mark.parametrize(
    "timeout, milliseconds",
    [
        (None, -1),
        (0, 0),
        (0.0, 0),
        (-0.0, 0),
        (1e-9, 1),
        (1e-7, 1),
        (0.001, 1),
        (0.0011, 2),
        (0.5, 500),
        (1, 1000),
        (True, 1000),
        (Index(2), 2000),
        (2147483, 2147483000),
        (2147483.647, 2147483647),
        (-1, -1),
        (-1e-7, 0),
        (-0.001, -1),
        (-0.0011, -1),
        (-2147483, -1),
        (-2147483.648, -1),
    ],
)
def test_timeoutToMilliseconds(timeout: Any, milliseconds: int) -> None:
    """
    L{timeoutToMilliseconds} gives what CPython passes to C{epoll_wait(2)}:
    nanoseconds rounded away from zero, then milliseconds rounded up, and -1
    for C{None} or anything negative after that.
    """
    assert timeoutToMilliseconds(timeout) == milliseconds


def _cpythonMilliseconds(timeout: Any) -> Any:
    """
    What CPython's own C code makes of C{timeout}, through C{_testcapi}
    (3.11 and 3.12): the outcome of C{_PyTime_FromSecondsObject} with
    C{_PyTime_ROUND_TIMEOUT} and C{_PyTime_AsMilliseconds} with
    C{_PyTime_ROUND_CEILING}, as C{select.epoll.poll} does.
    """
    _testcapi = pytest.importorskip("_testcapi")
    fromSeconds = getattr(_testcapi, "PyTime_FromSecondsObject", None)
    asMilliseconds = getattr(_testcapi, "PyTime_AsMilliseconds", None)
    if fromSeconds is None or asMilliseconds is None:
        pytest.skip("this CPython's _testcapi has no _PyTime test functions")
    roundUp, roundCeiling = 3, 1
    try:
        ns = fromSeconds(timeout, roundUp)
    except TypeError:
        return TypeError
    except (ValueError, OverflowError) as e:
        return type(e)
    ms = asMilliseconds(ns, roundCeiling)
    if not -(2**31) <= ms <= 2**31 - 1:
        return OverflowError
    return -1 if ms < 0 else ms


@skipUnlessCPython
@settings(max_examples=300)
@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(min_value=-5.0, max_value=5.0),
        st.floats(min_value=-1e-3, max_value=1e-3),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.integers(min_value=-3000000, max_value=3000000),
    )
)
def test_timeoutToMillisecondsMatchesCPython(timeout: Any) -> None:
    """
    For any int or float, L{timeoutToMilliseconds} agrees with CPython's C
    conversion: the same milliseconds, or the same exception type.
    """
    expected = _cpythonMilliseconds(timeout)
    try:
        got: Any = timeoutToMilliseconds(timeout)
    except (TypeError, ValueError, OverflowError) as e:
        got = type(e)
    assert got == expected


class NotAFloat:
    """
    An object whose C{__float__} gives no float.
    """

    def __float__(self) -> Any:
        """
        @return: a string.
        """
        return "0.5"


def _timeoutTypeMessage(typeName: str) -> str:
    """
    @param typeName: the name of a timeout's type, as CPython's C{%T} gives
        it.
    @return: the message of the L{TypeError} for a timeout of that type, as
        this version of CPython words it.
    """
    if SINCE_315:
        return "timeout must be a real number or None, not {}".format(typeName)
    return "timeout must be an integer or None"


@pytest.mark.parametrize(
    "timeout, exception, message",
    [
        (math.nan, ValueError, "Invalid value NaN (not a number)"),
        (math.inf, OverflowError, None),
        (-math.inf, OverflowError, None),
        (1e300, OverflowError, None),
        (9.3e9, OverflowError, None),
        (2.2e6, OverflowError, "timeout is too large"),
        (2147484, OverflowError, "timeout is too large"),
        (-2147484, OverflowError, "timeout is too large"),
        (-(10**9), OverflowError, "timeout is too large"),
        (-2147483.649, OverflowError, "timeout is too large"),
        (2**62, OverflowError, None),
        (2**64, OverflowError, None),
        (-(2**64), OverflowError, None),
        ("1", TypeError, _timeoutTypeMessage("str")),
        ([], TypeError, _timeoutTypeMessage("list")),
        (1j, TypeError, _timeoutTypeMessage("complex")),
        (
            NotAFloat(),
            TypeError,
            _timeoutTypeMessage("tests.test_epoll_poll.NotAFloat"),
        ),
    ],
)
def test_pollBadTimeout(
    epoll: Any, closer: Closer, timeout: Any, exception: type, message: Optional[str]
) -> None:
    """
    NaN raises L{ValueError}; timeouts too large for nanoseconds or for a C
    int of milliseconds raise L{OverflowError}; anything but an int, a float
    or an object with C{__index__} (or, on CPython 3.15 and later, with a
    C{__float__} that gives a float) raises L{TypeError}, whose message
    names its type on 3.15.
    """
    with epoll() as ep:
        with pytest.raises(exception) as info:
            ep.poll(timeout)
        if message is not None:
            assert str(info.value) == message


@pytest.mark.parametrize(
    "timeout", [Decimal("0.0015"), Fraction(1, 2), Decimal("NaN"), Decimal("1e400")]
)
def test_pollRealTimeout(epoll: Any, closer: Closer, timeout: Any) -> None:
    """
    On CPython 3.15 and later, a timeout may be any real number, converted
    as a float (so a L{Decimal} NaN is L{ValueError} and one too large
    L{OverflowError}, as for floats).  On CPython 3.9 one with C{__int__}
    (a L{Decimal}, not a L{Fraction}) is whole seconds, truncated by it,
    with a L{DeprecationWarning}: a NaN is C{__int__}'s L{ValueError}, one
    too large L{OverflowError}.  Between, anything but an int or a float is
    a L{TypeError}.
    """
    left, right = socketPair(closer)
    converted = SINCE_315 or (BEFORE_310 and isinstance(timeout, Decimal))
    with epoll() as ep:
        ep.register(left, EPOLLOUT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if not converted:
                with pytest.raises(TypeError) as info:
                    ep.poll(timeout)
                assert str(info.value) == "timeout must be an integer or None"
            elif isinstance(timeout, Decimal) and timeout.is_nan():
                with pytest.raises(ValueError):
                    ep.poll(timeout)
            elif timeout > 1e300:
                with pytest.raises(OverflowError):
                    ep.poll(timeout)
            else:
                assert ep.poll(timeout) == [(left.fileno(), EPOLLOUT)]


@pytest.mark.parametrize(
    "timeout, exception",
    [
        (IntOnly(0), None),
        (Decimal("-0.5"), None),
        (Decimal("Infinity"), OverflowError),
        (Decimal("1e10"), OverflowError),
    ],
)
def test_pollTimeoutThroughDunderInt(
    epoll: Any, closer: Closer, timeout: Any, exception: Any
) -> None:
    """
    On CPython 3.9, a timeout that is an integer only through C{__int__} is
    whole seconds, with a L{DeprecationWarning} attributed to the caller; a
    value C{__int__} cannot give, or too many seconds for CPython's 64-bit
    nanoseconds, is L{OverflowError}.  Since 3.10 it is a L{TypeError}
    (since 3.15 a L{Decimal} is converted as a float: L{test_pollRealTimeout}).
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(left, EPOLLOUT)
        if not BEFORE_310:
            if isinstance(timeout, IntOnly) or not SINCE_315:
                with pytest.raises(TypeError):
                    ep.poll(timeout)
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if exception is None:
                assert ep.poll(timeout) == [(left.fileno(), EPOLLOUT)]
            else:
                with pytest.raises(exception) as info:
                    ep.poll(timeout)
                assert str(info.value) == (
                    "timestamp too large to convert to C _PyTime_t"
                )
        # Decimal's infinity has no int: __int__ fails before the warning.
        assert [(w.category, w.filename) for w in caught] == (
            [] if timeout == Decimal("Infinity") else [(DeprecationWarning, __file__)]
        )


def test_pollLargestTimeout(epoll: Any, closer: Closer) -> None:
    """
    The largest timeouts that fit are accepted (and, with an event ready,
    return at once).
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(left, EPOLLOUT)
        for timeout in (2147483, 2147483.647, Index(5), True):
            assert ep.poll(timeout) == [(left.fileno(), EPOLLOUT)]


@pytest.mark.parametrize("maxevents", [0, -2, -(2**31)])
def test_pollMaxeventsTooSmall(epoll: Any, maxevents: int) -> None:
    """
    C{maxevents} of 0 or below -1 raises L{ValueError}.
    """
    with epoll() as ep:
        with pytest.raises(
            ValueError,
            match=r"^maxevents must be greater than 0, got {}$".format(maxevents),
        ):
            ep.poll(0, maxevents)


@pytest.mark.parametrize(
    "maxevents, exception",
    [
        (2**31, OverflowError),
        (-(2**31) - 1, OverflowError),
        (1.0, TypeError),
        ("1", TypeError),
        (None, TypeError),
    ],
)
def test_pollMaxeventsBad(epoll: Any, maxevents: Any, exception: type) -> None:
    """
    A C{maxevents} that is not an integer, or beyond a C int, raises.
    """
    with epoll() as ep:
        with pytest.raises(exception):
            ep.poll(0, maxevents)


def test_pollMaxeventsSmall(epoll: Any, closer: Closer) -> None:
    """
    C{maxevents} caps how many events one call returns, and the kernel
    rotates through the ready descriptors so that consecutive calls see
    them all.
    """
    pairs = [socketPair(closer) for _ in range(5)]
    expected = sorted((left.fileno(), EPOLLOUT) for left, _ in pairs)
    with epoll() as ep:
        for left, _ in pairs:
            ep.register(left, EPOLLOUT)
        assert len(ep.poll(0, 3)) == 3
        assert len(ep.poll(0, maxevents=Index(2))) == 2
        seen = []
        for _ in range(5):
            events = ep.poll(0, 1)
            assert len(events) == 1
            seen.extend(events)
        assert sorted(seen) == expected
        assert sorted(ep.poll(0, -1)) == expected
        assert sorted(ep.poll(0, 5)) == expected
        assert sorted(ep.poll(0, 6)) == expected


@pytest.fixture
def manyReady(closer: Closer) -> Tuple[int, List[int]]:
    """
    One socket registered 1100 times, under 1100 duplicate descriptors: more
    ready events than the default C{maxevents} (1023) and than the buffer
    L{epollreactor.epoll} starts with.

    @return: the socket's descriptor and the duplicates.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2400
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(
                "needs {} descriptors, the hard limit is {}".format(needed, hard)
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        closer.add(_RestoreLimit(soft, hard))
    left, right = socketPair(closer)
    duplicates = [closer.add(os.dup(left.fileno())) for _ in range(1100)]
    return left.fileno(), duplicates


class _RestoreLimit:
    """
    Puts the descriptor limit back when closed by a L{Closer}.
    """

    def __init__(self, soft: int, hard: int) -> None:
        """
        @param soft: the soft limit to restore.
        @param hard: the hard limit to restore.
        """
        self.soft, self.hard = soft, hard

    def close(self) -> None:
        """
        Restore the limit.
        """
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.soft, self.hard))


def test_pollMaxeventsDefaultIsFdSetSizeMinusOne(
    epoll: Any, manyReady: Tuple[int, List[int]]
) -> None:
    """
    Without C{maxevents} (or with -1), C{poll} returns at most C{FD_SETSIZE -
    1} = 1023 events, as CPython does.
    """
    _, duplicates = manyReady
    with epoll() as ep:
        for fd in duplicates:
            ep.register(fd, EPOLLOUT)
        events = ep.poll(0)
        assert len(events) == 1023
        assert len(set(events)) == 1023
        assert set(events) <= {(fd, EPOLLOUT) for fd in duplicates}
        assert len(ep.poll(0, -1)) == 1023


@pytest.mark.parametrize("maxevents", [1024, 1100, 2000, 10**7])
def test_pollMaxeventsLarge(
    epoll: Any, manyReady: Tuple[int, List[int]], maxevents: int
) -> None:
    """
    A C{maxevents} beyond the default returns every ready event, none
    twice, none garbled: the buffer grows, and is never overrun, whatever
    C{maxevents} says; smaller calls afterwards still work.
    """
    _, duplicates = manyReady
    expected = sorted((fd, EPOLLOUT) for fd in duplicates)
    with epoll() as ep:
        for fd in duplicates:
            ep.register(fd, EPOLLOUT)

        def check(events: List[Tuple[int, int]], count: int) -> None:
            """
            C{events} are C{count} distinct expected events.
            """
            assert len(events) == count
            assert len(set(events)) == count
            assert set(events) <= set(expected)

        for _ in range(2):
            check(ep.poll(0, maxevents), min(maxevents, 1100))
        check(ep.poll(0), 1023)
        check(ep.poll(0, 7), 7)
        check(ep.poll(0, maxevents), min(maxevents, 1100))


def test_pollMaxeventsAbsurd(epoll: Any) -> None:
    """
    A C{maxevents} no buffer can hold fails without touching memory: with
    L{MemoryError} where the allocation fails, or the kernel's EINVAL where
    it succeeds (C{maxevents} beyond C{INT_MAX / sizeof(struct
    epoll_event)}); which one depends on the machine's overcommit policy.
    """
    with epoll() as ep:
        with pytest.raises((MemoryError, OSError)) as info:
            ep.poll(0, 2**31 - 1)
        if not isinstance(info.value, MemoryError):
            assert info.value.errno == errno.EINVAL


# ---------------------------------------------------------------------------
# Signals: EINTR (PEP 475)
# ---------------------------------------------------------------------------


class SignalCounter:
    """
    A SIGUSR1 handler that counts, installed for the test's duration; it can
    be told to raise, or to run a callable, once.

    @ivar count: how many times it ran.
    """

    def __init__(self) -> None:
        """
        Nothing counted, nothing to raise or run.
        """
        self.count = 0
        self.raiseOnce: Optional[BaseException] = None
        self.runOnce: Optional[Callable[[], None]] = None

    def __call__(self, signum: int, frame: Any) -> None:
        """
        Count, then run or raise what was asked for, once.
        """
        self.count += 1
        if self.runOnce is not None:
            run, self.runOnce = self.runOnce, None
            run()
        if self.raiseOnce is not None:
            exception, self.raiseOnce = self.raiseOnce, None
            raise exception


@pytest.fixture
def sigusr1() -> Iterator[SignalCounter]:
    """
    Install a L{SignalCounter} for SIGUSR1, and restore the old handler after.
    """
    counter = SignalCounter()
    previous = signal.signal(signal.SIGUSR1, counter)
    try:
        yield counter
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_eintrWaitsTheRemainingTime(epoll: Any, sigusr1: SignalCounter) -> None:
    """
    Signals during a timed C{poll} do not end it early: it retries with the
    remaining time and returns C{[]} once the whole timeout has passed.  (A
    lower bound, as in CPython's C{_test_eintr}, not a timing expectation.)
    """
    with epoll() as ep:
        with Pester():
            start = monotonic()
            assert ep.poll(0.2) == []
            elapsed = monotonic() - start
    assert sigusr1.count > 0
    assert elapsed >= 0.2


def test_eintrStillReturnsTheEvent(
    epoll: Any, closer: Closer, sigusr1: SignalCounter
) -> None:
    """
    Signals during an untimed C{poll} do not end it: it retries and returns
    the event that arrives after them.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(left, EPOLLIN)
        thread = writeLater(right, signals=20)
        try:
            assert ep.poll() == [(left.fileno(), EPOLLIN)]
        finally:
            joinThroughSignals(thread)
    # Signals that arrive together are handled once: at least one was.
    assert sigusr1.count >= 1


class Interrupt(Exception):
    """
    What the signal handler raises.
    """


@pytest.mark.parametrize("timeout", [None, 30])
def test_eintrHandlerRaisingPropagates(
    epoll: Any, sigusr1: SignalCounter, timeout: Optional[int]
) -> None:
    """
    When the handler of a signal that interrupts C{poll} raises, C{poll}
    raises that, as CPython's C{PyErr_CheckSignals} makes it.  (L{Pester}
    signals only while C{poll} waits, so the exception cannot come from a
    handler that ran before the call.)
    """
    sigusr1.raiseOnce = Interrupt()
    with epoll() as ep:
        # A way out for a broken poll that swallowed the exception.
        left, right = socket.socketpair()
        ep.register(left, EPOLLIN)
        backstop = threading.Timer(30, right.send, [b"x"])
        backstop.start()
        try:
            with Pester():
                with pytest.raises(Interrupt):
                    ep.poll(timeout)
        finally:
            backstop.cancel()
            left.close()
            right.close()


def test_eintrHandlerPollsTheSameObject(
    epoll: Any, closer: Closer, sigusr1: SignalCounter
) -> None:
    """
    A handler that polls the very object whose C{poll} it interrupted gets
    correct results, and so does the interrupted call afterwards: the two do
    not share a result buffer.
    """
    left, right = socketPair(closer)
    seen: List[Any] = []
    with epoll() as ep:
        ep.register(left, EPOLLIN)

        def pollFromHandler() -> None:
            """
            Make C{left} readable and poll the object from the handler.
            """
            right.send(b"x")
            seen.append(ep.poll(0))

        sigusr1.runOnce = pollFromHandler
        with Pester():
            assert ep.poll() == [(left.fileno(), EPOLLIN)]
    assert seen == [[(left.fileno(), EPOLLIN)]]


def test_eintrHandlerClosesTheObject(epoll: Any, sigusr1: SignalCounter) -> None:
    """
    A handler that closes the object whose C{poll} it interrupted makes the
    retry fail with EBADF, as in CPython, which waits again on the (now
    invalid) descriptor.
    """
    ep = epoll()
    sigusr1.runOnce = ep.close
    try:
        with Pester():
            with pytest.raises(OSError) as raised:
                ep.poll(30)
    finally:
        ep.close()
    assert raised.value.errno == errno.EBADF
    assert ep.closed


def test_concurrentPollsOfOneObject(epoll: Any, closer: Closer) -> None:
    """
    Threads polling the same object at once each get complete, ungarbled
    results (CPython allocates a buffer per call; ours lends its one buffer
    to one call at a time).
    """
    pairs = [socketPair(closer) for _ in range(40)]
    expected = sorted((left.fileno(), EPOLLOUT) for left, _ in pairs)
    failures: List[Any] = []
    with epoll() as ep:
        for left, _ in pairs:
            ep.register(left, EPOLLOUT)

        def hammer(maxevents: int) -> None:
            """
            Poll many times, recording any incomplete or garbled result.
            """
            for _ in range(300):
                events = ep.poll(0, maxevents)
                if maxevents >= 40:
                    if sorted(events) != expected:
                        failures.append(events)
                elif len(set(events)) != len(events) or not set(events) <= set(
                    expected
                ):
                    failures.append(events)

        threads = [
            threading.Thread(target=hammer, args=(maxevents,))
            for maxevents in (40, 3, 1000, 1)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
