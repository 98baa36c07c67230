"""
Tests that a signal handler cannot change what a failed epoll call meant.

Python runs a signal's handler at the first bytecode boundary after the
interrupted C{epoll_wait(2)} returns -1 with EINTR, before the binding can
read errno; and ctypes keeps one errno copy per thread.  A handler that
makes a failing ctypes call of its own (another epoll, a reactor call on a
closed descriptor that it catches) leaves that call's errno there.  If the
binding believed it, C{poll} would raise EBADF or EEXIST where
C{select.epoll} retries, and the reactor's main loop would log "Unexpected
error in main loop" for every signal.

Each test sends real signals from another thread while the main thread
waits, with a handler that makes such a failing call, and runs against
ours and, as the reference, the stock implementation.
"""

import os
import select
import selectors
import signal
import socket
import threading
import time
from typing import Any, Callable, Iterator, List, Tuple

import pytest

import epollreactor
from tests.signalling import Pester, joinThroughSignals
from tests.waits import WaitRecorder

#: Seconds a wait may last before the test gives up on it: only reached
#: when something is broken.
PATIENCE = 60.0

#: How many signals interrupt each wait before the data that ends it is sent.
SIGNALS = 10


def failingCallOfEbadf() -> None:
    """
    A ctypes call that fails with EBADF: register a closed descriptor.
    """
    with epollreactor.epoll() as other:
        readEnd, writeEnd = os.pipe()
        os.close(readEnd)
        os.close(writeEnd)
        try:
            other.register(readEnd)
        except OSError:
            pass


def failingCallOfEexist() -> None:
    """
    A ctypes call that fails with EEXIST: register a descriptor twice.
    """
    readEnd, writeEnd = os.pipe()
    try:
        with epollreactor.epoll() as other:
            other.register(readEnd)
            try:
                other.register(readEnd)
            except OSError:
                pass
    finally:
        os.close(readEnd)
        os.close(writeEnd)


FAILING_CALLS = [
    pytest.param(failingCallOfEbadf, id="EBADF"),
    pytest.param(failingCallOfEexist, id="EEXIST"),
]


class Interrupter:
    """
    Sends the main thread SIGUSR1 until its handler, which makes a failing
    ctypes call, has run L{SIGNALS} times, then sends a byte through a
    socket pair to end the wait the test makes meanwhile.

    @ivar handled: how many times the handler ran.
    @ivar pair: the socket pair; the test waits for C{pair[0]} to be
        readable.
    """

    def __init__(self, failingCall: Callable[[], None]) -> None:
        """
        @param failingCall: what the handler does.
        """
        self.failingCall = failingCall
        self.handled = 0
        self.pair = socket.socketpair()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.mainThread = threading.main_thread().ident

    def handler(self, number: int, frame: Any) -> None:
        """
        The signal handler: count, and make the failing call.
        """
        self.handled += 1
        self.failingCall()

    def run(self) -> None:
        """
        The other thread: a signal every 10 ms until enough were handled (or
        L{PATIENCE} ran out), then the byte.
        """
        assert self.mainThread is not None
        for _ in range(int(PATIENCE * 100)):
            if self.handled >= SIGNALS or self.done.wait(0.01):
                break
            signal.pthread_kill(self.mainThread, signal.SIGUSR1)
        self.pair[1].send(b"x")

    def __enter__(self) -> "Interrupter":
        """
        Install the handler and start sending.
        """
        self.previous = signal.signal(signal.SIGUSR1, self.handler)
        try:
            self.thread.start()
        except BaseException:
            # A raising handler can end start() early: the sender must not
            # outlive the handler (tests/signalling.py).
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        """
        Stop sending, restore the handler, close the pair.
        """
        self.done.set()
        joinThroughSignals(self.thread)
        signal.signal(signal.SIGUSR1, self.previous)
        for sock in self.pair:
            sock.close()


def oursAndStock(ours: Any, stock: Any) -> List[Any]:
    """
    @return: parameters for ours and, where C{select.epoll} exists, the
        stock implementation.
    """
    return [
        pytest.param(ours, id="ours"),
        pytest.param(stock, id="stock", marks=pytest.mark.requiresSelectEpoll),
    ]


@pytest.mark.parametrize("failingCall", FAILING_CALLS)
@pytest.mark.parametrize(
    "make", oursAndStock(epollreactor.epoll, getattr(select, "epoll", None))
)
# -1 rather than None for "no timeout": PyPy's select.epoll.poll, the
# reference there, takes only numbers (test_pollWaitsForever covers None).
@pytest.mark.parametrize("timeout", [-1, PATIENCE])
def test_pollRetriesWhateverTheHandlerLeftInErrno(
    make: Callable[[], Any], failingCall: Callable[[], None], timeout: Any
) -> None:
    """
    C{poll} interrupted by signals whose handler makes a failing ctypes call
    retries (PEP 475) and returns the event that ends the wait, as
    C{select.epoll} does, without a timeout and with one.
    """
    with make() as ep, Interrupter(failingCall) as interrupter:
        ep.register(interrupter.pair[0], select.POLLIN)
        events = ep.poll(timeout)
        assert events == [(interrupter.pair[0].fileno(), epollreactor.EPOLLIN)]
    assert interrupter.handled >= 1


@pytest.mark.parametrize("failingCall", FAILING_CALLS)
@pytest.mark.parametrize(
    "make",
    oursAndStock(epollreactor.EpollSelector, getattr(selectors, "EpollSelector", None)),
)
def test_selectRetriesWhateverTheHandlerLeftInErrno(
    make: Callable[[], Any], failingCall: Callable[[], None]
) -> None:
    """
    C{EpollSelector.select} interrupted the same way returns the ready key,
    as the stock selector does.
    """
    with make() as selector, Interrupter(failingCall) as interrupter:
        selector.register(interrupter.pair[0], selectors.EVENT_READ)
        ready = selector.select(PATIENCE)
        assert [(key.fileobj, mask) for key, mask in ready] == [
            (interrupter.pair[0], selectors.EVENT_READ)
        ]
    assert interrupter.handled >= 1


def stockReactor() -> Any:
    """
    @return: Twisted's own C{EPollReactor}.
    """
    from twisted.internet.epollreactor import EPollReactor

    return EPollReactor()


@pytest.fixture(params=oursAndStock(epollreactor.EPollReactor, stockReactor))
def runnable(request: pytest.FixtureRequest) -> Iterator[Any]:
    """
    A new reactor of each kind, to be run once.
    """
    yield request.param()


@pytest.mark.parametrize("failingCall", FAILING_CALLS)
def test_reactorLogsNothingWhateverTheHandlerLeftInErrno(
    runnable: Any, failingCall: Callable[[], None]
) -> None:
    """
    A running reactor interrupted by signals whose handler makes a failing
    ctypes call logs no error: each interrupted iteration returns quietly,
    and the reader gets the byte that ends the test.
    """
    from twisted.logger import globalLogPublisher

    failures: List[Tuple[Any, Any]] = []

    def observe(event: Any) -> None:
        """
        Keep every logged failure.
        """
        if "log_failure" in event:
            failures.append((event.get("log_format"), event["log_failure"]))

    class Reader:
        """
        Stops the reactor when the byte arrives.
        """

        def __init__(self, sock: socket.socket) -> None:
            self.sock = sock

        def fileno(self) -> int:
            return self.sock.fileno()

        def doRead(self) -> None:
            self.sock.recv(1)
            runnable.removeReader(self)
            runnable.stop()

        def connectionLost(self, reason: Any) -> None:
            pass

        def logPrefix(self) -> str:
            return "Reader"

    globalLogPublisher.addObserver(observe)
    try:
        with Interrupter(failingCall) as interrupter:
            runnable.addReader(Reader(interrupter.pair[0]))
            # A stop long after the test should have ended, so that a reactor
            # that loses the byte still ends.
            runnable.callLater(PATIENCE, runnable.stop)
            runnable.run(installSignalHandlers=False)
    finally:
        globalLogPublisher.removeObserver(observe)
        for call in runnable.getDelayedCalls():
            call.cancel()
    assert failures == []
    assert interrupter.handled >= 1


#: How long the handler of the first signal takes, in seconds: a retry
#: after it must be given at least this much less than the first wait.
HANDLER_SECONDS = 0.05

#: Each wait's unit, per second, by the call's name (tests.waits).
UNITS = {"epoll_wait": 1_000, "epoll_pwait2": 1_000_000_000}


@pytest.mark.parametrize("method", ["poll", "pollPrecisely"])
def test_retryIsGivenWhatRemains(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """
    A timed wait that signals interrupt is retried with the time that
    remains (PEP 475), not with the whole timeout again.  The first
    signal's handler takes L{HANDLER_SECONDS} (it sleeps), so the retry
    after it is given at most the timeout less that; and each retry is
    given no more than the one before.  Pinned by the timeouts the waits
    are given on their way to the kernel (L{WaitRecorder}), not by a
    clock: a retry given the whole timeout again would only end late, by
    as much as the signals leave of it.
    """
    recorder = WaitRecorder(monkeypatch)
    handled: List[int] = []

    def handler(number: int, frame: Any) -> None:
        if not handled:
            time.sleep(HANDLER_SECONDS)
        handled.append(number)

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        with epollreactor.epoll() as ep, Pester():
            assert getattr(ep, method)(0.3) == []
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert handled
    names = {name for name, timeout in recorder.timed()}
    assert len(names) == 1, recorder.calls
    unit = UNITS[names.pop()]
    given = [timeout for name, timeout in recorder.timed()]
    assert len(given) >= 2, recorder.calls
    assert given[0] == -(-3 * unit // 10)
    assert given[1] <= given[0] - HANDLER_SECONDS * unit
    assert given == sorted(given, reverse=True)
