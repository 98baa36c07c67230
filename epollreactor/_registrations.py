"""
L{Registrations}: the reactor's entries in the kernel's interest list of one
epoll instance, kept in step with the kernel, in the reactor's own terms
(an owner, a descriptor number, a mask) and without knowing what the owner
is: nothing here calls an owner's methods, so nothing here runs
application code, and nothing here imports Twisted.

It follows the facts about epoll written above L{epollreactor._reactor}:

 - Tables change only after the system call succeeded (CPython's
   C{selectors._PollLikeSelector.register}, Twisted's C{_add}); a removal
   whose descriptor is already closed (EBADF), renamed (ENOENT) or replaced
   by a file epoll cannot watch (EPERM) cleans the tables instead of
   raising (facts 1, 2).
 - Every entry carries a generation in the upper half of C{epoll_data}, so
   an event names the entry it was queued for, not merely a number (fact 3).
 - Each owner holds one number, found from its identity in constant time,
   so that removing an owner whose C{fileno()} no longer names it never
   scans the table.
 - One stale entry means application code closes descriptors behind the
   reactor's back, so every entry is checked again; but only
   L{PREEN_BATCH} per iteration, so that an event a peer can cause (Twisted
   issue 11625) buys a bounded amount of work, not one system call per
   registration.
 - A registration the kernel keeps for a file no number names any more
   (a ghost, fact 1), or one shared with a parent after C{fork()} (fact 6),
   is left behind with the whole epoll instance: L{rebuild} makes a new one
   from the tables.
"""

import errno
import os
from typing import Any, Dict, List, Optional, Set, Tuple

from epollreactor._epoll import epoll
from epollreactor._libc import (
    EPOLL_CTL_ADD,
    EPOLL_CTL_DEL,
    EPOLL_CTL_MOD,
    EVENT,
    epoll_ctl,
    repeatFailed,
)

__all__ = ["PREEN_BATCH", "Registrations"]

#: How many entries one iteration checks while a preen is under way: after
#: a stale entry was found, every entry that existed then is checked within
#: C{ceil(2 * len(entries) / PREEN_BATCH) + 1} iterations, and a table of at
#: most this many is checked whole in the next one.
PREEN_BATCH = 32

#: Generations live in the upper 32 bits of C{epoll_data}.
_GENERATION_LIMIT = 2**32

#: How many unknown generations are remembered, to tell a ghost (one that
#: comes again) from an event left in a batch (one that does not).
_STRAYS_KEPT = 4096

# What EPOLL_CTL_DEL says when our entry under a number is gone: the number
# is closed (EBADF), names another file (ENOENT), or names a file epoll
# cannot watch at all, such as a regular file dup2'd onto it (EPERM;
# epoll_ctl(2) checks the target file before it looks the number up).
_STALE_ERRNOS = frozenset([errno.EBADF, errno.ENOENT, errno.EPERM])

_packEvent = EVENT.pack


def _control(epfd: int, operation: int, fd: int, event: bytes) -> int:
    """
    Run C{epoll_ctl(2)}.

    @return: 0, or the errno of its failure, learnt by repeating the call
        (L{repeatFailed}: errno itself may have been replaced by a signal
        handler since); a repeat that succeeds is the call's outcome.
    """
    if epoll_ctl(epfd, operation, fd, event):
        return repeatFailed(epoll_ctl, epfd, operation, fd, event)[1]
    return 0


class Registrations:
    """
    The entries one reactor has in an epoll instance's interest list.

    The dictionaries below are read by the reactor's hot paths directly (a
    lookup, not a call, per event); only this object changes them.

    @ivar poller: the L{epoll} instance; replaced by L{rebuild}.
    @ivar owners: maps each registered descriptor number to its owner.
    @ivar masks: maps each registered number to the event mask the kernel
        has for it.
    @ivar generations: maps each registered number to its entry's
        generation.
    @ivar byGeneration: maps each live generation to the owner of the entry
        it tags; an event whose generation is not here is stale.
    @ivar numbers: maps C{id()} of each owner to the number it is
        registered under, whatever its C{fileno()} says now; an owner holds
        one number (the reactor moves one whose C{fileno()} changed).
    @ivar forked: set in a forked child until L{rebuild} has run.
    @ivar rebuildWanted: set when ghost events keep coming.
    @ivar repairPending: set while L{forked}, L{rebuildWanted} or a preen
        (L{preening}) asks for work before the next wait, so that the
        reactor's loop tests one attribute.
    """

    forked = False
    rebuildWanted = False
    repairPending = False

    def __init__(self) -> None:
        """
        Create the epoll instance, with no entries.
        """
        # The 1024 is only a hint; the kernel ignores it since Linux 2.6.8.
        self.poller = epoll(1024)
        self.owners: Dict[int, Any] = {}
        self.masks: Dict[int, int] = {}
        self.generations: Dict[int, int] = {}
        self.byGeneration: Dict[int, Any] = {}
        self.numbers: Dict[int, int] = {}
        self._nextGeneration = 1
        self._strays: Set[int] = set()
        #: The preen's snapshot of numbers and where it is in it; whether a
        #: pass over a new snapshot is owed once that one is used up.
        self._sweep: List[int] = []
        self._sweepAt = 0
        self._passOwed = False

    # Looking up.

    def numberOf(self, owner: Any) -> Optional[int]:
        """
        @return: the number C{owner} is registered under, found by identity
            whatever its C{fileno()} says now, or C{None}.
        """
        return self.numbers.get(id(owner))

    # Changing.

    def _newGeneration(self) -> int:
        """
        @return: a generation no live entry uses.
        """
        byGeneration = self.byGeneration
        generation = self._nextGeneration
        while generation in byGeneration:
            generation = generation + 1 if generation + 1 < _GENERATION_LIMIT else 1
        self._nextGeneration = (
            generation + 1 if generation + 1 < _GENERATION_LIMIT else 1
        )
        return generation

    def add(self, owner: Any, fd: int, mask: int) -> None:
        """
        Give the kernel an entry for C{fd} owned by C{owner}, with a new
        generation, and record it once the kernel has it.  Neither C{fd}
        nor C{owner} may be registered already (see L{evict} and
        L{remove}).

        @raise OSError: the kernel's error (EBADF for a closed descriptor,
            EPERM for a regular file), with nothing recorded.
        """
        generation = self._nextGeneration
        if generation in self.byGeneration or generation + 1 >= _GENERATION_LIMIT:
            generation = self._newGeneration()
        else:
            # The common case, without a call: the next one is free.
            self._nextGeneration = generation + 1
        epfd = self.poller._epfd
        masks = self.masks
        event = _packEvent(mask, fd, generation)
        if fd in masks:
            # An evicted owner's entry: give it the new generation.  ENOENT:
            # the kernel dropped it when the old file was closed (fact 2).
            failure = _control(epfd, EPOLL_CTL_MOD, fd, event)
            if failure == errno.ENOENT:
                failure = _control(epfd, EPOLL_CTL_ADD, fd, event)
        else:
            failure = _control(epfd, EPOLL_CTL_ADD, fd, event)
            if failure == errno.EEXIST:
                # An entry we forgot, or one from before a fork; take it.
                failure = _control(epfd, EPOLL_CTL_MOD, fd, event)
        if failure:
            masks.pop(fd, None)
            raise OSError(failure, os.strerror(failure))
        masks[fd] = mask
        self.generations[fd] = generation
        self.byGeneration[generation] = owner
        self.owners[fd] = owner
        self.numbers[id(owner)] = fd

    def modify(self, fd: int, mask: int, operation: int = EPOLL_CTL_MOD) -> int:
        """
        Change the mask of C{fd}'s entry to C{mask}, keeping its generation.

        With C{operation} C{EPOLL_CTL_ADD}, give back to the kernel an entry
        it dropped when the number was C{dup2}'d over (ENOENT from the
        first), for the file the number names now, with the same owner and
        generation.

        @return: 0, or the kernel's errno, with the tables unchanged: EBADF
            when the number was closed, ENOENT when it names another file
            now (the entry belonged to the old one, fact 1).
        """
        failure = _control(
            self.poller._epfd, operation, fd, _packEvent(mask, fd, self.generations[fd])
        )
        if not failure:
            self.masks[fd] = mask
        return failure

    def remove(self, fd: int) -> bool:
        """
        Remove C{fd}'s entry from the kernel and from the tables.  An entry
        the kernel no longer has (EBADF, ENOENT, EPERM) is only forgotten.

        @return: whether the entry was stale: then others may be too.
        @raise OSError: for any other failure of C{epoll_ctl(2)}, with the
            tables unchanged.
        """
        masks = self.masks
        stale = False
        if fd in masks:
            epfd = self.poller._epfd
            # _control inlined: one frame less per connection closed.
            if epoll_ctl(epfd, EPOLL_CTL_DEL, fd, None) and (
                failure := repeatFailed(epoll_ctl, epfd, EPOLL_CTL_DEL, fd, None)[1]
            ):
                if failure not in _STALE_ERRNOS:
                    raise OSError(failure, os.strerror(failure))
                stale = True
            del masks[fd]
        # _drop inlined: one frame less per connection closed.
        owner = self.owners.pop(fd, None)
        if owner is not None:
            del self.numbers[id(owner)]
        generation = self.generations.pop(fd, None)
        if generation is not None:
            del self.byGeneration[generation]
        return stale

    def forget(self, fd: int) -> Any:
        """
        Forget C{fd}'s entry without asking the kernel, for an entry the
        kernel no longer has.

        @return: its owner, or C{None}.
        """
        self.masks.pop(fd, None)
        return self._drop(fd)

    def evict(self, fd: int) -> Any:
        """
        Forget the owner of C{fd}, whose descriptor was closed behind our
        back since a new object is being added under its number; keep the
        kernel entry, for L{add} to give to the newcomer.  Others may have
        been closed too: a preen begins.

        @return: the evicted owner.
        """
        self.suspectStale()
        return self._drop(fd)

    def _drop(self, fd: int) -> Any:
        """
        Drop C{fd} from every table but L{masks}.

        @return: its owner, or C{None}.
        """
        owner = self.owners.pop(fd, None)
        if owner is not None:
            del self.numbers[id(owner)]
        generation = self.generations.pop(fd, None)
        if generation is not None:
            del self.byGeneration[generation]
        return owner

    # Repair.

    def suspectStale(self) -> None:
        """
        A stale entry was found: others may be too.  Owe a pass over every
        entry there is when the pass begins: at the next L{preenBatch}, or,
        while a pass is under way, once it is done, so that what it has
        checked already is checked again and what it has not is checked
        once.
        """
        self._passOwed = True
        self.repairPending = True

    @property
    def preening(self) -> bool:
        """
        Whether a preen has entries left to check.
        """
        return self._passOwed or self._sweepAt < len(self._sweep)

    def preenBatch(self) -> List[Tuple[int, Any]]:
        """
        The entries to check in this iteration: at most L{PREEN_BATCH}, in
        turn from a snapshot of the table taken when a pass begins, so that
        checking N entries costs O(N) whatever happens meanwhile.  A batch
        never reaches into the next pass, so it names each entry once.  The
        caller checks each with its owner's C{fileno()} and with L{modify}
        to the mask it has (the kernel refuses when the entry is gone).

        @return: C{(number, owner)} pairs still registered.
        """
        sweep = self._sweep
        at = self._sweepAt
        if at >= len(sweep):
            if not self._passOwed:
                sweep = []
            else:
                # masks, not owners: an evicted owner's entry keeps its place.
                sweep = list(self.masks)
            self._passOwed = False
            at = 0
        owners = self.owners
        batch: List[Tuple[int, Any]] = []
        end = min(len(sweep), at + PREEN_BATCH)
        for fd in sweep[at:end]:
            owner = owners.get(fd)
            if owner is not None:
                batch.append((fd, owner))
        at = end
        if at >= len(sweep):
            # Done with this pass: let the snapshot go.
            sweep = []
            at = 0
        self._sweep = sweep
        self._sweepAt = at
        self.repairPending = self.preening or self.forked or self.rebuildWanted
        return batch

    def stray(self, generation: int) -> None:
        """
        An event came with a generation that no live entry has.

        The first time, it is most likely one left in a batch by an entry
        removed or replaced since (fact 3).  If the same generation comes
        again in a later wait (one wait reports each entry once), it is a
        ghost: an entry the kernel keeps for an open file that survives in
        a duplicate after its number was closed (fact 1).  Level-triggered,
        it would wake every wait, and C{EPOLL_CTL_DEL} cannot name it, so
        only a new epoll instance is rid of it (celery 4185, libuv 1468).
        """
        strays = self._strays
        if generation in strays:
            self.rebuildWanted = True
            self.suspectStale()
            return
        if len(strays) >= _STRAYS_KEPT:
            # Bounded: one-off stale events must not accumulate forever.
            strays.clear()
        strays.add(generation)

    def rebuild(self) -> List[Tuple[int, Any, OSError]]:
        """
        Replace the epoll instance by a new one holding the entries in the
        tables: in a forked child, to stop sharing the parent's interest
        list (fact 6), and to be rid of ghosts (fact 1).  An entry whose
        number names another file now is added for that file, as a number
        its owner still reports is watched whatever it names (the preen
        under way checks the owners).

        @return: C{(number, owner, error)} for each entry the new instance
            refuses (EBADF: its number was closed behind our back),
            forgotten already, in table order; the caller tells each owner.
        """
        self.forked = self.rebuildWanted = False
        self._strays.clear()
        old = self.poller
        self.poller = epoll(1024)
        old.close()
        epfd = self.poller._epfd
        generations = self.generations
        lost = []
        for fd, mask in list(self.masks.items()):
            failure = _control(
                epfd, EPOLL_CTL_ADD, fd, _packEvent(mask, fd, generations[fd])
            )
            if failure:
                lost.append(
                    (fd, self.forget(fd), OSError(failure, os.strerror(failure)))
                )
        self.repairPending = self.preening
        return lost

    def markForked(self) -> None:
        """
        This process is a forked child: the epoll instance is shared with
        the parent until L{rebuild} runs (fact 6).
        """
        self.forked = self.repairPending = True
