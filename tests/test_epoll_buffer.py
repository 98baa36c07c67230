"""
What an L{epollreactor.epoll} costs in memory: nothing for its result
buffer until it polls, then a buffer that takes memory as far as
C{epoll_wait(2)} writes events into it, kept across calls whatever their
C{maxevents}, and given back once calls return few events again; calls that
overlap (threads, a signal handler) reuse idle buffers the object keeps,
up to a bound.  Measured with L{tracemalloc}, the kernel's own account of
the mapping (C{/proc/self/smaps}, proc(5)), and by counting the buffers
made.
"""

import ctypes
import os
import resource
import signal
import threading
from time import monotonic, sleep
from typing import Any, Iterator, List, Tuple

import pytest

from epollreactor import EPOLLIN, EPOLLOUT, _epoll, epoll
from epollreactor._epoll import _IDLE_BUFFERS, _TRIM_AFTER
from tests.signalling import Pester, waitingInEpoll


def residentBytes(buffer: Any) -> int:
    """
    @return: how much of the mapping that holds C{buffer}'s storage is in
        memory, from C{/proc/self/smaps}.
    """
    pointer = buffer.pointer
    address = pointer if isinstance(pointer, int) else ctypes.addressof(pointer)
    with open("/proc/self/smaps") as f:
        inside = False
        for line in f:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5:
                low, high = (int(part, 16) for part in fields[0].split("-"))
                inside = low <= address < high
            elif inside and fields[0] == "Rss:":
                return int(fields[1]) * 1024
    raise AssertionError("no mapping holds the buffer")


#: How many descriptors are ready at once in the burst: their events fill
#: more than two pages of the buffer.
BURST = 800


@pytest.fixture
def ready() -> Iterator[List[int]]:
    """
    @return: the write ends of L{BURST} pipes, every one writable; all
        closed afterwards.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * BURST + 256
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(
                "needs {} descriptors, the hard limit is {}".format(wanted, hard)
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    pipes = [os.pipe() for _ in range(BURST)]
    yield [w for _, w in pipes]
    for r, w in pipes:
        os.close(r)
        os.close(w)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_idleObjectCostsUnderOneKilobyte() -> None:
    """
    A new object allocates no result buffer: 1,000 of them take less than
    1 KiB each of Python memory (a buffer for the default 1,023 events
    would be 12 KiB each).  Measured with L{tracemalloc}, which PyPy does
    not have; there only the absence of a buffer is checked.
    """
    with epoll() as ep:
        assert ep._buffers == []
    try:
        import tracemalloc
    except ImportError:
        return
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        objects = [epoll() for _ in range(1000)]
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    for ep in objects:
        ep.close()
    assert grown / len(objects) < 1024


@pytest.mark.parametrize("maxevents", [1, 1023, 100_000, 10_000_000])
def test_noAllocationPerCall(maxevents: int) -> None:
    """
    Once an object has polled with some C{maxevents}, it keeps a buffer
    that holds that many events, and later polls with it reuse that buffer,
    however large C{maxevents} is (no buffer for one call alone).
    """
    with epoll() as ep:
        r, w = os.pipe()
        try:
            ep.register(w, EPOLLOUT)
            assert ep.poll(0, maxevents) == [(w, EPOLLOUT)]
            [buffer] = ep._buffers
            assert buffer.capacity >= maxevents
            for _ in range(10):
                assert ep.poll(0, maxevents) == [(w, EPOLLOUT)]
                assert len(ep._buffers) == 1 and ep._buffers[0] is buffer
        finally:
            os.close(r)
            os.close(w)


def test_bufferMemoryFollowsUse(ready: List[int]) -> None:
    """
    The buffer takes memory only for the events calls return: polling with
    a huge C{maxevents} and one event ready touches one page; a burst of
    L{BURST} events takes the pages they fill; after enough calls that
    return one event, those pages are given back.
    """
    with epoll() as ep:
        ep.register(ready[0], EPOLLOUT)
        assert len(ep.poll(0, 1_000_000)) == 1
        [buffer] = ep._buffers
        assert residentBytes(buffer) <= os.sysconf("SC_PAGE_SIZE")
        for number in ready[1:]:
            ep.register(number, EPOLLOUT)
        assert len(ep.poll(0, 1_000_000)) == BURST
        assert residentBytes(buffer) >= BURST * 12
        for number in ready[1:]:
            ep.unregister(number)
        for _ in range(_TRIM_AFTER + 1):
            assert len(ep.poll(0, 1_000_000)) == 1
        assert len(ep._buffers) == 1 and ep._buffers[0] is buffer
        assert residentBytes(buffer) <= os.sysconf("SC_PAGE_SIZE")


class BufferCount:
    """
    How many result buffers L{epollreactor._epoll} has made.

    @ivar made: the count since the fixture was set up.
    """

    made = 0


@pytest.fixture
def bufferCount(monkeypatch: pytest.MonkeyPatch) -> BufferCount:
    """
    Count the result buffers L{epollreactor.epoll} makes for the test's
    length, by wrapping the C{EventBuffer} its module calls.
    """
    count = BufferCount()
    make = _epoll.EventBuffer

    def counted(capacity: int) -> Any:
        """
        Count, and make the buffer.
        """
        count.made += 1
        return make(capacity)

    monkeypatch.setattr(_epoll, "EventBuffer", counted)
    return count


def pollAtOnce(ep: Any, pollers: int, pipe: Tuple[int, int]) -> List[Any]:
    """
    Have C{pollers} threads asleep in C{ep.poll} at once (the kernel says
    so: L{waitingInEpoll}), then make the pipe's read end, registered for
    C{EPOLLIN}, readable, which wakes every one of them; empty it again.

    @return: what each thread's C{poll} returned.
    """
    readEnd, writeEnd = pipe
    natives: List[int] = []
    results: List[Any] = []

    def poll() -> None:
        """
        Say which kernel thread this is, then poll once, for 30 seconds at
        most.
        """
        natives.append(threading.get_native_id())
        results.append(ep.poll(30))

    threads = [threading.Thread(target=poll) for _ in range(pollers)]
    for thread in threads:
        thread.start()
    deadline = monotonic() + 30
    while len(natives) < pollers or not all(map(waitingInEpoll, natives)):
        assert monotonic() < deadline, "the pollers never all waited at once"
        sleep(0.001)
    os.write(writeEnd, b"x")
    for thread in threads:
        thread.join()
    os.read(readEnd, 1)
    return results


@pytest.fixture
def pipe() -> Iterator[Tuple[int, int]]:
    """
    @return: a pipe's read and write ends, closed afterwards.
    """
    readEnd, writeEnd = os.pipe()
    yield readEnd, writeEnd
    os.close(readEnd)
    os.close(writeEnd)


@pytest.mark.parametrize("pollers", [2, 4])
def test_overlappingPollsReuseBuffers(
    bufferCount: BufferCount, pipe: Tuple[int, int], pollers: int
) -> None:
    """
    Threads polling one object at once each need a buffer: the first time
    C{pollers} of them overlap, the object makes what it lacks, and keeps
    them all idle afterwards; the next time as many overlap, it makes none
    (C{select.epoll} mallocs one per call; ours used to make one for every
    call but one).
    """
    with epoll() as ep:
        ep.register(pipe[0], EPOLLIN)
        assert ep.poll(0) == []
        assert bufferCount.made == 1
        for _ in range(3):
            results = pollAtOnce(ep, pollers, pipe)
            assert results == [[(pipe[0], EPOLLIN)]] * pollers
            assert bufferCount.made == pollers
            assert len(ep._buffers) == pollers
            assert len(set(map(id, ep._buffers))) == pollers


def test_idleBuffersAreBounded(bufferCount: BufferCount, pipe: Tuple[int, int]) -> None:
    """
    An object keeps at most L{_IDLE_BUFFERS} idle buffers: calls that
    overlap beyond them make a buffer each time, as C{select.epoll} does for
    every call, and drop it afterwards.
    """
    pollers = _IDLE_BUFFERS + 2
    with epoll() as ep:
        ep.register(pipe[0], EPOLLIN)
        assert pollAtOnce(ep, pollers, pipe) == [[(pipe[0], EPOLLIN)]] * pollers
        assert bufferCount.made == pollers
        assert len(ep._buffers) == _IDLE_BUFFERS
        assert pollAtOnce(ep, pollers, pipe) == [[(pipe[0], EPOLLIN)]] * pollers
        assert bufferCount.made == pollers + (pollers - _IDLE_BUFFERS)
        assert len(ep._buffers) == _IDLE_BUFFERS


def test_idleBufferBesideAnotherGivesItsBurstBack(ready: List[int]) -> None:
    """
    Of an object's idle buffers, only the one the next call takes keeps
    the memory a burst of events took; another given back beside it gives
    its pages back at once, and the first gives its own back as a lone
    buffer does, after enough calls that return few events.  The overlap is
    made by a signal handler polling the object whose C{poll} it
    interrupted, each call seeing the whole burst.
    """
    page = os.sysconf("SC_PAGE_SIZE")
    with epoll() as ep:
        ep.poll(0, 1_000_000)
        [outer] = ep._buffers
        inner: List[Any] = []

        def burst(signum: int, frame: Any) -> None:
            """
            Once: make L{BURST} descriptors ready, and poll them all.
            """
            if not inner:
                for number in ready:
                    ep.register(number, EPOLLOUT)
                assert len(ep.poll(0, 1_000_000)) == BURST
                inner.extend(ep._buffers)

        previous = signal.signal(signal.SIGUSR1, burst)
        try:
            with Pester():
                assert len(ep.poll(30, 1_000_000)) == BURST
        finally:
            signal.signal(signal.SIGUSR1, previous)
        assert len(inner) == 1 and inner[0] is not outer
        assert ep._buffers == [outer, inner[0]]
        assert residentBytes(outer) <= page
        assert residentBytes(inner[0]) >= BURST * 12
        for number in ready[1:]:
            ep.unregister(number)
        for _ in range(_TRIM_AFTER + 1):
            assert len(ep.poll(0, 1_000_000)) == 1
        assert ep._buffers == [outer, inner[0]]
        assert residentBytes(inner[0]) <= page
