"""
What the programs the command prints run on: a L{Session} holds the reactor
under test, the files and the channels, and does in the open what the
reactor machine did, so that a shrunk example reads as a short program::

    from twisted.internet.pollreactor import PollReactor
    from epollreactor.contract.program import Session
    s = Session(PollReactor())
    c0, c1 = s.open("socketpair")
    s.reactor.addReader(c0)
    s.close("f0")                      # behind the reactor's back
    s.reactor.removeReader(c0)

Every call a channel gets is printed as it happens.
"""

import asyncio
import contextlib
import tempfile
from typing import Any, Dict, Iterator, List, Optional, Tuple

from epollreactor.contract.channel import Channel
from epollreactor.contract.world import World, drain, fill

__all__ = ["Session", "ProgramChannel", "fill", "drain"]

#: How many descriptors a machine keeps open at most.
MAX_OPEN = 14


class ProgramChannel(Channel):
    """
    A L{Channel} that prints its calls and may react to them, as the
    machine's channels do.

    @ivar session: the L{Session} it belongs to.
    @ivar reactions: method -> C{(action, target)}, run after the call.
    """

    def __init__(self, session: "Session", name: str, number: int) -> None:
        """
        @param session: see L{session}.
        @param name: its name, C{c0}, C{c1}, ...
        @param number: its descriptor number.
        """
        Channel.__init__(self, session.reactor, name, number)
        self.session = session
        self.reactions: Dict[str, Tuple[str, Channel]] = {}

    def _record(self, method: str, atEnd: bool = False) -> None:
        print("  {}.{}(){}".format(self.name, method, "  (at end of file)" * atEnd))
        Channel._record(self, method, atEnd)
        reaction = self.reactions.get(method)
        if reaction is not None:
            self.session.act(*reaction)

    def react(self, method: str, action: str, target: Channel) -> None:
        """
        From now on, when C{method} is called, do C{action} to C{target}:
        C{addReader}, C{addWriter}, C{removeReader}, C{removeWriter},
        C{loseConnection}, or C{reopen} (lose its connection, open a socket
        pair, read from its first end).
        """
        self.reactions[method] = (action, target)


class Session:
    """
    A reactor, the files opened for it, and its channels.

    @ivar reactor: the reactor under test.
    @ivar files: the L{World} of descriptors.
    @ivar channels: name -> channel, in order.
    """

    def __init__(self, reactor: Any, loop: Optional[asyncio.AbstractEventLoop] = None):
        """
        @param reactor: the reactor under test, never run.
        @param loop: its asyncio event loop, for Twisted's asyncio reactor,
            whose iteration is the loop's.
        """
        self.reactor = reactor
        self.loop = loop
        self.files = World(tempfile.mkdtemp(prefix="contract-"), avoidReuse=True)
        self.channels: Dict[str, ProgramChannel] = {}
        self.now = 1000.0
        self.iterations = 0
        reactor.seconds = lambda: self.now

    def _channels(self, openFiles: List[Any]) -> List[ProgramChannel]:
        made = []
        for openFile in openFiles:
            channel = ProgramChannel(
                self, "c{}".format(len(self.channels)), openFile.number
            )
            channel.file = openFile
            self.channels[channel.name] = channel
            made.append(channel)
        return made

    def _numbers(self, names: Optional[List[Optional[str]]]) -> List[Optional[int]]:
        byName = {f.name: f for f in self.files.allFiles}
        return [None if n is None else byName[n].lastNumber for n in names or []]

    def open(
        self, kind: str, onto: Optional[List[Optional[str]]] = None
    ) -> List[ProgramChannel]:
        """
        Open a socket pair, a pipe or the regular file, with a channel for
        each descriptor.

        @param onto: for each descriptor, the name of a closed file whose
            number it takes (so that a number is reused as in the example).
        """
        opened = self.files.open(kind, self._numbers(onto))
        return self._channels(opened)

    def dup2Onto(
        self, kind: str, number: int, onto: Optional[List[Optional[str]]] = None
    ) -> List[ProgramChannel]:
        """
        Open C{kind} (as L{open}) and move its first descriptor onto
        C{number}, behind the reactor's back (the file there is closed).
        """
        opened = self.files.open(kind, self._numbers(onto))
        self.files.dup2(opened[0], number)
        return self._channels(opened)

    def _file(self, name: str) -> Any:
        return {f.name: f for f in self.files.allFiles}[name]

    def fill(self, name: str, size: int = 0) -> None:
        """
        Write C{size} bytes to file C{name} or, with 0, until it is full.
        """
        fill(self._file(name).number, size)

    def drain(self, name: str) -> None:
        """
        Read everything file C{name} has buffered.
        """
        drain(self._file(name).number)

    def close(self, name: str) -> None:
        """
        Close file C{name} (C{f0}, ...), behind the reactor's back.
        """
        for openFile in self.files.allFiles:
            if openFile.name == name and openFile.number is not None:
                self.files.close(openFile.number)

    def loseConnection(self, channel: Channel) -> None:
        """
        What a transport does: stop reading and writing, close its
        descriptor, and answer -1 from C{fileno()}; then raise what
        C{removeReader} or C{removeWriter} raised, if either did.
        """
        raised: List[Exception] = []
        for remove in (self.reactor.removeReader, self.reactor.removeWriter):
            try:
                remove(channel)
            except Exception as e:
                raised.append(e)
        if channel.number in self.files.files:
            self.files.close(channel.number)
        channel.number = -1
        if raised:
            raise raised[0]

    @contextlib.contextmanager
    def tolerating(self) -> Iterator[None]:
        """
        A call that raises, and breaks no rule the program shows: print
        what it raised, and go on, as the machine did.
        """
        try:
            yield
        except Exception as e:
            print("  raised {!r}".format(e))

    def act(self, action: str, target: Channel) -> None:
        """
        Do a reaction's C{action} to C{target} (L{ProgramChannel.react}).
        """
        if action == "reopen":
            if len(self.files.files) >= MAX_OPEN:
                return
            with self.tolerating():
                self.loseConnection(target)
            action, target = "addReader", self.open("socketpair")[0]
        # What the reactor raises into a callback, the machine's reaction
        # caught (and judged); here it is printed.
        with self.tolerating():
            if action == "loseConnection":
                self.loseConnection(target)
            else:
                getattr(self.reactor, action)(target)

    def iterate(self, timeout: float = 0) -> None:
        """
        One turn of the reactor's loop: its timed calls (the continuous
        poller of regular files is due every turn), then one wait for
        events, with C{timeout}.
        """
        self.iterations += 1
        print("iteration {}:".format(self.iterations))
        self.now += 1
        self.reactor.runUntilCurrent()
        if self.loop is None:
            self.reactor.doIteration(timeout)
        else:
            self.loop.call_soon(self.loop.stop)
            self.loop.run_forever()
