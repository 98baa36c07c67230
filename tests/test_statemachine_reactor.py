"""
State machines that drive L{epollreactor.EPollReactor} one step at a time on
real descriptors and judge it by Twisted's C{IReactorFDSet} contract, by the
kernel's own view of its epoll instance, and against Twisted's stock
C{EPollReactor}.

The world
=========

The machine opens socket pairs, pipes (both ends) and a regular file, all
non-blocking, and wraps every descriptor in a L{Channel}: an
C{abstract.FileDescriptor} whose C{doRead}, C{doWrite} and C{connectionLost}
record that they were called.  Channels never read or write, so a
descriptor stays ready until the machine itself drains, fills or closes it;
like a transport, C{doRead} reports end-of-file (C{ConnectionDone}) when a
read would see it (hang-up and nothing buffered, found with C{FIONREAD}), and
C{connectionLost} stops reading and writing.  A channel may also be given
reactions: when its C{doRead} or C{doWrite} runs, it calls C{addReader},
C{addWriter}, C{removeReader}, C{removeWriter} or a transport's
C{loseConnection} on another channel (or itself), or closes another and
opens a new socket pair in its place, so interest changes during dispatch,
as it does when one connection's data makes a protocol drop or start
another.

A channel is its descriptor I{number}, as real Twisted objects are (a socket
object closed behind its back, or one whose number was C{dup2}'d over, still
returns the number from C{fileno()}).  A channel is I{intact} while its
number names the file it was opened on; closing a number behind the
reactor's back, or C{dup2}ing another file onto it, leaves its channels
broken.

Readiness is never modelled: just before C{doIteration} the machine asks
C{poll(2)} what every live descriptor is ready for.  C{poll(2)} and
C{epoll_wait(2)} call the same kernel C{poll} method of the file, with the
same bits (C{POLLIN == EPOLLIN} and so on), so this is the truth the reactor
should see, obtained without epoll.

The contract
============

L{Contract} knows only what a user of C{IReactorFDSet} can know: which
channel asked for what, and what the files are ready for.  It does not know
the order of the events in a batch, nor when the reactor gives the kernel a
mask, so it does not predict the calls of an iteration: each call is judged
when it is made, against the interest as it is at that moment, and what an
iteration must have called is checked when it ends.  The rules, and why:

 1. C{doRead} only for a channel that wants to read at that moment, and
    C{doWrite} only for one that wants to write: C{removeReader} and
    C{removeWriter} take effect at once, for events already in the batch too
    (Twisted issues 6796, 4759: a connection dropped by another's callback
    must not be read); within one event too, so a C{doRead} that stops
    its own channel's writing gets no C{doWrite} after it (Twisted's
    C{_doReadOrWrite} would call it).  Twisted's C{_ContinuousPolling},
    which polls regular files for us, walks a copy of its sets, so there
    the rule is Twisted's own: wanted when its pass began.
 2. C{doRead} only when the file the channel's number named at the wait was
    readable, hung up or in error (a hang-up is read to end-of-file, Twisted
    issue 7932); C{doWrite} only when it was writable, or as the one early
    attempt a channel may get after the first wait that follows its
    C{addWriter} (a transport's C{doWrite} copes with EAGAIN; this saves the
    C{epoll_ctl(2)} calls of Twisted issue 5303, and comes no sooner than
    Twisted's would).  A channel opened after the wait was not ready at it,
    so an event left in the batch for a closed file never reaches the
    object now under its number.
 3. At most one C{doRead} and one C{doWrite} per channel per iteration
    (one wait reports a file once).
 4. C{connectionLost} only for a channel whose number names no file epoll
    can watch (closed, or a regular file now), whose C{fileno()} is -1,
    whose file was hung up or in error at the wait, or whose C{doRead} just
    saw end-of-file: a connection is never dropped while its number names
    a socket or pipe, even one C{dup2}'d onto it behind the reactor's back,
    which it then reads and writes as selectreactor and pollreactor, which
    know only numbers, would.
 5. What must happen: an intact channel that wanted to read at the wait,
    whose file was readable (or hung up) then, and that kept its read
    interest through the iteration gets C{doRead} or C{connectionLost}; the
    same for writing with a writable file; a writer that does not read gets
    C{connectionLost} for a hang-up; a channel polled continuously gets its
    call every iteration (the poller is due once per iteration, see
    L{FakeClock}).
 6. C{addReader}/C{addWriter} raise C{ValueError} for a negative
    C{fileno()} and C{OSError} for a closed number, unless the channel is
    registered already (then the kernel is not asked); a regular file is
    polled continuously instead (epoll_ctl(2): EPERM), and stays so.  The
    last channel added under a number owns it: a listed channel that
    reports the same number is dropped from the lists with one warning and
    no C{connectionLost} (Twisted issues 6373, 6346).  C{remove*} never
    raises.  C{getReaders()}/C{getWriters()} list exactly the channels that
    want to read or write, each once; C{removeAll()} returns them.
 7. The kernel (C{/proc/self/fdinfo}) holds no entry that no listed channel
    reports the number of (an entry the application could not remove); it
    holds one, for the right file, for every intact channel listed and not
    polled, from the moment C{addReader}/C{addWriter} returns.  Masks may lag
    the interest until the next wait (changes are applied before it, fact
    8 of L{epollreactor._reactor}), so a channel's mask must equal its
    interest only after an iteration in which the interest did not change
    since the wait; one whose write interest is new may lack EPOLLOUT for
    one more iteration (its early attempt stands in for it).

The differential machine runs the same rules, without closing or C{dup2}ing
behind the reactor's back and without reactions, on our reactor and
Twisted's side by side, one L{Channel} per reactor on each shared
descriptor.  Both must raise the same exception types, report the same
readers and writers, and dispatch the same calls in each iteration but for
two documented differences: the set of calls stock Twisted makes is a subset
of ours, and what only we call is either an early C{doWrite} (rule 2) or a
C{doRead} of a reader whose hang-up came without C{EPOLLIN} (stock Twisted
calls C{connectionLost} at once; we read, the read sees end-of-file, and then
C{connectionLost}).

Reaching every path
===================

Targets are drawn among the channels a rule can do something with (a live
one to add, a registered one to close or C{dup2} over behind the reactor's
back), and L{Paths} watches, without changing them, which of the reactor's
repair paths each step went through (a failed C{epoll_ctl(2)} by operation,
errno and where it came from, an entry revalidated or re-added by the
preen).  They show in Hypothesis's statistics
(C{--hypothesis-show-statistics}; README.md, "How it is tested").
"""

import array
import errno
import fcntl
import math
import os
import select
import shutil
import socket
import tempfile
import termios
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import pytest
from hypothesis import event as hypothesisEvent
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from twisted.internet import abstract
from twisted.internet.main import CONNECTION_DONE
from twisted.logger import globalLogPublisher

import epollreactor._epoll
from epollreactor import EPollReactor
from epollreactor._libc import (
    EPOLL_CTL_ADD,
    EPOLL_CTL_DEL,
    EPOLL_CTL_MOD,
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
)
from tests.contract import outcome
from tests.kernel import interestList
from tests.test_reactor import sleptIn

_DISCONNECTED = EPOLLERR | EPOLLHUP
#: Socket pairs twice as often: they are the files that are both readable
#: and writable, and hang up.
_KINDS = ("socketpair", "socketpair", "pipe", "regular")
#: How many descriptors the machine keeps open at most.
_MAX_OPEN = 14
_OPERATIONS = {EPOLL_CTL_ADD: "ADD", EPOLL_CTL_MOD: "MOD", EPOLL_CTL_DEL: "DEL"}
#: What a reaction does, by the step's variant: taking interest away
#: inside a batch is what the rules about dispatch are most about, so it
#: comes most often.
_ACTIONS = (
    "removeReader",
    "removeReader",
    "removeWriter",
    "addReader",
    "addWriter",
    "loseConnection",
    "reopen",
)

#: A timeout shorter than epoll_wait(2)'s millisecond.
SHORT_TIMEOUT = 0.0004

#: What C{add} and C{remove} ask for, by the step's variant.
_EVENTS = ((EPOLLIN,), (EPOLLOUT,), (EPOLLIN, EPOLLOUT))

#: A call a reactor made: the channel's name and the method.
Call = Tuple[str, str]

#: How often each step comes, in parts.  One rule takes every step, so that
#: Hypothesis never draws a rule it must throw away (a disabled rule, in
#: its swarm testing, or a false precondition): an iteration is about a
#: quarter of the steps in every example, and the steps that make repairs
#: necessary come often enough that every repair path is reached at the ci
#: profile (README.md, "How it is tested").
REACTOR_STEPS = {
    "iterate": 8,
    "add": 6,
    "readiness": 4,
    "remove": 3,
    "react": 2,
    "entangle": 3,
    "closeBehindBack": 2,
    "dup2Onto": 2,
    "open": 2,
    "loseConnection": 1,
    "hangUp": 1,
    "removeAll": 1,
}
#: The same for the differential machine, which does nothing behind the
#: reactors' backs and gives no reactions.
DIFFERENTIAL_STEPS = {
    "iterate": 8,
    "add": 6,
    "readiness": 4,
    "remove": 3,
    "open": 2,
    "loseConnection": 1,
    "hangUp": 1,
    "removeAll": 1,
}


def _steps(weights: Dict[str, int]) -> Any:
    """
    @return: a strategy for one step: the name of a step method, drawn with
        C{weights}, and three numbers that pick its channels and variant.
    """
    names = [name for name, weight in weights.items() for _ in range(weight)]
    return st.tuples(
        st.sampled_from(names),
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 11),
    )


def kernelRegistrations(epfd: int) -> Dict[int, Tuple[int, int]]:
    """
    Read the interest list of an epoll instance as the kernel holds it
    (L{tests.kernel.interestList}).

    @return: maps each registered descriptor number to its mask (without
        EPOLLERR and EPOLLHUP) and its file's inode.
    """
    return {
        number: (registration.events & ~_DISCONNECTED, registration.inode)
        for number, registration in interestList(epfd).items()
    }


def atEndOfFile(number: int) -> bool:
    """
    Whether a read of C{number} would return end-of-file now, found without
    reading: the peer has hung up (C{POLLHUP}: a socket whose peer closed, a
    pipe whose writers are gone) and nothing is buffered (C{FIONREAD}).
    """
    if number < 0:
        return False
    poller = select.poll()
    poller.register(number, select.POLLIN)
    events = poller.poll(0)
    if not events or not events[0][1] & select.POLLHUP:
        return False
    if events[0][1] & select.POLLNVAL:
        return False
    buffered = array.array("i", [0])
    try:
        fcntl.ioctl(number, termios.FIONREAD, buffered)
    except OSError:
        return False
    return buffered[0] == 0


class OpenFile:
    """
    One open file description the machine created, and the number it lives
    under.

    @ivar name: for messages, C{f0}, C{f1}, ...
    @ivar kind: C{"socket"}, C{"pipe-read"}, C{"pipe-write"} or C{"regular"}.
    @ivar number: its descriptor number, or C{None} once closed.
    @ivar inode: what C{fstat} and fdinfo's C{ino:} say.
    @ivar peer: the other end of its socket pair or pipe.
    """

    def __init__(self, name: str, kind: str, number: int) -> None:
        self.name = name
        self.kind = kind
        self.number: Optional[int] = number
        self.inode = os.fstat(number).st_ino
        self.peer: Optional[OpenFile] = None

    def __repr__(self) -> str:
        return "<{} {} on {}>".format(self.name, self.kind, self.number)


#: C{observe(channel, method, atEnd)}: told of every call a channel gets.
Observer = Callable[["Channel", str, bool], None]


class Channel(abstract.FileDescriptor):
    """
    A C{FileDescriptor} that records what the reactor calls on it and does
    nothing else (so readiness changes only when the machine says).

    @ivar name: its name in the model and in messages.
    @ivar number: the descriptor number C{fileno()} returns; -1 once closed
        through L{ReactorMachine.loseConnection}.
    @ivar calls: the list, shared by every channel of one reactor, that
        calls are recorded in.
    @ivar file: the L{OpenFile} it was opened on, if the machine made it.
    @ivar observe: told of each call, after it was recorded, or C{None}.
    """

    file: Optional[OpenFile] = None
    observe: Optional[Observer] = None

    def __init__(self, reactor: Any, name: str, number: int, calls: List[Call]):
        abstract.FileDescriptor.__init__(self, reactor)
        self.name = name
        self.number = number
        self.calls = calls

    def __repr__(self) -> str:
        return "<Channel {} on {}>".format(self.name, self.number)

    def __hash__(self) -> int:
        # By name, not by address: the order of the continuous poller's
        # sets decides which channel's call comes first, and it must be the
        # same when Hypothesis replays a program to shrink it.
        return hash(self.name)

    def fileno(self) -> int:
        """
        @return: the number this channel was opened on, or -1 once closed.
        """
        return self.number

    def intact(self) -> bool:
        """
        @return: whether its number still names the file it was opened on.
        """
        return (
            self.number >= 0
            and self.file is not None
            and self.file.number == self.number
        )

    def _record(self, method: str, atEnd: bool = False) -> None:
        self.calls.append((self.name, method))
        if self.observe is not None:
            self.observe(self, method, atEnd)

    def doRead(self) -> Optional[BaseException]:
        """
        Record the call, and report end-of-file as a transport's read would
        (without reading anything: data stays buffered).

        @return: C{ConnectionDone} when the descriptor is at end-of-file.
        """
        atEnd = atEndOfFile(self.number)
        self._record("doRead", atEnd)
        return CONNECTION_DONE if atEnd else None

    def doWrite(self) -> None:
        """
        Record the call.
        """
        self._record("doWrite")

    def connectionLost(self, reason: Any) -> None:
        """
        Record the call, and stop reading and writing, as
        L{abstract.FileDescriptor.connectionLost} does (the reactor removes
        only the reader before C{readConnectionLost}).
        """
        self._record("connectionLost")
        self.reactor.removeReader(self)
        self.reactor.removeWriter(self)


class World:
    """
    The descriptors the machine opened.

    @ivar files: maps each live number to the file it names.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.files: Dict[int, OpenFile] = {}
        self.allFiles: List[OpenFile] = []

    def _new(self, kind: str, number: int) -> OpenFile:
        openFile = OpenFile("f{}".format(len(self.allFiles)), kind, number)
        self.allFiles.append(openFile)
        self.files[number] = openFile
        return openFile

    def open(self, kind: str) -> List[OpenFile]:
        """
        Open a socket pair, a pipe or the regular file, non-blocking.

        @return: the files, one per descriptor.
        """
        if kind == "socketpair":
            left, right = socket.socketpair()
            numbers = [left.detach(), right.detach()]
            for number in numbers:
                os.set_blocking(number, False)
            pair = [self._new("socket", number) for number in numbers]
            pair[0].peer, pair[1].peer = pair[1], pair[0]
            return pair
        if kind == "pipe":
            readEnd, writeEnd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            pipe = [self._new("pipe-read", readEnd), self._new("pipe-write", writeEnd)]
            pipe[0].peer, pipe[1].peer = pipe[1], pipe[0]
            return pipe
        number = os.open(
            os.path.join(self.directory, "regular"),
            os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC,
        )
        return [self._new("regular", number)]

    def close(self, number: int) -> None:
        """
        Close a live number; every epoll instance loses its registration
        (the machine holds no other reference to the file).
        """
        os.close(number)
        self.files.pop(number).number = None

    def dup2(self, source: OpenFile, number: int) -> None:
        """
        Move C{source} onto C{number}, which closes the file living there,
        and close C{source}'s old number.
        """
        old = source.number
        assert old is not None
        os.dup2(old, number)
        self.files.pop(number).number = None
        os.close(old)
        del self.files[old]
        source.number = number
        self.files[number] = source

    def readiness(self) -> Dict[int, int]:
        """
        Ask C{poll(2)} what every live number is ready for.

        @return: maps each live number to its C{revents}.
        """
        poller = select.poll()
        for number in self.files:
            poller.register(number, select.POLLIN | select.POLLOUT)
        ready = dict.fromkeys(self.files, 0)
        for number, revents in poller.poll(0):
            ready[number] = revents & (EPOLLIN | EPOLLOUT | _DISCONNECTED)
        return ready

    def closeAll(self) -> None:
        """
        Close every live number.
        """
        for number in list(self.files):
            try:
                os.close(number)
            except OSError:
                pass
            self.files.pop(number).number = None


class Contract:
    """
    What a user of C{IReactorFDSet} can know: which channel wants what.
    Rules 1-7 of the module docstring are judged against it.

    @ivar reading: names of the channels that want C{doRead}.
    @ivar writing: names of the channels that want C{doWrite}.
    @ivar polled: names of the channels polled continuously (regular
        files); a subset of C{reading | writing}, or left behind by
        C{removeAll} and harmless.
    @ivar gained: name -> the wait counts when the channel began writing
        (the last two at most); it may get an early C{doWrite} after the
        next wait, even if it stopped and began again since.
    @ivar evictions: how many channels were dropped by an add under their
        number, each with a warning.
    @ivar touched: names whose interest changed since the last wait.
    @ivar lost: C{(name, event)} interests lost since the last wait.
    """

    def __init__(self) -> None:
        self.channels: Dict[str, Channel] = {}
        self.reading: Set[str] = set()
        self.writing: Set[str] = set()
        self.polled: Set[str] = set()
        self.gained: Dict[str, Set[int]] = {}
        self.evictions = 0
        self.waits = 0
        self.touched: Set[str] = set()
        self.lost: Set[Tuple[str, int]] = set()

    def listed(self, name: str) -> bool:
        """
        @return: whether C{getReaders()} or C{getWriters()} lists it.
        """
        return name in self.reading or name in self.writing

    def _set(self, name: str, event: int) -> Set[str]:
        return self.reading if event == EPOLLIN else self.writing

    def add(self, channel: Channel, world: World) -> Callable[[int], Optional[type]]:
        """
        @return: C{add(event)}: C{addReader} (EPOLLIN) or C{addWriter}
            (EPOLLOUT) of C{channel} in the contract, returning the
            exception type the reactor must raise, or C{None} (rule 6).
        """

        def add(event: int) -> Optional[type]:
            name = channel.name
            interest = self._set(name, event)
            if not self.listed(name):
                number = channel.number
                if number < 0:
                    return ValueError
                # The number is taken from whoever reports it, whatever the
                # kernel then says of the newcomer.
                for other in list(self.reading | self.writing):
                    if (
                        other not in self.polled
                        and self.channels[other].number == number
                    ):
                        self.unlist(other)
                        self.evictions += 1
                openFile = world.files.get(number)
                if openFile is None:
                    return OSError
                if openFile.kind == "regular":
                    self.polled.add(name)
                else:
                    self.polled.discard(name)
            if name not in interest:
                interest.add(name)
                self.touched.add(name)
                if event == EPOLLOUT:
                    waits = self.waits
                    self.gained[name] = {
                        w for w in self.gained.get(name, ()) if w >= waits - 1
                    } | {waits}
            return None

        return add

    def remove(self, name: str, event: int) -> None:
        """
        C{removeReader} (EPOLLIN) or C{removeWriter} (EPOLLOUT).
        """
        interest = self._set(name, event)
        if name in interest:
            interest.discard(name)
            self.touched.add(name)
            self.lost.add((name, event))

    def unlist(self, name: str) -> None:
        """
        Take away both interests.
        """
        self.remove(name, EPOLLIN)
        self.remove(name, EPOLLOUT)

    def removeAll(self) -> Set[str]:
        """
        @return: the names C{removeAll()} must return; none is listed after.
        """
        removed = self.reading | self.writing
        for name in removed:
            self.unlist(name)
        return removed

    def wanted(self, name: str) -> int:
        """
        @return: the mask the channel's interest stands for.
        """
        return (EPOLLIN if name in self.reading else 0) | (
            EPOLLOUT if name in self.writing else 0
        )

    def earlyWriteAllowed(self, name: str) -> bool:
        """
        @return: whether the channel began writing between the last wait
            and the one before it, so that it may get one early C{doWrite}
            in this iteration (rule 2).
        """
        return self.waits - 1 in self.gained.get(name, ())


class Iteration:
    """
    What one iteration of our reactor must be judged by: the interest and
    readiness at the wait, and the calls seen.

    @ivar phase: C{"polling"} while C{runUntilCurrent} runs the continuous
        poller, C{"batch"} from the wait on.
    @ivar ready: name -> what the file its number named was ready for at
        the wait (0 for a channel opened since).
    @ivar intact: names of the channels intact at the wait.
    @ivar counts: C{(name, method)} -> how often it was called.
    @ivar renewed: C{(name, method)} whose interest was taken away and given
        again since the channel's last such call in this iteration: it may
        be called once more (a continuously polled reader, removed and
        added again by another's C{doRead} once its number names a socket,
        is read by the poller and then by the batch, on stock as on ours).
    @ivar atEnd: names whose C{doRead} saw end-of-file.
    @ivar writersPass: the continuous poller's writers when its writers'
        pass began, once it has: Twisted's poller copies its writers after
        its readers' pass (whose calls may have added or removed some) and
        calls every writer in the copy, also one removed meanwhile.
    """

    def __init__(self, contract: Contract) -> None:
        self.phase = "polling"
        self.polledReading = contract.reading & contract.polled
        self.polledWriting = contract.writing & contract.polled
        self.writersPass: Optional[Set[str]] = None
        self.reading: Set[str] = set()
        self.writing: Set[str] = set()
        self.ready: Dict[str, int] = {}
        self.intact: Set[str] = set()
        self.unwatchable: Set[str] = set()
        self.counts: Dict[Call, int] = {}
        self.batchCalls: Dict[Call, int] = {}
        self.renewed: Set[Call] = set()
        self.atEnd: Set[str] = set()
        self.lostPolling: Set[Tuple[str, int]] = set()

    def wait(self, contract: Contract, world: World) -> None:
        """
        Just before C{doIteration}: take the interest and readiness.
        """
        self.phase = "batch"
        self.reading = set(contract.reading - contract.polled)
        self.writing = set(contract.writing - contract.polled)
        readiness = world.readiness()
        for name, channel in contract.channels.items():
            self.ready[name] = readiness.get(channel.number, 0)
            if channel.intact():
                self.intact.add(name)
            openFile = world.files.get(channel.number)
            if openFile is None or openFile.kind == "regular":
                self.unwatchable.add(name)


class Paths:
    """
    Which of the reactor's repair paths a step went through, for
    Hypothesis's statistics: every C{epoll_ctl(2)} that L{Registrations
    <epollreactor._registrations.Registrations>} saw fail (by operation,
    errno and the reactor method it came from), and the preen's checks that
    succeeded.  Only observes: each wrapper calls through and returns or
    raises what the wrapped callable did.

    @ivar seen: the paths taken since the statistics were last read.
    """

    def __init__(self, reactor: EPollReactor) -> None:
        self.seen: Set[str] = set()
        self._where = "?"
        self._reactor = reactor
        self._original = epollreactor._epoll.repeatFailed
        epollreactor._epoll.repeatFailed = self._repeatFailed
        for method in ("_add", "_remove", "doPoll"):
            self._within(method)

    def _within(self, method: str) -> None:
        original = getattr(self._reactor, method)

        def within(*args: Any) -> Any:
            outer, self._where = self._where, method
            try:
                return original(*args)
            finally:
                self._where = outer

        setattr(self._reactor, method, within)

    def _repeatFailed(self, function: Any, *args: Any) -> Tuple[int, int]:
        result: Tuple[int, int] = self._original(function, *args)
        if result[1]:
            self.seen.add(
                "path: {} {} failed: {}".format(
                    self._where,
                    _OPERATIONS.get(args[1], args[1]),
                    errno.errorcode.get(result[1], result[1]),
                )
            )
        return result

    def stop(self) -> None:
        """
        Put the module's C{repeatFailed} back.
        """
        epollreactor._epoll.repeatFailed = self._original


class FakeClock:
    """
    The reactor's clock, advanced by one second per iteration, so that the
    continuous poller's C{LoopingCall} is due exactly once per iteration
    whatever the real clock does.
    """

    def __init__(self) -> None:
        self.now = 1000.0

    def seconds(self) -> float:
        """
        @return: the current fake time.
        """
        return self.now


class ReactorUnderTest:
    """
    One reactor, its clock, its channels and what it called.

    @ivar channels: maps channel names to this reactor's L{Channel}s.
    """

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.clock = FakeClock()
        reactor.seconds = self.clock.seconds
        self.calls: List[Call] = []
        self.channels: Dict[str, Channel] = {}

    def internal(self) -> Set[Any]:
        return set(self.reactor._internalReaders)

    def readers(self) -> List[str]:
        internal = self.internal()
        return [r.name for r in self.reactor.getReaders() if r not in internal]

    def writers(self) -> List[str]:
        internal = self.internal()
        return [w.name for w in self.reactor.getWriters() if w not in internal]

    def registrations(self) -> Dict[int, Tuple[int, int]]:
        """
        @return: L{kernelRegistrations} for this reactor's epoll instance,
            without the waker's.
        """
        view = kernelRegistrations(self.reactor._poller.fileno())
        for reader in self.internal():
            view.pop(reader.fileno(), None)
        return view

    def iterate(
        self, beforeWait: Callable[[], None] = lambda: None, timeout: float = 0
    ) -> List[Call]:
        """
        One turn of C{mainLoop}.

        @param beforeWait: called between C{runUntilCurrent} and
            C{doIteration}.
        @param timeout: what C{doIteration} is given.
        @return: the calls made.
        """
        del self.calls[:]
        self.clock.now += 1
        self.reactor.runUntilCurrent()
        beforeWait()
        self.slept = sleptIn(
            lambda: self.reactor.doIteration(timeout), math.ceil(timeout * 1000) / 1000
        )
        return list(self.calls)

    def close(self) -> None:
        reactor = self.reactor
        reactor.removeAll()
        for reader in list(reactor._internalReaders):
            reactor.removeReader(reader)
            reader.connectionLost(None)
        reactor._internalReaders.clear()
        for call in reactor.getDelayedCalls():
            call.cancel()
        reactor._poller.close()


def _note(text: str) -> None:
    """
    L{note} when Hypothesis runs us; nothing when a regression test does.
    """
    if currently_in_test_context():
        note(text)


def _event(text: str) -> None:
    """
    L{event} when Hypothesis runs us; nothing when a regression test does.
    """
    if currently_in_test_context():
        hypothesisEvent(text)


def _bucket(count: int) -> str:
    return str(count) if count < 3 else "3+"


class ReactorRules(RuleBasedStateMachine):
    """
    The rules and invariants both machines share: our reactor judged by
    L{Contract} and the kernel's view, and Twisted's stock reactor alongside
    when C{differential} is set.

    @ivar violations: what broke a rule while the reactor was calling into
        a channel (an assertion there would be caught and logged by the
        reactor); checked after every step.
    """

    #: Whether to run Twisted's stock reactor alongside ours.
    differential = False

    def __init__(self) -> None:
        super().__init__()
        # The continuous poller's LoopingCall imports twisted.internet.reactor,
        # which installs the default reactor the first time: its epoll and
        # waker descriptors would take numbers the machine thinks closed, in
        # the middle of an example.  Have that happen now, before the world
        # opens anything.
        from twisted.internet import reactor  # noqa: F401

        self.directory = tempfile.mkdtemp(prefix="statemachine-")
        self.world = World(self.directory)
        self.contract = Contract()
        self.ours = ReactorUnderTest(EPollReactor())
        self.paths = Paths(self.ours.reactor)
        self.reactors = [self.ours]
        if self.differential:
            from twisted.internet.epollreactor import EPollReactor as StockReactor

            self.stock: Optional[ReactorUnderTest] = ReactorUnderTest(StockReactor())
            self.reactors.append(self.stock)
        else:
            self.stock = None
        self.channels: List[str] = []
        self.reactions: Dict[Call, Tuple[str, str]] = {}
        self.iteration: Optional[Iteration] = None
        self.violations: List[Any] = []
        self.happenings: Set[str] = set()
        self.warnings: List[Dict[str, Any]] = []
        self.failures: List[Dict[str, Any]] = []
        globalLogPublisher.addObserver(self._observe)

    def _observe(self, event: Dict[str, Any]) -> None:
        if "log_failure" in event or event.get("isError"):
            self.failures.append(event)
        elif "still held" in event.get("log_format", ""):
            self.warnings.append(event)

    def teardown(self) -> None:
        """
        Close everything, even after a failure, so that no descriptor
        outlives its example.
        """
        globalLogPublisher.removeObserver(self._observe)
        self.paths.stop()
        try:
            for reactor in self.reactors:
                try:
                    reactor.close()
                except Exception:
                    reactor.reactor._poller.close()
        finally:
            self.world.closeAll()
            shutil.rmtree(self.directory, ignore_errors=True)

    # Helpers.

    def _violate(self, *what: Any) -> None:
        _note("VIOLATION {}".format(what))
        self.violations.append(what)

    def _newChannel(self, openFile: OpenFile) -> str:
        assert openFile.number is not None
        name = "c{}".format(len(self.channels))
        self.channels.append(name)
        for reactor in self.reactors:
            channel = Channel(reactor.reactor, name, openFile.number, reactor.calls)
            channel.file = openFile
            reactor.channels[name] = channel
        ours = self.ours.channels[name]
        ours.observe = self._judge
        self.contract.channels[name] = ours
        _note("{} on {}".format(name, openFile))
        return name

    def _pick(self, index: int, among: Callable[[Channel], bool]) -> str:
        """
        @return: a channel for which C{among} holds, picked by C{index}; any
            channel when there is none.
        """
        names = [n for n in self.channels if among(self.ours.channels[n])]
        if not names:
            names = self.channels
        return names[index % len(names)]

    def _live(self, index: int) -> str:
        return self._pick(index, lambda channel: channel.number >= 0)

    def _setNumber(self, name: str, number: int) -> None:
        for reactor in self.reactors:
            reactor.channels[name].number = number

    def _open(self, kind: str) -> List[str]:
        return [self._newChannel(openFile) for openFile in self.world.open(kind)]

    def _fileOf(self, name: str) -> Optional[OpenFile]:
        """
        @return: the file the channel's number names now, if any.
        """
        return self.world.files.get(self.ours.channels[name].number)

    # Judging calls (rules 1-4).

    def _judge(self, channel: Channel, method: str, atEnd: bool) -> None:
        """
        Judge a call our reactor just made, against the interest at this
        moment, then run the channel's reactions.
        """
        name = channel.name
        iteration = self.iteration
        contract = self.contract
        if iteration is None:
            self._violate(name, method, "outside an iteration")
            return
        key = (name, method)
        iteration.counts[key] = iteration.counts.get(key, 0) + 1
        polling = iteration.phase == "polling"
        if polling:
            self.happenings.add("continuous polling: " + method)
        else:
            iteration.batchCalls[key] = iteration.counts[key]
        renewed = key in iteration.renewed
        iteration.renewed.discard(key)
        if iteration.counts[key] > 1 and method != "connectionLost":
            if renewed:
                self.happenings.add("called again after its interest was renewed")
            else:
                self._violate(key, "twice in one iteration")
        ready = iteration.ready.get(name, 0)
        if method == "doRead":
            if polling:
                if name not in iteration.polledReading:
                    self._violate(key, "not polled for reading")
            else:
                if name not in contract.reading:
                    self._violate(key, "without read interest at that moment")
                if not ready & (EPOLLIN | _DISCONNECTED):
                    self._violate(key, "its file was not readable at the wait", ready)
            if atEnd:
                iteration.atEnd.add(name)
        elif method == "doWrite":
            if polling:
                # Nothing runs between the poller's copy of its writers and
                # its first doWrite, which is judged before its reactions.
                if iteration.writersPass is None:
                    iteration.writersPass = contract.writing & contract.polled
                if name not in iteration.writersPass:
                    self._violate(key, "not polled for writing")
            else:
                if name not in contract.writing:
                    self._violate(key, "without write interest at that moment")
                if not ready & EPOLLOUT:
                    if contract.earlyWriteAllowed(name):
                        self.happenings.add("early doWrite, file not writable")
                    else:
                        self._violate(key, "its file was not writable at the wait")
        else:
            if not (
                self._unwatchable(channel)
                or (not polling and name in iteration.unwatchable)
                or channel.number == -1
                or name in iteration.atEnd
                or (not polling and ready & _DISCONNECTED)
            ):
                self._violate(key, "a healthy connection dropped", ready)
            contract.unlist(name)
            return
        reaction = self.reactions.get(key)
        if reaction is not None:
            self._react(name, *reaction)

    def _unwatchable(self, channel: Channel) -> bool:
        """
        @return: whether the channel's number names no file epoll can watch
            (it was closed, or a regular file is there now).
        """
        openFile = self.world.files.get(channel.number)
        return openFile is None or openFile.kind == "regular"

    def _react(self, source: str, action: str, target: str) -> None:
        """
        Run one reaction, as a protocol's callback would, inside the
        reactor's dispatch.
        """
        self.happenings.add("reaction: " + action)
        if self.iteration is not None and self.iteration.phase == "batch":
            self.happenings.add("interest changed inside a batch")
        if action.startswith("add"):
            self._add(target, EPOLLIN if action == "addReader" else EPOLLOUT, True)
        elif action.startswith("remove"):
            self._remove(target, EPOLLIN if action == "removeReader" else EPOLLOUT)
        elif action == "loseConnection":
            self._loseConnection(target)
        elif len(self.world.files) < _MAX_OPEN:
            # Close and open again: the new files take the freed numbers,
            # while the batch may still hold an event for the old one.
            self._loseConnection(target)
            newcomers = self._open("socketpair")
            self._add(newcomers[0], EPOLLIN, True)

    # Rules: descriptors.

    @initialize(kind=st.sampled_from(_KINDS))
    def openFirst(self, kind: str) -> None:
        """
        Start with one socket pair, pipe or regular file, so that every rule
        has something to work on.
        """
        self._open(kind)

    def _step(self, step: Tuple[str, int, int, int]) -> None:
        """
        Take one step: call the method named first with the other three.
        """
        what, index, other, variant = step
        getattr(self, what)(index, other, variant)

    def open(self, index: int, other: int, variant: int) -> None:
        """
        Open a socket pair, a pipe or the regular file, with a channel for
        each descriptor (nothing when the machine has enough open).
        """
        if len(self.world.files) < _MAX_OPEN:
            self._open(_KINDS[variant % len(_KINDS)])

    @staticmethod
    def _fill(openFile: Optional[OpenFile], size: int) -> None:
        """
        Write C{size} bytes (or, with C{size} 0, until the buffer is full)
        to a socket or a pipe's write end; anything else is left alone.
        """
        if openFile is None or openFile.kind not in ("socket", "pipe-write"):
            return
        if openFile.number is None:
            return
        try:
            if size:
                os.write(openFile.number, b"x" * size)
            else:
                while os.write(openFile.number, b"x" * 65536):
                    pass
        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _drain(openFile: Optional[OpenFile]) -> None:
        """
        Read everything a socket or a pipe's read end has buffered.
        """
        if openFile is None or openFile.kind not in ("socket", "pipe-read"):
            return
        if openFile.number is None:
            return
        try:
            while os.read(openFile.number, 65536):
                pass
        except (BlockingIOError, ConnectionResetError):
            # ECONNRESET: the peer closed with our data unread.
            pass

    def readiness(self, index: int, other: int, variant: int) -> None:
        """
        Change what a live channel's file is ready for: its peer writes to
        it, or it is drained, or its send buffer is filled, or its peer
        reads everything.
        """
        change = ("readable", "readable", "drain", "unwritable", "writable")[
            variant % 5
        ]
        openFile = self._fileOf(self._live(index))
        if openFile is None:
            return
        if change == "readable":
            self._fill(openFile.peer, 1)
        elif change == "drain":
            self._drain(openFile)
        elif change == "unwritable":
            self._fill(openFile, 0)
        else:
            self._drain(openFile.peer)

    def hangUp(self, index: int, other: int, variant: int) -> None:
        """
        The peer of a channel's descriptor closes, as a transport does:
        every channel on the peer's number is removed and gets -1 from
        C{fileno()}; the channel sees a hang-up (or, for a pipe's write end,
        an error).
        """
        openFile = self._fileOf(self._live(index))
        if openFile is None or openFile.peer is None:
            return
        number = openFile.peer.number
        if number is None:
            return
        for name in self.channels:
            if self.ours.channels[name].number == number:
                self._remove(name, EPOLLIN)
                self._remove(name, EPOLLOUT)
                self._setNumber(name, -1)
        self.world.close(number)

    # Rules: the reactor.

    def _add(self, name: str, event: int, inCallback: bool = False) -> None:
        method = "addReader" if event == EPOLLIN else "addWriter"
        contract = self.contract
        listed = name in (contract.reading if event == EPOLLIN else contract.writing)
        expected = contract.add(self.ours.channels[name], self.world)(event)
        if self.iteration is not None and not listed and expected is None:
            self.iteration.renewed.add(
                (name, "doRead" if event == EPOLLIN else "doWrite")
            )
        reactors = [self.ours] if inCallback else self.reactors
        for reactor in reactors:
            result = outcome(getattr(reactor.reactor, method), reactor.channels[name])
            raised = None if result[0] == "ok" else result[0]
            if raised is not expected:
                self._violate(method, name, "raised", raised, "not", expected)

    def _remove(self, name: str, event: int) -> None:
        method = "removeReader" if event == EPOLLIN else "removeWriter"
        self.contract.remove(name, event)
        for reactor in self.reactors:
            result = outcome(getattr(reactor.reactor, method), reactor.channels[name])
            if result[0] != "ok":
                self._violate(method, name, "raised", result)

    def _loseConnection(self, name: str) -> None:
        """
        Close a channel as a transport does: remove it, close its
        descriptor, and make C{fileno()} return -1.
        """
        self._remove(name, EPOLLIN)
        self._remove(name, EPOLLOUT)
        number = self.ours.channels[name].number
        if number in self.world.files:
            self.world.close(number)
        self._setNumber(name, -1)

    def add(self, index: int, other: int, variant: int) -> None:
        """
        C{addReader}, C{addWriter} or both raise what the contract says
        (rule 6).
        """
        name = self._live(index)
        for event in _EVENTS[variant % len(_EVENTS)]:
            self._add(name, event)

    def remove(self, index: int, other: int, variant: int) -> None:
        """
        C{removeReader}, C{removeWriter} or both never raise.
        """
        name = self._pick(index, lambda channel: self.contract.listed(channel.name))
        for event in _EVENTS[variant % len(_EVENTS)]:
            self._remove(name, event)

    def removeAll(self, index: int, other: int, variant: int) -> None:
        """
        C{removeAll} returns every channel that was registered.
        """
        expected = self.contract.removeAll()
        for reactor in self.reactors:
            removed = reactor.reactor.removeAll()
            assert sorted(r.name for r in removed) == sorted(expected)

    def loseConnection(self, index: int, other: int, variant: int) -> None:
        """
        Close a channel as a transport does.
        """
        self._loseConnection(self._live(index))

    def iterate(self, index: int, other: int, variant: int) -> None:
        """
        One iteration: every call is judged as it is made (rules 1-4), and
        what had to be called was (rule 5).
        """
        contract = self.contract
        iteration = self.iteration = Iteration(contract)

        contract.lost.clear()

        def beforeWait() -> None:
            contract.waits += 1
            iteration.lostPolling = set(contract.lost)
            contract.touched.clear()
            contract.lost.clear()
            iteration.wait(contract, self.world)

        # The differential machine also waits less than a millisecond.
        timeout = SHORT_TIMEOUT if self.stock is not None and variant % 3 == 2 else 0
        try:
            got = self.ours.iterate(beforeWait, timeout)
        finally:
            self.iteration = None
        if (
            timeout
            and not got
            and not any(
                self.contract.earlyWriteAllowed(name) for name in self.contract.gained
            )
        ):
            # Nothing was ready, nor could a write be owed (the reactor may
            # wait with a zero timeout for a writer that began writing since
            # the last wait, even one that stopped again): it slept in the
            # kernel, rather than turn a timer due in under a millisecond
            # into a busy poll (a voluntary context switch, as
            # tests/test_reactor.py's test_doPollRoundsShortTimeoutUp
            # tells).
            self.happenings.add("short timeout, nothing ready")
            # None: preempted without sleeping, which tells nothing (sleptIn).
            assert self.ours.slept is not False, "doIteration({}) did not sleep".format(
                timeout
            )
        _note("ready {} got {}".format(iteration.ready, got))
        _event(
            "iteration: batch dispatched to {} channels".format(
                _bucket(len({name for name, _ in iteration.batchCalls}))
            )
        )
        assert not self.violations, self.violations
        self._mustHaveCalled(iteration)
        if self.stock is not None:
            self._compareWithStock(iteration, got)
        self._masksAfter(iteration)

    def _mustHaveCalled(self, iteration: Iteration) -> None:
        """
        Rule 5.
        """
        contract = self.contract
        counts = iteration.counts
        for name in self.channels:
            lost = (name, "connectionLost") in counts
            # Twisted's poller walks a copy of its readers, and lists its
            # writers after that pass.
            if name in iteration.polledReading:
                assert (name, "doRead") in counts or lost, (name, "polled")
            if (
                name in iteration.polledWriting
                and (name, EPOLLOUT) not in iteration.lostPolling
            ):
                assert (name, "doWrite") in counts or lost, (name, "polled")
            if name not in iteration.intact or not self.ours.channels[name].intact():
                continue
            ready = iteration.ready[name]
            keptReading = (
                name in iteration.reading and (name, EPOLLIN) not in contract.lost
            )
            keptWriting = (
                name in iteration.writing and (name, EPOLLOUT) not in contract.lost
            )
            if keptReading and ready & (EPOLLIN | _DISCONNECTED):
                assert (name, "doRead") in counts or lost, (name, "doRead", ready)
            if keptWriting and ready & EPOLLOUT and not ready & _DISCONNECTED:
                assert (name, "doWrite") in counts or lost, (name, "doWrite", ready)
            if (
                keptWriting
                and name not in iteration.reading
                and name not in contract.touched
            ):
                # A writer that began reading inside the batch reads its
                # hang-up instead.
                if ready & _DISCONNECTED:
                    assert lost, (name, "connectionLost", ready)
            if (
                name in iteration.reading
                and (name, EPOLLIN) in contract.lost
                and name in contract.writing
                and ready & EPOLLIN
            ):
                self.happenings.add(
                    "read interest taken from a ready reader that still writes, "
                    "inside the batch"
                )

    def _compareWithStock(self, iteration: Iteration, got: List[Call]) -> None:
        """
        Stock Twisted calls a subset of what we call; what only we call is
        an early C{doWrite} or a read of a hang-up without EPOLLIN.
        """
        assert self.stock is not None
        stockGot = set(self.stock.iterate())
        extra = set(got) - stockGot
        assert stockGot <= set(got), (sorted(stockGot - set(got)), "stock only")
        for name, method in extra:
            ready = iteration.ready.get(name, 0)
            early = method == "doWrite" and self.contract.earlyWriteAllowed(name)
            hangUp = method == "doRead" and ready & EPOLLHUP and not ready & EPOLLIN
            if hangUp:
                self.happenings.add("hang-up without EPOLLIN read")
            assert early or hangUp, (name, method, ready)

    def _masksAfter(self, iteration: Iteration) -> None:
        """
        Rule 7, masks: after an iteration, an intact channel whose interest
        did not change since the wait has its interest as its mask, but for
        an EPOLLOUT that a new writer's early attempt stands in for.
        """
        contract = self.contract
        view = self.ours.registrations()
        for name in self.channels:
            channel = self.ours.channels[name]
            if (
                name in contract.touched
                or name in contract.polled
                or not contract.listed(name)
                or not channel.intact()
            ):
                continue
            want = contract.wanted(name)
            mask = view.get(channel.number, (None, None))[0]
            allowed = {want}
            if contract.earlyWriteAllowed(name):
                allowed.add(want & ~EPOLLOUT)
            assert mask in allowed, (name, channel.number, mask, want)

    # Invariants.

    @invariant()
    def noViolations(self) -> None:
        """
        Nothing a step made the reactor do broke a rule.
        """
        assert not self.violations, self.violations

    @invariant()
    def readersAndWriters(self) -> None:
        """
        C{getReaders()} and C{getWriters()} are the contract's (rule 6).
        """
        for reactor in self.reactors:
            readers = reactor.readers()
            writers = reactor.writers()
            assert len(readers) == len(set(readers)), readers
            assert len(writers) == len(set(writers)), writers
            assert set(readers) == self.contract.reading, (
                readers,
                self.contract.reading,
            )
            assert set(writers) == self.contract.writing, (
                writers,
                self.contract.writing,
            )

    @invariant()
    def kernelView(self) -> None:
        """
        Rule 7, entries: none the application cannot remove, one for every
        intact channel listed.
        """
        contract = self.contract
        view = self.ours.registrations()
        listed = {
            name: self.ours.channels[name]
            for name in contract.reading | contract.writing
            if name not in contract.polled
        }
        reported = {channel.number for channel in listed.values()}
        for number in view:
            assert number in reported, (number, "registered, and no one reports it")
        for name, channel in listed.items():
            if channel.intact():
                assert channel.file is not None
                assert view.get(channel.number, (0, None))[1] == channel.file.inode, (
                    name,
                    channel.number,
                    view,
                )
        if self.stock is not None:
            # Stock Twisted changes the kernel at once, so its view is the
            # interest, always.
            stockView = self.stock.registrations()
            wanted = {
                self.ours.channels[name].number: contract.wanted(name)
                for name in listed
            }
            assert {n: m for n, (m, _) in stockView.items()} == wanted, (
                stockView,
                wanted,
            )

    @invariant()
    def statistics(self) -> None:
        """
        Tell Hypothesis's statistics what happened, and which repair paths
        the reactor took.
        """
        for happening in sorted(self.happenings | self.paths.seen):
            _event(happening)
        self.happenings.clear()
        self.paths.seen.clear()

    @invariant()
    def logged(self) -> None:
        """
        One warning per eviction, and no failures.
        """
        assert not self.failures, self.failures
        assert len(self.warnings) == self.contract.evictions, (
            len(self.warnings),
            self.contract.evictions,
        )


class ReactorMachine(ReactorRules):
    """
    L{ReactorRules} on our reactor alone, with three more rules: closing a
    descriptor and C{dup2}ing a new one onto its number behind the
    reactor's back, and giving a channel a reaction.
    """

    def _registered(self, index: int) -> str:
        """
        @return: a channel listed with epoll whose number is open, if any.
        """
        contract = self.contract
        return self._pick(
            index,
            lambda channel: (
                contract.listed(channel.name)
                and channel.name not in contract.polled
                and channel.number in self.world.files
            ),
        )

    def closeBehindBack(self, index: int, other: int, variant: int) -> None:
        """
        Close a registered channel's descriptor without telling the reactor
        or the channel.
        """
        openFile = self._fileOf(self._registered(index))
        if openFile is not None:
            assert openFile.number is not None
            _note("close {}".format(openFile))
            self.world.close(openFile.number)

    def dup2Onto(self, index: int, other: int, variant: int) -> None:
        """
        Open a new descriptor and C{dup2} it onto a registered channel's
        number, without telling the reactor; the moved file gets a new
        channel, which shares the number with the channels already on it.
        """
        target = self._fileOf(self._registered(index))
        if target is None or len(self.world.files) >= _MAX_OPEN:
            return
        number = target.number
        assert number is not None
        opened = self.world.open(_KINDS[variant % len(_KINDS)])
        _note("dup2 {} onto {}".format(opened[0], target))
        self.world.dup2(opened[0], number)
        for openFile in opened:
            self._newChannel(openFile)

    def react(self, index: int, other: int, variant: int) -> None:
        """
        From now on, when a registered channel's C{doRead} or C{doWrite}
        runs, it acts on a live channel (or itself).
        """
        method = ("doRead", "doWrite")[variant % 2]
        action = _ACTIONS[other % len(_ACTIONS)]
        listed = self.contract.listed
        name = self._pick(index, lambda channel: listed(channel.name))
        # Another registered channel, whose event may be in the same batch.
        target = self._pick(
            other // len(_ACTIONS),
            lambda channel: listed(channel.name) and channel.name != name,
        )
        _note("{}.{} -> {}({})".format(name, method, action, target))
        self.reactions[(name, method)] = (action, target)

    def entangle(self, index: int, other: int, variant: int) -> None:
        """
        Two intact channels on sockets (a new pair if there are not two),
        both reading and writing, both readable, the first given a reaction
        that acts on the second: their events come in one batch, and the
        second's may come after the first changed its interest.
        """

        def onSocket(name: str) -> bool:
            channel = self.ours.channels[name]
            return (
                channel.intact()
                and channel.file is not None
                and (channel.file.kind == "socket")
            )

        candidates = [name for name in self.channels if onSocket(name)]
        if len(candidates) < 2:
            if len(self.world.files) >= _MAX_OPEN:
                return
            candidates += self._open("socketpair")
        source = candidates[index % len(candidates)]
        others = [name for name in candidates if name != source]
        target = others[other % len(others)]
        for name in (source, target):
            for event in (EPOLLIN, EPOLLOUT):
                self._add(name, event)
            openFile = self._fileOf(name)
            if openFile is not None:
                self._fill(openFile.peer, 1)
        method = ("doRead", "doWrite")[variant % 2]
        action = _ACTIONS[variant // 2 % len(_ACTIONS)]
        _note("{}.{} -> {}({})".format(source, method, action, target))
        self.reactions[(source, method)] = (action, target)

    @rule(step=_steps(REACTOR_STEPS))
    def step(self, step: Tuple[str, int, int, int]) -> None:
        """
        One step of the program (L{REACTOR_STEPS}).
        """
        self._step(step)


class DifferentialMachine(ReactorRules):
    """
    L{ReactorRules} on our reactor and Twisted's stock one side by side,
    without closing behind the reactor's back, and without reactions.
    """

    differential = True

    @rule(step=_steps(DIFFERENTIAL_STEPS))
    def step(self, step: Tuple[str, int, int, int]) -> None:
        """
        One step of the program (L{DIFFERENTIAL_STEPS}).
        """
        self._step(step)


class TestReactorMachine(ReactorMachine.TestCase):  # type: ignore[name-defined]
    """
    Any sequence of registrations, readiness changes, closes behind the
    reactor's back, C{dup2}s, reactions and iterations keeps
    L{EPollReactor} within Twisted's contract and in agreement with the
    kernel.
    """


@pytest.mark.requiresSelectEpoll
class TestDifferentialMachine(DifferentialMachine.TestCase):  # type: ignore[name-defined]
    """
    Without closing behind the reactor's back, our reactor and Twisted's
    stock C{EPollReactor} report the same readers and writers, raise the
    same exceptions and dispatch the same calls, but for our early writes
    and our reads on hang-up.
    """


@pytest.mark.parametrize("remover, target", [("c1", "c2"), ("c2", "c1")])
def test_aPolledWriterRemovedDuringTheWritersPassMayStillBeCalled(
    remover: str, target: str
) -> None:
    """
    Twisted's continuous poller copies its writers after the readers' pass
    and calls every writer in the copy: a regular file that a reader's
    C{doRead} made a writer, and that another writer's C{doWrite} then
    removed, still gets its C{doWrite} in that pass when it comes later in
    the copy.  The machine judges the writers' pass by the writers when it
    began.  (Either channel removes the other, so that one of the two runs
    has the remover first in the poller's set.)
    """
    machine = ReactorMachine()
    try:
        machine.openFirst("regular")
        machine.open(0, 0, _KINDS.index("regular"))
        machine.open(0, 0, _KINDS.index("regular"))
        assert machine.channels == ["c0", "c1", "c2"]
        machine._add("c0", EPOLLIN)
        machine._add(remover, EPOLLOUT)
        machine.reactions[("c0", "doRead")] = ("addWriter", target)
        machine.reactions[(remover, "doWrite")] = ("removeWriter", target)
        machine.iterate(0, 0, 0)
        assert ("c0", "doRead") in machine.ours.calls
        assert not machine.violations, machine.violations
    finally:
        machine.teardown()
