"""
What the kernel says about this process's descriptors, read from C{/proc}
(proc(5)), so that tests can check our bookkeeping against the kernel's
rather than against itself.
"""

import os
import struct
from typing import Dict, NamedTuple, Tuple

import pytest


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
        descriptor) and the word after it (where the reactor keeps its
        generation tag).  fdinfo prints C{data} as one 64-bit number, whose
        halves these words are in the machine's byte order: C{data.fd} is
        the low half on little-endian machines and the high half on
        big-endian ones (s390x).
        """
        fd, tag = _DATA_WORDS.unpack(struct.pack("=Q", self.data))
        return fd, tag


#: C{epoll_data} as C{data.fd} and the 32-bit word after it.
_DATA_WORDS = struct.Struct("=iI")


def interestList(epfd: int) -> Dict[int, Registration]:
    """
    Read the interest list of the epoll instance open as C{epfd}.

    C{/proc/self/fdinfo/<epfd>} has one line per registration (proc(5))::

        tfd:        4 events:       19 data:                4  pos:0 ino:772d8 sdev:9

    with the mask, the data and the inode in hex.

    @return: each registered descriptor number's L{Registration}.
    """
    registrations = {}
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
            registrations[int(values["tfd"])] = Registration(
                int(values["events"], 16),
                int(values["data"], 16),
                int(values["ino"], 16),
            )
    return registrations


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


def isEpollDescriptor(fd: int) -> bool:
    """
    @return: whether C{fd} is open on an epoll instance.
    """
    try:
        return os.readlink("/proc/self/fd/{}".format(fd)) == "anon_inode:[eventpoll]"
    except FileNotFoundError:
        return False
