"""
L{WritePolicy}: how L{EPollReactor<epollreactor.EPollReactor>} has its
selectables write, decided apart from the loop that waits and dispatches,
which calls it at three points: before the next wait it hands over the
write attempts it owes, after that wait's events were dispatched it makes
them, and right after a C{doRead} that wrote it may make one at once.

Write attempts
==============

A protocol that writes to a connection registered for reading does not get
EPOLLOUT at once: the connection gets one C{doWrite} after the events of
the next C{epoll_wait(2)} were dispatched, its own C{doRead} included, and
only what could not be written then waits for EPOLLOUT.  That saves the two
C{epoll_ctl(2)} calls per message of Twisted's reactor (Twisted issue
5303) without sending earlier than it would (but for "The same turn",
below): Twisted calls C{doWrite} only after a wait that reported EPOLLOUT,
and in the same event calls C{doRead} first, so a reply goes out with all
the input that had arrived by then, and so does ours.  A write is never
sent before the kernel was asked whether more input for the same reply is
there, but on a connection with C{TCP_NODELAY} (below);
C{tests/test_earlywrite.py} pins that in system calls.

The same turn
=============

Request/response traffic would then turn the loop twice per message: the
wait that reports the request, and the C{epoll_wait(0)} after which the
reply goes out.  The kernel can be asked the wait's question directly, so a
TCP connection whose C{doRead} wrote is written in the iteration that read
(L{WritePolicy.sameTurn}; a short reply once its wait's other events have
been handled, below), when all of these hold:

 - nothing more is waiting to be read on it (C{FIONREAD}, tcp(7)): a
   request not yet all read may add to the reply.  Not asked for a reply
   of more than L{SMALLEST_SEGMENT} bytes on a connection whose
   application set C{TCP_NODELAY}: it asked for every write to leave at
   once, and with Nagle off no part of a reply sent early waits for an
   acknowledgement, so the question, which almost always answers no,
   would cost a system call per message to save a C{send()} now and
   then;
 - one C{send()} takes the reply whole (at most C{SEND_LIMIT});
 - no tail of an earlier burst is held on it;
 - a reply of more than one segment (the MSS the kernel reports then), on
   a connection without C{TCP_NODELAY}, was begun by this read: one that
   an earlier read began answers a request arriving in pieces, and is
   left to the whole-segment rule (below), after the wait's other events,
   which in a client and server of one process write the request's rest.

Anything else stays owed, as above.  Why a burst is not sent in pieces:
the reply goes out in one C{send()}, and only once the kernel said that
no more of its request waits.  A request of several segments can still
be read before its last one arrives; the answer to that rest then ends in
a second short segment, which Nagle's algorithm holds behind the first
until the peer's delayed ACK (below).  So a reply of more than one
segment that goes out in the turn that read is followed by the question
whether the kernel holds its tail, which is pushed if so
(L{epollreactor._tails}), as the end of any burst is: one C{ioctl} per
such reply, none on a connection with C{TCP_NODELAY}, where Nagle holds
nothing.  A reply of one segment is that segment alone, with nothing
before it for Nagle to wait on in request/response traffic.

Short replies (at most L{BATCHED_REPLY} bytes) to one wait's requests
leave together, after its last read, not each right after its own: a peer
that serves many connections (wrk, a client pool) then wakes once for
several replies, where a reply sent while it sleeps in its own wait costs
its wake-up in the sending C{send()} (twisted.web under wrk on 32
connections spent a third more CPU a request on replies sent one by one;
bench/README.md); a batch that takes longer than L{REPLY_HOLD} sends what
it has answered so far.  Longer replies still leave right after their
read: held for the rest of the batch, several large buffers live at once,
and the heap grows and is given back each turn.  With one connection ready the two are the same.

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

Whole segments
==============

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
C{tests/test_writing.py} pins the shape in C{send()} calls.

What it leaves to TCP: the kernel makes short segments of its own when the
receiver's window is smaller than what is queued (C{tcp_write_xmit} cuts
at the window's edge) or when the send buffer takes part of a call, and
Nagle counts those too, so the rest can still wait for the receiver's
delayed ACK; a burst whose input pauses half-way (a slow sender), or whose
small writes take longer than L{HOLD_LIMIT} to fill a segment, ends with
its own short segment; and two writes shorter than a segment made moments apart are
Nagle's to hold.  All three happen on Twisted's reactor alike; only
C{TCP_NODELAY}, the application's choice, changes them, but for one: the
tail of a burst that the kernel holds when its C{doWrite} ends the burst
is pushed out then (L{epollreactor._tails}).

What the rule reads
===================

Each decision may ask the kernel, in a system call apiece, whether input
waits on the connection (C{FIONREAD}), its MSS (C{TCP_MAXSEG}) and whether
C{TCP_NODELAY} is set (tcp(7)); request/response traffic takes a decision
per message, so they are asked sparingly:

 - The MSS and C{TCP_NODELAY} are read together and serve the
   connection's next L{REREAD} decisions, then are read again; only the
   next decision while the MSS is still changing, as it does early in a
   connection, when the kernel bounds it by half the largest window the
   peer has offered (C{tcp_bound_to_half_wnd}) and that window opens.
   Later the MSS changes only when path MTU discovery lowers it (or raises
   it again when that expires), C{TCP_NODELAY} only when the application
   sets it, with C{setTcpNoDelay} or on the socket itself; neither can be
   observed (a C{socket.socket} takes no attribute, and the transport is
   the application's, with none of ours on it), so a change is honoured by
   the L{REREAD}th decision after it at the latest.  Until then a stale
   answer costs at most what the rule saves, never a byte or a wait of its
   own: a tail held up to L{HOLD_LIMIT} on a connection that has just set
   C{TCP_NODELAY}, a call sent whole as Twisted sends it, or a reply left
   for the next wait.  The MSS a call is cut to is taken from the cache
   only once the kernel has shown it can no longer grow: a cut of stale
   segments would leave the short segment in the middle of the burst that
   cutting exists to avoid.  Equal readings cannot tell that the MSS has
   stopped growing: it has stayed the same for eight and then grown again
   (bench/README.md, "An MSS cached for cuts, withdrawn").  The peer's
   window can: once C{TCP_INFO} (tcp(7), C{struct tcp_info} in
   C{linux/tcp.h}) has reported a send window of
   more than twice the MSS it reports, half the largest window is more
   than that MSS, so C{tcp_bound_to_half_wnd} is not what bounds it and no
   wider window can make it grow: it stands while the path MTU does (MTU
   probing, off unless the C{tcp_mtu_probing} sysctl turns it on, may
   raise it too).  Cuts take it from the record until the next reading of
   the options, which may find path MTU discovery has changed it since;
   until a window proves it (on loopback, where the MSS is 65,483 bytes,
   only a peer whose receive window has opened past 128 KiB does; and
   never on a kernel older than 5.4, whose C{TCP_INFO} has no window),
   each cut reads the MSS.
 - C{FIONREAD} is asked only where its answer can change the decision,
   after the checks that need none: a reply that one C{send()} cannot take
   is never sent in the turn that read, a burst's first call of less than
   a segment is sent whole whatever input waits, and on a connection with
   C{TCP_NODELAY} nothing is held and a reply's rest is not waited for
   ("The same turn").  Nor is it asked by the write attempts
   owed after a wait that reported no event: that wait said, a moment
   before and with nothing dispatched since, that no input waited on any
   connection (EPOLLIN is reported while the receive queue holds a byte,
   tcp(7)), as the batch's short replies learn it from one wait
   (L{epollreactor._dispatch}).  A write made outside any read (a
   timer's, a deferred's) makes that wait.  After a wait that reported
   events, the time their dispatch took could have brought input, and
   C{FIONREAD} asks.  It is not spared after a read that drained the
   socket (a C{recv} that got less than it asked for), which would answer
   the same question: how much C{doRead} got is Twisted's transport's to
   know, and nothing it keeps tells us.
"""

from array import array
from fcntl import ioctl
from socket import IPPROTO_TCP, TCP_INFO, TCP_MAXSEG, TCP_NODELAY
from struct import Struct
from termios import FIONREAD
from time import monotonic
from typing import Any, Callable, Dict, List, Optional, Set

from twisted.internet import abstract, tcp, unix

from epollreactor._libc import EPOLLOUT
from epollreactor._registrations import Registration
from epollreactor._tails import pushHeldTail

__all__ = ["WritePolicy"]

#: RFC 1122's smallest MSS a host must accept (536 bytes, also Linux's
#: default): a buffer shorter than this is never more than one segment, and
#: is written without asking the kernel for the connection's MSS.
SMALLEST_SEGMENT = 536

#: The longest reply, in bytes, that leaves with the others of its wait
#: rather than right after its own read ("The same turn"): below it a
#: peer's wake-up costs more than the reply, above it a reply held for the
#: rest of the batch keeps larger buffers alive at once (the heap grows and
#: is given back, bench/README.md).
BATCHED_REPLY = 4096

#: The longest, in seconds, that a short reply waits for the rest of its
#: wait's batch: a batch of slow handlers (a request costing a millisecond
#: of CPU, a hundred connections ready) sends what it has answered so far,
#: so that batching saves the peer's wake-ups without holding a reply for
#: the whole batch, as Twisted's reactor does.
REPLY_HOLD = 0.0005

#: The longest, in seconds, that a byte of a burst's tail is held back
#: waiting for the rest of the burst: well under the 40 ms of a delayed ACK
#: that holding it saves, and a small part of a request's round trip.
HOLD_LIMIT = 0.001

#: How many of a connection's write decisions one reading of its MSS and
#: C{TCP_NODELAY} serves (the module's docstring, "What the rule reads").
REREAD = 32

#: The fields of C{struct tcp_info} (C{linux/tcp.h}) that tell whether an
#: MSS stands: C{tcpi_snd_mss} (what C{TCP_MAXSEG} reports) at byte 16 and
#: C{tcpi_snd_wnd} (Linux 5.4) at 228, in host order.  The kernel copies
#: no more than it has, so an older one answers short.
_TCP_INFO = Struct("=16xI208xI")

#: Whether this kernel's C{TCP_INFO} reports the send window; false once
#: one answer came short (before Linux 5.4, or under qemu-user, which
#: copies one int), and from then on cuts read C{TCP_MAXSEG} alone.
_windowReported = True

#: Twisted's Unix socket connections, which are TCP connections by class.
_UNIX = (unix.Server, unix.Client)

#: The parts of Twisted's C{FileDescriptor} the whole-segment rule reads,
#: private but for C{SEND_LIMIT}: a transport that lacks one (another
#: Twisted release) is written as Twisted writes it.
_TRANSPORT_FIELDS = ("dataBuffer", "offset", "_tempDataLen", "SEND_LIMIT")

#: The write attempts of an iteration that has none; never appended to.
_NOTHING_OWED: List[Registration] = []

#: C{dispatch(record, event)}, as the reactor's dispatcher builds it.
Dispatch = Callable[[Registration, int], None]


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


def _waitsForEmpty(connection: Any) -> bool:
    """
    @return: whether C{connection}'s producer writes again only once its
        buffer is empty: Twisted resumes a paused producer, and asks a pull
        producer for more, only then, so a tail held back would keep the
        burst from going on.
    """
    return connection.producer is not None and bool(
        connection.producerPaused or not connection.streamingProducer
    )


def _readOptions(record: Registration, sock: Any) -> bool:
    """
    Read what the whole-segment rule asks of C{sock}, the socket of
    C{record}'s connection, into C{record}: its MSS and whether
    C{TCP_NODELAY} is set (tcp(7)).  They serve the next L{REREAD}
    decisions; only the next one if the MSS was not what it was last time,
    since early in a connection it grows with the peer's window.

    @return: whether the socket answered; when it did not, the connection
        is written as Twisted writes it, and C{doWrite} will find out why.
    """
    try:
        noDelay = sock.getsockopt(IPPROTO_TCP, TCP_NODELAY)
        segment = sock.getsockopt(IPPROTO_TCP, TCP_MAXSEG)
    except OSError:
        return False
    record.noDelay = bool(noDelay)
    record.fresh = REREAD - 1 if segment == record.segment else 0
    record.segment = segment
    # Path MTU discovery may have moved the MSS since a window proved it.
    record.settled = False
    return True


def _segment(record: Registration, sock: Any) -> int:
    """
    @return: the MSS of C{sock}, the socket of C{record}'s connection, as
        the kernel reports it now (0 when it cannot tell), kept in
        C{record} for the decisions that follow; or as it reported it
        before, while that stands (the module's docstring, "What the rule
        reads").
    """
    global _windowReported
    if record.settled:
        return record.segment
    segment: int
    try:
        if _windowReported:
            info = sock.getsockopt(IPPROTO_TCP, TCP_INFO, _TCP_INFO.size)
            if len(info) == _TCP_INFO.size:
                segment, window = _TCP_INFO.unpack(info)
                # The peer's largest window is at least the widest seen;
                # the window now shrinks whenever the peer falls behind.
                if window > record.widest:
                    record.widest = window
                record.settled = 0 < segment < record.widest >> 1
            else:
                _windowReported = False
        if not _windowReported:
            segment = sock.getsockopt(IPPROTO_TCP, TCP_MAXSEG)
    except OSError:
        return 0
    if segment != record.segment:
        record.segment = segment
        record.fresh = 0
    return segment


class WritePolicy:
    """
    The write attempts owed, and the whole-segment rule, as the module's
    docstring says.

    @ivar _isTCP: by selectable type, whether its instances are Twisted TCP
        connections over IP (not Unix sockets, which share the class) with
        the fields the rule reads.
    """

    def __init__(self) -> None:
        self._isTCP: Dict[type, bool] = {}

    # Write attempts.

    def owe(self, record: Registration) -> None:
        """
        C{record}'s owner started writing while the kernel does not watch it
        for EPOLLOUT: if it is a C{FileDescriptor} (whose C{doWrite} may be
        called when nothing can be written), owe it a C{doWrite} after the
        next wait.  A write interest added is a change, so the record is
        among the reactor's changed records, where L{takeOwed} finds it.
        """
        if isinstance(record.owner, abstract.FileDescriptor):
            record.owedWrite = True

    def takeOwed(self, changed: Set[Registration]) -> List[Registration]:
        """
        Before the next wait: the records among C{changed} owed a write
        attempt, for L{attempt} to make after it, which must therefore not
        sleep.
        """
        if not changed:
            return _NOTHING_OWED
        return [record for record in changed if record.owedWrite]

    def attempt(
        self,
        due: List[Registration],
        dispatch: Dispatch,
        changed: Set[Registration],
        quiet: bool = False,
    ) -> None:
        """
        After the wait's events were dispatched: give each owner in C{due}
        still writing, and still without EPOLLOUT, its C{doWrite}, at the
        point where Twisted's reactor would call it for EPOLLOUT.  What it
        cannot write waits for EPOLLOUT, which the next
        L{Registrations.apply<epollreactor._registrations.Registrations.apply>}
        asks for.

        @param quiet: whether the wait reported no event at all: then no
            input waited on any of them a moment ago (tcp(7): EPOLLIN while
            the receive queue holds a byte), as C{FIONREAD} would say, and
            nothing was dispatched since; their records are C{quiet} for
            the attempt.
        """
        for record in due:
            record.owedWrite = False
            if record.writing and record.owner is not None:
                if not record.mask & EPOLLOUT:
                    record.quiet = quiet
                    try:
                        dispatch(record, EPOLLOUT)
                    finally:
                        record.quiet = False
                if record.writing and record.owner is not None:
                    changed.add(record)

    def replyLater(self, record: Registration) -> bool:
        """
        Right after a C{doRead} of C{record}'s owner that wrote: whether
        L{sameTurn} is to be asked once every event of the wait has been
        handled, with the other short replies of that wait, rather than
        now: for a Twisted TCP connection with at most L{BATCHED_REPLY}
        bytes to send.
        """
        connection = record.owner
        if connection is None:
            return False
        isTCP = self._isTCP.get(connection.__class__)
        if isTCP is None:
            isTCP = self._classify(connection)
        # How many bytes the transport has yet to send.  The sum is written
        # out wherever it is needed, here and below: it runs for every
        # reply, and a call costs more than the sum (bench/README.md, "The
        # write path's helpers written out").
        return isTCP and (
            len(connection.dataBuffer) - connection.offset + connection._tempDataLen
            <= BATCHED_REPLY
        )

    def sameTurn(
        self, record: Registration, asked: bool = False, continued: bool = False
    ) -> Optional[BaseException]:
        """
        After a C{doRead} of C{record}'s owner that wrote, while the kernel
        does not watch it for EPOLLOUT (at once, or once every event of the
        wait has been handled, as L{replyLater} says): make the write
        attempt owed now, in the iteration that read, when what the owner wrote is a
        whole reply that one C{send()} takes, as the module's docstring
        says ("The same turn"); else leave it owed.

        @param asked: whether the kernel said, since the read, that no
            input waits on the connection, which then is not asked again.
        @param continued: whether the owner owed a write attempt already
            before that read: the reply was begun by an earlier one.
        @return: what C{doWrite} returned, or C{None} when it was not
            called.
        """
        connection = record.owner
        if not record.writing or record.tail >= 0 or connection is None:
            return None
        isTCP = self._isTCP.get(connection.__class__)
        if isTCP is None:
            isTCP = self._classify(connection)
        if not isTCP:
            return None
        buffered: int = (
            len(connection.dataBuffer) - connection.offset + connection._tempDataLen
        )
        if buffered > connection.SEND_LIMIT:
            return None
        sock = connection.socket
        several = noDelay = False
        if buffered > SMALLEST_SEGMENT:
            if record.fresh:
                record.fresh -= 1
            elif not _readOptions(record, sock):
                return None
            noDelay = record.noDelay
            # Nagle may hold the end of a reply of several segments.
            several = buffered > record.segment and not noDelay
            if several and continued:
                # A request in pieces: the whole-segment rule's, after the
                # wait's other events.
                return None
        if not (asked or noDelay) and _unread(sock):
            # The input that drives the reply goes on: after the next wait.
            return None
        record.owedWrite = False
        why: Optional[BaseException] = connection.doWrite()
        if several and not why:
            # The burst may end here; if its tail is held, it is pushed.
            pushHeldTail(connection, buffered, False)
        return why

    # Whole segments.

    def _classify(self, selectable: Any) -> bool:
        """
        @return: whether C{selectable}, whose type L{_isTCP} does not know
            yet, is a Twisted TCP connection over IP with the fields the
            whole-segment rule reads; its type is then known.
        """
        isTCP = self._isTCP[selectable.__class__] = (
            isinstance(selectable, tcp.Connection)
            and not isinstance(selectable, _UNIX)
            and all(hasattr(selectable, name) for name in _TRANSPORT_FIELDS)
        )
        return isTCP

    def doWrite(
        self, record: Registration, afterRead: int = 0
    ) -> Optional[BaseException]:
        """
        Call C{doWrite} on C{record}'s owner; for a TCP connection, with its
        C{SEND_LIMIT} set for that call as the module's docstring says.

        @param afterRead: true when this call follows a C{doRead} of the
            same selectable in the same event: only then can a burst that
            was cut still be arriving.
        @return: what C{doWrite} returned.
        """
        selectable = record.owner
        isTCP = self._isTCP.get(selectable.__class__)
        if isTCP is None:
            isTCP = self._classify(selectable)
        if not isTCP:
            why: Optional[BaseException] = selectable.doWrite()
            return why
        buffered: int = (
            len(selectable.dataBuffer) - selectable.offset + selectable._tempDataLen
        )
        previous = record.tail
        record.tail = -1
        if buffered < SMALLEST_SEGMENT:
            why = selectable.doWrite()
            if previous >= 0 and not why:
                pushHeldTail(selectable, buffered, True)
            return why
        sendLimit = self._wholeSegments(record, buffered, previous, afterRead)
        if sendLimit is None:
            why = selectable.doWrite()
            if not why and not record.noDelay:
                pushHeldTail(selectable, buffered, previous >= 0)
            return why
        if sendLimit:
            # Whether the application set its own is told by the value, not
            # by reading the transport's __dict__: on CPython 3.11 and later
            # that read gives up the object's inline attribute values, and
            # every attribute access of Twisted's on the connection is about
            # twice as slow from then on (bench/README.md, "A transport's
            # __dict__ read").  An own value equal to the class's is dropped,
            # which changes nothing a send sees.
            own = selectable.SEND_LIMIT
            selectable.SEND_LIMIT = sendLimit
            try:
                why = selectable.doWrite()
            finally:
                if own == getattr(selectable.__class__, "SEND_LIMIT", None):
                    del selectable.SEND_LIMIT
                else:
                    selectable.SEND_LIMIT = own
            # What is held now was written after the oldest byte held
            # before, which this call sent.
            record.heldSince = monotonic()
        else:
            # Less than a segment, and the protocol is still writing.
            why = None
            if previous < 0:
                record.heldSince = monotonic()
        # A burst we cut goes on: the next call compares with what is left.
        left = len(selectable.dataBuffer) - selectable.offset + selectable._tempDataLen
        if left:
            record.tail = left
        return why

    def _wholeSegments(
        self, record: Registration, buffered: int, previous: int, afterRead: int
    ) -> Optional[int]:
        """
        @param record: a Twisted TCP connection's registration.
        @param buffered: how many bytes it has to send, at least
            L{SMALLEST_SEGMENT}.
        @param previous: how many its previous C{doWrite} left unsent, if
            that was its last one and was cut (the burst it belongs to may
            still be arriving), else -1.
        @param afterRead: whether a C{doRead} of the connection came just
            before.
        @return: the C{SEND_LIMIT} for its next C{doWrite} (0: no call this
            time), or C{None} for its own.
        """
        connection = record.owner
        sock = connection.socket
        if record.fresh:
            record.fresh -= 1
        elif not _readOptions(record, sock):
            return None
        if record.noDelay:
            # Nagle holds nothing here: a short segment costs no wait.
            return None
        limit: int = connection.SEND_LIMIT
        waitsForEmpty = _waitsForEmpty(connection)
        if previous < 0:
            if buffered < record.segment:
                # A reply shorter than a segment is not held back for input
                # still to come.
                return None
            if buffered <= limit and (
                waitsForEmpty or record.quiet or not _unread(sock)
            ):
                # One call takes it all, and no more input is arriving to add
                # to it (a request's whole response), or none can come first.
                return None
            writing = not waitsForEmpty
        else:
            more = buffered - previous >= SMALLEST_SEGMENT
            writing = bool(afterRead) and more and not waitsForEmpty
        # A cut is whole segments of the MSS now, not as last read: it grows
        # while the peer's window opens (tcp_bound_to_half_wnd).
        segment = _segment(record, sock)
        if segment <= 0 or limit < segment:
            return None
        whole = limit - limit % segment
        if buffered > whole:
            return whole
        if not writing:
            # Nothing more since the last call: the burst ends here.
            return None
        tail = buffered % segment
        if not tail or (previous < 0 and buffered < segment):
            # Whole segments already; or a reply shorter than a segment,
            # which is not held back for input still to come.
            return None
        if tail == buffered and previous >= 0:
            if monotonic() - record.heldSince >= HOLD_LIMIT:
                # Held long enough without a segment's worth coming.
                return None
        return buffered - tail
