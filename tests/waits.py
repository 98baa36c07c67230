"""
What the binding's waits are given, seen from the tests: L{WaitRecorder}
notes the timeout of every C{epoll_wait(2)} and C{epoll_pwait2} call the
binding makes (the calls themselves go through to the kernel), and
L{refuse} makes the kernel itself refuse a system call in this process, as
a kernel that lacks it does, through a seccomp filter.

The timeouts a wait is given are what these tests pin, rather than how
long a wait took: the machine is shared and noisy, and a clock would say
nothing certain about a retry that waited too long by a millisecond.
"""

import ctypes
import errno
from typing import Any, List, Optional, Tuple

import pytest

from epollreactor import _epoll
from epollreactor._libc import TIMESPEC

#: epoll_pwait2's system call number: the same on every architecture of
#: the kernel's common table (x86-64, i386, arm64, s390x...) since the
#: numbers were unified in Linux 5.1; only alpha's differ.
SYS_EPOLL_PWAIT2 = 441

_NANOSECONDS = 1_000_000_000


def timespecAt(pointer: Any) -> Optional[int]:
    """
    @param pointer: what the binding passed C{epoll_pwait2} as its
        timeout: a ctypes array, or an address on PyPy; C{None} or 0 for
        NULL.
    @return: the timeout it points to, in nanoseconds; C{None} for NULL.
    """
    if not pointer:
        return None
    address = pointer if isinstance(pointer, int) else ctypes.addressof(pointer)
    seconds, nanoseconds = TIMESPEC.unpack(ctypes.string_at(address, TIMESPEC.size))
    return int(seconds * _NANOSECONDS + nanoseconds)


class WaitRecorder:
    """
    Stands between the binding and its wait calls (C{epoll_wait} and
    C{epoll_pwait2} as L{epollreactor._epoll} calls them), noting each
    call's timeout before making it.

    @ivar calls: C{("epoll_wait", milliseconds)} or C{("epoll_pwait2",
        nanoseconds or None)} for every call, in order, repeats after a
        failure included.
    """

    def __init__(self, monkeypatch: Optional[pytest.MonkeyPatch] = None) -> None:
        """
        Start recording: for the test's duration when given C{monkeypatch},
        else for the rest of the process (a child's).
        """
        self.calls: List[Tuple[str, Optional[int]]] = []
        realWait, realPwait2 = _epoll.epoll_wait, _epoll._pwait2

        def epoll_wait(epfd: int, events: Any, maxevents: int, timeout: int) -> int:
            self.calls.append(("epoll_wait", timeout))
            result: int = realWait(epfd, events, maxevents, timeout)
            return result

        def epoll_pwait2(
            epfd: int, events: Any, maxevents: int, timeout: Any, sigmask: Any
        ) -> int:
            self.calls.append(("epoll_pwait2", timespecAt(timeout)))
            result: int = realPwait2(epfd, events, maxevents, timeout, sigmask)
            return result

        if monkeypatch is None:
            _epoll.epoll_wait = epoll_wait  # type: ignore[assignment]
            _epoll._pwait2 = epoll_pwait2
        else:
            monkeypatch.setattr(_epoll, "epoll_wait", epoll_wait)
            monkeypatch.setattr(_epoll, "_pwait2", epoll_pwait2)

    def timed(self) -> List[Tuple[str, Optional[int]]]:
        """
        @return: the calls that could sleep: those whose timeout is not 0
            (the repeats after a failure are not).
        """
        return [call for call in self.calls if call[1] != 0]


class _SockFilter(ctypes.Structure):
    """
    C{struct sock_filter}, one classic BPF instruction (linux/filter.h).
    """

    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    """
    C{struct sock_fprog}: a BPF program's length and instructions.
    """

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


# prctl(2) and seccomp(2)'s constants (linux/prctl.h, linux/seccomp.h,
# linux/bpf_common.h).
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_RET_K = 0x06


def refuse(number: int, err: int = errno.ENOSYS) -> None:
    """
    Make the kernel answer system call C{number} with C{err}, for this
    process and its children, for good: a seccomp filter (seccomp(2),
    C{SECCOMP_RET_ERRNO}) installed with prctl(2), which needs no
    privilege once C{PR_SET_NO_NEW_PRIVS} is set.  So a process on a new
    kernel sees what it would see on one without the call.  Meant for a
    child process made for it.

    @raise OSError: when the kernel takes no filter (not built with
        seccomp, or under an emulator that does not pass it on).
    """
    program = (_SockFilter * 4)(
        # Load seccomp_data.nr, the call's number (offset 0).
        _SockFilter(_BPF_LD_W_ABS, 0, 0, 0),
        # The call: go to the refusal; any other: to the permission.
        _SockFilter(_BPF_JEQ_K, 0, 1, number),
        _SockFilter(_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO | err),
        _SockFilter(_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
    )
    fprog = _SockFprog(len(program), program)
    libc = ctypes.CDLL(None, use_errno=True)
    for arguments in (
        (_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
        (_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
    ):
        if libc.prctl(*arguments) != 0:
            failed = ctypes.get_errno()
            raise OSError(failed, "prctl: " + errno.errorcode.get(failed, "?"))
