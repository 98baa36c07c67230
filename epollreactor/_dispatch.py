"""
L{Dispatcher}: how L{EPollReactor<epollreactor.EPollReactor>} hands one
event to its selectable, with the log context C{log.callWithLogger} would
give it, built once per iteration instead of once per event.

Twisted issue 2534 found a reactor spending a sixth of its time in
C{callWithLogger}: per event it walks ten Python frames to copy the current
log context, add C{"system": selectable.logPrefix()} and push it for the
call.  The context is the same for every event of an iteration, so it is
looked up once, and per event only copied, given C{"system"} and pushed onto
the thread's context stack directly; C{_doReadOrWrite} is inlined.  What the
selectable and the log observe is unchanged: C{log.msg} inside C{doRead}
carries the selectable's prefix as C{system}, and a failure is logged, with
that prefix, and disconnects it (C{tests/test_dispatch.py}).  One thing
differs from C{_doReadOrWrite}, on purpose: when one event reports both
directions and C{doRead} takes the write interest away, or gives the number
to another selectable, no C{doWrite} follows, as none would for an event
masked by that interest or for a selectable no longer registered.  And a
TCP connection's C{doWrite} sends whole segments, the short tail of a burst
last (L{epollreactor._segments}).
"""

import sys
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from twisted.internet import posixbase
from twisted.internet.main import CONNECTION_DONE, CONNECTION_LOST
from twisted.python import context, log

from epollreactor._libc import EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT
from epollreactor._segments import WholeSegmentWriter

__all__ = ["Dispatch", "Dispatcher"]

#: C{dispatch(selectable, fd, event)}.
Dispatch = Callable[[Any, int, int], None]

_ILogContext = log.ILogContext
_NO_FILEDESC = posixbase._NO_FILEDESC
_DISCONNECTED = EPOLLHUP | EPOLLERR
_BUGGY_LOG_PREFIX = "(buggy logPrefix method)"


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


def _readOrWrite(
    reactor: Any,
    reads: Set[int],
    writes: Set[int],
    owners: Dict[int, Any],
    doWrite: Callable[[Any, int], Optional[BaseException]],
    selectable: Any,
    fd: int,
    event: int,
) -> None:
    """
    Hand one event to its selectable: what
    C{posixbase._PollLikeMixin._doReadOrWrite} does, but for the difference
    the module's docstring gives.

    @param owners: the reactor's owner by descriptor number.
    @param doWrite: calls a selectable's C{doWrite}
        (L{WholeSegmentWriter.doWrite}).
    """
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
                    if event & EPOLLOUT and (
                        fd not in writes or owners.get(fd) is not selectable
                    ):
                        event = EPOLLIN
                if not why and event & EPOLLOUT:
                    why = doWrite(selectable, inRead)
                    inRead = False
        except BaseException:
            why = sys.exc_info()[1]
            log.err()
    if why:
        reactor._disconnectSelectable(selectable, why, inRead)


class Dispatcher:
    """
    Builds, for each iteration of a reactor's loop, the function that
    hands one event to its selectable.

    @ivar _reactor: the reactor, whose C{_disconnectSelectable} the
        function calls.
    @ivar _reads: the reactor's set of numbers wanting C{doRead}.
    @ivar _writes: the reactor's set of numbers wanting C{doWrite}.
    @ivar _owners: the reactor's owner by descriptor number.
    @ivar _segments: has a TCP connection write whole segments.
    @ivar _cached: C{(stack, base, dispatch)}: the last function built,
        kept while the thread's context stack and log context are the same
        objects.
    """

    _cached: Optional[Tuple[Any, Any, Dispatch]] = None

    def __init__(
        self, reactor: Any, reads: Set[int], writes: Set[int], owners: Dict[int, Any]
    ) -> None:
        """
        @param reactor: the reactor whose selectables get the events.
        @param reads: its set of numbers wanting C{doRead}, which tells a
            reader's hang-up (C{CONNECTION_DONE}) from a writer's.
        @param writes: its set of numbers wanting C{doWrite}, checked again
            after a C{doRead} that came with EPOLLOUT.
        @param owners: its owner by descriptor number, checked then too.
        """
        self._reactor = reactor
        self._reads = reads
        self._writes = writes
        self._owners = owners
        self._segments = WholeSegmentWriter()

    def forIteration(self) -> Dispatch:
        """
        @return: C{dispatch(selectable, fd, event)}, which does what
            C{log.callWithLogger(selectable, reactor._doReadOrWrite,
            selectable, fd, event)} does.
        """
        stack = _logContextStack()
        reads = self._reads
        writes = self._writes
        owners = self._owners
        reactor = self._reactor
        doWrite = self._segments.doWrite
        if stack is None:
            callWithLogger: Callable[..., object] = log.callWithLogger

            def dispatchWithLogger(selectable: Any, fd: int, event: int) -> None:
                callWithLogger(
                    selectable,
                    _readOrWrite,
                    reactor,
                    reads,
                    writes,
                    owners,
                    doWrite,
                    selectable,
                    fd,
                    event,
                )

            return dispatchWithLogger
        # What context.get(ILogContext) finds, without its three calls.
        base: Any = None
        for layer in reversed(stack):
            if _ILogContext in layer:
                base = layer[_ILogContext]
                break
        cached = self._cached
        if cached is not None and cached[0] is stack and cached[1] is base:
            # Building the function costs about as much as dispatching a few
            # events; an iteration with only a few (connection churn) should
            # not pay it again (bench/README.md, churn).
            return cached[2]
        push = stack.append
        pop = stack.pop

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
                # _readOrWrite, inlined to save a frame per event
                # (bench/bench_dispatch.py); the two change together.
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
                                if event & EPOLLOUT and (
                                    fd not in writes or owners.get(fd) is not selectable
                                ):
                                    event = EPOLLIN
                            if not why and event & EPOLLOUT:
                                why = doWrite(selectable, inRead)
                                inRead = False
                    except BaseException:
                        why = sys.exc_info()[1]
                        log.err()
                if why:
                    reactor._disconnectSelectable(selectable, why, inRead)
            except KeyboardInterrupt:
                raise
            except BaseException:
                log.err(system=prefix)
            finally:
                pop()

        self._cached = (stack, base, dispatch)
        return dispatch
