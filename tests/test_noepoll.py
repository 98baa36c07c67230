"""
Where C{select.epoll} is missing, Twisted's default reactor is poll, while
L{epollreactor.install} still gives a reactor on epoll(7).

Each check runs in a child interpreter started with C{tests/noepoll} first on
C{PYTHONPATH}, whose C{sitecustomize} deletes C{select.epoll} and the EPOLL*
names before anything can import them; so these tests prove it under a plain
C{make test} as well as under C{make test-noepoll}, and on a CPython built
without epoll (the matrix's C{bookworm-noepoll} entry, C{.ci/matrix}), where
the C{sitecustomize} finds nothing to delete.
"""

import json
import os
import select
import selectors
import subprocess
import sys
import sysconfig
from typing import Any

import pytest

#: The folder whose sitecustomize takes epoll away.
NOEPOLL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "noepoll")


#: Set by the matrix's C{bookworm-noepoll} entry, whose CPython was configured
#: so that C{HAVE_EPOLL} is undefined: there the suite must not pass on an
#: interpreter that has epoll after all.
BUILT_WITHOUT_EPOLL = os.environ.get("EPOLLREACTOR_BUILT_WITHOUT_EPOLL") == "1"


def runWithoutEpoll(source: str, *args: str) -> dict[str, Any]:
    """
    Run C{source} in a child of this interpreter whose C{select} has no epoll,
    and return the JSON object it prints last.

    @param args: its C{sys.argv[1:]}.
    @raise AssertionError: when the child fails; its output is in the message.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [NOEPOLL] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    # The timeout only keeps a hung child from hanging the suite.
    child = subprocess.run(
        [sys.executable, "-c", source, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert child.returncode == 0, child.stdout + child.stderr
    result: dict[str, Any] = json.loads(child.stdout.splitlines()[-1])
    return result


_DEFAULT_REACTOR = """
import json, select, selectors
result = {
    "selectEpoll": hasattr(select, "epoll"),
    "epollNames": sorted(name for name in dir(select) if "EPOLL" in name),
    "defaultSelector": selectors.DefaultSelector.__name__,
}
try:
    import twisted.internet.epollreactor
except ImportError as e:
    result["stockEpollReactor"] = "ImportError: " + str(e)
else:
    result["stockEpollReactor"] = "imported"
from twisted.internet import default
default.install()
from twisted.internet import reactor
result["reactor"] = type(reactor).__module__ + "." + type(reactor).__name__
print(json.dumps(result))
"""

_OUR_REACTOR = """
import json, os, socket, sys
how = sys.argv[1]
if how == "install":
    import epollreactor
    epollreactor.install()
else:
    from twisted.application.reactors import installReactor
    installReactor("ctypes-epoll")
from twisted.internet import reactor
from twisted.internet.abstract import FileDescriptor

class Reader(FileDescriptor):
    def __init__(self, sock):
        FileDescriptor.__init__(self, reactor)
        self.sock = sock
        self.received = b""
    def fileno(self):
        return self.sock.fileno()
    def doRead(self):
        self.received += self.sock.recv(100)
        reactor.removeReader(self)
        reactor.stop()

ours, theirs = socket.socketpair()
reader = Reader(ours)
reactor.addReader(reader)
reactor.callWhenRunning(theirs.send, b"ping")
# Only a guard against a hang: the read stops the reactor long before this.
reactor.callLater(60, reactor.stop)
reactor.run()
poller = reactor._poller
print(json.dumps({
    "reactor": type(reactor).__module__ + "." + type(reactor).__name__,
    "poller": type(poller).__module__ + "." + type(poller).__name__,
    "pollerFile": os.readlink("/proc/self/fd/{}".format(poller.fileno())),
    "received": reader.received.decode("ascii"),
}))
"""

_OUR_EPOLL = """
import json, socket
from epollreactor import EPOLLIN, EPOLLOUT, epoll
ours, theirs = socket.socketpair()
theirs.send(b"x")
with epoll() as poller:
    poller.register(ours, EPOLLIN | EPOLLOUT)
    events = poller.poll(0)
print(json.dumps({"events": events, "fd": ours.fileno(),
                  "expected": EPOLLIN | EPOLLOUT}))
"""


def test_defaultReactorIsPoll() -> None:
    """
    Without C{select.epoll} (and the EPOLL* names), Twisted's stock epoll
    reactor cannot be imported, so C{twisted.internet.default} installs the
    poll reactor, and C{selectors} picks C{PollSelector}.
    """
    result = runWithoutEpoll(_DEFAULT_REACTOR)
    assert result["selectEpoll"] is False
    assert result["epollNames"] == []
    assert result["defaultSelector"] == "PollSelector"
    assert result["stockEpollReactor"].startswith("ImportError")
    assert result["reactor"] == "twisted.internet.pollreactor.PollReactor"


@pytest.mark.parametrize("how", ["install", "plugin"])
def test_ourReactorIsEpoll(how: str) -> None:
    """
    Without C{select.epoll}, L{epollreactor.install} and the C{ctypes-epoll}
    plugin still install L{epollreactor.EPollReactor}, whose poller is an
    epoll instance (the kernel names its descriptor C{anon_inode:[eventpoll]})
    that delivers a socket's readiness.
    """
    result = runWithoutEpoll(_OUR_REACTOR, how)
    assert result == {
        "reactor": "epollreactor._reactor.EPollReactor",
        "poller": "epollreactor._epoll.epoll",
        "pollerFile": "anon_inode:[eventpoll]",
        "received": "ping",
    }


def test_ourEpollWorks() -> None:
    """
    Without C{select.epoll}, L{epollreactor.epoll} registers a descriptor
    and reports its events.
    """
    result = runWithoutEpoll(_OUR_EPOLL)
    assert result["events"] == [[result["fd"], result["expected"]]]


@pytest.mark.skipif(
    os.path.dirname(getattr(sys.modules.get("sitecustomize"), "__file__", ""))
    != NOEPOLL,
    reason="runs only under make test-noepoll",
)
def test_thisSuiteHasNoEpoll() -> None:
    """
    Under C{make test-noepoll}, the suite itself runs without
    C{select.epoll}, so every test that did not skip passed without it, and
    Twisted's stock epoll reactor cannot be imported.
    """
    assert not hasattr(select, "epoll")
    assert not [name for name in dir(select) if name.startswith("EPOLL")]
    with pytest.raises(ImportError):
        import twisted.internet.epollreactor  # noqa: F401


@pytest.mark.skipif(
    not BUILT_WITHOUT_EPOLL,
    reason="runs only on the CPython built without epoll (.ci/matrix bookworm-noepoll)",
)
def test_builtWithoutEpoll() -> None:
    """
    On the CPython that C{.ci/matrix} builds without epoll, epoll was never
    compiled in, rather than taken away at start-up: C{HAVE_EPOLL} is
    undefined in its build configuration, C{select} has no name with epoll
    in it, C{selectors} has no C{EpollSelector} and defaults to
    C{PollSelector}, and the suite runs without C{tests/noepoll}'s
    C{sitecustomize}.
    """
    assert not sysconfig.get_config_var("HAVE_EPOLL")
    assert [name for name in dir(select) if "epoll" in name.lower()] == []
    assert not hasattr(selectors, "EpollSelector")
    assert selectors.DefaultSelector is selectors.PollSelector
    sitecustomize = getattr(sys.modules.get("sitecustomize"), "__file__", "")
    assert os.path.dirname(sitecustomize) != NOEPOLL
