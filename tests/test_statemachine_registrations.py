"""
L{Registrations}, the reactor's records of its entries in an epoll interest
list, driven directly through its interface against the kernel's view of
the same instance (C{/proc/self/fdinfo}, L{tests.kernel.interestList}), on
real socket pairs that are closed and replaced behind its back.

After every step:

 - each record whose file is still open is in the kernel, with the
   record's mask, and with C{epoll_data} naming the number and the record's
   generation (fact 3 of L{epollreactor._reactor});
 - the kernel holds nothing the records do not;
 - every record is found by its number and by its owner, and has one.

The preen and rebuild steps are driven too: a preen checks at most
L{PREEN_BATCH} records per call, and every record that existed when it
began within the bound its docstring states; a record found lost ends, and
its owner is reported with the kernel's error.
"""

import errno
import math
import os
import socket
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Set, Tuple

import pytest
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from epollreactor import _registrations
from epollreactor._libc import EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT
from epollreactor._registrations import (
    GHOSTS,
    PREEN_BATCH,
    WATCH_PERIOD,
    WATCH_WAKE,
    Registration,
    Registrations,
)
from tests.kernel import interestList

_MASKS = st.sampled_from([EPOLLIN, EPOLLOUT, EPOLLIN | EPOLLOUT])
_MAX_OPEN = 12

#: What the table reported lost: owner, whether it was reading, reason.
Lost = Tuple[Any, bool, Optional[BaseException]]


class Owner:
    """
    An owner that reports the number it was registered under, as a
    selectable does, and counts how often it was asked.
    """

    def __init__(self, name: str, fd: int) -> None:
        """
        @param name: for Hypothesis's notes.
        @param fd: what its C{fileno()} reports.
        """
        self.name = name
        self.fd = fd
        self.asked = 0

    def fileno(self) -> int:
        """
        @return: its number.
        """
        self.asked += 1
        return self.fd

    def __repr__(self) -> str:
        """
        @return: the name.
        """
        return self.name


class Clock:
    """
    The time L{epollreactor._registrations} reads, moved by the test alone.
    """

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """
        @return: the time now.
        """
        return self.now


@pytest.fixture(autouse=True)
def stillClock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """
    Stop the table's clock, so that the routine checks (L{WATCH_PERIOD})
    visit nothing unless a test moves it: what a check visits is then what
    the test asked for.
    """
    clock = Clock()
    monkeypatch.setattr(_registrations, "monotonic", clock)
    return clock


def preening(table: Registrations) -> bool:
    """
    @return: whether a preen is under way: the table wants to be checked
        again before the clock moves.
    """
    return table.checkAt <= _registrations.monotonic()


def newTable() -> Tuple[Registrations, List[Lost]]:
    """
    @return: a table, and the list it reports lost records into.
    """
    lost: List[Lost] = []
    table = Registrations(lambda *report: lost.append(report))
    return table, lost


class RegistrationsMachine(RuleBasedStateMachine):
    """
    Random programs of L{Registrations.register}, C{remask}, C{remove},
    C{forget}, C{evict}, C{check} (the preen) and C{rebuild}, with
    descriptors closed and replaced behind the table's back.

    @ivar open: every descriptor number the machine has open.
    @ivar gone: numbers whose entry the kernel dropped (their file was
        closed or replaced) while the table may still hold them.
    """

    def __init__(self) -> None:
        """
        A table, and nothing open yet.
        """
        super().__init__()
        self.table, self.lost = newTable()
        self.open: List[int] = []
        self.gone: Set[int] = set()
        self.count = 0

    def teardown(self) -> None:
        """
        Close the epoll instance and every descriptor.
        """
        self.table.poller.close()
        for number in self.open:
            os.close(number)

    def _pick(self, index: int) -> int:
        return self.open[index % len(self.open)]

    def _registered(self, index: int) -> Registration:
        numbers = sorted(self.table.byNumber)
        return self.table.byNumber[numbers[index % len(numbers)]]

    def _checkLost(self, gone: Set[int]) -> None:
        """
        Every record reported lost since had its file closed, or replaced
        under its number, and was told which by the errno: EBADF for a
        closed number, ENOENT for one that names another file now.
        """
        for owner, _, reason in self.lost:
            assert owner.fd in gone, (owner, reason)
            assert isinstance(reason, OSError), reason
            expected = errno.ENOENT if owner.fd in self.open else errno.EBADF
            assert reason.errno == expected, (owner, reason)
            assert id(owner) not in self.table.byOwner
            self.gone.discard(owner.fd)
        del self.lost[:]

    @precondition(lambda self: len(self.open) < _MAX_OPEN)
    @rule()
    def openPair(self) -> None:
        """
        Open a socket pair.
        """
        left, right = socket.socketpair()
        self.open += [left.detach(), right.detach()]

    @precondition(lambda self: self.open)
    @rule(index=st.integers(0, 63), mask=_MASKS)
    def register(self, index: int, mask: int) -> None:
        """
        Register a new owner under an open number; one held already by a
        stale owner is evicted first, as the reactor does.
        """
        fd = self._pick(index)
        stale = self.table.byNumber.get(fd)
        if stale is not None:
            owner = stale.owner
            self.table.evict(stale)
            assert stale.owner is None and id(owner) not in self.table.byOwner
            # A preen of the others begins.
            assert preening(self.table)
        self.count += 1
        owner = Owner("owner{}".format(self.count), fd)
        record = self.table.register(owner, fd, mask)
        self.gone.discard(fd)
        assert self.table.byNumber[fd] is record and record.owner is owner
        assert (record.reading, record.writing) == (
            bool(mask & EPOLLIN),
            bool(mask & EPOLLOUT),
        )

    @precondition(lambda self: self.table.byNumber)
    @rule(index=st.integers(0, 63), mask=_MASKS)
    def remask(self, index: int, mask: int) -> None:
        """
        Change a record's mask: it succeeds while its file is there; a
        record whose number is closed (EBADF) or names another file now
        (ENOENT) is lost, and the new file is not watched for its owner.
        """
        record = self._registered(index)
        fd = record.fd
        lost = self.table.remask(record, mask)
        if fd not in self.gone:
            assert not lost and record.mask == mask and not self.lost
            return
        assert lost and record.owner is None and fd not in self.table.byNumber
        assert len(self.lost) == 1
        self._checkLost({fd})

    @precondition(lambda self: self.table.byNumber)
    @rule(index=st.integers(0, 63))
    def remove(self, index: int) -> None:
        """
        Remove a record: never raises because its file is gone, which it
        reports as stale.
        """
        record = self._registered(index)
        owner = record.owner
        assert self.table.remove(record) == (record.fd in self.gone)
        assert record.fd not in self.table.byNumber
        assert id(owner) not in self.table.byOwner and record.owner is None
        self.gone.discard(record.fd)

    @precondition(lambda self: self.table.byNumber)
    @rule(index=st.integers(0, 63))
    def forgetGone(self, index: int) -> None:
        """
        Forget a record whose file is gone, as the reactor does for a lost
        descriptor.
        """
        record = self._registered(index)
        if record.fd in self.gone:
            self.table.forget(record)
            assert record.owner is None
            self.gone.discard(record.fd)

    @precondition(lambda self: self.open)
    @rule(index=st.integers(0, 63))
    def closeBehindBack(self, index: int) -> None:
        """
        Close a descriptor without telling the table: the kernel drops its
        entry (the file had no other descriptor).
        """
        fd = self._pick(index)
        self.open.remove(fd)
        os.close(fd)
        if fd in self.table.byNumber:
            self.gone.add(fd)
        note("closed {}".format(fd))

    @precondition(lambda self: self.table.byNumber)
    @rule(index=st.integers(0, 63))
    def replaceBehindBack(self, index: int) -> None:
        """
        Put a new socket under a registered number with C{dup2}: the old
        file is closed and the kernel drops its entry, though the number is
        open.
        """
        fd = self._registered(index).fd
        if fd not in self.open:
            return
        left, right = socket.socketpair()
        os.dup2(left.fileno(), fd)
        left.close()
        self.open.append(right.detach())
        self.gone.add(fd)
        note("replaced {}".format(fd))

    @rule(suspect=st.booleans())
    def preen(self, suspect: bool) -> None:
        """
        Run one check, after suspecting stale entries or not: at most
        L{PREEN_BATCH} owners are asked for their number; records whose
        number is closed or names another file are lost.
        """
        if suspect:
            self.table.suspectStale()
        owners = [record.owner for record in self.table.byNumber.values()]
        self.table.check()
        assert sum(owner.asked for owner in owners) <= PREEN_BATCH
        for owner in owners:
            owner.asked = 0
        self._checkLost(self.gone)
        self.gone = {fd for fd in self.gone if fd in self.table.byNumber}

    @rule()
    def rebuild(self) -> None:
        """
        Renew the epoll instance: records whose number is closed (EBADF)
        or names another file now (ENOENT) are lost first, so that the new
        instance never watches a new file for an old owner; the others are
        carried over.
        """
        old = self.table.poller.fileno()
        gone = {fd for fd in self.table.byNumber if fd in self.gone}
        self.table.rebuild()
        assert self.table.poller.fileno() != old
        assert {owner.fd for owner, _, _ in self.lost} == gone
        self._checkLost(gone)
        self.gone.clear()
        # A rebuild asks every owner for its number; a preen's bound counts
        # only its own questions.
        for record in self.table.byNumber.values():
            record.owner.asked = 0

    @rule()
    def sweep(self) -> None:
        """
        The bound passes on the table's clock (L{WATCH_PERIOD} and
        L{WATCH_WAKE}): the sweep loses every record whose number was
        closed or names another file now.
        """
        gone = self.gone & set(self.table.byNumber)
        _registrations.monotonic.now += WATCH_PERIOD + WATCH_WAKE  # type: ignore[attr-defined]
        # Due (a table with one record, which the reactor's waker never
        # is alone, does not ask to be checked).
        self.table.check()
        assert {owner.fd for owner, _, _ in self.lost} == gone
        self._checkLost(self.gone)
        assert not self.gone & set(self.table.byNumber)
        self.gone.clear()
        for record in self.table.byNumber.values():
            record.owner.asked = 0

    @invariant()
    def kernelAgrees(self) -> None:
        """
        The kernel holds exactly the entries of the records whose file is
        there, with their masks, numbers and generations.
        """
        table = self.table
        expected = {
            fd: (record.mask | EPOLLERR | EPOLLHUP, (fd, record.generation))
            for fd, record in table.byNumber.items()
            if fd not in self.gone
        }
        kernel = {
            fd: (registration.events, registration.words)
            for fd, registration in interestList(table.poller.fileno()).items()
        }
        assert kernel == expected

    @invariant()
    def lookupsAgree(self) -> None:
        """
        Every record is found by its number and by its owner, and has one.
        """
        table = self.table
        assert len(table.byOwner) == len(table.byNumber)
        for fd, record in table.byNumber.items():
            assert record.fd == fd and record.owner is not None
            assert table.byOwner[id(record.owner)] is record


TestRegistrationsMachine = RegistrationsMachine.TestCase


def _socketPairs(count: int) -> List[int]:
    """
    @return: the first ends of C{count} new socket pairs, then their peers.
    """
    lefts, rights = [], []
    for _ in range(count):
        left, right = socket.socketpair()
        lefts.append(left.detach())
        rights.append(right.detach())
    return lefts + rights


@contextmanager
def _registeredOwners(count: int) -> Iterator[Tuple[Registrations, List[Owner]]]:
    """
    @return: a context with a new table (L{newTable}) and C{count} owners
        registered in it for reading, each on a new socket pair; the table
        and the sockets are closed afterwards, and it fails if any owner
        was lost meanwhile.
    """
    numbers = _socketPairs(count)
    table, lost = newTable()
    owners = [Owner(str(fd), fd) for fd in numbers[:count]]
    try:
        for owner in owners:
            table.register(owner, owner.fd, EPOLLIN)
        yield table, owners
        assert not lost
    finally:
        table.poller.close()
        for fd in numbers:
            os.close(fd)


@pytest.mark.parametrize("count", [1, PREEN_BATCH - 1, PREEN_BATCH, 300])
def test_preenReachesEveryEntryWithinItsBound(count: int) -> None:
    """
    Once a stale entry was found, every record that existed then is checked
    (its owner asked for its number) within C{ceil(2 * N / PREEN_BATCH) + 1}
    checks, also when the preen was under way and is extended (not
    restarted) by the new finding, and no check visits more than
    L{PREEN_BATCH}.
    """
    with _registeredOwners(count) as (table, owners):
        table.suspectStale()
        for _ in range(3):
            # Stale entries found while the preen is under way.
            table.check()
            assert sum(owner.asked for owner in owners) <= PREEN_BATCH
            for owner in owners:
                owner.asked = 0
            table.suspectStale()
        seen: Set[int] = set()
        calls = 0
        while preening(table):
            table.check()
            assert sum(owner.asked for owner in owners) <= PREEN_BATCH
            seen.update(owner.fd for owner in owners if owner.asked)
            for owner in owners:
                owner.asked = 0
            calls += 1
        assert seen == set(table.byNumber)
        assert calls <= math.ceil(2 * count / PREEN_BATCH) + 1
        assert not preening(table)


def test_registerFailureRecordsNothing() -> None:
    """
    L{Registrations.register} of a closed number raises the kernel's EBADF
    and records nothing; of a number that names a regular file, EPERM.
    """
    table, _ = newTable()
    left, right = socket.socketpair()
    fd = left.detach()
    os.close(fd)
    owner = Owner("closed", fd)
    try:
        with pytest.raises(OSError) as raised:
            table.register(owner, fd, EPOLLIN)
        assert raised.value.errno == errno.EBADF
        assert (table.byNumber, table.byOwner) == ({}, {})
        with open("/proc/self/stat") as regular:
            with pytest.raises(OSError) as raised:
                table.register(owner, regular.fileno(), EPOLLIN)
        assert raised.value.errno == errno.EPERM
        assert interestList(table.poller.fileno()) == {}
    finally:
        table.poller.close()
        right.close()


def test_strayTwiceAsksForRebuild() -> None:
    """
    A generation no record has, seen once, is remembered; seen again, it is
    a ghost: a rebuild and a preen are owed, and a check does both.
    """
    table, lost = newTable()
    try:
        table.stray(12345)
        assert not table.pending
        table.stray(12345)
        assert table.pending & GHOSTS and preening(table)
        old = table.poller.fileno()
        table.check()
        assert table.poller.fileno() != old
        assert not table.pending and not preening(table) and not lost
    finally:
        table.poller.close()


def test_generationsDifferUnderANumber() -> None:
    """
    Records registered, removed and registered again under one number never
    share a generation with the record before, so an event queued for a
    removed record cannot name its successor.
    """
    numbers = _socketPairs(4)
    table, _ = newTable()
    last = dict.fromkeys(numbers[:4], 0)
    try:
        for round in range(50):
            for fd in numbers[:4]:
                if fd in table.byNumber:
                    table.remove(table.byNumber[fd])
                record = table.register(
                    Owner("{}/{}".format(fd, round), fd), fd, EPOLLIN
                )
                assert record.generation != last[fd]
                last[fd] = record.generation
    finally:
        table.poller.close()
        for fd in numbers:
            os.close(fd)


def test_preenChecksOnlyRecordsStillRegistered() -> None:
    """
    A preen never checks a record removed since it was asked for, nor one
    record twice in one check, so that an owner it finds gone is not met
    again in the same batch.

    Found by C{RegistrationsMachine}: a preen asked for among several
    entries, most of them removed before the batch, named the one left as
    often as there had been entries.
    """
    numbers = _socketPairs(3)
    table, _ = newTable()
    owners = [Owner(str(fd), fd) for fd in numbers[:3]]
    try:
        records = [table.register(owner, owner.fd, EPOLLIN) for owner in owners]
        table.suspectStale()
        table.remove(records[1])
        table.remove(records[2])
        table.check()
        assert [owner.asked for owner in owners] == [1, 0, 0]
        for _ in range(2):
            table.check()
        assert owners[0].asked <= 3 and [o.asked for o in owners[1:]] == [0, 0]
        assert not preening(table)
    finally:
        table.poller.close()
        for fd in numbers:
            os.close(fd)


@pytest.mark.parametrize("count", [2, 100, 1500])
def test_everyRecordIsCheckedWithinTheWatchPeriod(
    count: int, stillClock: Clock
) -> None:
    """
    With no stale entry found, the table still checks every record once
    per L{WATCH_PERIOD} of its clock, in one sweep or its slices, whenever it is asked
    once L{checkAt<Registrations.checkAt>} has come, however often or
    seldom that is: here a check per tenth of the period, then one after
    two periods, which owes one sweep, not two.
    """
    with _registeredOwners(count) as (table, owners):
        for step in (WATCH_PERIOD / 10,) * 10 + (2 * WATCH_PERIOD,):
            before = sum(owner.asked for owner in owners)
            stillClock.now += step
            if table.checkAt <= stillClock.now:
                table.check()
                # One sweep's look at each, at most.
                assert sum(owner.asked for owner in owners) - before <= count
        assert all(owner.asked == 2 for owner in owners), owners


def test_aSweepBesideManyIsCutIntoSlices(
    stillClock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Beside more than L{SWEEP_SLICE} records, each period's sweep is cut
    into slices: a table checked whenever L{checkAt<Registrations.checkAt>}
    comes looks at no more than L{SWEEP_SLICE} owners in one check, and
    still at every owner once a L{WATCH_PERIOD}.  (A slice of 100 here,
    so that a few hundred descriptors show it.)
    """
    slice = 100
    monkeypatch.setattr(_registrations, "SWEEP_SLICE", slice)
    with _registeredOwners(2 * slice + slice // 2) as (table, owners):
        table.check()
        checks = 0
        end = stillClock.now + 2 * WATCH_PERIOD
        while stillClock.now < end:
            before = sum(owner.asked for owner in owners)
            # When it asks, or a little later: never the same time again.
            stillClock.now = max(table.checkAt, stillClock.now + WATCH_PERIOD / 1000)
            table.check()
            checks += 1
            assert sum(owner.asked for owner in owners) - before <= slice
        assert checks >= 6
        assert all(owner.asked == 2 for owner in owners), owners


def test_aRecordClosedBehindItsBackIsLostByTheRoutineChecks(
    stillClock: Clock,
) -> None:
    """
    A registration whose descriptor was closed without a word, which no
    event will ever report, is found by the routine checks within a
    L{WATCH_PERIOD} of the table's clock, and its owner reported lost with
    the kernel's EBADF: no stale entry had to be found first.
    """
    numbers = _socketPairs(3)
    table, lost = newTable()
    owners = [Owner(str(fd), fd) for fd in numbers[:3]]
    try:
        for owner in owners:
            table.register(owner, owner.fd, EPOLLIN)
        os.close(numbers[1])
        for _ in range(10):
            stillClock.now += WATCH_PERIOD / 10
            if table.checkAt <= stillClock.now:
                table.check()
        assert [(owner, reason.errno) for owner, _, reason in lost] == [  # type: ignore[union-attr]
            (owners[1], errno.EBADF)
        ]
        assert numbers[1] not in table.byNumber
    finally:
        table.poller.close()
        for fd in numbers[:1] + numbers[2:]:
            os.close(fd)


#: Many records: more than the 900 that one-by-one checks at 1,000 a
#: second reach in a L{WATCH_PERIOD} (the design before the sweep's probe).
_MANY = 2000


@pytest.mark.parametrize("how", ["closed", "fileno -1"])
def test_theSweepLosesAClosedNumberAmongManyWithinAPeriod(
    stillClock: Clock, how: str
) -> None:
    """
    Among L{_MANY} records, one whose
    number was closed behind the table's back (its owner still reporting
    it), or whose owner reports -1 now, is lost within one period of the
    table's clock: the sweep checks every record at once.  The closed one
    is reported with EBADF, the other with no exception (the reactor says
    its descriptor went away).
    """
    numbers = _socketPairs(_MANY)
    table, lost = newTable()
    owners = [Owner(str(fd), fd) for fd in numbers[:_MANY]]
    victim = owners[_MANY // 2]
    try:
        for owner in owners:
            table.register(owner, owner.fd, EPOLLIN)
        if how == "closed":
            os.close(victim.fd)
        else:
            victim.fd = -1
        for _ in range(10):
            stillClock.now += WATCH_PERIOD / 10
            if table.checkAt <= stillClock.now:
                table.check()
        assert [owner for owner, _, _ in lost] == [victim]
        reason = lost[0][2]
        if how == "closed":
            assert isinstance(reason, OSError) and reason.errno == errno.EBADF
            assert "closed without being removed" in str(reason)
        else:
            assert reason is None
        assert id(victim) not in table.byOwner
    finally:
        table.poller.close()
        for fd in numbers:
            if fd != victim.fd or how != "closed":
                try:
                    os.close(fd)
                except OSError:
                    pass


def test_aReusedNumberIsLostAndItsNewFileNeverWatched(stillClock: Clock) -> None:
    """
    Among L{_MANY} records, a number closed and taken at once by another
    file (C{dup2}), whose owner still reports it, is found by the sweep's
    C{EPOLL_CTL_ADD} within a L{WATCH_PERIOD} of the table's clock
    (ENOENT: the number names another file), lost, and the kernel is
    never left an entry for the new file on the old owner's behalf.
    """
    numbers = _socketPairs(_MANY)
    table, lost = newTable()
    owners = [Owner(str(fd), fd) for fd in numbers[:_MANY]]
    victim = owners[1]
    try:
        for owner in owners:
            table.register(owner, owner.fd, EPOLLIN)
        left, right = socket.socketpair()
        os.dup2(left.fileno(), victim.fd)
        left.close()
        numbers.append(right.detach())
        steps = 0
        while not lost:
            assert steps * 0.1 <= WATCH_PERIOD + 0.1
            stillClock.now += 0.1
            if table.checkAt <= stillClock.now:
                table.check()
            assert victim.fd not in interestList(table.poller.fileno())
            steps += 1
        assert [owner for owner, _, _ in lost] == [victim]
        reason = lost[0][2]
        assert isinstance(reason, OSError) and reason.errno == errno.ENOENT
        assert "names another file" in str(reason)
    finally:
        table.poller.close()
        for fd in numbers:
            os.close(fd)


def test_aRecordAddedBesideALoneOneIsChecked(stillClock: Clock) -> None:
    """
    A table with one record (the reactor's waker alone) does not ask to be
    checked; a record added later makes it ask again, by the next sweep,
    so that one closed behind its back is lost within a L{WATCH_PERIOD}.

    Found by C{LostMachine}: a reactor that had iterated with its waker
    alone, then was given a reader whose socket was closed behind its
    back, never checked it.
    """
    numbers = _socketPairs(2)
    table, lost = newTable()
    first, second = (Owner(str(fd), fd) for fd in numbers[:2])
    try:
        table.register(first, first.fd, EPOLLIN)
        table.check()
        assert table.checkAt == math.inf
        table.register(second, second.fd, EPOLLIN)
        os.close(second.fd)
        stillClock.now += WATCH_PERIOD
        assert table.checkAt <= stillClock.now
        table.check()
        assert [owner for owner, _, _ in lost] == [second]
    finally:
        table.poller.close()
        for fd in numbers:
            if fd != second.fd:
                os.close(fd)
