"""
C{twist web} on the reactor named on the command line, for L{bench/run.py}:
what C{twist --reactor=NAME web --path DIR} runs, access log included,
listening on 127.0.0.1 at a free port.

    python bench/twist_web.py REACTOR --role web:DIR

Where Twisted has a reactor plugin for the peer (L{PLUGINS}: ours is
C{ctypes-epoll}), the reactor is installed through it, as C{twist
--reactor} does; the others (uvloop, the baseline checkout) are installed
as bench/echo_server.py installs them.  Then C{twist}'s own C{main} runs
with C{web --listen tcp:0:interface=127.0.0.1:backlog=1024 --path DIR},
its log (one line per request) going to a file of its own, in text.  The
backlog is raised, as in every server of the suite, so that wrk's 200
connections opening at once are not dropped and retried a second later
(Twisted's default is 50), which would measure the start and not the
server.  Once the reactor runs, it prints C{port=<n> pid=<pid>} on stdout,
as echo_server.py does; it runs until SIGTERM.
"""

import argparse
import os
import sys
import tempfile
from typing import Any, Dict

from echo_server import _CHECKOUT, REACTORS

#: Peer -> the name of its Twisted reactor plugin (C{twist --reactor}).
PLUGINS: Dict[str, str] = {
    "ours": "ctypes-epoll",
    "epoll": "epoll",
    "poll": "poll",
    "select": "select",
    "asyncio": "asyncio",
}


def install(peer: str) -> None:
    """
    Install C{peer}'s reactor: through its plugin where it has one, as
    C{twist --reactor} does.
    """
    if peer not in PLUGINS:
        REACTORS[peer]()
        return
    if peer == "ours":
        # The plugin imports epollreactor from sys.path: this checkout's.
        sys.path.insert(0, _CHECKOUT)
    from twisted.application.reactors import installReactor

    installReactor(PLUGINS[peer])
    if peer == "ours":
        import epollreactor

        assert os.path.dirname(epollreactor.__file__).startswith(_CHECKOUT)


def announce(reactor: Any, log: str) -> None:
    """
    Print the port twist web listens on, found among the reactor's readers,
    on the real standard output (twist sends C{sys.stdout} to its log), and
    unlink the log, which twist has open by now: it is read by no one, and
    goes with the process, however that ends.
    """
    from twisted.internet import tcp

    os.unlink(log)
    ports = [r for r in reactor.getReaders() if isinstance(r, tcp.Port)]
    stdout = sys.__stdout__
    assert stdout is not None
    stdout.write(
        "port={} pid={} reactor={}.{}\n".format(
            ports[0].getHost().port,
            os.getpid(),
            type(reactor).__module__,
            type(reactor).__name__,
        )
    )
    stdout.flush()


def main() -> None:
    """
    Install the reactor, and run twist web on it.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("reactor", choices=sorted(REACTORS))
    parser.add_argument("--role", required=True, help="web:DIR, the folder to serve")
    arguments = parser.parse_args()
    kind, _, root = arguments.role.partition(":")
    if kind != "web" or not os.path.isdir(root):
        parser.error(
            "--role must be web:DIR, DIR a folder: {!r}".format(arguments.role)
        )
    install(arguments.reactor)
    from twisted.application.twist._twist import Twist
    from twisted.internet import reactor

    handle, log = tempfile.mkstemp(prefix="bench-twist-", suffix=".log")
    os.close(handle)
    reactor.callWhenRunning(announce, reactor, log)
    Twist.main(
        [
            "twist",
            "--log-file",
            log,
            "--log-format",
            "text",
            "web",
            "--listen",
            "tcp:0:interface=127.0.0.1:backlog=1024",
            "--path",
            root,
        ]
    )


if __name__ == "__main__":
    main()
