"""
The C boundary: the only module of epollreactor that imports L{ctypes}.

It loads the C library once, declares the three epoll system calls (and
C{epoll_pwait2(2)} where the C library has it) and the layouts of C{struct
epoll_event} and C{struct timespec}, exports the kernel's EPOLL* constants,
and owns the one road by which a failed call becomes a Python exception:
L{osError}.

Everything above this module sees plain Python: integers, L{bytes} and a
preallocated L{EventBuffer}.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
import sys

from epollreactor._versions import EXPORTS_EPOLLWAKEUP

# typing for the type checker only, as in epollreactor/_versions.py.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Union

    _EpollCall = Callable[..., int]

# What epollreactor exports from here, as select does on Linux: the event
# bits and EPOLL_CLOEXEC, named once (epollreactor/__init__.py re-exports
# this list, and the tests check it against select and <sys/epoll.h>).  The
# rest of this module is imported by name by the modules above it.
__all__ = [
    "EPOLLIN",
    "EPOLLPRI",
    "EPOLLOUT",
    "EPOLLERR",
    "EPOLLHUP",
    "EPOLLRDNORM",
    "EPOLLRDBAND",
    "EPOLLWRNORM",
    "EPOLLWRBAND",
    "EPOLLMSG",
    "EPOLLRDHUP",
    "EPOLLEXCLUSIVE",
    "EPOLLONESHOT",
    "EPOLLET",
    "EPOLL_CLOEXEC",
]
if EXPORTS_EPOLLWAKEUP:
    # select has it from Python 3.14 on (epollreactor/_versions.py).
    __all__.append("EPOLLWAKEUP")

# Event bits, from the kernel's include/uapi/linux/eventpoll.h and poll.h;
# the same values on every Linux architecture (epoll_ctl(2)).
EPOLLIN = 0x001
EPOLLPRI = 0x002
EPOLLOUT = 0x004
EPOLLERR = 0x008
EPOLLHUP = 0x010
EPOLLRDNORM = 0x040
EPOLLRDBAND = 0x080
EPOLLWRNORM = 0x100
EPOLLWRBAND = 0x200
EPOLLMSG = 0x400
EPOLLRDHUP = 0x2000
EPOLLEXCLUSIVE = 1 << 28
EPOLLWAKEUP = 1 << 29
EPOLLONESHOT = 1 << 30
# select adds its constants as C longs (PyModule_AddIntConstant), and
# sys/epoll.h defines EPOLLET as 1u << 31: as a long that is 2**31 where a
# long has 64 bits and -2**31 where it has 32 (i386, armhf).  Ours is the
# same number, so that code comparing it with select's agrees; the binding
# reduces every mask modulo 2**32, as select.epoll does, so either passes
# the same bit to the kernel.
EPOLLET = ctypes.c_long(1 << 31).value

# epoll_create1(2): EPOLL_CLOEXEC "has the same meaning as O_CLOEXEC", whose
# value differs between architectures (alpha, sparc, parisc), so take it from
# the os module rather than write down x86's 0o2000000.
EPOLL_CLOEXEC = os.O_CLOEXEC

# Operations of epoll_ctl(2).
EPOLL_CTL_ADD = 1
EPOLL_CTL_DEL = 2
EPOLL_CTL_MOD = 3

# CPython's select.epoll sizes its default result list from FD_SETSIZE - 1;
# glibc's FD_SETSIZE is 1024 everywhere.
FD_SETSIZE = 1024


#: What L{libcName} says when the epoll calls were found in the process
#: image (C{dlopen(NULL)}), which holds the C library the interpreter is
#: linked with.
PROCESS_IMAGE = "the process image"


def _missingCalls(library: ctypes.CDLL) -> list[str]:
    """
    @return: the epoll system calls that C{library} does not export.
    """
    return [
        symbol
        for symbol in ("epoll_create1", "epoll_ctl", "epoll_wait")
        if not hasattr(library, symbol)
    ]


def _loadLibc(name: Optional[str] = None) -> tuple[ctypes.CDLL, str]:
    """
    Load the C library once, with C{use_errno=True} so that L{getErrno} sees
    the errno of our own calls (inotify_simple learned this the hard way:
    without it users saw C{OSError} with errno 0).

    By default the process image (C{dlopen(NULL)}) is asked first: a
    dynamically linked interpreter has its C library there, and a static one
    has it built in, so the lookup costs next to nothing.  Only where the
    image lacks an epoll call is C{ctypes.util.find_library("c")} asked: it
    imports C{subprocess}, C{shutil} and C{tempfile}, which would cost
    C{import epollreactor} more than all the rest of the binding, and may
    run C{ldconfig} (bench/README.md, "Import time").

    @param name: the library to load; by default the process image, else
        the one C{ctypes.util.find_library("c")} names.
    @return: the library and the name it was loaded under (L{PROCESS_IMAGE}
        for the process image).
    @raise ImportError: when the library has no epoll system calls (not
        Linux).
    """
    library = None
    if name is None:
        library = ctypes.CDLL(None, use_errno=True)
        name = PROCESS_IMAGE
        if _missingCalls(library):
            from ctypes.util import find_library

            found = find_library("c")
            if found is not None:
                library, name = None, found
    if library is None:
        try:
            library = ctypes.CDLL(name, use_errno=True)
        except OSError:
            name = PROCESS_IMAGE
            library = ctypes.CDLL(None, use_errno=True)
    missing = _missingCalls(library)
    if missing:
        raise ImportError(
            "epollreactor needs Linux epoll, but the C library loaded from "
            "{} has no {} (platform: {})".format(
                name, ", ".join(missing), os.uname().sysname
            )
        )
    return library, name


_libc, libcName = _loadLibc()


# struct epoll_event, epoll_ctl(2) and glibc's sys/epoll.h:
#
#     typedef union epoll_data { void *ptr; int fd; uint32_t u32;
#                                uint64_t u64; } epoll_data_t;
#     struct epoll_event { uint32_t events; epoll_data_t data; }
#         __EPOLL_PACKED;
#
# __EPOLL_PACKED is __attribute__((packed)) on x86-64 (and meaningless on
# 32-bit x86, where uint64_t is 4-byte aligned), so there:
#
#     offset 0  events  uint32
#     offset 4  data    8 bytes        -> 12 bytes in all
#
# and on every other architecture the union is naturally aligned:
#
#     offset 0  events  uint32
#     offset 4  (padding)
#     offset 8  data    8 bytes        -> 16 bytes in all
#
# We do not use _pack_ for the x86 case: Python 3.14 warns when _pack_ comes
# without _layout_ and later versions refuse it (CPython gh-131747).  Two
# uint32 words for data give the same 12 bytes with 4-byte alignment.
_PACKED_ARCHITECTURES = frozenset(
    ["x86_64", "amd64", "i386", "i486", "i586", "i686", "x86"]
)

if os.uname().machine.lower() in _PACKED_ARCHITECTURES:

    class epoll_event(ctypes.Structure):
        """
        C{struct epoll_event} as the kernel lays it out on x86: 12 bytes,
        C{data} at offset 4.
        """

        _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint32 * 2)]

    _EXPECTED_SIZE, _EXPECTED_DATA_OFFSET = 12, 4
else:

    class epoll_event(ctypes.Structure):  # type: ignore[no-redef]
        """
        C{struct epoll_event} as the kernel lays it out off x86: 16 bytes,
        C{data} at offset 8.
        """

        _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]

    _EXPECTED_SIZE, _EXPECTED_DATA_OFFSET = 16, 8

assert ctypes.sizeof(epoll_event) == _EXPECTED_SIZE, ctypes.sizeof(epoll_event)
assert epoll_event.data.offset == _EXPECTED_DATA_OFFSET, epoll_event.data.offset

# One event as the struct module sees it: the events word, then the data
# union read as two 32-bit words.  The first is C{data.fd} (the union's first
# four bytes on either byte order, which is where select.epoll stores the
# descriptor); the second is free for the reactor's generation tag.
EVENT = struct.Struct("=I" + "x" * (_EXPECTED_DATA_OFFSET - 4) + "iI")
assert EVENT.size == ctypes.sizeof(epoll_event), EVENT.size

#: One event as C{select.epoll} writes and reads it: the events word and
#: C{data.fd}, the rest of C{data} zero.  Two fields instead of L{EVENT}'s
#: three make packing and unpacking a little cheaper on the hot paths.
FD_EVENT = struct.Struct("=I" + "x" * (_EXPECTED_DATA_OFFSET - 4) + "i4x")
assert FD_EVENT.size == EVENT.size, FD_EVENT.size


# struct timespec, for epoll_pwait2(2)'s timeout (time.h, clock_gettime(2)):
#
#     struct timespec { time_t tv_sec; long tv_nsec; };
#
# Both fields are C longs for the "epoll_pwait2" symbol on every Linux
# architecture: 8 bytes each (16 in all) where a long has 64 bits, 4 each
# (8) on 32-bit ones, where glibc's 64-bit time_t variant has another name
# (__epoll_pwait2_time64) that we do not call.
class timespec(ctypes.Structure):
    """
    C{struct timespec}: whole seconds and nanoseconds.
    """

    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


#: A L{timespec} as the struct module writes it, into an L{EventBuffer}'s
#: C{timeout}.
TIMESPEC = struct.Struct("@ll")
assert TIMESPEC.size == ctypes.sizeof(timespec), TIMESPEC.size
#: The largest C{tv_sec} a L{timespec} holds here.
TIMESPEC_SECONDS_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1) - 1


#: Buffers of up to a page are a L{bytearray}; larger ones are an anonymous
#: L{mmap.mmap}, whose pages the kernel hands out zeroed on first touch, so
#: that they take memory only as far as C{epoll_wait(2)} writes events into
#: them, and can give it back (L{EventBuffer.trim}).  A bytearray would
#: instead zero all of it up front: 12 KiB for the default 1,023 events, a
#: gigabyte for C{maxevents=10**8}.
_MAPPED_BUFFER_BYTES = mmap.PAGESIZE


def _pointerInto(storage: Union[bytearray, mmap.mmap]) -> Any:
    """
    @return: what to pass to a C function as a pointer to C{storage}'s
        memory: a ctypes array over it, which ctypes passes as a pointer
        (and Python reads back through the storage itself); on PyPy, whose
        function pointers take an address (see L{_pypyFunctionPointers}),
        its address.  The storage keeps the memory valid.
    """
    array = (ctypes.c_char * len(storage)).from_buffer(storage)
    return ctypes.addressof(array) if _pointerAsAddress else array


class EventBuffer:
    """
    A preallocated array of C{struct epoll_event} for C{epoll_wait(2)} to
    fill, readable from Python without copying.

    @ivar capacity: how many events fit.
    @ivar pointer: what to pass to L{epoll_wait} as its C{events} argument.
    @ivar storage: the writable buffer that holds the bytes (a L{bytearray},
        or an L{mmap.mmap} for large buffers).
    @ivar view: a L{memoryview} of the raw bytes.
    @ivar words: the same bytes as signed 32-bit words.
    @ivar unsignedWords: the same bytes as unsigned 32-bit words.
    @ivar touched: the most events one call has written since the buffer
        was made or last trimmed, as its owner counts them.
    @ivar quiet: how many calls in a row used little of what was touched;
        its owner trims the buffer after enough of them.
    @ivar timeout: a L{timespec}'s bytes (L{TIMESPEC}), where a caller of
        L{epoll_pwait2} writes its timeout: one per buffer, so that calls
        that overlap, each with a buffer of its own, have their own.
    @ivar timeoutPointer: what to pass to L{epoll_pwait2} as its
        C{timeout} argument: C{timeout}'s address.
    @ivar stride: how many 32-bit words one event takes.
    @ivar fdWord: the index, within one event, of the word holding
        C{data.fd}; the generation tag is the word after it.
    """

    __slots__ = (
        "capacity",
        "pointer",
        "storage",
        "view",
        "words",
        "unsignedWords",
        "touched",
        "quiet",
        "timeout",
        "timeoutPointer",
    )

    stride = EVENT.size // 4
    fdWord = _EXPECTED_DATA_OFFSET // 4
    #: How many events fill a page.
    pageEvents = mmap.PAGESIZE // EVENT.size

    def __init__(self, capacity: int) -> None:
        """
        @param capacity: how many events the buffer holds; at least 1.
        @raise MemoryError: when the memory cannot be had, as
            C{select.epoll.poll} raises for an absurd C{maxevents}.
        """
        self.capacity = capacity
        size = capacity * EVENT.size
        storage: Union[bytearray, mmap.mmap]
        if size <= _MAPPED_BUFFER_BYTES:
            storage = bytearray(size)
        else:
            try:
                storage = mmap.mmap(-1, size)
            except (OSError, OverflowError, ValueError):
                raise MemoryError() from None
        self.storage = storage
        self.pointer: Any = _pointerInto(storage)
        self.view = memoryview(storage)
        self.words = self.view.cast("i")
        self.unsignedWords = self.view.cast("I")
        self.touched = 0
        self.quiet = 0
        self.timeout = bytearray(TIMESPEC.size)
        self.timeoutPointer: Any = _pointerInto(self.timeout)

    def trim(self, keep: int) -> None:
        """
        Give the pages past the first C{keep} events back to the kernel
        (C{madvise(2)} C{MADV_DONTNEED}: anonymous pages read as zero again
        and take no memory until written), so that a buffer a burst of
        events filled does not keep that memory.  A buffer of one page, or
        an interpreter without C{mmap.madvise}, keeps it.

        @param keep: how many events the buffer should still hold in memory.
        """
        self.quiet = 0
        self.touched = keep
        storage = self.storage
        if not isinstance(storage, mmap.mmap) or not hasattr(storage, "madvise"):
            return
        page = mmap.PAGESIZE
        start = -(-max(keep, 1) * EVENT.size // page) * page
        if start < len(storage):
            storage.madvise(mmap.MADV_DONTNEED, start, len(storage) - start)


# The result types, declared as data and applied by one loop (pyudev's
# way).  Argument types are deliberately not declared: ctypes' argtypes
# conversion would make every call much dearer (bench/bench_binding.py;
# bench/README.md).  Every argument we pass is a Python int (passed as C
# int), a bytes object (const char *), None (NULL) or an
# EventBuffer.pointer, which ctypes converts correctly on its own, so the C
# prototypes are written down here only:
#
#     int epoll_create1(int flags);
#     int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
#     int epoll_wait(int epfd, struct epoll_event *events, int maxevents,
#                    int timeout);
#     int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
#                      const struct timespec *timeout,
#                      const sigset_t *sigmask);
_RESULT_TYPES = (
    ("epoll_create1", ctypes.c_int),
    ("epoll_ctl", ctypes.c_int),
    ("epoll_wait", ctypes.c_int),
)

for _name, _restype in _RESULT_TYPES:
    getattr(_libc, _name).restype = _restype
del _name, _restype

#: C{epoll_create1(flags) -> fd or -1}; see epoll_create(2).
epoll_create1: _EpollCall = _libc.epoll_create1
#: C{epoll_ctl(epfd, op, fd, event: bytes or None) -> 0 or -1}; see
#: epoll_ctl(2).  C{event} is L{EVENT}-packed bytes, or None for
#: EPOLL_CTL_DEL (allowed since Linux 2.6.9).
epoll_ctl: _EpollCall = _libc.epoll_ctl
#: C{epoll_wait(epfd, EventBuffer.pointer, maxevents, timeoutMs) -> count or
#: -1}; see epoll_wait(2).
epoll_wait: _EpollCall = _libc.epoll_wait
#: C{epoll_pwait2(epfd, EventBuffer.pointer, maxevents,
#: EventBuffer.timeoutPointer or NULL, NULL) -> count or -1}; see
#: epoll_wait(2): C{epoll_wait} with a L{timespec} timeout to the
#: nanosecond (NULL waits forever), and with a NULL signal mask nothing else
#: differs.  C{None} where the C library lacks it: glibc added it in 2.35
#: (Linux in 5.11, and an older kernel answers ENOSYS), so it is looked up,
#: not required.
epoll_pwait2: Optional[_EpollCall] = None
if hasattr(_libc, "epoll_pwait2"):
    _libc.epoll_pwait2.restype = ctypes.c_int
    epoll_pwait2 = _libc.epoll_pwait2

# The same two calls once more, for the hot paths of epollreactor.epoll,
# with use_errno=False: ctypes then skips swapping errno with its
# thread-local copy around the call.  On failure we learn errno by repeating
# the call through the errno-capturing epoll_ctl or epoll_wait above: every
# error these calls can report for the same arguments (EBADF, EEXIST,
# ENOENT, EPERM, EINVAL, ELOOP, ENOSPC) is reported again by the repeat, and
# a repeat that succeeds instead (ENOMEM gone, or another thread changed the
# set in between) is a valid outcome of the call.
#
# They release the GIL around the call, as select.epoll does, although
# neither blocks (epoll_ctl, and epoll_wait with a zero timeout): keeping it
# (ctypes.PyDLL) would save a few percent of a call, but a thread that
# loops over such calls would then keep every other thread waiting for the
# interpreter's switch interval (sys.getswitchinterval(), 5 ms), where
# releasing lets a thread woken from a blocking poll run at once, as with
# select.epoll (bench/bench_memory.py, bench/README.md "Threads").
_bareLibrary: ctypes.CDLL
if sys.implementation.name == "cpython":
    _bareLibrary = ctypes.CDLL(_libc._name, handle=_libc._handle, use_errno=False)
else:
    # PyPy's CDLL built from a handle has no function lookup of its own
    # (AttributeError: __pypy_dll__), so load the library again by name: the
    # dynamic loader hands back the same one.
    _bareLibrary = ctypes.CDLL(_libc._name, use_errno=False)
_bareLibrary.epoll_ctl.restype = ctypes.c_int
_bareLibrary.epoll_wait.restype = ctypes.c_int

#: L{epoll_ctl} without errno; on failure, repeat the call through
#: L{epoll_ctl} to learn the error.
epoll_ctl_bare: _EpollCall = _bareLibrary.epoll_ctl
#: L{epoll_wait} without errno, for a zero timeout.  On failure, repeat the
#: call through L{epoll_wait} to learn the error.
epoll_wait_bare: _EpollCall = _bareLibrary.epoll_wait

#: The errno of this thread's last ctypes call into the C library.
getErrno: Callable[[], int] = ctypes.get_errno


# PyPy.  PyPy's ctypes is written in Python, above PyPy's own libffi
# binding, _rawffi.alt: every call converts its arguments, looks up a libffi
# function pointer, swaps errno in and out of ctypes' copy, and builds the
# result, at many times the cost of PyPy's own select.epoll
# (bench/bench_binding.py on PyPy; bench/README.md, "PyPy").  Underneath,
# each ctypes function holds a _rawffi.alt.FuncPtr that the JIT calls
# directly, at a small part of that cost.  So on PyPy we declare the
# three calls with plain argument types (int, and void * passed as an
# address), take those function pointers out of ctypes once, and export them
# instead:
#
#  - they take only ints, so there EventBuffer.pointer is the buffer's
#    address, and epoll_ctl copies its event into a preallocated buffer and
#    passes that address: a bytes argument would be copied into a temporary
#    C buffer that only ctypes' own call path frees;
#  - with use_errno they save errno in PyPy's thread-local copy, which
#    _rawffi.get_errno reads, so getErrno becomes that;
#  - they release the GIL around the call, as ctypes does.
#
# On an interpreter without these (not PyPy, or a PyPy that has changed its
# ctypes internals) the ctypes functions above stay.
_pointerAsAddress = False


def _pypyFunctionPointers() -> tuple[dict[str, _EpollCall], Callable[[], int]]:
    """
    Take PyPy's libffi function pointers for the epoll calls out of ctypes.

    @return: the function pointers by name, and the function that reads the
        errno they save.
    @raise ImportError: when this is not PyPy.
    @raise AttributeError: when PyPy's ctypes has no C{_getfuncptr}.
    """
    import _rawffi  # type: ignore[import-not-found]

    # Not from _libc's handle: PyPy's CDLL built from one cannot look
    # functions up.  The dynamic loader hands back the same library.
    library = ctypes.CDLL(_libc._name, use_errno=True)
    pointers = {}
    pointer, integer = ctypes.c_void_p, ctypes.c_int
    for name, argtypes in (
        ("epoll_create1", [integer]),
        ("epoll_ctl", [integer, integer, integer, pointer]),
        ("epoll_wait", [integer, pointer, integer, integer]),
        ("epoll_pwait2", [integer, pointer, integer, pointer, pointer]),
    ):
        if name == "epoll_pwait2" and epoll_pwait2 is None:
            continue
        function = getattr(library, name)
        function.argtypes = argtypes
        function.restype = ctypes.c_int
        pointers[name] = function._getfuncptr(function._argtypes_, function._restype_)
    return pointers, _rawffi.get_errno


if sys.implementation.name == "pypy":
    try:
        _pointers, getErrno = _pypyFunctionPointers()
    except (ImportError, AttributeError, TypeError):
        pass
    else:
        _pointerAsAddress = True
        _ctl = _pointers["epoll_ctl"]
        # Buffers for epoll_ctl's event, each a bytearray with its address.
        # A call takes one and puts it back, so threads never share one;
        # there are as many as calls ever ran at once.  The event is copied
        # in by slice assignment, which never moves the bytes when the sizes
        # match (and they are checked), and on PyPy costs a fraction of the
        # same copy into a memoryview (bench/README.md, "PyPy").
        _eventSlots: list[tuple[bytearray, int]] = []
        _EVENT_SIZE = EVENT.size

        def _newEventSlot() -> tuple[bytearray, int]:
            storage = bytearray(_EVENT_SIZE)
            array = (ctypes.c_char * _EVENT_SIZE).from_buffer(storage)
            return storage, ctypes.addressof(array)

        def _pypyEpollCtl(epfd: int, op: int, fd: int, event: Optional[bytes]) -> int:
            """
            C{epoll_ctl(2)} through PyPy's function pointer; the same contract
            as the ctypes one: C{event} is L{EVENT}-packed bytes, or None for
            NULL.

            @raise ValueError: when C{event} is not L{EVENT}'s size.
            """
            if event is None:
                return _ctl(epfd, op, fd, 0)
            if len(event) != _EVENT_SIZE:
                raise ValueError("an epoll_event is {} bytes".format(_EVENT_SIZE))
            try:
                slot = _eventSlots.pop()
            except IndexError:
                slot = _newEventSlot()
            try:
                slot[0][0:_EVENT_SIZE] = event
                return _ctl(epfd, op, fd, slot[1])
            finally:
                _eventSlots.append(slot)

        epoll_create1 = _pointers["epoll_create1"]
        epoll_ctl = epoll_ctl_bare = _pypyEpollCtl
        epoll_wait = epoll_wait_bare = _pointers["epoll_wait"]
        epoll_pwait2 = _pointers.get("epoll_pwait2")

#: A NULL pointer argument: C{None} for ctypes, 0 for PyPy's function
#: pointers, which take only numbers.
NULL: Any = 0 if _pointerAsAddress else None

# A zero timespec, for repeating a failed epoll_pwait2 without sleeping
# (repeatFailed); never written to.
_zeroTimeout = bytearray(TIMESPEC.size)
#: What to pass to L{epoll_pwait2} for a zero timeout.
ZERO_TIMEOUT: Any = _pointerInto(_zeroTimeout)


def osError(err: int) -> OSError:
    """
    Build the exception for a C library call that failed with C{err}.

    This is the one road by which every failed epoll call becomes an
    exception, so that the L{OSError} subclasses (L{FileNotFoundError},
    L{FileExistsError}, L{PermissionError}, ...) come out exactly as
    CPython's C{select.epoll} raises them.

    @return: C{OSError(err, os.strerror(err))}, which Python turns into the
        subclass for that errno.
    """
    return OSError(err, os.strerror(err))


def lastError() -> OSError:
    """
    @return: L{osError} for the errno the C library call that just failed
        left.  Call it right after L{repeatFailed} has confirmed the errno,
        or right after a call that no signal handler can follow.
    """
    return osError(getErrno())


def repeatFailed(call: _EpollCall, *arguments: Any) -> tuple[int, int]:
    """
    Learn the outcome of a call that just failed, in a way no Python signal
    handler can disturb.

    ctypes keeps one errno copy per thread, and Python runs a signal's
    handler at the first bytecode boundary after a call returns: before the
    caller can read errno.  A handler that makes a failing ctypes call of its
    own (another epoll, a reactor call on a closed descriptor that it
    catches) leaves its errno in that copy, where C{select.epoll}, reading
    errno in C, never sees it.  So the errno read after the call is not to be
    trusted, and the call's own return value is: this repeats the call and
    reads the errno after each repeat, until a repeat succeeds or two repeats
    in a row report the same errno.

     - Callers pass arguments for which the repeat cannot be interrupted:
       C{epoll_ctl(2)} never fails with EINTR, and C{epoll_wait(2)} with a
       zero timeout (C{epoll_pwait2} with L{ZERO_TIMEOUT}) does not sleep,
       and only a sleeping wait fails with EINTR
       (epoll_wait(2); C{ep_poll} in the kernel's fs/eventpoll.c).  So a
       repeat that fails does so for a reason that persists, and
       C{epoll_wait} after EINTR is told apart from C{epoll_wait} on a bad
       descriptor by the repeat's return value alone.
     - Every error these calls report for the same arguments (EBADF, EEXIST,
       ENOENT, EPERM, EINVAL, ELOOP, ENOSPC) is reported again by a repeat; a
       repeat that succeeds instead (ENOMEM gone, another thread changed the
       set in between) is a valid outcome of the call.
     - Two repeats must agree, so a handler that runs after one of them
       cannot pass its own errno off as the call's: it would have to run
       after both and fail with the same errno both times.

    @param call: the function that failed (L{epoll_ctl}, L{epoll_wait},
        L{epoll_pwait2} or L{epoll_create1}, with errno capture).
    @param arguments: its arguments, which the repeat must be allowed to
        take effect with.
    @return: C{(result, 0)} when a repeat succeeded, with that repeat's
        result; C{(-1, errno)} when the failure persists.
    """
    seen = -1
    while True:
        result = call(*arguments)
        if result >= 0:
            return result, 0
        err = getErrno()
        if err == seen:
            return -1, err
        seen = err


class _DlInfo(ctypes.Structure):
    """
    C{Dl_info}, what C{dladdr(3)} fills in.
    """

    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def libraryFile() -> Optional[str]:
    """
    Name the file that holds the C{epoll_create1} the binding calls, for
    the doctor: L{libcName} says only "the process image" when the calls
    were found there.  Not on the import path.

    @return: its path, from C{dladdr(3)}; C{None} where the C library has
        no C{dladdr} or it does not know the address.
    """
    dladdr = getattr(ctypes.CDLL(None), "dladdr", None)
    if dladdr is None:
        return None
    info = _DlInfo()
    address = ctypes.cast(_libc.epoll_create1, ctypes.c_void_p)
    if not dladdr(address, ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.fsdecode(info.dli_fname)
