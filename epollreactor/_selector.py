"""
L{EpollSelector}: CPython's C{selectors.EpollSelector}, built on
L{epollreactor.epoll} instead of C{select.epoll}, so that
C{asyncio.SelectorEventLoop} gets epoll on interpreters whose C{select}
module has none.

The contract is CPython's C{Lib/selectors.py} and C{Lib/test/test_selectors.py}:
the same keys, the same results, the same exceptions.  The selector is
keyed by descriptor number, as CPython's is: a file closed and its number
reused without C{unregister} is the application's bug here, as it is there
(the Twisted reactor in L{epollreactor._reactor} guards against it; asyncio's
transports unregister before they close).
"""

from __future__ import annotations

from collections.abc import Mapping
from selectors import EVENT_READ, EVENT_WRITE, BaseSelector, SelectorKey

from epollreactor._epoll import epoll
from epollreactor._libc import EPOLLIN, EPOLLOUT

# typing for the type checker only, as in epollreactor/_versions.py.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Iterator, List, Optional, Tuple

    from epollreactor._epoll import FileDescriptorLike

__all__ = ["EpollSelector"]

_VALID_EVENTS = EVENT_READ | EVENT_WRITE


def _fileobjToFd(fileobj: FileDescriptorLike) -> int:
    """
    Turn a file object or descriptor number into a descriptor number, as
    C{selectors._fileobj_to_fd} does.

    @raise ValueError: for an object without a usable C{fileno()}, or a
        negative descriptor.
    """
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError("Invalid file object: {!r}".format(fileobj)) from None
    if fd < 0:
        raise ValueError("Invalid file descriptor: {}".format(fd))
    return fd


class _SelectorMapping(Mapping["FileDescriptorLike", SelectorKey]):
    """
    The read-only view of a selector's keys that L{EpollSelector.get_map}
    returns: it maps file objects (or their descriptor numbers) to keys.
    """

    __slots__ = ("_selector",)

    def __init__(self, selector: EpollSelector) -> None:
        self._selector = selector

    def __len__(self) -> int:
        return len(self._selector._fdToKey)

    def __getitem__(self, fileobj: FileDescriptorLike) -> SelectorKey:
        try:
            fd = self._selector._fileobjLookup(fileobj)
            return self._selector._fdToKey[fd]
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None

    def __iter__(self) -> Iterator[int]:
        return iter(self._selector._fdToKey)


class EpollSelector(BaseSelector):
    """
    A selector on epoll(7) through ctypes: C{selectors.EpollSelector} for
    interpreters with or without C{select.epoll}.

    Use it with asyncio as C{asyncio.SelectorEventLoop(EpollSelector())}.

    @ivar _epoll: the L{epoll} instance that watches the registered files.
    @ivar _fdToKey: maps each registered descriptor number to its
        L{SelectorKey}.
    @ivar _map: the read-only L{_SelectorMapping} over C{_fdToKey}, or
        C{None} once the selector is closed.
    @cvar _selector_cls: the class of the epoll instance, under the name
        C{selectors.EpollSelector} gives it, so that code (CPython's
        C{test_modify_unregister}) can replace it as it does there.
    """

    _selector_cls = epoll

    def __init__(self) -> None:
        """
        Create the epoll instance (close-on-exec, as CPython's).

        @raise OSError: when the kernel refuses (EMFILE, ENFILE, ENOMEM).
        """
        self._epoll = self._selector_cls()
        self._fdToKey: Dict[int, SelectorKey] = {}
        self._map: Optional[_SelectorMapping] = _SelectorMapping(self)

    def _fileobjLookup(self, fileobj: FileDescriptorLike) -> int:
        """
        Find the descriptor number of C{fileobj}; for an object whose
        C{fileno()} no longer works (a closed socket says -1), search the
        registered keys for the object itself, so that it can still be
        unregistered, as C{selectors} does.

        @raise ValueError: for an invalid object that is not registered.
        """
        try:
            return _fileobjToFd(fileobj)
        except ValueError:
            for key in self._fdToKey.values():
                if key.fileobj is fileobj:
                    return key.fd
            raise

    def fileno(self) -> int:
        """
        @return: the epoll instance's descriptor.
        @raise ValueError: when the selector is closed.
        """
        return self._epoll.fileno()

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> SelectorKey:
        """
        Watch C{fileobj} for C{events} with C{EPOLL_CTL_ADD}.

        @param fileobj: a descriptor number or an object with C{fileno()}.
        @param events: C{EVENT_READ}, C{EVENT_WRITE} or both.
        @param data: anything, handed back in the key.
        @return: the new L{SelectorKey}.
        @raise ValueError: for events other than C{EVENT_READ} and
            C{EVENT_WRITE}, or an invalid file object.
        @raise KeyError: when its descriptor is registered already.
        @raise PermissionError: for a regular file or directory, which epoll
            cannot watch (EPERM, epoll_ctl(2)).
        @raise OSError: for a closed descriptor (EBADF) and other kernel
            errors; the selector is left unchanged.
        """
        if not events or events & ~_VALID_EVENTS:
            raise ValueError("Invalid events: {!r}".format(events))
        fd = self._fileobjLookup(fileobj)
        if fd in self._fdToKey:
            raise KeyError("{!r} (FD {}) is already registered".format(fileobj, fd))
        # Kernel first: a refused registration must leave no key behind.
        self._epoll.register(
            fd,
            (EPOLLIN if events & EVENT_READ else 0)
            | (EPOLLOUT if events & EVENT_WRITE else 0),
        )
        key = self._fdToKey[fd] = SelectorKey(fileobj, fd, events, data)
        return key

    def unregister(self, fileobj: FileDescriptorLike) -> SelectorKey:
        """
        Stop watching C{fileobj} with C{EPOLL_CTL_DEL}.  A file closed since
        it was registered is forgotten without complaint: the kernel dropped
        its registration already (or keeps it for a C{dup} that we cannot
        name any more, epoll(7) Q6).

        @return: the key it had.
        @raise KeyError: when it is not registered.
        """
        try:
            key = self._fdToKey.pop(self._fileobjLookup(fileobj))
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None
        try:
            self._epoll.unregister(key.fd)
        except OSError:
            # EBADF or ENOENT: closed, or closed and its number reused.
            pass
        return key

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> SelectorKey:
        """
        Change the events or data of a registered file; a change of events
        is one C{EPOLL_CTL_MOD}.

        @return: the new key.
        @raise KeyError: when it is not registered.
        @raise ValueError: for invalid events.
        @raise OSError: from the kernel; the file is then unregistered from
            the selector, as CPython does (bpo-30014).
        """
        try:
            key = self._fdToKey[self._fileobjLookup(fileobj)]
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None
        changed = False
        if events != key.events:
            if not events or events & ~_VALID_EVENTS:
                raise ValueError("Invalid events: {!r}".format(events))
            try:
                self._epoll.modify(
                    key.fd,
                    (EPOLLIN if events & EVENT_READ else 0)
                    | (EPOLLOUT if events & EVENT_WRITE else 0),
                )
            except BaseException:
                del self._fdToKey[key.fd]
                raise
            changed = True
        if data != key.data:
            changed = True
        if changed:
            key = self._fdToKey[key.fd] = key._replace(events=events, data=data)
        return key

    def select(self, timeout: Optional[float] = None) -> List[Tuple[SelectorKey, int]]:
        """
        Wait with C{epoll_wait(2)} until a registered file is ready, or
        C{timeout} seconds have passed.

        @param timeout: C{None} to wait until a file is ready; zero or less
            to poll; else seconds, rounded up to the next millisecond so that
            the wait is at least that long.  A signal that interrupts the wait
            without raising does not end it early (PEP 475).
        @return: C{(key, events)} pairs, C{events} being the ready subset of
            the key's events.
        @raise ValueError: when the selector is closed.
        @raise OverflowError: for a timeout too large for C{epoll_wait(2)}.
        """
        if timeout is not None and timeout <= 0:
            # epoll's poll waits forever for a negative timeout; a selector
            # polls.
            timeout = 0
        fdToKey = self._fdToKey
        ready = []
        # epoll.poll rounds the timeout up to the next millisecond, so that a
        # short timeout is not a busy poll(0), retries on EINTR, and has the
        # binding's fast paths (an errno-less call for timeout 0, PyPy's own
        # decoding), which makes select() cheaper than decoding the buffer
        # here would (bench/README.md, "Selector").  epoll_wait(2) wants
        # maxevents > 0 even when nothing is registered (bpo-23009).
        for fd, event in self._epoll.poll(timeout, len(fdToKey) or 1):
            key = fdToKey.get(fd)
            if key is not None:
                # EPOLLHUP and EPOLLERR make a file both readable and
                # writable, as in selectors.
                ready.append(
                    (
                        key,
                        (
                            (EVENT_WRITE if event & ~EPOLLIN else 0)
                            | (EVENT_READ if event & ~EPOLLOUT else 0)
                        )
                        & key.events,
                    )
                )
        return ready

    def close(self) -> None:
        """
        Close the epoll instance and forget every key; L{get_key} then raises
        L{RuntimeError}.  Closing twice does nothing.
        """
        self._epoll.close()
        self._fdToKey.clear()
        self._map = None

    def get_key(self, fileobj: FileDescriptorLike) -> SelectorKey:
        """
        @return: the key of a registered file.
        @raise KeyError: when it is not registered.
        @raise RuntimeError: when the selector is closed.
        """
        if self._map is None:
            raise RuntimeError("Selector is closed")
        return self._map[fileobj]

    # CPython returns None once the selector is closed; typeshed's stub for
    # BaseSelector.get_map does not say so.
    def get_map(self) -> Optional[Mapping[FileDescriptorLike, SelectorKey]]:  # type: ignore[override]
        """
        @return: a read-only mapping of file objects to keys, or C{None} once
            the selector is closed.
        """
        return self._map
