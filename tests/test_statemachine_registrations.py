"""
L{Registrations}, the reactor's entries in an epoll interest list, driven
directly through its interface against the kernel's view of the same
instance (C{/proc/self/fdinfo}, L{tests.kernel.interestList}), on real
socket pairs that are closed and replaced behind its back.

After every step:

 - each entry the tables hold whose file is still open is in the kernel,
   with the tables' mask, and with C{epoll_data} naming the number and the
   entry's generation (fact 3 of L{epollreactor._reactor});
 - the kernel holds nothing the tables do not;
 - every owner is found by its number, its generation and its identity.

The preen and rebuild steps are driven too: a preen hands out at most
L{PREEN_BATCH} entries per call, and every entry that existed when it
began within the bound its docstring states.
"""

import errno
import math
import os
import socket
from typing import Dict, List, Set

import pytest
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from epollreactor._libc import EPOLL_CTL_ADD, EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT
from epollreactor._registrations import PREEN_BATCH, Registrations
from tests.kernel import interestList

_MASKS = st.sampled_from([EPOLLIN, EPOLLOUT, EPOLLIN | EPOLLOUT])
_MAX_OPEN = 12


class Owner:
    """
    An owner: the table never calls it, so it has nothing but a name.
    """

    def __init__(self, name: str) -> None:
        """
        @param name: for Hypothesis's notes.
        """
        self.name = name

    def __repr__(self) -> str:
        """
        @return: the name.
        """
        return self.name


class RegistrationsMachine(RuleBasedStateMachine):
    """
    Random programs of L{Registrations.add}, C{modify}, C{remove},
    C{forget}, C{evict}, C{preenBatch} and C{rebuild}, with descriptors
    closed and replaced behind the table's back.

    @ivar open: every descriptor number the machine has open.
    @ivar gone: numbers whose entry the kernel dropped (their file was
        closed or replaced) while the table may still hold them.
    """

    def __init__(self) -> None:
        """
        A table, and nothing open yet.
        """
        super().__init__()
        self.table = Registrations()
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

    def _registered(self, index: int) -> int:
        numbers = sorted(self.table.owners)
        return numbers[index % len(numbers)]

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
    def add(self, index: int, mask: int) -> None:
        """
        Register a new owner under an open number; one held already by a
        stale owner is evicted first, as the reactor does.
        """
        fd = self._pick(index)
        if fd in self.table.owners:
            evicted = self.table.evict(fd)
            assert evicted is not None
            assert self.table.numberOf(evicted) is None
            # A preen of the others begins.
            assert self.table.preening or not self.table.owners
        self.count += 1
        owner = Owner("owner{}".format(self.count))
        self.table.add(owner, fd, mask)
        self.gone.discard(fd)
        assert self.table.owners[fd] is owner
        assert self.table.numberOf(owner) == fd

    @precondition(lambda self: self.table.owners)
    @rule(index=st.integers(0, 63), mask=_MASKS)
    def modify(self, index: int, mask: int) -> None:
        """
        Change an entry's mask: it succeeds while its file is there, and
        otherwise fails with EBADF (closed) or ENOENT (replaced) and changes
        nothing; an entry replaced under an open number can be given back to
        the kernel for the new file (L{Registrations.modify} with C{EPOLL_CTL_ADD}).
        """
        fd = self._registered(index)
        before = self.table.masks[fd]
        failure = self.table.modify(fd, mask)
        if fd not in self.gone:
            assert failure == 0
            assert self.table.masks[fd] == mask
            return
        assert self.table.masks[fd] == before
        if fd in self.open:
            assert failure == errno.ENOENT, failure
            assert self.table.modify(fd, mask, EPOLL_CTL_ADD) == 0
            assert self.table.masks[fd] == mask
            self.gone.discard(fd)
        else:
            assert failure == errno.EBADF, failure
            assert self.table.modify(fd, mask, EPOLL_CTL_ADD) == errno.EBADF

    @precondition(lambda self: self.table.owners)
    @rule(index=st.integers(0, 63))
    def remove(self, index: int) -> None:
        """
        Remove an entry: never raises because its file is gone, which it
        reports as stale.
        """
        fd = self._registered(index)
        owner = self.table.owners[fd]
        assert self.table.remove(fd) == (fd in self.gone)
        assert fd not in self.table.owners
        assert self.table.numberOf(owner) is None
        self.gone.discard(fd)

    @precondition(lambda self: self.table.owners)
    @rule(index=st.integers(0, 63))
    def forgetGone(self, index: int) -> None:
        """
        Forget an entry whose file is gone, as the reactor does for a lost
        descriptor.
        """
        fd = self._registered(index)
        if fd in self.gone:
            owner = self.table.forget(fd)
            assert owner is not None
            self.gone.discard(fd)

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
        if fd in self.table.owners:
            self.gone.add(fd)
        note("closed {}".format(fd))

    @precondition(lambda self: self.table.owners)
    @rule(index=st.integers(0, 63))
    def replaceBehindBack(self, index: int) -> None:
        """
        Put a new socket under a registered number with C{dup2}: the old
        file is closed and the kernel drops its entry, though the number is
        open.
        """
        fd = self._registered(index)
        if fd not in self.open:
            return
        left, right = socket.socketpair()
        os.dup2(left.fileno(), fd)
        left.close()
        self.open.append(right.detach())
        self.gone.add(fd)
        note("replaced {}".format(fd))

    @rule()
    def preen(self) -> None:
        """
        Take one preen batch and check it as the reactor does (the owners
        here always report their number): at most L{PREEN_BATCH} entries,
        each still registered; the kernel refuses exactly those whose file
        is gone, which are then given back for the new file or forgotten.
        """
        batch = self.table.preenBatch()
        assert len(batch) <= PREEN_BATCH
        for fd, owner in batch:
            assert self.table.owners.get(fd) is owner
            failure = self.table.modify(fd, self.table.masks[fd])
            assert bool(failure) == (fd in self.gone), (fd, failure)
            if failure and not (
                fd in self.open and not self.table.modify(fd, 1, EPOLL_CTL_ADD)
            ):
                self.table.forget(fd)
            self.gone.discard(fd)

    @rule()
    def rebuild(self) -> None:
        """
        Replace the epoll instance: entries whose number is closed are
        reported lost, with EBADF (or EINVAL, if the new instance took the
        number), and forgotten; the others are carried
        over, those whose number names a new file now for that file.
        """
        old = self.table.poller
        closed = {fd for fd in self.table.owners if fd not in self.open}
        lost = self.table.rebuild()
        assert old.closed and not self.table.poller.closed
        assert {fd for fd, _, _ in lost} == closed
        for fd, owner, reason in lost:
            # The new instance may have taken a closed number for itself.
            expected = errno.EINVAL if fd == self.table.poller.fileno() else errno.EBADF
            assert reason.errno == expected, reason
            assert self.table.numberOf(owner) is None
        self.gone.clear()

    @invariant()
    def kernelAgrees(self) -> None:
        """
        The kernel holds exactly the entries of the table whose file is
        there, with their masks, numbers and generations.
        """
        table = self.table
        expected = {
            fd: (mask | EPOLLERR | EPOLLHUP, (fd, table.generations[fd]))
            for fd, mask in table.masks.items()
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
        Every owner is found by its number, its generation and itself.
        """
        table = self.table
        assert set(table.owners) == set(table.masks) == set(table.generations)
        assert len(table.byGeneration) == len(table.owners)
        for fd, owner in table.owners.items():
            assert table.byGeneration[table.generations[fd]] is owner
            assert table.numberOf(owner) == fd


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


@pytest.mark.parametrize("count", [1, PREEN_BATCH - 1, PREEN_BATCH, 300])
def test_preenReachesEveryEntryWithinItsBound(count: int) -> None:
    """
    Once a stale entry was found, every entry that existed then is handed
    out by L{Registrations.preenBatch} within C{ceil(2 * N / PREEN_BATCH)
    + 1} calls, also when the preen was under way and is extended (not
    restarted) by the new finding, and no call hands out more than
    L{PREEN_BATCH}.
    """
    numbers = _socketPairs(count)
    table = Registrations()
    try:
        for fd in numbers[:count]:
            table.add(Owner(str(fd)), fd, EPOLLIN)
        table.suspectStale()
        for _ in range(3):
            # Stale entries found while the preen is under way.
            assert len(table.preenBatch()) <= PREEN_BATCH
            table.suspectStale()
        seen: Set[int] = set()
        calls = 0
        while table.preening:
            batch = table.preenBatch()
            assert len(batch) <= PREEN_BATCH
            seen.update(fd for fd, _ in batch)
            calls += 1
        assert seen == set(table.owners)
        assert calls <= math.ceil(2 * count / PREEN_BATCH) + 1
        assert not table.repairPending
    finally:
        table.poller.close()
        for fd in numbers:
            os.close(fd)


def test_addFailureRecordsNothing() -> None:
    """
    L{Registrations.add} of a closed number raises the kernel's EBADF and
    records nothing; of a number that names a regular file, EPERM.
    """
    table = Registrations()
    left, right = socket.socketpair()
    fd = left.detach()
    os.close(fd)
    owner = Owner("closed")
    try:
        with pytest.raises(OSError) as raised:
            table.add(owner, fd, EPOLLIN)
        assert raised.value.errno == errno.EBADF
        assert (table.owners, table.masks, table.byGeneration) == ({}, {}, {})
        assert table.numberOf(owner) is None
        with open("/proc/self/stat") as regular:
            with pytest.raises(OSError) as raised:
                table.add(owner, regular.fileno(), EPOLLIN)
        assert raised.value.errno == errno.EPERM
        assert interestList(table.poller.fileno()) == {}
    finally:
        table.poller.close()
        right.close()


def test_strayTwiceAsksForRebuild() -> None:
    """
    A generation no entry has, seen once, is remembered; seen again, it is a
    ghost: a rebuild and a preen are wanted.
    """
    table = Registrations()
    try:
        table.stray(12345)
        assert not table.rebuildWanted and not table.repairPending
        table.stray(12345)
        assert table.rebuildWanted and table.repairPending
        assert table.rebuild() == []
        assert not table.rebuildWanted
    finally:
        table.poller.close()


def test_generationsAreNeverShared() -> None:
    """
    Entries added, removed and added again never share a generation, so an
    event queued for a removed entry cannot name its successor.
    """
    numbers = _socketPairs(4)
    table = Registrations()
    live: Dict[int, int] = {}
    try:
        for round in range(50):
            for fd in numbers[:4]:
                if fd in table.owners:
                    table.remove(fd)
                table.add(Owner("{}/{}".format(fd, round)), fd, EPOLLIN)
                generation = table.generations[fd]
                assert generation not in live.values()
                live[fd] = generation
    finally:
        table.poller.close()
        for fd in numbers:
            os.close(fd)


def test_preenBatchNamesEachEntryOnce() -> None:
    """
    A batch never names an entry twice, also when entries were removed
    since the preen was asked for, so that the caller may forget one it
    finds gone without meeting it again in the same batch.

    Found by C{RegistrationsMachine}: a preen asked for among several
    entries, most of them removed before the batch, named the one left as
    often as there had been entries, and the caller's check of the second
    found it forgotten.
    """
    numbers = _socketPairs(3)
    table = Registrations()
    try:
        for fd in numbers[:3]:
            table.add(Owner(str(fd)), fd, EPOLLIN)
        table.suspectStale()
        table.remove(numbers[1])
        table.remove(numbers[2])
        batch = table.preenBatch()
        assert [fd for fd, _ in batch] == [numbers[0]]
        assert not table.preening and not table.repairPending
    finally:
        table.poller.close()
        for fd in numbers:
            os.close(fd)
