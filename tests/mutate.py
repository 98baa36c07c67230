"""
The mutation check behind C{make mutate}: small, real bugs planted one at a
time in a copy of the tree, each of which the tests listed with it must
catch.

Each entry of L{MUTANTS} names a file, an exact snippet of it, what the
snippet becomes, the tests expected to fail, and why the change is a real
bug (what a user would see).  The check copies the tree once, runs the
listed tests of every entry on the unchanged copy (they must pass), then
for each entry plants the bug, runs only its tests, and puts the file
back.  It fails when a bug is not caught, when a planted tree does not even
import (a mutant that says nothing), and when a snippet is no longer in its
file exactly once: the list is kept up to date with the code, or it fails.

Usage::

    python -m tests.mutate [--only=NAME,...] [--whole]

C{--whole} runs the whole suite, not only the listed tests, for each
planted bug, and also checks that every listed test is among those that
fail: the list names real catchers.  (A few minutes per bug.)
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import List, NamedTuple, Optional, Sequence, Set, Tuple

#: The repository's top directory.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Mutant(NamedTuple):
    """
    One planted bug.

    @ivar name: a short name for the report.
    @ivar path: the file, relative to the top of the repository.
    @ivar snippet: text that occurs exactly once in it.
    @ivar replacement: what the snippet becomes.
    @ivar tests: pytest node ids (files, or tests without their
        parameters) that must fail with the bug planted.
    @ivar why: what goes wrong for a user.
    """

    name: str
    path: str
    snippet: str
    replacement: str
    tests: Tuple[str, ...]
    why: str


#: The test that the sweep's planted bugs fail.
_SWEEP_TEST = (
    "tests/test_statemachine_registrations.py::"
    "test_theSweepLosesAClosedNumberAmongManyWithinAPeriod"
)
#: The test that a number reused among many is lost, and never read.
_REUSE_TEST = "test_aNumberReusedAmongManyIsLostWithinTheBound"
REACTOR = "epollreactor/_reactor.py"
REGISTRATIONS = "epollreactor/_registrations.py"
DISPATCH = "epollreactor/_dispatch.py"
EPOLL = "epollreactor/_epoll.py"
LIBC = "epollreactor/_libc.py"
SELECTOR = "epollreactor/_selector.py"
WRITING = "epollreactor/_writing.py"
TAILS = "epollreactor/_tails.py"

MUTANTS: Tuple[Mutant, ...] = (
    # The reactor.
    Mutant(
        "read interest not masked",
        DISPATCH,
        "            if not record.reading:\n                event &= ~EPOLLIN\n",
        "            if not record.reading:\n                pass\n",
        ("tests/test_reactor.py::test_removedEarlierInIterationNotDispatched",),
        "a reader removed earlier in the batch (by another's doRead) still gets doRead",
    ),
    Mutant(
        "EPOLLOUT asked for a reader owed a write attempt",
        REGISTRATIONS,
        "EPOLLOUT if self.writing and not (self.owedWrite and self.reading) else 0",
        "EPOLLOUT if self.writing else 0",
        ("tests/test_earlywrite.py::test_aWriteOutsideAReadCostsNoEpollCtl",),
        "every reply costs two epoll_ctl calls again (Twisted issue 5303)",
    ),
    Mutant(
        "a flushed writer that reads nothing kept registered",
        REACTOR,
        "            else:\n                self._registrations.remove(record)\n",
        "            else:\n                self._changed.add(record)\n",
        ("tests/test_reactor.py::test_removeWriter",),
        "a connection that stopped writing and reading stays in the kernel's "
        "interest list, reported and dispatched to no one",
    ),
    Mutant(
        "a reader that writes owed no write attempt",
        REACTOR,
        "            if not record.mask & EPOLLOUT:\n                self._writing.owe(record)\n"
        "\n    def removeReader",
        "\n    def removeReader",
        ("tests/test_earlywrite.py::test_aWholeReplyGoesOutInTheTurnThatRead",),
        "every reply waits for a loop turn and two epoll_ctl calls again",
    ),
    Mutant(
        "write interest not masked",
        DISPATCH,
        "            if not record.writing:\n                event &= ~EPOLLOUT\n",
        "            if not record.writing:\n                pass\n",
        ("tests/test_reactor.py::test_writerRemovedEarlierInIterationNotDispatched",),
        "a writer removed earlier in the batch still gets doWrite",
    ),
    Mutant(
        "doPoll timeout not rounded up",
        EPOLL,
        "            milliseconds = -(-nanoseconds // 1_000_000)\n",
        "            milliseconds = nanoseconds // 1_000_000\n",
        ("tests/test_reactor.py::test_doPollRoundsShortTimeoutUp",),
        "without precise waits, a timeout under a millisecond becomes "
        "epoll_wait(0): a busy loop until the timer is due",
    ),
    Mutant(
        "reactor waits in milliseconds though precise waits work",
        EPOLL,
        "            if _imprecise is None and nanoseconds < PRECISE_BELOW:\n",
        "            if False:\n",
        (
            "tests/test_precise.py::test_doPollWaitsTheNanoseconds",
            "tests/test_precise.py::test_callLaterShorterThanAMillisecond",
        ),
        "callLater(0.0003, f) runs a millisecond late, as on stock",
    ),
    Mutant(
        "reactor's long waits made precisely too",
        EPOLL,
        "            if _imprecise is None and nanoseconds < PRECISE_BELOW:\n",
        "            if _imprecise is None:\n",
        ("tests/test_precise.py::test_doPollWaitsLongTimeoutsInMilliseconds",),
        "a busy loop pays 2 us a turn for a precise wait it does not need",
    ),
    Mutant(
        "kernel's refusal of epoll_pwait2 raised",
        EPOLL,
        "    if err in _REFUSALS:\n",
        "    if False:\n",
        ("tests/test_precise.py::test_refusedByTheKernelFallsBackOnce",),
        "on a kernel before 5.11 (or behind a seccomp profile that predates "
        "the call) every timed wait raises ENOSYS and the reactor cannot run",
    ),
    Mutant(
        "EINTR retry given the whole timeout again",
        EPOLL,
        "            milliseconds = _ceil(remaining * 1000.0)\n",
        "            pass\n",
        ("tests/test_eintr.py::test_retryIsGivenWhatRemains",),
        "poll(t) interrupted by a signal just before its deadline waits up "
        "to t again, not what remains (PEP 475)",
    ),
    Mutant(
        "precise EINTR retry given the whole timeout again",
        EPOLL,
        "        nanoseconds = remaining\n",
        "        pass\n",
        ("tests/test_eintr.py::test_retryIsGivenWhatRemains",),
        "pollPrecisely(t) interrupted by a signal just before its deadline "
        "waits up to t again, not what remains (PEP 475)",
    ),
    Mutant(
        "a number dup2'd over is watched again for its owner",
        REGISTRATIONS,
        "        if not failure:\n            record.mask = mask\n",
        "        if failure == errno.ENOENT:\n"
        "            failure = self.poller._control(\n"
        "                EPOLL_CTL_ADD, record.fd, mask, record.generation\n"
        "            )\n"
        "        if not failure:\n            record.mask = mask\n",
        (
            "tests/test_robustness.py::test_numberMovedUnderItsOwnerLosesItsConnection",
            "tests/test_statemachine_registrations.py",
        ),
        "an owner whose number was dup2'd over reads the newcomer's bytes "
        "instead of losing its connection",
    ),
    Mutant(
        "the loop never checks its registrations",
        REACTOR,
        "        if table.checkAt <= now:\n",
        "        if False:\n",
        ("tests/test_statemachine_lost.py",),
        "a connection closed by a library behind the reactor's back never "
        "gets connectionLost",
    ),
    Mutant(
        "the sweep does not ask the kernel",
        REGISTRATIONS,
        "                    elif getErrno() == errno.EEXIST:\n",
        "                    else:\n",
        (_SWEEP_TEST,),
        "a number closed behind the reactor's back is found only by a "
        "preen, which only a stale entry found elsewhere sets off",
    ),
    Mutant(
        "the sweep does not ask the owners",
        REGISTRATIONS,
        "                if record.owner.fileno() == fd:\n",
        "                if True:\n",
        (_SWEEP_TEST,),
        "an owner whose fileno() says -1 stays registered until a preen",
    ),
    Mutant(
        "no sweep",
        REGISTRATIONS,
        "            self._sweep(self._ring.lap(1.0))\n",
        "            pass\n",
        (_SWEEP_TEST,),
        "connectionLost never comes after a close behind the reactor's "
        "back, unless a stale entry found elsewhere sets off a preen",
    ),
    Mutant(
        "the sweep in one go beside many",
        REGISTRATIONS,
        "        elif share * len(self._ring.records) >= self._ring.swept + SWEEP_SLICE:\n",
        "        elif False:\n",
        (
            "tests/test_statemachine_registrations.py::test_aSweepBesideManyIsCutIntoSlices",
        ),
        "beside 10,000 registrations one check holds the loop 8-12 ms every period",
    ),
    Mutant(
        "the sweep keeps the newcomer's entry",
        REGISTRATIONS,
        "                        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, None)\n",
        "                        pass\n",
        ("tests/test_statemachine_lost.py::" + _REUSE_TEST,),
        "a number dup2'd over stays its old owner's, and the file it names "
        "now is watched and read for it: the sweep's own entry answers "
        "EEXIST from then on",
    ),
    Mutant(
        "a ghost rebuild watches replaced numbers for their old owners",
        REGISTRATIONS,
        "        if not self.pending & FORKED:\n",
        "        if False:\n",
        ("tests/test_statemachine_registrations.py",),
        "after a rebuild, an owner whose number names another file reads it",
    ),
    Mutant(
        "hang-up does not read to the end",
        DISPATCH,
        "                event |= EPOLLIN\n",
        "                pass\n",
        ("tests/test_robustness.py::test_scenario[hangUpWithBufferedInput]",),
        "data buffered before a hang-up is lost (Twisted issue 7932)",
    ),
    Mutant(
        "revalidation ignores a changed fileno",
        REGISTRATIONS,
        "        if current == record.fd:\n",
        "        if current != -1:\n",
        ("tests/test_robustness.py::test_revalidationLosesOwnerThatMisreports",),
        "an owner whose fileno() now names another file, or raises, stays "
        "registered under a number it no longer owns",
    ),
    Mutant(
        "lost descriptor stays a reader",
        REGISTRATIONS,
        "        if self.byNumber.get(record.fd) is record:\n"
        "            del self.byNumber[record.fd]\n",
        "",
        ("tests/test_robustness.py::test_staleEntryRevalidatesOthers",),
        "getReaders() lists an object whose connection was lost",
    ),
    Mutant(
        "early write repeated though EPOLLOUT is watched",
        WRITING,
        "                if not record.mask & EPOLLOUT:\n",
        "                if True:\n",
        ("tests/test_earlywrite.py::test_oneDoWritePerIterationWhenEpolloutIsWatched",),
        "a writer gets doWrite twice in one iteration",
    ),
    # The registrations.
    Mutant(
        "evicted owner's entry not re-tagged",
        REGISTRATIONS,
        "            if failure == errno.ENOENT:\n",
        "            if False:\n",
        ("tests/test_robustness.py::test_addEvictsStaleOwnerAndWarns",),
        "adding a new object under a number still held by a closed one "
        "fails when the kernel dropped the old entry",
    ),
    Mutant(
        "an event's generation not checked",
        DISPATCH,
        "            if record is None or record.generation != generation:\n",
        "            if record is None:\n",
        ("tests/test_robustness.py::test_scenario[staleEventInBatch]",),
        "an event queued for a descriptor closed earlier in the batch is "
        "dispatched to the object that took its number (Twisted issue 6796)",
    ),
    Mutant(
        "an ended record keeps its owner",
        REGISTRATIONS,
        "            del self.byOwner[id(record.owner)]\n            record.owner = None\n",
        "            del self.byOwner[id(record.owner)]\n",
        (
            "tests/test_dispatch.py::test_noDoWriteOnceDoReadStoppedWriting",
            "tests/test_statemachine_registrations.py",
        ),
        "a selectable that handed its number to another in doRead still "
        "gets doWrite, on the newcomer's descriptor",
    ),
    # Dispatch.
    Mutant(
        "closed selectable gets doRead",
        DISPATCH,
        "                        if selectable.fileno() == -1:\n",
        "                        if False:\n",
        ("tests/test_robustness.py::test_closedEarlierInBatchIsToldNotRead",),
        "a selectable closed earlier in the batch gets doRead on a socket that is gone",
    ),
    Mutant(
        "doWrite after doRead handed the number over",
        DISPATCH,
        "                                if not (record.writing and record.owner is selectable):\n",
        "                                if not record.writing:\n",
        (
            (
                "tests/test_dispatch.py::"
                "test_noDoWriteOnceDoReadStoppedWriting[Twisted's own-HandsOverOnRead]"
            ),
        ),
        "a selectable whose doRead gave its number to another still gets doWrite, "
        "and writes to the other's descriptor",
    ),
    Mutant(
        "broken logPrefix hidden",
        DISPATCH,
        "                prefix = _BUGGY_LOG_PREFIX\n                log.err(system=prefix)\n",
        "                prefix = _BUGGY_LOG_PREFIX\n",
        ("tests/test_dispatch.py::test_buggyLogPrefix",),
        "an exception from a selectable's logPrefix() is silently dropped",
    ),
    # The binding.
    Mutant(
        "maxevents 0 accepted",
        EPOLL,
        "        elif maxevents.__class__ is not int or not 0 < maxevents <= _MAX_EVENTS:\n",
        "        elif maxevents.__class__ is not int or not 0 <= maxevents <= _MAX_EVENTS:\n",
        ("tests/test_epoll_poll.py",),
        "poll(maxevents=0) fails with the kernel's EINVAL instead of the "
        "ValueError select.epoll raises",
    ),
    Mutant(
        "handler's exception swallowed",
        EPOLL,
        "        count = epoll_wait(ep._epfd, pointer, maxevents, milliseconds)\n",
        "        try:\n"
        "            count = epoll_wait(ep._epfd, pointer, maxevents, milliseconds)\n"
        "        except Exception:\n"
        "            return 0\n",
        ("tests/test_epoll_poll.py::test_eintrHandlerRaisingPropagates",),
        "what a signal handler raises while poll waits is lost, and poll "
        "returns no events early",
    ),
    Mutant(
        "close does not mark the object closed",
        EPOLL,
        "        epfd = self._epfd\n        if epfd >= 0:\n            self._epfd = -1\n",
        "        epfd = self._epfd\n        if epfd >= 0:\n            pass\n",
        ("tests/test_selector.py::EpollSelectorTests::test_closeTwice",),
        "a second close closes whatever file took the number meanwhile",
    ),
    Mutant(
        "poll timeout rounded down",
        EPOLL,
        "    milliseconds = -(-whole // 1_000_000)\n",
        "    milliseconds = whole // 1_000_000\n",
        ("tests/test_epoll_poll.py::test_timeoutToMilliseconds",),
        "poll(0.0005) busy-polls instead of waiting a millisecond, unlike select.epoll",
    ),
    Mutant(
        "warning attributed to the binding",
        EPOLL,
        "    while frame is not None and frame.f_code.co_filename == _THIS_FILE:\n",
        "    while False:\n",
        ("tests/test_epoll_parity.py::test_parity",),
        "a DeprecationWarning (an __index__ that returns an int subclass, an "
        "__int__ on CPython 3.9) points at epollreactor instead of the line "
        "that called it, so the user cannot find or filter it",
    ),
    Mutant(
        "one idle result buffer",
        EPOLL,
        "_IDLE_BUFFERS = 8\n",
        "_IDLE_BUFFERS = 1\n",
        ("tests/test_epoll_buffer.py::test_overlappingPollsReuseBuffers",),
        "threads polling one object at once make a result buffer for every "
        "call that overlaps another, at 17 us each",
    ),
    Mutant(
        "burst kept by a buffer under others",
        EPOLL,
        "            buffer.trim(0)\n",
        "            pass\n",
        ("tests/test_epoll_buffer.py::test_idleBufferBesideAnotherGivesItsBurstBack",),
        "an idle buffer no call takes keeps the memory a burst of events "
        "took, up to 12 bytes an event",
    ),
    Mutant(
        "missing epoll call not reported",
        LIBC,
        '        for symbol in ("epoll_create1", "epoll_ctl", "epoll_wait")\n',
        '        for symbol in ("epoll_create1", "epoll_wait")\n',
        ("tests/test_libc.py::test_importErrorWithoutEpoll",),
        "on a C library without epoll_ctl the import succeeds and the first "
        "registration fails obscurely",
    ),
    Mutant(
        "errno lost from the error",
        LIBC,
        "    return OSError(err, os.strerror(err))\n",
        "    return OSError(os.strerror(err))\n",
        ("tests/test_libc.py", "tests/test_epoll_control.py"),
        "a failed call raises a bare OSError without errno, not the subclass "
        "(FileNotFoundError, FileExistsError...) select.epoll raises",
    ),
    # The selector.
    Mutant(
        "refused modify keeps the key",
        SELECTOR,
        "            except BaseException:\n"
        "                del self._fdToKey[key.fd]\n"
        "                raise\n",
        "            except BaseException:\n                raise\n",
        (
            "tests/test_selector.py::EpollSelectorTests::test_modifyFailureUnregisters",
            (
                "tests/test_selector.py::EpollSelectorTests::"
                "test_modifyFailureOnReusedNumberUnregisters"
            ),
        ),
        "after a refused modify the selector keeps a key the kernel no longer "
        "watches (bpo-30014)",
    ),
    Mutant(
        "sends of Twisted's whole SEND_LIMIT",
        WRITING,
        "        whole = limit - limit % segment\n",
        "        whole = limit\n",
        ("tests/test_writing.py::test_aLargeWriteIsSentInWholeSegments",),
        "every 131,072-byte send of a large message ends in a short segment, "
        "and the message's last one waits for the peer's delayed ACK",
    ),
    Mutant(
        "burst's tail sent before the burst ends",
        WRITING,
        "        return buffered - tail\n",
        "        return None\n",
        ("tests/test_writing.py::test_aBurstEndsInItsOnlyShortSegment",),
        "a large echo empties its buffer while the message still arrives, "
        "and two short segments of one message wait for the delayed ACK",
    ),
    Mutant(
        "a burst's first call blind to input waiting",
        WRITING,
        "waitsForEmpty or record.quiet or not _unread(sock)",
        "True",
        ("tests/test_writing.py::test_aBurstEndsInItsOnlyShortSegment",),
        "a large echo's first send ends short while the message still arrives",
    ),
    Mutant(
        "every owed write taken as quiet",
        WRITING,
        "                    record.quiet = quiet\n",
        "                    record.quiet = True\n",
        (
            "tests/test_earlywrite.py::test_aWaitThatReportsInputLeavesTheQuestionToTheWrite",
        ),
        "a long reply is sent without asking whether input arrived since "
        "the read that the wait reported",
    ),
    Mutant(
        "pull producer's tail held",
        WRITING,
        "connection.producerPaused or not connection.streamingProducer",
        "False",
        ("tests/test_writing.py::test_aPullProducersChunksAreSentAsTwistedSendsThem",),
        "a file sent by twisted.web waits an iteration and a send per chunk",
    ),
    Mutant(
        "held tail never pushed",
        TAILS,
        "        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)\n",
        "",
        ("tests/test_tails.py::test_aHeldTailIsPushedAtTheBurstsEnd",),
        "a proxied response's tail waits for the client's delayed ACK, 40 ms",
    ),
    Mutant(
        "push on a TCP_NODELAY connection",
        TAILS,
        "        if sock.getsockopt(IPPROTO_TCP, TCP_NODELAY):\n",
        "        if False:\n",
        ("tests/test_tails.py::test_noDelaySetSinceTheLastReadingIsLeftAlone",),
        "an application that set TCP_NODELAY finds it cleared",
    ),
    Mutant(
        "held output asked for on a TCP_NODELAY connection",
        WRITING,
        "            if not why and not record.noDelay:\n",
        "            if not why:\n",
        ("tests/test_tails.py::test_aConnectionWithNoDelayIsLeftAlone",),
        "a burst's end costs an ioctl where Nagle holds nothing",
    ),
    Mutant(
        "a TCP_NODELAY reply waits for its request's rest",
        WRITING,
        "            noDelay = record.noDelay\n",
        "",
        ("tests/test_earlywrite.py::test_aNoDelayReplyLeavesInTheTurnThatRead",),
        "a FIONREAD per message where the application asked for every "
        "write to leave at once",
    ),
    Mutant(
        "small writes pushed",
        TAILS,
        "    if written <= SMALLEST_SEGMENT and not continued:\n",
        "    if False:\n",
        ("tests/test_tails.py::test_aWriteHeldWholeIsPushedUnlessTiny",),
        "small writes lose Nagle's coalescing, a packet each",
    ),
    Mutant(
        "kernel asked while the burst goes on",
        TAILS,
        "    if len(transport.dataBuffer) - transport.offset + transport._tempDataLen:\n",
        "    if False:\n",
        ("tests/test_tails.py::test_noQuestionUntilTheBurstEnds",),
        "an ioctl per send of a large write, and its middle pushed",
    ),
    Mutant(
        "output no input drives held as a burst",
        WRITING,
        "writing = bool(afterRead) and more and not waitsForEmpty",
        "writing = more and not waitsForEmpty",
        ("tests/test_writing.py::test_aTrickleAfterABurstIsSentAWriteAtATime",),
        "a timer's small updates after a large write wait until a whole "
        "segment (64 KiB on loopback) has built up",
    ),
    Mutant(
        "tail held past the hold limit",
        WRITING,
        "            if monotonic() - record.heldSince >= HOLD_LIMIT:\n",
        "            if False:\n",
        ("tests/test_writing.py::test_aHeldTailWaitsNoLongerThanTheHoldLimit",),
        "updates answered while input keeps coming wait for a whole segment",
    ),
    Mutant(
        "tail held on a TCP_NODELAY connection",
        WRITING,
        "        if record.noDelay:\n",
        "        if False:\n",
        ("tests/test_writing.py::test_noTailIsHeldOnAConnectionWithNoDelay",),
        "an application that asked for low latency has its writes held",
    ),
    Mutant(
        "a transport's private fields taken for granted",
        WRITING,
        "            and all(hasattr(selectable, name) for name in _TRANSPORT_FIELDS)\n",
        "",
        (
            (
                "tests/test_writing.py::"
                "test_aTransportWithoutTheFieldsReadIsLeftToItsOwnWrites"
            ),
        ),
        "on a Twisted release that renamed them, every TCP write fails",
    ),
    Mutant(
        "no write in the turn that read",
        DISPATCH,
        "                                if record.owedWrite and not why:\n",
        "                                if False:\n",
        ("tests/test_earlywrite.py::test_aWholeReplyGoesOutInTheTurnThatRead",),
        "request/response traffic turns the loop twice per message",
    ),
    Mutant(
        "each short reply sent right after its own read",
        DISPATCH,
        "                                    if replyLater(record):\n",
        "                                    if False:\n",
        ("tests/test_earlywrite.py::test_shortRepliesToOneWaitLeaveAfterItsLastRead",),
        "a peer serving many connections wakes once per reply, not once per "
        "batch: twisted.web under wrk spends a third more CPU a request",
    ),
    Mutant(
        "short replies held for the whole batch however long",
        DISPATCH,
        "                    elif now - held > REPLY_HOLD:\n",
        "                    elif False:\n",
        ("tests/test_earlywrite.py::test_shortRepliesWaitForTheBatchOnlySoLong",),
        "a batch of slow handlers holds its first reply until the last "
        "handler is done: a hundred connections at 1 ms each, 100 ms",
    ),
    Mutant(
        "a batch's reply written under the loop's log context",
        DISPATCH,
        "            selectable = record.owner\n            push(layer)\n",
        "            selectable = record.owner\n            push({_ILogContext: base})\n",
        (
            (
                "tests/test_dispatch.py::"
                "test_aFailedSameTurnWriteLosesTheConnection[Twisted's own]"
            ),
        ),
        "what a failed reply logs names no connection",
    ),
    Mutant(
        "a batch's reply sent although its input goes on",
        DISPATCH,
        "        if record.owedWrite and record.owner is not None and record.fd not in "
        "ready:\n",
        "        if record.owedWrite and record.owner is not None:\n",
        ("tests/test_earlywrite.py::test_aReplyWhoseInputGoesOnInTheBatchWaits",),
        "a reply leaves before the rest of its request is read: the answer "
        "to the rest is a second short segment, which Nagle may hold for a "
        "delayed ACK (40 ms)",
    ),
    Mutant(
        "each reply of a batch asks for its own input",
        DISPATCH,
        "        waiting = self._inputWaiting() if len(replies) >= ASK_ALL_FROM"
        " else None\n",
        "        waiting = None\n",
        ("tests/test_earlywrite.py::test_aBatchOfRepliesAsksTheKernelOnce",),
        "one ioctl per message on many busy connections, where one wait "
        "per batch answers for all",
    ),
    Mutant(
        "long replies held for the rest of the batch too",
        WRITING,
        "            <= BATCHED_REPLY\n",
        "            <= 1 << 62\n",
        ("tests/test_earlywrite.py::test_longerRepliesLeaveRightAfterTheirRead",),
        "many large replies are buffered at once each turn: the heap grows "
        "and is given back, vmbench's 100 KiB echo costs 1.4x the CPU",
    ),
    Mutant(
        "a same-turn write's end taken for the input's",
        DISPATCH,
        "                    reactor._disconnectSelectable(selectable, why, False)\n",
        "                    reactor._disconnectSelectable(selectable, why, True)\n",
        ("tests/test_dispatch.py::test_aReplyThenCloseInTheSameTurnCloses",),
        "a server that answers and closes from dataReceived only half-closes "
        "a half-closeable connection, which stays open",
    ),
    Mutant(
        "same-turn write blind to input waiting",
        WRITING,
        "        if not (asked or noDelay) and _unread(sock):\n",
        "        if False:\n",
        ("tests/test_earlywrite.py::test_aReplyToInputStillWaitingWaitsForIt",),
        "a reply goes out while its request is still being read, in more "
        "sends than Twisted's reactor makes",
    ),
    Mutant(
        "a same-turn reply's held tail left to the delayed ACK",
        WRITING,
        "        if several and not why:\n",
        "        if False:\n",
        ("tests/test_tails.py::test_aReplySentInTheTurnThatReadIsPushedToo",),
        "a reply sent while its request's last segment is on its way ends "
        "short, and the rest's short end waits for the delayed ACK (40 ms)",
    ),
    Mutant(
        "a same-turn reply of several segments to a request read in pieces",
        WRITING,
        "            if several and continued:\n",
        "            if False:\n",
        (
            (
                "tests/test_earlywrite.py::"
                "test_aLongReplyToARequestReadInPiecesWaitsForTheWaitsOtherEvents"
            ),
        ),
        "each piece of a request that arrives in pieces is answered at once, "
        "ending short, and pushed: three system calls more a piece",
    ),
    Mutant(
        "same-turn write still owed",
        WRITING,
        "        record.owedWrite = False\n        why: Optional[BaseException] = "
        "connection.doWrite()\n",
        "        why: Optional[BaseException] = connection.doWrite()\n",
        ("tests/test_earlywrite.py::test_aWholeReplyGoesOutInTheTurnThatRead",),
        "every message still costs a second epoll_wait(0)",
    ),
    Mutant(
        "socket options read once for good",
        WRITING,
        "    record.fresh = REREAD - 1 if segment == record.segment else 0\n",
        "    record.fresh = 1 << 62\n",
        ("tests/test_writing.py::test_noDelaySetLaterIsHonoured",),
        "an application that sets TCP_NODELAY after its first writes has "
        "its writes held for good",
    ),
    Mutant(
        "socket options read for every decision",
        WRITING,
        "    record.fresh = REREAD - 1 if segment == record.segment else 0\n",
        "    record.fresh = 0\n",
        ("tests/test_earlywrite.py::test_theSocketOptionsServeManyMessages",),
        "every message costs two getsockopt calls more",
    ),
    Mutant(
        "a burst cut to the MSS as last read",
        WRITING,
        "        segment = _segment(record, sock)\n",
        "        segment = record.segment\n",
        ("tests/test_writing.py::test_aBurstEndsInItsOnlyShortSegment",),
        "early in a connection, while the MSS grows, a burst is cut to "
        "stale segments and carries short ones in its middle",
    ),
    Mutant(
        "an MSS taken as settled without the window's proof",
        WRITING,
        "                record.settled = 0 < segment < record.widest >> 1\n",
        "                record.settled = True\n",
        ("tests/test_writing.py::test_aBurstEndsInItsOnlyShortSegment",),
        "early in a connection a burst is cut to an MSS that is still "
        "growing and carries short segments in its middle",
    ),
    Mutant(
        "an MSS never taken as settled",
        WRITING,
        "                record.settled = 0 < segment < record.widest >> 1\n",
        "                record.settled = False\n",
        ("tests/test_writing.py::test_aSettledSegmentServesTheCuts",),
        "every cut of a burst costs a getsockopt call",
    ),
    Mutant(
        "a settled MSS kept past a reading of the options",
        WRITING,
        "    record.settled = False\n    return True\n",
        "    return True\n",
        ("tests/test_writing.py::test_aSettledSegmentServesTheCuts",),
        "an MSS that path MTU discovery lowered is cut to for good",
    ),
    Mutant(
        "a short TCP_INFO asked again at every cut",
        WRITING,
        "            else:\n                _windowReported = False\n",
        "            else:\n                pass\n",
        ("tests/test_writing.py::test_withoutTheWindowEachCutReadsTheSegment",),
        "on a kernel before 5.4 every cut costs two getsockopt calls",
    ),
    Mutant(
        "SEND_LIMIT left on the transport",
        WRITING,
        "                    del selectable.SEND_LIMIT\n",
        "                    pass\n",
        ("tests/test_writing.py::test_theTransportsOwnSendLimitIsKeptAndHonoured",),
        "an application's connection keeps a send limit it never set",
    ),
    Mutant(
        "a transport's __dict__ read for its own SEND_LIMIT",
        WRITING,
        "            own = selectable.SEND_LIMIT\n",
        '            own = selectable.__dict__.get("SEND_LIMIT", selectable.SEND_LIMIT)\n',
        ("tests/test_writing.py::test_aCutNeverReadsTheTransportsDict",),
        "every attribute access of Twisted's on a connection the write policy "
        "cut is about twice as slow for the rest of its life (CPython 3.11+)",
    ),
)


def copyTree(destination: str) -> None:
    """
    Copy the files git knows of (tracked, or untracked and not ignored) to
    C{destination}.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in sorted({entry.decode() for entry in listed if entry}):
        source = os.path.join(ROOT, name)
        if not os.path.isfile(source):
            continue
        target = os.path.join(destination, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)


def runTests(tree: str, tests: Sequence[str], whole: bool) -> Tuple[int, Set[str], str]:
    """
    Run pytest in C{tree}, whose own package shadows the installed one.

    @param tests: the node ids; ignored when C{whole}.
    @param whole: run the whole suite, to the end.
    @return: pytest's exit status, the node ids that failed or errored, and
        the end of its output.
    """
    environment = dict(os.environ, PYTHONPATH=tree)
    environment.pop("PYTEST_ADDOPTS", None)
    arguments = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rfE",
        "-p",
        "no:cacheprovider",
    ]
    if not whole:
        arguments += ["-x"] + list(tests)
    done = subprocess.run(
        arguments,
        cwd=tree,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    failed = set(re.findall(r"^(?:FAILED|ERROR) (\S+)", done.stdout, re.MULTILINE))
    return done.returncode, failed, (done.stdout + done.stderr)[-2000:]


def caughtBy(listed: Sequence[str], failed: Set[str]) -> List[str]:
    """
    @return: the listed tests (node ids that may lack parameters, or be
        files) that no failed node id falls under.
    """
    return [
        test
        for test in listed
        if not any(
            node == test or node.startswith(test + "[") or node.startswith(test + "::")
            for node in failed
        )
    ]


def main(argv: List[str]) -> int:
    """
    Plant each bug in a copy of the tree and report which were caught.

    @return: 0 when every planted bug was caught, else 1.
    """
    only: Optional[Set[str]] = None
    whole = False
    for argument in argv:
        if argument.startswith("--only="):
            only = set(argument.split("=", 1)[1].split(","))
        elif argument == "--whole":
            whole = True
        else:
            raise SystemExit(__doc__)
    mutants = [m for m in MUTANTS if only is None or m.name in only]
    if not mutants:
        raise SystemExit("no mutant named {}".format(", ".join(sorted(only or ()))))
    problems: List[str] = []
    results: List[Tuple[str, str, float]] = []
    tree = tempfile.mkdtemp(prefix="mutate-")
    try:
        copyTree(tree)
        for mutant in mutants:
            with open(os.path.join(tree, mutant.path)) as f:
                found = f.read().count(mutant.snippet)
            if found != 1:
                problems.append(
                    "STALE: {!r}: its snippet is in {} {} times, not once".format(
                        mutant.name, mutant.path, found
                    )
                )
        if problems:
            print("\n".join(problems))
            return 1
        listed = sorted({test for mutant in mutants for test in mutant.tests})
        status, failed, tail = runTests(tree, listed, False)
        if status != 0:
            print("the listed tests fail without any bug planted:\n" + tail)
            return 1
        print(
            "{} planted bugs, one at a time{}:".format(
                len(mutants), ", each against the whole suite" if whole else ""
            )
        )
        for mutant in mutants:
            path = os.path.join(tree, mutant.path)
            with open(path) as f:
                original = f.read()
            with open(path, "w") as f:
                f.write(original.replace(mutant.snippet, mutant.replacement))
            started = time.monotonic()
            try:
                status, failed, tail = runTests(tree, mutant.tests, whole)
            finally:
                with open(path, "w") as f:
                    f.write(original)
            elapsed = time.monotonic() - started
            if status == 1:
                verdict = "caught"
                if whole:
                    missed = caughtBy(mutant.tests, failed)
                    verdict += " by {} tests".format(len(failed))
                    if missed:
                        verdict = "caught, but NOT by " + ", ".join(missed)
                        problems.append("{}: {}".format(mutant.name, verdict))
            elif status == 0:
                verdict = "NOT CAUGHT"
                problems.append(
                    "{}: not caught by {}".format(mutant.name, " ".join(mutant.tests))
                )
            else:
                verdict = "BROKEN (pytest exit status {})".format(status)
                problems.append(
                    "{}: the planted tree does not run:\n{}".format(mutant.name, tail)
                )
            results.append((mutant.name, verdict, elapsed))
            print("  {:50} {:>6.1f} s  {}".format(mutant.name, elapsed, verdict))
            sys.stdout.flush()
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    caught = sum(1 for _, verdict, _ in results if verdict.startswith("caught"))
    print("{} of {} planted bugs caught".format(caught, len(results)))
    for problem in problems:
        print("PROBLEM: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
