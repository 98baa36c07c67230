"""
Tests for L{epollreactor.epoll}, the ctypes drop-in for C{select.epoll}:
creating, closing and duplicating the object, the closed object, the
constants, and real I/O on a Python whose C{select} has no C{epoll}.

Every test runs against both L{epollreactor.epoll} and C{select.epoll}
through the C{epoll} fixture (tests/conftest.py), as CPython's selector
tests do with a C{SELECTOR} class attribute, so every test also pins down
what CPython does.  Behaviours ported from CPython's
C{Lib/test/test_epoll.py} say so.  The other parts of the contract:
C{test_epoll_control.py} (register, modify, unregister),
C{test_epoll_poll.py} (poll, timeouts, EINTR), C{test_epoll_parity.py}
(the same calls side by side) and C{test_statemachine_epoll.py} (random
programs in lockstep).
"""

import copy
import errno
import gc
import math
import os
import pickle
import platform
import select
import subprocess
import sys
import textwrap
from typing import Any, Callable, List, Tuple

import pytest

import epollreactor
from epollreactor import (
    EPOLLIN,
    EPOLLOUT,
    _libc,
)
from tests.contract import (
    CLOSED_MESSAGE,
    SINCE_315,
    Closer,
    Index,
    skipUnlessCPython,
    socketPair,
)
from tests.kernel import isEpollDescriptor, openDescriptors, settledDescriptors

#: The EPOLL* names epollreactor exports, as select does on Linux
#: (L{test_noConstantMissing} checks that select has none more).
EPOLL_NAMES = list(_libc.__all__)

# ---------------------------------------------------------------------------
# Creation
# ---------------------------------------------------------------------------


def test_create(epoll: Any) -> None:
    """
    A new object has an open epoll descriptor, is not closed, and after
    L{close} is closed and refuses L{fileno} (CPython's C{test_create}).
    """
    ep = epoll(16)
    fd = ep.fileno()
    assert fd > 0
    assert isEpollDescriptor(fd)
    assert not ep.closed
    ep.close()
    assert ep.closed
    with pytest.raises(ValueError, match=CLOSED_MESSAGE):
        ep.fileno()
    assert not isEpollDescriptor(fd)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((), {}),
        ((-1,), {}),
        ((1,), {}),
        ((2**31 - 1,), {}),
        ((True,), {}),
        ((Index(5),), {}),
        ((), {"sizehint": 8}),
        ((), {"flags": 0}),
        ((-1, epollreactor.EPOLL_CLOEXEC), {}),
        ((), {"sizehint": 4, "flags": epollreactor.EPOLL_CLOEXEC}),
        ((), {"flags": Index(0)}),
    ],
)
def test_createArguments(epoll: Any, args: Tuple[Any, ...], kwargs: Any) -> None:
    """
    C{sizehint} -1 or positive and C{flags} 0 or C{EPOLL_CLOEXEC}, given
    positionally or by keyword, as ints or objects with C{__index__}, create
    an instance.
    """
    with epoll(*args, **kwargs) as ep:
        assert isEpollDescriptor(ep.fileno())


@pytest.mark.parametrize("sizehint", [0, -2, -(2**31)])
def test_sizehintZeroOrBelowMinusOne(epoll: Any, sizehint: int) -> None:
    """
    A C{sizehint} of 0 or below -1 raises L{ValueError} (CPython's
    C{test_errors}).
    """
    before = settledDescriptors()
    with pytest.raises(ValueError, match="negative sizehint"):
        epoll(sizehint)
    assert openDescriptors() == before


@pytest.mark.parametrize(
    "args, kwargs",
    [
        (("foo",), {}),
        ((None,), {}),
        (((),), {}),
        ((["foo"],), {}),
        (({},), {}),
        ((1.5,), {}),
        ((-1, "x"), {}),
        ((-1, 1.0), {}),
        ((-1, None), {}),
        ((1, 2, 3), {}),
        ((), {"bogus": 1}),
    ],
)
def test_createBadTypes(epoll: Any, args: Tuple[Any, ...], kwargs: Any) -> None:
    """
    Arguments of the wrong type, too many, or unknown keywords raise
    L{TypeError} (CPython's C{test_badcreate}).
    """
    with pytest.raises(TypeError):
        epoll(*args, **kwargs)


@pytest.mark.parametrize("args", [(2**31,), (-(2**31) - 1,), (-1, 2**40)])
def test_createOverflow(epoll: Any, args: Tuple[int, ...]) -> None:
    """
    A C{sizehint} or C{flags} that does not fit in a C int raises
    L{OverflowError}.
    """
    with pytest.raises(OverflowError):
        epoll(*args)


@pytest.mark.parametrize("flags", [1, -1, 12356, epollreactor.EPOLL_CLOEXEC | 1])
def test_createUnknownFlags(epoll: Any, flags: int) -> None:
    """
    Flags other than 0 and C{EPOLL_CLOEXEC} raise L{OSError} (CPython's
    C{test_create}) and open nothing.
    """
    before = settledDescriptors()
    with pytest.raises(OSError):
        epoll(flags=flags)
    assert openDescriptors() == before


@pytest.mark.parametrize("flags", [0, epollreactor.EPOLL_CLOEXEC])
def test_closeOnExec(epoll: Any, flags: int) -> None:
    """
    The descriptor is close-on-exec whatever C{flags} says (PEP 446).
    """
    with epoll(flags=flags) as ep:
        assert not os.get_inheritable(ep.fileno())


def test_subclass(epoll: Any) -> None:
    """
    A subclass may define its own C{__init__}; the arguments reach both
    C{__new__} (as C{sizehint}) and C{__init__}, and C{fromfd} returns an
    instance of the subclass without calling C{__init__}.
    """
    initialised = []
    try:

        class Sub(epoll):  # type: ignore[misc,valid-type]
            """
            A subclass with an C{__init__} of its own.
            """

            def __init__(self, hint: int) -> None:
                """
                Record the argument.
                """
                initialised.append(hint)

    except TypeError as e:
        # select.epoll became a heap type without Py_TPFLAGS_BASETYPE in
        # CPython 3.10; it was subclassable before.
        assert epoll is not epollreactor.epoll
        pytest.skip("select.epoll cannot be subclassed on this CPython: {}".format(e))

    ep = Sub(5)
    assert isinstance(ep, Sub)
    assert initialised == [5]
    other = Sub.fromfd(os.dup(ep.fileno()))
    assert type(other) is Sub
    assert initialised == [5]
    ep.close()
    other.close()


def test_notPicklable(epoll: Any) -> None:
    """
    Neither pickling nor copying works: a copy would close the same
    descriptor again.
    """
    with epoll() as ep:
        with pytest.raises(TypeError):
            pickle.dumps(ep)
        with pytest.raises(TypeError):
            copy.copy(ep)


# ---------------------------------------------------------------------------
# close, closed, fileno, the context manager, garbage collection
# ---------------------------------------------------------------------------


def test_closeTwice(epoll: Any) -> None:
    """
    Closing a closed object does nothing.
    """
    ep = epoll()
    ep.close()
    ep.close()
    assert ep.closed


def test_closedNotWritable(epoll: Any) -> None:
    """
    C{closed} is read-only.
    """
    with epoll() as ep:
        with pytest.raises(AttributeError):
            ep.closed = True


def test_closeAfterCloseBehindItsBack(epoll: Any) -> None:
    """
    When the descriptor was closed behind the object's back, L{close}
    raises C{close(2)}'s EBADF on CPython 3.15 and later and says nothing
    before, as that interpreter's C{select.epoll.close} does; either way
    the object is closed, and closing it again does nothing.
    """
    ep = epoll()
    os.close(ep.fileno())
    if SINCE_315:
        with pytest.raises(OSError) as info:
            ep.close()
        assert info.value.errno == errno.EBADF
    else:
        ep.close()
    assert ep.closed
    ep.close()


def test_exitAfterCloseBehindItsBack(epoll: Any) -> None:
    """
    Leaving a C{with} block closes the object as L{close} does: on CPython
    3.15 and later, C{close(2)}'s EBADF propagates.
    """
    ep = epoll()
    os.close(ep.fileno())

    def block() -> None:
        with ep:
            pass

    if SINCE_315:
        with pytest.raises(OSError) as info:
            block()
        assert info.value.errno == errno.EBADF
    else:
        block()
    assert ep.closed


def test_contextManager(epoll: Any) -> None:
    """
    C{with} returns the object itself and closes it on the way out (CPython's
    C{test_context_manager}); an exception in the block propagates.
    """
    with epoll(16) as ep:
        assert ep.fileno() > 0
        assert not ep.closed
        fd = ep.fileno()
    assert ep.closed
    assert not isEpollDescriptor(fd)
    with pytest.raises(ValueError, match=CLOSED_MESSAGE):
        ep.fileno()
    with pytest.raises(ZeroDivisionError):
        with epoll() as other:
            1 / 0
    assert other.closed


def test_exitArguments(epoll: Any) -> None:
    """
    C{__exit__} takes up to three arguments, all optional, and returns
    C{None} (so it never swallows an exception).
    """
    assert epoll().__exit__() is None
    assert epoll().__exit__(None, None, None) is None
    with pytest.raises(TypeError):
        epoll().__exit__(1, 2, 3, 4)


def test_enterClosed(epoll: Any) -> None:
    """
    Entering a closed object raises L{ValueError}.
    """
    ep = epoll()
    ep.close()
    with pytest.raises(ValueError, match=CLOSED_MESSAGE):
        with ep:
            pass


def test_garbageCollectionClosesDescriptor(epoll: Any) -> None:
    """
    An object that is dropped closes its descriptor: no descriptor leaks.
    """
    before = settledDescriptors()
    ep = epoll()
    fd = ep.fileno()
    assert openDescriptors() == before + 1
    del ep
    gc.collect()
    assert openDescriptors() == before
    assert not isEpollDescriptor(fd)


def test_garbageCollectionInCycle(epoll: Any) -> None:
    """
    An object dropped as part of a reference cycle closes its descriptor when
    the cycle is collected.
    """
    before = settledDescriptors()
    holder: List[Any] = [epoll()]
    holder.append(holder)
    del holder
    gc.collect()
    assert openDescriptors() == before


def test_garbageCollectionOfFromfd(epoll: Any) -> None:
    """
    An object made by C{fromfd} owns the descriptor and closes it when
    dropped.
    """
    before = settledDescriptors()
    source = epoll()
    fd = os.dup(source.fileno())
    source.close()
    wrapped = epoll.fromfd(fd)
    assert wrapped.fileno() == fd
    del wrapped
    gc.collect()
    assert openDescriptors() == before


def test_garbageCollectionAfterCloseBehindBack(epoll: Any) -> None:
    """
    Dropping an object whose descriptor was closed behind its back reports
    nothing: the failed C{close(2)} is ignored, as in CPython's dealloc.
    """
    unraisable: List[Any] = []
    original = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        ep = epoll()
        os.close(ep.fileno())
        del ep
        gc.collect()
    finally:
        sys.unraisablehook = original
    assert unraisable == []


# ---------------------------------------------------------------------------
# fromfd
# ---------------------------------------------------------------------------


def test_fromfd(epoll: Any, closer: Closer) -> None:
    """
    C{fromfd} wraps an existing instance: registrations through one are seen
    by the other, and once the first closes the descriptor the second's
    calls fail with EBADF (CPython's C{test_fromfd}).
    """
    server, client = socketPair(closer)
    ep = epoll(2)
    ep2 = epoll.fromfd(ep.fileno())
    assert ep2.fileno() == ep.fileno()
    ep2.register(server.fileno(), EPOLLIN | EPOLLOUT)
    ep2.register(client.fileno(), EPOLLIN | EPOLLOUT)
    assert len(ep.poll(1, 4)) == 2
    assert len(ep2.poll(0.9, 4)) == 2
    ep.close()
    with pytest.raises(OSError) as info:
        ep2.poll(1, 4)
    assert info.value.errno == errno.EBADF
    if SINCE_315:
        # Its descriptor was closed behind its back (see
        # test_closeAfterCloseBehindItsBack).
        with pytest.raises(OSError):
            ep2.close()
    else:
        ep2.close()
    assert ep2.closed


def test_fromfdMinusOneCreates(epoll: Any) -> None:
    """
    C{fromfd(-1)} creates a new instance, as CPython's C{newPyEpoll_Object}
    does for -1.
    """
    with epoll.fromfd(-1) as ep:
        assert isEpollDescriptor(ep.fileno())


@pytest.mark.parametrize("fd", [-2, -(2**31)])
def test_fromfdBelowMinusOne(epoll: Any, fd: int) -> None:
    """
    C{fromfd} of a number below -1 raises L{OSError}.
    """
    with pytest.raises(OSError):
        epoll.fromfd(fd)


def test_fromfdArguments(epoll: Any) -> None:
    """
    C{fromfd} takes one positional integer: a keyword, another type or a
    number beyond a C int raise.
    """
    with pytest.raises(TypeError):
        epoll.fromfd(fd=3)
    with pytest.raises(TypeError):
        epoll.fromfd(3.0)
    with pytest.raises(TypeError):
        epoll.fromfd("3")
    with pytest.raises(OverflowError):
        epoll.fromfd(2**31)
    source = epoll()
    with epoll.fromfd(Index(os.dup(source.fileno()))) as ep:
        assert isEpollDescriptor(ep.fileno())
    source.close()


# ---------------------------------------------------------------------------
# The closed object
# ---------------------------------------------------------------------------


CLOSED_CALLS = [
    ("fileno", lambda ep, fd: ep.fileno()),
    ("register", lambda ep, fd: ep.register(fd)),
    ("register mask", lambda ep, fd: ep.register(fd, EPOLLIN)),
    ("modify", lambda ep, fd: ep.modify(fd, EPOLLIN)),
    ("unregister", lambda ep, fd: ep.unregister(fd)),
    ("poll", lambda ep, fd: ep.poll()),
    ("poll 0", lambda ep, fd: ep.poll(0)),
    ("poll float", lambda ep, fd: ep.poll(0.5, 4)),
    ("poll bad timeout", lambda ep, fd: ep.poll("x")),
    ("poll nan", lambda ep, fd: ep.poll(math.nan)),
    ("poll bad maxevents value", lambda ep, fd: ep.poll(0, 0)),
    ("enter", lambda ep, fd: ep.__enter__()),
]


@pytest.mark.parametrize(
    "call", [c for _, c in CLOSED_CALLS], ids=[name for name, _ in CLOSED_CALLS]
)
def test_closedObject(epoll: Any, closer: Closer, call: Callable[..., Any]) -> None:
    """
    Every method of a closed object but C{close} raises C{ValueError("I/O
    operation on closed epoll object")}, and that check comes before the
    timeout's and C{maxevents}' values are looked at.
    """
    left, right = socketPair(closer)
    ep = epoll()
    ep.register(left)
    ep.close()
    with pytest.raises(ValueError) as info:
        call(ep, left.fileno())
    assert str(info.value) == CLOSED_MESSAGE


@pytest.mark.parametrize(
    "call, exception",
    [
        (lambda ep: ep.register("x"), TypeError),
        (lambda ep: ep.register(-1), ValueError),
        (lambda ep: ep.register(2**40), OverflowError),
        (lambda ep: ep.register(0, "x"), TypeError),
        (lambda ep: ep.modify(0, 1.5), TypeError),
        (lambda ep: ep.unregister(None), TypeError),
        (lambda ep: ep.poll(0, "x"), TypeError),
        (lambda ep: ep.poll(0, 2**40), OverflowError),
    ],
)
def test_closedObjectArgumentsFirst(
    epoll: Any, call: Callable[[Any], Any], exception: type
) -> None:
    """
    On a closed object, arguments are converted first, as CPython's argument
    parser does before the method runs: a bad descriptor, mask or
    C{maxevents} type raises its own error, not the closed one.
    """
    ep = epoll()
    ep.close()
    with pytest.raises(exception):
        call(ep)


# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", EPOLL_NAMES)
def test_constantExported(name: str) -> None:
    """
    Every EPOLL* constant is exported from L{epollreactor} as an int.
    """
    assert name in epollreactor.__all__
    assert type(getattr(epollreactor, name)) is int


@pytest.mark.requiresSelectEpoll
@pytest.mark.parametrize("name", EPOLL_NAMES)
def test_constantMatchesSelect(name: str) -> None:
    """
    Every EPOLL* constant equals C{select}'s (where C{select} has it:
    CPython has them all, PyPy lacks a few).
    """
    if not hasattr(select, name) and platform.python_implementation() != "CPython":
        pytest.skip(
            "this {} select has no {}".format(platform.python_implementation(), name)
        )
    assert getattr(epollreactor, name) == getattr(select, name)


@pytest.mark.requiresSelectEpoll
def test_noConstantMissing() -> None:
    """
    C{select} exposes no EPOLL* name that L{epollreactor} lacks.
    """
    missing = [
        name
        for name in dir(select)
        if name.startswith("EPOLL") and not hasattr(epollreactor, name)
    ]
    assert missing == []


@skipUnlessCPython
@pytest.mark.requiresSelectEpoll
def test_noConstantExtra() -> None:
    """
    L{epollreactor} exposes no EPOLL* name that this CPython's C{select}
    lacks: C{EPOLLWAKEUP} only from 3.14 on, as there.
    """
    extra = [
        name
        for name in epollreactor.__all__
        if name.startswith("EPOLL") and not hasattr(select, name)
    ]
    assert extra == []


# ---------------------------------------------------------------------------
# The point of it all: an interpreter without select.epoll
# ---------------------------------------------------------------------------

_WITHOUT_SELECT_EPOLL = textwrap.dedent(
    """
    import select
    # Under make test-noepoll, tests/noepoll/sitecustomize took it already.
    vars(select).pop("epoll", None)
    for name in [n for n in dir(select) if n.startswith("EPOLL")]:
        delattr(select, name)
    import sys
    assert "epollreactor" not in sys.modules

    import socket
    import epollreactor
    from epollreactor import EPOLLIN, EPOLLOUT

    assert not hasattr(select, "epoll")
    assert not [n for n in dir(select) if n.startswith("EPOLL")]

    left, right = socket.socketpair()
    with epollreactor.epoll() as ep:
        ep.register(left, EPOLLIN)
        assert ep.poll(0) == []
        right.sendall(b"ping")
        assert ep.poll(1) == [(left.fileno(), EPOLLIN)]
        assert left.recv(4) == b"ping"
        ep.modify(left, EPOLLIN | EPOLLOUT)
        assert ep.poll(1) == [(left.fileno(), EPOLLOUT)]
        left.sendall(b"pong")
        ep.register(right, EPOLLIN)
        events = dict(ep.poll(1))
        assert events[right.fileno()] == EPOLLIN
        assert right.recv(4) == b"pong"
        ep.unregister(left)
        ep.unregister(right)
        assert ep.poll(0) == []
    assert not hasattr(select, "epoll")
    print("round trip done")
    """
)


def test_worksWithoutSelectEpoll() -> None:
    """
    A Python whose C{select} module lost C{epoll} and every EPOLL* name
    before anything imported it imports L{epollreactor} and does real I/O
    through it: a socket pair round trip with register, modify, unregister
    and poll.
    """
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_SELECT_EPOLL],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "round trip done"
