"""
The binding machine: an epoll class (C{select.epoll}, PyPy's, this
project's L{epollreactor.epoll}, or any other binding) driven beside a
reference class on shared descriptors, the shape of Hypothesis's own
C{tests/nocover/test_database_agreement.py}: every step runs on both, both
must return the same result or raise the same exception type (with the
same errno, for L{OSError}), and after every successful C{register},
C{modify} and C{unregister} of a descriptor each side's epoll instance
must hold, in the kernel's own view (C{/proc/self/fdinfo}), exactly that
entry: the mask (with the C{EPOLLERR | EPOLLHUP} the kernel adds) and
C{data.fd} naming the descriptor, or none after C{unregister}.

The machine keeps pairs of epoll objects made alike (C{epoll()},
C{epoll.fromfd()} of a duplicate of an open or closed object's descriptor,
of a socket's descriptor, or of -1), and a set of descriptors both register:
socket pairs, pipes and a regular file, which the machine writes to, drains
and closes.  Arguments cover the valid and the invalid: descriptor numbers,
objects with C{fileno()}, each side's own epoll descriptors (so nesting and
self-registration), a number that is not open, negative and oversized
numbers, non-integers; every event flag, masks beyond 32 bits and negative
ones; timeouts and C{maxevents} in and out of range.

Results are compared after mapping each side's epoll descriptors to the
pair they belong to, since those numbers differ between the sides.  That
mapping is by number, and a registration can outlive its number (epoll(7),
Q6: a closed descriptor whose file a duplicate keeps open stays in the
interest list and is still reported under its old number).  So a number
that may carry such a ghost is never handed to one side only: the shared
descriptors live L{_SHARED_FROM} and more above every number open when
the machine starts, apart from the lowest free numbers that C{epoll()}
takes, and a closed epoll object's number stays taken by a placeholder
until the machine ends.
"""

import fcntl
import math
import os
import select
import socket
from typing import Any, Callable, Dict, List, Optional, Tuple, Type, cast

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from epollreactor._libc import (
    EPOLL_CLOEXEC,
    EPOLLERR,
    EPOLLET,
    EPOLLEXCLUSIVE,
    EPOLLHUP,
    EPOLLIN,
    EPOLLMSG,
    EPOLLONESHOT,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDBAND,
    EPOLLRDHUP,
    EPOLLRDNORM,
    EPOLLWRBAND,
    EPOLLWRNORM,
)
from epollreactor.contract.kernel import entries
from epollreactor.contract.world import drain, fill


def outcome(call: Callable[..., Any], *args: Any) -> Tuple[Any, ...]:
    """
    Run C{call(*args)} and describe what happened, in terms comparable
    between implementations: the first two items are what must agree
    everywhere (the result, or the exception type and errno), the third
    the message, which agrees only where CPython's is stable across versions.

    @return: C{("ok", result)}, or C{(exception type, errno, message)}.
    """
    try:
        return ("ok", call(*args))
    except Exception as e:
        return (type(e), getattr(e, "errno", None), str(e))


class FileNo:
    """
    An object with only a C{fileno()} method, as C{register} accepts.

    @ivar number: what C{fileno()} returns.
    """

    def __init__(self, number: Any) -> None:
        """
        @param number: what C{fileno()} will return.
        """
        self.number = number

    def fileno(self) -> Any:
        """
        @return: L{number}.
        """
        return self.number


#: EPOLLWAKEUP (epoll_ctl(2)), which select has only from Python 3.14 on.
_EPOLLWAKEUP = 1 << 29


def _kernelAgrees(
    target: Any, method: str, argument: Any, mask: Tuple[Any, ...]
) -> None:
    """
    After a successful C{register}, C{modify} or C{unregister} of a
    descriptor on C{target}, its epoll instance holds what the call asked
    for, in the kernel's view.
    """
    number = getattr(argument, "number", argument)
    inode = os.fstat(number).st_ino
    found = [r for n, r in entries(target.fileno()) if n == number and r.inode == inode]
    if method == "unregister":
        assert not found, ("kernel keeps", number, found)
        return
    wanted = (mask[0] if mask else EPOLLIN | EPOLLPRI | EPOLLOUT) & 0xFFFFFFFF
    assert found, ("kernel lacks", method, number)
    entry = found[0]
    # The kernel drops EPOLLWAKEUP from the mask of a caller without
    # CAP_BLOCK_SUSPEND, silently (epoll_ctl(2)).
    got = entry.events & ~_EPOLLWAKEUP
    assert got == (wanted | EPOLLERR | EPOLLHUP) & ~_EPOLLWAKEUP, (
        method,
        number,
        hex(got),
    )
    assert entry.words[0] == number, ("data.fd", method, number, entry.words)


#: A number no test opens: EBADF on both sides.
_NOT_OPEN = 4000
#: The shared descriptors get numbers from this far above the process's
#: highest open one when the machine starts (the lowest free from there),
#: the same on both sides, and never one that C{epoll()} would take: that
#: takes the lowest free number, which may be a hole below hundreds held
#: by a long test run, so only the free numbers above all of them are
#: sure to be taken in order.
_SHARED_FROM = 128
#: Duplicates get numbers from this far above it, above any the process
#: opens otherwise, and below L{_NOT_OPEN}.
_DUPLICATES_FROM = 256
_MAX_DESCRIPTORS = 10
_MAX_PAIRS = 4
_FLAGS = [
    EPOLLIN,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLERR,
    EPOLLHUP,
    EPOLLRDNORM,
    EPOLLRDBAND,
    EPOLLWRNORM,
    EPOLLWRBAND,
    EPOLLMSG,
    EPOLLRDHUP,
    EPOLLET,
    EPOLLONESHOT,
    EPOLLEXCLUSIVE,
]

#: Event masks: combinations of the flags, any 32-bit value, values beyond
#: 32 bits and negative ones (reduced modulo 2**32 on both sides), and
#: non-integers.
masks = st.one_of(
    st.lists(st.sampled_from(_FLAGS), max_size=4).map(lambda flags: sum(set(flags))),
    st.integers(0, 2**32 - 1),
    st.integers(-(2**40), 2**70),
    st.sampled_from(["x", 1.0, None]),
)

#: Masks a program would pass: readiness and mode flags, no EPOLLEXCLUSIVE.
usualMasks = st.lists(
    st.sampled_from(
        [
            EPOLLIN,
            EPOLLOUT,
            EPOLLIN,
            EPOLLOUT,
            EPOLLPRI,
            EPOLLRDHUP,
            EPOLLET,
            EPOLLONESHOT,
        ]
    ),
    min_size=1,
    max_size=3,
).map(lambda flags: sum(set(flags)))

#: poll() timeouts: zero in several types, a millisecond, and invalid ones.
#: Nothing that can block: the machine never knows that an event is due.
timeouts = st.sampled_from(
    [0, 0.0, 1e-9, 0.001, False, math.nan, math.inf, 1e300, 2**64, "0", []]
)

#: poll() maxevents.
maxeventses = st.sampled_from([-1, 1, 2, 3, 1000, 0, -2, 2**31, 2**64, "1", 1.0])


#: Descriptor arguments: which kind (a shared descriptor's number or an
#: object with its fileno(), an epoll object's own, a bad value) and which.
descriptorSpecs = st.tuples(
    st.sampled_from(["fd", "fd", "fd", "object", "epoll", "bad", "badObject"]),
    st.integers(0, 15),
)

#: The descriptor arguments a program would pass.
usualSpecs = st.tuples(st.sampled_from(["fd", "fd", "object"]), st.integers(0, 15))


def agree(what: str, ours: Tuple[Any, ...], theirs: Tuple[Any, ...]) -> Tuple[Any, ...]:
    """
    Both sides' L{outcome}s of one call agree: the result, or the type and
    errno (messages differ between versions); counted for Hypothesis's
    statistics.

    @return: what they agree on.
    """
    note("{}: candidate {!r}, reference {!r}".format(what, ours, theirs))
    ours, theirs = ours[:2], theirs[:2]
    assert ours == theirs, (what, ours, theirs)
    name = what.partition("(")[0]
    if ours[0] == "ok":
        if isinstance(ours[1], list):
            count = len(ours[1])
            event("{} -> {} events".format(name, count if count < 3 else "3+"))
        else:
            event("{} -> ok".format(name))
    else:
        event("{} -> {}".format(name, getattr(ours[0], "__name__", ours[0])))
    return ours


class BindingMachine(RuleBasedStateMachine):
    """
    An epoll class (L{candidate}) and a reference (L{reference}), step by
    step, on the same descriptors; each successful C{register}, C{modify}
    and C{unregister} of a descriptor is checked on both sides against the
    kernel's interest list.

    @cvar candidate: the epoll class under test.
    @cvar reference: the class it must agree with.

    @ivar pairs: C{(ours, theirs)} epoll objects.
    @ivar descriptors: the shared descriptors still open, with their kinds.
    """

    candidate: Any
    reference: Any

    def __init__(self) -> None:
        """
        No epoll objects and no descriptors yet.
        """
        super().__init__()
        self.pairs: List[Tuple[Any, Any]] = []
        #: For each pair, per side, what each registered number stands for;
        #: pairs made by fromfd() of a pair's duplicate share its instance,
        #: and so its labels.
        self.labels: List[Tuple[Dict[int, Any], Dict[int, Any]]] = []
        self.descriptors: List[Tuple[int, str]] = []
        self.duplicates = 0
        #: Closed epoll objects' numbers, held until L{teardown}.
        self.placeholders: List[int] = []
        assert not _isOpen(_NOT_OPEN)
        highest = _highestOpen()
        self.sharedFrom = highest + 1 + _SHARED_FROM
        self.duplicatesFrom = highest + 1 + _DUPLICATES_FROM
        assert self.duplicatesFrom + 1000 < _NOT_OPEN

    def teardown(self) -> None:
        """
        Close every epoll object and descriptor.
        """
        for ours, theirs in self.pairs:
            ours.close()
            theirs.close()
        for number, _ in self.descriptors:
            os.close(number)
        for number in self.placeholders:
            os.close(number)

    def _agree(
        self, what: str, ours: Tuple[Any, ...], theirs: Tuple[Any, ...]
    ) -> Tuple[Any, ...]:
        return agree(what, ours, theirs)

    def _pair(self, index: int) -> Tuple[Any, Any]:
        return self.pairs[index % len(self.pairs)]

    def _translate(self, index: int, side: int, result: Any) -> Any:
        """
        Replace each side's epoll descriptors in C{poll()} results by the
        index of the pair they belong to, as recorded when they were
        registered (numbers are reused, and a registration can outlive its
        number while a duplicate keeps the file open, epoll(7) Q6).
        """
        if not isinstance(result, list):
            return result
        labels = self.labels[index % len(self.pairs)][side]
        return [(labels.get(fd, fd), events) for fd, events in result]

    def _descriptorArgument(self, side: int, spec: Tuple[str, int]) -> Any:
        """
        Build the descriptor argument that C{spec} names, for one side.
        """
        kind, index = spec
        if kind == "epoll":
            target = self._pair(index)[side]
            return target.fileno()
        if kind == "bad":
            return [-1, _NOT_OPEN, 2**31, 2**64, -(2**31) - 1, "3", 3.0, None][
                index % 8
            ]
        if kind == "badObject":
            return FileNo([-1, "3", None, 2**31][index % 4])
        if not self.descriptors:
            return _NOT_OPEN
        number = self.descriptors[index % len(self.descriptors)][0]
        if kind == "object":
            return FileNo(number)
        return number

    # Creating epoll objects.

    @initialize()
    def first(self) -> None:
        """
        Start with one pair and one socket pair.
        """
        self.pairs.append((self.candidate(), self.reference()))
        self.labels.append(({}, {}))
        self.openDescriptors("socketpair")

    @precondition(lambda self: len(self.pairs) < _MAX_PAIRS)
    @rule(
        sizehint=st.sampled_from([-1, 1, 1024, 0, -2, 2**31, "1"]),
        flags=st.sampled_from([0, EPOLL_CLOEXEC, 1, -1, "0"]),
    )
    def create(self, sizehint: Any, flags: Any) -> None:
        """
        C{self.candidate(sizehint, flags)} succeeds or fails alike.
        """
        ours = outcome(lambda: self.candidate(sizehint, flags))
        theirs = outcome(lambda: self.reference(sizehint, flags))
        if ours[0] == "ok" and theirs[0] == "ok":
            self.pairs.append((ours[1], theirs[1]))
            self.labels.append(({}, {}))
            return
        for result in (ours, theirs):
            if result[0] == "ok":
                result[1].close()
        self._agree("epoll({!r}, {!r})".format(sizehint, flags), ours, theirs)

    def _duplicate(self, fd: int) -> int:
        """
        Duplicate C{fd} under a number this machine has not used before.
        The interest list is keyed by number and open file (epoll(7), Q1),
        and each side's duplicates get numbers of their own: one that took
        a number closed earlier, whose file still holds a registration
        under it through another duplicate, would find that entry (EEXIST)
        on one side only.

        @return: the new descriptor.
        """
        self.duplicates += 1
        return fcntl.fcntl(
            fd, fcntl.F_DUPFD_CLOEXEC, self.duplicatesFrom + self.duplicates
        )

    @precondition(lambda self: len(self.pairs) < _MAX_PAIRS)
    @rule(
        index=st.integers(0, 15),
        source=st.sampled_from(["epoll", "socket", "minusOne", "minusTwo", "str"]),
    )
    def fromfd(self, index: int, source: str) -> None:
        """
        C{epoll.fromfd()} of a duplicate of a pair's descriptor (sharing its
        interest list), of a socket's, of -1 (a new instance) and of invalid
        values succeeds or fails alike.
        """
        arguments: List[Any] = []
        for side in (0, 1):
            if source == "epoll":
                target = self._pair(index)[side]
                if target.closed:
                    arguments.append(None)
                else:
                    arguments.append(self._duplicate(target.fileno()))
            elif source == "socket" and self.descriptors:
                arguments.append(self._duplicate(self.descriptors[0][0]))
            else:
                arguments.append(
                    {"minusOne": -1, "minusTwo": -2, "str": "3"}.get(source, -1)
                )
        if arguments[0] is None:
            # Closed: fileno() raises ValueError on both sides.
            self._agree(
                "fileno() of closed",
                outcome(self._pair(index)[0].fileno),
                outcome(self._pair(index)[1].fileno),
            )
            return
        ours = outcome(lambda: self.candidate.fromfd(arguments[0]))
        theirs = outcome(lambda: self.reference.fromfd(arguments[1]))
        if ours[0] == "ok" and theirs[0] == "ok":
            self.pairs.append((ours[1], theirs[1]))
            self.labels.append(
                self.labels[index % len(self.labels)] if source == "epoll" else ({}, {})
            )
            return
        for argument, result in zip(arguments, (ours, theirs)):
            if result[0] == "ok":
                result[1].close()
            elif isinstance(argument, int) and argument >= 0:
                os.close(argument)
        if source == "minusTwo":
            # CPython raises OSError from whatever errno a previous call left
            # (0, "Success", or ENOENT, so even the subclass varies); we say
            # EBADF.  Only "an OSError" can agree.
            ours, theirs = [
                ("OSError", True)
                if result[0] != "ok" and issubclass(result[0], OSError)
                else result
                for result in (ours, theirs)
            ]
        self._agree("fromfd({})".format(source), ours, theirs)

    @precondition(lambda self: sum(not ours.closed for ours, _ in self.pairs) > 1)
    @rule(index=st.integers(0, 15))
    def close(self, index: int) -> None:
        """
        C{close()} succeeds alike, also when already closed.
        """
        ours, theirs = self._pair(index)
        numbers = [] if ours.closed else [ours.fileno(), theirs.fileno()]
        # A duplicate made by fromfd() can keep the file open, and with it
        # registrations of it under its old number; a new epoll object on
        # that number on one side only would be mistaken for them.  (Opened
        # first, or it would take one of the numbers itself.)
        with open(os.devnull, "rb") as placeholder:
            self._agree("close()", outcome(ours.close), outcome(theirs.close))
            for number in numbers:
                self.placeholders.append(
                    os.dup2(placeholder.fileno(), number, inheritable=False)
                )

    # The shared descriptors.

    @precondition(lambda self: len(self.descriptors) < _MAX_DESCRIPTORS)
    @rule(kind=st.sampled_from(["socketpair", "pipe", "regular"]))
    def openDescriptors(self, kind: str) -> None:
        """
        Open a socket pair, a pipe or a regular file, non-blocking.
        """
        if kind == "socketpair":
            left, right = socket.socketpair()
            numbers = [(left.detach(), "socket"), (right.detach(), "socket")]
        elif kind == "pipe":
            readEnd, writeEnd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            numbers = [(readEnd, "pipe-read"), (writeEnd, "pipe-write")]
        else:
            numbers = [(os.open("/proc/self/stat", os.O_RDONLY), "regular")]
        numbers = [
            (_moveAbove(self.sharedFrom, number), kind) for number, kind in numbers
        ]
        for number, _ in numbers:
            os.set_blocking(number, False)
        self.descriptors.extend(numbers)
        note("opened {}".format(numbers))

    @precondition(lambda self: self.descriptors)
    @rule(index=st.integers(0, 15), size=st.sampled_from([1, 0]))
    def write(self, index: int, size: int) -> None:
        """
        Write to a descriptor (its peer becomes readable); with C{size} 0,
        until its buffer is full (it becomes unwritable).
        """
        number, kind = self.descriptors[index % len(self.descriptors)]
        if kind in ("socket", "pipe-write"):
            fill(number, size)

    @precondition(lambda self: self.descriptors)
    @rule(index=st.integers(0, 15))
    def drain(self, index: int) -> None:
        """
        Read everything a descriptor has buffered.
        """
        number, kind = self.descriptors[index % len(self.descriptors)]
        if kind in ("socket", "pipe-read"):
            drain(number)

    @precondition(lambda self: self.descriptors)
    @rule(index=st.integers(0, 15))
    def closeDescriptor(self, index: int) -> None:
        """
        Close a shared descriptor: both sides lose its registration, and its
        peer hangs up.
        """
        number, _ = self.descriptors.pop(index % len(self.descriptors))
        os.close(number)

    # The epoll calls.

    def _control(self, method: str, index: int, spec: Any, *mask: Any) -> None:
        pair = index % len(self.pairs)
        results = []
        for side, target in enumerate(self.pairs[pair]):
            argument = outcome(self._descriptorArgument, side, spec)
            if argument[0] != "ok":
                results.append(argument)
                continue
            result = outcome(getattr(target, method), argument[1], *mask)
            results.append(result)
            if result[0] == "ok" and spec[0] in ("fd", "object"):
                _kernelAgrees(target, method, argument[1], mask)
            if method == "register" and result[0] == "ok":
                # What poll() will report this registration under.
                number = getattr(argument[1], "number", argument[1])
                self.labels[pair][side][number] = (
                    ("epoll", spec[1] % len(self.pairs))
                    if spec[0] == "epoll"
                    else number
                )
        self._agree("{}({}, {})".format(method, spec, mask), *results)

    @precondition(lambda self: self.pairs)
    @rule(index=st.integers(0, 15), spec=usualSpecs, mask=usualMasks)
    def register(self, index: int, spec: Any, mask: int) -> None:
        """
        C{register(fd, mask)} of a shared descriptor succeeds or fails
        alike.
        """
        self._control("register", index, spec, mask)

    @rule(index=st.integers(0, 15), mask=usualMasks)
    def registerEvery(self, index: int, mask: int) -> None:
        """
        C{register(fd, mask)} of every shared descriptor in turn succeeds or
        fails alike, and so does the C{poll} that follows, which can then
        report several events (one registration at a time rarely made more
        than one ready at once); a socket pair is opened first while there
        are fewer than four.
        """
        if len(self.descriptors) < min(4, _MAX_DESCRIPTORS):
            self.openDescriptors("socketpair")
        for position in range(len(self.descriptors)):
            self._control("register", index, ("fd", position), mask)
        self._poll(index, 0, 1000)

    @precondition(lambda self: self.pairs)
    @rule(index=st.integers(0, 15), spec=descriptorSpecs, mask=masks)
    def registerAnything(self, index: int, spec: Any, mask: Any) -> None:
        """
        C{register(fd, mask)} of anything, valid or not, succeeds or fails
        alike.
        """
        self._control("register", index, spec, mask)

    @precondition(lambda self: self.pairs)
    @rule(index=st.integers(0, 15), spec=descriptorSpecs)
    def registerDefault(self, index: int, spec: Any) -> None:
        """
        C{register(fd)} with the default mask succeeds or fails alike.
        """
        self._control("register", index, spec)

    @precondition(lambda self: self.pairs)
    @rule(index=st.integers(0, 15), spec=usualSpecs, mask=usualMasks)
    def modify(self, index: int, spec: Any, mask: int) -> None:
        """
        C{modify(fd, mask)} of a shared descriptor succeeds or fails alike.
        """
        self._control("modify", index, spec, mask)

    @precondition(lambda self: self.pairs)
    @rule(index=st.integers(0, 15), spec=descriptorSpecs, mask=masks)
    def modifyAnything(self, index: int, spec: Any, mask: Any) -> None:
        """
        C{modify(fd, mask)} of anything succeeds or fails alike.
        """
        self._control("modify", index, spec, mask)

    @precondition(lambda self: self.pairs)
    @rule(index=st.integers(0, 15), spec=descriptorSpecs)
    def unregister(self, index: int, spec: Any) -> None:
        """
        C{unregister(fd)} succeeds or fails alike.
        """
        self._control("unregister", index, spec)

    def _poll(self, index: int, timeout: Any, maxevents: Any) -> None:
        ours, theirs = self._pair(index)
        results = []
        for side, target in enumerate((ours, theirs)):
            result = outcome(target.poll, timeout, maxevents)
            if result[0] == "ok":
                result = ("ok", self._translate(index, side, result[1]))
            results.append(result)
        self._agree("poll({!r}, {!r})".format(timeout, maxevents), *results)

    @precondition(lambda self: self.pairs)
    @rule(index=st.integers(0, 15), maxevents=st.sampled_from([-1, 1, 2, 1000]))
    def poll(self, index: int, maxevents: int) -> None:
        """
        C{poll(0, maxevents)} returns the same events in the same order.
        """
        self._poll(index, 0, maxevents)

    @precondition(lambda self: self.pairs)
    @rule(index=st.integers(0, 15), timeout=timeouts, maxevents=maxeventses)
    def pollAnything(self, index: int, timeout: Any, maxevents: Any) -> None:
        """
        C{poll(timeout, maxevents)} with any arguments returns the same
        events, in the same order, or fails alike.
        """
        self._poll(index, timeout, maxevents)

    @invariant()
    def closedAgrees(self) -> None:
        """
        Both sides agree on which objects are closed.
        """
        for ours, theirs in self.pairs:
            assert ours.closed == theirs.closed


def _highestOpen() -> int:
    """
    @return: the highest descriptor number open now.
    """
    return max(int(name) for name in os.listdir("/proc/self/fd"))


def _moveAbove(lowest: int, number: int) -> int:
    """
    Move descriptor C{number} to the lowest free number from C{lowest} up.

    @return: the new number; C{number} is closed.
    """
    moved = fcntl.fcntl(number, fcntl.F_DUPFD_CLOEXEC, lowest)
    os.close(number)
    return moved


def _isOpen(number: int) -> bool:
    """
    @return: whether C{number} is an open descriptor.
    """
    try:
        os.fstat(number)
    except OSError:
        return False
    return True


def bindingMachine(
    candidate: Any, reference: Optional[Any] = None
) -> Type[BindingMachine]:
    """
    The binding machine for an epoll class.

    @param candidate: a class with C{select.epoll}'s interface.
    @param reference: the class it must agree with: C{select.epoll} by
        default, or L{epollreactor.epoll} where C{select} has none.  Give
        the candidate itself to judge it by the kernel's view alone.
    @return: a C{hypothesis.stateful.RuleBasedStateMachine} subclass; its
        C{TestCase} attribute is a C{unittest.TestCase} that runs it.
    """
    if reference is None:
        from epollreactor import epoll

        reference = getattr(select, "epoll", epoll)
    machine: Type[BindingMachine] = type(
        "BindingMachine",
        (BindingMachine,),
        {
            "candidate": staticmethod(candidate),
            "reference": staticmethod(cast(Any, reference)),
        },
    )
    return machine
