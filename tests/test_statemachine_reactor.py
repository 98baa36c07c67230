"""
State machines that drive L{epollreactor.EPollReactor} one step at a time on
real descriptors and check it against a model, against the kernel's own view
of its epoll instance, and against Twisted's stock C{EPollReactor}.

The world
=========

The machine opens socket pairs, pipes (both ends) and a regular file, all
non-blocking, and wraps every descriptor in a L{Channel}: an
C{abstract.FileDescriptor} whose C{doRead}, C{doWrite} and C{connectionLost}
record that they were called.  Channels never read or write, so a
descriptor stays ready until the machine itself drains, fills or closes it;
like a transport, C{doRead} reports end-of-file (C{ConnectionDone}) when a
read would see it (hang-up and nothing buffered, found with C{FIONREAD}), and
C{connectionLost} stops reading and writing.
Readiness is therefore never modelled: just before an iteration the machine
asks C{poll(2)} what every live descriptor is ready for.  C{poll(2)} and
C{epoll_wait(2)} call the same kernel C{poll} method of the file, with the
same bits (C{POLLIN == EPOLLIN} and so on), so this is the truth the reactor
should see, obtained without epoll.

A channel is its descriptor I{number}, as real Twisted objects are (a socket
object closed behind its back, or one whose number was C{dup2}'d over, still
returns the number from C{fileno()}).  So after the machine closes a number
behind the reactor's back and the number is reused, or C{dup2}s a new file
onto it, old and new channels share the number: that is the situation
C{epollreactor._reactor}'s docstring calls "closed behind our back".

The model
=========

L{ReactorModel} follows the design written in C{epollreactor/_reactor.py}'s
module docstring: tables keyed by number with one owner each; C{ADD}/C{DEL}
at once; mask changes applied just before C{epoll_wait(2)}; an optimistic
C{doWrite} for a reader that starts writing while the kernel is not watching
it for C{EPOLLOUT}, once, after the events of the next wait; eviction, with a warning, of an
owner whose number a new object is added under; C{connectionLost} for an
owner whose pending mask change the kernel refuses (its file is gone); after
any stale entry, a check of every registration before the next wait
(C{_preen}); a hang-up for a reader dispatched as C{doRead} (Twisted issue
7932); an object polled continuously stays so.  Under it, L{KernelModel} is
the interest list the kernel should hold, keyed by number (the machine never
keeps a second reference to a file, so closing a number drops its
registration, epoll(7) Q6).

Invariants, after every step:

 - C{getReaders()}/C{getWriters()} are the model's.
 - The kernel's registrations, read from C{/proc/self/fdinfo/<epoll fd>}
   (one C{tfd:} line per registration, with mask and inode), are exactly the
   model's, number, file and mask; right after an iteration every mask the
   kernel holds is the one the owner wants (the reactor defers C{MOD}, so
   only then), but for a writer that just got its optimistic C{doWrite},
   which gets C{EPOLLOUT} before the next wait.
 - An iteration calls exactly the expected C{doRead}/C{doWrite}/
   C{connectionLost}; independently of the model, nothing reaches a channel
   that was not registered for it, nothing but the optimistic C{doWrite}
   reaches a channel whose descriptor is closed (a regular file's channel
   excepted: the continuous poller cannot know), and no channel gets a
   method twice in one iteration (C{doWrite}: an optimistic one and one for
   EPOLLOUT).
 - C{remove*} never raises; each eviction logs one warning; nothing logs a
   failure.

The differential machine runs the same rules, without closing or C{dup2}ing
behind the reactor's back, on our reactor and Twisted's side by side, one
L{Channel} per reactor on each shared descriptor.  Both must raise the same
exception types, report the same readers and writers, and dispatch the same
calls in each iteration but for two documented differences: the set of calls
stock Twisted makes is a subset of ours, and what only we call is either

 - a C{doWrite} of a channel that started writing while it was registered
   for reading (stock Twisted asks for C{EPOLLOUT} at once and calls
   C{doWrite} only when the socket is writable; we call it once after the
   next wait's events, whatever the socket says), or
 - a C{doRead} of a reader whose hang-up came without C{EPOLLIN} (a pipe
   whose writer closed: stock Twisted calls C{connectionLost} at once; we
   read, the read sees end-of-file, and then C{connectionLost}).
"""

import array
import errno
import fcntl
import os
import select
import shutil
import socket
import tempfile
import termios
from collections import Counter
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from twisted.internet import abstract
from twisted.internet.main import CONNECTION_DONE
from twisted.logger import globalLogPublisher

from epollreactor import EPollReactor
from epollreactor._libc import EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT
from tests.contract import outcome
from tests.kernel import interestList

_DISCONNECTED = EPOLLERR | EPOLLHUP
_KINDS = ("socketpair", "pipe", "regular")
#: How many descriptors the machine keeps open at most.
_MAX_OPEN = 12

#: A call a reactor made: the channel's name and the method.
Call = Tuple[str, str]


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


class Channel(abstract.FileDescriptor):
    """
    A C{FileDescriptor} that records what the reactor calls on it and does
    nothing else (so readiness changes only when the machine says).

    @ivar name: its name in the model and in messages.
    @ivar number: the descriptor number C{fileno()} returns; -1 once closed
        through L{ReactorMachine.loseConnection}.
    @ivar calls: the list, shared by every channel of one reactor, that
        calls are recorded in.
    """

    def __init__(self, reactor: Any, name: str, number: int, calls: List[Call]):
        abstract.FileDescriptor.__init__(self, reactor)
        self.name = name
        self.number = number
        self.calls = calls

    def __repr__(self) -> str:
        return "<Channel {} on {}>".format(self.name, self.number)

    def fileno(self) -> int:
        """
        @return: the number this channel was opened on, or -1 once closed.
        """
        return self.number

    def doRead(self) -> Optional[BaseException]:
        """
        Record the call, and report end-of-file as a transport's read would
        (without reading anything: data stays buffered).

        @return: C{ConnectionDone} when the descriptor is at end-of-file.
        """
        self.calls.append((self.name, "doRead"))
        if atEndOfFile(self.number):
            return CONNECTION_DONE
        return None

    def doWrite(self) -> None:
        """
        Record the call.
        """
        self.calls.append((self.name, "doWrite"))

    def connectionLost(self, reason: Any) -> None:
        """
        Record the call, and stop reading and writing, as
        L{abstract.FileDescriptor.connectionLost} does (the reactor removes
        only the reader before C{readConnectionLost}).
        """
        self.calls.append((self.name, "connectionLost"))
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
        self.kernels: List[KernelModel] = []

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
        for kernel in self.kernels:
            kernel.entries.pop(number, None)

    def dup2(self, source: OpenFile, number: int) -> None:
        """
        Move C{source} onto C{number}, which closes the file living there,
        and close C{source}'s old number.
        """
        old = source.number
        assert old is not None
        os.dup2(old, number)
        previous = self.files.pop(number)
        previous.number = None
        for kernel in self.kernels:
            kernel.entries.pop(number, None)
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

    def endOfFile(self) -> Dict[int, bool]:
        """
        @return: maps each live number to L{atEndOfFile}.
        """
        return {number: atEndOfFile(number) for number in self.files}

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


class KernelModel:
    """
    The interest list one epoll instance should hold, and what
    C{epoll_ctl(2)} answers.

    @ivar entries: maps each registered number to its mask.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.entries: Dict[int, int] = {}
        world.kernels.append(self)

    def control(self, operation: str, number: int, mask: int = 0) -> int:
        """
        What C{epoll_ctl(2)} does: EBADF for a closed number, EPERM for a
        regular file (checked before the operation's own errors), EEXIST
        for C{ADD} of a registered number, ENOENT for C{MOD}/C{DEL} of one
        that is not.

        @param operation: C{"ADD"}, C{"MOD"} or C{"DEL"}.
        @return: 0 or the errno.
        """
        openFile = self.world.files.get(number)
        if openFile is None:
            return errno.EBADF
        if openFile.kind == "regular":
            return errno.EPERM
        if operation == "ADD":
            if number in self.entries:
                return errno.EEXIST
            self.entries[number] = mask
            return 0
        if number not in self.entries:
            return errno.ENOENT
        if operation == "MOD":
            self.entries[number] = mask
        else:
            del self.entries[number]
        return 0

    def view(self) -> Dict[int, Tuple[int, int]]:
        """
        @return: the entries as L{kernelRegistrations} shows them.
        """
        return {
            number: (mask, self.world.files[number].inode)
            for number, mask in self.entries.items()
        }


class ReactorModel:
    """
    What our L{EPollReactor} should do, following its module docstring.

    @ivar owner: number -> the channel registered under it.
    @ivar reads: numbers whose owners want C{doRead}.
    @ivar writes: numbers whose owners want C{doWrite}.
    @ivar applied: number -> the mask the reactor last gave the kernel.
    @ivar attempts: C{(number, channel)} pairs owed an optimistic C{doWrite}.
    @ivar polledReaders: regular-file channels polled for reading.
    @ivar polledWriters: regular-file channels polled for writing.
    @ivar evictions: how many eviction warnings the reactor should have
        logged.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.kernel = KernelModel(world)
        self.owner: Dict[int, Channel] = {}
        self.reads: Set[int] = set()
        self.writes: Set[int] = set()
        self.applied: Dict[int, int] = {}
        self.attempts: List[Tuple[int, Channel]] = []
        self.polledReaders: Set[Channel] = set()
        self.polledWriters: Set[Channel] = set()
        self.evictions = 0
        self.preenWanted = False
        self.eof: Dict[int, bool] = {}
        #: What happened, for Hypothesis's statistics.
        self.happenings: Set[str] = set()

    def readers(self) -> Set[str]:
        """
        @return: the names of the channels C{getReaders()} should list.
        """
        return {self.owner[number].name for number in self.reads} | {
            channel.name for channel in self.polledReaders
        }

    def writers(self) -> Set[str]:
        """
        @return: the names of the channels C{getWriters()} should list.
        """
        return {self.owner[number].name for number in self.writes} | {
            channel.name for channel in self.polledWriters
        }

    def wanted(self, number: int) -> int:
        """
        @return: the mask the owner of C{number} wants.
        """
        return (EPOLLIN if number in self.reads else 0) | (
            EPOLLOUT if number in self.writes else 0
        )

    def _forget(self, number: int) -> None:
        self.reads.discard(number)
        self.writes.discard(number)
        self.owner.pop(number, None)

    def add(self, channel: Channel, event: int) -> Optional[type]:
        """
        C{addReader} (C{event} is EPOLLIN) or C{addWriter} (EPOLLOUT).

        @return: the exception type it should raise, or C{None}.
        """
        primary = self.reads if event == EPOLLIN else self.writes
        number = channel.number
        if self.owner.get(number) is channel:
            if number not in primary:
                primary.add(number)
                if event == EPOLLOUT and not self.applied[number] & EPOLLOUT:
                    self.attempts.append((number, channel))
            return None
        if number < 0:
            return ValueError
        if channel in self.polledReaders or channel in self.polledWriters:
            # Polled continuously already: it stays so.
            if event == EPOLLIN:
                self.polledReaders.add(channel)
            else:
                self.polledWriters.add(channel)
            return None
        previous = self.owner.get(number)
        if previous is not None:
            # The previous owner was closed behind our back: others may have
            # been too, so every registration is checked before the next wait.
            self.evictions += 1
            self.happenings.add("eviction")
            self._forget(number)
            self.preenWanted = True
        if number in self.applied:
            failure = self.kernel.control("MOD", number, event)
            if failure == errno.ENOENT:
                failure = self.kernel.control("ADD", number, event)
        else:
            failure = self.kernel.control("ADD", number, event)
            if failure == errno.EEXIST:
                failure = self.kernel.control("MOD", number, event)
        if failure:
            self.applied.pop(number, None)
            if failure == errno.EPERM:
                if event == EPOLLIN:
                    self.polledReaders.add(channel)
                else:
                    self.polledWriters.add(channel)
                return None
            return type(OSError(failure, os.strerror(failure)))
        self.applied[number] = event
        self.owner[number] = channel
        primary.add(number)
        return None

    def remove(self, channel: Channel, event: int) -> None:
        """
        C{removeReader} (C{event} is EPOLLIN) or C{removeWriter} (EPOLLOUT).
        """
        polled = self.polledReaders if event == EPOLLIN else self.polledWriters
        if channel in polled:
            polled.discard(channel)
            return
        primary, other = (
            (self.reads, self.writes) if event == EPOLLIN else (self.writes, self.reads)
        )
        number = channel.number
        if self.owner.get(number) is not channel:
            for number, owner in self.owner.items():  # noqa: B007
                if owner is channel:
                    break
            else:
                return
        if number not in primary:
            return
        primary.discard(number)
        if number not in other:
            self._unregister(number)

    def _unregister(self, number: int) -> None:
        if number in self.applied:
            failure = self.kernel.control("DEL", number)
            if failure:
                # Closed (EBADF), renamed (ENOENT) or replaced by a regular
                # file (EPERM) behind our back.
                assert failure in (errno.EBADF, errno.ENOENT, errno.EPERM), failure
                self.preenWanted = True
                self.happenings.add("stale DEL: " + errno.errorcode[failure])
            del self.applied[number]
        self._forget(number)

    def removeAll(self) -> Set[str]:
        """
        C{removeAll()}.

        @return: the names of the channels it should return.
        """
        removed = self.readers() | self.writers()
        for number in list(self.reads | self.writes):
            self._unregister(number)
        self.polledReaders.clear()
        self.polledWriters.clear()
        return removed

    def _lose(self, channel: Channel, calls: List[Call]) -> None:
        """
        C{_disconnectSelectable}: remove C{channel} for reading and writing,
        and call its C{connectionLost}.
        """
        calls.append((channel.name, "connectionLost"))
        self.remove(channel, EPOLLIN)
        self.remove(channel, EPOLLOUT)

    def _lost(self, number: int, calls: List[Call]) -> None:
        """
        C{_lostDescriptor}: forget the registration under C{number} and
        disconnect its owner.
        """
        channel = self.owner[number]
        del self.applied[number]
        self._forget(number)
        self._lose(channel, calls)

    def _preen(self, calls: List[Call]) -> None:
        """
        After a stale entry was found: every owner must still report its
        number, and C{MOD} with the mask it has must succeed.
        """
        self.preenWanted = False
        for number in list(self.applied):
            channel = self.owner.get(number)
            if channel is None:
                continue
            if channel.number != number:
                failure = errno.EBADF
            else:
                failure = self.kernel.control("MOD", number, self.applied[number])
                if failure == errno.ENOENT:
                    # dup2'd over under its owner: watched again (one policy
                    # with the deferred MOD below).
                    self.happenings.add("revalidated: ENOENT, then ADD")
                    failure = self.kernel.control("ADD", number, self.applied[number])
            if failure:
                self.happenings.add("lost when revalidated")
                self._lost(number, calls)

    def iterate(
        self, ready: Dict[int, int], eof: Dict[int, bool]
    ) -> Tuple[List[Call], Set[str], Set[str]]:
        """
        C{runUntilCurrent()} then C{doIteration(0)}, with the continuous
        poller due.

        @param ready: what C{poll(2)} says each live number is ready for.
        @param eof: whether each live number is at end-of-file.
        @return: the calls the reactor should make, the names of the
            channels that get an optimistic C{doWrite}, and those of the
            readers whose hang-up came without EPOLLIN.
        """
        self.eof = eof
        calls: List[Call] = []
        # The continuous poller's LoopingCall: readers, then writers.
        for channel in list(self.polledReaders):
            if channel in self.polledReaders:
                self._dispatchPolled(channel, EPOLLIN, calls)
        for channel in list(self.polledWriters):
            if channel in self.polledWriters:
                self._dispatchPolled(channel, EPOLLOUT, calls)
        if self.preenWanted:
            self._preen(calls)
        # Writes asked for since the last iteration go out after the wait,
        # without EPOLLOUT.
        attempts, self.attempts = self.attempts, []
        due = {number for number, _ in attempts}
        # Deferred mask changes.
        for number in sorted(self.applied):
            if number not in self.applied:
                continue
            want = self.wanted(number)
            if number in due and number in self.reads:
                want &= ~EPOLLOUT
            if want == self.applied[number] or not want:
                continue
            failure = self.kernel.control("MOD", number, want)
            if failure == errno.ENOENT and self.owner[number].number == number:
                self.happenings.add("deferred MOD: ENOENT, then ADD")
                failure = self.kernel.control("ADD", number, want)
            if failure:
                self.happenings.add("deferred MOD refused: " + errno.errorcode[failure])
                self._lost(number, calls)
                self.preenWanted = True
            else:
                self.applied[number] = want
        # epoll_wait(2): every registration whose file is ready for something
        # it asked for, or has an error or hang-up.
        batch = []
        for number, mask in self.kernel.entries.items():
            event = ready[number] & (mask | _DISCONNECTED)
            if event:
                batch.append((number, event))
        hangups = set()
        for number, event in batch:
            channel = self.owner.get(number)
            assert channel is not None, "kernel registration without owner"
            if number not in self.reads:
                event &= ~EPOLLIN
            elif event & EPOLLHUP:
                # Twisted issue 7932: a hang-up is read until end-of-file.
                if not event & EPOLLIN:
                    hangups.add(channel.name)
                    self.happenings.add("hang-up without EPOLLIN read")
                event |= EPOLLIN
            if number not in self.writes:
                event &= ~EPOLLOUT
            if event:
                self._dispatch(channel, number, event, calls)
        optimistic = set()
        for number, channel in attempts:
            if (
                number in self.writes
                and channel.name not in optimistic
                and self.owner.get(number) is channel
                and not self.applied[number] & EPOLLOUT
            ):
                optimistic.add(channel.name)
                self.happenings.add("optimistic doWrite")
                self._dispatch(channel, number, EPOLLOUT, calls)
        return calls, optimistic, hangups

    def _dispatch(
        self, channel: Channel, number: int, event: int, calls: List[Call]
    ) -> None:
        """
        C{_PollLikeMixin._doReadOrWrite} for a channel whose methods return
        nothing.
        """
        if event & _DISCONNECTED and not event & EPOLLIN:
            self._lose(channel, calls)
        elif channel.number == -1:
            self._lose(channel, calls)
        else:
            atEnd = False
            if event & EPOLLIN:
                calls.append((channel.name, "doRead"))
                atEnd = self.eof.get(channel.number, False)
            if not atEnd and event & EPOLLOUT:
                calls.append((channel.name, "doWrite"))
            if atEnd:
                self.happenings.add("end-of-file")
                self._lose(channel, calls)

    def _dispatchPolled(self, channel: Channel, event: int, calls: List[Call]) -> None:
        """
        C{_ContinuousPolling.iterate} for one channel.
        """
        if channel.number == -1:
            self._lose(channel, calls)
        elif event == EPOLLIN:
            self.happenings.add("continuous polling")
            calls.append((channel.name, "doRead"))
            if self.eof.get(channel.number, False):
                self._lose(channel, calls)
        else:
            calls.append((channel.name, "doWrite"))


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

    def iterate(self) -> List[Call]:
        """
        One turn of C{mainLoop} with a zero timeout.

        @return: the calls made.
        """
        del self.calls[:]
        self.clock.now += 1
        self.reactor.runUntilCurrent()
        self.reactor.doIteration(0)
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
        event(text)


class ReactorRules(RuleBasedStateMachine):
    """
    The rules and invariants both machines share: our reactor against
    L{ReactorModel} and the kernel's view, and Twisted's stock reactor
    alongside when C{differential} is set.
    """

    #: Whether to run Twisted's stock reactor alongside ours.
    differential = False

    def __init__(self) -> None:
        super().__init__()
        # The continuous poller's LoopingCall imports twisted.internet.reactor,
        # which installs the default reactor the first time: its epoll and
        # waker descriptors would take numbers the model thinks closed, in
        # the middle of an example.  Have that happen now, before the world
        # opens anything.
        from twisted.internet import reactor  # noqa: F401

        self.directory = tempfile.mkdtemp(prefix="statemachine-")
        self.world = World(self.directory)
        self.model = ReactorModel(self.world)
        self.ours = ReactorUnderTest(EPollReactor())
        self.reactors = [self.ours]
        self.stockKernel: Optional[KernelModel] = None
        if self.differential:
            from twisted.internet.epollreactor import EPollReactor as StockReactor

            self.stock: Optional[ReactorUnderTest] = ReactorUnderTest(StockReactor())
            self.reactors.append(self.stock)
        else:
            self.stock = None
        self.channels: List[str] = []
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

    def _newChannel(self, number: int) -> None:
        name = "c{}".format(len(self.channels))
        self.channels.append(name)
        for reactor in self.reactors:
            reactor.channels[name] = Channel(
                reactor.reactor, name, number, reactor.calls
            )
        _note("{} on {} ({})".format(name, number, self.world.files[number]))

    def _channel(self, index: int) -> str:
        return self.channels[index % len(self.channels)]

    def _setNumber(self, name: str, number: int) -> None:
        for reactor in self.reactors:
            reactor.channels[name].number = number

    # Rules: descriptors.

    @initialize(kind=st.sampled_from(_KINDS))
    def openFirst(self, kind: str) -> None:
        """
        Start with one socket pair, pipe or regular file, so that every rule
        has something to work on.
        """
        self._open(kind)

    def _open(self, kind: str) -> None:
        for openFile in self.world.open(kind):
            assert openFile.number is not None
            self._newChannel(openFile.number)

    @precondition(lambda self: len(self.world.files) < _MAX_OPEN)
    @rule(kind=st.sampled_from(_KINDS))
    def open(self, kind: str) -> None:
        """
        Open a socket pair, a pipe or the regular file, with a channel for
        each descriptor.
        """
        self._open(kind)

    def _fileOf(self, index: int) -> Optional[OpenFile]:
        """
        @return: the file that the number of the channel picked by C{index}
            names now, if any.
        """
        return self.world.files.get(self.ours.channels[self._channel(index)].number)

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

    @precondition(lambda self: self.channels)
    @rule(index=st.integers(0, 255), size=st.sampled_from([1, 4096]))
    def makeReadable(self, index: int, size: int) -> None:
        """
        The peer of a channel's descriptor writes to it.
        """
        openFile = self._fileOf(index)
        if openFile is not None:
            self._fill(openFile.peer, size)

    @precondition(lambda self: self.channels)
    @rule(index=st.integers(0, 255))
    def drain(self, index: int) -> None:
        """
        Read everything a channel's descriptor has buffered, making it
        unreadable (but for end-of-file) and its peer writable again.
        """
        self._drain(self._fileOf(index))

    @precondition(lambda self: self.channels)
    @rule(index=st.integers(0, 255))
    def makeUnwritable(self, index: int) -> None:
        """
        Fill a channel's send buffer (its peer becomes readable).
        """
        self._fill(self._fileOf(index), 0)

    @precondition(lambda self: self.channels)
    @rule(index=st.integers(0, 255))
    def makeWritable(self, index: int) -> None:
        """
        The peer of a channel's descriptor reads everything, so the channel
        can write again.
        """
        openFile = self._fileOf(index)
        if openFile is not None:
            self._drain(openFile.peer)

    @precondition(lambda self: self.channels)
    @rule(index=st.integers(0, 255))
    def hangUp(self, index: int) -> None:
        """
        The peer of a channel's descriptor closes, as a transport does:
        every channel on the peer's number is removed and gets -1 from
        C{fileno()}; the channel sees a hang-up (or, for a pipe's write end,
        an error).
        """
        openFile = self._fileOf(index)
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

    def _add(self, index: int, event: int) -> None:
        name = self._channel(index)
        method = "addReader" if event == EPOLLIN else "addWriter"
        expected = self.model.add(self.ours.channels[name], event)
        for reactor in self.reactors:
            result = outcome(getattr(reactor.reactor, method), reactor.channels[name])
            raised = None if result[0] == "ok" else result[0]
            assert raised is expected, (reactor.reactor, method, name, raised)

    @precondition(lambda self: self.channels)
    @rule(index=st.integers(0, 255))
    def addReader(self, index: int) -> None:
        """
        C{addReader} raises what the model says, and nothing else.
        """
        self._add(index, EPOLLIN)

    @precondition(lambda self: self.channels)
    @rule(index=st.integers(0, 255))
    def addWriter(self, index: int) -> None:
        """
        C{addWriter} raises what the model says, and nothing else.
        """
        self._add(index, EPOLLOUT)

    def _remove(self, name: str, event: int) -> None:
        method = "removeReader" if event == EPOLLIN else "removeWriter"
        self.model.remove(self.ours.channels[name], event)
        for reactor in self.reactors:
            # remove* never raises.
            getattr(reactor.reactor, method)(reactor.channels[name])

    @precondition(lambda self: self.channels)
    @rule(index=st.integers(0, 255))
    def removeReader(self, index: int) -> None:
        """
        C{removeReader} never raises.
        """
        self._remove(self._channel(index), EPOLLIN)

    @precondition(lambda self: self.channels)
    @rule(index=st.integers(0, 255))
    def removeWriter(self, index: int) -> None:
        """
        C{removeWriter} never raises.
        """
        self._remove(self._channel(index), EPOLLOUT)

    @rule()
    def removeAll(self) -> None:
        """
        C{removeAll} returns every channel that was registered.
        """
        expected = self.model.removeAll()
        for reactor in self.reactors:
            removed = reactor.reactor.removeAll()
            assert sorted(r.name for r in removed) == sorted(expected)

    @precondition(lambda self: self.channels)
    @rule(index=st.integers(0, 255))
    def loseConnection(self, index: int) -> None:
        """
        Close a channel as a transport does: remove it, close its
        descriptor, and make C{fileno()} return -1.
        """
        name = self._channel(index)
        self._remove(name, EPOLLIN)
        self._remove(name, EPOLLOUT)
        number = self.ours.channels[name].number
        if number in self.world.files:
            self.world.close(number)
        self._setNumber(name, -1)

    @rule()
    def iterate(self) -> None:
        """
        One iteration calls exactly what the model expects.
        """
        ready = self.world.readiness()
        polled = {
            channel.name
            for channel in self.model.polledReaders | self.model.polledWriters
        }
        before = {
            name: (
                name in self.model.readers(),
                name in self.model.writers(),
                self.ours.channels[name].number in ready or name in polled,
            )
            for name in self.channels
        }
        expected, optimistic, hangups = self.model.iterate(
            ready, self.world.endOfFile()
        )
        _note("ready {} expect {}".format(ready, sorted(expected)))
        _event("iteration calls: {}".format(min(len(expected), 4)))
        got = self.ours.iterate()
        assert sorted(got) == sorted(expected), (sorted(got), sorted(expected))
        # Independently of the model: what a channel may receive at all.
        counts = Counter(got)
        for (name, method), count in counts.items():
            reading, writing, live = before[name]
            assert reading or writing, (name, method, "was not registered")
            if method == "doRead":
                assert reading and live, (name, method)
            elif method == "doWrite":
                assert writing, (name, method)
                assert live or name in optimistic, (name, method, "closed")
            assert count <= (2 if method == "doWrite" else 1), (name, method, count)
        if self.stock is not None:
            stockGot = set(self.stock.iterate())
            extra = set(got) - stockGot
            assert stockGot <= set(got), (sorted(stockGot - set(got)), "stock only")
            assert all(
                (method == "doWrite" and name in optimistic)
                or (method == "doRead" and name in hangups)
                for name, method in extra
            ), (sorted(extra), sorted(optimistic), sorted(hangups))
        # The reactor defers mask changes to the next epoll_wait(2), so only
        # now must every mask the kernel holds be the one its owner wants;
        # but a writer that got its optimistic doWrite after this wait gets
        # EPOLLOUT only before the next one.
        for number, (mask, _) in self.ours.registrations().items():
            want = self.model.wanted(number)
            owner = self.model.owner.get(number)
            if owner is not None and owner.name in optimistic:
                want &= ~EPOLLOUT
            assert mask == want, (number, mask)

    # Invariants.

    @invariant()
    def readersAndWriters(self) -> None:
        """
        C{getReaders()} and C{getWriters()} are the model's.
        """
        for reactor in self.reactors:
            readers = reactor.readers()
            writers = reactor.writers()
            assert len(readers) == len(set(readers)), readers
            assert len(writers) == len(set(writers)), writers
            assert set(readers) == self.model.readers(), (readers, self.model.readers())
            assert set(writers) == self.model.writers(), (writers, self.model.writers())

    @invariant()
    def kernelView(self) -> None:
        """
        The kernel holds exactly the registrations of the model: numbers,
        files and masks.
        """
        view = self.ours.registrations()
        assert view == self.model.kernel.view(), (view, self.model.kernel.view())
        if self.stock is not None:
            # Stock Twisted changes the kernel at once, so its view is the
            # interest, always.
            stockView = self.stock.registrations()
            wanted = {
                number: self.model.wanted(number)
                for number in self.model.reads | self.model.writes
            }
            assert {n: m for n, (m, _) in stockView.items()} == wanted, (
                stockView,
                wanted,
            )

    @invariant()
    def statistics(self) -> None:
        """
        Tell Hypothesis's statistics what the model saw happen.
        """
        for happening in sorted(self.model.happenings):
            _event(happening)
        self.model.happenings.clear()

    @invariant()
    def logged(self) -> None:
        """
        One warning per eviction, and no failures.
        """
        assert not self.failures, self.failures
        assert len(self.warnings) == self.model.evictions, (
            len(self.warnings),
            self.model.evictions,
        )


class ReactorMachine(ReactorRules):
    """
    L{ReactorRules} on our reactor alone, with two more rules: closing a
    descriptor, and C{dup2}ing a new one onto its number, behind the
    reactor's back.
    """

    @rule(index=st.integers(0, 255))
    def closeBehindBack(self, index: int) -> None:
        """
        Close a channel's descriptor without telling the reactor or the
        channel.
        """
        openFile = self._fileOf(index)
        if openFile is not None:
            assert openFile.number is not None
            _note("close {}".format(openFile))
            self.world.close(openFile.number)

    @precondition(lambda self: len(self.world.files) < _MAX_OPEN)
    @rule(index=st.integers(0, 255), kind=st.sampled_from(_KINDS))
    def dup2Onto(self, index: int, kind: str) -> None:
        """
        Open a new descriptor and C{dup2} it onto a number in use, without
        telling the reactor; the moved file gets a new channel, which shares
        the number with the channels already on it.
        """
        target = self._fileOf(index)
        if target is None:
            return
        number = target.number
        assert number is not None
        opened = self.world.open(kind)
        _note("dup2 {} onto {}".format(opened[0], target))
        self.world.dup2(opened[0], number)
        for openFile in opened:
            assert openFile.number is not None
            self._newChannel(openFile.number)


class DifferentialMachine(ReactorRules):
    """
    L{ReactorRules} on our reactor and Twisted's stock one side by side,
    without closing behind the reactor's back.
    """

    differential = True


class TestReactorMachine(ReactorMachine.TestCase):  # type: ignore[name-defined]
    """
    Any sequence of registrations, readiness changes, closes behind the
    reactor's back, C{dup2}s and iterations keeps L{EPollReactor} in
    agreement with the model and with the kernel.
    """


@pytest.mark.requiresSelectEpoll
class TestDifferentialMachine(DifferentialMachine.TestCase):  # type: ignore[name-defined]
    """
    Without closing behind the reactor's back, our reactor and Twisted's
    stock C{EPollReactor} report the same readers and writers, raise the
    same exceptions and dispatch the same calls, but for our optimistic
    writes and our reads on hang-up.
    """
