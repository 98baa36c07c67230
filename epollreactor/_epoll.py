"""
L{epoll}: CPython's C{select.epoll}, rebuilt on the ctypes declarations of
L{epollreactor._libc}.

The contract is CPython's own (C{Modules/selectmodule.c} and
C{Lib/test/test_epoll.py}): the same methods, the same results, the same
exception types for the same mistakes.  Nothing here touches C{select.epoll},
so it works on interpreters whose C{select} module has none.
"""

import math
import os
from errno import EINTR
from time import monotonic
from typing import Any, List, Optional, Tuple, Type, TypeVar, Union

from epollreactor._libc import (
    EPOLL_CLOEXEC,
    EPOLL_CTL_ADD,
    EPOLL_CTL_DEL,
    EPOLL_CTL_MOD,
    EPOLLIN,
    EPOLLOUT,
    EPOLLPRI,
    EVENT,
    FD_SETSIZE,
    EventBuffer,
    epoll_create1,
    epoll_ctl,
    epoll_wait,
    getErrno,
    lastError,
)

__all__ = ["epoll", "FileDescriptorLike", "timeoutToMilliseconds", "asFileDescriptor"]

#: What L{epoll.register} and friends accept as a descriptor.
FileDescriptorLike = Any

_Self = TypeVar("_Self", bound="epoll")

_INT_MAX = 2**31 - 1
_INT_MIN = -(2**31)
_NANOSECONDS_MAX = 2**63 - 1
_DEFAULT_EVENTMASK = EPOLLIN | EPOLLPRI | EPOLLOUT
_UNSIGNED_INT_MASK = 0xFFFFFFFF
_packEvent = EVENT.pack


def _closedError() -> ValueError:
    return ValueError("I/O operation on closed epoll object")


def asFileDescriptor(fileobj: FileDescriptorLike) -> int:
    """
    Turn an int, or an object with a C{fileno()} method, into a descriptor
    number, as CPython's C{PyObject_AsFileDescriptor} does.

    @raise TypeError: for anything else, or a C{fileno()} that does not return
        an int.
    @raise ValueError: for a negative number.
    @raise OverflowError: for a number too large for a C int.
    """
    if isinstance(fileobj, int):
        fd = int(fileobj)
    else:
        try:
            fileno = fileobj.fileno
        except AttributeError:
            raise TypeError(
                "argument must be an int, or have a fileno() method."
            ) from None
        fd = fileno()
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
        fd = int(fd)
    if fd < 0:
        raise ValueError(
            "file descriptor cannot be a negative integer ({})".format(fd)
        )
    if fd > _INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return fd


def _asCInt(value: Any) -> int:
    """
    Convert an argument that CPython declares as a C C{int}.

    @raise TypeError: when it is not an integer.
    @raise OverflowError: when it does not fit in a C int.
    """
    if not isinstance(value, int):
        raise TypeError(
            "'{}' object cannot be interpreted as an integer".format(
                type(value).__name__
            )
        )
    if not _INT_MIN <= value <= _INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return int(value)


def _asEventMask(eventmask: Any) -> int:
    """
    Convert an event mask as CPython's C{unsigned_int(bitwise=True)} does:
    any integer, reduced modulo 2**32.

    @raise TypeError: when it is not an integer.
    """
    if not isinstance(eventmask, int):
        raise TypeError(
            "'{}' object cannot be interpreted as an integer".format(
                type(eventmask).__name__
            )
        )
    return int(eventmask) & _UNSIGNED_INT_MASK


def timeoutToMilliseconds(timeout: Optional[float]) -> int:
    """
    Convert a timeout in seconds to C{epoll_wait(2)}'s milliseconds exactly
    as C{select.epoll.poll} does: C{None} or negative means -1 (wait
    forever), and anything else rounds up, through nanoseconds, to the next
    millisecond, so that a short positive timeout never becomes a busy
    C{poll(0)}.

    @raise TypeError: when C{timeout} is neither a number nor C{None}.
    @raise ValueError: for NaN.
    @raise OverflowError: when it is too large for C{epoll_wait(2)}.
    """
    if timeout is None:
        return -1
    if isinstance(timeout, float):
        if math.isnan(timeout):
            raise ValueError("Invalid value NaN (not a number)")
        nanoseconds = timeout * 1e9
        if not -9.2233720368547758e18 <= nanoseconds < 9.2233720368547758e18:
            raise OverflowError("timestamp out of range for platform time_t")
        # _PyTime_ROUND_TIMEOUT rounds away from zero.
        if nanoseconds >= 0:
            whole = math.ceil(nanoseconds)
        else:
            whole = math.floor(nanoseconds)
    elif isinstance(timeout, int):
        whole = int(timeout) * 1_000_000_000
        if not -_NANOSECONDS_MAX - 1 <= whole <= _NANOSECONDS_MAX:
            raise OverflowError("timestamp too large to convert to C _PyTime_t")
    else:
        raise TypeError("timeout must be an integer or None")
    # Nanoseconds to milliseconds, again away from zero.
    if whole >= 0:
        milliseconds = -(-whole // 1_000_000)
    else:
        milliseconds = whole // 1_000_000
    if not _INT_MIN <= milliseconds <= _INT_MAX:
        raise OverflowError("timeout is too large")
    if milliseconds < 0:
        return -1
    return milliseconds


class epoll:
    """
    An epoll instance: CPython's C{select.epoll}, built on ctypes.

    The instance is created with C{EPOLL_CLOEXEC} always, as CPython does
    (PEP 446), and its descriptor is closed by L{close}, by leaving a C{with}
    block, or when the object is garbage-collected.

    @ivar closed: whether L{close} has been called.
    """

    __slots__ = ("_epfd", "_buffer", "__weakref__")

    _epfd: int
    _buffer: EventBuffer

    def __init__(self, sizehint: int = -1, flags: int = 0) -> None:
        """
        Create an epoll instance with C{epoll_create1(2)}.

        @param sizehint: -1 (the default), or a positive hint of how many
            descriptors will be registered; it does not limit anything.
        @param flags: 0 or C{EPOLL_CLOEXEC}; the instance is close-on-exec
            whatever it says.
        @raise ValueError: when C{sizehint} is 0 or below -1.
        @raise TypeError: when an argument is not an integer.
        @raise OSError: for unknown flags (EINVAL), or when the kernel refuses
            (EMFILE, ENFILE, ENOMEM).
        """
        self._epfd = -1
        sizehint = _asCInt(sizehint)
        flags = _asCInt(flags)
        if sizehint == -1:
            sizehint = FD_SETSIZE - 1
        elif sizehint <= 0:
            raise ValueError("negative sizehint")
        if flags and flags != EPOLL_CLOEXEC:
            raise OSError(22, "invalid flags")
        epfd = epoll_create1(EPOLL_CLOEXEC)
        if epfd < 0:
            raise lastError()
        self._epfd = epfd
        self._buffer = EventBuffer(FD_SETSIZE - 1)

    @classmethod
    def fromfd(cls: Type[_Self], fd: int) -> _Self:
        """
        Wrap an existing epoll descriptor, as C{select.epoll.fromfd} does; the
        new object owns it and closes it.

        @param fd: an epoll instance's descriptor.
        """
        fd = _asCInt(fd)
        self = cls.__new__(cls)
        self._epfd = fd
        self._buffer = EventBuffer(FD_SETSIZE - 1)
        return self

    def __del__(self) -> None:
        # No descriptor may outlive its object (issue: "no descriptor leaks").
        epfd = getattr(self, "_epfd", -1)
        if epfd >= 0:
            self._epfd = -1
            try:
                os.close(epfd)
            except OSError:
                pass

    def close(self) -> None:
        """
        Close the epoll descriptor.  Closing a closed object does nothing;
        every other method of a closed object raises L{ValueError}.
        """
        epfd = self._epfd
        if epfd >= 0:
            self._epfd = -1
            os.close(epfd)

    @property
    def closed(self) -> bool:
        """
        Whether the epoll descriptor has been closed.
        """
        return self._epfd < 0

    def fileno(self) -> int:
        """
        @return: the epoll instance's descriptor.
        @raise ValueError: when the object is closed.
        """
        epfd = self._epfd
        if epfd < 0:
            raise _closedError()
        return epfd

    def __enter__(self: _Self) -> _Self:
        if self._epfd < 0:
            raise _closedError()
        return self

    def __exit__(self, *excinfo: object) -> None:
        self.close()

    def _control(self, operation: int, fd: FileDescriptorLike, eventmask: int) -> None:
        """
        Run one C{epoll_ctl(2)} operation.

        @raise ValueError: when the object is closed or C{fd} is negative.
        @raise TypeError: when C{fd} is not a descriptor.
        @raise OSError: the kernel's error, as its subclass.
        """
        epfd = self._epfd
        if epfd < 0:
            raise _closedError()
        if fd.__class__ is not int or fd < 0 or fd > _INT_MAX:
            fd = asFileDescriptor(fd)
        if eventmask.__class__ is not int or not 0 <= eventmask <= _UNSIGNED_INT_MASK:
            eventmask = _asEventMask(eventmask)
        # data.fd = fd, as select.epoll stores it; the tag word is zero.
        if operation == EPOLL_CTL_DEL:
            event = None
        else:
            event = _packEvent(eventmask, fd, 0)
        if epoll_ctl(epfd, operation, fd, event) < 0:
            raise lastError()

    def register(
        self, fd: FileDescriptorLike, eventmask: int = _DEFAULT_EVENTMASK
    ) -> None:
        """
        Register a descriptor with C{EPOLL_CTL_ADD}.

        @param fd: an int, or an object with a C{fileno()} method.
        @param eventmask: a bit set of EPOLL* constants; by default
            C{EPOLLIN | EPOLLPRI | EPOLLOUT}.
        @raise FileExistsError: when it is registered already (EEXIST).
        @raise PermissionError: when epoll cannot watch it, as for regular
            files (EPERM).
        @raise OSError: for a closed descriptor (EBADF) and other kernel
            errors.
        @raise ValueError: when the object is closed or C{fd} is negative.
        @raise TypeError: when C{fd} is not a descriptor.
        """
        self._control(EPOLL_CTL_ADD, fd, eventmask)

    def modify(self, fd: FileDescriptorLike, eventmask: int) -> None:
        """
        Change a registered descriptor's event mask with C{EPOLL_CTL_MOD}.

        @raise FileNotFoundError: when it is not registered (ENOENT).
        @raise OSError: for a closed descriptor (EBADF) and other kernel
            errors.
        @raise ValueError: when the object is closed or C{fd} is negative.
        @raise TypeError: when C{fd} is not a descriptor.
        """
        self._control(EPOLL_CTL_MOD, fd, eventmask)

    def unregister(self, fd: FileDescriptorLike) -> None:
        """
        Remove a descriptor with C{EPOLL_CTL_DEL}.

        @raise FileNotFoundError: when it is not registered (ENOENT).
        @raise OSError: for a closed descriptor (EBADF) and other kernel
            errors.
        @raise ValueError: when the object is closed or C{fd} is negative.
        @raise TypeError: when C{fd} is not a descriptor.
        """
        self._control(EPOLL_CTL_DEL, fd, 0)

    def _wait(self, maxevents: int, milliseconds: int) -> int:
        """
        Call C{epoll_wait(2)} into the object's own buffer, retrying on EINTR
        with the remaining time recomputed against a monotonic deadline (PEP
        475), and return how many events it holds.  The buffer grows when
        C{maxevents} asks for more than it holds, so it is never overrun.

        @param maxevents: at least 1.
        @param milliseconds: -1 to wait forever, else at least 0.
        @raise OSError: the kernel's error, as its subclass.
        """
        buffer = self._buffer
        if maxevents > buffer.capacity:
            buffer = self._buffer = EventBuffer(maxevents)
        count = epoll_wait(self._epfd, buffer.pointer, maxevents, milliseconds)
        if count >= 0:
            return count
        if getErrno() != EINTR:
            raise lastError()
        # Interrupted by a signal.  Python runs the signal's handler at the
        # next bytecode boundary (and propagates what it raises); then we wait
        # again, for what is left of the time.  The deadline starts from now,
        # not from the first call: the time lost before the first EINTR is at
        # most the first call's own wait, a difference CPython also accepts.
        deadline = monotonic() + milliseconds / 1000.0
        while True:
            if self._epfd < 0:
                raise _closedError()
            count = epoll_wait(self._epfd, buffer.pointer, maxevents, milliseconds)
            if count >= 0:
                return count
            if getErrno() != EINTR:
                raise lastError()
            if milliseconds > 0:
                remaining = deadline - monotonic()
                milliseconds = max(0, math.ceil(remaining * 1000))

    def poll(
        self, timeout: Optional[float] = None, maxevents: int = -1
    ) -> List[Tuple[int, int]]:
        """
        Wait for events with C{epoll_wait(2)}.

        @param timeout: seconds to wait, as int or float; C{None} or negative
            waits until an event arrives; positive values round up to the next
            millisecond.
        @param maxevents: the most events to return; -1 means C{FD_SETSIZE -
            1}.
        @return: a list of C{(fd, eventmask)} tuples.
        @raise ValueError: when the object is closed, C{maxevents} is 0 or
            below -1, or C{timeout} is NaN.
        @raise OverflowError: when C{timeout} is too large.
        @raise TypeError: when an argument has the wrong type.
        """
        epfd = self._epfd
        if epfd < 0:
            raise _closedError()
        if timeout is None:
            milliseconds = -1
        else:
            milliseconds = timeoutToMilliseconds(timeout)
        if maxevents.__class__ is not int:
            maxevents = _asCInt(maxevents)
        if maxevents == -1:
            maxevents = FD_SETSIZE - 1
        elif maxevents < 1:
            raise ValueError(
                "maxevents must be greater than 0, got {}".format(maxevents)
            )
        elif maxevents > _INT_MAX:
            raise OverflowError("Python int too large to convert to C int")
        count = self._wait(maxevents, milliseconds)
        if not count:
            return []
        buffer = self._buffer
        # Decode in bulk: strided memoryview slices pick every event's fd word
        # and events word, and zip pairs them, with no Python-level loop per
        # event (bench/bench_binding.py, "poll 1000 ready").
        stride = buffer.stride
        fdWord = buffer.fdWord
        end = count * stride
        return list(
            zip(
                buffer.words[fdWord:end:stride].tolist(),
                buffer.unsignedWords[0:end:stride].tolist(),
            )
        )
