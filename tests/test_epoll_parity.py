"""
Parity of L{epollreactor.epoll} with C{select.epoll}: the same call on
both, side by side, must give the same result, the same exception type,
errno and (where CPython's text is stable across versions) message.
Random programs in lockstep are C{test_statemachine_epoll.py}'s job.
"""

import math
import pathlib
import pickle
import warnings
from decimal import Decimal
from typing import Any, Callable, List, Tuple

import pytest

import epollreactor
from epollreactor import (
    EPOLLIN,
    EPOLLOUT,
)
from tests.contract import (
    SELECT_EPOLL,
    Closer,
    FileNo,
    Index,
    IntOnly,
    outcome,
    pipe,
    skipUnlessCPython,
    socketPair,
)
from tests.kernel import closedDescriptor

# ---------------------------------------------------------------------------
# Parity: the same calls on both implementations, side by side
# ---------------------------------------------------------------------------


#: Operations to run on a fresh object of each implementation, with a socket
#: pair ("a" registered for EPOLLOUT, "b" not), a pipe, a regular file and a
#: closed descriptor at hand.  Each gives a callable of (epoll object,
#: descriptors); and how much of a failure to compare: "message" where
#: CPython's text is stable across versions, "errno" where only the type and
#: errno are, "type" where only the type is.
PARITY_OPERATIONS: List[Tuple[str, Callable[[Any, Any], Any], str]] = [
    ("poll", lambda ep, d: ep.poll(0), "message"),
    ("poll keywords", lambda ep, d: ep.poll(timeout=0, maxevents=3), "message"),
    ("poll -1e-7", lambda ep, d: ep.poll(-1e-7), "message"),
    ("poll 1e-7", lambda ep, d: ep.poll(1e-7), "message"),
    ("poll Index", lambda ep, d: ep.poll(Index(0), Index(4)), "message"),
    ("poll True", lambda ep, d: ep.poll(True, True), "message"),
    ("poll nan", lambda ep, d: ep.poll(math.nan), "message"),
    ("poll inf", lambda ep, d: ep.poll(math.inf), "errno"),
    ("poll 1e300", lambda ep, d: ep.poll(1e300), "errno"),
    ("poll 2**62", lambda ep, d: ep.poll(2**62), "errno"),
    ("poll 2.2e6", lambda ep, d: ep.poll(2.2e6), "message"),
    ("poll str", lambda ep, d: ep.poll("x"), "message"),
    ("poll Decimal", lambda ep, d: ep.poll(Decimal(0)), "message"),
    ("poll Decimal 0.0015", lambda ep, d: ep.poll(Decimal("0.0015")), "message"),
    ("poll Decimal -0.5", lambda ep, d: ep.poll(Decimal("-0.5"), 1), "message"),
    ("poll Decimal NaN", lambda ep, d: ep.poll(Decimal("NaN")), "message"),
    ("poll Decimal inf", lambda ep, d: ep.poll(Decimal("Infinity")), "errno"),
    ("poll Decimal 1e400", lambda ep, d: ep.poll(Decimal("1e400")), "errno"),
    ("poll IntOnly", lambda ep, d: ep.poll(IntOnly(0)), "message"),
    ("poll Index subclass", lambda ep, d: ep.poll(Index(IntSubclass(0))), "message"),
    ("poll maxevents Decimal", lambda ep, d: ep.poll(0, Decimal(3)), "message"),
    ("poll maxevents IntOnly", lambda ep, d: ep.poll(0, IntOnly(2**40)), "message"),
    ("poll maxevents 0", lambda ep, d: ep.poll(0, 0), "message"),
    ("poll maxevents -2", lambda ep, d: ep.poll(0, -2), "message"),
    ("poll maxevents 2**31", lambda ep, d: ep.poll(0, 2**31), "message"),
    ("poll maxevents float", lambda ep, d: ep.poll(0, 1.0), "message"),
    ("poll both bad", lambda ep, d: ep.poll("x", "y"), "message"),
    ("poll nan maxevents 0", lambda ep, d: ep.poll(math.nan, 0), "message"),
    ("poll str maxevents 0", lambda ep, d: ep.poll("x", 0), "message"),
    ("register twice", lambda ep, d: ep.register(d.a), "message"),
    ("register b", lambda ep, d: (ep.register(d.b, EPOLLOUT), ep.poll(0)), "message"),
    ("register b default", lambda ep, d: (ep.register(d.b), ep.poll(0)), "message"),
    (
        "register pipe",
        lambda ep, d: (ep.register(d.w, EPOLLOUT), ep.poll(0)),
        "message",
    ),
    ("register regular", lambda ep, d: ep.register(d.regular), "message"),
    ("register closed", lambda ep, d: ep.register(d.closed), "message"),
    ("register itself", lambda ep, d: ep.register(ep), "message"),
    ("register -1", lambda ep, d: ep.register(-1), "message"),
    ("register -2**40", lambda ep, d: ep.register(-(2**40)), "message"),
    ("register 2**31", lambda ep, d: ep.register(2**31), "message"),
    ("register 2**31-1", lambda ep, d: ep.register(2**31 - 1), "message"),
    ("register float", lambda ep, d: ep.register(1.0), "message"),
    ("register Index", lambda ep, d: ep.register(Index(d.b)), "message"),
    ("register fileno str", lambda ep, d: ep.register(FileNo("1")), "message"),
    ("register fileno -5", lambda ep, d: ep.register(FileNo(-5)), "message"),
    ("register fileno 2**40", lambda ep, d: ep.register(FileNo(2**40)), "message"),
    ("register mask float", lambda ep, d: ep.register(d.b, 1.0), "message"),
    ("register mask -1", lambda ep, d: ep.register(d.b, -1), "message"),
    ("register mask str", lambda ep, d: ep.register(d.b, "1"), "message"),
    ("register mask None", lambda ep, d: ep.register(d.b, None), "message"),
    (
        "register mask IntOnly",
        lambda ep, d: (ep.register(d.b, IntOnly(EPOLLOUT)), ep.poll(0)),
        "message",
    ),
    (
        "register mask Decimal 2**70",
        lambda ep, d: (ep.register(d.b, Decimal(2**70 + EPOLLOUT)), ep.poll(0)),
        "message",
    ),
    (
        "register mask IntOnly subclass",
        lambda ep, d: (ep.register(d.b, IntOnly(IntSubclass(EPOLLOUT))), ep.poll(0)),
        "message",
    ),
    (
        "register mask Index subclass",
        lambda ep, d: (ep.register(d.b, Index(IntSubclass(EPOLLOUT))), ep.poll(0)),
        "message",
    ),
    (
        "register mask IntOnly str",
        lambda ep, d: ep.register(d.b, IntOnly("1")),
        "message",
    ),
    ("modify mask Decimal", lambda ep, d: ep.modify(d.a, Decimal(EPOLLIN)), "message"),
    (
        "register mask Index float",
        lambda ep, d: ep.register(d.b, Index(1.5)),
        "message",
    ),
    (
        "register mask Index True",
        lambda ep, d: ep.register(d.b, Index(True)),
        "message",
    ),
    (
        "register mask Index",
        lambda ep, d: (ep.register(d.b, Index(EPOLLOUT)), ep.poll(0)),
        "message",
    ),
    (
        "register mask 2**70",
        lambda ep, d: (ep.register(d.b, 2**70 + EPOLLOUT), ep.poll(0)),
        "message",
    ),
    ("modify", lambda ep, d: (ep.modify(d.a, EPOLLIN), ep.poll(0)), "message"),
    ("modify unregistered", lambda ep, d: ep.modify(d.b, EPOLLIN), "message"),
    ("modify regular", lambda ep, d: ep.modify(d.regular, EPOLLIN), "message"),
    ("modify closed", lambda ep, d: ep.modify(d.closed, EPOLLIN), "message"),
    ("modify missing mask", lambda ep, d: ep.modify(d.a), "errno"),
    ("unregister", lambda ep, d: (ep.unregister(d.a), ep.poll(0)), "message"),
    (
        "unregister twice",
        lambda ep, d: (ep.unregister(d.a), ep.unregister(d.a)),
        "message",
    ),
    ("unregister unregistered", lambda ep, d: ep.unregister(d.b), "message"),
    ("unregister regular", lambda ep, d: ep.unregister(d.regular), "message"),
    ("unregister closed", lambda ep, d: ep.unregister(d.closed), "message"),
    ("unregister extra", lambda ep, d: ep.unregister(d.a, 1), "errno"),
    ("close", lambda ep, d: (ep.close(), ep.closed, ep.close()), "message"),
    ("closed poll", lambda ep, d: (ep.close(), ep.poll(0)), "message"),
    ("closed register", lambda ep, d: (ep.close(), ep.register(d.b)), "message"),
    ("closed register str", lambda ep, d: (ep.close(), ep.register("x")), "message"),
    ("closed register -1", lambda ep, d: (ep.close(), ep.register(-1)), "message"),
    (
        "closed poll maxevents str",
        lambda ep, d: (ep.close(), ep.poll(0, "x")),
        "message",
    ),
    ("closed poll timeout str", lambda ep, d: (ep.close(), ep.poll("x")), "message"),
    ("closed fileno", lambda ep, d: (ep.close(), ep.fileno()), "message"),
    ("closed enter", lambda ep, d: (ep.close(), ep.__enter__()), "message"),
    ("exit", lambda ep, d: (ep.__exit__(), ep.closed), "message"),
    ("exit four", lambda ep, d: ep.__exit__(1, 2, 3, 4), "errno"),
    ("closed set", lambda ep, d: setattr(ep, "closed", True), "errno"),
    ("new attribute", lambda ep, d: setattr(ep, "spam", 1), "errno"),
    ("fromfd -1", lambda ep, d: type(ep).fromfd(-1), "message"),
    # CPython reports whatever errno held: only the type is comparable.
    ("fromfd -2", lambda ep, d: type(ep).fromfd(-2), "type"),
    ("fromfd keyword", lambda ep, d: type(ep).fromfd(fd=-1), "errno"),
    ("fromfd float", lambda ep, d: type(ep).fromfd(1.0), "message"),
    ("fromfd 2**40", lambda ep, d: type(ep).fromfd(2**40), "message"),
    ("fromfd Decimal -1", lambda ep, d: type(ep).fromfd(Decimal(-1)), "message"),
    ("create Decimal", lambda ep, d: type(ep)(Decimal(3)), "message"),
    ("create flags IntOnly", lambda ep, d: type(ep)(flags=IntOnly(0)), "message"),
    ("create 0", lambda ep, d: type(ep)(0), "message"),
    ("create flags 1", lambda ep, d: type(ep)(flags=1), "message"),
    ("create str", lambda ep, d: type(ep)("x"), "message"),
    ("create Index", lambda ep, d: type(ep)(Index(3)), "message"),
    ("create 2**31", lambda ep, d: type(ep)(2**31), "message"),
    ("create too many", lambda ep, d: type(ep)(1, 2, 3), "errno"),
    ("pickle", lambda ep, d: pickle.dumps(ep), "errno"),
]


class IntSubclass(int):
    """
    A strict subclass of int, which CPython takes from C{__index__} or
    C{__int__} with a L{DeprecationWarning}.
    """


class Descriptors:
    """
    The descriptors a parity operation may use.

    @ivar a: a socket, registered for C{EPOLLOUT} before the operation.
    @ivar b: its peer, not registered.
    @ivar r: a pipe's read end.
    @ivar w: a pipe's write end.
    @ivar regular: a regular file's descriptor.
    @ivar closed: a closed descriptor number.
    """

    def __init__(self, closer: Closer, directory: pathlib.Path) -> None:
        """
        Open the descriptors; C{closer} closes them after the test.
        """
        a, b = socketPair(closer)
        self.a, self.b = a.fileno(), b.fileno()
        self.r, self.w = pipe(closer)
        self.regular = closer.add(open(directory / "regular", "w")).fileno()
        self.closed = closedDescriptor()


@skipUnlessCPython
@pytest.mark.requiresSelectEpoll
@pytest.mark.parametrize(
    "operation, compare",
    [(operation, compare) for _, operation, compare in PARITY_OPERATIONS],
    ids=[name for name, _, _ in PARITY_OPERATIONS],
)
def test_parity(
    closer: Closer,
    tmp_path: pathlib.Path,
    operation: Callable[[Any, Any], Any],
    compare: str,
) -> None:
    """
    The same operation on L{epollreactor.epoll} and C{select.epoll} gives
    the same result, or the same exception type and errno, and the same
    message where CPython's is stable across versions; and the same
    warnings, attributed to the same line.
    """
    descriptors = Descriptors(closer, tmp_path)
    outcomes = []
    warned = []
    for implementation in (epollreactor.epoll, SELECT_EPOLL):
        ep = closer.add(implementation())
        ep.register(descriptors.a, EPOLLOUT)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcomes.append(outcome(operation, ep, descriptors))
        warned.append(
            [(w.category, str(w.message), w.filename, w.lineno) for w in caught]
        )
    assert warned[0] == warned[1]
    # Each side's new epoll objects are its own: compare what they are.
    ours, theirs = [
        ("ok", ("an epoll object", result[1].closed))
        if result[0] == "ok" and type(result[1]).__name__ == "epoll"
        else result
        for result in outcomes
    ]
    if ours[0] == "ok" or compare == "errno":
        ours, theirs = ours[:2], theirs[:2]
    elif compare == "type":
        ours, theirs = ours[:1], theirs[:1]
    assert ours == theirs


@skipUnlessCPython
@pytest.mark.requiresSelectEpoll
def test_parityOfEveryPublicName() -> None:
    """
    L{epollreactor.epoll} has every public attribute C{select.epoll} has.
    """
    theirs = {name for name in dir(SELECT_EPOLL) if not name.startswith("_")}
    ours = {name for name in dir(epollreactor.epoll) if not name.startswith("_")}
    assert theirs - ours == set()
