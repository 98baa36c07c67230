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

Importing the package loads the binding and the constants alone; the
rest is loaded on first use (PEP 562's module C{__getattr__}):
L{EpollSelector} with C{selectors} (and its C{collections}), L{EPollReactor}
and L{install} with Twisted.  So code that falls back to L{epoll} where
C{select.epoll} is missing pays a fresh interpreter for ctypes and the
binding, not for Twisted (bench/README.md, "Import time"), and everything
but the reactor works where Twisted is not installed (the C{twisted}
extra installs it).
"""

from __future__ import annotations

from epollreactor import _libc
from epollreactor._epoll import epoll
from epollreactor._libc import *  # noqa: F403 (the EPOLL* names, listed in _libc)

# typing for the type checker only, as in epollreactor/_versions.py.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List

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

#: The names loaded on first use: L{EpollSelector} from
#: L{epollreactor._selector}, the others from L{epollreactor._reactor}.
_LAZY_NAMES = frozenset(["EpollSelector", "EPollReactor", "install"])

#: The top-level packages whose absence means "Twisted is not installed":
#: the reactor imports both, and the C{twisted} extra brings both.
_TWISTED_PACKAGES = frozenset(["twisted", "zope"])


class _TwistedMissing(ImportError):
    """
    A name that needs Twisted was asked for where Twisted is not installed.
    The binding (L{epoll}, L{EpollSelector}, the constants) works without
    it; C{pip install 'epollreactor[twisted]'} installs it.
    """


def __getattr__(name: str) -> Any:
    """
    Load L{EpollSelector}, L{EPollReactor} and L{install} on first use (PEP
    562), and keep each as a module attribute, so that the next lookup does
    not come here.

    @raise _TwistedMissing: when C{name} is L{EPollReactor} or L{install}
        and Twisted (or zope.interface) is not installed.
    @raise AttributeError: for any other name, as for any module.
    """
    if name not in _LAZY_NAMES:
        raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
    if name == "EpollSelector":
        from epollreactor import _selector

        value = globals()[name] = _selector.EpollSelector
        return value
    try:
        from epollreactor import _reactor
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in _TWISTED_PACKAGES:
            raise
        raise _TwistedMissing(
            "epollreactor.{} needs Twisted, which is not installed here (no "
            "module named {!r}): pip install 'epollreactor[twisted]' (epoll, "
            "EpollSelector and the EPOLL* constants work without it)".format(
                name, e.name
            ),
            name=e.name,
        ) from e
    value = globals()[name] = getattr(_reactor, name)
    return value


def __dir__() -> List[str]:
    """
    @return: the module's attributes, those loaded on first use included.
    """
    return sorted(set(globals()) | _LAZY_NAMES)
