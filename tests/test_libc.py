"""
Tests for L{epollreactor._libc}, the C boundary: the layout of C{struct
epoll_event} against the C compiler's, the constants against the C headers,
the one road from errno to L{OSError}, and the rule that no other module of
the package imports L{ctypes}.
"""

import ast
import ctypes
import errno
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from typing import Any, Dict, Iterator, List

import pytest

import epollreactor
from epollreactor import _libc
from tests.kernel import interestList

#: The package's source tree.
PACKAGE = pathlib.Path(epollreactor.__file__).parent

#: Every name the C headers define that _libc mirrors: the constants it
#: exports, EPOLLWAKEUP (defined whatever the interpreter; exported from
#: Python 3.14 on, as select does), and epoll_ctl(2)'s operations.
HEADER_CONSTANTS = sorted(set(_libc.__all__) | {"EPOLLWAKEUP"}) + [
    "EPOLL_CTL_ADD",
    "EPOLL_CTL_DEL",
    "EPOLL_CTL_MOD",
]

_LAYOUT_PROGRAM = r"""
#include <stddef.h>
#include <stdio.h>
#include <sys/epoll.h>

int main(void)
{
    printf("sizeof %zu\n", sizeof(struct epoll_event));
    printf("offsetof_data %zu\n", offsetof(struct epoll_event, data));
    printf("sizeof_pointer %zu\n", sizeof(void *));
@CONSTANTS@
    return 0;
}
"""


def _compiler() -> str:
    """
    @return: the path of a C compiler.
    @raise pytest.skip.Exception: when there is none.
    """
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.skip("no C compiler (cc, gcc or clang) on PATH to check the layout with")


@pytest.fixture(scope="module")
def cFacts() -> Iterator[Dict[str, int]]:
    """
    Compile and run a C program that prints C{sizeof(struct epoll_event)},
    C{offsetof(struct epoll_event, data)} and every constant of
    L{HEADER_CONSTANTS}, as the system's C{<sys/epoll.h>} defines them.

    @return: the printed values by name.
    """
    compiler = _compiler()
    constants = "\n".join(
        '    printf("{0} %ld\\n", (long)({0}));'.format(name)
        for name in HEADER_CONSTANTS
    )
    with tempfile.TemporaryDirectory() as directory:
        source = os.path.join(directory, "layout.c")
        binary = os.path.join(directory, "layout")
        with open(source, "w") as f:
            f.write(_LAYOUT_PROGRAM.replace("@CONSTANTS@", constants))
        command = [compiler, "-o", binary, source]
        if struct.calcsize("P") == 4 and sys.maxsize < 2**32:
            # A 32-bit interpreter: ask for the matching ABI.
            command.insert(1, "-m32")
        compiled = subprocess.run(command, capture_output=True, text=True)
        if compiled.returncode != 0:
            pytest.skip(
                "{} cannot build against <sys/epoll.h>: {}".format(
                    compiler, compiled.stderr.strip()[:500]
                )
            )
        output = subprocess.run(
            [binary], capture_output=True, text=True, check=True
        ).stdout
    facts = {}
    for line in output.splitlines():
        name, value = line.split()
        facts[name] = int(value)
    if facts["sizeof_pointer"] != struct.calcsize("P"):
        pytest.skip(
            "the compiler targets {}-byte pointers, this interpreter {}".format(
                facts["sizeof_pointer"], struct.calcsize("P")
            )
        )
    yield facts


def test_structSizeMatchesC(cFacts: Dict[str, int]) -> None:
    """
    L{_libc.epoll_event}, L{_libc.EVENT} and L{_libc.FD_EVENT} are as large as
    the C compiler's C{struct epoll_event}: 12 bytes on x86, 16 elsewhere.
    """
    size = cFacts["sizeof"]
    assert _libc.EVENT.size == size
    assert _libc.FD_EVENT.size == size
    assert _libc.EventBuffer.stride * 4 == size
    assert _libc.EventBuffer(3).view.nbytes == 3 * size
    assert len(bytes(_libc.epoll_event())) == size


def test_dataOffsetMatchesC(cFacts: Dict[str, int]) -> None:
    """
    C{data} sits where the C compiler puts it: offset 4 on x86 (packed),
    8 elsewhere; L{_libc.EVENT} and L{_libc.EventBuffer} read C{data.fd} from
    there.
    """
    offset = cFacts["offsetof_data"]
    assert _libc.epoll_event.data.offset == offset
    assert _libc.EventBuffer.fdWord * 4 == offset
    packed = _libc.EVENT.pack(0x11223344, 0x55667788, 0x0A0B0C0D)
    (fd,) = struct.unpack_from("=i", packed, offset)
    assert fd == 0x55667788


@pytest.mark.parametrize("name", HEADER_CONSTANTS)
def test_constantsMatchC(cFacts: Dict[str, int], name: str) -> None:
    """
    Every constant of L{_libc} has the value the system's C{<sys/epoll.h>}
    gives it, converted to a C long as C{select} exposes it: so EPOLLET
    (C{1u << 31}) is 2**31 where a long has 64 bits and -2**31 where it has
    32 (i386).
    """
    assert getattr(_libc, name) == cFacts[name]


def test_layoutRoundTripsThroughTheKernel() -> None:
    """
    An event packed with L{_libc.EVENT} and registered with C{epoll_ctl(2)}
    comes back from C{epoll_wait(2)}, read through an L{_libc.EventBuffer},
    with the same events bits, descriptor and tag: a wrong layout would
    scramble them.
    """
    left, right = socket.socketpair()
    epfd = _libc.epoll_create1(_libc.EPOLL_CLOEXEC)
    assert epfd >= 0
    try:
        tag = 0xDEADBEEF
        event = _libc.EVENT.pack(_libc.EPOLLOUT, left.fileno(), tag)
        assert _libc.epoll_ctl(epfd, _libc.EPOLL_CTL_ADD, left.fileno(), event) == 0
        buffer = _libc.EventBuffer(4)
        assert _libc.epoll_wait(epfd, buffer.pointer, 4, 0) == 1
        assert _libc.EVENT.unpack_from(buffer.view) == (
            _libc.EPOLLOUT,
            left.fileno(),
            tag,
        )
        assert _libc.FD_EVENT.unpack_from(buffer.storage) == (
            _libc.EPOLLOUT,
            left.fileno(),
        )
        assert buffer.words[buffer.fdWord] == left.fileno()
        assert buffer.unsignedWords[0] == _libc.EPOLLOUT
        assert buffer.unsignedWords[buffer.fdWord + 1] == tag
    finally:
        os.close(epfd)
        left.close()
        right.close()


def test_bareCallsReturnMinusOneOnFailure() -> None:
    """
    L{_libc.epoll_ctl_bare} and L{_libc.epoll_wait_bare} report failure as
    -1, like the errno-capturing calls, so that callers know to repeat the
    call through those to learn the error.
    """
    buffer = _libc.EventBuffer(1)
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    assert _libc.epoll_ctl_bare(r, _libc.EPOLL_CTL_ADD, w, None) == -1
    assert _libc.epoll_wait_bare(r, buffer.pointer, 1, 0) == -1


def test_bareCallsReleaseTheGIL() -> None:
    """
    L{_libc.epoll_wait_bare} (and L{_libc.epoll_ctl_bare}, from the same
    library object) release the GIL during the call, as C{select.epoll}
    does: while one thread is inside it, another runs Python code, here the
    write that ends the wait, which then reports that event.  A call that
    kept the GIL would let the main thread run only after the wait had timed
    out with no event.
    """
    epfd = _libc.epoll_create1(0)
    r, w = os.pipe()
    buffer = _libc.EventBuffer(1)
    counts: List[int] = []
    entering = threading.Event()
    try:
        event = _libc.EVENT.pack(_libc.EPOLLIN, r, 0)
        assert _libc.epoll_ctl(epfd, _libc.EPOLL_CTL_ADD, r, event) == 0

        def waiter() -> None:
            entering.set()
            counts.append(_libc.epoll_wait_bare(epfd, buffer.pointer, 1, 2000))

        thread = threading.Thread(target=waiter)
        thread.start()
        entering.wait(60)
        os.write(w, b"x")
        thread.join(60)
        assert counts == [1]
    finally:
        os.close(epfd)
        os.close(r)
        os.close(w)


@pytest.mark.parametrize(
    "failure, expected",
    [
        ("closed descriptor", OSError),
        ("registered twice", FileExistsError),
        ("not registered", FileNotFoundError),
        ("regular file", PermissionError),
        ("itself", OSError),
    ],
)
def test_lastErrorGivesTheSubclass(
    tmp_path: pathlib.Path, failure: str, expected: type
) -> None:
    """
    L{_libc.lastError}, called right after a failing L{_libc.epoll_ctl},
    gives C{OSError(errno, os.strerror(errno))}, which Python turns into the
    subclass for that errno, exactly as C{select.epoll} raises it.
    """
    epfd = _libc.epoll_create1(_libc.EPOLL_CLOEXEC)
    left, right = socket.socketpair()
    regular = open(tmp_path / "regular", "w")
    try:
        fd = left.fileno()
        event = _libc.EVENT.pack(_libc.EPOLLIN, fd, 0)
        operation = _libc.EPOLL_CTL_ADD
        expectedErrno = {
            "closed descriptor": errno.EBADF,
            "registered twice": errno.EEXIST,
            "not registered": errno.ENOENT,
            "regular file": errno.EPERM,
            "itself": errno.EINVAL,
        }[failure]
        if failure == "closed descriptor":
            r, w = os.pipe()
            os.close(r)
            os.close(w)
            fd = r
        elif failure == "registered twice":
            assert _libc.epoll_ctl(epfd, operation, fd, event) == 0
        elif failure == "not registered":
            operation = _libc.EPOLL_CTL_MOD
        elif failure == "regular file":
            fd = regular.fileno()
        else:
            fd = epfd
        assert _libc.epoll_ctl(epfd, operation, fd, event) == -1
        error = _libc.lastError()
        assert type(error) is expected
        assert error.errno == expectedErrno
        assert error.strerror == os.strerror(expectedErrno)
        assert _libc.getErrno() == expectedErrno
    finally:
        os.close(epfd)
        left.close()
        right.close()
        regular.close()


def test_errnoIsPerThread() -> None:
    """
    ctypes captures errno right after each call, per thread
    (C{use_errno=True}): a failure in another thread does not change what
    L{_libc.lastError} reports about this thread's last call.
    """
    import threading

    epfd = _libc.epoll_create1(_libc.EPOLL_CLOEXEC)
    left, right = socket.socketpair()
    try:
        event = _libc.EVENT.pack(_libc.EPOLLIN, left.fileno(), 0)
        assert _libc.epoll_ctl(epfd, _libc.EPOLL_CTL_MOD, left.fileno(), event) == -1
        seen = []

        def failDifferently() -> None:
            assert _libc.epoll_ctl(epfd, _libc.EPOLL_CTL_DEL, 2**31 - 1, None) == -1
            seen.append(_libc.lastError().errno)

        thread = threading.Thread(target=failDifferently)
        thread.start()
        thread.join()
        assert seen == [errno.EBADF]
        assert _libc.lastError().errno == errno.ENOENT
    finally:
        os.close(epfd)
        left.close()
        right.close()


def test_libraryLoadedOnce() -> None:
    """
    The C library is loaded once, under a name L{_libc.libcName} reports,
    and the hot-path copies call the very functions the checked ones do.
    """

    def address(function: Any) -> int:
        # Not CDLL._handle: on PyPy it is an object, not the loader's number.
        return ctypes.cast(function, ctypes.c_void_p).value or 0

    assert isinstance(_libc.libcName, str) and _libc.libcName
    for name in ("epoll_ctl", "epoll_wait"):
        bare = address(getattr(_libc._bareLibrary, name))
        assert bare == address(getattr(_libc._libc, name)) != 0


def test_eventBufferSmallIsBytearray() -> None:
    """
    An L{_libc.EventBuffer} of at most a page lives in a L{bytearray} that
    ctypes and the memoryviews share: what one writes, the others read.
    """
    buffer = _libc.EventBuffer(100)
    assert buffer.capacity == 100
    assert isinstance(buffer.storage, bytearray)
    _libc.EVENT.pack_into(buffer.storage, _libc.EVENT.size, 7, 8, 9)
    assert buffer.words[buffer.stride + buffer.fdWord] == 8
    if isinstance(buffer.pointer, int):
        # PyPy: the pointer is the storage's address, which only the kernel
        # round trip of the layout (test_layoutRoundTripsThroughTheKernel)
        # can read through.
        return
    size = _libc.EVENT.size
    assert bytes(buffer.pointer)[size : 2 * size] == _libc.EVENT.pack(7, 8, 9)


def test_eventBufferLargeIsMapped() -> None:
    """
    A large L{_libc.EventBuffer} is an anonymous mapping, whose pages the
    kernel zeroes on first touch, so that a huge C{maxevents} costs address
    space, not memory (as C{select.epoll}'s malloc does).
    """
    import mmap

    buffer = _libc.EventBuffer(10**7)
    assert isinstance(buffer.storage, mmap.mmap)
    assert buffer.view.nbytes == 10**7 * _libc.EVENT.size
    assert buffer.words[-1] == 0


def test_eventBufferImpossibleIsMemoryError() -> None:
    """
    A buffer larger than any address space raises L{MemoryError}, as
    C{select.epoll.poll} does when its malloc fails.
    """
    with pytest.raises(MemoryError):
        _libc.EventBuffer(2**45)


def _importsCtypes(tree: ast.AST) -> bool:
    """
    @return: whether the module imports ctypes in any spelling: C{import
        ctypes}, C{import ctypes.util}, C{from ctypes import ...}, or by
        name through C{__import__} or C{importlib.import_module}.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(alias.name.split(".")[0] == "ctypes" for alias in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            if node.module and node.module.split(".")[0] == "ctypes":
                return True
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value == "ctypes" or node.value.startswith("ctypes."):
                return True
    return False


def test_onlyLibcImportsCtypes() -> None:
    """
    Of every module in the package (and the Twisted plugin), only
    L{epollreactor._libc} imports L{ctypes}: the C boundary is one module.
    """
    sources = sorted(PACKAGE.rglob("*.py"))
    plugin = PACKAGE.parent / "twisted" / "plugins" / "epollreactor_ctypes.py"
    if plugin.exists():
        sources.append(plugin)
    assert PACKAGE / "_libc.py" in sources
    offenders = [
        str(path.relative_to(PACKAGE.parent))
        for path in sources
        if path.name != "_libc.py" or path.parent != PACKAGE
        if _importsCtypes(ast.parse(path.read_text(), str(path)))
    ]
    assert offenders == []
    assert _importsCtypes(ast.parse((PACKAGE / "_libc.py").read_text()))


#: A C library with none of the epoll calls, or (with C{-DWITH_CTL}) with
#: C{epoll_ctl} alone, a stub that fails.
_NO_EPOLL_LIBRARY = """
int unrelated(void) { return 0; }
#ifdef WITH_CTL
int epoll_ctl(int epfd, int op, int fd, void *event) { return -1; }
#endif
"""


def _noEpollLibrary(folder: "os.PathLike[str]", defines: List[str]) -> str:
    """
    Build L{_NO_EPOLL_LIBRARY} with the C compiler.

    @param defines: the compiler's C{-D} options.
    @return: the path of the shared library.
    """
    source = os.path.join(folder, "noepoll.c")
    library = os.path.join(folder, "libnoepoll.so")
    with open(source, "w") as f:
        f.write(_NO_EPOLL_LIBRARY)
    # -nostdlib: the library must not depend on libc, or dlsym(3) on its
    # handle would find libc's epoll calls through the dependency.
    command = [_compiler(), "-shared", "-fPIC", "-nostdlib", "-o", library, source]
    compiled = subprocess.run(command + defines, capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    return library


def test_processImageFirst() -> None:
    """
    The C library is taken from the process image, which holds the one the
    interpreter is linked with, without asking C{ctypes.util.find_library}
    (whose imports cost more than the rest of the binding; the import path
    itself is checked in tests/test_import.py).
    """
    assert hasattr(ctypes.CDLL(None), "epoll_create1")
    library, name = _libc._loadLibc()
    assert name == _libc.PROCESS_IMAGE == _libc.libcName
    assert hasattr(library, "epoll_wait")


def test_findLibraryWhereTheImageLacksEpoll(
    tmp_path: "os.PathLike[str]", monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Where the process image has no epoll calls, the binding loads the C
    library that C{ctypes.util.find_library("c")} names.  (No interpreter
    here lacks them, so C{ctypes.CDLL(None)} is made to open a library
    without them.)
    """
    from ctypes.util import find_library

    expected = find_library("c")
    if expected is None:
        pytest.skip("ctypes.util.find_library finds no C library here")
    empty = _noEpollLibrary(tmp_path, [])
    opened: List[Any] = []
    realCDLL = ctypes.CDLL

    def cdll(name: Any, *args: Any, **kwargs: Any) -> ctypes.CDLL:
        opened.append(name)
        return realCDLL(empty if name is None else name, *args, **kwargs)

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    library, name = _libc._loadLibc()
    assert (name, opened) == (expected, [None, expected])
    assert hasattr(library, "epoll_create1")


@pytest.mark.parametrize(
    "defines, missing",
    [
        ([], "epoll_create1, epoll_ctl, epoll_wait"),
        (["-DWITH_CTL"], "epoll_create1, epoll_wait"),
    ],
    ids=["none", "epoll_ctl only"],
)
def test_importErrorWithoutEpoll(
    tmp_path: "os.PathLike[str]", defines: List[str], missing: str
) -> None:
    """
    Loaded against a C library without the epoll calls (built here with the
    C compiler), the binding raises an L{ImportError} that says epoll is
    needed and names each missing call.
    """
    library = _noEpollLibrary(tmp_path, defines)
    with pytest.raises(ImportError) as raised:
        _libc._loadLibc(library)
    assert str(raised.value) == (
        "epollreactor needs Linux epoll, but the C library loaded from {} has "
        "no {} (platform: Linux)".format(library, missing)
    )


def test_epollCtlFromManyThreads() -> None:
    """
    Threads calling L{_libc.epoll_ctl} at once each get their own event
    registered, with its own events bits and tag.  (On PyPy the packed event
    is copied into a preallocated buffer whose address is passed; the buffers
    come from a pool so that no two calls in flight share one.)
    """
    import threading

    epfd = _libc.epoll_create1(_libc.EPOLL_CLOEXEC)
    assert epfd >= 0
    pairs = [socket.socketpair() for _ in range(8)]
    failures: list[tuple[int, int]] = []

    def run(index: int, sock: socket.socket) -> None:
        fd = sock.fileno()
        operation = _libc.EPOLL_CTL_ADD
        for round in range(300):
            mask = _libc.EPOLLIN if round % 2 else _libc.EPOLLOUT
            event = _libc.EVENT.pack(mask, fd, index * 1000 + round)
            if _libc.epoll_ctl(epfd, operation, fd, event):
                failures.append((fd, _libc.getErrno()))
            operation = _libc.EPOLL_CTL_MOD

    threads = [
        threading.Thread(target=run, args=(index, left))
        for index, (left, _) in enumerate(pairs)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        # The kernel adds EPOLLERR and EPOLLHUP to every mask.
        registered = {
            number: (
                registration.events & (_libc.EPOLLIN | _libc.EPOLLOUT),
                registration.words,
            )
            for number, registration in interestList(epfd).items()
        }
        # The last round (299) asked for EPOLLIN, with tag index*1000+299.
        assert registered == {
            left.fileno(): (_libc.EPOLLIN, (left.fileno(), index * 1000 + 299))
            for index, (left, _) in enumerate(pairs)
        }
    finally:
        os.close(epfd)
        for left, right in pairs:
            left.close()
            right.close()
