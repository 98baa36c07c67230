"""
epollreactor: Linux epoll for Python through ctypes, and a Twisted reactor
built on it.

 - L{epoll}: CPython's C{select.epoll}, for interpreters that lack it.
 - L{EPollReactor}: a drop-in for Twisted's epoll reactor that survives
   closed and reused descriptors; L{install} makes it the global reactor.
 - L{EpollSelector}: C{selectors.EpollSelector} on L{epoll}, for
   C{asyncio.SelectorEventLoop(EpollSelector())}.
 - The EPOLL* constants that the running interpreter's C{select} exposes
   on Linux (C{EPOLLWAKEUP} from Python 3.14 on, as there).

Nothing here imports or calls C{select.epoll}.
"""

from epollreactor import _libc
from epollreactor._epoll import epoll
from epollreactor._libc import *  # noqa: F403 (the EPOLL* names, listed in _libc)
from epollreactor._reactor import EPollReactor, install
from epollreactor._selector import EpollSelector

__version__ = "0.1.0"

#: The name of the Twisted reactor plugin: C{twistd --reactor=ctypes-epoll}.
PLUGIN_NAME = "ctypes-epoll"

__all__ = [
    "epoll",
    "EPollReactor",
    "install",
    "EpollSelector",
    "PLUGIN_NAME",
]
__all__ += _libc.__all__
