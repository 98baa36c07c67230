"""
The ways users reach L{epollreactor.EPollReactor}: L{epollreactor.install},
the C{ctypes-epoll} plugin for C{twistd}, C{twist} and C{trial}, and
C{make run}, each in a subprocess, since each changes process-wide state.
"""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from typing import Any, List, Optional

import pytest

import epollreactor
from tests.test_reactor import BIN, PATIENCE, ROOT

# install() and the plugin, in subprocesses: both change process-wide state.


def runPython(code: str, *arguments: str) -> "subprocess.CompletedProcess[str]":
    """
    Run C{code} in a new interpreter from the repository's top directory.
    """
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)] + list(arguments),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )


def test_installInstalls() -> None:
    """
    L{epollreactor.install} makes an L{EPollReactor} the global reactor;
    calling it again raises C{ReactorAlreadyInstalledError}.
    """
    result = runPython(
        """
        import epollreactor
        from twisted.internet.error import ReactorAlreadyInstalledError
        epollreactor.install()
        from twisted.internet import reactor
        print(type(reactor).__module__ + "." + type(reactor).__name__)
        try:
            epollreactor.install()
        except ReactorAlreadyInstalledError:
            print("ReactorAlreadyInstalledError")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "epollreactor._reactor.EPollReactor",
        "ReactorAlreadyInstalledError",
    ]


def test_installAfterAnotherReactor() -> None:
    """
    L{epollreactor.install} raises C{ReactorAlreadyInstalledError} when
    importing C{twisted.internet.reactor} has installed the default reactor
    already, and leaves that one in place.
    """
    result = runPython(
        """
        import epollreactor
        from twisted.internet.error import ReactorAlreadyInstalledError
        from twisted.internet import reactor
        try:
            epollreactor.install()
        except ReactorAlreadyInstalledError:
            print("ReactorAlreadyInstalledError")
        from twisted.internet import reactor as after
        print(after is reactor)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ReactorAlreadyInstalledError", "True"]


def test_helpReactorsListsPlugin() -> None:
    """
    C{twistd --help-reactors} lists C{ctypes-epoll}.
    """
    result = subprocess.run(
        [os.path.join(BIN, "twistd"), "--help-reactors"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert epollreactor.PLUGIN_NAME in names


def _runTrialOnPlugin(tmp_path: Any, byPath: bool) -> None:
    """
    Write a test module into C{tmp_path} and run it with C{trial
    --reactor=ctypes-epoll}, naming it by module name or by path; its tests
    check that the global reactor is an L{EPollReactor} and run a real
    connection on it.

    @raise AssertionError: when trial fails or runs other than both tests.
    """
    module = tmp_path / "test_on_ctypes_epoll.py"
    module.write_text(
        textwrap.dedent(
            '''
            """A test that must run on epollreactor's reactor."""
            from twisted.internet import defer, protocol, reactor
            from twisted.internet.endpoints import (
                TCP4ClientEndpoint, TCP4ServerEndpoint)
            from twisted.trial import unittest

            class OnOurReactor(unittest.TestCase):
                """Runs under trial --reactor=ctypes-epoll."""

                def test_reactorClass(self):
                    """The global reactor is ours."""
                    self.assertEqual(
                        type(reactor).__module__ + "." + type(reactor).__name__,
                        "epollreactor._reactor.EPollReactor")

                async def test_echo(self):
                    """A TCP echo round trip works on it."""
                    class Echo(protocol.Protocol):
                        def dataReceived(self, data):
                            self.transport.write(data)

                    port = await TCP4ServerEndpoint(
                        reactor, 0, interface="127.0.0.1").listen(
                        protocol.Factory.forProtocol(Echo))
                    self.addCleanup(port.stopListening)
                    received = []
                    done = defer.Deferred()

                    class Client(protocol.Protocol):
                        def connectionMade(self):
                            self.transport.write(b"ping")

                        def dataReceived(self, data):
                            received.append(data)
                            if b"".join(received) == b"ping":
                                self.transport.loseConnection()
                                done.callback(None)

                    await TCP4ClientEndpoint(
                        reactor, "127.0.0.1", port.getHost().port).connect(
                        protocol.Factory.forProtocol(Client))
                    await done
                    self.assertEqual(b"".join(received), b"ping")
            '''
        )
    )
    result = subprocess.run(
        [
            os.path.join(BIN, "trial"),
            "--reactor=" + epollreactor.PLUGIN_NAME,
            "--temp-directory=" + str(tmp_path / "_trial_temp"),
            str(module) if byPath else module.stem,
        ],
        cwd=str(tmp_path),
        # By name, trial imports the module from sys.path; by path, from
        # the file (when its directory is on sys.path, trial imports it by
        # name after all).
        env=dict(os.environ, PYTHONPATH=str(tmp_path)) if not byPath else None,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED (successes=2)" in result.stdout


def test_trialRunsOnPlugin(tmp_path: Any) -> None:
    """
    C{trial --reactor=ctypes-epoll} runs the tests of a module named by its
    module name with an L{EPollReactor} as the global reactor, and a real
    connection works on it.
    """
    _runTrialOnPlugin(tmp_path, byPath=False)


@pytest.mark.xfail(
    sys.version_info >= (3, 15),
    reason="trial loads a test file named by its path with "
    "SourceFileLoader.load_module, which Python 3.15 removed (Twisted issue "
    "12645); by module name it works (test_trialRunsOnPlugin)",
    raises=AssertionError,
    strict=True,
)
def test_trialRunsOnPluginByPath(tmp_path: Any) -> None:
    """
    C{trial --reactor=ctypes-epoll} runs the tests of a file named by its
    path on an L{EPollReactor} too.
    """
    _runTrialOnPlugin(tmp_path, byPath=True)


def freePort() -> int:
    """
    @return: a TCP port on 127.0.0.1 that was free a moment ago.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def defaultSignals() -> None:
    """
    In a child, before C{exec}: give SIGINT its default disposition back,
    which a shell running us in the background sets to ignored, and which
    C{exec} would keep (signal(7)).
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Server:
    """
    A server process in a session of its own, with its output in a file.
    """

    def __init__(self, arguments: List[str], log: str) -> None:
        """
        Start it.

        @param arguments: the command.
        @param log: the path its output goes to.
        """
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                arguments,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=defaultSignals,
            )

    def output(self) -> str:
        """
        @return: what it wrote so far.
        """
        with open(self.log, errors="replace") as log:
            return log.read()

    def get(self, port: int) -> bytes:
        """
        GET / from it once it answers, retrying until L{PATIENCE} is spent.

        @return: the body.
        """
        deadline = time.monotonic() + PATIENCE
        while True:
            assert self.process.poll() is None, self.output()
            try:
                with urllib.request.urlopen(
                    "http://127.0.0.1:{}/".format(port), timeout=PATIENCE
                ) as response:
                    assert response.status == 200
                    return bytes(response.read())
            except OSError:
                assert time.monotonic() < deadline, self.output()
                time.sleep(0.1)

    def interrupt(self) -> Optional[int]:
        """
        Send SIGINT to its whole process group, as Ctrl-C does, and wait for
        it to end; kill it if it does not.

        @return: its exit status, or L{None} if it had to be killed.
        """
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return None


#: C{twist}'s entry point, after a wrapper around C{installReactor} that
#: prints the class of the reactor being installed.
TWIST_REPORTING_REACTOR = """
import sys
from twisted.internet import main
install = main.installReactor
def installReactor(reactor):
    print("REACTOR", type(reactor).__module__, flush=True)
    install(reactor)
main.installReactor = installReactor
sys.argv[0] = "twist"
from twisted.application.twist._twist import Twist
Twist.main()
"""


def test_twistRunsOnPlugin(tmp_path: Any) -> None:
    """
    C{twist --reactor=ctypes-epoll web} serves HTTP on an L{EPollReactor}
    and stops on SIGINT, exiting by that signal as Twisted's runners do on
    purpose (C{_exitWithSignal}).  C{twist} does not log its reactor, so a
    wrapper around C{twist}'s own entry point prints the class of the reactor
    that C{installReactor} is given.
    """
    port = freePort()
    server = Server(
        [
            sys.executable,
            "-c",
            TWIST_REPORTING_REACTOR,
            "--reactor=" + epollreactor.PLUGIN_NAME,
            "web",
            "--listen",
            "tcp:port={}:interface=127.0.0.1".format(port),
            "--path",
            str(tmp_path),
        ],
        str(tmp_path / "twist.log"),
    )
    (tmp_path / "index.html").write_bytes(b"twist on ctypes-epoll")
    try:
        assert server.get(port) == b"twist on ctypes-epoll"
    finally:
        status = server.interrupt()
    output = server.output()
    assert status == -signal.SIGINT, output
    assert "REACTOR epollreactor._reactor" in output
    assert "Main loop terminated." in output
    assert "Traceback" not in output


def test_makeRun(tmp_path: Any) -> None:
    """
    C{make run PORT=...} serves this folder over HTTP with C{twistd} on
    127.0.0.1, logs that the reactor class is
    C{epollreactor._reactor.EPollReactor}, and shuts down cleanly on SIGINT
    to its process group (Ctrl-C).  The virtualenv is the one running these
    tests, assumed up to date (C{make -o}).
    """
    port = freePort()
    venv = sys.prefix
    server = Server(
        [
            "make",
            "--no-print-directory",
            "-o",
            os.path.join(venv, ".installed"),
            "run",
            "VENV=" + venv,
            "PORT={}".format(port),
        ],
        str(tmp_path / "run.log"),
    )
    try:
        body = server.get(port)
    finally:
        server.interrupt()
    output = server.output()
    assert b"README.md" in body
    assert "reactor class: epollreactor._reactor.EPollReactor" in output
    assert "Received SIGINT, shutting down." in output
    assert "Server Shut Down." in output
    assert "Traceback" not in output
