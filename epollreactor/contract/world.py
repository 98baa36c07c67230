"""
The descriptors a machine opens, closes and moves behind a reactor's back:
socket pairs, pipes and a regular file, all non-blocking, and what
C{poll(2)} says each is ready for.

C{poll(2)} and C{epoll_wait(2)} call the same kernel C{poll} method of a
file, with the same bits (C{POLLIN == EPOLLIN} and so on), so C{poll(2)}
tells what a reactor should see, without epoll.
"""

import array
import fcntl
import os
import select
import socket
import termios
from typing import Dict, List, Optional

from epollreactor.contract.kernel import DISCONNECTED

#: C{POLLIN}, C{POLLOUT}: the same bits as C{EPOLLIN}, C{EPOLLOUT}.
READABLE = select.POLLIN
WRITABLE = select.POLLOUT

#: The kinds of file L{World.open} opens.
KINDS = ("socketpair", "pipe", "regular")


def atEndOfFile(number: int) -> bool:
    """
    Whether a read of C{number} would return end-of-file now, found without
    reading: the peer has hung up (C{POLLHUP}: a socket whose peer closed, a
    pipe whose writers are gone) and nothing is buffered (C{FIONREAD}).
    """
    if number < 0:
        return False
    poller = select.poll()
    poller.register(number, select.POLLIN)
    events = poller.poll(0)
    if not events or not events[0][1] & select.POLLHUP:
        return False
    if events[0][1] & select.POLLNVAL:
        return False
    buffered = array.array("i", [0])
    try:
        fcntl.ioctl(number, termios.FIONREAD, buffered)
    except OSError:
        return False
    return buffered[0] == 0


def fill(number: Optional[int], size: int = 0) -> None:
    """
    Write C{size} bytes to C{number} or, with C{size} 0, until its buffer is
    full; a peer gone or a full buffer ends it quietly.
    """
    if number is None or number < 0:
        return
    try:
        if size:
            os.write(number, b"x" * size)
        else:
            while os.write(number, b"x" * 65536):
                pass
    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
        pass


def drain(number: Optional[int]) -> None:
    """
    Read everything C{number} has buffered.
    """
    if number is None or number < 0:
        return
    try:
        while os.read(number, 65536):
            pass
    except (BlockingIOError, ConnectionResetError):
        # ECONNRESET: the peer closed with our data unread.
        pass


class OpenFile:
    """
    One open file description a L{World} created, and the number it lives
    under.

    @ivar name: for messages and programs, C{f0}, C{f1}, ...
    @ivar kind: C{"socket"}, C{"pipe-read"}, C{"pipe-write"} or C{"regular"}.
    @ivar number: its descriptor number, or C{None} once closed.
    @ivar lastNumber: the number it lives or last lived under.
    @ivar inode: what C{fstat} and fdinfo's C{ino:} say.
    @ivar peer: the other end of its socket pair or pipe.
    """

    def __init__(self, name: str, kind: str, number: int) -> None:
        """
        @param name: see L{name}.
        @param kind: see L{kind}.
        @param number: see L{number}.
        """
        self.name = name
        self.kind = kind
        self.number: Optional[int] = number
        self.lastNumber = number
        self.inode = os.fstat(number).st_ino
        self.peer: Optional[OpenFile] = None

    def __repr__(self) -> str:
        """
        @return: its name, kind and number.
        """
        return "<{} {} on {}>".format(self.name, self.kind, self.number)


class World:
    """
    The descriptors opened through it.

    @ivar files: maps each live number to the file it names.
    @ivar allFiles: every file opened, in order.
    @ivar closed: every number a file of this world left (closed or moved),
        and not taken since.
    @ivar avoidReuse: whether a new file that the kernel puts on a number in
        L{closed} is moved above every number used instead, so that a
        number is reused only when asked (L{open}'s C{onto}), as a printed
        program must to do what its machine did.
    """

    def __init__(self, directory: str, avoidReuse: bool = False) -> None:
        """
        @param directory: where the regular file is made.
        @param avoidReuse: see L{avoidReuse}.
        """
        self.directory = directory
        self.files: Dict[int, OpenFile] = {}
        self.allFiles: List[OpenFile] = []
        self.closed: Dict[int, None] = {}
        self.avoidReuse = avoidReuse

    def _place(self, number: int, onto: Optional[int]) -> int:
        """
        @return: C{number}, or where it was moved: onto C{onto}, or above
            every number used when L{avoidReuse} says so.
        """
        if onto is not None and onto != number:
            os.dup2(number, onto, inheritable=False)
            os.close(number)
            number = onto
        elif onto is None and self.avoidReuse and number in self.closed:
            highest = max(list(self.closed) + list(self.files) + [number])
            moved = fcntl.fcntl(number, fcntl.F_DUPFD_CLOEXEC, highest + 1)
            os.close(number)
            number = moved
        self.closed.pop(number, None)
        return number

    def _new(self, kind: str, number: int, onto: Optional[int]) -> OpenFile:
        number = self._place(number, onto)
        openFile = OpenFile("f{}".format(len(self.allFiles)), kind, number)
        self.allFiles.append(openFile)
        self.files[number] = openFile
        return openFile

    def open(
        self, kind: str, onto: Optional[List[Optional[int]]] = None
    ) -> List[OpenFile]:
        """
        Open a socket pair, a pipe (both ends) or the regular file, all
        non-blocking.

        @param kind: one of L{KINDS}.
        @param onto: for each descriptor, a free number to move it to, or
            C{None} to leave it where the kernel put it.
        @return: the files, one per descriptor.
        """
        where = list(onto or []) + [None, None]
        if kind == "socketpair":
            left, right = socket.socketpair()
            numbers = [left.detach(), right.detach()]
            for number in numbers:
                os.set_blocking(number, False)
            pair = [self._new("socket", n, at) for n, at in zip(numbers, where)]
            pair[0].peer, pair[1].peer = pair[1], pair[0]
            return pair
        if kind == "pipe":
            readEnd, writeEnd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            pipe = [
                self._new("pipe-read", readEnd, where[0]),
                self._new("pipe-write", writeEnd, where[1]),
            ]
            pipe[0].peer, pipe[1].peer = pipe[1], pipe[0]
            return pipe
        number = os.open(
            os.path.join(self.directory, "regular"),
            os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC,
        )
        return [self._new("regular", number, where[0])]

    def close(self, number: int) -> None:
        """
        Close a live number; every epoll instance loses its registration
        (the world holds no other reference to the file).
        """
        os.close(number)
        self.files.pop(number).number = None
        self.closed[number] = None

    def dup2(self, source: OpenFile, number: int) -> None:
        """
        Move C{source} onto C{number}, which closes the file living there,
        and close C{source}'s old number.
        """
        old = source.number
        assert old is not None
        os.dup2(old, number)
        self.files.pop(number).number = None
        os.close(old)
        del self.files[old]
        self.closed[old] = None
        source.number = source.lastNumber = number
        self.files[number] = source

    def readiness(self) -> Dict[int, int]:
        """
        Ask C{poll(2)} what every live number is ready for.

        @return: maps each live number to its C{revents}.
        """
        poller = select.poll()
        for number in self.files:
            poller.register(number, select.POLLIN | select.POLLOUT)
        ready = dict.fromkeys(self.files, 0)
        for number, revents in poller.poll(0):
            ready[number] = revents & (READABLE | WRITABLE | DISCONNECTED)
        return ready

    def closeAll(self) -> None:
        """
        Close every live number.
        """
        for number in list(self.files):
            try:
                os.close(number)
            except OSError:
                pass
            self.files.pop(number).number = None
