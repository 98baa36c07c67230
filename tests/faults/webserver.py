"""
twisted.web on the installed reactor, for the abort storm: serves a small
static page on an ephemeral loopback port, prints C{PORT <n>} once
listening, logs everything Twisted logs to standard error, and runs until
SIGTERM.

Usage: C{python -m tests.faults.webserver [--stock]}
"""

import sys

from tests.faults import installReactor


def main() -> None:
    """
    Serve until stopped.
    """
    reactor = installReactor(sys.argv)
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.web import resource, server, static

    globalLogBeginner.beginLoggingTo(
        [textFileLogObserver(sys.stderr)], redirectStandardIO=False
    )
    root = resource.Resource()
    root.putChild(b"", static.Data(b"hello " * 100, "text/plain"))
    site = server.Site(root)
    site.displayTracebacks = False
    port = reactor.listenTCP(0, site, backlog=1024, interface="127.0.0.1")
    sys.stdout.write("PORT {}\n".format(port.getHost().port))
    sys.stdout.flush()
    reactor.run()


if __name__ == "__main__":
    main()
