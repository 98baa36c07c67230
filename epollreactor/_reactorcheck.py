"""
The half of the doctor (L{epollreactor._doctor}) that needs Twisted: the
reactor's self-test and the search for its plugin.  The doctor imports it
only where Twisted is installed, so that C{python -m epollreactor} also
checks an installation of the binding alone.
"""

import socket
from typing import Any, Callable, List, Tuple

from zope.interface import implementer

from twisted.application.reactors import getReactorTypes
from twisted.internet.interfaces import IReadDescriptor, IWriteDescriptor

import epollreactor
from epollreactor._doctor import _MESSAGE, SELF_TEST_TIMEOUT, DoctorError
from epollreactor._reactor import EPollReactor

__all__ = ["pluginStatus", "reactorSelfTest"]


def pluginStatus() -> Tuple[str, bool]:
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
