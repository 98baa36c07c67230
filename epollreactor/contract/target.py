"""
L{Target}: the reactor a machine judges, made from a factory; and
L{ReactorUnderTest}, one such reactor with its fake clock, its channels and
the calls it made.

A reactor is judged through C{IReactorFDSet} and its loop's public steps
(C{runUntilCurrent}, C{doIteration}), and, where it has them, through the
attributes Twisted's own C{EPollReactor} has: C{_poller}, whose C{fileno()}
names the epoll instance whose interest list C{/proc/self/fdinfo} shows.
"""

import asyncio
import math
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from epollreactor.contract.channel import Call, Channel
from epollreactor.contract.kernel import isEpollDescriptor, masksAndInodes, sleptIn


def qualifiedName(thing: Any) -> Tuple[str, str]:
    """
    @return: the module and the name C{thing} is imported as.
    """
    return thing.__module__, getattr(thing, "__qualname__", thing.__name__)


class Target:
    """
    How to make, turn and close the reactor under test, and how a program
    makes it.

    @ivar factory: makes a new reactor, never run.
    @ivar name: how reports name it.
    @ivar asyncio: whether it is Twisted's asyncio reactor, turned by its
        event loop, which the target makes for each reactor.
    """

    def __init__(self, factory: Callable[[], Any], name: Optional[str] = None) -> None:
        """
        @param factory: a reactor class, or any callable returning a new
            reactor.
        @param name: see L{name}; the factory's dotted name by default.
        """
        module, qualname = qualifiedName(factory)
        self.factory = factory
        self.name = name or "{}.{}".format(module, qualname)
        self.asyncio = isinstance(factory, type) and any(
            base.__name__ == "AsyncioSelectorReactor" for base in factory.__mro__
        )
        self._loops: Dict[int, asyncio.AbstractEventLoop] = {}

    def make(self) -> Any:
        """
        @return: a new reactor; Twisted's asyncio reactor on an event loop of
            its own (the default selector's).
        """
        if not self.asyncio:
            return self.factory()
        loop = asyncio.new_event_loop()
        factory: Any = self.factory
        reactor = factory(loop)
        self._loops[id(reactor)] = loop
        return reactor

    def wait(self, reactor: Any, timeout: float) -> None:
        """
        The reactor's one wait for events and its dispatch.
        """
        loop = self._loops.get(id(reactor))
        if loop is None:
            reactor.doIteration(timeout)
        else:
            loop.call_soon(loop.stop)
            loop.run_forever()

    def close(self, reactor: Any, internal: Set[Any]) -> None:
        """
        Release what the reactor holds: its registrations, its waker, its
        timed calls, and its epoll instance or event loop.

        @param internal: its own readers (its waker), which it listed
            before it was given any.
        """
        # Each part apart: a reactor that broke a rule may raise from any
        # of them, and what it holds must be released all the same.
        _quietly(reactor.removeAll)
        for reader in internal:
            _quietly(reactor.removeReader, reader)
            _quietly(reader.connectionLost, None)
        for call in _quietly(reactor.getDelayedCalls) or ():
            _quietly(call.cancel)
        loop = self._loops.pop(id(reactor), None)
        if loop is not None:
            loop.close()
        poller = getattr(reactor, "_poller", None)
        if poller is not None and hasattr(poller, "close"):
            _quietly(poller.close)

    def programHeader(self) -> List[str]:
        """
        @return: the lines that make the reactor in a printed program.
        """
        module, qualname = qualifiedName(self.factory)
        lines = [
            "import os",
            "from {} import {}".format(module, qualname.split(".")[0]),
            "from epollreactor.contract.program import Session, drain, fill",
        ]
        if self.asyncio:
            lines += [
                "import asyncio",
                "loop = asyncio.new_event_loop()",
                "s = Session({}(loop), loop)".format(qualname),
            ]
        else:
            lines.append("s = Session({}())".format(qualname))
        return lines


def _quietly(call: Callable[..., Any], *args: Any) -> Any:
    """
    @return: what C{call(*args)} returns, or C{None} when it raises.
    """
    try:
        return call(*args)
    except Exception:
        return None


class FakeClock:
    """
    The reactor's clock, advanced by one second per iteration, so that the
    continuous poller's C{LoopingCall} is due exactly once per iteration
    whatever the real clock does.
    """

    def __init__(self) -> None:
        """
        Start at 1000.
        """
        self.now = 1000.0

    def seconds(self) -> float:
        """
        @return: the current fake time.
        """
        return self.now


class ReactorUnderTest:
    """
    One reactor, its clock, its channels and what it called.

    @ivar channels: maps channel names to this reactor's L{Channel}s.
    @ivar internal: what it listed as readers before any channel was added
        (its waker): never the machine's.
    @ivar slept: whether the last iteration slept in the kernel
        (L{sleptIn}).
    """

    def __init__(self, target: Target) -> None:
        """
        @param target: makes the reactor.
        """
        self.target = target
        self.reactor = target.make()
        self.clock = FakeClock()
        self.reactor.seconds = self.clock.seconds
        self.calls: List[Call] = []
        self.channels: Dict[str, Channel] = {}
        self.internal: Set[Any] = set(self.reactor.getReaders())
        self.slept: Optional[bool] = None
        poller = getattr(self.reactor, "_poller", None)
        epfd = getattr(poller, "fileno", lambda: -1)()
        self.epfd: Optional[int] = epfd if isEpollDescriptor(epfd) else None

    def readers(self) -> List[str]:
        """
        @return: the names of the channels C{getReaders()} lists.
        """
        return [r.name for r in self.reactor.getReaders() if r not in self.internal]

    def writers(self) -> List[str]:
        """
        @return: the names of the channels C{getWriters()} lists.
        """
        return [w.name for w in self.reactor.getWriters() if w not in self.internal]

    def registrations(self) -> Optional[Dict[int, Tuple[int, int]]]:
        """
        @return: L{masksAndInodes} of its epoll instance, without the
            waker's entry; C{None} for a reactor with no epoll C{_poller}.
        """
        if self.epfd is None:
            return None
        view = masksAndInodes(self.epfd)
        for reader in self.internal:
            view.pop(reader.fileno(), None)
        return view

    def iterate(
        self, beforeWait: Callable[[], None] = lambda: None, timeout: float = 0
    ) -> List[Call]:
        """
        One turn of C{mainLoop}.

        @param beforeWait: called between C{runUntilCurrent} and the wait.
        @param timeout: what the wait is given.
        @return: the calls made.
        """
        del self.calls[:]
        self.clock.now += 1
        self.reactor.runUntilCurrent()
        beforeWait()
        self.slept = sleptIn(
            lambda: self.target.wait(self.reactor, timeout),
            math.ceil(timeout * 1000) / 1000,
        )
        return list(self.calls)

    def close(self) -> None:
        """
        Release the reactor (L{Target.close}).
        """
        self.target.close(self.reactor, self.internal)
