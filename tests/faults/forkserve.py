"""
Parent and child of a C{fork()} each keep serving their own connections on
one reactor object.

Before the fork the parent listens on a loopback echo port and accepts two
connections.  The child then drops every descriptor it inherited (it
removes them from the reactor and closes them, as a forked worker does),
listens on a port of its own and serves one connection through it.
Meanwhile the parent serves its two connections and a new one on its port.
Both sides check their echoes; the last line of output is a JSON object
with both results.

Usage: C{python -m tests.faults.forkserve [--stock]}
"""

import json
import os
import socket
import sys
from typing import Any, Dict, List

from tests.faults import installReactor, report


def _echoes(reactor: Any, sockets: List[socket.socket], message: bytes) -> bool:
    """
    Send C{message} on each of C{sockets} and run C{reactor} until every
    echo is back, for at most five seconds.
    """
    import time

    for s in sockets:
        s.setblocking(False)
        s.sendall(message)
    got = dict.fromkeys(sockets, b"")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        reactor.iterate(0.01)
        for s in sockets:
            try:
                got[s] += s.recv(65536)
            except BlockingIOError:
                pass
        if all(v == message for v in got.values()):
            return True
    return False


def _connect(reactor: Any, port: int, factory: Any) -> socket.socket:
    """
    Connect a plain client socket to C{port} and run C{reactor} until the
    server side has accepted it.
    """
    before = factory.accepted
    client = socket.create_connection(("127.0.0.1", port))
    for _ in range(500):
        if factory.accepted > before:
            break
        reactor.iterate(0.01)
    return client


def main() -> None:
    """
    Fork, serve on both sides, report.
    """
    reactor = installReactor(sys.argv)
    from twisted.internet import protocol

    class Echo(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    class Counting(protocol.Factory):
        protocol = Echo
        accepted = 0

        def buildProtocol(self, addr: Any) -> Any:
            self.accepted += 1
            return protocol.Factory.buildProtocol(self, addr)

    factory = Counting()
    listening = reactor.listenTCP(0, factory, interface="127.0.0.1")
    number = listening.getHost().port
    clients = [_connect(reactor, number, factory) for _ in range(2)]
    results: Dict[str, Any] = {"parentBefore": _echoes(reactor, clients, b"before")}
    readEnd, writeEnd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(readEnd)
        child: Dict[str, Any] = {}
        try:
            inherited = reactor.removeAll()
            for selectable in inherited:
                os.close(selectable.fileno())
            for c in clients:
                c.detach()
            childFactory = Counting()
            own = reactor.listenTCP(0, childFactory, interface="127.0.0.1")
            mine = _connect(reactor, own.getHost().port, childFactory)
            child["served"] = _echoes(reactor, [mine], b"child")
        except BaseException as e:
            child["error"] = repr(e)
        os.write(writeEnd, json.dumps(child).encode())
        os._exit(0)
    os.close(writeEnd)
    # Give the child time to drop its descriptors before the parent works.
    childResult = b""
    while True:
        piece = os.read(readEnd, 65536)
        if not piece:
            break
        childResult += piece
    os.waitpid(pid, 0)
    results["child"] = json.loads(childResult or b"{}")
    clients.append(_connect(reactor, number, factory))
    results["parentAfter"] = _echoes(reactor, clients, b"after")
    report(results)


if __name__ == "__main__":
    main()
