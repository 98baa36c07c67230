"""
A fixed amount of reactor work, for C{valgrind --tool=callgrind} to count
in instructions: what a change costs, repeatably, on a machine too busy for
timings to say (bench/README.md, "Instructions").

C{CONNECTIONS} loopback TCP connections to a Twisted echo server on
L{epollreactor.EPollReactor}, each sending C{SIZE} bytes and reading them
back C{ROUNDS} times, the reactor turned by hand; the same run counts the
same instructions, give or take a fraction of a percent.  The package comes
from the first C{sys.path} entry that has one, so C{PYTHONPATH} picks the
checkout:

    PYTHONPATH=../other-checkout valgrind --tool=callgrind \\
        --callgrind-out-file=/dev/null python bench/count_instructions.py 50 100 64
"""

import socket
import sys

from twisted.internet.protocol import Factory, Protocol

import epollreactor


class Echo(Protocol):
    """
    Writes back whatever it receives.
    """

    def dataReceived(self, data: bytes) -> None:
        """
        Echo C{data}.
        """
        self.transport.write(data)


def main(connections: int, rounds: int, size: int) -> None:
    """
    Run C{rounds} round trips of C{size} bytes on each of C{connections}.
    """
    reactor = epollreactor.EPollReactor()
    port = reactor.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")
    address = ("127.0.0.1", port.getHost().port)
    clients = [socket.create_connection(address) for _ in range(connections)]
    for client in clients:
        client.setblocking(False)
    for _ in range(50):
        reactor.doIteration(0)
    message = b"x" * size
    for _ in range(rounds):
        for client in clients:
            client.send(message)
        pending = dict.fromkeys(clients, size)
        while pending:
            reactor.doIteration(0)
            for client in list(pending):
                try:
                    pending[client] -= len(client.recv(65536))
                except BlockingIOError:
                    continue
                if pending[client] <= 0:
                    del pending[client]
    print(epollreactor.__file__)


if __name__ == "__main__":
    main(*(int(argument) for argument in sys.argv[1:4]))
