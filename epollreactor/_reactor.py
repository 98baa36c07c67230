"""
L{EPollReactor}: Twisted's epoll reactor on the ctypes binding, with
registration bookkeeping that survives closed and reused descriptors.

Facts about epoll
=================

 1. The interest list is keyed by descriptor number I{and} open file
    description (epoll(7), "Questions and answers", Q1 and Q6).  Closing a
    descriptor removes its registration only when no other descriptor (a
    C{dup}, or a copy in a child process) refers to the same open file.  Until
    then the registration stays, reports events under the old number, and
    C{EPOLL_CTL_DEL} on that number fails (ENOENT or EBADF), because the
    number now names another file or nothing at all (celery 4185, libuv 1468).
 2. When the last reference is closed the kernel drops the registration on
    its own, so C{EPOLL_CTL_MOD}/C{EPOLL_CTL_DEL} on the number then fail with
    ENOENT (if it was reused) or EBADF (if not), and C{EPOLL_CTL_ADD} of the
    reused number succeeds (Twisted issues 6373, 6346, 11625).
 3. One C{epoll_wait(2)} returns a batch.  While we dispatch it, application
    code may close a descriptor and open another under the same number; the
    rest of the batch still carries events for the old file.  C{epoll_data} is
    64 bits that the kernel hands back untouched (epoll_ctl(2)), so it can say
    which registration an event belongs to; C{select.epoll} stores only the
    number there.
 4. The kernel reports EPOLLERR and EPOLLHUP whether or not they were asked
    for (epoll_ctl(2)), and EPOLLHUP can come with input still buffered: a
    pipe whose writer has gone reports EPOLLIN|EPOLLHUP until it is drained
    (Twisted issue 7932).
 5. Regular files and directories cannot be watched: C{EPOLL_CTL_ADD} fails
    with EPERM (epoll_ctl(2)); they are always ready.
 6. After C{fork()}, parent and child share one epoll instance (the epoll
    descriptor is copied, not the instance): what either adds or removes
    changes the other's interest list (epoll(7), Q6 and the fork notes).
 7. Level-triggered mode (the default, and Twisted's model) reports a ready
    descriptor on every C{epoll_wait(2)} until it is no longer ready.
 8. Every C{epoll_ctl(2)} is a system call.  Twisted's stock reactor makes two
    per echoed message: C{EPOLL_CTL_MOD} to add EPOLLOUT when a protocol
    writes, and another to take it away after the flush (Twisted issue 5303).

What this means for us
======================

 - Bookkeeping follows the kernel: C{_registered} holds the mask the kernel
   has for each number we registered, and tables change only after the call
   succeeded (fact 2).  Removal never raises because the descriptor is
   already closed (EBADF) or renamed (ENOENT); it cleans our tables instead.
 - Every registration carries a generation in the upper half of
   C{epoll_data}; an event whose generation is not the current owner's is
   dropped (fact 3).  Every event is masked by the interest its owner has
   now, so a reader never gets C{doWrite} and nothing removed earlier in the
   same iteration is dispatched.
 - Adding a new object under a number still held by another one means the
   old one was closed behind our back: we warn, drop it, and repair the
   kernel registration (ENOENT on MOD: ADD; EEXIST on ADD: MOD) (fact 2).
 - Adding and removing a descriptor are immediate (C{EPOLL_CTL_ADD}/C{DEL}),
   so errors such as EBADF and EPERM reach the caller and nothing is left in
   the kernel after the application closes a removed descriptor (fact 1).
   Changes to the mask of a descriptor that stays registered are queued and
   applied just before C{epoll_wait(2)}, so a write interest added and taken
   away within one iteration costs nothing (fact 8).
 - When a protocol writes to a connection that is registered for reading, we
   do not ask for EPOLLOUT at once: the connection gets one C{doWrite} after
   the events of the next C{epoll_wait(2)} were dispatched, and only what
   could not be written then waits for EPOLLOUT (fact 8; "Writing early"
   below says why after the next wait and not sooner).
 - Each event reaches its selectable in the log context that
   C{log.callWithLogger} would give it (C{"system"} is its C{logPrefix()}),
   but built by us from the thread's context stack, once per iteration
   rather than in ten calls per event (Twisted issue 2534;
   C{tests/test_dispatch.py}, bench/README.md).
 - Regular files go to C{_continuousPolling} (fact 5).
 - One stale entry found (EBADF, ENOENT or EPERM from C{EPOLL_CTL_DEL}, an
   eviction, a refused C{EPOLL_CTL_MOD}) means application code closes
   descriptors behind our back, so before the next wait every registration
   is checked, as selectreactor's C{_preenDescriptors} does; owners whose
   descriptor is gone lose their connection (facts 1, 2).
 - An event whose generation no one holds is dropped; if the same one comes
   in a later wait too, it is a ghost that C{EPOLL_CTL_DEL} cannot name, and
   the epoll instance is rebuilt from our tables (fact 1).
 - EPOLLHUP for a reader is handled as readable: C{doRead} sees the
   buffered input and then end-of-file (fact 4).
 - A reactor used in a forked child rebuilds its epoll instance from its
   tables on first use (fact 6).

Writing early
=============

TCP sends what one C{send()} hands it as full segments and, unless the
length is a multiple of the segment size, one short segment at the end.
Nagle's algorithm (RFC 896, in Linux's Minshall form: C{tcp_nagle_check})
holds a short segment back while an earlier short segment is not yet
acknowledged, and the receiver delays its ACK (up to 40 ms on Linux) while
it has nothing to send back, which is the case while it waits for the rest
of a message.  So two short segments of one message in flight at once make
the second wait for the delayed ACK: the tail-segment wait.  Each
C{send()} call can leave one short segment behind; what decides whether
they pile up within one message is how many calls a message is cut into
and when.

Twisted's reactor calls C{doWrite} only after an C{epoll_wait(2)} reported
EPOLLOUT, and in the same event calls C{doRead} first when input is there
too, so a reply goes out together with all the input that had arrived by
then.  Our first design called C{doWrite} at the end of the iteration that
read: a 200,000-byte echo was answered in four calls of 64 KiB, 64 KiB,
64 KiB and 3 KiB, each sent while the rest of the message was still
coming, each leaving a short segment (65,536 is one loopback segment of
65,483 bytes and 53 more), and the last one waited 40 ms for the delayed ACK
in most runs (bench/README.md, "bulk").  Setting C{TCP_NODELAY} hides that,
but an application did not ask for it and Twisted does not set it.

So the C{doWrite} we give without EPOLLOUT comes where Twisted's would, or
a little later in the same iteration: after the next C{epoll_wait(2)} (with
a zero timeout, so it costs no latency) and after all of that wait's events
were dispatched, the connection's own C{doRead} included.  A write is never
sent before the kernel was asked whether more input for the same reply is
there, and each C{send()} carries at least everything the protocol had
written by the time Twisted's reactor would have sent it.  So we make no
more C{send()} calls per message than Twisted's reactor, none earlier, and
(without its two C{epoll_ctl(2)} calls around each) cut a message into no
more short segments: the wait above cannot come from us where it does not
come from Twisted with the same application.  C{tests/test_earlywrite.py} pins it in system calls:
between the C{recv} that starts a reply and the C{send} of it there is
always an C{epoll_wait}, at every message size, while a 64-byte echo still
costs one C{send} and no C{epoll_ctl(2)}.
"""

import errno
import os
import sys
import weakref
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from zope.interface import implementer

from twisted.internet import abstract, error, posixbase
from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor, IWriteDescriptor
from twisted.internet.main import CONNECTION_DONE, CONNECTION_LOST
from twisted.logger import Logger
from twisted.python import context, log

from epollreactor._epoll import epoll
from epollreactor._libc import (
    EPOLL_CTL_ADD,
    EPOLL_CTL_DEL,
    EPOLL_CTL_MOD,
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
    EVENT,
    epoll_ctl,
    epoll_wait,
    repeatFailed,
)

__all__ = ["EPollReactor", "install"]

_log = Logger()

_INT_MAX = 2**31 - 1
_GENERATION_LIMIT = 2**32
_packEvent = EVENT.pack
_unpackEvents = EVENT.iter_unpack
_EVENT_SIZE = EVENT.size
# What EPOLL_CTL_DEL says when our registration under a number is gone: the
# number is closed (EBADF), names another file (ENOENT), or names a file
# epoll cannot watch at all, such as a regular file dup2'd onto it (EPERM;
# epoll_ctl(2) checks the target file before it looks the number up).
_STALE_ERRNOS = frozenset([errno.EBADF, errno.ENOENT, errno.EPERM])
_ILogContext = log.ILogContext
_NO_FILEDESC = posixbase._NO_FILEDESC
_DISCONNECTED = EPOLLHUP | EPOLLERR
_BUGGY_LOG_PREFIX = "(buggy logPrefix method)"
#: The write attempts of an iteration that has none; never written to.
_NOTHING_DUE: Dict[int, Any] = {}


def _logContextStack() -> Optional[List[Dict[Any, Any]]]:
    """
    @return: the list of context dictionaries that
        L{twisted.python.context}'s tracker keeps for this thread, which
        L{log.callWithLogger} pushes onto; C{None} when an application has
        installed a tracker of another kind, whose insides we do not know.
    """
    tracker = context.theContextTracker
    if tracker.__class__ is not context.ThreadedContextTracker:
        return None
    stack: List[Dict[Any, Any]] = tracker.currentContext().contexts
    return stack


#: Reactors alive in this process, so that a fork can mark them.
_liveReactors: "weakref.WeakSet[EPollReactor]" = weakref.WeakSet()


def _markForkedReactors() -> None:
    """
    Run in the child after C{fork()}: every live reactor must rebuild its
    epoll instance before using it (fact 6).  Only a flag is set here, so a
    fork that goes straight to C{exec} pays nothing.
    """
    for reactor in list(_liveReactors):
        reactor._forked = True
        reactor._repairPending = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_markForkedReactors)


@implementer(IReactorFDSet)
class EPollReactor(posixbase.PosixReactorBase, posixbase._PollLikeMixin):
    """
    A reactor that uses epoll(7) through ctypes; a drop-in for
    L{twisted.internet.epollreactor.EPollReactor}.

    @ivar _poller: the L{epollreactor.epoll} instance that watches
        descriptors.
    @ivar _numbers: maps C{id()} of each object in C{_selectables} to the
        number it was last registered under, so that an object whose
        C{fileno()} no longer names it (closed: -1) is found without a scan.
    @ivar _aliased: set once an object was registered under a second number
        while still holding the first; from then on an object that
        C{_numbers} does not find is looked for by a scan.
    @ivar _selectables: maps each registered descriptor number to the
        C{FileDescriptor} registered under it.
    @ivar _reads: the descriptor numbers whose owners want C{doRead}.
    @ivar _writes: the descriptor numbers whose owners want C{doWrite}.
    @ivar _continuousPolling: a L{posixbase._ContinuousPolling} for the
        descriptors epoll refuses (regular files).
    @ivar _registered: maps each descriptor number the kernel has a
        registration for to the event mask it has; it can differ from what
        C{_reads} and C{_writes} want until L{_applyChanges} runs.
    @ivar _generations: maps each registered descriptor number to its
        registration's generation, stored in the upper half of C{epoll_data}.
    @ivar _owners: maps each live generation to the object registered under
        it; events whose generation is not here are stale and dropped.
    @ivar _changed: descriptor numbers whose wanted mask may differ from the
        kernel's; applied just before C{epoll_wait(2)}.
    @ivar _writeAttempts: C{(fd, writer)} pairs that asked to write while the
        kernel was not watching them for EPOLLOUT; each gets one C{doWrite}
        at the end of the iteration before we ask for EPOLLOUT.
    @ivar _forked: set in a forked child until the epoll instance is rebuilt.
    @ivar _strays: generations that events came with while no live
        registration had them; one that comes again is a ghost.
    @ivar _preenWanted: set when a stale entry was found, until
        L{_preen} has checked every other one.
    @ivar _rebuildWanted: set when ghost events keep coming, until
        L{_rebuild} has replaced the epoll instance.
    @ivar _repairPending: set when any of C{_forked}, C{_preenWanted} or
        C{_rebuildWanted} is, so that L{doPoll} tests one flag.
    """

    # Attributes for _PollLikeMixin
    _POLL_DISCONNECTED = EPOLLHUP | EPOLLERR
    _POLL_IN = EPOLLIN
    _POLL_OUT = EPOLLOUT

    _forked = False
    _aliased = False
    #: Set once anything was handed to C{_continuousPolling}; until then no
    #: object can be there, and the checks for it are skipped (one or two
    #: calls per connection opened or closed, bench/README.md, churn).
    _pollsContinuously = False
    #: C{(stack, base, dispatch)}: the last L{_dispatcher} built, kept while
    #: the thread's context stack and log context are the same objects.
    _cachedDispatch: Optional[Tuple[Any, Any, Callable[[Any, int, int], None]]] = None
    _preenWanted = False
    _rebuildWanted = False
    _repairPending = False

    def __init__(self) -> None:
        """
        Create the epoll instance and the tables, then let
        L{posixbase.PosixReactorBase} install its waker.
        """
        # The 1024 is only a hint; the kernel ignores it since Linux 2.6.8.
        self._poller = epoll(1024)
        self._reads: Set[int] = set()
        self._writes: Set[int] = set()
        self._selectables: Dict[int, Any] = {}
        self._numbers: Dict[int, int] = {}
        self._continuousPolling = posixbase._ContinuousPolling(self)
        self._registered: Dict[int, int] = {}
        self._generations: Dict[int, int] = {}
        self._owners: Dict[int, Any] = {}
        self._nextGeneration = 1
        self._changed: Set[int] = set()
        self._writeAttempts: Dict[int, Any] = {}
        self._maxEvents = 256
        self._strays: Set[int] = set()
        _liveReactors.add(self)
        posixbase.PosixReactorBase.__init__(self)

    def __del__(self) -> None:
        """
        Close the waker's pipe and the epoll instance when the reactor is
        collected.  Twisted never closes the waker, so every stock reactor
        dropped leaves two descriptors open (C{tests/faults/leaks.py}).
        The waker's C{connectionLost} does nothing the second time, so a
        reactor whose owner closed the waker already is safe.
        """
        try:
            waker = self.__dict__.get("waker")
            if waker is not None:
                waker.connectionLost(None)
            # Our epoll object would close itself, but PyPy runs its
            # finalizer only at a later collection.
            self._poller.close()
        except Exception:
            # Interpreter shutdown may have taken os away already.
            pass

    # Registration.

    def _newGeneration(self) -> int:
        """
        @return: a generation no live registration uses.
        """
        owners = self._owners
        generation = self._nextGeneration
        while generation in owners:
            generation = generation + 1 if generation + 1 < _GENERATION_LIMIT else 1
        self._nextGeneration = (
            generation + 1 if generation + 1 < _GENERATION_LIMIT else 1
        )
        return generation

    def _control(self, operation: int, fd: int, mask: int, generation: int) -> int:
        """
        Run C{epoll_ctl(2)} on our instance.

        @return: 0 on success, else the errno.
        """
        if self._forked:
            self._rebuild()
        # _epfd, not fileno(): one frame less per connection opened or
        # closed (bench/README.md, churn); the reactor never uses a closed
        # poller (_rebuild replaces it before closing it).
        epfd = self._poller._epfd
        event = _packEvent(mask, fd, generation)
        if epoll_ctl(epfd, operation, fd, event):
            # The errno a signal handler cannot replace (repeatFailed).
            return repeatFailed(epoll_ctl, epfd, operation, fd, event)[1]
        return 0

    def _registerNew(self, xer: Any, fd: int, mask: int) -> None:
        """
        Give the kernel a new registration for C{fd} owned by C{xer}, and
        record it only once the kernel has it.

        @raise OSError: the kernel's error (EBADF for a closed descriptor,
            EPERM for a regular file).
        """
        generation = self._nextGeneration
        if generation in self._owners or generation + 1 >= _GENERATION_LIMIT:
            generation = self._newGeneration()
        else:
            # The common case, without a call: the next one is free.
            self._nextGeneration = generation + 1
        if fd in self._registered:
            # We already have a registration under this number (its owner was
            # evicted); give it the new generation.  ENOENT: the kernel
            # dropped it when the old file was closed, so add it (fact 2).
            failure = self._control(EPOLL_CTL_MOD, fd, mask, generation)
            if failure == errno.ENOENT:
                failure = self._control(EPOLL_CTL_ADD, fd, mask, generation)
        else:
            failure = self._control(EPOLL_CTL_ADD, fd, mask, generation)
            if failure == errno.EEXIST:
                # A registration we forgot (or one left from before a fork);
                # take it over.
                failure = self._control(EPOLL_CTL_MOD, fd, mask, generation)
        if failure:
            self._registered.pop(fd, None)
            raise OSError(failure, os.strerror(failure))
        self._registered[fd] = mask
        self._generations[fd] = generation
        self._owners[generation] = xer
        numbers = self._numbers
        previous = numbers.get(id(xer))
        if (
            previous is not None
            and previous != fd
            and self._selectables.get(previous) is xer
        ):
            self._aliased = True
        numbers[id(xer)] = fd
        self._selectables[fd] = xer

    def _forget(self, fd: int) -> None:
        """
        Drop C{fd} from every table (but not from the kernel).
        """
        self._reads.discard(fd)
        self._writes.discard(fd)
        owner = self._selectables.pop(fd, None)
        if owner is not None and self._numbers.get(id(owner)) == fd:
            del self._numbers[id(owner)]
        generation = self._generations.pop(fd, None)
        if generation is not None:
            self._owners.pop(generation, None)

    def _evict(self, fd: int, stale: Any, newcomer: Any) -> None:
        """
        C{newcomer} is being added under a number that C{stale} still holds
        in our tables: C{stale}'s descriptor was closed without being removed
        from the reactor, which is a bug somewhere, so say so, and forget it.
        Its kernel registration is replaced by the newcomer's.
        """
        _log.warn(
            "{newcomer!r} was added under descriptor {fd}, which {stale!r} "
            "still held: {stale!r} was closed without being removed from the "
            "reactor; it will get no more events",
            fd=fd,
            stale=stale,
            newcomer=newcomer,
        )
        self._forget(fd)
        self._suspectStale()

    def _add(
        self,
        xer: Any,
        primary: Set[int],
        other: Set[int],
        selectables: Dict[int, Any],
        event: int,
        antievent: int,
    ) -> None:
        """
        Add interest in C{event} for C{xer}.

        A new descriptor is registered with the kernel at once, so that its
        errors reach the caller; a change to one already registered is
        queued for L{_applyChanges}.

        @param primary: C{_reads} or C{_writes}: the set C{event} stands for.
        @param other: the other of the two.
        @param selectables: C{_selectables}.
        @param event: C{EPOLLIN} or C{EPOLLOUT}.
        @param antievent: the other of the two.
        @raise OSError: from the kernel, for a new descriptor.
        @raise TypeError: when C{xer} has no C{fileno} method, or
            C{xer.fileno()} is not an int.
        @raise ValueError: when it is negative or does not fit a C int.
        """
        try:
            fd = xer.fileno()
        except AttributeError:
            if hasattr(xer, "fileno"):
                raise
            raise TypeError(
                "{!r} has no fileno() method, so it cannot be watched".format(xer)
            ) from None
        owner = selectables.get(fd)
        if owner is xer:
            if fd not in primary:
                primary.add(fd)
                self._changed.add(fd)
                if (
                    event == EPOLLOUT
                    and not self._registered.get(fd, 0) & EPOLLOUT
                    and isinstance(xer, abstract.FileDescriptor)
                ):
                    self._writeAttempts[fd] = xer
            return
        if fd.__class__ is not int:
            if not isinstance(fd, int):
                raise TypeError(
                    "{!r}.fileno() returned {!r}, not an int".format(xer, fd)
                )
            fd = int(fd)
        if not 0 <= fd <= _INT_MAX:
            raise ValueError(
                "file descriptor cannot be a negative integer ({})".format(fd)
                if fd < 0
                else "file descriptor {} is out of range".format(fd)
            )
        polling = self._continuousPolling
        if self._pollsContinuously and (
            polling.isReading(xer) or polling.isWriting(xer)
        ):
            # Its descriptor was a regular file when it was first added (fact
            # 5) and has since been replaced by one epoll can watch (dup2
            # behind our back): keep it where it is, or it would be listed and
            # dispatched twice, and leave the number's owner alone (found by
            # tests/test_statemachine_reactor.py).
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))
        if owner is not None:
            self._evict(fd, owner, xer)
        self._registerNew(xer, fd, event)
        primary.add(fd)

    def _addInterest(
        self, xer: Any, primary: Set[int], other: Set[int], event: int, antievent: int
    ) -> None:
        """
        What L{addReader} and L{addWriter} share: a fast path for an object
        registered already, which asks for one more interest as a transport
        does on every write (bench_dispatch.py, "echo"), and L{_add} for
        everything else, with regular files (EPERM) polled continuously
        (fact 5).

        @param primary: C{_reads} or C{_writes}: the set C{event} stands for.
        @param other: the other of the two.
        @param event: C{EPOLLIN} or C{EPOLLOUT}.
        @param antievent: the other of the two.
        """
        try:
            fd = xer.fileno()
            registered = self._selectables.get(fd) is xer
        except Exception:
            registered = False
        if registered:
            if fd not in primary:
                primary.add(fd)
                self._changed.add(fd)
                if (
                    event == EPOLLOUT
                    and not self._registered.get(fd, 0) & EPOLLOUT
                    and isinstance(xer, abstract.FileDescriptor)
                ):
                    self._writeAttempts[fd] = xer
            return
        try:
            self._add(xer, primary, other, self._selectables, event, antievent)
        except OSError as e:
            if e.errno != errno.EPERM:
                raise
            # epoll(7) doesn't support regular files; poll them
            # continuously (fact 5).
            self._pollsContinuously = True
            if event == EPOLLIN:
                self._continuousPolling.addReader(xer)
            else:
                self._continuousPolling.addWriter(xer)

    def addReader(self, reader: IReadDescriptor) -> None:
        """
        Add a C{FileDescriptor} for notification of data available to read.

        @raise OSError: when the kernel refuses the descriptor (EBADF for a
            closed one); regular files (EPERM) are polled continuously
            instead.
        @raise TypeError: when it has no C{fileno()}, or that is not an int.
        @raise ValueError: when C{fileno()} is negative or out of range.
        """
        self._addInterest(reader, self._reads, self._writes, EPOLLIN, EPOLLOUT)

    def addWriter(self, writer: IWriteDescriptor) -> None:
        """
        Add a C{FileDescriptor} for notification of data available to write.

        @raise OSError: when the kernel refuses the descriptor (EBADF for a
            closed one); regular files (EPERM) are polled continuously
            instead.
        @raise TypeError: when it has no C{fileno()}, or that is not an int.
        @raise ValueError: when C{fileno()} is negative or out of range.
        """
        self._addInterest(writer, self._writes, self._reads, EPOLLOUT, EPOLLIN)

    def _remove(
        self,
        xer: Any,
        primary: Set[int],
        other: Set[int],
        selectables: Dict[int, Any],
        event: int,
        antievent: int,
    ) -> None:
        """
        Remove interest in C{event} for C{xer}, the inverse of L{_add}.

        Removing an object that is not the one registered under its number
        (because its descriptor was closed, or the number reused) touches
        nothing that belongs to the registered one.  A descriptor that keeps
        no interest at all is unregistered at once; one that keeps the other
        interest has its mask change queued for L{_applyChanges}.  Never
        raises because the descriptor is closed or its number reused.
        """
        fd = xer.fileno()
        if selectables.get(fd) is not xer:
            # fileno() is -1 (closed), or the number now names another
            # object: find xer by identity, if we know it at all.  Every
            # connection that closes comes here two or three times
            # (connectionLost removes it, then stopReading and stopWriting
            # try again), so a scan of every registration made closing 10,000
            # connections quadratic (bench/README.md, "reverse map").
            fd = self._numbers.get(id(xer), -1)
            if selectables.get(fd) is not xer:
                if not self._aliased:
                    return
                for fd, owner in selectables.items():  # noqa: B007 (used below)
                    if owner is xer:
                        break
                else:
                    return
        if fd not in primary:
            return
        primary.discard(fd)
        if fd in other:
            self._changed.add(fd)
            return
        self._unregister(fd)

    def _unregister(self, fd: int) -> None:
        """
        Remove C{fd}'s registration from the kernel and from our tables.  A
        descriptor already closed (EBADF) or renamed (ENOENT) has no
        registration we can remove; our tables are cleaned all the same.

        @raise OSError: for any other failure of C{epoll_ctl(2)}, with the
            tables unchanged.
        """
        if self._forked:
            self._rebuild()
        if fd in self._registered:
            epfd = self._poller._epfd
            if epoll_ctl(epfd, EPOLL_CTL_DEL, fd, None) and (
                failure := repeatFailed(epoll_ctl, epfd, EPOLL_CTL_DEL, fd, None)[1]
            ):
                if failure not in _STALE_ERRNOS:
                    raise OSError(failure, os.strerror(failure))
                # Closed or renamed behind our back: others may be too.
                self._suspectStale()
            del self._registered[fd]
        self._forget(fd)

    def _removeInterest(
        self, xer: Any, primary: Set[int], other: Set[int], event: int, antievent: int
    ) -> None:
        """
        What L{removeReader} and L{removeWriter} share: a fast path for the
        object registered under its number giving up one interest, as a
        transport does after every flush (bench_dispatch.py, "echo"); then,
        for an object registered under a number its C{fileno()} no longer
        names, L{_remove}; then continuous polling.  An object epoll watches
        is never polled continuously as well (see L{_add}), so that check can
        wait.  Never raises because the descriptor was closed already.
        """
        try:
            fd = xer.fileno()
            registered = self._selectables.get(fd) is xer
        except Exception:
            registered = False
        if registered:
            if fd in primary:
                primary.discard(fd)
                if fd in other:
                    self._changed.add(fd)
                else:
                    self._unregister(fd)
            return
        if id(xer) in self._numbers:
            # Registered, under a number its fileno() no longer names.
            self._remove(xer, primary, other, self._selectables, event, antievent)
            return
        if self._pollsContinuously:
            polling = self._continuousPolling
            if event == EPOLLIN:
                if polling.isReading(xer):
                    polling.removeReader(xer)
                    return
            elif polling.isWriting(xer):
                polling.removeWriter(xer)
                return
        if self._aliased:
            self._remove(xer, primary, other, self._selectables, event, antievent)
        # Otherwise it is in no table: a closing connection's second and
        # third removal (connectionLost's stopReading and stopWriting) end
        # here at the cost of one lookup (bench_dispatch.py, "close").

    def removeReader(self, reader: IReadDescriptor) -> None:
        """
        Remove a C{FileDescriptor} from notification of data available to
        read.  Never raises because its descriptor was closed already.
        """
        self._removeInterest(reader, self._reads, self._writes, EPOLLIN, EPOLLOUT)

    def removeWriter(self, writer: IWriteDescriptor) -> None:
        """
        Remove a C{FileDescriptor} from notification of data available to
        write.  Never raises because its descriptor was closed already.
        """
        self._removeInterest(writer, self._writes, self._reads, EPOLLOUT, EPOLLIN)

    def removeAll(self) -> List[Any]:
        """
        Remove all selectables but the waker, and return a list of them.
        """
        removed: List[Any] = self._removeAll(  # type: ignore[no-untyped-call]
            [self._selectables[fd] for fd in self._reads],
            [self._selectables[fd] for fd in self._writes],
        )
        continuous: List[Any] = self._continuousPolling.removeAll()
        return removed + continuous

    def getReaders(self) -> List[IReadDescriptor]:
        """
        @return: every object registered for reading.
        """
        continuous: List[IReadDescriptor] = self._continuousPolling.getReaders()
        return [self._selectables[fd] for fd in self._reads] + continuous

    def getWriters(self) -> List[IWriteDescriptor]:
        """
        @return: every object registered for writing.
        """
        continuous: List[IWriteDescriptor] = self._continuousPolling.getWriters()
        return [self._selectables[fd] for fd in self._writes] + continuous

    # The loop.

    def _applyChanges(self, due: Dict[int, Any]) -> None:
        """
        Give the kernel the masks our tables want for every descriptor whose
        wanted mask changed since the last C{epoll_wait(2)}; a change undone
        within the iteration costs no system call.  A writer in C{due} gets
        its C{doWrite} after this wait without EPOLLOUT, so if it is reading
        EPOLLOUT is not asked for it yet (L{_attemptWrites} queues the
        change if it is still writing then).

        @param due: the write attempts this iteration will make, by number.

        A descriptor whose registration has vanished because it was closed
        behind our back loses its connection, with the kernel's error.
        """
        changed = self._changed
        reads = self._reads
        writes = self._writes
        registered = self._registered
        while changed:
            fd = changed.pop()
            have = registered.get(fd)
            if have is None:
                continue
            # A reader owed a doWrite after this wait gets EPOLLOUT only if
            # that leaves something unwritten; one that reads no more has no
            # input to wait for, and asks for it now, as Twisted's does.
            want = (EPOLLIN if fd in reads else 0) | (
                EPOLLOUT if fd in writes and (fd not in due or fd not in reads) else 0
            )
            if want == have or not want:
                continue
            failure = self._control(EPOLL_CTL_MOD, fd, want, self._generations[fd])
            if failure == errno.ENOENT and self._selectables[fd].fileno() == fd:
                # The number was moved onto another file (dup2) under the same
                # owner: watch the file the number names now.
                failure = self._control(EPOLL_CTL_ADD, fd, want, self._generations[fd])
            if failure:
                self._lostDescriptor(fd, OSError(failure, os.strerror(failure)))
                self._suspectStale()
            else:
                registered[fd] = want

    def _lostDescriptor(self, fd: int, reason: BaseException) -> None:
        """
        The descriptor registered under C{fd} is gone: forget it and tell its
        owner, with C{connectionLost}, rather than drop it silently.

        @param reason: the exception C{connectionLost} gets, in a
            L{Failure<twisted.python.failure.Failure>}.
        """
        selectable = self._selectables.get(fd)
        isRead = fd in self._reads
        self._registered.pop(fd, None)
        self._forget(fd)
        if selectable is not None:
            # _disconnectSelectable wraps the exception in a Failure itself.
            log.callWithLogger(
                selectable, self._disconnectSelectable, selectable, reason, isRead
            )

    def _attemptWrites(
        self, due: Dict[int, Any], dispatch: Callable[[Any, int, int], None]
    ) -> None:
        """
        Give each writer in C{due}, which asked to write before this
        iteration's C{epoll_wait(2)} while the kernel was not watching it
        for EPOLLOUT, one C{doWrite} now, after the events of that wait were
        dispatched: the same point at which Twisted's reactor would call it
        for EPOLLOUT.  What it cannot write waits for EPOLLOUT, which the
        next L{_applyChanges} asks for.

        @param due: writer by descriptor number; a writer that stopped and
            started writing again before the wait is listed once (found by
            C{tests/test_statemachine_reactor.py}).
        @param dispatch: the iteration's L{_dispatcher}.
        """
        writes = self._writes
        selectables = self._selectables
        registered = self._registered
        changed = self._changed
        for fd, writer in due.items():
            if (
                fd in writes
                and selectables.get(fd) is writer
                and not registered.get(fd, 0) & EPOLLOUT
            ):
                dispatch(writer, fd, EPOLLOUT)
                if fd in writes and selectables.get(fd) is writer:
                    # Not all written: ask for EPOLLOUT before the next wait.
                    changed.add(fd)

    def _dispatcher(self) -> Callable[[Any, int, int], None]:
        """
        Build the function that hands one event to its selectable for this
        iteration: C{dispatch(selectable, fd, event)} does what
        C{log.callWithLogger(selectable, self._doReadOrWrite, selectable, fd,
        event)} does, for a fraction of the cost.

        Twisted issue 2534 measured 15% of a reactor's time in
        C{callWithLogger}: per event it walks ten Python frames to copy the
        current log context, add C{"system": selectable.logPrefix()} and
        push it for the call.  The context is the same for every event of an
        iteration, so we look it up once here, and per event only copy it,
        set C{"system"} and push it onto the thread's context stack
        ourselves; C{_doReadOrWrite} is inlined.  What the selectable and
        the log observe is unchanged: C{log.msg} inside C{doRead} carries
        the selectable's prefix as C{system}, and a failure is logged, with
        that prefix, and disconnects it, exactly as before
        (C{tests/test_dispatch.py}).  C{bench/bench_dispatch.py} measured
        2,188 ns per read event before, 530-750 after (stock: 1,500-2,000).

        @return: C{dispatch(selectable, fd, event)}.
        """
        stack = _logContextStack()
        if stack is None:
            drdw = self._doReadOrWrite
            callWithLogger: Callable[..., object] = log.callWithLogger

            def dispatchWithLogger(selectable: Any, fd: int, event: int) -> None:
                callWithLogger(selectable, drdw, selectable, fd, event)

            return dispatchWithLogger
        # What context.get(ILogContext) finds, without its three calls.
        base: Any = None
        for layer in reversed(stack):
            if _ILogContext in layer:
                base = layer[_ILogContext]
                break
        cached = self._cachedDispatch
        if cached is not None and cached[0] is stack and cached[1] is base:
            # Building the function costs about as much as dispatching a few
            # events; an iteration with only a few (connection churn) should
            # not pay it again (bench/README.md, churn).
            return cached[2]
        push = stack.append
        pop = stack.pop
        reads = self._reads

        def dispatch(selectable: Any, fd: int, event: int) -> None:
            try:
                prefix = selectable.logPrefix()
            except KeyboardInterrupt:
                raise
            except BaseException:
                prefix = _BUGGY_LOG_PREFIX
                log.err(system=prefix)
            logContext = base.copy()
            logContext["system"] = prefix
            push({_ILogContext: logContext})
            try:
                # posixbase._PollLikeMixin._doReadOrWrite, inlined.
                why: Optional[BaseException] = None
                inRead = False
                if event & _DISCONNECTED and not event & EPOLLIN:
                    if fd in reads:
                        inRead = True
                        why = CONNECTION_DONE
                    else:
                        why = CONNECTION_LOST
                else:
                    try:
                        if selectable.fileno() == -1:
                            why = _NO_FILEDESC
                        else:
                            if event & EPOLLIN:
                                why = selectable.doRead()
                                inRead = True
                            if not why and event & EPOLLOUT:
                                why = selectable.doWrite()
                                inRead = False
                    except BaseException:
                        why = sys.exc_info()[1]
                        log.err()
                if why:
                    disconnect: Callable[..., object] = self._disconnectSelectable
                    disconnect(selectable, why, inRead)
            except KeyboardInterrupt:
                raise
            except BaseException:
                log.err(system=prefix)
            finally:
                pop()

        self._cachedDispatch = (stack, base, dispatch)
        return dispatch

    def _suspectStale(self) -> None:
        """
        A stale entry was found: one object was closed behind our back, so
        others may have been too.  Check them all before the next wait.
        """
        self._preenWanted = self._repairPending = True

    def _repair(self) -> None:
        """
        Do what the flags ask for, before C{epoll_wait(2)}: leave an epoll
        instance shared with a parent process, check every registration
        after a stale one was found, and replace an instance that holds
        ghosts.  The checks come before the ghost rebuild so that it starts
        from clean tables.
        """
        self._repairPending = False
        if self._forked:
            self._rebuild()
        if self._preenWanted:
            self._preen()
        if self._rebuildWanted:
            self._rebuild()

    def _preen(self) -> None:
        """
        Check every registration after a stale one was found, as
        selectreactor's C{_preenDescriptors} does (glyph asked for this on
        Twisted's PR 12568).  Each owner must still report the number it is
        registered under, and the kernel must still hold a registration for
        that number and the file it names now: C{EPOLL_CTL_MOD} with the
        same mask and generation changes nothing when it does, and fails
        with EBADF or ENOENT when the descriptor was closed or its number
        reused (fact 2).  An owner that fails either check loses its
        connection.  One C{fileno()} and one system call per registration,
        and only after a stale entry was found.
        """
        self._preenWanted = False
        epfd = self._poller.fileno()
        registered = self._registered
        selectables = self._selectables
        generations = self._generations
        for fd, mask in list(registered.items()):
            selectable = selectables.get(fd)
            if selectable is None or registered.get(fd) != mask:
                # Lost or changed by a connectionLost earlier in this loop.
                continue
            try:
                current = selectable.fileno()
            except Exception as e:
                self._lostDescriptor(fd, e)
                continue
            if current != fd:
                # The number may still name the owner's file, registered:
                # take it out, or its events would come back as strays.  If
                # the number names another file now, this fails harmlessly.
                epoll_ctl(epfd, EPOLL_CTL_DEL, fd, None)
                self._lostDescriptor(
                    fd,
                    error.ConnectionFdescWentAway(
                        "descriptor {} was closed without being removed from "
                        "the reactor".format(fd)
                    ),
                )
            else:
                self._controlOrLose(
                    epfd, EPOLL_CTL_MOD, fd, _packEvent(mask, fd, generations[fd])
                )

    def _stray(self, generation: int) -> None:
        """
        An event came with a generation that no live registration has.

        The first time, it is most likely one left in a batch by a
        registration removed or replaced since (fact 3).  If the same
        generation comes again in a later wait (one wait reports each
        registration once), it is a ghost: a registration the kernel keeps
        for an open file that survives in a duplicate after its number was
        closed (fact 1).  Level-triggered, it would wake every wait, and
        C{EPOLL_CTL_DEL} cannot name it, so only a new epoll instance is rid
        of it (celery 4185, libuv 1468).
        """
        strays = self._strays
        if generation in strays:
            self._rebuildWanted = self._preenWanted = self._repairPending = True
            return
        if len(strays) >= 4096:
            # Bounded: one-off stale events must not accumulate forever.
            strays.clear()
        strays.add(generation)

    def _rebuild(self) -> None:
        """
        Replace the epoll instance by a new one holding the registrations in
        our tables: in a forked child, to stop sharing the parent's interest
        list (fact 6), and to be rid of ghosts (fact 1).  A registration the
        kernel refuses now (EBADF: closed behind our back) loses its
        connection.
        """
        self._forked = self._rebuildWanted = False
        self._strays.clear()
        old = self._poller
        self._poller = epoll(1024)
        old.close()
        epfd = self._poller.fileno()
        for fd, mask in list(self._registered.items()):
            self._controlOrLose(
                epfd, EPOLL_CTL_ADD, fd, _packEvent(mask, fd, self._generations[fd])
            )

    def _controlOrLose(self, epfd: int, operation: int, fd: int, event: bytes) -> None:
        """
        Run C{epoll_ctl(2)} for a registration our tables hold; when the
        kernel refuses it (EBADF: closed behind our back), its owner loses
        its connection.
        """
        if epoll_ctl(epfd, operation, fd, event):
            failure = repeatFailed(epoll_ctl, epfd, operation, fd, event)[1]
            if failure:
                self._lostDescriptor(fd, OSError(failure, os.strerror(failure)))

    def doPoll(self, timeout: Optional[float]) -> None:
        """
        Apply queued changes, wait for events with C{epoll_wait(2)} and
        dispatch them, then give pending writes their try.

        @param timeout: seconds to wait at most; C{None} waits until an event
            arrives.
        """
        if self._repairPending:
            self._repair()
        due = self._writeAttempts
        if due:
            # Written after this wait's events, as Twisted's reactor writes
            # after the wait that reports EPOLLOUT; it must not wait for the
            # timeout.
            self._writeAttempts = {}
            timeout = 0
        else:
            # Not the dict that collects this iteration's attempts for the
            # next one.
            due = _NOTHING_DUE
        if self._changed:
            self._applyChanges(due)
        if timeout is None:
            milliseconds = -1
        elif timeout <= 0:
            milliseconds = 0
        else:
            # Round up, so that a short timeout is not a busy poll.
            milliseconds = int(timeout * 1000)
            if milliseconds < timeout * 1000:
                milliseconds += 1
            if milliseconds > _INT_MAX:
                milliseconds = _INT_MAX
        poller = self._poller
        maxEvents = self._maxEvents
        buffer = poller._buffer
        if maxEvents > buffer.capacity:
            # Grow without an epoll_wait whose events would be dropped.
            buffer = poller._reserve(maxEvents)
        epfd = poller.fileno()
        count = epoll_wait(epfd, buffer.pointer, maxEvents, milliseconds)
        if count < 0:
            # Interrupted by a signal (EINTR), or a bug of ours: errno cannot
            # tell, since the signal's handler has run since and may have
            # replaced it.  A repeat with a zero timeout cannot be
            # interrupted, so its failure is the call's own (repeatFailed).
            count, failure = repeatFailed(
                epoll_wait, epfd, buffer.pointer, maxEvents, 0
            )
            if failure:
                raise OSError(failure, os.strerror(failure))
        if not count:
            # No events (or interrupted, and the main loop is to run what
            # the handler scheduled): the writes owed, and back.
            if due:
                self._attemptWrites(due, self._dispatcher())
            return
        if count == maxEvents:
            # The batch was full: take more next time.
            self._maxEvents = maxEvents * 2
        owners = self._owners
        reads = self._reads
        writes = self._writes
        dispatch = self._dispatcher()
        for event, fd, generation in _unpackEvents(buffer.view[: count * _EVENT_SIZE]):
            selectable = owners.get(generation)
            if selectable is None:
                # A stale event for a registration replaced or removed since
                # (fact 3), or a ghost (fact 1).
                self._stray(generation)
                continue
            # Only what the owner wants now, and the errors it always gets.
            if fd not in reads:
                event &= ~EPOLLIN
            elif event & EPOLLHUP:
                # A hang-up can come before, or without, EPOLLIN while input
                # is still buffered (fact 4, Twisted issue 7932): read until
                # the read itself sees end-of-file.
                event |= EPOLLIN
            if fd not in writes:
                event &= ~EPOLLOUT
            if event:
                dispatch(selectable, fd, event)
        if due:
            self._attemptWrites(due, dispatch)

    # Twisted names the parameter "delay"; it is always passed by position.
    doIteration = doPoll  # type: ignore[assignment]


def install() -> None:
    """
    Install L{EPollReactor} as Twisted's global reactor.

    Call it before anything imports C{twisted.internet.reactor}.

    @raise twisted.internet.error.ReactorAlreadyInstalledError: when a reactor
        is installed already.
    """
    reactor = EPollReactor()
    from twisted.internet.main import installReactor

    installReactor(reactor)
