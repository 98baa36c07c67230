"""
A loopback echo server on the installed reactor whose process may open
only a few more descriptors than it has at start (C{RLIMIT_NOFILE}
lowered), so that C{accept(2)} fails with EMFILE as soon as a handful of
clients connect.

Prints C{PORT <n>} once listening, logs to standard error, and runs until
SIGTERM.

Usage: C{python -m tests.faults.exhaustion [--stock] [--spare=N]}
"""

import os
import resource
import sys

from tests.faults import installReactor


def main() -> None:
    """
    Lower the limit and serve until stopped.
    """
    reactor = installReactor(sys.argv)
    from twisted.internet import protocol
    from twisted.logger import globalLogBeginner, textFileLogObserver

    spare = 8
    for argument in sys.argv:
        if argument.startswith("--spare="):
            spare = int(argument.split("=", 1)[1])
    globalLogBeginner.beginLoggingTo(
        [textFileLogObserver(sys.stderr)], redirectStandardIO=False
    )

    class Echo(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    port = reactor.listenTCP(
        0, protocol.Factory.forProtocol(Echo), backlog=128, interface="127.0.0.1"
    )
    # The limit bounds descriptor numbers, not their count: allow `spare`
    # numbers above the highest one open now.
    highest = max(int(name) for name in os.listdir("/proc/self/fd"))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1 + spare, hard))
    sys.stdout.write("PORT {}\n".format(port.getHost().port))
    sys.stdout.flush()
    reactor.run()


if __name__ == "__main__":
    main()
