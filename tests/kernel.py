"""
What the kernel says about this process's descriptors, read from C{/proc}
(proc(5)), so that tests can check our bookkeeping against the kernel's
rather than against itself.  The interest list and the epoll check are the
contract package's (L{epollreactor.contract.kernel}), which the state
machines judge by.
"""

import gc
import os

import pytest

from epollreactor.contract.kernel import (
    Registration,
    interestList,
    isEpollDescriptor,
)

__all__ = [
    "Registration",
    "interestList",
    "isEpollDescriptor",
    "closedDescriptor",
    "openDescriptors",
    "settledDescriptors",
]


def closedDescriptor() -> int:
    """
    @return: a descriptor number that is closed, and above every open one,
        so that the next descriptors opened do not take it.
    """
    fd = max(int(name) for name in os.listdir("/proc/self/fd")) + 100
    with pytest.raises(OSError):
        os.fstat(fd)
    return fd


def openDescriptors() -> int:
    """
    @return: how many descriptors this process has open.
    """
    return len(os.listdir("/proc/self/fd"))


def settledDescriptors() -> int:
    """
    @return: how many descriptors this process has open once earlier code's
        garbage is collected: a collection set off later, by any allocation,
        would close its sockets and lower a count taken after it.
    """
    gc.collect()
    return openDescriptors()
