"""
L{epoll}: CPython's C{select.epoll}, rebuilt on the ctypes declarations of
L{epollreactor._libc}.

The contract is CPython's own (C{Modules/selectmodule.c} and
C{Lib/test/test_epoll.py}): the same methods, the same results, the same
exception types for the same mistakes, raised in the same order (arguments
are converted before the closed check, as CPython's argument parser does).
Nothing here touches C{select.epoll}, so it works on interpreters whose
C{select} module has none.

What differs from C{select.epoll}, and why:

 - The result buffer of L{epoll.poll} belongs to the object and is reused,
   where CPython mallocs C{maxevents} events on every call.  A new object
   has none (so it costs what C{select.epoll} costs); the first poll makes
   one, which grows only when a call asks for more events than it holds,
   so no call allocates, whatever its C{maxevents}.  Beyond a page, the
   buffer is an anonymous mapping whose pages take memory only once the
   kernel writes events into them: its memory grows with the events calls
   actually return, and once calls have returned few for a while the pages
   a burst touched are given back (L{EventBuffer.trim}).
 - Calls that overlap (threads polling one object, or a signal handler
   polling the object whose C{poll} it interrupted) each need a buffer of
   their own.  The object keeps up to L{_IDLE_BUFFERS} idle ones, so that
   overlapping calls reuse buffers instead of making one per call
   (bench/bench_threads.py): as many are made as calls have ever
   overlapped at once; past that bound a call makes one and drops it, as
   CPython's does.  Of the idle buffers only the one the next call takes
   may keep more than a page of events in memory: one given back while
   another call gave one back meanwhile goes under the others, trimmed to
   a page first (L{_giveBack}), so a burst's memory is not kept by a
   buffer that may sit unused.
 - L{epoll.register}, L{epoll.modify}, L{epoll.unregister} and C{poll(0)}
   call the C library without ctypes' errno capture
   (L{epollreactor._libc.epoll_ctl_bare}); a failed call is repeated with
   errno capture to learn its error.  Like every call here, and like
   C{select.epoll}'s, they release the GIL, so other threads are not kept
   waiting while one thread makes many of them.
 - One method more: L{epoll.pollPrecisely}, L{epoll.poll} with the timeout
   to the nanosecond (C{epoll_pwait2}) where the kernel and the C library
   allow, for the reactor's timers; L{epoll.poll} itself rounds up to
   whole milliseconds, as C{select.epoll.poll} does.

The hot paths (L{epoll.poll}, L{epoll.register}, L{epoll.modify},
L{epoll.unregister}) are written out in full rather than shared through
helpers: one more Python call is a large share of what
C{select.epoll.modify} costs in all (bench/bench_binding.py).
"""

from __future__ import annotations

import errno
import math
import os
import sys
import warnings
from operator import index as _index
from struct import error as _StructError
from time import monotonic, monotonic_ns

from epollreactor._libc import (
    EPOLL_CLOEXEC,
    EPOLL_CTL_ADD,
    EPOLL_CTL_DEL,
    EPOLL_CTL_MOD,
    EPOLLIN,
    EPOLLOUT,
    EPOLLPRI,
    EVENT,
    FD_EVENT,
    FD_SETSIZE,
    NULL,
    TIMESPEC,
    ZERO_TIMEOUT,
    EventBuffer,
    epoll_create1,
    epoll_ctl,
    epoll_ctl_bare,
    epoll_pwait2,
    epoll_wait,
    epoll_wait_bare,
    osError,
    repeatFailed,
)
from epollreactor._versions import (
    BOOL_DESCRIPTOR_WARNS,
    CLOSE_RAISES,
    FILENO_ERROR_NAMES_TYPES,
    IMPLICIT_INT_CONVERSION,
    INDEX_ERROR_NAMES_TYPES,
    MASK_RANGE_WARNS,
    REAL_TIMEOUTS,
    typeName,
    typeSlotName,
)

__all__ = [
    "epoll",
    "timeoutToMilliseconds",
    "timeoutToNanoseconds",
    "asFileDescriptor",
    "preciseWaitsMissing",
]

# typing for the type checker only, as in epollreactor/_versions.py.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any, Callable, List, Optional, Tuple, Type, TypeVar

    #: What L{epoll.register} and friends accept as a descriptor.
    FileDescriptorLike = Any

    _Self = TypeVar("_Self", bound="epoll")
    #: L{_waitInto} or L{_waitPreciselyInto}.
    _Wait = Callable[["epoll", EventBuffer, int, int], int]

_INT_MAX = 2**31 - 1
_INT_MIN = -(2**31)
_TIME_MIN = -(2**63)
_TIME_MAX = 2**63 - 1
_TIME_OVERFLOW = "timestamp too large to convert to C _PyTime_t"
_UNSIGNED_INT_MASK = 0xFFFFFFFF
_DEFAULT_EVENTMASK = EPOLLIN | EPOLLPRI | EPOLLOUT
#: What C{maxevents=-1} means, as in CPython.
_DEFAULT_MAXEVENTS = FD_SETSIZE - 1
#: Compared with C{is} on the hot path: the default argument is this very
#: object, and any other int -1 takes the (equally correct) slower path.
_MINUS_ONE = -1
#: Likewise for C{poll(0)}.
_ZERO = 0
#: The largest whole-second and float timeouts whose milliseconds surely fit
#: in a C int; larger ones take the exact conversion.
_FAST_SECONDS_MAX = _INT_MAX // 1000
_FAST_FLOAT_SECONDS_MAX = float(_FAST_SECONDS_MAX)
#: How many calls in a row must use at most an eighth of what a buffer's
#: busiest call touched before the rest is given back.
_TRIM_AFTER = 64
#: How many idle result buffers an object keeps for calls that overlap
#: (threads polling one object): a call beyond them makes a buffer of its
#: own and drops it, as CPython mallocs one for every call.
_IDLE_BUFFERS = 8
_PAGE_EVENTS = EventBuffer.pageEvents

_packFdEvent = FD_EVENT.pack
_packEvent = EVENT.pack
_unpackFdEvent = FD_EVENT.unpack_from
_STRIDE = EventBuffer.stride
_EVENT_SIZE = FD_EVENT.size
_FD_WORD = EventBuffer.fdWord
_ceil = math.ceil
#: The kernel's EP_MAX_EVENTS: the most events epoll_wait(2) accepts.
_MAX_EVENTS = _INT_MAX // _EVENT_SIZE
_BILLION = 1_000_000_000
_packTimespec = TIMESPEC.pack_into

# Precise waits.  epoll_wait(2) takes whole milliseconds, and
# select.epoll.poll rounds a timeout up to them (as poll must, by
# contract), so a timer due in 0.3 ms waits a millisecond or more.
# epoll_pwait2(2) takes a struct timespec instead (Linux 5.11, glibc 2.35),
# and with a NULL signal mask is epoll_wait otherwise; the kernel still
# lets the wake-up come later by the thread's timer slack (prctl(2),
# PR_SET_TIMERSLACK: 50 us by default), as it does for every sleep.  So
# epoll.pollPrecisely and the reactor wait with it where it works, and with
# epoll_wait, rounding up, where it does not.

#: The reactor's waits this long or longer are made with epoll_wait(2),
#: rounded up: a millisecond at most is then 2% of the wait or less, and
#: the precise call costs 2 us more a wait (a timespec packed, a fifth
#: argument; bench/README.md, "Timers"), which a busy loop, waking well
#: before its timeout, would pay on every turn for nothing.
PRECISE_BELOW = 50_000_000

#: Why the timed waits of L{epoll.pollPrecisely} and of the reactor are
#: rounded up to whole milliseconds here (L{preciseWaitsMissing}); C{None}
#: while they use C{epoll_pwait2}.  Set once the kernel refuses the call,
#: and never unset: the kernel does not change under a process.
_imprecise: Optional[str] = None
#: L{epollreactor._libc.epoll_pwait2}, called only while L{_imprecise} is
#: C{None}.
_pwait2: Any = epoll_pwait2
if _pwait2 is None:
    _imprecise = "the C library has no epoll_pwait2 (glibc has it from 2.35 on)"

#: The errors by which a kernel refuses C{epoll_pwait2} itself, which
#: epoll_wait(2) never reports for a wait: ENOSYS before Linux 5.11 (or
#: from a seccomp filter that says so), and EPERM from a seccomp filter
#: written before the call existed, as container runtimes' default
#: profiles answered calls they did not know before they chose ENOSYS.
_REFUSALS = frozenset([errno.ENOSYS, errno.EPERM])


#: What an L{epoll} holds before its first poll: no buffer, and no list to
#: keep one in (a list for every object would cost memory that
#: select.epoll's does not).  Shared, so never appended to: the first poll
#: gives the object a list of its own.
_NO_BUFFERS: List[EventBuffer] = []


def _closedError() -> ValueError:
    """
    @return: what every method of a closed object but C{close} raises.
    """
    return ValueError("I/O operation on closed epoll object")


#: Where this module's code runs: a warning CPython's C code gives is
#: attributed to the first frame outside it (L{_warnAtCaller}).
_THIS_FILE = sys._getframe().f_code.co_filename

#: What CPython's warnings add when it converts an integer argument with
#: C{__int__} (3.9's C{_PyLong_FromNbIndexOrNbInt}), or takes an int
#: subclass from C{__index__} or C{__int__} (C{Objects/longobject.c},
#: C{Objects/abstract.c}).
_IMPLICIT_INT_DEPRECATED = (
    "Implicit conversion to integers using __int__ is deprecated, and may "
    "be removed in a future version of Python."
)
_SUBCLASS_RESULT_DEPRECATED = (
    "The ability to return an instance of a strict subclass of int is "
    "deprecated, and may be removed in a future version of Python."
)


def _warnAtCaller(message: str) -> None:
    """
    Give a L{DeprecationWarning} attributed to the code that called into
    this module, as a warning from C{select.epoll}'s C code is attributed
    to the line that called it.
    """
    level = 2
    frame: Optional[FrameType] = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == _THIS_FILE:
        frame = frame.f_back
        level += 1
    warnings.warn(message, DeprecationWarning, stacklevel=level)


def _integer(value: Any) -> int:
    """
    Convert an argument that CPython's C code parses as an integer, as
    C{PyNumber_Index} does: an int as it is, another object through its
    C{__index__}; on CPython 3.9 also through C{__int__}
    (L{_implicitInteger}).  Written out rather than C{operator.index}, so
    that a warning is attributed to the caller, as CPython's is.

    @raise TypeError: when C{value} is not an integer, or its method
        returns no int.
    """
    if isinstance(value, int):
        return value
    cls = type(value)
    if hasattr(cls, "__index__"):
        return _exactInt(value, cls.__index__(value), "__index__")
    if IMPLICIT_INT_CONVERSION:
        return _implicitInteger(value)
    # Fails with CPython's own message, which names the type by tp_name.
    return _index(value)


def _implicitInteger(value: Any) -> int:
    """
    Convert an integer argument that has no C{__index__} as CPython 3.9
    does: Argument Clinic refuses a float first, then
    C{_PyLong_FromNbIndexOrNbInt} converts an object with C{__int__}
    through it, with a L{DeprecationWarning}.

    @raise TypeError: when C{value} has no C{__int__} or is a float, or
        C{__int__} returns no int.
    """
    if isinstance(value, float):
        raise TypeError("integer argument expected, got float")
    cls = type(value)
    if not hasattr(cls, "__int__"):
        raise TypeError(
            "an integer is required (got type {})".format(typeSlotName(value))
        )
    result = _exactInt(value, cls.__int__(value), "__int__")
    _warnAtCaller(
        "an integer is required (got type {}).  {}".format(
            typeSlotName(value), _IMPLICIT_INT_DEPRECATED
        )
    )
    return result


def _exactInt(value: Any, result: Any, method: str) -> int:
    """
    Check what C{value}'s C{__index__} or C{__int__} returned, as CPython
    does: an int is taken, an int subclass is taken as an int with a
    L{DeprecationWarning}.

    @param method: the method's name, for the messages.
    @raise TypeError: for anything else.
    """
    if result.__class__ is int:
        return int(result)
    if INDEX_ERROR_NAMES_TYPES:
        problem = "{}.{}() must return an int, not {}".format(
            typeName(value), method, typeName(result)
        )
    else:
        problem = "{} returned non-int (type {})".format(method, typeSlotName(result))
    if not isinstance(result, int):
        raise TypeError(problem)
    _warnAtCaller("{}.  {}".format(problem, _SUBCLASS_RESULT_DEPRECATED))
    return int(result)


def _asCInt(value: Any) -> int:
    """
    Convert an argument that CPython declares as a C C{int}: any integer,
    or an object with C{__index__} (on CPython 3.9 also one with
    C{__int__}): L{_integer}.

    @raise TypeError: when it is not an integer.
    @raise OverflowError: when it does not fit in a C int.
    """
    value = _integer(value)
    if not _INT_MIN <= value <= _INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return int(value)


def _asEventMask(eventmask: Any) -> int:
    """
    Convert an event mask as CPython's C{unsigned_int(bitwise=True)} does:
    any integer (or object with C{__index__}), reduced modulo 2**32; on
    CPython 3.15 and later, one outside C{[-2**31, 2**32)} warns first.

    @raise TypeError: when it is not an integer.
    """
    value = int(_integer(eventmask))
    if MASK_RANGE_WARNS and not _INT_MIN <= value <= _UNSIGNED_INT_MASK:
        _warnAtCaller("integer value out of range")
    return value & _UNSIGNED_INT_MASK


def asFileDescriptor(fileobj: FileDescriptorLike, stacklevel: int = 2) -> int:
    """
    Turn an int, or an object with a C{fileno()} method, into a descriptor
    number, as CPython's C{PyObject_AsFileDescriptor} does (on CPython 3.12
    and later, a bool warns first).

    @param stacklevel: the frame to attribute a warning to, counted as
        L{warnings.warn} counts it from this function.

    @raise TypeError: for anything else, or a C{fileno()} that does not return
        an int.
    @raise OverflowError: for a number too large (either way) for a C int.
    @raise ValueError: for a negative number.
    """
    if isinstance(fileobj, int):
        if BOOL_DESCRIPTOR_WARNS and fileobj.__class__ is bool:
            warnings.warn(
                "bool is used as a file descriptor", RuntimeWarning, stacklevel
            )
        fd = _asCInt(int.__index__(fileobj))
    else:
        try:
            fileno = fileobj.fileno
        except AttributeError:
            raise TypeError(
                "argument must be an int, or have a fileno() method."
            ) from None
        fd = fileno()
        if not isinstance(fd, int):
            if FILENO_ERROR_NAMES_TYPES:
                raise TypeError(
                    "{}.fileno() must return an int, not {}".format(
                        typeName(fileobj), typeName(fd)
                    )
                )
            raise TypeError("fileno() returned a non-integer")
        fd = _asCInt(int.__index__(fd))
    if fd < 0:
        raise ValueError("file descriptor cannot be a negative integer ({})".format(fd))
    return fd


def _convertControl(fd: Any, eventmask: Any) -> Tuple[int, int]:
    """
    Convert C{register}'s and C{modify}'s arguments the slow way, raising
    what CPython's argument parser raises, in its order.

    @return: the descriptor number and the event mask, in range.
    """
    # Warnings go to the caller of register or modify.
    return asFileDescriptor(fd, 4), _asEventMask(eventmask)


def timeoutToMilliseconds(timeout: Any) -> int:
    """
    Convert a timeout in seconds to C{epoll_wait(2)}'s milliseconds exactly
    as C{select.epoll.poll} does (C{_PyTime_FromSecondsObject} with
    C{_PyTime_ROUND_TIMEOUT}, then C{_PyTime_AsMilliseconds} with
    C{_PyTime_ROUND_CEILING}): C{None} means -1 (wait forever); anything else
    becomes nanoseconds rounded away from zero, then milliseconds rounded
    towards positive infinity, so that a short positive timeout never becomes
    a busy C{poll(0)}; a negative result means -1.  (So a timeout between -1
    ms and 0 becomes 0, as in CPython.)

    An integer (or an object with C{__index__}) is whole seconds; on CPython
    3.15 and later, any other object with C{__float__} (L{decimal.Decimal},
    L{fractions.Fraction}) is converted as a float; on CPython 3.9, an
    object with C{__int__} is whole seconds too, truncated by it, with a
    L{DeprecationWarning} (L{_implicitInteger}).

    @raise TypeError: when C{timeout} is neither a number nor C{None}.
    @raise ValueError: for NaN.
    @raise OverflowError: when it is too large for C{epoll_wait(2)}.
    """
    if timeout.__class__ is float and 0.0 <= timeout <= _FAST_FLOAT_SECONDS_MAX:
        # The two roundings below, for the common case (a reactor's timer).
        return -(-_ceil(timeout * 1e9) // 1_000_000)
    if timeout is None:
        return -1
    if timeout.__class__ is int and 0 <= timeout <= _FAST_SECONDS_MAX:
        return timeout * 1000
    return _nanosecondsToMilliseconds(_nanosecondsOf(timeout))


def timeoutToNanoseconds(timeout: Any) -> Optional[int]:
    """
    Convert a timeout in seconds to nanoseconds as L{timeoutToMilliseconds}
    does before it rounds to milliseconds: C{None} stays C{None}; anything
    else becomes a whole number of nanoseconds, rounded away from zero, so
    that a positive timeout, however short, is never 0.

    @raise TypeError: when C{timeout} is neither a number nor C{None}.
    @raise ValueError: for NaN.
    @raise OverflowError: beyond CPython's 64-bit nanoseconds.
    """
    if timeout is None:
        return None
    return _nanosecondsOf(timeout)


def _nanosecondsOf(timeout: Any) -> int:
    """
    L{timeoutToNanoseconds} of anything but C{None}, and the slow path of
    L{timeoutToMilliseconds}.
    """
    if not isinstance(timeout, float):
        try:
            seconds = _integer(timeout)
        except TypeError:
            timeout = _realTimeout(timeout)
        except OverflowError:
            # CPython 3.9's __int__ of an infinite Decimal: _PyLong_AsTime_t
            # names any overflow as its own.
            raise OverflowError(_TIME_OVERFLOW) from None
        else:
            return _wholeSecondsToNanoseconds(seconds)
    return _floatSecondsToNanoseconds(timeout)


def _realTimeout(timeout: Any) -> float:
    """
    Convert a timeout that is neither a float nor an integer to a float, as
    CPython 3.15's C{select.epoll.poll} does, or raise its C{TypeError}.

    @raise TypeError: when the interpreter takes only integers and floats,
        or C{timeout} has no C{__float__} that gives a float.
    """
    if not REAL_TIMEOUTS:
        raise TypeError("timeout must be an integer or None") from None
    # type(timeout).__float__, not float(timeout): float() would also parse
    # strings, which select.epoll refuses.
    try:
        seconds = type(timeout).__float__(timeout)
    except (AttributeError, TypeError):
        seconds = None
    if not isinstance(seconds, float):
        raise TypeError(
            "timeout must be a real number or None, not {}".format(typeName(timeout))
        ) from None
    return seconds


def _floatSecondsToNanoseconds(timeout: float) -> int:
    """
    @return: C{timeout} seconds in nanoseconds, rounded away from zero.
    @raise ValueError: for NaN.
    @raise OverflowError: beyond CPython's 64-bit nanoseconds.
    """
    if math.isnan(timeout):
        raise ValueError("Invalid value NaN (not a number)")
    nanoseconds = timeout * 1e9
    # CPython rounds away from zero, then checks the range of its 64-bit
    # nanosecond type; checking first is the same, since floats this
    # large are whole numbers already.
    if not -(2.0**63) <= nanoseconds < 2.0**63:
        raise OverflowError("timestamp out of range for platform time_t")
    return _ceil(nanoseconds) if nanoseconds >= 0 else math.floor(nanoseconds)


def _wholeSecondsToNanoseconds(seconds: int) -> int:
    """
    @return: C{seconds} in nanoseconds.
    @raise OverflowError: beyond CPython's 64-bit nanoseconds.
    """
    whole = int(seconds) * 1_000_000_000
    if not _TIME_MIN <= whole <= _TIME_MAX:
        raise OverflowError(_TIME_OVERFLOW)
    return whole


def _nanosecondsToMilliseconds(whole: int) -> int:
    """
    @return: C{epoll_wait(2)}'s timeout for C{whole} nanoseconds, rounded
        towards positive infinity; -1 for a negative one.
    @raise OverflowError: when it does not fit a C int.
    """
    milliseconds = -(-whole // 1_000_000)
    if not _INT_MIN <= milliseconds <= _INT_MAX:
        raise OverflowError("timeout is too large")
    if milliseconds < 0:
        return -1
    return milliseconds


def _decode(buffer: EventBuffer, count: int) -> List[Tuple[int, int]]:
    """
    Read the first C{count} events of C{buffer} as C{(fd, eventmask)} pairs.

    Bulk decoding: strided memoryview slices pick every event's fd word and
    events word, and zip pairs them, with no Python-level loop per event,
    which on CPython beats C{struct.iter_unpack} with a list comprehension
    (bench/bench_binding.py, "poll(0), 1000 ready").
    """
    end = count * _STRIDE
    return list(
        zip(
            buffer.words[_FD_WORD:end:_STRIDE].tolist(),
            buffer.unsignedWords[0:end:_STRIDE].tolist(),
        )
    )


def _decodeEachEvent(buffer: EventBuffer, count: int) -> List[Tuple[int, int]]:
    """
    L{_decode} for PyPy: one C{unpack_from} per event in a plain loop, which
    PyPy's JIT compiles to a few loads per event.  There it beats both the
    strided memoryview slices of L{_decode} and C{struct.iter_unpack}
    (bench/bench_binding.py, "poll(0), 1000 ready", on PyPy).
    """
    storage = buffer.storage
    unpack = _unpackFdEvent
    events: List[Tuple[int, int]] = []
    append = events.append
    for offset in range(0, count * _EVENT_SIZE, _EVENT_SIZE):
        mask, fd = unpack(storage, offset)
        append((fd, mask))
    return events


if sys.implementation.name == "pypy":
    _decode = _decodeEachEvent


def _newInstance() -> int:
    """
    @return: the descriptor of a new epoll instance, close-on-exec.
    @raise OSError: when the kernel refuses (EMFILE, ENFILE, ENOMEM).
    """
    fd: int = epoll_create1(EPOLL_CLOEXEC)
    if fd < 0:
        fd, err = repeatFailed(epoll_create1, EPOLL_CLOEXEC)
        if err:
            raise osError(err)
    return fd


def _settle(buffer: EventBuffer, count: int) -> None:
    """
    Note a call that wrote C{count} events into C{buffer}, no more than its
    busiest call since it was made or trimmed, which touched more than a
    page: once enough calls in a row (L{_TRIM_AFTER}) have used an eighth
    or less of that, give the rest of the memory back (L{EventBuffer.trim}).
    """
    if count > buffer.touched >> 3:
        buffer.quiet = 0
    else:
        buffer.quiet += 1
        if buffer.quiet > _TRIM_AFTER:
            buffer.trim(count)


def _giveBack(buffers: List[EventBuffer], buffer: EventBuffer) -> None:
    """
    Keep C{buffer} among an object's idle C{buffers} when a call that
    overlapped another is done with it.  The next call takes the last one
    (C{list.pop}): a buffer given back to an empty list goes there as it
    is; one given back beside others goes under them, trimmed to a page
    first if it held more (L{EventBuffer.trim}), so that the buffer a lone
    caller goes on reusing is the one that may keep a burst's memory, and
    L{_settle} gives that back.  Beyond L{_IDLE_BUFFERS}, it is dropped.

    Each step is one C{list} call, which no other thread can come between
    (on CPython and PyPy alike), so no two calls ever share a buffer.
    """
    if not buffers:
        buffers.append(buffer)
    elif len(buffers) < _IDLE_BUFFERS:
        if buffer.touched > _PAGE_EVENTS:
            buffer.trim(0)
        buffers.insert(0, buffer)


def _controlFailed(epfd: int, operation: int, fd: int, event: Optional[bytes]) -> None:
    """
    Learn why a bare C{epoll_ctl(2)} failed by repeating it with errno
    capture (see L{epollreactor._libc.epoll_ctl_bare} and
    L{epollreactor._libc.repeatFailed}), and raise it.  If a repeat
    succeeds, so does the operation.

    @raise OSError: the kernel's error, as its subclass.
    """
    err = repeatFailed(epoll_ctl, epfd, operation, fd, event)[1]
    if err:
        raise osError(err)


def _waitInto(ep: epoll, buffer: EventBuffer, maxevents: int, milliseconds: int) -> int:
    """
    Call C{epoll_wait(2)} on C{ep} into C{buffer}, retrying on EINTR with the
    remaining time recomputed against a monotonic deadline (PEP 475), and
    return how many events it holds.

    Between the interrupted call and the retry, Python runs the signal's
    handler (at the bytecode boundary after the call), and what it raises
    propagates out of here, as CPython's C{PyErr_CheckSignals} makes it.
    The handler may also make a failing ctypes call of its own and so
    replace the errno we would read; so a failed wait is told apart from
    an interrupted one by repeating it with a zero timeout, which cannot
    be interrupted (L{epollreactor._libc.repeatFailed}): if the repeat
    fails, the failure is the call's own, and if it succeeds, its events
    are the result (or, when there are none, the wait goes on).

    @param maxevents: at least 1, at most C{buffer.capacity}.
    @param milliseconds: -1 to wait forever, else at least 0.
    @raise OSError: the kernel's error, as its subclass.
    """
    deadline = 0.0
    if milliseconds > 0:
        deadline = monotonic() + milliseconds / 1000.0
    pointer = buffer.pointer
    while True:
        # The descriptor is read again on every try: a handler may have
        # closed the object, and then, as in CPython, the retry fails
        # with EBADF.
        count = epoll_wait(ep._epfd, pointer, maxevents, milliseconds)
        if count >= 0:
            return count
        count, err = repeatFailed(epoll_wait, ep._epfd, pointer, maxevents, 0)
        if err:
            raise osError(err)
        if count or not milliseconds:
            return count
        if milliseconds > 0:
            remaining = deadline - monotonic()
            if remaining < 0:
                return 0
            milliseconds = _ceil(remaining * 1000.0)


def _preciseWaitFailed(epfd: int, pointer: Any, maxevents: int) -> int:
    """
    Learn the outcome of an C{epoll_pwait2} that returned -1, by repeating
    it with a zero timeout (L{epollreactor._libc.repeatFailed}).

    @return: the repeat's count when the call was interrupted (EINTR): 0,
        or the events that came meanwhile; -1 when the kernel refuses
        C{epoll_pwait2} itself (L{_REFUSALS}), which is remembered: this
        and every later wait goes to C{epoll_wait(2)}.
    @raise OSError: any other error, as its subclass.
    """
    count, err = repeatFailed(_pwait2, epfd, pointer, maxevents, ZERO_TIMEOUT, NULL)
    if err in _REFUSALS:
        global _imprecise
        _imprecise = (
            "the kernel refuses epoll_pwait2 ({}: Linux has it from 5.11 on, "
            "unless a seccomp filter refuses it)".format(errno.errorcode[err])
        )
        return -1
    if err:
        raise osError(err)
    return count


def _waitPreciselyInto(
    ep: epoll, buffer: EventBuffer, maxevents: int, nanoseconds: int
) -> int:
    """
    L{_waitInto} with a timeout in nanoseconds, through C{epoll_pwait2}:
    the same retries on EINTR with the remaining time (PEP 475), against a
    monotonic deadline kept in nanoseconds.  No timeout, a zero one, or
    one where precise waits are missing (L{preciseWaitsMissing}) goes to
    L{_waitInto}, rounded up to whole milliseconds.

    @param maxevents: at least 1, at most C{buffer.capacity}.
    @param nanoseconds: -1 to wait forever, else at least 0.
    @raise OSError: the kernel's error, as its subclass.
    """
    deadline = monotonic_ns() + nanoseconds
    pointer = buffer.pointer
    while nanoseconds > 0 and _imprecise is None:
        _packTimespec(buffer.timeout, 0, *divmod(nanoseconds, _BILLION))
        # The descriptor is read again on every try (see _waitInto).
        count: int = _pwait2(ep._epfd, pointer, maxevents, buffer.timeoutPointer, NULL)
        if count < 0:
            count = _preciseWaitFailed(ep._epfd, pointer, maxevents)
        if count > 0:
            return count
        remaining = deadline - monotonic_ns()
        if remaining <= 0:
            return 0
        # Interrupted: retry with what remains; or refused (count -1): what
        # remains goes to epoll_wait below.
        nanoseconds = remaining
    return _waitInto(ep, buffer, maxevents, _roundedUp(nanoseconds))


def _waitOncePrecisely(
    epfd: int, buffer: EventBuffer, maxevents: int, nanoseconds: int
) -> int:
    """
    L{epoll._waitOnce}'s C{epoll_pwait2}: one wait, which a signal ends
    early.

    @param nanoseconds: at least 0.
    @return: how many events C{buffer} holds; -1 when the kernel refuses
        the call (L{_preciseWaitFailed}), and the caller waits with
        C{epoll_wait(2)} instead.
    @raise OSError: the kernel's error, as its subclass.
    """
    pointer = buffer.pointer
    _packTimespec(buffer.timeout, 0, *divmod(nanoseconds, _BILLION))
    count: int = _pwait2(epfd, pointer, maxevents, buffer.timeoutPointer, NULL)
    if count < 0:
        return _preciseWaitFailed(epfd, pointer, maxevents)
    return count


def preciseWaitsMissing(probe: bool = False) -> Optional[str]:
    """
    Say whether the timed waits of L{epoll.pollPrecisely} and of
    L{EPollReactor<epollreactor.EPollReactor>} are precise to the
    nanosecond (C{epoll_pwait2}) or rounded up to whole milliseconds
    (C{epoll_wait(2)}), as the doctor reports it.

    @param probe: whether to ask the kernel now, with one C{epoll_pwait2}
        of zero timeout on a new instance, where no wait has found out
        yet whether it refuses the call.
    @return: C{None} when they are precise; else why not.
    @raise OSError: when the probe fails for another reason (no
        descriptor left for the new instance).
    """
    if probe and _imprecise is None:
        with epoll() as ep:
            _waitOncePrecisely(ep._epfd, EventBuffer(1), 1, 0)
    return _imprecise


def _roundedUp(nanoseconds: int) -> int:
    """
    @return: C{epoll_wait(2)}'s timeout for C{nanoseconds}: -1 (forever)
        for a negative one, else milliseconds rounded up.
    """
    if nanoseconds < 0:
        return -1
    return -(-nanoseconds // 1_000_000)


def _pollSlowly(
    ep: epoll, timeout: int, maxevents: int, wait: _Wait = _waitInto
) -> List[Tuple[int, int]]:
    """
    L{epoll.poll} (or L{epoll.pollPrecisely}) when the object C{ep} has no
    idle buffer that will do: it has none yet, or one too small (which the
    caller took and this one replaces), or other calls are using all it
    has (then this call makes one, and keeps it idle afterwards,
    L{_giveBack}).

    @param timeout: what C{wait} takes: milliseconds for L{_waitInto},
        nanoseconds for L{_waitPreciselyInto}; -1 to wait forever, else at
        least 0.
    @param maxevents: at least 1.
    @param wait: how to wait.
    """
    buffer = EventBuffer(max(maxevents, _DEFAULT_MAXEVENTS))
    try:
        count = wait(ep, buffer, maxevents, timeout)
        buffer.touched = count
        return _decode(buffer, count)
    finally:
        buffers = ep._buffers
        if buffers is _NO_BUFFERS:
            # Two first calls at once may both get here, and one list
            # wins: the other's buffer is dropped, which costs nothing
            # but its remaking.
            ep._buffers = [buffer]
        else:
            _giveBack(buffers, buffer)


def _pollPrecisely(ep: epoll, timeout: Any, maxevents: Any) -> List[Tuple[int, int]]:
    """
    L{epoll.pollPrecisely} on C{ep}: its arguments checked as L{epoll.poll}
    checks them, in its order, then the wait, in a buffer lent as
    L{epoll.poll} lends it.
    """
    if maxevents is _MINUS_ONE:
        maxevents = _DEFAULT_MAXEVENTS
    elif maxevents.__class__ is not int or not 0 < maxevents <= _MAX_EVENTS:
        maxevents = _checkMaxEvents(ep, timeout, maxevents)
    if ep._epfd < 0:
        raise _closedError()
    nanoseconds = timeoutToNanoseconds(timeout)
    if nanoseconds is None or nanoseconds < 0:
        nanoseconds = -1
    else:
        # The range poll takes: epoll_wait(2)'s, for the fallback.
        _nanosecondsToMilliseconds(nanoseconds)
    buffers = ep._buffers
    try:
        buffer = buffers.pop()
    except IndexError:
        return _pollSlowly(ep, nanoseconds, maxevents, _waitPreciselyInto)
    if maxevents > buffer.capacity:
        return _pollSlowly(ep, nanoseconds, maxevents, _waitPreciselyInto)
    try:
        count = _waitPreciselyInto(ep, buffer, maxevents, nanoseconds)
        touched = buffer.touched
        if count > touched:
            buffer.touched = count
        elif touched > _PAGE_EVENTS:
            _settle(buffer, count)
        return _decode(buffer, count)
    finally:
        _giveBack(buffers, buffer)


def _checkMaxEvents(ep: epoll, timeout: Any, maxevents: Any) -> int:
    """
    Convert and check a C{maxevents} other than the default, for L{epoll.poll}
    on C{ep}, raising what
    is wrong in CPython's order: C{maxevents}' type (its argument parser),
    the closed object, the timeout, then C{maxevents}' value.

    @return: the number of events to ask for, at least 1.
    @raise OSError: EINVAL for more events than C{epoll_wait(2)} takes
        (C{EP_MAX_EVENTS}, C{INT_MAX / sizeof(struct epoll_event)}),
        which the kernel would say if we passed it on; we pass only what
        our buffer holds.
    """
    converted = _asCInt(maxevents)
    if converted == -1:
        return _DEFAULT_MAXEVENTS
    if converted < 1 or converted > _MAX_EVENTS:
        if ep._epfd < 0:
            raise _closedError()
        timeoutToMilliseconds(timeout)
        if converted > _MAX_EVENTS:
            raise osError(errno.EINVAL)
        raise ValueError("maxevents must be greater than 0, got {}".format(converted))
    return converted


class epoll:
    """
    An epoll instance: CPython's C{select.epoll}, built on ctypes.

    The instance is created with C{EPOLL_CLOEXEC} always, as CPython does
    (PEP 446), and its descriptor is closed by L{close}, by leaving a C{with}
    block, or when the object is garbage-collected.

    @ivar closed: whether L{close} has been called.
    """

    __slots__ = ("_epfd", "_buffers", "__weakref__")

    _epfd: int
    #: The object's idle result buffers, at most L{_IDLE_BUFFERS}: a call
    #: takes the last with C{list.pop} and gives it back through
    #: L{_giveBack}, each one step that no other thread can come between (on
    #: CPython and PyPy alike), so two threads polling one object at once
    #: never share a buffer.
    _buffers: List[EventBuffer]

    def __new__(cls: Type[_Self], sizehint: int = -1, flags: int = 0) -> _Self:
        """
        Create an epoll instance with C{epoll_create1(2)}.  (C{__new__}, not
        C{__init__}, as in CPython: a subclass may define C{__init__} freely.)

        @param sizehint: -1 (the default), or a positive hint of how many
            descriptors will be registered; it does not limit anything.
        @param flags: 0 or C{EPOLL_CLOEXEC}; the instance is close-on-exec
            whatever it says.
        @raise ValueError: when C{sizehint} is 0 or below -1.
        @raise TypeError: when an argument is not an integer.
        @raise OSError: for unknown flags, or when the kernel refuses (EMFILE,
            ENFILE, ENOMEM).
        """
        sizehint = _asCInt(sizehint)
        flags = _asCInt(flags)
        if sizehint != -1 and sizehint <= 0:
            raise ValueError("negative sizehint")
        if flags and flags != EPOLL_CLOEXEC:
            # CPython raises a bare OSError, no errno.
            raise OSError("invalid flags")
        return cls._create(-1)

    @classmethod
    def _create(cls: Type[_Self], fd: int) -> _Self:
        """
        CPython's C{newPyEpoll_Object}: wrap C{fd}, or a new instance from
        C{epoll_create1(2)} when C{fd} is -1.

        @raise OSError: when the kernel refuses, or C{fd} is below -1.
        """
        self = object.__new__(cls)
        self._epfd = -1
        if fd == -1:
            fd = _newInstance()
        elif fd < 0:
            # CPython reports whatever errno happens to hold here; EBADF is
            # the truthful one, and the type is the same: OSError.
            raise osError(errno.EBADF)
        self._epfd = fd
        # No buffer until the first poll: one made up front would cost every
        # object memory that select.epoll's does not (bench/README.md,
        # "Memory").
        self._buffers = _NO_BUFFERS
        return self

    @classmethod
    def fromfd(cls: Type[_Self], fd: int, /) -> _Self:
        """
        Wrap an existing epoll descriptor, as C{select.epoll.fromfd} does; the
        new object owns it and closes it.  As in CPython, C{fromfd(-1)}
        creates a new instance.

        @param fd: an epoll instance's descriptor.
        @raise TypeError: when C{fd} is not an integer.
        @raise OverflowError: when it does not fit in a C int.
        @raise OSError: when C{fd} is below -1.
        """
        return cls._create(_asCInt(fd))

    def __del__(self) -> None:
        """
        Close the descriptor if the object still holds it.
        """
        # No descriptor may outlive its object (issue 2: "no descriptor
        # leaks"); CPython's dealloc closes it too.
        epfd = getattr(self, "_epfd", -1)
        if epfd >= 0:
            self._epfd = -1
            try:
                os.close(epfd)
            except OSError:
                pass

    def __reduce__(self) -> Any:
        """
        @raise TypeError: always, as for C{select.epoll}.
        """
        # A copy would share, and later close, the same descriptor.
        raise TypeError("cannot pickle {!r} object".format(type(self).__name__))

    def close(self) -> None:
        """
        Close the epoll descriptor.  Closing a closed object does nothing;
        every other method of a closed object raises L{ValueError}.

        A failing C{close(2)} (EBADF, when the descriptor was closed behind
        the object's back) raises its L{OSError} on CPython 3.15 and later
        and is ignored before, as that interpreter's C{select.epoll.close}
        does; either way the object is closed afterwards.

        @raise OSError: on CPython 3.15 and later, when C{close(2)} fails.
        """
        epfd = self._epfd
        if epfd >= 0:
            self._epfd = -1
            try:
                os.close(epfd)
            except OSError:
                if CLOSE_RAISES:
                    raise

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
        """
        @raise ValueError: when the object is closed.
        """
        if self._epfd < 0:
            raise _closedError()
        return self

    def __exit__(
        self,
        exc_type: object = None,
        exc_value: object = None,
        exc_tb: object = None,
        /,
    ) -> None:
        """
        Close the object.
        """
        self.close()

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
        @raise TypeError: when C{fd} is not a descriptor or C{eventmask} not
            an integer.
        @raise OverflowError: when C{fd} does not fit in a C int.
        """
        # The number goes into a name of its own: C{fd} keeps the caller's
        # object, perhaps a temporary, alive (and its descriptor open) until
        # epoll_ctl(2) has returned, as select.epoll keeps it.
        number = fd
        if fd.__class__ is not int or fd < 0 or eventmask.__class__ is not int:
            number, eventmask = _convertControl(fd, eventmask)
        try:
            # Packing checks the ranges: "I" wants 0 <= eventmask < 2**32,
            # "i" wants the number to fit a C int.
            event = _packFdEvent(eventmask, number)
        except _StructError:
            number, eventmask = _convertControl(fd, eventmask)
            event = _packFdEvent(eventmask, number)
        epfd = self._epfd
        if epfd < 0:
            raise _closedError()
        if epoll_ctl_bare(epfd, EPOLL_CTL_ADD, number, event):
            _controlFailed(epfd, EPOLL_CTL_ADD, number, event)

    def modify(self, fd: FileDescriptorLike, eventmask: int) -> None:
        """
        Change a registered descriptor's event mask with C{EPOLL_CTL_MOD}.

        @raise FileNotFoundError: when it is not registered (ENOENT).
        @raise OSError: for a closed descriptor (EBADF) and other kernel
            errors.
        @raise ValueError: when the object is closed or C{fd} is negative.
        @raise TypeError: when C{fd} is not a descriptor or C{eventmask} not
            an integer.
        @raise OverflowError: when C{fd} does not fit in a C int.
        """
        # The number goes into a name of its own: C{fd} keeps the caller's
        # object, perhaps a temporary, alive (and its descriptor open) until
        # epoll_ctl(2) has returned, as select.epoll keeps it.
        number = fd
        if fd.__class__ is not int or fd < 0 or eventmask.__class__ is not int:
            number, eventmask = _convertControl(fd, eventmask)
        try:
            # Packing checks the ranges: "I" wants 0 <= eventmask < 2**32,
            # "i" wants the number to fit a C int.
            event = _packFdEvent(eventmask, number)
        except _StructError:
            number, eventmask = _convertControl(fd, eventmask)
            event = _packFdEvent(eventmask, number)
        epfd = self._epfd
        if epfd < 0:
            raise _closedError()
        if epoll_ctl_bare(epfd, EPOLL_CTL_MOD, number, event):
            _controlFailed(epfd, EPOLL_CTL_MOD, number, event)

    def unregister(self, fd: FileDescriptorLike) -> None:
        """
        Remove a descriptor with C{EPOLL_CTL_DEL}.

        @raise FileNotFoundError: when it is not registered (ENOENT).
        @raise OSError: for a closed descriptor (EBADF) and other kernel
            errors.
        @raise ValueError: when the object is closed or C{fd} is negative.
        @raise TypeError: when C{fd} is not a descriptor.
        @raise OverflowError: when C{fd} does not fit in a C int.
        """
        # C{fd} keeps the caller's object alive (see register).
        number = fd
        if fd.__class__ is not int or not 0 <= fd <= _INT_MAX:
            number = asFileDescriptor(fd, 3)
        epfd = self._epfd
        if epfd < 0:
            raise _closedError()
        # A NULL event for EPOLL_CTL_DEL is fine since Linux 2.6.9
        # (epoll_ctl(2), BUGS).
        if epoll_ctl_bare(epfd, EPOLL_CTL_DEL, number, None):
            _controlFailed(epfd, EPOLL_CTL_DEL, number, None)

    # The reactor's road to the kernel: no argument conversion, errors as
    # errnos, events tagged (L{epollreactor._registrations}).

    def _control(self, operation: int, fd: int, mask: int, tag: int) -> int:
        """
        C{epoll_ctl(2)} with C{tag} in the upper half of C{epoll_data}
        (L{EVENT}), for L{EPollReactor<epollreactor.EPollReactor>}'s
        registrations.

        @return: 0, or the errno of its failure, learnt by repeating the
            call (L{repeatFailed}: errno itself may have been replaced by a
            signal handler since); a repeat that succeeds is the call's
            outcome.
        """
        epfd = self._epfd
        # A NULL event for EPOLL_CTL_DEL (see unregister).
        event = None if operation == EPOLL_CTL_DEL else _packEvent(mask, fd, tag)
        if epoll_ctl_bare(epfd, operation, fd, event):
            return repeatFailed(epoll_ctl, epfd, operation, fd, event)[1]
        return 0

    def _waitOnce(self, buffer: EventBuffer, maxevents: int, nanoseconds: int) -> int:
        """
        One wait into C{buffer}, for the reactor's loop, precise where it
        can be (L{_waitOncePrecisely}) and the wait is shorter than
        L{PRECISE_BELOW}, else rounded up to milliseconds: a
        wait a signal interrupts returns no events, so that the loop runs
        what the signal's handler scheduled before it waits again.

        @param nanoseconds: -1 to wait forever, else at least 0.
        @raise OSError: the kernel's error, as its subclass.
        """
        epfd = self._epfd
        if nanoseconds > 0:
            if _imprecise is None and nanoseconds < PRECISE_BELOW:
                count = _waitOncePrecisely(epfd, buffer, maxevents, nanoseconds)
                if count >= 0:
                    return count
            milliseconds = -(-nanoseconds // 1_000_000)
        else:
            milliseconds = nanoseconds
        count = epoll_wait(epfd, buffer.pointer, maxevents, milliseconds)
        if count < 0:
            # Interrupted (EINTR), or a failure of its own: a repeat with a
            # zero timeout cannot be interrupted, so its failure is the
            # call's own (repeatFailed).
            count, err = repeatFailed(epoll_wait, epfd, buffer.pointer, maxevents, 0)
            if err:
                raise osError(err)
        return count

    def _renew(self) -> None:
        """
        Hold a new, empty epoll instance instead of the one held now, which
        is closed (the reactor's rebuild).  The new one is made first, so
        its descriptor is another number.

        @raise OSError: when the kernel refuses a new instance; the old one
            is kept then.
        """
        old = self._epfd
        self._epfd = _newInstance()
        if old >= 0:
            os.close(old)

    def poll(
        self, timeout: Optional[float] = None, maxevents: int = -1
    ) -> List[Tuple[int, int]]:
        """
        Wait for events with C{epoll_wait(2)}: at most C{maxevents} (-1:
        C{FD_SETSIZE - 1}), for C{timeout} seconds (C{None} or negative:
        until one comes; rounded up to whole milliseconds,
        L{timeoutToMilliseconds}).

        @return: a list of C{(fd, eventmask)} tuples.
        @raise ValueError: when the object is closed, C{maxevents} is 0 or
            below -1, or C{timeout} is NaN.
        @raise OverflowError: when C{timeout} or C{maxevents} is too large.
        @raise TypeError: when an argument has the wrong type.
        @raise OSError: the kernel's error, as its subclass.
        """
        # Mistakes are reported in CPython's order (_checkMaxEvents).
        if maxevents is _MINUS_ONE:
            maxevents = _DEFAULT_MAXEVENTS
        elif maxevents.__class__ is not int or not 0 < maxevents <= _MAX_EVENTS:
            maxevents = _checkMaxEvents(self, timeout, maxevents)
        epfd = self._epfd
        if epfd < 0:
            raise _closedError()
        milliseconds = 0 if timeout is _ZERO else timeoutToMilliseconds(timeout)
        buffers = self._buffers
        try:
            buffer = buffers.pop()
        except IndexError:
            return _pollSlowly(self, milliseconds, maxevents)
        if maxevents > buffer.capacity:
            return _pollSlowly(self, milliseconds, maxevents)
        # Idle buffers beside this one (calls overlapped): no len() if none.
        left = len(buffers) if buffers else 0
        try:
            if milliseconds:
                count = _waitInto(self, buffer, maxevents, milliseconds)
            else:
                count = epoll_wait_bare(epfd, buffer.pointer, maxevents, 0)
                if count < 0:
                    # Learn why (see epoll_ctl_bare in _libc).
                    count = _waitInto(self, buffer, maxevents, 0)
            touched = buffer.touched
            if count > touched:
                buffer.touched = count
            elif touched > _PAGE_EVENTS:
                _settle(buffer, count)
            if count < 2:
                if count:
                    events, fd = _unpackFdEvent(buffer.storage)
                    return [(fd, events)]
                return []
            return _decode(buffer, count)
        finally:
            # Back on top as it was, unless another call gave a buffer back
            # or took one meanwhile (then _giveBack places it).
            if (buffers or left) and len(buffers) != left:
                _giveBack(buffers, buffer)
            else:
                buffers.append(buffer)

    def pollPrecisely(
        self, timeout: Optional[float] = None, maxevents: int = -1
    ) -> List[Tuple[int, int]]:
        """
        L{poll} with the timeout to the nanosecond: C{epoll_pwait2}, where
        the kernel and the C library have it (Linux 5.11, glibc 2.35), waits
        C{timeout} seconds rounded up to whole nanoseconds, where L{poll}
        rounds up to whole milliseconds as C{select.epoll.poll} does; so
        C{pollPrecisely(0.0003)} waits 0.3 ms (and the kernel's timer
        slack), where C{poll(0.0003)} waits 1 ms.  Elsewhere it waits as
        L{poll} does (L{preciseWaitsMissing} says which).  A signal that
        interrupts it is retried with the time that remains (PEP 475).

        It takes what L{poll} takes and raises what it raises, but for a
        negative timeout, which always means waiting until an event comes
        (L{poll} waits 0 for one between -1 ms and 0, as CPython does).

        @return: a list of C{(fd, eventmask)} tuples.
        @raise ValueError: as L{poll} raises it; so do L{OverflowError}
            and L{TypeError}.
        @raise OSError: the kernel's error, as its subclass.
        """
        return _pollPrecisely(self, timeout, maxevents)
