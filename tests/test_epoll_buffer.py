"""
What an L{epollreactor.epoll} costs in memory: nothing for its result
buffer until it polls, then a buffer that takes memory as far as
C{epoll_wait(2)} writes events into it, kept across calls whatever their
C{maxevents}, and given back once calls return few events again.  Measured
with L{tracemalloc} and the kernel's own account of the mapping
(C{/proc/self/smaps}, proc(5)).
"""

import ctypes
import os
import resource
from typing import Any, Iterator, List

import pytest

from epollreactor import EPOLLOUT, epoll
from epollreactor._epoll import _TRIM_AFTER


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
