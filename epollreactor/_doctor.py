"""
The doctor behind C{python -m epollreactor}: say what the binding uses on
this machine and prove, in about a second at most, that it works.

It prints the C library that was loaded, the layout of C{struct epoll_event}
the binding was built for, the kernel, whether this interpreter's C{select}
module has C{epoll}, the interpreter, and whether Twisted finds the reactor
plugin; then it sends a message through a socket pair on an L{EPollReactor}
and another through an L{EpollSelector}.  The exit status is 0 when all is
well and 1 otherwise, with each problem named on its own line.
"""

import os
import platform
import select
import selectors
import socket
import sys
from time import monotonic
from typing import Any, Callable, List, Optional, TextIO, Tuple

from zope.interface import implementer

from twisted.application.reactors import getReactorTypes
from twisted.internet.interfaces import IReadDescriptor, IWriteDescriptor

import epollreactor
from epollreactor._libc import EVENT, epoll_event, libcName
from epollreactor._reactor import EPollReactor
from epollreactor._selector import EpollSelector

__all__ = ["main", "facts", "reactorSelfTest", "selectorSelfTest", "DoctorError"]

#: How long each self-test may take, in seconds.
SELF_TEST_TIMEOUT = 0.5

_MESSAGE = b"epollreactor doctor"


class DoctorError(Exception):
    """
    A self-test failed; the message says how.
    """


def _pluginStatus() -> Tuple[str, bool]:
    """
    Look for our reactor among the reactors Twisted's plugin system finds,
    which is what C{twistd --reactor=ctypes-epoll} relies on.

    @return: a description, and whether the plugin was found.
    """
    try:
        reactorTypes = list(getReactorTypes())
    except Exception as e:
        return (
            "could not search twisted.plugins: {}: {}".format(type(e).__name__, e),
            False,
        )
    for reactorType in reactorTypes:
        if reactorType.shortName == epollreactor.PLUGIN_NAME:
            if reactorType.moduleName != "epollreactor":
                return (
                    "{} names {}, not epollreactor".format(
                        epollreactor.PLUGIN_NAME, reactorType.moduleName
                    ),
                    False,
                )
            return (
                "{} (twistd/twist/trial --reactor={})".format(
                    epollreactor.PLUGIN_NAME, epollreactor.PLUGIN_NAME
                ),
                True,
            )
    return (
        "{} NOT FOUND by twisted.plugins: is the package installed with its "
        "twisted/plugins/epollreactor_ctypes.py?".format(epollreactor.PLUGIN_NAME),
        False,
    )


def facts() -> Tuple[List[Tuple[str, str]], List[str]]:
    """
    Describe what the binding uses here.

    @return: C{(label, value)} pairs to print, and the problems found (empty
        when all is well).
    """
    problems = []
    dataOffset = epoll_event.data.offset
    uname = os.uname()
    if hasattr(select, "epoll"):
        selectEpoll = "present (epollreactor does not use it)"
    else:
        selectEpoll = "missing (epollreactor.epoll stands in for it)"
    plugin, pluginFound = _pluginStatus()
    if not pluginFound:
        problems.append("reactor plugin: " + plugin)
    return (
        [
            (
                "epollreactor",
                "{} ({})".format(
                    epollreactor.__version__, os.path.dirname(epollreactor.__file__)
                ),
            ),
            ("C library", libcName),
            (
                "struct epoll_event",
                "{} bytes, data at offset {} ({})".format(
                    EVENT.size, dataOffset, uname.machine
                ),
            ),
            ("kernel", "{} {}".format(uname.sysname, uname.release)),
            ("select.epoll", selectEpoll),
            (
                "interpreter",
                "{} {} ({})".format(
                    platform.python_implementation(),
                    platform.python_version(),
                    sys.executable,
                ),
            ),
            ("reactor plugin", plugin),
        ],
        problems,
    )


@implementer(IReadDescriptor, IWriteDescriptor)
class _SocketEnd:
    """
    One end of the reactor self-test's socket pair: it writes C{toSend} when
    writable, and reads until it has C{expected}, then calls C{done}.
    """

    def __init__(
        self,
        sock: socket.socket,
        toSend: bytes,
        expected: int,
        done: Callable[[], None],
    ) -> None:
        self.sock = sock
        self.toSend = toSend
        self.expected = expected
        self.received = b""
        self.done = done
        self.reactor: Any = None

    def fileno(self) -> int:
        """
        @return: the socket's descriptor.
        """
        return self.sock.fileno()

    def logPrefix(self) -> str:
        """
        @return: what Twisted's log says this end is.
        """
        return "epollreactor doctor"

    def doWrite(self) -> None:
        """
        Send what is left of the message; once all is sent, stop writing.
        """
        sent = self.sock.send(self.toSend)
        self.toSend = self.toSend[sent:]
        if not self.toSend:
            self.reactor.removeWriter(self)

    def doRead(self) -> None:
        """
        Take what has arrived; once the whole message is here, stop reading
        and call C{done}.
        """
        self.received += self.sock.recv(65536)
        if len(self.received) >= self.expected:
            self.reactor.removeReader(self)
            self.done()

    def connectionLost(self, reason: object) -> None:
        """
        Nothing to clean up: the self-test closes the sockets itself.
        """


def reactorSelfTest(timeout: float = SELF_TEST_TIMEOUT) -> None:
    """
    Run a new L{EPollReactor} (not installed as the global reactor) until
    a message written by one end of a socket pair is read by the other,
    both through C{addWriter}/C{addReader}.

    @raise DoctorError: when the message does not arrive within C{timeout}
        seconds, or arrives altered.
    """
    reactor = EPollReactor()
    try:
        a, b = socket.socketpair()
    except BaseException:
        _closeReactor(reactor)
        raise
    try:
        a.setblocking(False)
        b.setblocking(False)
        finished: List[bool] = []

        def done() -> None:
            finished.append(True)
            reactor.stop()

        writer = _SocketEnd(a, _MESSAGE, 0, done)
        reader = _SocketEnd(b, b"", len(_MESSAGE), done)
        writer.reactor = reader.reactor = reactor
        reactor.callWhenRunning(reactor.addWriter, writer)
        reactor.callWhenRunning(reactor.addReader, reader)

        def giveUp() -> None:
            if not finished:
                reactor.stop()

        reactor.callLater(timeout, giveUp)
        reactor.run(installSignalHandlers=False)
        if not finished:
            raise DoctorError(
                "no message through a socket pair within {}s".format(timeout)
            )
        if reader.received != _MESSAGE:
            raise DoctorError(
                "the socket pair delivered {!r} instead of {!r}".format(
                    reader.received, _MESSAGE
                )
            )
    finally:
        _closeReactor(reactor)
        a.close()
        b.close()


def _closeReactor(reactor: EPollReactor) -> None:
    """
    Close the descriptors of a reactor that was never installed: its waker
    and its epoll instance (what Twisted's ReactorBuilder does too).
    """
    for internal in list(reactor._internalReaders):
        reactor.removeReader(internal)
        internal.connectionLost(None)
    reactor._poller.close()


def selectorSelfTest(timeout: float = SELF_TEST_TIMEOUT) -> None:
    """
    Send a message through a socket pair watched by an L{EpollSelector},
    waiting with C{select} for each end to be writable and readable.

    @raise DoctorError: when an end is not reported ready within C{timeout}
        seconds, or the message arrives altered.
    """
    a, b = socket.socketpair()
    try:
        with EpollSelector() as selector:
            writeKey = selector.register(a, selectors.EVENT_WRITE)
            if selector.select(timeout) != [(writeKey, selectors.EVENT_WRITE)]:
                raise DoctorError("a connected socket was not reported writable")
            a.send(_MESSAGE)
            selector.unregister(a)
            readKey = selector.register(b, selectors.EVENT_READ)
            if selector.select(timeout) != [(readKey, selectors.EVENT_READ)]:
                raise DoctorError(
                    "a socket with data was not reported readable within {}s".format(
                        timeout
                    )
                )
            received = b.recv(65536)
            if received != _MESSAGE:
                raise DoctorError(
                    "the socket pair delivered {!r} instead of {!r}".format(
                        received, _MESSAGE
                    )
                )
    finally:
        a.close()
        b.close()


def _runSelfTest(name: str, test: Callable[[], None]) -> Tuple[str, Optional[str]]:
    """
    Run one self-test.

    @return: the line to print, and the problem it found or C{None}.
    """
    start = monotonic()
    try:
        test()
    except Exception as e:
        problem = "{} self-test failed: {}: {}".format(name, type(e).__name__, e)
        return "FAILED: {}: {}".format(type(e).__name__, e), problem
    return "ok ({:.1f} ms)".format((monotonic() - start) * 1000), None


def main(argv: Optional[List[str]] = None, out: Optional[TextIO] = None) -> int:
    """
    Print the report and run the self-tests.

    @param argv: the command-line arguments after the program name; none are
        accepted.
    @param out: where to print; standard output by default.
    @return: the exit status: 0 when all is well, 1 when something failed,
        2 for a usage error.
    """
    if out is None:
        out = sys.stdout
    if argv is None:
        argv = sys.argv[1:]
    if argv:
        print(
            "usage: python -m epollreactor\n\n"
            "Report what epollreactor uses here, and test that it works.",
            file=out if argv[0] in ("-h", "--help") else sys.stderr,
        )
        return 0 if argv[0] in ("-h", "--help") else 2
    rows, problems = facts()
    width = (
        max([len(label) for label, value in rows] + [len("self-test, selector")]) + 2
    )
    for label, value in rows:
        print("{:<{}}{}".format(label + ":", width, value), file=out)
    for name, test in (
        ("reactor", reactorSelfTest),
        ("selector", selectorSelfTest),
    ):
        line, problem = _runSelfTest(name, test)
        print("{:<{}}{}".format("self-test, " + name + ":", width, line), file=out)
        if problem is not None:
            problems.append(problem)
    if problems:
        print("", file=out)
        for problem in problems:
            print("PROBLEM: " + problem, file=out)
        return 1
    print("\nAll well.", file=out)
    return 0
