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
masked by that interest or for a selectable no longer registered.  Every
C{doWrite} goes through the reactor's write policy
(L{epollreactor._writing}), which a C{doRead} that wrote to its own
connection asks whether the reply can go out in this turn
(L{WritePolicy.sameTurn}): at once, or for a short reply once every event
of the wait has been handed out (L{WritePolicy.replyLater}), under the log
context its read had; a write it makes then fails the connection as a
C{doWrite} for EPOLLOUT would.
"""

import sys
from time import monotonic
from typing import AbstractSet, Any, Callable, Dict, List, Optional, Set, Tuple

from twisted.internet import posixbase
from twisted.internet.main import CONNECTION_DONE, CONNECTION_LOST
from twisted.python import context, log

from epollreactor._libc import EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EVENT, EventBuffer
from epollreactor._registrations import Registration, Registrations
from epollreactor._writing import REPLY_HOLD, Dispatch, WritePolicy

__all__ = ["Dispatch", "Dispatcher"]

_ILogContext = log.ILogContext
_FD_WORD = EventBuffer.fdWord
_STRIDE = EventBuffer.stride
#: How many ready descriptors L{Dispatcher._inputWaiting} can hear of; with
#: more, each reply asks for itself.
_ASKED_CAPACITY = 1024
_NOTHING: AbstractSet[int] = frozenset()
_unpackEvents = EVENT.iter_unpack
_EVENT_SIZE = EVENT.size
_NO_FILEDESC = posixbase._NO_FILEDESC
_DISCONNECTED = EPOLLHUP | EPOLLERR
_BUGGY_LOG_PREFIX = "(buggy logPrefix method)"
#: Not an epoll event (the bit is EPOLLONESHOT's, which a wait never
#: reports): a reply a C{doRead} wrote, to be sent at the end of the batch
#: or once the batch has held it L{REPLY_HOLD}.
_REPLY = 1 << 30
#: The same, for a connection the kernel said has no input waiting (the
#: bit added is EPOLLWAKEUP's, which the reactor never asks for).
_REPLY_ASKED = _REPLY | 1 << 29

#: A short reply waiting for the end of its batch: its record, and the log
#: context layer its read was dispatched under (C{None} where the
#: application's own context tracker is in use), which its write gets too.
Reply = Tuple[Registration, Optional[Dict[Any, Any]]]

#: C{reply(record, layer, asked)}: what sends one L{Reply}; C{asked}: the
#: kernel was asked already whether input waits on its connection.
SendReply = Callable[[Registration, Optional[Dict[Any, Any]], bool], None]

#: The fewest short replies of one batch for which the kernel is asked once,
#: with an C{epoll_wait(2)} of zero timeout, which of their connections have
#: input waiting, rather than once per reply with C{FIONREAD} (0.55 us each
#: here; the wait costs about as much as one, plus 0.13 us per ready
#: descriptor).
ASK_ALL_FROM = 4


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
    writing: WritePolicy,
    replies: List[Reply],
    record: Registration,
    event: int,
) -> None:
    """
    Hand one event to C{record}'s owner: what
    C{posixbase._PollLikeMixin._doReadOrWrite} does, but for the difference
    the module's docstring gives.

    @param writing: the reactor's write policy, through which the owner
        writes (L{WritePolicy.sameTurn}, L{WritePolicy.doWrite}).
    """
    sameTurn = writing.sameTurn
    doWrite = writing.doWrite
    selectable = record.owner
    why: Optional[BaseException] = None
    inRead = False
    if event & _DISCONNECTED and not event & EPOLLIN:
        if record.reading:
            inRead = True
            why = CONNECTION_DONE
        else:
            why = CONNECTION_LOST
    else:
        try:
            if selectable.fileno() == -1:
                why = _NO_FILEDESC
            else:
                if event & _REPLY:
                    why = sameTurn(record, event == _REPLY_ASKED)
                elif event & EPOLLIN:
                    owed = record.owedWrite
                    why = selectable.doRead()
                    inRead = True
                    if record.owedWrite and not why:
                        if writing.replyLater(record):
                            replies.append((record, None))
                        else:
                            why = sameTurn(record, False, owed)
                            inRead = not why
                    if not (record.writing and record.owner is selectable):
                        event = EPOLLIN
                if not why and event & EPOLLOUT:
                    why = doWrite(record, inRead)
                    inRead = False
        except BaseException:
            why = sys.exc_info()[1]
            log.err()
    if why:
        reactor._disconnectSelectable(selectable, why, inRead)


def _sendReplies(
    replies: List[Reply], reply: SendReply, waiting: Optional[AbstractSet[int]]
) -> None:
    """
    Hand C{reply} each of C{replies} whose record is still owed its write
    attempt, to be made as a same-turn reply (L{WritePolicy.sameTurn}),
    and empty the list.

    @param waiting: the numbers the kernel has input for now, if it was
        asked for all of them at once (L{Dispatcher._inputWaiting}): a
        reply on one of those stays owed, one on any other is sent without
        asking again; C{None}: each reply asks for its own (C{FIONREAD}).
    """
    asked = waiting is not None
    ready = waiting if waiting is not None else _NOTHING
    for record, layer in replies:
        if record.owedWrite and record.owner is not None and record.fd not in ready:
            reply(record, layer, asked)
    del replies[:]


class Dispatcher:
    """
    Builds, for each iteration of a reactor's loop, the function that
    hands one event to its selectable.

    @ivar _reactor: the reactor, whose C{_disconnectSelectable} the
        function calls.
    @ivar _table: the reactor's records, which events are checked against.
    @ivar _writing: the reactor's write policy.
    @ivar _cached: C{(stack, base, dispatch, reply)}: the last functions
        built, kept while the thread's context stack and log context are the
        same objects.
    @ivar _replies: this batch's short replies, in the order read.
    @ivar _reply: this iteration's function that sends one of them.
    """

    _cached: Optional[Tuple[Any, Any, Dispatch, SendReply]] = None

    def __init__(
        self, reactor: Any, table: Registrations, writing: WritePolicy
    ) -> None:
        """
        @param reactor: the reactor whose selectables get the events.
        @param table: its records.
        @param writing: its write policy, through which every C{doWrite}
            goes.
        """
        self._reactor = reactor
        self._table = table
        self._writing = writing
        self._replies: List[Reply] = []
        self._reply: SendReply = self._replyWithLogger
        self._asked: Optional[EventBuffer] = None

    def dispatchEvents(self, buffer: EventBuffer, count: int) -> Dispatch:
        """
        Hand each of the C{count} events in C{buffer} to its record's owner:
        an event whose generation is not that of the record now under its
        number is stale (fact 3 of L{epollreactor._reactor}) or a ghost
        (fact 1), and each is masked by what the owner wants now, with the
        errors it always gets.

        @return: this iteration's dispatch function.
        """
        dispatch = self.forIteration()
        table = self._table
        byNumber = table.byNumber
        replies = self._replies
        held = 0.0
        for event, fd, generation in _unpackEvents(buffer.view[: count * _EVENT_SIZE]):
            record = byNumber.get(fd)
            if record is None or record.generation != generation:
                table.stray(generation)
                continue
            if not record.reading:
                event &= ~EPOLLIN
            elif event & EPOLLHUP:
                # A hang-up can come before, or without, EPOLLIN while input
                # is still buffered (fact 4, Twisted issue 7932): read until
                # the read itself sees end-of-file.
                event |= EPOLLIN
            if not record.writing:
                event &= ~EPOLLOUT
            if event:
                dispatch(record, event)
                if replies:
                    now = monotonic()
                    if not held:
                        held = now
                    elif now - held > REPLY_HOLD:
                        self._sendReplies()
                        held = 0.0
        if replies:
            self._sendReplies()
        return dispatch

    def _sendReplies(self) -> None:
        """
        Send this batch's short replies so far (L{_sendReplies}), asking the
        kernel once which of their connections have input waiting where
        there are enough of them (L{ASK_ALL_FROM}).
        """
        replies = self._replies
        waiting = self._inputWaiting() if len(replies) >= ASK_ALL_FROM else None
        _sendReplies(replies, self._reply, waiting)

    def _inputWaiting(self) -> Optional[Set[int]]:
        """
        @return: every registered number the kernel reports ready now, by an
            C{epoll_wait(2)} that does not sleep: a reader that is not among
            them has no input waiting (tcp(7): EPOLLIN while the receive
            queue holds a byte); C{None} when it cannot say (more are ready
            than the answer holds).
        """
        buffer = self._asked
        if buffer is None:
            buffer = self._asked = EventBuffer(_ASKED_CAPACITY)
        count = self._table.poller._waitOnce(buffer, buffer.capacity, 0)
        if count >= buffer.capacity:
            return None
        return set(buffer.words[_FD_WORD : count * _STRIDE : _STRIDE])

    def forIteration(self) -> Dispatch:
        """
        @return: C{dispatch(record, event)}, which does what
            C{log.callWithLogger(selectable, reactor._doReadOrWrite,
            selectable, fd, event)} does for C{record}'s owner and number.
        """
        stack = _logContextStack()
        if stack is None:
            self._reply = self._replyWithLogger
            return self._dispatchWithLogger
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
            self._reply = cached[3]
            return cached[2]
        dispatch, self._reply = self._build(stack, base)
        self._cached = (stack, base, dispatch, self._reply)
        return dispatch

    def _dispatchWithLogger(self, record: Registration, event: int) -> None:
        """
        Dispatch through L{log.callWithLogger}, for an application that
        installed a context tracker of its own.
        """
        log.callWithLogger(
            record.owner,
            _readOrWrite,
            self._reactor,
            self._writing,
            self._replies,
            record,
            event,
        )

    def _replyWithLogger(
        self, record: Registration, layer: Optional[Dict[Any, Any]], asked: bool
    ) -> None:
        """
        Send a short reply through L{log.callWithLogger}, for an
        application that installed a context tracker of its own.
        """
        self._dispatchWithLogger(record, _REPLY_ASKED if asked else _REPLY)

    def _build(
        self, stack: List[Dict[Any, Any]], base: Any
    ) -> Tuple[Dispatch, SendReply]:
        """
        @return: the dispatch function for C{stack} (the thread's log
            contexts) and C{base} (the one there now, each event's copy),
            and the function that sends a batch's short reply under the
            layer its read had.
        """
        push, pop, reactor = stack.append, stack.pop, self._reactor
        doWrite, sameTurn = self._writing.doWrite, self._writing.sameTurn
        replyLater, replies = self._writing.replyLater, self._replies

        def dispatch(record: Registration, event: int) -> None:
            selectable = record.owner
            try:
                prefix = selectable.logPrefix()
            except KeyboardInterrupt:
                raise
            except BaseException:
                prefix = _BUGGY_LOG_PREFIX
                log.err(system=prefix)
            logContext = base.copy()
            logContext["system"] = prefix
            layer = {_ILogContext: logContext}
            push(layer)
            try:
                # _readOrWrite, inlined to save a frame per event
                # (bench/bench_dispatch.py); the two change together.
                why: Optional[BaseException] = None
                inRead = False
                if event & _DISCONNECTED and not event & EPOLLIN:
                    if record.reading:
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
                                owed = record.owedWrite
                                why = selectable.doRead()
                                inRead = True
                                if record.owedWrite and not why:
                                    if replyLater(record):
                                        replies.append((record, layer))
                                    else:
                                        why = sameTurn(record, False, owed)
                                        inRead = not why
                                if not (record.writing and record.owner is selectable):
                                    event = EPOLLIN
                            if not why and event & EPOLLOUT:
                                why = doWrite(record, inRead)
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

        def reply(
            record: Registration, layer: Optional[Dict[Any, Any]], asked: bool
        ) -> None:
            # What dispatch does for a same-turn reply, under the layer its
            # read was dispatched under, built again for nothing otherwise
            # (a full dispatch per reply cost a batch of 64-byte echoes a
            # tenth of its instructions).
            if layer is None:
                # Read under the application's context tracker.
                self._replyWithLogger(record, layer, asked)
                return
            selectable = record.owner
            push(layer)
            try:
                why: Optional[BaseException] = None
                try:
                    if selectable.fileno() == -1:
                        why = _NO_FILEDESC
                    else:
                        why = sameTurn(record, asked)
                except BaseException:
                    why = sys.exc_info()[1]
                    log.err()
                if why:
                    reactor._disconnectSelectable(selectable, why, False)
            except KeyboardInterrupt:
                raise
            except BaseException:
                log.err(system=layer[_ILogContext]["system"])
            finally:
                pop()

        return dispatch, reply
