"""
L{epollreactor.EpollSelector} against the contract of CPython's
C{selectors.EpollSelector}.

The shape is CPython's C{Lib/test/test_selectors.py}: one mixin of
behaviours, run once per implementation through a C{SELECTOR} class
attribute, so that every test also pins down what the stock selector does.
Everything runs on real descriptors: socket pairs, pipes, regular files,
closed and reused descriptor numbers.
"""

import errno
import os
import resource
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import unittest
from time import monotonic
from typing import Any, Callable, List, Tuple

from epollreactor import EpollSelector
from tests.kernel import interestList

_HAVE_SELECT_EPOLL = hasattr(select, "epoll")


class SelectorContractMixin:
    """
    The behaviour every epoll selector shares; mixed into one
    L{unittest.TestCase} per implementation.

    @cvar SELECTOR: the selector class under test.
    """

    SELECTOR: Callable[[], selectors.BaseSelector]

    # Provided by unittest.TestCase.
    addCleanup: Callable[..., None]
    assertEqual: Callable[..., None]
    assertRaises: Any
    assertIn: Callable[..., None]
    assertIs: Callable[..., None]
    assertIsNone: Callable[..., None]
    assertGreaterEqual: Callable[..., None]
    skipTest: Callable[..., None]

    def makeSelector(self) -> Any:
        """
        @return: a new selector, closed when the test ends.
        """
        s = self.SELECTOR()
        self.addCleanup(s.close)
        return s

    def makeSocketPair(self) -> Tuple[socket.socket, socket.socket]:
        """
        @return: a connected pair of sockets, closed when the test ends.
        """
        rd, wr = socket.socketpair()
        self.addCleanup(rd.close)
        self.addCleanup(wr.close)
        return rd, wr

    def test_register(self) -> None:
        """
        C{register} returns a L{selectors.SelectorKey} holding the object,
        its descriptor, the events and the data.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        key = s.register(rd, selectors.EVENT_READ, "data")
        self.assertIs(type(key), selectors.SelectorKey)
        self.assertEqual(
            key, selectors.SelectorKey(rd, rd.fileno(), selectors.EVENT_READ, "data")
        )

    def test_registerDescriptorNumber(self) -> None:
        """
        A bare descriptor number registers like an object with C{fileno()};
        the key's C{fileobj} is the number.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        key = s.register(wr.fileno(), selectors.EVENT_WRITE)
        self.assertEqual(key.fileobj, wr.fileno())
        self.assertEqual(s.select(0), [(key, selectors.EVENT_WRITE)])

    def test_registerBadEvents(self) -> None:
        """
        Events other than C{EVENT_READ} and C{EVENT_WRITE}, or none, raise
        L{ValueError} and register nothing.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        for events in (0, 999999, selectors.EVENT_READ | 4):
            with self.assertRaises(ValueError):
                s.register(rd, events)
        self.assertEqual(len(s.get_map()), 0)

    def test_registerNegativeDescriptor(self) -> None:
        """
        A negative descriptor number raises L{ValueError}.
        """
        s = self.makeSelector()
        with self.assertRaises(ValueError):
            s.register(-10, selectors.EVENT_READ)

    def test_registerInvalidObject(self) -> None:
        """
        An object with no C{fileno()}, or one whose C{fileno()} does not give
        a number, raises L{ValueError}.
        """
        s = self.makeSelector()

        class NotANumber:
            def fileno(self) -> str:
                return "seven"

        for fileobj in (object(), NotANumber(), "3"):
            with self.assertRaises(ValueError):
                s.register(fileobj, selectors.EVENT_READ)

    def test_registerTwice(self) -> None:
        """
        Registering a descriptor that is registered already raises
        L{KeyError}, whether through the same object or its number.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        s.register(rd, selectors.EVENT_READ)
        with self.assertRaises(KeyError):
            s.register(rd, selectors.EVENT_READ)
        with self.assertRaises(KeyError):
            s.register(rd.fileno(), selectors.EVENT_WRITE)

    def test_registerRegularFile(self) -> None:
        """
        epoll cannot watch a regular file: C{register} raises
        L{PermissionError} (EPERM, epoll_ctl(2)) and keeps no key.
        """
        s = self.makeSelector()
        with tempfile.TemporaryFile() as f:
            with self.assertRaises(PermissionError):
                s.register(f, selectors.EVENT_READ)
            with self.assertRaises(KeyError):
                s.get_key(f)

    def test_registerClosedDescriptor(self) -> None:
        """
        A closed descriptor raises L{OSError} with EBADF and keeps no key.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        fd = os.dup(rd.fileno())
        os.close(fd)
        with self.assertRaises(OSError) as caught:
            s.register(fd, selectors.EVENT_READ)
        self.assertEqual(caught.exception.errno, errno.EBADF)
        with self.assertRaises(KeyError):
            s.get_key(fd)

    def test_unregister(self) -> None:
        """
        C{unregister} returns the key and forgets it; an unknown file, or a
        second C{unregister}, raises L{KeyError}.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        key = s.register(rd, selectors.EVENT_READ)
        self.assertEqual(s.unregister(rd), key)
        with self.assertRaises(KeyError):
            s.unregister(rd)
        with self.assertRaises(KeyError):
            s.unregister(999999)

    def test_unregisterStopsEvents(self) -> None:
        """
        An unregistered file is no longer reported, even when ready.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        s.register(wr, selectors.EVENT_WRITE)
        s.unregister(wr)
        self.assertEqual(s.select(0), [])

    def test_unregisterAfterDescriptorClose(self) -> None:
        """
        Unregistering descriptor numbers whose files were closed does not
        raise.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        r, w = rd.fileno(), wr.fileno()
        s.register(r, selectors.EVENT_READ)
        s.register(w, selectors.EVENT_WRITE)
        rd.close()
        wr.close()
        s.unregister(r)
        s.unregister(w)
        self.assertEqual(len(s.get_map()), 0)

    def test_unregisterAfterDescriptorReuse(self) -> None:
        """
        Unregistering descriptor numbers that were closed and then reused for
        other files (C{dup2}) does not raise.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        r, w = rd.fileno(), wr.fileno()
        s.register(r, selectors.EVENT_READ)
        s.register(w, selectors.EVENT_WRITE)
        rd2, wr2 = self.makeSocketPair()
        rd.close()
        wr.close()
        os.dup2(rd2.fileno(), r)
        os.dup2(wr2.fileno(), w)
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        s.unregister(r)
        s.unregister(w)
        self.assertEqual(len(s.get_map()), 0)
        with self.assertRaises(KeyError):
            s.get_key(r)
        # Nothing of the old files is left with the kernel either: the new
        # file under the number registers (no EEXIST) and is reported.
        self.assertEqual(interestList(s.fileno()), {})
        key = s.register(r, selectors.EVENT_READ)
        wr2.send(b"x")
        self.assertEqual(s.select(5), [(key, selectors.EVENT_READ)])

    def test_unregisterAfterSocketClose(self) -> None:
        """
        A closed socket, whose C{fileno()} is now -1, is still found by
        identity and unregistered without raising.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        s.register(rd, selectors.EVENT_READ)
        s.register(wr, selectors.EVENT_WRITE)
        rd.close()
        wr.close()
        s.unregister(rd)
        s.unregister(wr)
        self.assertEqual(len(s.get_map()), 0)

    def test_modifyEvents(self) -> None:
        """
        C{modify} with other events returns a new key, which C{get_key}
        then returns, and the kernel reports the new events.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        key = s.register(rd, selectors.EVENT_READ)
        key2 = s.modify(rd, selectors.EVENT_WRITE)
        self.assertEqual(key2.events, selectors.EVENT_WRITE)
        self.assertEqual(key2, s.get_key(rd))
        self.assertEqual(key2.fd, key.fd)
        self.assertEqual(s.select(0), [(key2, selectors.EVENT_WRITE)])

    def test_modifyData(self) -> None:
        """
        C{modify} with the same events and other data returns a key with the
        new data.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        d1, d2 = object(), object()
        key = s.register(rd, selectors.EVENT_READ, d1)
        key2 = s.modify(rd, selectors.EVENT_READ, d2)
        self.assertEqual(key.events, key2.events)
        self.assertIs(key2.data, d2)
        self.assertEqual(key2, s.get_key(rd))

    def test_modifyDataNeedsNoKernel(self) -> None:
        """
        Changing only the data makes no C{epoll_ctl(2)} call: it succeeds
        even when the kernel no longer knows the descriptor.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        fd = rd.fileno()
        s.register(fd, selectors.EVENT_READ, "old")
        rd.close()
        key = s.modify(fd, selectors.EVENT_READ, "new")
        self.assertEqual(key.data, "new")

    def test_modifyUnknown(self) -> None:
        """
        Modifying a file that is not registered raises L{KeyError}.
        """
        s = self.makeSelector()
        with self.assertRaises(KeyError):
            s.modify(999999, selectors.EVENT_READ)

    def test_modifyFailureUnregisters(self) -> None:
        """
        When the kernel refuses C{modify} (here: the descriptor was closed),
        the error propagates and the file is no longer registered
        (bpo-30014).
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        fd = rd.fileno()
        s.register(fd, selectors.EVENT_READ)
        rd.close()
        with self.assertRaises(OSError):
            s.modify(fd, selectors.EVENT_WRITE)
        self.assertEqual(len(s.get_map()), 0)

    def test_modifyFailureOnReusedNumberUnregisters(self) -> None:
        """
        When the kernel refuses C{modify} because the number now names a file
        that was never registered (C{dup2} over it: ENOENT), the
        L{FileNotFoundError} propagates and the number is no longer
        registered, so the new file can be.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        other, otherPeer = self.makeSocketPair()
        fd = rd.fileno()
        s.register(fd, selectors.EVENT_READ, "old")
        os.dup2(other.fileno(), fd)
        with self.assertRaises(FileNotFoundError):
            s.modify(fd, selectors.EVENT_WRITE, "new")
        self.assertEqual(len(s.get_map()), 0)
        with self.assertRaises(KeyError):
            s.get_key(fd)
        key = s.register(fd, selectors.EVENT_READ, "again")
        otherPeer.send(b"x")
        self.assertEqual(s.select(5), [(key, selectors.EVENT_READ)])

    def test_close(self) -> None:
        """
        After C{close}, C{get_key} raises L{RuntimeError} and the mapping
        obtained before is empty.
        """
        s = self.makeSelector()
        mapping = s.get_map()
        rd, wr = self.makeSocketPair()
        s.register(rd, selectors.EVENT_READ)
        s.register(wr, selectors.EVENT_WRITE)
        s.close()
        with self.assertRaises(RuntimeError):
            s.get_key(rd)
        with self.assertRaises(RuntimeError):
            s.get_key(wr)
        with self.assertRaises(KeyError):
            mapping[rd]
        self.assertIsNone(mapping.get(wr))
        self.assertIsNone(s.get_map())

    def test_closeTwice(self) -> None:
        """
        Closing a closed selector does nothing: in particular it does not
        close the descriptor that took the epoll instance's number meanwhile.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        fd = s.fileno()
        s.close()
        os.dup2(rd.fileno(), fd)
        self.addCleanup(os.close, fd)
        s.close()
        self.assertEqual(os.fstat(fd).st_ino, os.fstat(rd.fileno()).st_ino)
        with self.assertRaises(RuntimeError):
            s.get_key(rd)

    def test_closedSelectorRefusesWork(self) -> None:
        """
        A closed selector's C{select} and C{fileno} raise L{ValueError}, as
        the closed epoll object beneath them does.
        """
        s = self.makeSelector()
        s.close()
        with self.assertRaises(ValueError):
            s.select(0)
        with self.assertRaises(ValueError):
            s.fileno()

    def test_closeReleasesDescriptor(self) -> None:
        """
        C{close} closes the epoll descriptor.
        """
        s = self.makeSelector()
        fd = s.fileno()
        s.close()
        with self.assertRaises(OSError) as caught:
            os.fstat(fd)
        self.assertEqual(caught.exception.errno, errno.EBADF)

    def test_getKey(self) -> None:
        """
        C{get_key} returns the registered key, by object or by number; an
        unknown file raises L{KeyError}.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        key = s.register(rd, selectors.EVENT_READ, "data")
        self.assertEqual(key, s.get_key(rd))
        self.assertEqual(key, s.get_key(rd.fileno()))
        with self.assertRaises(KeyError):
            s.get_key(999999)

    def test_getMap(self) -> None:
        """
        C{get_map} is a live, read-only mapping from files (or numbers) to
        keys, iterating over descriptor numbers.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        sentinel = object()
        keys = s.get_map()
        self.assertEqual(len(keys), 0)
        self.assertEqual(list(keys), [])
        key = s.register(rd, selectors.EVENT_READ, "data")
        self.assertIn(rd, keys)
        self.assertIn(rd.fileno(), keys)
        self.assertIsNone(keys.get(wr))
        self.assertIs(keys.get(wr, sentinel), sentinel)
        self.assertEqual(keys[rd], key)
        self.assertEqual(len(keys), 1)
        self.assertEqual(list(keys), [rd.fileno()])
        self.assertEqual(list(keys.values()), [key])
        with self.assertRaises(KeyError):
            keys[999999]
        with self.assertRaises(TypeError):
            del keys[rd]  # type: ignore[attr-defined]

    def test_select(self) -> None:
        """
        C{select} reports exactly the ready files, each with the ready subset
        of its key's events.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        s.register(rd, selectors.EVENT_READ)
        wrKey = s.register(wr, selectors.EVENT_WRITE)
        self.assertEqual(s.select(), [(wrKey, selectors.EVENT_WRITE)])

    def test_selectReadable(self) -> None:
        """
        Data sent to a socket makes it readable; reading it all makes it
        quiet again (level-triggered).
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        key = s.register(rd, selectors.EVENT_READ)
        wr.send(b"x")
        self.assertEqual(s.select(), [(key, selectors.EVENT_READ)])
        self.assertEqual(s.select(0), [(key, selectors.EVENT_READ)])
        rd.recv(1)
        self.assertEqual(s.select(0), [])

    def test_selectHangUp(self) -> None:
        """
        When the peer closes, the kernel's EPOLLHUP reports the file ready for
        every event its key asks for, as C{selectors} maps it.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        both = selectors.EVENT_READ | selectors.EVENT_WRITE
        key = s.register(rd, both)
        wr.close()
        self.assertEqual(s.select(0), [(key, both)])

    def test_selectPipe(self) -> None:
        """
        Pipes work as sockets do: the write end is writable, and the read
        end readable once written to.
        """
        s = self.makeSelector()
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        rKey = s.register(r, selectors.EVENT_READ)
        wKey = s.register(w, selectors.EVENT_WRITE)
        self.assertEqual(s.select(0), [(wKey, selectors.EVENT_WRITE)])
        os.write(w, b"x")
        self.assertEqual(
            sorted(s.select(0)),
            sorted([(rKey, selectors.EVENT_READ), (wKey, selectors.EVENT_WRITE)]),
        )

    def test_contextManager(self) -> None:
        """
        Leaving a C{with} block closes the selector.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        with s as sel:
            self.assertIs(sel, s)
            sel.register(rd, selectors.EVENT_READ)
            sel.register(wr, selectors.EVENT_WRITE)
        with self.assertRaises(RuntimeError):
            s.get_key(rd)

    def test_fileno(self) -> None:
        """
        C{fileno} is the descriptor of an epoll instance, which the kernel
        reports as C{anon_inode:[eventpoll]}.
        """
        s = self.makeSelector()
        fd = s.fileno()
        self.assertGreaterEqual(fd, 0)
        self.assertEqual(
            os.readlink("/proc/self/fd/{}".format(fd)), "anon_inode:[eventpoll]"
        )

    def test_manySocketPairs(self) -> None:
        """
        Messages through a dozen socket pairs each wake exactly their reader.
        """
        s = self.makeSelector()
        message = b" This is a test."
        readerOf = {}
        for _ in range(12):
            rd, wr = self.makeSocketPair()
            s.register(rd, selectors.EVENT_READ)
            s.register(wr, selectors.EVENT_WRITE)
            readerOf[wr] = rd
        received = []
        while readerOf:
            ready = s.select()
            writers = [
                key.fileobj for key, events in ready if events & selectors.EVENT_WRITE
            ]
            self.assertEqual(len(writers), len(readerOf))
            wr = writers[0]
            wr.send(message)
            readable = [
                key.fileobj
                for key, events in s.select()
                if events & selectors.EVENT_READ
            ]
            rd = readerOf.pop(wr)
            self.assertEqual(readable, [rd])
            received.append(rd.recv(len(message)))
            s.unregister(rd)
            s.unregister(wr)
        self.assertEqual(received, [message] * 12)

    def test_emptySelect(self) -> None:
        """
        C{select} works with nothing registered (bpo-23009: epoll_wait(2)
        needs C{maxevents} above zero).
        """
        s = self.makeSelector()
        self.assertEqual(s.select(timeout=0), [])

    def test_zeroAndNegativeTimeoutsPoll(self) -> None:
        """
        A timeout of zero or less polls: the ready files come back, and a
        quiet selector returns an empty list at once.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        key = s.register(wr, selectors.EVENT_WRITE)
        self.assertEqual(s.select(0), [(key, selectors.EVENT_WRITE)])
        self.assertEqual(s.select(-1), [(key, selectors.EVENT_WRITE)])
        s.unregister(wr)
        s.register(rd, selectors.EVENT_READ)
        self.assertEqual(s.select(0), [])
        self.assertEqual(s.select(-1), [])
        self.assertEqual(s.select(0.0), [])

    def test_timeoutRoundsUp(self) -> None:
        """
        A timeout shorter than a millisecond is rounded up to one, not down
        to a busy C{epoll_wait(timeout=0)}.

        Only a lower bound is checked, which epoll_wait(2) guarantees;
        nothing here depends on the machine being fast.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        s.register(rd, selectors.EVENT_READ)
        start = monotonic()
        self.assertEqual(s.select(0.0001), [])
        self.assertGreaterEqual(monotonic() - start, 0.001)

    def test_signalHandlerExceptionPropagates(self) -> None:
        """
        A signal whose handler raises ends C{select} with that exception.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        s.register(rd, selectors.EVENT_READ)

        class Interrupted(Exception):
            pass

        def handler(signum: int, frame: object) -> None:
            raise Interrupted()

        self._interruptSoon(handler)
        with self.assertRaises(Interrupted):
            s.select(30)

    def test_signalInterruptionRetries(self) -> None:
        """
        A signal whose handler returns does not end C{select}: it waits
        again (PEP 475), and so reports what the handler made ready.
        """
        s = self.makeSelector()
        rd, wr = self.makeSocketPair()
        key = s.register(rd, selectors.EVENT_READ)

        def handler(signum: int, frame: object) -> None:
            wr.send(b"!")

        self._interruptSoon(handler)
        self.assertEqual(s.select(30), [(key, selectors.EVENT_READ)])

    def _interruptSoon(self, handler: Callable[[int, Any], None]) -> None:
        """
        Deliver SIGALRM to this process in 50ms, to C{handler}; undone when
        the test ends.
        """
        original = signal.signal(signal.SIGALRM, handler)
        self.addCleanup(signal.signal, signal.SIGALRM, original)
        self.addCleanup(signal.setitimer, signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_REAL, 0.05)

    def test_moreThanOneBatch(self) -> None:
        """
        More ready files than C{FD_SETSIZE} (the size of the first event
        buffer) are all reported by one C{select}.
        """
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        pairs = 1100
        if soft < 2 * pairs + 64:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
            except (OSError, ValueError):
                self.skipTest("cannot raise RLIMIT_NOFILE above {}".format(soft))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
            if min(hard, 4096) < 2 * pairs + 64:
                self.skipTest("RLIMIT_NOFILE hard limit {} too low".format(hard))
        s = self.makeSelector()
        writers: List[socket.socket] = []
        for _ in range(pairs):
            rd, wr = self.makeSocketPair()
            s.register(wr, selectors.EVENT_WRITE)
            writers.append(wr)
        ready = s.select(0)
        self.assertEqual(len(ready), pairs)
        self.assertEqual(
            sorted(key.fd for key, events in ready), sorted(w.fileno() for w in writers)
        )


@unittest.skipUnless(
    _HAVE_SELECT_EPOLL, "this interpreter's select module has no epoll"
)
class StockEpollSelectorTests(SelectorContractMixin, unittest.TestCase):
    """
    The contract, run against CPython's C{selectors.EpollSelector}, so that
    every test above states what the stock selector does.
    """

    SELECTOR = getattr(selectors, "EpollSelector", None)  # type: ignore[assignment]


class EpollSelectorTests(SelectorContractMixin, unittest.TestCase):
    """
    The contract, run against L{epollreactor.EpollSelector}.
    """

    SELECTOR = EpollSelector

    def test_isBaseSelector(self) -> None:
        """
        It is a L{selectors.BaseSelector}, so asyncio takes it.
        """
        self.assertIs(isinstance(EpollSelector(), selectors.BaseSelector), True)

    def test_modifyBadEvents(self) -> None:
        """
        C{modify} refuses events other than C{EVENT_READ} and C{EVENT_WRITE}
        with L{ValueError}, as C{register} does, and leaves the key as it
        was.  (CPython 3.11's selector passes them to the key unchecked.)
        """
        s = EpollSelector()
        self.addCleanup(s.close)
        rd, wr = socket.socketpair()
        self.addCleanup(rd.close)
        self.addCleanup(wr.close)
        key = s.register(rd, selectors.EVENT_READ, "data")
        for events in (0, 999999):
            with self.assertRaises(ValueError):
                s.modify(rd, events)
        self.assertEqual(s.get_key(rd), key)

    def test_timeoutTooLarge(self) -> None:
        """
        A timeout beyond what C{epoll_wait(2)} takes in milliseconds raises
        L{OverflowError}, as CPython's selector does.  (PyPy 7.3's stock
        selector returns an empty list at once instead.)
        """
        s = EpollSelector()
        self.addCleanup(s.close)
        with self.assertRaises(OverflowError):
            s.select(2.0**31)

    def test_withoutSelectEpoll(self) -> None:
        """
        It works in an interpreter whose C{select} module has no C{epoll}:
        a child process deletes it before importing epollreactor, then runs
        a socket pair through the selector.
        """
        script = textwrap.dedent(
            """
            import select, selectors, socket
            if hasattr(select, "epoll"):  # not already gone (make test-noepoll)
                del select.epoll
            import epollreactor
            rd, wr = socket.socketpair()
            with epollreactor.EpollSelector() as s:
                key = s.register(rd, selectors.EVENT_READ)
                wr.send(b"x")
                assert s.select(5) == [(key, selectors.EVENT_READ)]
            print("ok")
            """
        )
        output = subprocess.run(
            [sys.executable, "-c", script],
            check=True,
            stdout=subprocess.PIPE,
            timeout=60,
        ).stdout
        self.assertEqual(output, b"ok\n")
