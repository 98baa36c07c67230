"""
The doctor behind C{python -m epollreactor}: say what the binding uses on
this machine and prove, in about a second at most, that it works.

It prints the C library that was loaded, the layout of C{struct epoll_event}
the binding was built for, the kernel, whether timed waits are precise to
the nanosecond (C{epoll_pwait2}) or rounded up to milliseconds, whether
this interpreter's C{select}
module has C{epoll}, the interpreter, and whether Twisted finds the reactor
plugin, and what multi-process serving (L{epollreactor.workers}) will use
on this kernel (L{epollreactor.workers._probe}, found by trying it); then
it sends a message through a socket pair on an L{EPollReactor} and another
through an L{EpollSelector}.  The exit status is 0 when all is
well and 1 otherwise, with each problem named on its own line.

Where Twisted is not installed (the binding alone, without the C{twisted}
extra) the doctor says so, checks the binding through the selector, and
skips the reactor's self-test: that is an installation that works, not a
problem.  The reactor's half is L{epollreactor._reactorcheck}.
"""

import os
import platform
import select
import selectors
import socket
import sys
from time import monotonic
from typing import Callable, List, Optional, TextIO, Tuple

import epollreactor
from epollreactor._epoll import preciseWaitsMissing
from epollreactor._libc import EVENT, PROCESS_IMAGE, epoll_event, libcName, libraryFile
from epollreactor._selector import EpollSelector
from epollreactor.workers._probe import servingFacts

__all__ = [
    "main",
    "facts",
    "libraryRow",
    "preciseWaitsRow",
    "twistedMissing",
    "reactorSelfTest",
    "selectorSelfTest",
    "DoctorError",
]

#: How long each self-test may take, in seconds.
SELF_TEST_TIMEOUT = 0.5

_MESSAGE = b"epollreactor doctor"


class DoctorError(Exception):
    """
    A self-test failed; the message says how.
    """


def twistedMissing() -> Optional[str]:
    """
    @return: why the reactor cannot be loaded here, when the reason is that
        Twisted is not installed; C{None} when it can.
    @raise ImportError: when the reactor fails to import for another reason
        (a broken Twisted), which is a problem the doctor must show.
    """
    try:
        from epollreactor import EPollReactor  # noqa: F401 (whether it loads)
    except epollreactor._TwistedMissing as e:
        return "Twisted is not installed (no module named {!r}; pip install {})".format(
            e.name, "'epollreactor[twisted]'"
        )
    return None


def libraryRow() -> str:
    """
    @return: what the report says of the C library: the name it was loaded
        under, and for the process image also the file that holds the epoll
        calls, where C{dladdr(3)} can tell.
    """
    if libcName != PROCESS_IMAGE:
        return libcName
    path = libraryFile()
    return libcName if path is None else "{} ({})".format(path, libcName)


def preciseWaitsRow() -> str:
    """
    @return: what the report says of timed waits: precise to the
        nanosecond, or rounded up to milliseconds and why
        (L{preciseWaitsMissing}, which asks the kernel).  Either is a
        working installation.
    """
    try:
        missing = preciseWaitsMissing(probe=True)
    except OSError as e:
        # No descriptor to spare, say: the self-tests report that.
        return "unknown: the kernel could not be asked ({})".format(e)
    if missing is None:
        return "yes: epoll_pwait2, timeouts to the nanosecond"
    return "no: {}; timeouts round up to whole milliseconds".format(missing)


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
    try:
        missing = twistedMissing()
    except ImportError as e:
        missing = "the reactor fails to import: {}: {}".format(type(e).__name__, e)
        problems.append("reactor plugin: " + missing)
    if missing is not None:
        plugin = "none: " + missing
    else:
        from epollreactor._reactorcheck import pluginStatus

        plugin, pluginFound = pluginStatus()
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
            ("C library", libraryRow()),
            (
                "struct epoll_event",
                "{} bytes, data at offset {} ({})".format(
                    EVENT.size, dataOffset, uname.machine
                ),
            ),
            ("kernel", "{} {}".format(uname.sysname, uname.release)),
            ("precise waits", preciseWaitsRow()),
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


def reactorSelfTest(timeout: float = SELF_TEST_TIMEOUT) -> None:
    """
    Run a message through a socket pair on a new L{EPollReactor}:
    L{epollreactor._reactorcheck.reactorSelfTest}.

    @raise DoctorError: when the message does not arrive within C{timeout}
        seconds, or arrives altered.
    @raise ImportError: where Twisted is not installed.
    """
    from epollreactor._reactorcheck import reactorSelfTest as selfTest

    selfTest(timeout)


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
    # What python -m epollreactor.workers will use here.
    rows += servingFacts()
    width = (
        max([len(label) for label, value in rows] + [len("self-test, selector")]) + 2
    )
    for label, value in rows:
        print("{:<{}}{}".format(label + ":", width, value), file=out)
    try:
        skipReactor = twistedMissing() is not None
    except ImportError:
        skipReactor = False  # Its self-test then fails, saying why.
    for name, test in (
        ("reactor", reactorSelfTest),
        ("selector", selectorSelfTest),
    ):
        if name == "reactor" and skipReactor:
            line, problem = "skipped: Twisted is not installed", None
        else:
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
