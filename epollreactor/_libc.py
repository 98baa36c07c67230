"""
The C boundary: the only module of epollreactor that imports L{ctypes}.

It loads the C library once, declares the three epoll system calls and the
layout of C{struct epoll_event}, exports the kernel's EPOLL* constants, and
owns the one road by which a failed call becomes a Python exception:
L{lastError}.

Everything above this module sees plain Python: integers, L{bytes} and a
preallocated L{EventBuffer}.
"""

import ctypes
import ctypes.util
import os
import platform
import struct
from typing import Callable

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
    "EPOLL_CTL_ADD",
    "EPOLL_CTL_DEL",
    "EPOLL_CTL_MOD",
    "FD_SETSIZE",
    "EVENT",
    "EventBuffer",
    "epoll_event",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "getErrno",
    "lastError",
    "libcName",
]

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
EPOLLONESHOT = 1 << 30
EPOLLET = 1 << 31

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


def _loadLibc() -> "tuple[ctypes.CDLL, str]":
    """
    Load the C library once, with C{use_errno=True} so that L{getErrno} sees
    the errno of our own calls (inotify_simple learned this the hard way:
    without it users saw C{OSError} with errno 0).

    @return: the library and the name it was loaded under.
    @raise ImportError: when the library has no epoll system calls (not
        Linux).
    """
    name = ctypes.util.find_library("c")
    library = None
    if name is not None:
        try:
            library = ctypes.CDLL(name, use_errno=True)
        except OSError:
            library = None
    if library is None:
        # Static interpreters and some minimal images have no libc.so that
        # find_library can name; the process image itself then holds libc.
        name = "the process image"
        library = ctypes.CDLL(None, use_errno=True)
    missing = [
        symbol
        for symbol in ("epoll_create1", "epoll_ctl", "epoll_wait")
        if not hasattr(library, symbol)
    ]
    if missing:
        raise ImportError(
            "epollreactor needs Linux epoll, but the C library loaded from "
            "{} has no {} (platform: {})".format(
                name, ", ".join(missing), platform.system()
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

if platform.machine().lower() in _PACKED_ARCHITECTURES:

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


class EventBuffer:
    """
    A preallocated array of C{struct epoll_event} for C{epoll_wait(2)} to
    fill, readable from Python without copying.

    @ivar capacity: how many events fit.
    @ivar pointer: what to pass to L{epoll_wait} as its C{events} argument.
    @ivar view: a L{memoryview} of the raw bytes.
    @ivar words: the same bytes as signed 32-bit words.
    @ivar unsignedWords: the same bytes as unsigned 32-bit words.
    @ivar stride: how many 32-bit words one event takes.
    @ivar fdWord: the index, within one event, of the word holding
        C{data.fd}; the generation tag is the word after it.
    """

    __slots__ = (
        "capacity",
        "pointer",
        "view",
        "words",
        "unsignedWords",
        "_storage",
    )

    stride = EVENT.size // 4
    fdWord = _EXPECTED_DATA_OFFSET // 4

    def __init__(self, capacity: int) -> None:
        """
        @param capacity: how many events the buffer holds; at least 1.
        """
        self.capacity = capacity
        self._storage = bytearray(capacity * EVENT.size)
        # A ctypes array over the bytearray's memory: ctypes passes it as a
        # pointer, and Python reads it back through the memoryviews below.
        self.pointer = (ctypes.c_char * len(self._storage)).from_buffer(
            self._storage
        )
        self.view = memoryview(self._storage)
        self.words = self.view.cast("i")
        self.unsignedWords = self.view.cast("I")


# The prototypes, declared as data and applied by one loop (pyudev's way):
# name, argument types, result type.  Argument types are written down but
# deliberately not installed on the function objects: ctypes' argtypes
# conversion made epoll_wait cost about 2.9x select.epoll.poll(0), against
# about 1.5x without it (bench/bench_binding.py).  Every argument we pass is a
# Python int (passed as C int), a bytes object (const char *), None (NULL) or
# an EventBuffer.pointer, which ctypes converts correctly on its own.
_PROTOTYPES = (
    # int epoll_create1(int flags);
    ("epoll_create1", (ctypes.c_int,), ctypes.c_int),
    # int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
    (
        "epoll_ctl",
        (ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(epoll_event)),
        ctypes.c_int,
    ),
    # int epoll_wait(int epfd, struct epoll_event *events, int maxevents,
    #                int timeout);
    (
        "epoll_wait",
        (ctypes.c_int, ctypes.POINTER(epoll_event), ctypes.c_int, ctypes.c_int),
        ctypes.c_int,
    ),
)

ARGUMENT_TYPES = {}
for _name, _argtypes, _restype in _PROTOTYPES:
    getattr(_libc, _name).restype = _restype
    ARGUMENT_TYPES[_name] = _argtypes
del _name, _argtypes, _restype

_EpollCall = Callable[..., int]

#: C{epoll_create1(flags) -> fd or -1}; see epoll_create(2).
epoll_create1: _EpollCall = _libc.epoll_create1
#: C{epoll_ctl(epfd, op, fd, event: bytes or None) -> 0 or -1}; see
#: epoll_ctl(2).  C{event} is L{EVENT}-packed bytes, or None for
#: EPOLL_CTL_DEL (allowed since Linux 2.6.9).
epoll_ctl: _EpollCall = _libc.epoll_ctl
#: C{epoll_wait(epfd, EventBuffer.pointer, maxevents, timeoutMs) -> count or
#: -1}; see epoll_wait(2).
epoll_wait: _EpollCall = _libc.epoll_wait

#: The errno of this thread's last ctypes call into the C library.
getErrno: Callable[[], int] = ctypes.get_errno


def lastError() -> OSError:
    """
    Build the exception for the C library call that just failed.

    This is the one road by which every failed epoll call becomes an
    exception, so that the L{OSError} subclasses (L{FileNotFoundError},
    L{FileExistsError}, L{PermissionError}, ...) come out exactly as CPython's
    C{select.epoll} raises them.  Call it immediately after the failing call,
    before anything else can change errno.

    @return: C{OSError(errno, os.strerror(errno))}, which Python turns into
        the subclass for that errno.
    """
    err = ctypes.get_errno()
    return OSError(err, os.strerror(err))
