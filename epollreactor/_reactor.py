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

 - Each registration is one L{Registration<epollreactor._registrations.
   Registration>} record (owner, number, generation, the kernel's mask,
   the owner's interests, the write policy's state), kept by
   L{Registrations<epollreactor._registrations.Registrations>}, which
   changes a record only after the system call succeeded (fact 2) and tags
   each entry with its record's generation, so that an event for a
   replaced record is dropped (fact 3).  A record whose owner is C{None}
   has ended: nothing else needs to agree with it.
 - Every event is masked by the interest its owner has now, so a reader
   never gets C{doWrite} and nothing removed earlier in the same iteration
   is dispatched.
 - Adding a new object under a number still held by another one means the
   old one was closed behind our back: we warn, evict it, and give the
   kernel entry to the newcomer (fact 2).  Adding an object whose
   C{fileno()} changed since it was added moves it, with its interests, to
   the new number: an object is registered under one number, so it is
   listed once and removed in one step.
 - Adding and removing a descriptor are immediate (C{EPOLL_CTL_ADD}/C{DEL}),
   so errors such as EBADF and EPERM reach the caller and nothing is left in
   the kernel after the application closes a removed descriptor (fact 1).
   Changes to the mask of a descriptor that stays registered are queued and
   applied just before C{epoll_wait(2)}, so a write interest added and taken
   away within one iteration costs nothing (fact 8).
 - How selectables write (when a write is tried without EPOLLOUT, how a TCP
   burst is cut) is the write policy's (L{epollreactor._writing}), which
   the loop calls before the wait and after the dispatch of its events.
   A whole reply to a request read whole goes out in the turn that read it
   (a short one after the wait's last event), one wait per
   request/response.  Anything longer is never sent there, because TCP
   cannot take a burst in pieces: each piece would end in a short segment, and Nagle's algorithm (tcp(7)) holds a short
   segment while an earlier one is unacknowledged, which a receiver
   waiting for the rest of its answer acknowledges only when its
   delayed-ACK timer fires (40 ms).  So a write that may be part of a
   burst still arriving waits until the next C{epoll_wait(2)} could report
   the rest, and is then cut into whole segments.
 - Each event reaches its selectable in the log context that
   C{log.callWithLogger} would give it, built once per iteration
   (L{epollreactor._dispatch}, Twisted issue 2534).
 - Regular files go to C{_continuousPolling} (fact 5).
 - A registration is lost three ways, none of which any event reports
   (fact 2): its number was closed; its number names another file now
   (closed and reused, or C{dup2}'d over; the kernel dropped the entry, or
   keeps it for the old file if that lives on elsewhere, fact 1); or its
   owner's C{fileno()} says -1 or another number.  Its owner loses its
   connection, with a reason that says which, and the file its number
   names now is never watched, nor read, on its behalf (where selectreactor
   and pollreactor, which know only numbers, would read it).
 - Bounded cost, stated per registration: every L{WATCH_PERIOD
   <epollreactor._registrations.WATCH_PERIOD>} (0.9 s), busy or idle, a
   sweep checks every registration (in slices spread over the period
   beside thousands, L{SWEEP_SLICE
   <epollreactor._registrations.SWEEP_SLICE>}): its owner's C{fileno()} is
   compared in Python, and an C{EPOLL_CTL_ADD} of its number must fail
   with EEXIST, the kernel's word that it still holds our entry for the
   very file that number names (fact 1); EBADF says the number was
   closed, success that it names a file we were not given (whose entry
   goes again at once).  So any lost registration is told within
   C{WATCH_PERIOD + WATCH_WAKE} (0.95 s), however many there are, for
   0.75-0.8 us of CPU per registration a period (8 ms a second beside
   10,000; bench/README.md, "Lost descriptors"), where poll and select
   pay a system call over every descriptor on every iteration to tell at
   once.  Until then, if the old file lives on elsewhere, its entry may
   still report events, and the owner's C{doRead} would read the new
   file: the one case the newcomer can be read for the old owner, for
   less than a second.  The sweep is made in one batch, so an idle
   reactor wakes once a period for it (never for the waker alone), and
   no check shortens a wait below L{WATCH_WAKE<epollreactor.
   _registrations.WATCH_WAKE>} (0.05 s).  The checks keep the time of
   L{Registrations.clock<epollreactor._registrations.Registrations.
   clock>}, which the loop reads too.
 - One stale entry found means application code closes descriptors behind
   our back, so every registration is checked again, as selectreactor's
   C{_preenDescriptors} does, but a bounded number per iteration, and
   without waiting while a check is under way (Twisted issue 11625).
 - An event whose generation is not its number's record's is dropped; if
   the same one comes in a later wait too, it is a ghost that
   C{EPOLL_CTL_DEL} cannot name, and the epoll instance is rebuilt from the
   records (fact 1).  So is a forked child's, on first use (fact 6).
 - EPOLLHUP for a reader is handled as readable: C{doRead} sees the
   buffered input and then end-of-file (fact 4).

The shape
=========

One descriptor, followed from C{addReader} to C{doRead}: L{EPollReactor._add}
finds its record by number (or, the first time, has L{Registrations} make
one with C{EPOLL_CTL_ADD} through the L{epoll} object, which owns every
system call); an interest added later sets a field of the record and puts
the record in the changed set.  L{EPollReactor.doPoll} hands the changed
set to L{Registrations.apply<epollreactor._registrations.Registrations.
apply>}, takes the write attempts the L{WritePolicy<epollreactor._writing.
WritePolicy>} owes, waits, and hands the events to the
L{Dispatcher<epollreactor._dispatch.Dispatcher>}, which looks each one's
record up by number, checks its generation, masks the event by the
record's interests and calls C{doRead}, and C{doWrite} through the write
policy; then the write policy makes the attempts it owed.  The tables Twisted's reactor has
(C{_selectables}, C{_reads}, C{_writes}) are read-only views of the
records.
"""

import errno
import os
import weakref
from math import ceil as _ceil
from typing import Any, List, Optional, Set

from zope.interface import implementer

from twisted.internet import error, posixbase
from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor, IWriteDescriptor
from twisted.logger import Logger
from twisted.python import log

from epollreactor._dispatch import Dispatcher
from epollreactor._libc import (
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
    EventBuffer,
)
from epollreactor._registrations import WATCH_WAKE, Registration, Registrations
from epollreactor._views import InterestView, OwnersView
from epollreactor._writing import WritePolicy

__all__ = ["EPollReactor", "install"]

_log = Logger()

_INT_MAX = 2**31 - 1
#: The longest timeout, in seconds, that epoll_wait(2)'s int milliseconds
#: hold (the wait's fallback, L{epollreactor._epoll.preciseWaitsMissing});
#: a longer one (a timer a month away) waits that long, then again.
_LONGEST_WAIT = _INT_MAX // 1000

#: Reactors alive in this process, so that a fork can mark them.
_liveReactors: "weakref.WeakSet[EPollReactor]" = weakref.WeakSet()


def _markForkedReactors() -> None:
    """
    Run in the child after C{fork()}: every live reactor must rebuild its
    epoll instance before using it (fact 6).  Only a flag is set here, so a
    fork that goes straight to C{exec} pays nothing.
    """
    for reactor in list(_liveReactors):
        state = vars(reactor)
        # Twisted's ReactorBuilder (reactormixins.buildReactor) disguises
        # the global reactor as each test's reactor by swapping its
        # __dict__ and __class__, and keeps the original __dict__ in
        # _originalReactorDict until the test ends: a fork meanwhile finds
        # our table there, and the disguise's own where it is one of ours.
        for attributes in (state, state.get("_originalReactorDict") or {}):
            table = attributes.get("_registrations")
            if isinstance(table, Registrations):
                table.markForked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_markForkedReactors)


def _descriptorOf(xer: Any) -> int:
    """
    @return: the descriptor number C{xer.fileno()} reports.
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
    if fd.__class__ is not int:
        if not isinstance(fd, int):
            raise TypeError("{!r}.fileno() returned {!r}, not an int".format(xer, fd))
        fd = int(fd)
    if not 0 <= fd <= _INT_MAX:
        raise ValueError(
            "file descriptor cannot be a negative integer ({})".format(fd)
            if fd < 0
            else "file descriptor {} is out of range".format(fd)
        )
    return int(fd)


@implementer(IReactorFDSet)
class EPollReactor(posixbase.PosixReactorBase, posixbase._PollLikeMixin):
    """
    A reactor that uses epoll(7) through ctypes; a drop-in for
    L{twisted.internet.epollreactor.EPollReactor}.

    @ivar _registrations: the records of our entries in the kernel's
        interest list.
    @ivar _poller: the L{epollreactor.epoll} object that watches
        descriptors (the name Twisted's reactor gives it); a rebuild renews
        the instance inside it.
    @ivar _selectables: maps each registered descriptor number to the
        C{FileDescriptor} registered under it (a read-only view of the
        records).
    @ivar _reads: the descriptor numbers whose owners want C{doRead} (a
        read-only view).
    @ivar _writes: the descriptor numbers whose owners want C{doWrite} (a
        read-only view).
    @ivar _continuousPolling: a L{posixbase._ContinuousPolling} for the
        descriptors epoll refuses (regular files).
    @ivar _changed: the records whose wanted mask may differ from the
        kernel's; applied just before C{epoll_wait(2)}.
    @ivar _writing: the write policy.
    @ivar _dispatcher: builds each iteration's dispatch function.
    @ivar _events: the buffer C{epoll_wait(2)} writes events into, the
        reactor's own, so that events carry their generation; as many as it
        holds may come at once, and it grows while batches come full.
    """

    # Attributes for _PollLikeMixin
    _POLL_DISCONNECTED = EPOLLHUP | EPOLLERR
    _POLL_IN = EPOLLIN
    _POLL_OUT = EPOLLOUT

    #: Set once anything was handed to C{_continuousPolling}; until then no
    #: object can be there, and the checks for it are skipped (one or two
    #: calls per connection opened or closed, bench/README.md, churn).  It
    #: only ever goes from false to true, so it cannot disagree with the
    #: poller in a way that matters.
    _pollsContinuously = False

    def __init__(self) -> None:
        """
        Create the epoll instance and the records' table, then let
        L{posixbase.PosixReactorBase} install its waker.
        """
        table = self._registrations = Registrations(self._lose)
        self._poller = table.poller
        self._selectables = OwnersView(table.byNumber)
        self._reads = InterestView(table.byNumber, EPOLLIN)
        self._writes = InterestView(table.byNumber, EPOLLOUT)
        self._continuousPolling = posixbase._ContinuousPolling(self)
        self._changed: Set[Registration] = set()
        self._writing = WritePolicy()
        self._dispatcher = Dispatcher(self, table, self._writing)
        self._events = EventBuffer(256)
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

    def _add(
        self,
        xer: Any,
        primary: Any,
        other: Any,
        selectables: Any,
        event: int,
        antievent: int,
    ) -> None:
        """
        Add interest in C{event} for C{xer} (Twisted's C{_add}): for an
        object registered already, as a transport is on every write, a field
        of its record and a queued mask change (bench_dispatch.py, "echo");
        for anything else L{_register}.

        @param primary: C{_reads} or C{_writes}, as Twisted passes them;
            C{event} says which.
        @param other: the other of the two.
        @param selectables: C{_selectables}.
        @param event: C{EPOLLIN} or C{EPOLLOUT}.
        @param antievent: the other of the two.
        @raise OSError: when the kernel refuses the descriptor (EBADF for a
            closed one); regular files (EPERM) are polled continuously
            instead.
        @raise TypeError: when it has no C{fileno()}, or that is not an int.
        @raise ValueError: when C{fileno()} is negative or out of range.
        """
        try:
            fd = xer.fileno()
            record = self._registrations.byNumber.get(fd)
        except Exception:
            fd = record = None
        if record is None or record.owner is not xer:
            self._register(xer, event, fd)
        elif event == EPOLLIN:
            if not record.reading:
                record.reading = True
                self._changed.add(record)
        elif not record.writing:
            record.writing = True
            self._changed.add(record)
            if not record.mask & EPOLLOUT:
                self._writing.owe(record)

    def _register(self, xer: Any, event: int, fd: Any = None) -> None:
        """
        Register C{xer}, which is not registered under the number its
        C{fileno()} reports, for C{event}, at once, so that the kernel's
        errors reach the caller; a regular file (EPERM) is polled
        continuously instead (fact 5).

        @param fd: what C{xer.fileno()} returned just now, if it was
            called; asked again, and checked, unless it is an C{int} in
            range.
        """
        if fd.__class__ is not int or not 0 <= fd <= _INT_MAX:
            fd = _descriptorOf(xer)
        polling = self._continuousPolling
        table = self._registrations
        if not (
            self._pollsContinuously
            and (polling.isReading(xer) or polling.isWriting(xer))
        ):
            stale = table.byNumber.get(fd)
            if stale is not None:
                _log.warn(
                    "{newcomer!r} was added under descriptor {fd}, which "
                    "{stale!r} still held: {stale!r} was closed without being "
                    "removed from the reactor; it will get no more events",
                    fd=fd,
                    stale=stale.owner,
                    newcomer=xer,
                )
                table.evict(stale)
            mask = event
            moved = table.byOwner.get(id(xer))
            if moved is not None:
                # Its fileno() changed since it was added: move it, with the
                # interests it has, so that it is never registered twice.
                if moved.writing if event == EPOLLIN else moved.reading:
                    mask = EPOLLIN | EPOLLOUT
                table.remove(moved)
            try:
                table.register(xer, fd, mask)
                return
            except OSError as e:
                if e.errno != errno.EPERM:
                    raise
        # epoll(7) doesn't support regular files (fact 5); and one that
        # was, when first added, is kept there when its number is dup2'd
        # over, or it would be listed and dispatched twice.
        self._pollsContinuously = True
        if event == EPOLLIN:
            polling.addReader(xer)
        else:
            polling.addWriter(xer)

    def _remove(
        self,
        xer: Any,
        primary: Any,
        other: Any,
        selectables: Any,
        event: int,
        antievent: int,
    ) -> None:
        """
        Take away the interest in C{event} of C{xer} (Twisted's C{_remove})
        wherever it is registered, found under the number its C{fileno()}
        reports (the fast path, as a transport gives up writing after every
        flush: bench_dispatch.py, "echo"), else by identity (a closed
        descriptor's C{fileno()} is -1), else in continuous polling.  A
        descriptor that keeps no interest at all is unregistered at once;
        one that keeps the other has its mask change queued.  Never raises
        because the descriptor was closed already.

        @param primary: C{_reads} or C{_writes}, as Twisted passes them;
            C{event} says which.
        @param other: the other of the two.
        @param selectables: C{_selectables}.
        @param event: C{EPOLLIN} or C{EPOLLOUT}.
        @param antievent: the other of the two.
        """
        table = self._registrations
        try:
            record = table.byNumber.get(xer.fileno())
        except Exception:
            record = None
        if record is None or record.owner is not xer:
            record = table.byOwner.get(id(xer))
            if record is None:
                if self._pollsContinuously:
                    polling = self._continuousPolling
                    if event == EPOLLIN:
                        if polling.isReading(xer):
                            polling.removeReader(xer)
                    elif polling.isWriting(xer):
                        polling.removeWriter(xer)
                # A closing connection's second and third removal
                # (connectionLost's stopReading and stopWriting) end here at
                # the cost of one lookup (bench_dispatch.py, "close").
                return
        if event == EPOLLIN:
            if not record.reading:
                return
            record.reading = False
            keep = record.writing
        else:
            if not record.writing:
                return
            record.writing = False
            keep = record.reading
        if keep:
            self._changed.add(record)
        else:
            table.remove(record)

    def addReader(self, reader: IReadDescriptor) -> None:
        """
        Add a C{FileDescriptor} for notification of data available to read.

        @raise OSError: when the kernel refuses the descriptor (EBADF for a
            closed one); regular files (EPERM) are polled continuously
            instead.
        @raise TypeError: when it has no C{fileno()}, or that is not an int.
        @raise ValueError: when C{fileno()} is negative or out of range.
        """
        self._add(
            reader, self._reads, self._writes, self._selectables, EPOLLIN, EPOLLOUT
        )

    def addWriter(self, writer: IWriteDescriptor) -> None:
        """
        Add a C{FileDescriptor} for notification of data available to write.

        @raise OSError: as L{addReader} raises it.
        @raise TypeError: as L{addReader} raises it.
        @raise ValueError: as L{addReader} raises it.
        """
        # A transport's every write comes here (startWriting), and its every
        # flush to removeWriter: their common case is written out, since a
        # call of _add costs as much again (bench/README.md, "The write
        # path's helpers written out").
        selectable: Any = writer
        try:
            fd = selectable.fileno()
            record = self._registrations.byNumber.get(fd)
        except Exception:
            fd = record = None
        if record is None or record.owner is not writer:
            # What _add does then, with the number asked already.
            self._register(writer, EPOLLOUT, fd)
        elif not record.writing:
            record.writing = True
            self._changed.add(record)
            if not record.mask & EPOLLOUT:
                self._writing.owe(record)

    def removeReader(self, reader: IReadDescriptor) -> None:
        """
        Remove a C{FileDescriptor} from notification of data available to
        read.  Never raises because its descriptor was closed already.
        """
        self._remove(
            reader, self._reads, self._writes, self._selectables, EPOLLIN, EPOLLOUT
        )

    def removeWriter(self, writer: IWriteDescriptor) -> None:
        """
        Remove a C{FileDescriptor} from notification of data available to
        write.  Never raises because its descriptor was closed already.
        """
        selectable: Any = writer
        try:
            record = self._registrations.byNumber.get(selectable.fileno())
        except Exception:
            record = None
        if record is None or record.owner is not writer:
            self._remove(
                writer, self._writes, self._reads, self._selectables, EPOLLOUT, EPOLLIN
            )
        elif record.writing:
            record.writing = False
            if record.reading:
                self._changed.add(record)
            else:
                self._registrations.remove(record)

    def removeAll(self) -> List[Any]:
        """
        Remove all selectables but the waker, and return a list of them,
        each once.
        """
        records = list(self._registrations.byNumber.values())
        removed: List[Any] = self._removeAll(  # type: ignore[no-untyped-call]
            [record.owner for record in records if record.reading],
            [record.owner for record in records if record.writing],
        )
        continuous: List[Any] = self._continuousPolling.removeAll()
        return removed + continuous

    def getReaders(self) -> List[IReadDescriptor]:
        """
        @return: every object registered for reading, each once (an object
            is registered under one number, and never both with epoll and
            polled continuously).
        """
        continuous: List[IReadDescriptor] = self._continuousPolling.getReaders()
        records = self._registrations.byNumber.values()
        return [record.owner for record in records if record.reading] + continuous

    def getWriters(self) -> List[IWriteDescriptor]:
        """
        @return: every object registered for writing, each once.
        """
        continuous: List[IWriteDescriptor] = self._continuousPolling.getWriters()
        records = self._registrations.byNumber.values()
        return [record.owner for record in records if record.writing] + continuous

    def _lose(
        self, owner: Any, wasReading: bool, reason: Optional[BaseException]
    ) -> None:
        """
        An owner's registration was lost (L{Registrations} has ended it):
        tell it, with C{connectionLost}, rather than drop it silently.

        @param wasReading: whether it was reading, as
            C{_disconnectSelectable} wants to know.
        @param reason: the exception C{connectionLost} gets, in a
            L{Failure<twisted.python.failure.Failure>}; C{None} when the
            owner reports another number than it was registered under.
        """
        if reason is None:
            reason = error.ConnectionFdescWentAway(
                "its descriptor was closed without being removed from the reactor"
            )
        # _disconnectSelectable wraps the exception in a Failure itself.
        log.callWithLogger(owner, self._disconnectSelectable, owner, reason, wasReading)

    # The loop.

    def doPoll(self, timeout: Optional[float]) -> None:
        """
        Check the registrations that came due (L{Registrations.check
        <epollreactor._registrations.Registrations.check>}), take the write
        attempts the write policy owes, apply queued changes, wait for events
        with C{epoll_wait(2)} and dispatch them, then have the write policy
        make its attempts.

        @param timeout: seconds to wait at most; C{None} waits until an event
            arrives.
        """
        table = self._registrations
        now = table.clock()
        if table.checkAt <= now:
            table.check()
        wake = table.checkAt - now
        if wake <= 0:
            # The rest of a preen must not wait for a timeout, nor what the
            # connectionLost of an owner it found lost set off.
            timeout = 0
        elif wake < _LONGEST_WAIT:
            # Records are checked while nothing happens too (WATCH_PERIOD),
            # what came due meanwhile at once.
            wake = max(wake, WATCH_WAKE)
            if timeout is None or timeout > wake:
                timeout = wake
        due = self._writing.takeOwed(self._changed)
        if due:
            # Made after this wait's events, as Twisted's reactor writes
            # after the wait that reports EPOLLOUT: it must not sleep.
            timeout = 0
        if self._changed:
            table.apply(self._changed)
        if timeout is None:
            nanoseconds = -1
        elif timeout <= 0:
            nanoseconds = 0
        else:
            # Rounded up, never to 0: a timer is not run early, and the
            # loop does not spin until it is due.  The wait is precise where
            # epoll_pwait2 works, else rounded up to milliseconds
            # (epollreactor._epoll.preciseWaitsMissing).
            nanoseconds = _ceil(min(timeout, _LONGEST_WAIT) * 1e9)
        buffer = self._events
        count = self._poller._waitOnce(buffer, buffer.capacity, nanoseconds)
        dispatcher = self._dispatcher
        if count:
            dispatch = dispatcher.dispatchEvents(buffer, count)
            if count == buffer.capacity:
                # The batch was full: take more next time.
                self._events = EventBuffer(count * 2)
        elif not due:
            # No events (or interrupted, and the main loop is to run what
            # the signal's handler scheduled), and no writes owed.
            return
        else:
            dispatch = dispatcher.forIteration()
        if due:
            self._writing.attempt(due, dispatch, self._changed, not count)

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
