"""
L{Channel}: the file descriptor object the machines hand to a reactor.  It
records what the reactor calls on it and does nothing else, so that a file
stays ready until the machine drains, fills or closes it.
"""

from typing import Any, Callable, List, Optional, Tuple

from twisted.internet import abstract
from twisted.internet.main import CONNECTION_DONE

from epollreactor.contract.world import OpenFile, atEndOfFile

#: A call a reactor made: the channel's name and the method.
Call = Tuple[str, str]

#: C{observe(channel, method, atEnd)}: told of every call a channel gets.
Observer = Callable[["Channel", str, bool], None]


class Channel(abstract.FileDescriptor):
    """
    A C{FileDescriptor} that records what the reactor calls on it.  Like a
    transport, C{doRead} reports end-of-file (C{ConnectionDone}) when a read
    would see it, and C{connectionLost} stops reading and writing.

    A channel is its descriptor I{number}, as real Twisted objects are (a
    socket object closed behind its back, or one whose number was
    C{dup2}'d over, still returns the number from C{fileno()}).

    @ivar name: its name in the model, in messages and in programs.
    @ivar number: the descriptor number C{fileno()} returns; -1 once its
        connection was lost.
    @ivar calls: the list, shared by every channel of one reactor, that
        calls are recorded in.
    @ivar file: the L{OpenFile} it was opened on, if a machine made it.
    @ivar observe: told of each call, after it was recorded, or C{None}.
    """

    file: Optional[OpenFile] = None
    observe: Optional[Observer] = None

    def __init__(
        self, reactor: Any, name: str, number: int, calls: Optional[List[Call]] = None
    ) -> None:
        """
        @param reactor: the reactor it is given to.
        @param name: see L{name}.
        @param number: see L{number}.
        @param calls: see L{calls}; a list of its own when C{None}.
        """
        abstract.FileDescriptor.__init__(self, reactor)
        self.name = name
        self.number = number
        self.calls: List[Call] = [] if calls is None else calls

    def __repr__(self) -> str:
        """
        @return: its name and number.
        """
        return "<Channel {} on {}>".format(self.name, self.number)

    def __hash__(self) -> int:
        """
        By name, not by address: the order of a reactor's sets decides which
        channel's call comes first, and it must be the same when Hypothesis
        replays a program to shrink it.
        """
        return hash(self.name)

    def fileno(self) -> int:
        """
        @return: L{number}.
        """
        return self.number

    def intact(self) -> bool:
        """
        @return: whether its number still names the file it was opened on.
        """
        return (
            self.number >= 0
            and self.file is not None
            and self.file.number == self.number
        )

    def _record(self, method: str, atEnd: bool = False) -> None:
        self.calls.append((self.name, method))
        if self.observe is not None:
            self.observe(self, method, atEnd)

    def doRead(self) -> Optional[BaseException]:
        """
        Record the call, and report end-of-file as a transport's read would
        (without reading anything: data stays buffered).

        @return: C{ConnectionDone} when the descriptor is at end-of-file.
        """
        atEnd = atEndOfFile(self.number)
        self._record("doRead", atEnd)
        return CONNECTION_DONE if atEnd else None

    def doWrite(self) -> None:
        """
        Record the call.
        """
        self._record("doWrite")

    def connectionLost(self, reason: Any) -> None:
        """
        Record the call, and stop reading and writing, as
        L{abstract.FileDescriptor.connectionLost} does (the reactor removes
        only the reader before C{readConnectionLost}).
        """
        self._record("connectionLost")
        reactor: Any = self.reactor
        reactor.removeReader(self)
        reactor.removeWriter(self)
