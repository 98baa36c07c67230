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
   checked once per L{WATCH_PERIOD} by a sweep (in slices of
   L{SWEEP_SLICE} beside more): its owner must still
   report its number, and an C{EPOLL_CTL_ADD} of that number must fail
   with EEXIST, the kernel's word that it holds our entry for the very
   file the number names now.  A record whose number is closed or names
   another file is lost, never watched again for the new file (its owner
   would read another connection's bytes), within C{WATCH_PERIOD +
   WATCH_WAKE} (0.95 s) however many there are, for 0.75-0.8 us of CPU a
   record a period (8 ms a second beside 10,000).
 - A registration the kernel keeps for a file no number names any more
   (a ghost, fact 1), or one shared with a parent after C{fork()} (fact 6),
   is left behind with the whole epoll instance: L{Registrations.rebuild}
   renews it from the records.
"""

import errno
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
    EVENT,
    epoll_ctl,
    getErrno,
    osError,
)

__all__ = ["PREEN_BATCH", "Registration", "Registrations", "Ring"]

#: How many records one iteration checks while a preen is under way:
#: after a stale entry was found, every record is checked within
#: C{ceil(len(records) / PREEN_BATCH)} iterations, none of which waits,
#: or by the next sweep, whichever comes first.
PREEN_BATCH = 32

#: Every this many seconds, busy or idle, one sweep checks every record:
#: its owner must still report its number, and the kernel must still hold
#: our entry for the file that number names now.  For that, one
#: C{epoll_ctl(2)} a record is the cheapest question (bench/README.md,
#: "Lost descriptors"): an C{EPOLL_CTL_ADD} that fails with EEXIST (the
#: kernel keys entries by number and file, fact 1, and looks the pair up
#: before it adds anything), 0.6-0.85 us with the owner's C{fileno()};
#: an C{EPOLL_CTL_MOD} also polls the file (0.8-1.2 us), C{fstat(2)}
#: costs 0.6-1.0 us and needs an identity recorded beforehand,
#: C{kcmp(2)}'s C{KCMP_EPOLL_TFD} walks the interest list for each
#: (74 us beside 10,000), and C{/proc/self/fdinfo} of the instance costs
#: the kernel about 1 us an entry to print (and cannot see a number
#: C{dup2}'d over while its old file lives on).  A record whose
#: descriptor was closed behind the reactor's back (which no event will
#: ever report, fact 2 of L{epollreactor._reactor}), or whose number names
#: another file now, is so lost, and its owner told, within
#: C{WATCH_PERIOD + WATCH_WAKE} seconds, however many there are.
WATCH_PERIOD = 0.9

#: The shortest wait the reactor shortens for the checks: a check due
#: sooner waits this long, so that they never turn the loop into short
#: waits; the bound on finding a lost record is C{WATCH_PERIOD +
#: WATCH_WAKE} (0.95 s).  A short one lets the period, and so the sweeps'
#: cost, be as long as the bound allows.
WATCH_WAKE = 0.05

#: The most records the sweep checks in one go: beside more, each period's
#: sweep is cut into slices this long, spread over the period in ring
#: order, each record still checked once a period at the same point of
#: it.  Beside 9,000 the longest check fell from 8-12 ms (all at once) to
#: 2.6-3.8 ms; slices of 1,000 held it to 1.6-1.8 ms but cost 20-30% more
#: CPU, each slice starting cold (bench/README.md, "Lost descriptors").
SWEEP_SLICE = 2500

#: What the sweep's C{EPOLL_CTL_ADD} asks for: no event, and no data.  It
#: fails with EEXIST for every record still ours, changing nothing; where
#: it succeeds, the number names a file the reactor was not given, and the
#: entry is taken out again before any wait can report it.
_PROBE = EVENT.pack(0, 0, 0)

#: How many ended records the ring keeps beyond twice the registered ones
#: before L{Ring.compact} drops them.
COMPACT_SLACK = 64

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
    @ivar segment: its socket's MSS as the write policy last read it.
    @ivar noDelay: whether its socket had C{TCP_NODELAY} set then.
    @ivar fresh: how many more decisions the write policy may take on
        those two before it reads them again; 0: read them first.
    @ivar settled: whether C{segment} stands until that reading: the
        peer's window showed the MSS can no longer grow.
    @ivar widest: the widest send window its socket has reported.
    @ivar quiet: true only during the write attempt owed to it after a
        wait that reported no event, so no input waited on it then, which
        the write policy need not ask again.
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
        "segment",
        "noDelay",
        "fresh",
        "settled",
        "widest",
        "quiet",
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
        self.segment = 0
        self.noDelay = False
        self.fresh = 0
        self.settled = False
        self.widest = 0
        self.quiet = False

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
    Every record, in the order a preen visits them one by one, and where
    the next visit is; ended records too, until they are most of it
    (L{compact}).  The sweep walks it whole.

    @ivar records: the records.
    @ivar cursor: the index of the next to visit.
    @ivar swept: how many of them the sweep has checked in this period.
    """

    __slots__ = ("records", "cursor", "swept")

    def __init__(self) -> None:
        """
        An empty ring.
        """
        self.records: List[Registration] = []
        self.cursor = 0
        self.swept = 0

    def lap(self, share: float) -> List[Registration]:
        """
        @param share: how much of the sweep's period has passed: at 1, all
            of it, and the next call starts the next period.
        @return: the first C{share} of the records, less those a call
            returned before in this period.
        """
        records = self.records
        end = len(records) if share >= 1 else int(len(records) * share)
        taken = records[self.swept : end]
        self.swept = 0 if share >= 1 else max(self.swept, end)
        return taken

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
        if len(records) > 2 * live + COMPACT_SLACK:
            kept = [record for record in records if record.owner is not None]
            self.cursor, self.swept = (
                sum(1 for record in records[:at] if record.owner is not None)
                for at in (self.cursor, self.swept)
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
        #: When this period of the sweep began.
        self._period = self.clock()
        self._nextGeneration = 1
        self._strays: Set[int] = set()
        #: The records, as the sweep and a preen visit them; how many
        #: visits a preen still owes.
        self._ring = Ring()
        self._urgent = 0

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
            self.byNumber.pop(fd, None)
            raise osError(failure)
        record = self.byNumber[fd] = Registration(owner, fd, generation, mask)
        self.byOwner[id(owner)] = record
        if self.checkAt == _NEVER:
            # The waker was alone, and never checked (check): be checked
            # again from the next iteration on.
            self.checkAt = 0.0
        ring = self._ring
        ring.records.append(record)
        # Ring.compact's test, here to spare the call (every registration).
        if len(ring.records) > 2 * len(self.byNumber) + COMPACT_SLACK:
            ring.compact(len(self.byNumber))
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
        if record.owner is not None:
            del self.byOwner[id(record.owner)]
            record.owner = None

    # Masks.

    def remask(self, record: Registration, mask: int) -> bool:
        """
        Give the kernel C{mask} for C{record}'s entry, for a changed
        interest.  An entry the kernel
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
        shared with a parent process, sweep the rest of the records when a
        L{WATCH_PERIOD} has passed, or a L{SWEEP_SLICE} of them when their
        share of the period has, else check the records a preen owes
        (L{PREEN_BATCH}), and renew an instance that holds ghosts.  The
        checks come before the ghost rebuild so that it starts from
        cleaner records.
        """
        if self.pending & FORKED:
            self.rebuild()
        now = self.clock()
        share = (now - self._period) / WATCH_PERIOD
        if not self._period <= now < self._period + WATCH_PERIOD:
            # The period is over, or the clock went back: the rest now,
            # and the next period from here.  Every record has been
            # checked, so a preen under way has nothing left to do.
            self._period = now
            self._urgent = 0
            self._sweep(self._ring.lap(1.0))
        elif share * len(self._ring.records) >= self._ring.swept + SWEEP_SLICE:
            self._sweep(self._ring.lap(share))
        elif self._urgent:
            # One visit each, at most, in one check.
            budget = min(self._urgent, PREEN_BATCH, len(self.byNumber))
            self._urgent = max(0, self._urgent - max(budget, 1))
            self._visit(budget)
        if self.pending & GHOSTS:
            self.rebuild()
        if self._urgent or self.pending:
            self.checkAt = now
        elif len(self.byNumber) > 1:
            # When the next slice is due, or the period's end.
            ring = self._ring
            share = (ring.swept + SWEEP_SLICE) / max(len(ring.records), 1)
            self.checkAt = self._period + WATCH_PERIOD * min(share, 1.0)
        else:
            # The reactor's waker alone is not worth a wake-up.
            self.checkAt = _NEVER

    def _sweep(self, records: List[Registration]) -> None:
        """
        Check C{records}, for 0.6-0.85 us each (L{WATCH_PERIOD}):
        its owner must still report its number (a Python comparison), and
        an C{EPOLL_CTL_ADD} of the number must fail with EEXIST: the kernel
        holds an entry for that number and the file it names now, which can
        only be ours.  A record that fails either is checked again as a
        preen checks it (L{_checkRecord}), which loses it, with the
        kernel's own answer.
        """
        suspects = []
        epfd = self.poller._epfd
        # errno read at once may be a signal handler's (repeatFailed): a
        # record it makes look lost is only checked again.  The ring holds
        # ended records too, whose owner is None and fails here.
        for record in records:
            fd = record.fd
            try:
                if record.owner.fileno() == fd:
                    if not epoll_ctl(epfd, EPOLL_CTL_ADD, fd, _PROBE):
                        # A newcomer's entry, ours for an instant: out.
                        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, None)
                    elif getErrno() == errno.EEXIST:
                        continue
            except Exception:
                # An ended record (no owner), or a fileno() that raises.
                pass
            suspects.append(record)
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
        registered under, and the kernel must still hold its entry: an
        C{EPOLL_CTL_ADD} of that number fails with EEXIST, changing
        nothing, only then (fact 1).  Any other failure loses the record
        with the kernel's error (EBADF: closed; EPERM: a file epoll cannot
        watch has the number now); success means the number names a file
        the reactor was not given, whose entry is taken out at once, and
        the record is lost as ENOENT would say.  An owner that reports
        another number, or whose C{fileno()} raises, is lost, and its
        kernel entry goes.
        """
        control = self.poller._control
        try:
            current = record.owner.fileno()
            reason: Optional[BaseException] = None
        except Exception as e:
            current, reason = None, e
        if current == record.fd:
            failure = control(EPOLL_CTL_ADD, current, 0, 0)
            if failure == errno.EEXIST:
                return
            if not failure:
                # The newcomer's entry, ours for an instant: never waited on.
                control(EPOLL_CTL_DEL, current, 0, 0)
                failure = errno.ENOENT
            self.lost(record, lostReason(record.fd, failure))
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
