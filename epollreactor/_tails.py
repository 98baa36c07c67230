"""
L{pushHeldTail}: when a TCP connection's burst has ended with the tail of
its last write held back by the kernel, have the kernel send it now instead
of after the peer's delayed acknowledgement.

Facts about Linux's TCP
=======================

 1. One C{send()} is queued as buffers of at most the connection's current
    MSS, which is bounded by half the largest window the peer has advertised
    (C{tcp_bound_to_half_wnd} in C{net/ipv4/tcp_output.c}); as the window
    grows, earlier buffers come out shorter than the MSS of the moment.
    So a long write can be queued as several short buffers.
 2. Nagle's algorithm, in Minshall's form (C{tcp_nagle_check},
    C{tcp_minshall_check}), holds back the I{last} buffer of the queue when
    it is shorter than the MSS while a short segment sent earlier is not
    yet acknowledged.
 3. The receiver may delay its acknowledgement of a short segment by 40 ms
    at least (C{TCP_DELACK_MIN}).  Together with 1 and 2: a single
    C{send()} of a 100 KiB response can go out in part, its tail held for
    40 ms (bench/README.md, "The proxy's 40 ms waits").  No choice of sizes
    in user space avoids it, since the cut happens inside one call;
    C{MSG_MORE} and C{TCP_CORK} (tcp(7)) only hold more.
 4. C{ioctl(SIOCOUTQNSD)} answers how many bytes are queued on the socket
    and not yet sent (C{write_seq - snd_nxt} in C{tcp_ioctl};
    C{linux/sockios.h}); C{SIOCOUTQ} counts the unacknowledged ones too.
 5. Setting C{TCP_NODELAY} "forces an explicit flush of pending output"
    (tcp(7)): C{__tcp_sock_set_nodelay} marks the connection
    C{TCP_NAGLE_PUSH} and calls C{tcp_push_pending_frames}.  Clearing it
    again leaves that mark, which the next buffer queued clears
    (C{tcp_skb_entail}): the tail leaves now, or once the window lets it
    if the window is what holds it, and later writes are Nagle's again.

What this means for us
======================

After a C{doWrite} of a TCP connection that emptied the transport's buffer
(the burst ended), having handed the kernel more than L{SMALLEST_SEGMENT}
bytes or the last bytes of a burst that earlier calls sent in whole
segments, the reactor asks C{SIOCOUTQNSD}.  When the kernel holds some of
those bytes, and part of the burst went out while its tail is held (fewer
held than that call wrote, or an earlier call of the burst: the kernel's
own cut, fact 1) or the write was longer than any segment, and the
application has not set C{TCP_NODELAY} itself, the reactor sets
C{TCP_NODELAY} and clears it again (fact 5).

 - A write shorter than a segment held whole behind an earlier one is
   Nagle's coalescing of small writes, which the application asked for by
   not setting C{TCP_NODELAY}: left alone.  So is a write of at most
   L{SMALLEST_SEGMENT} bytes, which asks nothing.
 - A connection whose application set C{TCP_NODELAY} is never touched:
   Nagle holds nothing there, and what is queued waits for the window.
 - Leaving C{TCP_NODELAY} set instead would send every iteration's writes
   at once as their own packets, where Twisted coalesces them while a
   segment is unacknowledged: the application's choice, not the reactor's.
 - The cost: one C{ioctl} at the end of a burst of more than
   L{SMALLEST_SEGMENT} bytes written through EPOLLOUT, and three
   C{setsockopt}/C{getsockopt} calls more only when a tail is held.  A
   reply written in the turn that read its request
   (L{WritePolicy.sameTurn<epollreactor._writing.WritePolicy.sameTurn>})
   is at most one segment, which the kernel does not cut, and asks
   nothing.

A failing call means the connection is failing, which its next C{doRead}
or C{doWrite} reports; the push is then left undone.
"""

from array import array
from fcntl import ioctl
from socket import IPPROTO_TCP, TCP_NODELAY
from typing import Any

__all__ = ["pushHeldTail"]

#: C{SIOCOUTQNSD} from C{include/uapi/linux/sockios.h}: bytes queued on a
#: socket and not yet sent; one value on every Linux architecture.
SIOCOUTQNSD = 0x894B

#: RFC 1122's smallest MSS (as in L{epollreactor._writing}): a write no
#: longer than this is never cut in two by the kernel.
SMALLEST_SEGMENT = 536

#: The largest MSS over IPv4 or IPv6 (as in L{epollreactor._writing}): a
#: write longer than this is more than one segment on any connection.
LARGEST_SEGMENT = 65_495

#: Where C{SIOCOUTQNSD} writes its answer; the reactor's thread is its only
#: user.
_answer = array("i", [0])


def pushHeldTail(transport: Any, written: int, continued: bool) -> bool:
    """
    Right after C{transport.doWrite()}, which found C{written} bytes to send
    and did not fail: if that ended the burst and the kernel holds the tail
    of what it was given, push the tail out, as the module's docstring says.

    @param transport: a Twisted TCP connection over IP.
    @param written: the bytes its buffer held before that C{doWrite}.
    @param continued: whether that C{doWrite} went on with a burst that an
        earlier one cut (L{epollreactor._writing}, "Whole segments"), which
        sent whole segments before it.
    @return: whether the tail was pushed.
    """
    if written <= SMALLEST_SEGMENT and not continued:
        return False
    if len(transport.dataBuffer) - transport.offset + transport._tempDataLen:
        # The burst goes on: its end is what may be held.
        return False
    sock = transport.socket
    try:
        ioctl(sock.fileno(), SIOCOUTQNSD, _answer, True)
        unsent = _answer[0]
        if not unsent:
            return False
        if unsent >= written and written <= LARGEST_SEGMENT and not continued:
            # A write shorter than a segment, held whole: Nagle's to coalesce.
            return False
        if sock.getsockopt(IPPROTO_TCP, TCP_NODELAY):
            # The application's own choice: nothing is Nagle's to hold.
            return False
        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        # Cleared at once: the push mark stays for the tail (fact 5).
        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 0)
    except OSError:
        return False
    return True
