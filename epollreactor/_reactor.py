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

 - The entries we have in the kernel's interest list are one object,
   L{Registrations<epollreactor._registrations.Registrations>}: owner,
   mask and generation per number, changed only after the system call
   succeeded (fact 2), each event tagged with its entry's generation so
   that one for a replaced entry is dropped (fact 3).  It runs no
   application code; the reactor turns what it reports lost into
   C{connectionLost}.
 - Every event is masked by the interest its owner has now, so a reader
   never gets C{doWrite} and nothing removed earlier in the same iteration
   is dispatched.
 - Adding a new object under a number still held by another one means the
   old one was closed behind our back: we warn, drop it, and give the
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
 - When a protocol writes to a connection that is registered for reading, we
   do not ask for EPOLLOUT at once: the connection gets one C{doWrite} after
   the events of the next C{epoll_wait(2)} were dispatched, and only what
   could not be written then waits for EPOLLOUT (fact 8; "Writing early"
   below says why after the next wait and not sooner).
 - Each event reaches its selectable in the log context that
   C{log.callWithLogger} would give it, built once per iteration
   (L{epollreactor._dispatch}, Twisted issue 2534).
 - Regular files go to C{_continuousPolling} (fact 5).
 - One policy for an entry the kernel dropped although its owner still
   reports the number (it was C{dup2}'d over, fact 1): the number is
   watched again, for the file it names now, as selectreactor and
   pollreactor (which know only numbers) watch it, whether a queued
   C{EPOLL_CTL_MOD}, the preen or a rebuild finds it.  An owner whose
   number was closed (EBADF), or who reports another number, loses its
   connection.
 - One stale entry found means application code closes descriptors behind
   our back, so every registration is checked again, as selectreactor's
   C{_preenDescriptors} does, but a bounded number per iteration
   (L{PREEN_BATCH<epollreactor._registrations.PREEN_BATCH>}), and without
   waiting while a check is under way: an owner whose descriptor is gone
   loses its connection within a bounded number of iterations, and a peer
   that can make descriptors go stale often (Twisted issue 11625) cannot
   make each event cost a pass over every registration.
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
then.  A C{doWrite} at the end of the iteration that read would answer a
200,000-byte echo in four calls of 64 KiB, 64 KiB, 64 KiB and 3 KiB, each
sent while the rest of the message is still coming, each leaving a short
segment (65,536 is one loopback segment of 65,483 bytes and 53 more), and
the last one would wait for the delayed ACK (bench/README.md, "bulk").
Setting C{TCP_NODELAY} hides that, but an application did not ask for it
and Twisted does not set it.

So the C{doWrite} we give without EPOLLOUT comes where Twisted's would, or
a little later in the same iteration: after the next C{epoll_wait(2)} (with
a zero timeout, so it costs no latency) and after all of that wait's events
were dispatched, the connection's own C{doRead} included.  A write is never
sent before the kernel was asked whether more input for the same reply is
there.

That alone only matches Twisted, whose own sends end short too: each
C{doWrite} of its TCP transport sends C{SEND_LIMIT} (131,072) bytes, which
the usual segment sizes do not divide (65,483 on loopback, 1,448 on
Ethernet), or empties the buffer while the message is still arriving, and
the wait showed on Twisted's reactor as on ours at 256 KiB and 1 MiB.  So
each C{doWrite} of a TCP connection sends whole segments while its protocol
is still writing the burst, and the short tail last
(L{epollreactor._segments}, which says why that cannot bring the wait
back; C{tests/test_segments.py}).  C{tests/test_earlywrite.py} pins the
timing in system calls: between the C{recv} that starts a reply and the
C{send} of it there is always an C{epoll_wait}, at every message size,
while a 64-byte echo still costs one C{send} and no C{epoll_ctl(2)}.
"""

import errno
import os
import weakref
from typing import Any, Dict, List, Optional, Set

from zope.interface import implementer

from twisted.internet import abstract, error, posixbase
from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor, IWriteDescriptor
from twisted.logger import Logger
from twisted.python import log

from epollreactor._dispatch import Dispatch, Dispatcher
from epollreactor._epoll import epoll
from epollreactor._libc import (
    EPOLL_CTL_ADD,
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
    EVENT,
    EventBuffer,
    epoll_wait,
    repeatFailed,
)
from epollreactor._registrations import Registrations

__all__ = ["EPollReactor", "install"]

_log = Logger()

_INT_MAX = 2**31 - 1
_unpackEvents = EVENT.iter_unpack
_EVENT_SIZE = EVENT.size
#: The write attempts of an iteration that has none; never written to.
_NOTHING_DUE: Dict[int, Any] = {}

#: Reactors alive in this process, so that a fork can mark them.
_liveReactors: "weakref.WeakSet[EPollReactor]" = weakref.WeakSet()


def _markForkedReactors() -> None:
    """
    Run in the child after C{fork()}: every live reactor must rebuild its
    epoll instance before using it (fact 6).  Only a flag is set here, so a
    fork that goes straight to C{exec} pays nothing.
    """
    for reactor in list(_liveReactors):
        reactor._registrations.markForked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_markForkedReactors)


@implementer(IReactorFDSet)
class EPollReactor(posixbase.PosixReactorBase, posixbase._PollLikeMixin):
    """
    A reactor that uses epoll(7) through ctypes; a drop-in for
    L{twisted.internet.epollreactor.EPollReactor}.

    @ivar _registrations: our entries in the kernel's interest list.
    @ivar _selectables: maps each registered descriptor number to the
        C{FileDescriptor} registered under it (C{_registrations.owners},
        read-only here).
    @ivar _reads: the descriptor numbers whose owners want C{doRead}.
    @ivar _writes: the descriptor numbers whose owners want C{doWrite}.
    @ivar _continuousPolling: a L{posixbase._ContinuousPolling} for the
        descriptors epoll refuses (regular files).
    @ivar _changed: descriptor numbers whose wanted mask may differ from the
        kernel's; applied just before C{epoll_wait(2)}.
    @ivar _writeAttempts: writers, by number, that asked to write while the
        kernel was not watching them for EPOLLOUT; each gets one C{doWrite}
        after the next C{epoll_wait(2)} before we ask for EPOLLOUT.
    @ivar _dispatcher: builds each iteration's dispatch function.
    @ivar _maxEvents: how many events one C{epoll_wait(2)} may return; grows
        while batches come full.
    @ivar _events: the buffer C{epoll_wait(2)} writes events into, the
        reactor's own, so that it waits on the instance without going
        through L{epoll.poll} and its result list.
    """

    # Attributes for _PollLikeMixin
    _POLL_DISCONNECTED = EPOLLHUP | EPOLLERR
    _POLL_IN = EPOLLIN
    _POLL_OUT = EPOLLOUT

    #: Set once anything was handed to C{_continuousPolling}; until then no
    #: object can be there, and the checks for it are skipped (one or two
    #: calls per connection opened or closed, bench/README.md, churn).
    _pollsContinuously = False

    def __init__(self) -> None:
        """
        Create the epoll instance and the tables, then let
        L{posixbase.PosixReactorBase} install its waker.
        """
        self._registrations = Registrations()
        self._selectables = self._registrations.owners
        self._reads: Set[int] = set()
        self._writes: Set[int] = set()
        self._continuousPolling = posixbase._ContinuousPolling(self)
        self._changed: Set[int] = set()
        self._writeAttempts: Dict[int, Any] = {}
        self._maxEvents = 256
        self._events = EventBuffer(self._maxEvents)
        self._dispatcher = Dispatcher(
            self, self._reads, self._writes, self._selectables
        )
        _liveReactors.add(self)
        posixbase.PosixReactorBase.__init__(self)

    @property
    def _poller(self) -> epoll:
        """
        The L{epollreactor.epoll} instance that watches descriptors (the
        name Twisted's reactor gives it); replaced when rebuilt.
        """
        return self._registrations.poller

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
            self._registrations.poller.close()
        except Exception:
            # Interpreter shutdown may have taken os away already.
            pass

    # Registration.

    def _add(self, xer: Any, primary: Set[int], other: Set[int], event: int) -> None:
        """
        Add interest in C{event} for C{xer}, which is not registered under
        the number its C{fileno()} reports: check that number, then register
        it with the kernel at once, so that its errors reach the caller.

        @param primary: C{_reads} or C{_writes}: the set C{event} stands for.
        @param other: the other of the two.
        @param event: C{EPOLLIN} or C{EPOLLOUT}.
        @raise OSError: from the kernel.
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
            # dispatched twice.
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))
        registrations = self._registrations
        if registrations.forked:
            self._rebuild()
        stale = registrations.owners.get(fd)
        if stale is not None and stale is not xer:
            _log.warn(
                "{newcomer!r} was added under descriptor {fd}, which {stale!r} "
                "still held: {stale!r} was closed without being removed from the "
                "reactor; it will get no more events",
                fd=fd,
                stale=stale,
                newcomer=xer,
            )
            self._reads.discard(fd)
            self._writes.discard(fd)
            registrations.evict(fd)
        mask = event
        moved = registrations.numbers.get(id(xer))
        if moved is not None:
            # Its fileno() changed since it was added: move it, with the
            # interest it has, so that it is never registered twice.
            keep = moved in other
            self._unregister(moved)
            if keep:
                mask |= EPOLLIN | EPOLLOUT
        registrations.add(xer, fd, mask)
        primary.add(fd)
        if mask != event:
            other.add(fd)

    def _addInterest(
        self, xer: Any, primary: Set[int], other: Set[int], event: int
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
                    and not self._registrations.masks[fd] & EPOLLOUT
                    and isinstance(xer, abstract.FileDescriptor)
                ):
                    self._writeAttempts[fd] = xer
            return
        try:
            self._add(xer, primary, other, event)
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
        self._addInterest(reader, self._reads, self._writes, EPOLLIN)

    def addWriter(self, writer: IWriteDescriptor) -> None:
        """
        Add a C{FileDescriptor} for notification of data available to write.

        @raise OSError: when the kernel refuses the descriptor (EBADF for a
            closed one); regular files (EPERM) are polled continuously
            instead.
        @raise TypeError: when it has no C{fileno()}, or that is not an int.
        @raise ValueError: when C{fileno()} is negative or out of range.
        """
        self._addInterest(writer, self._writes, self._reads, EPOLLOUT)

    def _unregister(self, fd: int) -> None:
        """
        Remove C{fd}'s registration from the kernel, our tables and the
        interest sets.  A descriptor already closed (EBADF) or renamed
        (ENOENT) has no registration we can remove; our tables are cleaned
        all the same.

        @raise OSError: for any other failure of C{epoll_ctl(2)}, with the
            tables unchanged.
        """
        registrations = self._registrations
        if registrations.forked:
            self._rebuild()
        if registrations.remove(fd):
            # Closed or renamed behind our back: others may be too.
            registrations.suspectStale()
        self._reads.discard(fd)
        self._writes.discard(fd)

    def _removeInterest(
        self, xer: Any, primary: Set[int], other: Set[int], event: int
    ) -> None:
        """
        What L{removeReader} and L{removeWriter} share: take away the
        interest in C{event} of C{xer} wherever it is registered, found
        under the number its C{fileno()} reports (the fast path, as a
        transport gives up writing after every flush: bench_dispatch.py,
        "echo"), else by identity (a closed descriptor's C{fileno()} is -1),
        else in continuous polling.  A descriptor that keeps no interest at
        all is unregistered at once; one that keeps the other has its mask
        change queued for L{_applyChanges}.  Never raises because the
        descriptor was closed already.
        """
        try:
            fd = xer.fileno()
            registered = self._selectables.get(fd) is xer
        except Exception:
            registered = False
        if not registered:
            # By identity: a closed descriptor's fileno() is -1.
            fd = self._registrations.numbers.get(id(xer))
            if fd is None:
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
        if fd in primary:
            primary.discard(fd)
            if fd in other:
                self._changed.add(fd)
            else:
                self._unregister(fd)

    def removeReader(self, reader: IReadDescriptor) -> None:
        """
        Remove a C{FileDescriptor} from notification of data available to
        read.  Never raises because its descriptor was closed already.
        """
        self._removeInterest(reader, self._reads, self._writes, EPOLLIN)

    def removeWriter(self, writer: IWriteDescriptor) -> None:
        """
        Remove a C{FileDescriptor} from notification of data available to
        write.  Never raises because its descriptor was closed already.
        """
        self._removeInterest(writer, self._writes, self._reads, EPOLLOUT)

    def removeAll(self) -> List[Any]:
        """
        Remove all selectables but the waker, and return a list of them,
        each once.
        """
        selectables = self._selectables
        removed: List[Any] = self._removeAll(  # type: ignore[no-untyped-call]
            [selectables[fd] for fd in self._reads],
            [selectables[fd] for fd in self._writes],
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
        return [self._selectables[fd] for fd in self._reads] + continuous

    def getWriters(self) -> List[IWriteDescriptor]:
        """
        @return: every object registered for writing, each once.
        """
        continuous: List[IWriteDescriptor] = self._continuousPolling.getWriters()
        return [self._selectables[fd] for fd in self._writes] + continuous

    # Losing registrations.

    def _lostDescriptor(self, fd: int, selectable: Any, reason: BaseException) -> None:
        """
        The descriptor registered under C{fd} is gone: forget it and tell its
        owner, with C{connectionLost}, rather than drop it silently.

        @param selectable: its owner.
        @param reason: the exception C{connectionLost} gets, in a
            L{Failure<twisted.python.failure.Failure>}.
        """
        isRead = fd in self._reads
        self._registrations.forget(fd)
        self._reads.discard(fd)
        self._writes.discard(fd)
        if selectable is not None:
            # _disconnectSelectable wraps the exception in a Failure itself.
            log.callWithLogger(
                selectable, self._disconnectSelectable, selectable, reason, isRead
            )

    def _rebuild(self) -> None:
        """
        Replace the epoll instance (L{Registrations.rebuild}); owners whose
        registration the new one refuses lose their connection.
        """
        for fd, selectable, reason in self._registrations.rebuild():
            self._lostDescriptor(fd, selectable, reason)

    def _repair(self) -> None:
        """
        Before C{epoll_wait(2)}: leave an epoll instance shared with a parent
        process, check the next registrations of a preen, and replace an
        instance that holds ghosts.  The checks come before the ghost
        rebuild so that it starts from cleaner tables.
        """
        registrations = self._registrations
        if registrations.forked:
            self._rebuild()
        if registrations.preening:
            self._preen()
        if registrations.rebuildWanted:
            self._rebuild()

    def _preen(self) -> None:
        """
        Check this iteration's share of the registrations (L{Registrations.
        preenBatch}), as selectreactor's C{_preenDescriptors} checks them
        all: each owner must still report the number it is registered under,
        and the kernel must still hold its entry (C{EPOLL_CTL_MOD} with the
        same mask and generation changes nothing when it does, fact 2; when
        it does not, L{_remask}'s policy applies).  An owner that reports
        another number, or whose C{fileno()} raises, loses its connection,
        and its kernel entry goes with it.
        """
        registrations = self._registrations
        owners = registrations.owners
        for fd, selectable in registrations.preenBatch():
            if owners.get(fd, None) is None or owners[fd] is not selectable:
                # Lost or replaced by a connectionLost earlier in this loop.
                continue
            reason: Optional[BaseException] = None
            try:
                current = selectable.fileno()
            except Exception as e:
                current, reason = None, e
            if current != fd:
                # The number may still name the owner's file, registered:
                # take it out, or its events would come back as strays.  If
                # the number names another file now, this fails harmlessly.
                try:
                    registrations.remove(fd)
                except OSError:
                    registrations.forget(fd)
                self._lostDescriptor(
                    fd,
                    selectable,
                    reason
                    or error.ConnectionFdescWentAway(
                        "descriptor {} was closed without being removed from "
                        "the reactor".format(fd)
                    ),
                )
                continue
            self._remask(fd, selectable, registrations.masks[fd])

    def _remask(self, fd: int, owner: Any, mask: int) -> bool:
        """
        Give the kernel C{mask} for C{fd}'s entry, for a queued change or to
        check the entry is still there.  One policy for an entry the kernel
        dropped: if the number was C{dup2}'d over (ENOENT) and C{owner}
        still reports it, the number is watched again for the file it names
        now, as selectreactor and pollreactor, which know only numbers,
        would watch it; otherwise (EBADF: the number was closed) the owner
        loses its connection.

        @return: whether the owner lost its connection.
        """
        registrations = self._registrations
        failure = registrations.modify(fd, mask)
        if not failure:
            return False
        if failure == errno.ENOENT:
            try:
                reported = owner.fileno()
            except Exception:
                reported = None
            if reported == fd:
                failure = registrations.modify(fd, mask, EPOLL_CTL_ADD)
                if not failure:
                    return False
        self._lostDescriptor(fd, owner, OSError(failure, os.strerror(failure)))
        return True

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
        registrations = self._registrations
        masks = registrations.masks
        owners = registrations.owners
        if registrations.forked:
            self._rebuild()
        while changed:
            fd = changed.pop()
            have = masks.get(fd)
            if have is None:
                continue
            # A reader owed a doWrite after this wait gets EPOLLOUT only if
            # that leaves something unwritten; one that reads no more has no
            # input to wait for, and asks for it now, as Twisted's does.
            # The attempt must be owed to this owner: one owed to an owner
            # evicted since (its number closed behind our back and reused)
            # is never made, and would leave the newcomer without EPOLLOUT.
            want = (EPOLLIN if fd in reads else 0) | (
                EPOLLOUT
                if fd in writes and (fd not in reads or due.get(fd) is not owners[fd])
                else 0
            )
            if want == have or not want:
                continue
            if self._remask(fd, owners[fd], want):
                # Closed behind our back: others may be too.
                registrations.suspectStale()

    def _attemptWrites(self, due: Dict[int, Any], dispatch: Dispatch) -> None:
        """
        Give each writer in C{due}, which asked to write before this
        iteration's C{epoll_wait(2)} while the kernel was not watching it
        for EPOLLOUT, one C{doWrite} now, after the events of that wait were
        dispatched: the same point at which Twisted's reactor would call it
        for EPOLLOUT.  What it cannot write waits for EPOLLOUT, which the
        next L{_applyChanges} asks for.

        @param due: writer by descriptor number; a writer that stopped and
            started writing again before the wait is listed once.
        @param dispatch: the iteration's dispatch function.
        """
        writes = self._writes
        selectables = self._selectables
        masks = self._registrations.masks
        changed = self._changed
        for fd, writer in due.items():
            if (
                fd in writes
                and selectables.get(fd) is writer
                and not masks.get(fd, 0) & EPOLLOUT
            ):
                dispatch(writer, fd, EPOLLOUT)
                if fd in writes and selectables.get(fd) is writer:
                    # Not all written: ask for EPOLLOUT before the next wait.
                    changed.add(fd)

    def doPoll(self, timeout: Optional[float]) -> None:
        """
        Apply queued changes, wait for events with C{epoll_wait(2)} and
        dispatch them, then give pending writes their try.

        @param timeout: seconds to wait at most; C{None} waits until an event
            arrives.
        """
        registrations = self._registrations
        if registrations.repairPending:
            self._repair()
            # The rest of a preen must not wait for a timeout, nor what the
            # connectionLost of an owner it found lost set off.
            timeout = 0
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
        maxEvents = self._maxEvents
        buffer = self._events
        if maxEvents > buffer.capacity:
            buffer = self._events = EventBuffer(maxEvents)
        # The one private part of epoll the reactor uses: the number, read
        # anew each time, since a rebuild replaces the instance.
        epfd = registrations.poller._epfd
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
                self._attemptWrites(due, self._dispatcher.forIteration())
            return
        if count == maxEvents:
            # The batch was full: take more next time.
            self._maxEvents = maxEvents * 2
        owners = registrations.byGeneration
        reads = self._reads
        writes = self._writes
        dispatch = self._dispatcher.forIteration()
        for event, fd, generation in _unpackEvents(buffer.view[: count * _EVENT_SIZE]):
            selectable = owners.get(generation)
            if selectable is None:
                # A stale event for a registration replaced or removed since
                # (fact 3), or a ghost (fact 1).
                registrations.stray(generation)
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
