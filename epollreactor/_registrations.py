"""
L{Registrations}: the reactor's entries in the kernel's interest list of one
epoll instance, one L{Registration} record each, kept in step with the
kernel; every C{epoll_ctl(2)} the reactor makes goes through it, and through
the L{epoll} object it holds.

It follows the facts about epoll written above L{epollreactor._reactor}:

 - A record changes only after the system call succeeded (CPython's
   C{selectors._PollLikeSelector.register}, Twisted's C{_add}); a removal
   whose descriptor is already closed (EBADF), renamed (ENOENT) or replaced
   by a file epoll cannot watch (EPERM) forgets the record instead of
   raising (facts 1, 2).
 - Every entry carries a generation in the upper half of C{epoll_data}, so
   an event names the record it was queued for, not merely a number: an
   event whose generation is not that of the record now under its number
   is stale (fact 3).
 - A record is found by number (events, C{fileno()}) or by its owner's
   identity (an owner whose C{fileno()} no longer names it), each in
   constant time; a record whose C{owner} is C{None} has ended, whatever
   still holds it.
 - One stale entry means application code closes descriptors behind the
   reactor's back, so every entry is checked again; but only
   L{PREEN_BATCH} per iteration, so that an event a peer can cause (Twisted
   issue 11625) buys a bounded amount of work, not one system call per
   registration.
 - No event says a registration was lost (fact 2), so every record is
   looked at once per L{WATCH_PERIOD} by one sweep, a Python comparison
   and one C{poll(2)} for all of them, and checked by an C{EPOLL_CTL_MOD}
   by a ring, L{WATCH_RATE} a second at most.  A record whose number is
   closed or names another file is lost, never watched again for the new
   file: its owner would read another connection's bytes.
 - A registration the kernel keeps for a file no number names any more
   (a ghost, fact 1), or one shared with a parent after C{fork()} (fact 6),
   is left behind with the whole epoll instance: L{Registrations.rebuild}
   renews it from the records.
"""

import errno
from select import POLLNVAL
from select import poll as _pollObject
from time import monotonic
from typing import Any, Callable, Dict, List, Optional, Set

from epollreactor._epoll import epoll
from epollreactor._libc import (
    EPOLL_CTL_ADD,
    EPOLL_CTL_DEL,
    EPOLL_CTL_MOD,
    EPOLLEXCLUSIVE,
    EPOLLIN,
    EPOLLOUT,
    osError,
)

__all__ = ["PREEN_BATCH", "Registration", "Registrations", "Ring"]

#: How many records one iteration checks at least while a preen is under
#: way: after a stale entry was found, every record is checked within
#: C{ceil(len(records) / PREEN_BATCH)} iterations, none of which waits.
PREEN_BATCH = 32

#: Every this many seconds, busy or idle, one sweep looks at every record
#: at once: its owner must still report its number, and one C{poll(2)} of
#: every registered number must not find it closed (POLLNVAL).  A record
#: whose descriptor was closed behind the reactor's back (which no event
#: will ever report, fact 2 of L{epollreactor._reactor}) is so lost, and
#: its owner told, within C{WATCH_PERIOD + WATCH_WAKE} seconds, however
#: many there are: the sweep costs 0.05-0.25 us per record, a Python
#: comparison and the kernel's look at one descriptor, where an
#: C{epoll_ctl(2)} each would cost 1-4 us (bench/README.md, "Lost
#: descriptors").
WATCH_PERIOD = 0.9

#: The most records the ring checks one by one per second, with an
#: C{EPOLL_CTL_MOD} each (1-4 us): the only check that sees a number closed
#: and taken at once by a file the reactor was not given (the sweep sees an
#: open number, as C{poll(2)} and C{select(2)} would).  Up to C{WATCH_RATE
#: * WATCH_PERIOD} records, each is checked so once per L{WATCH_PERIOD};
#: beyond, once per C{len(records) / WATCH_RATE} seconds.  The visits a
#: period owes are made with its sweep, in one batch, so that an idle
#: reactor wakes once per period and a busy one pays the checks'
#: bookkeeping once per period too.
WATCH_RATE = 1000.0

#: The shortest wait the reactor shortens for the checks: a check due
#: sooner waits this long, so that they never turn the loop into short
#: waits; the bound on finding a lost record is C{WATCH_PERIOD +
#: WATCH_WAKE} (0.95 s).  A short one lets the period, and so the sweeps'
#: cost, be as long as the bound allows.
WATCH_WAKE = 0.05

#: Generations live in the upper 32 bits of C{epoll_data}.
_GENERATION_LIMIT = 2**32

#: How many unknown generations are remembered, to tell a ghost (one that
#: comes again) from an event left in a batch (one that does not).
_STRAYS_KEPT = 4096

#: What a lost record's owner is told, by the kernel's error.
_LOST_BECAUSE = {
    errno.EBADF: "was closed without being removed from the reactor",
    errno.ENOENT: (
        "names another file now: the one it was added for was closed "
        "without being removed from the reactor"
    ),
}


def lostReason(fd: int, failure: int) -> OSError:
    """
    @return: the exception that says why the registration under C{fd} was
        lost, carrying the kernel's C{failure} as its errno.
    """
    because = _LOST_BECAUSE.get(failure)
    if because is None:
        return osError(failure)
    return OSError(failure, "descriptor {} {}".format(fd, because))


# What EPOLL_CTL_DEL says when our entry under a number is gone: the number
# is closed (EBADF), names another file (ENOENT), or names a file epoll
# cannot watch at all, such as a regular file dup2'd onto it (EPERM;
# epoll_ctl(2) checks the target file before it looks the number up).
_STALE_ERRNOS = frozenset([errno.EBADF, errno.ENOENT, errno.EPERM])


def _takeOver(
    control: Callable[[int, int, int, int], int],
    fd: int,
    mask: int,
    generation: int,
    exclusive: bool,
) -> int:
    """
    Give the kernel's entry under C{fd}, which L{Registrations.register}
    takes over, C{mask} and C{generation}: by C{EPOLL_CTL_MOD}, but for an
    entry known to be exclusive, or to become so, by C{EPOLL_CTL_DEL} and
    C{EPOLL_CTL_ADD}, since epoll_ctl(2) refuses with EINVAL to modify an
    exclusive entry or to make one exclusive (as L{Registrations._modify}
    does for a changed interest).  A C{MOD} refused with EINVAL names an
    exclusive entry we did not know of, which is deleted and added too.
    When the kernel has no entry (ENOENT: it dropped it as the old file
    was closed, fact 2), one is added.

    @param control: the epoll object's C{_control}.
    @param exclusive: whether the old entry or C{mask} is exclusive.
    @return: the errno of the call that failed, or 0.
    """
    if not exclusive:
        failure = control(EPOLL_CTL_MOD, fd, mask, generation)
        if failure != errno.EINVAL:
            if failure == errno.ENOENT:
                return control(EPOLL_CTL_ADD, fd, mask, generation)
            return failure
    failure = control(EPOLL_CTL_DEL, fd, 0, 0)
    if failure and failure != errno.ENOENT:
        return failure
    return control(EPOLL_CTL_ADD, fd, mask, generation)


def _now() -> float:
    """
    @return: L{monotonic}, looked up when called, so that a test can stop
        it for every table at once.
    """
    return monotonic()


#: A L{Registrations.checkAt} that never comes.
_NEVER = float("inf")

#: What L{Registrations.pending} holds: a rebuild owed before the next
#: wait.
FORKED = 1
GHOSTS = 2

#: What L{Registrations} calls for a record whose descriptor is gone, once
#: the record has ended: with its owner, whether the owner was reading, and
#: the exception its C{connectionLost} is to get (C{None}: the number was
#: closed without being removed, as a preen finds it).
Lose = Callable[[Any, bool, Optional[BaseException]], None]


class Registration:
    """
    One owner's registration under one descriptor number: all the reactor
    knows of it, in one place, so that nothing about it can disagree.

    @ivar owner: the selectable; C{None} once the registration has ended
        (removed, evicted or lost), which is how whatever still holds the
        record learns it.
    @ivar fd: the number it is registered under.
    @ivar generation: its tag in C{epoll_data} (fact 3).
    @ivar mask: the event mask the kernel has for it.
    @ivar reading: whether the owner wants C{doRead}.
    @ivar writing: whether the owner wants C{doWrite}.
    @ivar owedWrite: whether the owner, reading, asked to write while the
        kernel was not watching for EPOLLOUT: it gets one C{doWrite} after
        the next wait, and EPOLLOUT only if that leaves something unwritten
        (L{WritePolicy<epollreactor._writing.WritePolicy>}).
    @ivar tail: how many bytes its last C{doWrite}, which the write policy
        cut, left unsent; -1 when that call was not cut.
    @ivar heldSince: since when (L{time.monotonic}) that tail is held.
    """

    __slots__ = (
        "owner",
        "fd",
        "generation",
        "mask",
        "reading",
        "writing",
        "owedWrite",
        "tail",
        "heldSince",
    )

    def __init__(self, owner: Any, fd: int, generation: int, mask: int) -> None:
        self.owner = owner
        self.fd = fd
        self.generation = generation
        self.mask = mask
        self.reading = bool(mask & EPOLLIN)
        self.writing = bool(mask & EPOLLOUT)
        self.owedWrite = False
        self.tail = -1
        self.heldSince = 0.0

    def wanted(self) -> int:
        """
        @return: the mask its interests ask of the kernel: EPOLLIN while
            reading, EPOLLOUT while writing, but not while a write attempt
            is owed to a reader; an exclusive entry stays exclusive.
        """
        interest = (EPOLLIN if self.reading else 0) | (
            EPOLLOUT if self.writing and not (self.owedWrite and self.reading) else 0
        )
        return interest | (self.mask & EPOLLEXCLUSIVE) if interest else 0

    def __repr__(self) -> str:
        return "<Registration {} of {!r}, mask {:#x}, generation {}>".format(
            self.fd, self.owner, self.mask, self.generation
        )


class Ring:
    """
    Every record, in the order the routine checks visit them one by one,
    and where the next visit is; ended records too, until they are most
    of it (L{compact}).

    @ivar records: the records.
    @ivar cursor: the index of the next to visit.
    """

    __slots__ = ("records", "cursor")

    def __init__(self) -> None:
        """
        An empty ring.
        """
        self.records: List[Registration] = []
        self.cursor = 0

    def take(self, count: int) -> List[Registration]:
        """
        @return: the next C{count} records still registered, each once at
            most (one lap), the walk moved past them.
        """
        records = self.records
        taken: List[Registration] = []
        for _ in range(len(records)):
            if len(taken) >= count:
                break
            at = self.cursor
            if at >= len(records):
                at = 0
            self.cursor = at + 1
            if records[at].owner is not None:
                taken.append(records[at])
        return taken

    def compact(self, live: int) -> None:
        """
        Drop the ended records when they are most of the ring (a loop that
        adds and removes without turning, or connections that end faster
        than the walk passes them), keeping the walk where it was.

        @param live: how many records are registered.
        """
        records = self.records
        if len(records) > 2 * live + 64:
            kept = [record for record in records if record.owner is not None]
            self.cursor = sum(
                1 for record in records[: self.cursor] if record.owner is not None
            )
            records[:] = kept


class Registrations:
    """
    The records of one reactor's entries in an epoll instance's interest
    list, indexed the two ways the reactor looks them up.

    @ivar poller: the L{epoll} object; L{rebuild} renews the instance
        inside it.
    @ivar byNumber: each registered number's record.
    @ivar byOwner: each registered owner's record, by C{id()} of the owner,
        whatever its C{fileno()} says now; an owner holds one number.
    @ivar pending: L{FORKED} and L{GHOSTS}: a rebuild owed before the
        next wait.
    @ivar checkAt: when (by L{clock}) L{check} is next due: at once while
        a rebuild or a preen is owed.  The one attribute the reactor's loop
        tests.
    @ivar clock: the time, in seconds, that the checks keep: the
        reactor's loop reads the same one.
    """

    pending = 0
    checkAt = 0.0

    def __init__(self, lose: Lose) -> None:
        """
        Create the epoll instance, with no entries.

        @param lose: called with a record found lost (its number closed,
            naming another file, or no longer its owner's), once the
            record is forgotten; the reactor tells the owner.
        """
        # The 1024 is only a hint; the kernel ignores it since Linux 2.6.8.
        self.poller = epoll(1024)
        self.byNumber: Dict[int, Registration] = {}
        self.byOwner: Dict[int, Registration] = {}
        self._lose = lose
        self.clock: Callable[[], float] = _now
        #: Every registered number, asking for no event, for the sweep's
        #: one poll(2): select.poll keeps the pollfd array in C and builds
        #: it again only after a change, so a sweep is one call; it is no
        #: epoll object, and every CPython and PyPy on Linux has it.
        self._numbers = _pollObject()
        self._sweepAt = self.clock() + WATCH_PERIOD
        self._nextGeneration = 1
        self._strays: Set[int] = set()
        #: The records, as the checks visit them one by one; how many
        #: visits are owed by the watch's rate, and how many by a preen.
        self._ring = Ring()
        self._credit = 0.0
        self._urgent = 0
        self._checkedAt = self.clock()

    # Registering.

    def register(self, owner: Any, fd: int, mask: int) -> Registration:
        """
        Give the kernel an entry for C{fd} owned by C{owner}, with a new
        generation, and record it once the kernel has it.  Neither may be
        registered already, but for a record L{evict} left under C{fd},
        whose entry goes to C{owner}.

        @raise OSError: the kernel's error (EBADF for a closed descriptor,
            EPERM for a regular file), with nothing recorded.
        """
        if self.pending & FORKED:
            # The instance is the parent's too: leave it first.
            self.rebuild()
        # An event is checked against the record under its number, so a
        # generation need only differ from the one before under that number
        # (and from ghosts, which a rebuild clears): a counter will do.
        generation = self._nextGeneration
        self._nextGeneration = generation % (_GENERATION_LIMIT - 1) + 1
        control = self.poller._control
        evicted = self.byNumber.get(fd)
        if evicted is not None:
            # An evicted owner's entry: give it the new generation.
            exclusive = (mask | evicted.mask) & EPOLLEXCLUSIVE
            failure = _takeOver(control, fd, mask, generation, bool(exclusive))
        else:
            failure = control(EPOLL_CTL_ADD, fd, mask, generation)
            if failure == errno.EEXIST:
                # An entry we forgot, or one from before a fork; take it.
                exclusive = mask & EPOLLEXCLUSIVE
                failure = _takeOver(control, fd, mask, generation, bool(exclusive))
        if failure:
            if self.byNumber.pop(fd, None) is not None:
                self._numbers.unregister(fd)
            raise osError(failure)
        record = self.byNumber[fd] = Registration(owner, fd, generation, mask)
        self.byOwner[id(owner)] = record
        self._numbers.register(fd, 0)
        if self.checkAt == _NEVER:
            # The waker was alone, and never checked (check): be checked
            # again from the next iteration on.
            self.checkAt = 0.0
        self._ring.records.append(record)
        self._ring.compact(len(self.byNumber))
        return record

    def evict(self, record: Registration) -> None:
        """
        End C{record}, whose descriptor was closed behind our back since a
        new object is being added under its number, but keep it under the
        number, with its kernel entry, for L{register} to give to the
        newcomer.  Others may have been closed too: a preen begins.
        """
        del self.byOwner[id(record.owner)]
        record.owner = None
        self.suspectStale()

    def remove(self, record: Registration) -> bool:
        """
        Remove C{record}'s entry from the kernel, and the record.  An entry
        the kernel no longer has (EBADF, ENOENT, EPERM) is only forgotten,
        and others may have been closed behind our back too: a preen
        begins.

        @return: whether the entry was stale.
        @raise OSError: for any other failure of C{epoll_ctl(2)}, with the
            record kept.
        """
        if self.pending & FORKED:
            # The instance is the parent's too: leave it first.
            self.rebuild()
            if record.owner is None:
                return False
        failure = self.poller._control(EPOLL_CTL_DEL, record.fd, 0, 0)
        if failure:
            if failure not in _STALE_ERRNOS:
                raise osError(failure)
            self.suspectStale()
        self.forget(record)
        return bool(failure)

    def forget(self, record: Registration) -> None:
        """
        Forget C{record} without asking the kernel, for an entry the kernel
        no longer has; a record ended already stays ended.
        """
        if self.byNumber.get(record.fd) is record:
            del self.byNumber[record.fd]
            self._numbers.unregister(record.fd)
        if record.owner is not None:
            del self.byOwner[id(record.owner)]
            record.owner = None

    # Masks.

    def remask(self, record: Registration, mask: int) -> bool:
        """
        Give the kernel C{mask} for C{record}'s entry, for a changed
        interest or to check the entry is still there.  An entry the kernel
        dropped means the record is lost, with the kernel's error: EBADF,
        the number was closed; ENOENT, it names another file now (closed
        and reused, or C{dup2}'d over), which is never watched, nor read,
        on the old owner's behalf, though selectreactor and pollreactor,
        which know only numbers, would read it.

        @return: whether it was lost (and the owner told).
        """
        failure = self._modify(record, mask)
        if not failure:
            record.mask = mask
            return False
        self.lost(record, lostReason(record.fd, failure))
        return True

    def _modify(self, record: Registration, mask: int) -> int:
        """
        C{EPOLL_CTL_MOD} of C{record}'s entry to C{mask}, with its
        generation; but an exclusive entry, which the kernel refuses to
        modify (epoll_ctl(2): EPOLLEXCLUSIVE is allowed only with
        C{EPOLL_CTL_ADD}, and a C{MOD} of an exclusive entry fails with
        EINVAL), is deleted and added again: it goes to the end of the
        socket's wait queue, as nginx's re-add does on purpose.

        @return: the errno of the call that failed, or 0.
        """
        control = self.poller._control
        if not (record.mask | mask) & EPOLLEXCLUSIVE:
            return control(EPOLL_CTL_MOD, record.fd, mask, record.generation)
        failure = control(EPOLL_CTL_DEL, record.fd, 0, 0)
        return failure or control(EPOLL_CTL_ADD, record.fd, mask, record.generation)

    def apply(self, changed: Set[Registration]) -> None:
        """
        Give the kernel the mask each changed record wants now (emptying
        C{changed}); a change undone within the iteration costs no system
        call, and a record with no interest left is removed already.  One
        found lost means others may be closed behind our back too.
        """
        if self.pending & FORKED:
            self.rebuild()
        while changed:
            record = changed.pop()
            if record.owner is None:
                continue
            want = record.wanted()
            if want != record.mask and want and self.remask(record, want):
                self.suspectStale()

    def lost(self, record: Registration, reason: Optional[BaseException]) -> None:
        """
        C{record}'s descriptor is gone: forget it, then have its owner told
        (L{Lose}); a record ended already has no owner to tell.
        """
        owner = record.owner
        if owner is not None:
            self.forget(record)
            self._lose(owner, record.reading, reason)

    # Checks.

    def suspectStale(self) -> None:
        """
        A stale entry was found: others may be too.  Check every record
        (again) from here on, L{PREEN_BATCH} per iteration at least, without
        waiting, as selectreactor's C{_preenDescriptors} checks them all.
        """
        self._urgent = len(self._ring.records)
        self.checkAt = 0.0

    def check(self) -> None:
        """
        Before a wait, when L{checkAt} has come: leave an epoll instance
        shared with a parent process, sweep every record when a
        L{WATCH_PERIOD} has passed, check the records the ring owes (by
        L{WATCH_RATE}) or a preen owes, and renew an instance that holds
        ghosts.  The checks come before the ghost rebuild so that it starts
        from cleaner records.
        """
        if self.pending & FORKED:
            self.rebuild()
        now = self.clock()
        if now >= self._sweepAt or now < self._sweepAt - WATCH_PERIOD:
            # Due, or the clock went back: sweep now.
            self._sweepAt = now + WATCH_PERIOD
            self._sweep()
        ring = self._ring.records
        # Visits owed by the rate, for the time since the last check, but
        # never more than a whole round (a process that was stopped); a
        # clock that went back (another clock given) owes a period's.
        rate = min(len(ring) / WATCH_PERIOD, WATCH_RATE)
        elapsed = now - self._checkedAt
        if elapsed < 0:
            elapsed = WATCH_PERIOD
        credit = min(self._credit + rate * elapsed, len(ring))
        self._checkedAt = now
        budget = int(credit)
        if self._urgent:
            budget = max(budget, min(self._urgent, PREEN_BATCH))
        # One visit each, at most, in one check.
        budget = min(budget, len(self.byNumber))
        self._credit = max(credit - budget, 0.0)
        self._urgent = max(0, self._urgent - budget)
        self._visit(budget)
        if self.pending & GHOSTS:
            self.rebuild()
        if self._urgent or self.pending:
            self.checkAt = now
        elif len(self.byNumber) > 1:
            # The ring's visits are owed by the clock, and made with the
            # next sweep (WATCH_RATE).
            self.checkAt = self._sweepAt
        else:
            # The reactor's waker alone is not worth a wake-up.
            self.checkAt = _NEVER

    def _sweep(self) -> None:
        """
        Look at every record at once, at 0.05-0.25 us each: its owner must
        still report its number (a Python comparison), and the number must
        be open (one C{poll(2)}, timeout 0, over every registered number,
        asking for no event: a closed one comes back with POLLNVAL).  A
        record that fails either is checked as the ring checks it
        (L{_checkRecord}), which loses it.  A number closed and reused
        already by a file the reactor was not given passes both: the ring
        finds it (L{WATCH_RATE}).
        """
        suspects = []
        # The ring holds every record (and ended ones, whose owner is None
        # and fails here): no copy to make, and a fileno() that registers
        # another only appends to it.
        for record in self._ring.records:
            try:
                if record.owner.fileno() == record.fd:
                    continue
            except Exception:
                pass
            suspects.append(record)
        try:
            polled = self._numbers.poll(0)
        except OSError:
            # ENOMEM, or EINVAL for more numbers than RLIMIT_NOFILE allows
            # now (poll(2)): the ring and the next sweep are left.
            polled = []
        byNumber = self.byNumber
        for fd, revents in polled:
            if revents & POLLNVAL and fd in byNumber:
                suspects.append(byNumber[fd])
        for record in suspects:
            if record.owner is not None:
                self._checkRecord(record)

    def _visit(self, count: int) -> None:
        """
        Check the next C{count} records of the ring (L{_checkRecord}).
        """
        for record in self._ring.take(count):
            if record.owner is not None:
                self._checkRecord(record)
        self._ring.compact(len(self.byNumber))

    def _checkRecord(self, record: Registration) -> None:
        """
        Check one record: its owner must still report the number it is
        registered under, and the kernel must still hold its entry
        (C{EPOLL_CTL_MOD} with the same mask and generation changes nothing
        when it does, fact 2; when it does not, L{remask} loses it).  An
        owner that reports another number, or whose C{fileno()} raises, is
        lost, and its kernel entry goes.
        """
        control = self.poller._control
        try:
            current = record.owner.fileno()
            reason: Optional[BaseException] = None
        except Exception as e:
            current, reason = None, e
        if current == record.fd:
            # remask, for the kernel's answer, only if the entry is gone.
            if control(EPOLL_CTL_MOD, current, record.mask, record.generation):
                self.remask(record, record.mask)
            return
        # The number may still name the owner's file, registered: take it
        # out, or its events would come back as strays.  If the number
        # names another file now, this fails harmlessly.
        control(EPOLL_CTL_DEL, record.fd, 0, 0)
        self.lost(record, reason)

    def stray(self, generation: int) -> None:
        """
        An event came with a generation that no record under its number
        has.

        The first time, it is most likely one left in a batch by a record
        removed or replaced since (fact 3).  If the same generation comes
        again in a later wait (one wait reports each entry once), it is a
        ghost: an entry the kernel keeps for an open file that survives in
        a duplicate after its number was closed (fact 1).  Level-triggered,
        it would wake every wait, and C{EPOLL_CTL_DEL} cannot name it, so
        only a new epoll instance is rid of it (celery 4185, libuv 1468).
        """
        strays = self._strays
        if generation in strays:
            self.pending |= GHOSTS
            self.suspectStale()
            return
        if len(strays) >= _STRAYS_KEPT:
            # Bounded: one-off stale events must not accumulate forever.
            strays.clear()
        strays.add(generation)

    def rebuild(self) -> None:
        """
        Renew the epoll instance inside L{poller} with the entries of the
        records: in a forked child, to stop sharing the parent's interest
        list (fact 6), and to be rid of ghosts (fact 1).  First, unless the
        instance is a parent's too (whose masks an C{EPOLL_CTL_MOD} would
        change), each record is checked (L{_checkRecord}): a ghost comes
        from a number whose file was closed or replaced, and a new
        instance would otherwise watch the file its number names now on
        the old owner's behalf.  A record the new instance refuses (EBADF:
        its number was closed behind our back) is lost.
        """
        if not self.pending & FORKED:
            for record in list(self.byNumber.values()):
                if record.owner is not None:
                    self._checkRecord(record)
        self.pending &= ~(FORKED | GHOSTS)
        self._strays.clear()
        self.poller._renew()
        control = self.poller._control
        refused = []
        for record in list(self.byNumber.values()):
            failure = control(EPOLL_CTL_ADD, record.fd, record.mask, record.generation)
            if failure:
                refused.append((record, failure))
        for record, failure in refused:
            self.lost(record, lostReason(record.fd, failure))

    def markForked(self) -> None:
        """
        This process is a forked child: the epoll instance is shared with
        the parent until L{rebuild} runs (fact 6).
        """
        self.pending |= FORKED
        self.checkAt = 0.0
