"""
What the kernel says about this process, read from C{/proc} (proc(5)): the
interest list of an epoll instance, and whether the thread slept; so that
the machines judge a reactor or a binding by the kernel's view rather than
by its own bookkeeping.
"""

import os
import struct
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

#: C{EPOLLERR | EPOLLHUP}, which the kernel adds to every entry
#: (epoll_ctl(2)).
DISCONNECTED = 0x008 | 0x010


class Registration(NamedTuple):
    """
    One entry of an epoll instance's interest list, as the kernel holds it.

    @ivar events: the event mask; the kernel adds C{EPOLLERR} and
        C{EPOLLHUP} to every one (epoll_ctl(2)).
    @ivar data: the C{epoll_data} the entry was registered with.
    @ivar inode: the inode of the file the entry watches: an entry belongs
        to an open file, not to a number (epoll(7), Q6).
    """

    events: int
    data: int
    inode: int

    @property
    def words(self) -> Tuple[int, int]:
        """
        C{data} as the two 32-bit words it occupies in memory: C{data.fd}
        (the union's first four bytes, where C{select.epoll} keeps the
        descriptor) and the word after it.  fdinfo prints C{data} as one
        64-bit number, whose halves these words are in the machine's byte
        order: C{data.fd} is the low half on little-endian machines and the
        high half on big-endian ones (s390x).
        """
        fd, tag = _DATA_WORDS.unpack(struct.pack("=Q", self.data))
        return fd, tag


#: C{epoll_data} as C{data.fd} and the 32-bit word after it.
_DATA_WORDS = struct.Struct("=iI")


def entries(epfd: int) -> List[Tuple[int, Registration]]:
    """
    Read the interest list of the epoll instance open as C{epfd}.

    C{/proc/self/fdinfo/<epfd>} has one line per registration (proc(5))::

        tfd:        4 events:       19 data:                4  pos:0 ino:772d8 sdev:9

    with the mask, the data and the inode in hex.

    @return: each entry's descriptor number and L{Registration}; a number
        may come twice, for two files (a closed descriptor whose file a
        duplicate keeps open stays registered under it, epoll(7), Q6).
    """
    found = []
    with open("/proc/self/fdinfo/{}".format(epfd)) as fdinfo:
        for line in fdinfo:
            if not line.startswith("tfd:"):
                continue
            fields = line.split()
            values = {}
            for index, field in enumerate(fields):
                if field.endswith(":") and index + 1 < len(fields):
                    values[field[:-1]] = fields[index + 1]
                elif ":" in field:
                    key, _, value = field.partition(":")
                    values[key] = value
            registration = Registration(
                int(values["events"], 16),
                int(values["data"], 16),
                int(values["ino"], 16),
            )
            found.append((int(values["tfd"]), registration))
    return found


def interestList(epfd: int) -> Dict[int, Registration]:
    """
    @return: L{entries} of the epoll instance open as C{epfd}, by number
        (the last entry of a number that comes twice).
    """
    return dict(entries(epfd))


def masksAndInodes(epfd: int) -> Dict[int, Tuple[int, int]]:
    """
    @return: L{interestList} as each number's mask (without C{EPOLLERR} and
        C{EPOLLHUP}) and its file's inode.
    """
    return {
        number: (registration.events & ~DISCONNECTED, registration.inode)
        for number, registration in interestList(epfd).items()
    }


def isEpollDescriptor(fd: int) -> bool:
    """
    @return: whether C{fd} is open on an epoll instance.
    """
    try:
        return os.readlink("/proc/self/fd/{}".format(fd)) == "anon_inode:[eventpoll]"
    except (FileNotFoundError, OSError):
        return False


def threadSwitches() -> Tuple[int, int]:
    """
    @return: how many times the calling thread gave up the processor of its
        own accord, as by sleeping in a system call, and how many times it
        was preempted (C{voluntary_ctxt_switches} and
        C{nonvoluntary_ctxt_switches} in C{/proc/thread-self/status},
        proc(5)).
    """
    counts = {}
    with open("/proc/thread-self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                counts[name] = int(value)
    return counts["voluntary_ctxt_switches"], counts["nonvoluntary_ctxt_switches"]


def sleptIn(call: Callable[[], object], deadline: float) -> Optional[bool]:
    """
    Run C{call} and tell whether the thread slept in the kernel meanwhile.

    @param deadline: how long the call waits at most, in seconds, as the
        kernel rounds it.
    @return: C{True} if it did; C{False} if it did not, was not preempted
        either and returned before C{deadline}; C{None} otherwise, which
        tells nothing: a thread kept off the processor for longer than a
        short timeout, between C{epoll_wait(2)} taking its deadline and
        going to sleep, finds the deadline passed and returns without
        sleeping.  Preemption shows in the thread's counts; a virtual
        processor that the host does not run meanwhile (steal time) shows
        in none, only in the time the call took.
    """
    voluntary, preempted = threadSwitches()
    started = time.monotonic()
    call()
    took = time.monotonic() - started
    voluntaryAfter, preemptedAfter = threadSwitches()
    if voluntaryAfter > voluntary:
        return True
    if preemptedAfter > preempted or took >= deadline:
        return None
    return False
