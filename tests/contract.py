"""
What the tests of the C{select.epoll} contract share: the implementations
under test, the argument shapes C{select.epoll} accepts besides plain ints,
a closer for what a test opens, and L{outcome}, the one way tests describe
what a call did so that two implementations can be compared (from the
binding machine, L{epollreactor.contract.binding}).
"""

import os
import platform
import select
import socket
import sys
from typing import Any, List, Tuple

import pytest

import epollreactor

# Re-exported: the binding's tests take them from here.
from epollreactor.contract.binding import FileNo, outcome  # noqa: F401

HAVE_SELECT_EPOLL = hasattr(select, "epoll")

#: Whether the interpreter's select.epoll behaves as CPython 3.15's does:
#: close() raises what a failing close(2) raised, a timeout may be any real
#: number, the TypeErrors for a bad timeout or fileno() result name the
#: types, and a mask out of range warns.  The tests write each version's
#: behaviour down, and check it on select.epoll as on ours.
SINCE_315 = sys.version_info >= (3, 15)

#: Whether the interpreter's select.epoll behaves as CPython 3.9's does: an
#: integer argument may be an object with only C{__int__}, taken with a
#: DeprecationWarning, and the TypeErrors for other objects read "an
#: integer is required (got type ...)" (bpo-37999 ended both in 3.10).
BEFORE_310 = sys.version_info < (3, 10)
SELECT_EPOLL: Any = getattr(select, "epoll", None)

#: How the interpreter's messages name L{decimal.Decimal}'s type: by its
#: C type's dotted name on CPython; by its bare name on PyPy, where it is
#: a class written in Python, as every such class is named.
DECIMAL_TYPE_NAME = (
    "decimal.Decimal" if platform.python_implementation() == "CPython" else "Decimal"
)

#: The reference is CPython's select.epoll; PyPy's is its own rewrite, with
#: its own messages and corner cases.
skipUnlessCPython = pytest.mark.skipif(
    platform.python_implementation() != "CPython",
    reason="the contract is CPython's select.epoll; {}'s differs in messages and "
    "corner cases".format(platform.python_implementation()),
)


#: Both implementations; select.epoll only where it exists.
IMPLEMENTATIONS = [
    pytest.param(epollreactor.epoll, id="ours"),
    pytest.param(
        SELECT_EPOLL,
        id="select",
        marks=[pytest.mark.requiresSelectEpoll, skipUnlessCPython],
    ),
]


CLOSED_MESSAGE = "I/O operation on closed epoll object"


class Index:
    """
    An object that is an integer only through C{__index__}, which CPython's
    C int converters accept.
    """

    def __init__(self, value: int) -> None:
        """
        @param value: what C{__index__} will return.
        """
        self.value = value

    def __index__(self) -> int:
        """
        @return: the value.
        """
        return self.value


class IntOnly:
    """
    An object that is an integer only through C{__int__}, which CPython 3.9's
    C int converters accept with a L{DeprecationWarning} and later ones
    refuse.
    """

    def __init__(self, value: int) -> None:
        """
        @param value: what C{__int__} will return.
        """
        self.value = value

    def __int__(self) -> int:
        """
        @return: the value.
        """
        return self.value


class Closer:
    """
    Closes what a test opened, last opened first.
    """

    def __init__(self) -> None:
        """
        Start with nothing to close.
        """
        self.things: List[Any] = []

    def add(self, thing: Any) -> Any:
        """
        Close C{thing} (a descriptor number, or anything with C{close()}) at
        the end.

        @return: C{thing}.
        """
        self.things.append(thing)
        return thing

    def closeAll(self) -> None:
        """
        Close everything added, ignoring what is closed already.
        """
        for thing in reversed(self.things):
            try:
                if isinstance(thing, int):
                    os.close(thing)
                else:
                    thing.close()
            except OSError:
                pass


def socketPair(closer: Closer) -> Tuple[socket.socket, socket.socket]:
    """
    @return: a connected pair of UNIX stream sockets, closed after the test.
    """
    left, right = socket.socketpair()
    closer.add(left)
    closer.add(right)
    return left, right


def pipe(closer: Closer) -> Tuple[int, int]:
    """
    @return: the read and write ends of a pipe, closed after the test.
    """
    r, w = os.pipe()
    closer.add(r)
    closer.add(w)
    return r, w
