"""
C{python -m epollreactor}, the doctor: what it reports, and its exit status
when all is well and when something is broken.

The broken cases are real: a child process whose Twisted cannot see our
plugin, and one that has run out of file descriptors.
"""

import io
import os
import select
import subprocess
import sys
import textwrap
from typing import Any, Callable, List, Optional, Tuple

import pytest

import epollreactor
from epollreactor import EPollReactor, EpollSelector, _doctor, _libc, _reactorcheck
from epollreactor._libc import EVENT, PROCESS_IMAGE, epoll_event, libcName
from tests.kernel import openDescriptors, settledDescriptors
from tests.withouttwisted import HIDE_TWISTED


def _runDoctor(prelude: str = "", *args: str) -> Tuple[int, str, str]:
    """
    Run the doctor in a child process, after C{prelude} (Python code run
    first in the same process).

    @return: the exit status, standard output and standard error.
    """
    script = (
        prelude
        + "\nimport runpy, sys\nsys.argv[1:] = {!r}\n".format(list(args))
        + "runpy.run_module('epollreactor', run_name='__main__', alter_sys=True)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return child.returncode, child.stdout, child.stderr


def _field(output: str, label: str) -> str:
    """
    @return: the value printed after C{label:} in the doctor's report.
    """
    for line in output.splitlines():
        if line.startswith(label + ":"):
            return line[len(label) + 1 :].strip()
    raise AssertionError("no {!r} line in:\n{}".format(label, output))


def test_allWell() -> None:
    """
    C{python -m epollreactor} reports the C library, the struct layout, the
    kernel release, whether C{select.epoll} exists, the interpreter and the
    plugin name, passes both self-tests and exits with status 0.
    """
    child = subprocess.run(
        [sys.executable, "-m", "epollreactor"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = child.stdout
    assert child.returncode == 0, (output, child.stderr)
    assert _field(output, "C library") == _doctor.libraryRow()
    assert _field(output, "struct epoll_event").startswith(
        "{} bytes, data at offset {} ".format(EVENT.size, epoll_event.data.offset)
    )
    assert os.uname().release in _field(output, "kernel")
    expected = "present" if hasattr(select, "epoll") else "missing"
    assert _field(output, "select.epoll").startswith(expected)
    assert sys.executable in _field(output, "interpreter")
    assert _field(output, "reactor plugin").startswith(epollreactor.PLUGIN_NAME + " ")
    assert _field(output, "self-test, reactor").startswith("ok")
    assert _field(output, "self-test, selector").startswith("ok")
    assert output.endswith("All well.\n")
    assert "PROBLEM" not in output


def test_mainInProcess() -> None:
    """
    L{_doctor.main} prints the same report to the stream it is given and
    returns 0.
    """
    out = io.StringIO()
    assert _doctor.main([], out) == 0
    assert _field(out.getvalue(), "C library") == _doctor.libraryRow()


def test_selfTestsPassAndCloseWhatTheyOpen() -> None:
    """
    Each self-test returns without raising on a working machine, and leaves
    no descriptor open: not its socket pair, its epoll instance nor the
    reactor's waker.
    """
    before = settledDescriptors()
    _doctor.reactorSelfTest()
    _doctor.selectorSelfTest()
    assert openDescriptors() == before


class _DeafReactor(EPollReactor):
    """
    An L{EPollReactor} that never watches a reader, so a message sent to
    one is never read.
    """

    def addReader(self, reader: Any) -> None:
        """
        Forget C{reader}, wrongly.
        """


class _BlindSelector(EpollSelector):
    """
    An L{EpollSelector} whose C{select} never reports anything ready.
    """

    def select(self, timeout: Optional[float] = None) -> List[Any]:
        """
        @return: nothing, wrongly.
        """
        return []


@pytest.mark.parametrize(
    "module, name, broken, test, message",
    [
        (
            _reactorcheck,
            "EPollReactor",
            _DeafReactor,
            _doctor.reactorSelfTest,
            "no message through a socket pair within 0.2s",
        ),
        (
            _doctor,
            "EpollSelector",
            _BlindSelector,
            _doctor.selectorSelfTest,
            "a connected socket was not reported writable",
        ),
    ],
    ids=["reactor", "selector"],
)
def test_selfTestsNoticeBrokenDelivery(
    monkeypatch: pytest.MonkeyPatch,
    module: object,
    name: str,
    broken: type,
    test: Callable[[float], None],
    message: str,
) -> None:
    """
    Each self-test fails, with a L{_doctor.DoctorError} naming what went
    wrong, on a reactor or selector that does not deliver, and still closes
    what it opened.
    """
    monkeypatch.setattr(module, name, broken)
    before = settledDescriptors()
    with pytest.raises(_doctor.DoctorError) as raised:
        test(0.2)
    assert str(raised.value) == message
    assert openDescriptors() == before


def test_withoutSelectEpoll() -> None:
    """
    In an interpreter with no C{select.epoll}, the doctor says so and still
    passes its self-tests.
    """
    status, output, errors = _runDoctor(
        "import select\nif hasattr(select, 'epoll'):\n    del select.epoll"
    )
    assert status == 0, (output, errors)
    assert _field(output, "select.epoll").startswith("missing")


def test_withoutTwisted() -> None:
    """
    Where Twisted is not installed, the doctor says so where the plugin
    would be, skips the reactor's self-test, passes the selector's, and
    exits with status 0: the binding alone is an installation that works.
    """
    status, output, errors = _runDoctor(HIDE_TWISTED)
    assert status == 0, (output, errors)
    plugin = _field(output, "reactor plugin")
    # 'zope', or 'zope.interface' where a system has the zope namespace.
    assert plugin.startswith("none: Twisted is not installed (no module named 'zope")
    assert "; pip install 'epollreactor[twisted]')" in plugin
    assert _field(output, "self-test, reactor") == "skipped: Twisted is not installed"
    assert _field(output, "self-test, selector").startswith("ok")
    assert output.endswith("All well.\n")


def test_libraryRowNamesTheFile() -> None:
    """
    The report names the C library by what it was loaded from and, when
    that is the process image, by the file that holds the epoll calls
    (C{dladdr(3)}): a file this process has mapped.
    """
    row = _doctor.libraryRow()
    assert libcName in row
    if libcName != PROCESS_IMAGE:
        return
    path = _libc.libraryFile()
    assert path is not None
    assert row == "{} ({})".format(path, PROCESS_IMAGE)
    with open("/proc/self/maps") as f:
        mapped = {
            os.path.realpath(line.split(None, 5)[5].strip())
            for line in f
            if len(line.split(None, 5)) == 6
        }
    assert os.path.realpath(path) in mapped


def test_pluginMissing() -> None:
    """
    When Twisted's plugin system cannot see our plugin (here: the child
    drops our C{twisted/plugins} directory from the plugin path), the doctor
    names the problem and exits with status 1.
    """
    prelude = textwrap.dedent(
        """
        import os, twisted, twisted.plugins
        ours = os.path.join(os.path.dirname(twisted.__file__), "plugins")
        twisted.plugins.__path__[:] = [ours]
        """
    )
    status, output, errors = _runDoctor(prelude)
    assert status == 1, (output, errors)
    assert "NOT FOUND" in _field(output, "reactor plugin")
    assert (
        "PROBLEM: reactor plugin: {} NOT FOUND".format(epollreactor.PLUGIN_NAME)
        in output
    )
    assert not output.endswith("All well.\n")


def test_outOfDescriptors() -> None:
    """
    A process that cannot open another descriptor fails both self-tests;
    the doctor prints the kernel's error for each and exits with status 1.
    """
    # The doctor runs from an imported module, its reactor half too (which
    # it imports when it runs): with no descriptor to spare, runpy could not
    # open __main__.py, nor the import system a module's file.
    script = textwrap.dedent(
        """
        import os, resource, sys
        from epollreactor import _doctor, _reactorcheck
        # Fill the descriptor table up to a limit just above what is open.
        highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 8, highest + 8))
        hog = []
        while True:
            try:
                hog.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                break
        sys.exit(_doctor.main([]))
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    status, output = child.returncode, child.stdout
    assert status == 1, (output, child.stderr)
    for name in ("reactor", "selector"):
        assert _field(output, "self-test, " + name).startswith("FAILED: OSError")
        assert "PROBLEM: {} self-test failed".format(name) in output
    assert "Too many open files" in output


def test_usage() -> None:
    """
    An argument is a usage error: status 2, usage on standard error;
    C{--help} prints the usage and exits with status 0.
    """
    status, output, errors = _runDoctor("", "--frobnicate")
    assert (status, output) == (2, "")
    assert errors.startswith("usage: python -m epollreactor")
    status, output, errors = _runDoctor("", "--help")
    assert status == 0
    assert output.startswith("usage: python -m epollreactor")


def test_problemsAreListed() -> None:
    """
    L{_doctor.facts} returns the report's rows, in the documented order,
    and no problems on a working installation.
    """
    rows, problems = _doctor.facts()
    labels: List[str] = [label for label, value in rows]
    assert labels == [
        "epollreactor",
        "C library",
        "struct epoll_event",
        "kernel",
        "precise waits",
        "select.epoll",
        "interpreter",
        "reactor plugin",
    ]
    assert problems == []
