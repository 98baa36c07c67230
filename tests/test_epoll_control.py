"""
Tests for L{epollreactor.epoll}'s C{register}, C{modify} and
C{unregister} (epoll_ctl(2)), run against both implementations through
the C{epoll} fixture; where a descriptor is passed, both as a number and
as an object with C{fileno()} (the C{asArgument} fixture).
"""

import errno
import operator
import os
import pathlib
import socket
import sys
import warnings
from decimal import Decimal
from typing import Any, Callable, Iterator, List, Tuple

import pytest

from epollreactor import (
    EPOLLERR,
    EPOLLET,
    EPOLLHUP,
    EPOLLIN,
    EPOLLONESHOT,
    EPOLLOUT,
    EPOLLRDHUP,
)
from tests.contract import (
    BEFORE_310,
    DECIMAL_TYPE_NAME,
    SINCE_315,
    Closer,
    FileNo,
    Index,
    IntOnly,
    outcome,
    pipe,
    socketPair,
)
from tests.kernel import closedDescriptor


def sortedEvents(events: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """
    @return: C{events} in a canonical order, for comparing event sets.
    """
    return sorted(events)


# ---------------------------------------------------------------------------
# register, modify, unregister
# ---------------------------------------------------------------------------


def test_registerSockets(
    epoll: Any, closer: Closer, asArgument: Callable[[Any], Any]
) -> None:
    """
    Connected sockets register, and C{poll} reports them writable under
    their descriptor numbers (CPython's C{test_add}).
    """
    left, right = socketPair(closer)
    with epoll(2) as ep:
        ep.register(asArgument(left), EPOLLIN | EPOLLOUT)
        ep.register(asArgument(right), EPOLLIN | EPOLLOUT)
        assert sortedEvents(ep.poll(0)) == sortedEvents(
            [(left.fileno(), EPOLLOUT), (right.fileno(), EPOLLOUT)]
        )


def test_registerDefaultMask(
    epoll: Any, closer: Closer, asArgument: Callable[[Any], Any]
) -> None:
    """
    Without a mask, C{register} watches C{EPOLLIN | EPOLLPRI | EPOLLOUT}.
    """
    left, right = socketPair(closer)
    right.send(b"x")
    with epoll() as ep:
        ep.register(asArgument(left))
        assert ep.poll(0) == [(left.fileno(), EPOLLIN | EPOLLOUT)]


def test_registerByKeyword(epoll: Any, closer: Closer) -> None:
    """
    C{register}, C{modify} and C{unregister} take their arguments by keyword
    too.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(fd=left, eventmask=EPOLLOUT)
        ep.modify(fd=left, eventmask=EPOLLIN)
        assert ep.poll(0) == []
        ep.unregister(fd=left)


def test_registerPipe(
    epoll: Any, closer: Closer, asArgument: Callable[[Any], Any]
) -> None:
    """
    Pipe ends register: the write end is writable, the read end readable
    once written to, and hung up once the write end is closed.
    """
    r, w = pipe(closer)
    with epoll() as ep:
        ep.register(asArgument(r), EPOLLIN)
        ep.register(asArgument(w), EPOLLOUT)
        assert ep.poll(0) == [(w, EPOLLOUT)]
        os.write(w, b"data")
        assert sortedEvents(ep.poll(0)) == sortedEvents([(r, EPOLLIN), (w, EPOLLOUT)])
        ep.unregister(asArgument(w))
        os.close(w)
        assert ep.poll(0) == [(r, EPOLLIN | EPOLLHUP)]


def test_registerTwice(
    epoll: Any, closer: Closer, asArgument: Callable[[Any], Any]
) -> None:
    """
    Registering a registered descriptor raises L{FileExistsError} (EEXIST),
    and keeps the first registration.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(asArgument(left), EPOLLOUT)
        with pytest.raises(FileExistsError) as info:
            ep.register(asArgument(left), EPOLLIN)
        assert info.value.errno == errno.EEXIST
        assert ep.poll(0) == [(left.fileno(), EPOLLOUT)]


def test_modify(epoll: Any, closer: Closer, asArgument: Callable[[Any], Any]) -> None:
    """
    C{modify} changes what C{poll} reports.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(asArgument(left), EPOLLIN)
        assert ep.poll(0) == []
        ep.modify(asArgument(left), EPOLLIN | EPOLLOUT)
        assert ep.poll(0) == [(left.fileno(), EPOLLOUT)]
        ep.modify(asArgument(left), 0)
        assert ep.poll(0) == []


def test_unregister(
    epoll: Any, closer: Closer, asArgument: Callable[[Any], Any]
) -> None:
    """
    After C{unregister}, C{poll} no longer reports the descriptor, and it can
    be registered again.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(asArgument(left), EPOLLOUT)
        ep.unregister(asArgument(left))
        assert ep.poll(0) == []
        ep.register(asArgument(left), EPOLLOUT)
        assert ep.poll(0) == [(left.fileno(), EPOLLOUT)]


@pytest.mark.parametrize("method", ["modify", "unregister"])
def test_notRegistered(
    epoll: Any, closer: Closer, asArgument: Callable[[Any], Any], method: str
) -> None:
    """
    C{modify} and C{unregister} of a descriptor that is not registered raise
    L{FileNotFoundError} (ENOENT).
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        with pytest.raises(FileNotFoundError) as info:
            if method == "modify":
                ep.modify(asArgument(left), EPOLLIN)
            else:
                ep.unregister(asArgument(left))
        assert info.value.errno == errno.ENOENT


@pytest.mark.parametrize("method", ["register", "modify", "unregister"])
def test_closedDescriptor(
    epoll: Any, asArgument: Callable[[Any], Any], method: str
) -> None:
    """
    A closed descriptor raises L{OSError} with EBADF, itself and no subclass
    (CPython's C{test_add} registers 10000).
    """
    with epoll() as ep:
        arguments = [asArgument(closedDescriptor())]
        if method != "unregister":
            arguments.append(EPOLLIN)
        with pytest.raises(OSError) as info:
            getattr(ep, method)(*arguments)
        assert type(info.value) is OSError
        assert info.value.errno == errno.EBADF


def test_unregisterAfterClose(epoll: Any, closer: Closer) -> None:
    """
    Unregistering a descriptor after closing it raises EBADF: the kernel
    forgot the registration with the last reference to the file, and the
    number means nothing now (CPython's C{test_unregister_closed} once
    expected silence; CPython has raised since it stopped hiding EBADF).
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(left)
        assert ep.poll(1, 4) == [(left.fileno(), EPOLLOUT)]
        fd = left.fileno()
        left.close()
        with pytest.raises(OSError) as info:
            ep.unregister(fd)
        assert info.value.errno == errno.EBADF


@pytest.mark.parametrize("method", ["register", "modify", "unregister"])
def test_regularFile(
    epoll: Any,
    closer: Closer,
    asArgument: Callable[[Any], Any],
    tmp_path: pathlib.Path,
    method: str,
) -> None:
    """
    Regular files cannot be watched: C{register}, C{modify} and
    C{unregister} raise L{PermissionError} (EPERM).
    """
    regular = closer.add(open(tmp_path / "regular", "w"))
    with epoll() as ep:
        arguments = [asArgument(regular)]
        if method != "unregister":
            arguments.append(EPOLLIN)
        with pytest.raises(PermissionError) as info:
            getattr(ep, method)(*arguments)
        assert info.value.errno == errno.EPERM


def test_registerItself(epoll: Any) -> None:
    """
    An epoll instance cannot watch itself: EINVAL.
    """
    with epoll() as ep:
        with pytest.raises(OSError) as info:
            ep.register(ep.fileno(), EPOLLIN)
        assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize("method", ["register", "modify", "unregister"])
@pytest.mark.parametrize("fd", [-1, -2, -(2**31)])
def test_negativeDescriptor(
    epoll: Any, asArgument: Callable[[Any], Any], method: str, fd: int
) -> None:
    """
    A negative descriptor, as a number or from C{fileno()}, raises
    L{ValueError} (CPython's C{test_add} and C{test_errors}).
    """
    with epoll() as ep:
        with pytest.raises(
            ValueError,
            match=r"^file descriptor cannot be a negative integer \({}\)$".format(fd),
        ):
            getattr(ep, method)(
                asArgument(fd), *([EPOLLIN] if method != "unregister" else [])
            )


@pytest.mark.parametrize("method", ["register", "modify", "unregister"])
@pytest.mark.parametrize("fd", [2**31, -(2**31) - 1, 2**64, -(2**64)])
def test_descriptorOverflow(
    epoll: Any, asArgument: Callable[[Any], Any], method: str, fd: int
) -> None:
    """
    A descriptor beyond a C int, either way, raises L{OverflowError} (before
    any check of its sign, as CPython converts first).
    """
    with epoll() as ep:
        with pytest.raises(OverflowError):
            getattr(ep, method)(
                asArgument(fd), *([EPOLLIN] if method != "unregister" else [])
            )


def _filenoTypeMessage(typeName: str) -> str:
    """
    @param typeName: the type of what a L{FileNo}'s C{fileno()} returns, as
        CPython's C{%T} names it.
    @return: the message of the L{TypeError} for that result, as this
        version of CPython words it.
    """
    if SINCE_315:
        # CPython 3.15 names the class by its module and qualified name.
        return "{}.{}.fileno() must return an int, not {}".format(
            FileNo.__module__, FileNo.__qualname__, typeName
        )
    return "fileno() returned a non-integer"


@pytest.mark.parametrize("method", ["register", "modify", "unregister"])
@pytest.mark.parametrize(
    "fd, message",
    [
        (object(), "argument must be an int, or have a fileno() method."),
        (None, "argument must be an int, or have a fileno() method."),
        (1.0, "argument must be an int, or have a fileno() method."),
        ("3", "argument must be an int, or have a fileno() method."),
        (Index(3), "argument must be an int, or have a fileno() method."),
        (FileNo("3"), _filenoTypeMessage("str")),
        (FileNo(3.0), _filenoTypeMessage("float")),
        (FileNo(None), _filenoTypeMessage("NoneType")),
    ],
)
def test_descriptorBadTypes(epoll: Any, method: str, fd: Any, message: str) -> None:
    """
    Anything but an int or an object whose C{fileno()} returns an int raises
    L{TypeError} (CPython's C{test_add}).
    """
    with epoll() as ep:
        with pytest.raises(TypeError) as info:
            getattr(ep, method)(fd, *([EPOLLIN] if method != "unregister" else []))
        assert str(info.value) == message


def test_filenoRaising(epoll: Any) -> None:
    """
    What C{fileno()} raises propagates.
    """

    class Broken:
        """
        An object whose C{fileno()} raises.
        """

        def fileno(self) -> int:
            """
            @raise ZeroDivisionError: always.
            """
            raise ZeroDivisionError()

    with epoll() as ep:
        with pytest.raises(ZeroDivisionError):
            ep.register(Broken())


def test_boolDescriptor(epoll: Any, closer: Closer) -> None:
    """
    C{bool} is an int: C{True} is descriptor 1, from a number or a
    C{fileno()} (whatever descriptor 1 is, the kernel says the same about
    it).  On CPython 3.12 and later, a bool given directly to C{register}
    or C{unregister} warns, attributed to the caller.
    """
    outcomes = []
    for fd in (1, True, FileNo(True)):
        with epoll() as ep:
            for call in (
                lambda: ep.register(fd, EPOLLOUT),
                lambda: ep.unregister(fd),
            ):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    outcomes.append(outcome(call)[:2])
                assert [(str(w.message), w.category, w.filename) for w in caught] == (
                    [("bool is used as a file descriptor", RuntimeWarning, __file__)]
                    if fd is True and sys.version_info >= (3, 12)
                    else []
                )
    assert outcomes[0:2] == outcomes[2:4] == outcomes[4:6]


@pytest.mark.parametrize("eventmask", [1.0, "1", None, [1]])
@pytest.mark.parametrize("method", ["register", "modify"])
def test_eventmaskBadTypes(
    epoll: Any, closer: Closer, eventmask: Any, method: str
) -> None:
    """
    An event mask that is not an integer raises L{TypeError}.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        if method == "modify":
            ep.register(left, EPOLLIN)
        with pytest.raises(TypeError):
            getattr(ep, method)(left, eventmask)


@pytest.mark.parametrize(
    "eventmask, typeName",
    [(Decimal(EPOLLOUT), DECIMAL_TYPE_NAME), (IntOnly(EPOLLOUT), "IntOnly")],
)
@pytest.mark.parametrize("method", ["register", "modify"])
def test_eventmaskThroughDunderInt(
    epoll: Any, closer: Closer, eventmask: Any, typeName: str, method: str
) -> None:
    """
    An event mask that is an integer only through C{__int__} raises
    L{TypeError} since CPython 3.10; on CPython 3.9 C{__int__} converts it,
    with a L{DeprecationWarning} attributed to the caller.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        if method == "modify":
            ep.register(left, EPOLLIN)
        if not BEFORE_310:
            with pytest.raises(TypeError) as info:
                getattr(ep, method)(left, eventmask)
            assert str(info.value) == (
                "'{}' object cannot be interpreted as an integer".format(typeName)
            )
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            getattr(ep, method)(left, eventmask)
        assert [(w.category, str(w.message), w.filename) for w in caught] == [
            (
                DeprecationWarning,
                "an integer is required (got type {}).  Implicit conversion to "
                "integers using __int__ is deprecated, and may be removed in a "
                "future version of Python.".format(typeName),
                __file__,
            )
        ]
        assert ep.poll(0) == [(left.fileno(), EPOLLOUT)]


@pytest.mark.parametrize(
    "eventmask, expected",
    [
        (2**32 + EPOLLOUT, EPOLLOUT),
        (2**70 + EPOLLOUT, EPOLLOUT),
        (-(2**64) + EPOLLOUT, EPOLLOUT),
        (-(2**32), 0),
        (Index(EPOLLOUT), EPOLLOUT),
        (True, 0),
    ],
)
def test_eventmaskModulo(
    epoll: Any, closer: Closer, eventmask: Any, expected: int
) -> None:
    """
    Any integer is a mask, taken modulo 2**32 as CPython's bitwise C
    converter does; on CPython 3.15 and later, one outside C{[-2**31,
    2**32)} first gives a L{DeprecationWarning}, attributed to the caller.
    """
    left, right = socketPair(closer)
    warns = SINCE_315 and not -(2**31) <= operator.index(eventmask) < 2**32
    with epoll() as ep:
        for method in (ep.register, ep.modify):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                method(left, eventmask)
            assert [(str(w.message), w.category, w.filename) for w in caught] == (
                [("integer value out of range", DeprecationWarning, __file__)]
                if warns
                else []
            )
            assert ep.poll(0) == ([(left.fileno(), expected)] if expected else [])


def test_eventmaskAllBits(epoll: Any, closer: Closer) -> None:
    """
    A mask of all ones (-1 modulo 2**32) is refused by the kernel with
    EINVAL: C{EPOLLEXCLUSIVE} does not combine with C{EPOLLONESHOT}.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        with pytest.raises(OSError) as info:
            ep.register(left, -1)
        assert info.value.errno == errno.EINVAL


def test_controlAndWait(epoll: Any, closer: Closer) -> None:
    """
    CPython's C{test_control_and_wait}: edge-triggered registrations report
    writability, then data in both directions, then the effect of
    C{unregister} and C{modify}.
    """
    client, server = socketPair(closer)
    with epoll(16) as ep:
        ep.register(server.fileno(), EPOLLIN | EPOLLOUT | EPOLLET)
        ep.register(client.fileno(), EPOLLIN | EPOLLOUT | EPOLLET)
        assert sortedEvents(ep.poll(1, 4)) == sortedEvents(
            [(client.fileno(), EPOLLOUT), (server.fileno(), EPOLLOUT)]
        )
        assert ep.poll(timeout=0, maxevents=4) == []
        client.send(b"Hello!")
        server.send(b"world!!!")
        assert sortedEvents(ep.poll(1, 4)) == sortedEvents(
            [
                (client.fileno(), EPOLLIN | EPOLLOUT),
                (server.fileno(), EPOLLIN | EPOLLOUT),
            ]
        )
        ep.unregister(client.fileno())
        ep.modify(server.fileno(), EPOLLOUT)
        assert ep.poll(1, 4) == [(server.fileno(), EPOLLOUT)]


def test_oneShot(epoll: Any, closer: Closer) -> None:
    """
    C{EPOLLONESHOT} reports once, then nothing until C{modify} re-arms it.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(left, EPOLLOUT | EPOLLONESHOT)
        assert ep.poll(0) == [(left.fileno(), EPOLLOUT)]
        assert ep.poll(0) == []
        ep.modify(left, EPOLLOUT | EPOLLONESHOT)
        assert ep.poll(0) == [(left.fileno(), EPOLLOUT)]


def test_peerShutdown(epoll: Any, closer: Closer) -> None:
    """
    A peer's shutdown shows as C{EPOLLRDHUP} when asked for; a closed peer
    also as C{EPOLLHUP}.
    """
    left, right = socketPair(closer)
    with epoll() as ep:
        ep.register(left, EPOLLIN | EPOLLRDHUP)
        right.shutdown(socket.SHUT_WR)
        assert ep.poll(0) == [(left.fileno(), EPOLLIN | EPOLLRDHUP)]
        right.close()
        assert ep.poll(0) == [(left.fileno(), EPOLLIN | EPOLLRDHUP | EPOLLHUP)]


def test_pipeError(epoll: Any, closer: Closer) -> None:
    """
    A pipe's write end whose reader is gone reports C{EPOLLERR}, asked for or
    not.
    """
    r, w = pipe(closer)
    with epoll() as ep:
        ep.register(w, EPOLLIN)
        os.close(r)
        assert ep.poll(0) == [(w, EPOLLERR)]


def test_duplicateOutlivesClose(epoll: Any, closer: Closer) -> None:
    """
    Registrations belong to the open file, not the number: after C{dup} then
    C{close}, C{poll} still reports the closed number, and it can no longer
    be unregistered (epoll(7), Q6).
    """
    left, right = socketPair(closer)
    fd = os.dup(left.fileno())
    with epoll() as ep:
        ep.register(fd, EPOLLOUT)
        os.close(fd)
        assert ep.poll(0) == [(fd, EPOLLOUT)]
        with pytest.raises(OSError) as info:
            ep.unregister(fd)
        assert info.value.errno == errno.EBADF


# ---------------------------------------------------------------------------
# Temporaries: select.epoll keeps the object it is given alive for the whole
# call; ep.register(socket.socket()) is the caller's only reference, and
# dropping it once its number is taken would close the descriptor before
# epoll_ctl(2) sees it.  (On PyPy objects are not freed when their last
# reference goes, so these pass there either way.)
# ---------------------------------------------------------------------------


@pytest.fixture
def ignoreResourceWarnings() -> Iterator[None]:
    """
    The temporaries these tests drop are closed by their finalizers, which
    warn (ResourceWarning): that is the point here, so the warning is
    silenced.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        yield


def temporaryPipeFile() -> Any:
    """
    @return: a file object over the read end of a new pipe, whose write end
        is already closed: the object is the only owner of its descriptor.
    """
    readEnd, writeEnd = os.pipe()
    os.close(writeEnd)
    return os.fdopen(readEnd, "rb")


@pytest.mark.usefixtures("ignoreResourceWarnings")
@pytest.mark.parametrize(
    "make", [socket.socket, temporaryPipeFile], ids=["socket", "pipe file"]
)
def test_registerTemporary(epoll: Any, make: Callable[[], Any]) -> None:
    """
    C{register} of a temporary socket or pipe file succeeds: the object, and
    so its descriptor, lives until C{epoll_ctl(2)} has returned.  (It is
    closed right after, which removes the registration.)
    """
    with epoll() as ep:
        ep.register(make())


@pytest.mark.usefixtures("ignoreResourceWarnings")
def test_registerTemporaryRegularFile(epoll: Any, tmp_path: pathlib.Path) -> None:
    """
    C{register} of a temporary regular file raises L{PermissionError}
    (EPERM: epoll cannot watch regular files), not EBADF from a descriptor
    closed too early.
    """
    path = tmp_path / "regular"
    path.write_bytes(b"")
    with epoll() as ep, pytest.raises(PermissionError):
        ep.register(open(path, "rb"))


@pytest.mark.usefixtures("ignoreResourceWarnings")
@pytest.mark.parametrize(
    "call",
    [
        lambda ep: ep.modify(socket.socket(), EPOLLIN),
        lambda ep: ep.unregister(socket.socket()),
    ],
    ids=["modify", "unregister"],
)
def test_modifyOrUnregisterTemporary(epoll: Any, call: Callable[[Any], None]) -> None:
    """
    C{modify} and C{unregister} of a temporary socket, never registered,
    raise L{FileNotFoundError} (ENOENT), not EBADF.
    """
    with epoll() as ep, pytest.raises(FileNotFoundError):
        call(ep)
