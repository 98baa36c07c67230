"""
L{WholeSegmentWriter}: how L{EPollReactor<epollreactor.EPollReactor>} has a
TCP connection's C{doWrite} cut a burst of output, so that the burst leaves
with at most one short segment, at its end.

The tail-segment wait
=====================

TCP cuts what one C{send()} hands it into segments of the connection's
maximum segment size (MSS, C{TCP_MAXSEG} in tcp(7)) and, unless the length
is a multiple of it, one short segment at the end.  Linux's Nagle algorithm
(RFC 896 in Minshall's form, C{tcp_nagle_check} and C{tcp_minshall_check}
in C{net/ipv4/tcp_output.c}) holds a short segment back while an earlier
short segment is not yet acknowledged.  The receiver acknowledges at once
when it has more than a full segment unacknowledged and reads it, but a
short segment that arrives after that ACK waits for the delayed-ACK timer
(40 ms at least on Linux, C{TCP_DELACK_MIN}).  So a burst sent as two
C{send()} calls that each end short can stall: the first short segment
arrives after the ACK of the full segments before it, and the second,
often the burst's last bytes, waits for the timer (bench/README.md
has the loopback capture).

Twisted's C{FileDescriptor.doWrite} sends C{min(buffered, SEND_LIMIT)}
bytes per call, so where the short segments come from is (a) every call
that sends C{SEND_LIMIT} bytes, which no MSS divides, and (b) every call
that empties the buffer while the protocol is still writing the burst
(an echo of a message that arrives in several reads, a proxy forwarding a
response that arrives in several reads).

What this means for us
======================

Around the C{doWrite} of a TCP connection with at least
L{SMALLEST_SEGMENT} bytes to send, the transport's C{SEND_LIMIT} is set,
for that one call, to a whole number of segments (the MSS the kernel
reports then):

 - never more than Twisted's C{SEND_LIMIT} rounded down to whole segments,
   which removes (a);
 - while the protocol is still writing the burst, only whole segments: the
   short tail, or a buffer shorter than a segment, waits for the next call,
   which the reactor makes at the next EPOLLOUT, in the next iteration.
   "Still writing" means, on a burst's first call, that the peer's input
   is waiting to be read (C{FIONREAD}, tcp(7)), so the protocol has more to
   answer; on a later call, that the call comes right after a C{doRead} of
   the same connection and the protocol wrote at least L{SMALLEST_SEGMENT}
   bytes since the call before.  The first call after which less came
   sends everything, which removes (b).

A tail is held only for the burst it belongs to, and never longer than
L{HOLD_LIMIT}:

 - output that no input drives (a timer's, another connection's) ends the
   burst at the next call, so a trickle of small writes after a large one
   goes out a write at a time, as Twisted sends it;
 - a tail is held at most L{HOLD_LIMIT} seconds after the last call that
   sent something, however long input keeps coming, since a segment
   (65,483 bytes on loopback and jumbo-frame links) can take long to fill
   with small writes; a burst whose every call sends whole segments is
   never cut short by it, however slowly the loop turns;
 - a connection whose application set C{TCP_NODELAY} (tcp(7)) asked for
   every write to leave at once, and Nagle no longer holds anything on it:
   it is written as Twisted writes it;
 - a held tail never waits on a ready EPOLLOUT: the next iteration's call
   either comes after more input or sends it.

A burst's first call that one C{send()} takes whole while no input waits
(a request's response), a first call shorter than a segment, and a
connection whose producer is paused or is a pull producer (Twisted resumes
those only once the buffer is empty) are written as Twisted writes them.

Why this cannot bring the wait back: every C{send()} of a burst but its last
asks for whole segments, so the burst has one short segment, its last.  No
earlier short segment of the same burst is there for Nagle to hold it
behind, and the one that ended the burst before was followed by this
burst's full segments, whose ACK covers it.  Nor can it add a wait of its
own: the bytes held are fewer than a segment, held only while the protocol
goes on writing in answer to input, and at most L{HOLD_LIMIT}.
C{tests/test_segments.py} pins the shape in C{send()} calls.

What it leaves to TCP: the kernel makes short segments of its own when the
receiver's window is smaller than what is queued (C{tcp_write_xmit} cuts
at the window's edge) or when the send buffer takes part of a call, and
Nagle counts those too, so the rest can still wait for the receiver's
delayed ACK; a burst whose input pauses half-way (a slow sender), or whose
small writes take longer than L{HOLD_LIMIT} to fill a segment, ends with
its own short segment; and two writes shorter than a segment made moments apart are
Nagle's to hold.  All three happen on Twisted's reactor alike; only
C{TCP_NODELAY}, the application's choice, changes them.
"""

from array import array
from fcntl import ioctl
from socket import IPPROTO_TCP, TCP_MAXSEG, TCP_NODELAY
from termios import FIONREAD
from time import monotonic
from typing import Any, Dict, Optional, Tuple
from weakref import WeakKeyDictionary

from twisted.internet import tcp, unix

__all__ = ["WholeSegmentWriter"]

#: RFC 1122's smallest MSS a host must accept (536 bytes, also Linux's
#: default): a buffer shorter than this is never more than one segment, and
#: is written without asking the kernel for the connection's MSS.
SMALLEST_SEGMENT = 536

#: The longest, in seconds, that a byte of a burst's tail is held back
#: waiting for the rest of the burst: well under the 40 ms of a delayed ACK
#: that holding it saves, and a small part of a request's round trip.
HOLD_LIMIT = 0.001

#: Twisted's Unix socket connections, which are TCP connections by class.
_UNIX = (unix.Server, unix.Client)
_ABSENT = object()


def _buffered(transport: Any) -> int:
    """
    @return: how many bytes C{transport}, a Twisted C{FileDescriptor}, has
        yet to send.
    """
    return int(len(transport.dataBuffer) - transport.offset + transport._tempDataLen)


#: Where C{FIONREAD} writes its answer; the reactor's thread is its only
#: user.
_answer = array("i", [0])


def _unread(sock: Any) -> int:
    """
    @return: how many bytes of input C{sock} holds unread (C{FIONREAD},
        tcp(7)); 0 when it cannot tell, and C{doWrite} will find out why.
    """
    try:
        ioctl(sock.fileno(), FIONREAD, _answer, True)
    except OSError:
        return 0
    return _answer[0]


class WholeSegmentWriter:
    """
    Calls C{doWrite} on a selectable, and on a TCP connection has it send
    whole segments as the module's docstring says.

    @ivar _isTCP: by selectable type, whether its instances are Twisted TCP
        connections over IP (not Unix sockets, which share the class).
    @ivar _tails: by connection whose last C{doWrite} we cut, how many
        bytes it left unsent and since when (L{monotonic}) the oldest of
        them has waited; an entry lasts until the next C{doWrite}, or the
        connection.
    """

    def __init__(self) -> None:
        self._isTCP: Dict[type, bool] = {}
        self._tails: WeakKeyDictionary[Any, Tuple[int, float]] = WeakKeyDictionary()

    def doWrite(self, selectable: Any, afterRead: int = 0) -> Optional[BaseException]:
        """
        Call C{selectable.doWrite()}; for a TCP connection, with its
        C{SEND_LIMIT} set for that call as the module's docstring says.

        @param afterRead: true when this call follows a C{doRead} of the
            same selectable in the same event: only then can a burst that
            was cut still be arriving.
        @return: what C{doWrite} returned.
        """
        kind = selectable.__class__
        isTCP = self._isTCP.get(kind)
        if isTCP is None:
            isTCP = self._isTCP[kind] = isinstance(
                selectable, tcp.Connection
            ) and not isinstance(selectable, _UNIX)
        if not isTCP:
            why: Optional[BaseException] = selectable.doWrite()
            return why
        buffered = _buffered(selectable)
        tails = self._tails
        previous = tails.pop(selectable, None) if tails else None
        if buffered < SMALLEST_SEGMENT:
            why = selectable.doWrite()
            return why
        sendLimit = self._wholeSegments(selectable, buffered, previous, afterRead)
        if sendLimit is None:
            why = selectable.doWrite()
            return why
        if sendLimit:
            own = selectable.__dict__.get("SEND_LIMIT", _ABSENT)
            selectable.SEND_LIMIT = sendLimit
            try:
                why = selectable.doWrite()
            finally:
                if own is _ABSENT:
                    del selectable.SEND_LIMIT
                else:
                    selectable.SEND_LIMIT = own
            # What is held now was written after the oldest byte held
            # before, which this call sent.
            since = monotonic()
        else:
            # Less than a segment, and the protocol is still writing.
            why = None
            since = previous[1] if previous is not None else monotonic()
        # A burst we cut goes on: the next call compares with what is left.
        left = _buffered(selectable)
        if left:
            tails[selectable] = (left, since)
        return why

    def _wholeSegments(
        self,
        connection: Any,
        buffered: int,
        previous: Optional[Tuple[int, float]],
        afterRead: int,
    ) -> Optional[int]:
        """
        @param connection: a Twisted TCP connection.
        @param buffered: how many bytes it has to send, at least
            L{SMALLEST_SEGMENT}.
        @param previous: how many its previous C{doWrite} left unsent, and
            since when the oldest of them waits, if that was its last one:
            the burst it belongs to may still be arriving.
        @param afterRead: whether a C{doRead} of the connection came just
            before.

        @return: the C{SEND_LIMIT} for its next C{doWrite} (0: no call this
            time), or C{None} for its own.
        """
        sock = connection.socket
        limit: int = connection.SEND_LIMIT
        # Twisted resumes a paused producer, and asks a pull producer for
        # more, only once the buffer is empty: a held tail would keep the
        # burst from going on.
        waitsForEmpty = connection.producer is not None and (
            connection.producerPaused or not connection.streamingProducer
        )
        if previous is None:
            if buffered <= limit and (waitsForEmpty or not _unread(sock)):
                # One call takes it all, and no more input is arriving to
                # add to it (a request's whole response, say), or none can
                # come before it is gone.
                return None
            writing = not waitsForEmpty
        else:
            writing = (
                bool(afterRead)
                and not waitsForEmpty
                and buffered - previous[0] >= SMALLEST_SEGMENT
            )
        try:
            if sock.getsockopt(IPPROTO_TCP, TCP_NODELAY):
                # Nagle holds nothing here: a short segment costs no wait.
                return None
            segment: int = sock.getsockopt(IPPROTO_TCP, TCP_MAXSEG)
        except OSError:
            return None
        if segment <= 0 or limit < segment:
            return None
        whole = limit - limit % segment
        if buffered > whole:
            return whole
        if not writing:
            # Nothing more since the last call: the burst ends here.
            return None
        tail = buffered % segment
        if not tail or (previous is None and buffered < segment):
            # Whole segments already; or a reply shorter than a segment,
            # which is not held back for input still to come.
            return None
        if (
            previous is not None
            and tail == buffered
            and monotonic() - previous[1] >= HOLD_LIMIT
        ):
            # Held for long enough without a segment's worth coming.
            return None
        return buffered - tail
