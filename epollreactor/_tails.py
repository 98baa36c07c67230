"""
L{pushHeldTail}: when a TCP connection's burst has ended with the tail of
its output held back by the kernel, have the kernel send it now instead of
after the peer's delayed acknowledgement.

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
bytes, or the last bytes of a burst that earlier calls sent in whole
segments, the reactor asks C{SIOCOUTQNSD}.  When the kernel holds any of
them and the application has not set C{TCP_NODELAY} itself, the reactor
sets C{TCP_NODELAY} and clears it again (fact 5).

 - A held write is pushed whole, too: a proxy that relays a response in
   two reads (65,536 and 36,947 bytes) writes it in two bursts, and Nagle
   holds all of the second behind the short end of the first, which was
   pushed; a first draft, which pushed only the tail of a write that went
   out in part, left the proxy stalling (bench/README.md).
 - Nagle's coalescing is kept where it was made for, writes smaller than
   a segment of the smallest MSS (L{SMALLEST_SEGMENT}, RFC 1122; RFC 896's
   "tinygrams"): a write of at most that many bytes asks nothing and is
   Nagle's to hold and merge with the next.  A larger write held behind
   an unacknowledged one goes out in a segment of its own, where Nagle
   would have merged it with what the application writes until the ACK
   comes, 40 ms or more later from a peer that delays it: a trickle of
   such writes costs a packet per write instead of one per delayed ACK,
   and none of them waits.
 - A connection whose application set C{TCP_NODELAY} is never touched:
   Nagle holds nothing there, and what is queued waits for the window.
 - Leaving C{TCP_NODELAY} set instead would send every write at once,
   small ones too: the application's choice, not the reactor's.
 - The cost: one C{ioctl} at the end of a burst of more than
   L{SMALLEST_SEGMENT} bytes written through EPOLLOUT, or of a reply of
   more than one segment written in the turn that read its request
   (L{WritePolicy.sameTurn<epollreactor._writing.WritePolicy.sameTurn>}),
   and three C{getsockopt}/C{setsockopt} calls more only when something is
   held.  A same-turn reply of one segment asks nothing: it is sent while
   nothing else is unacknowledged in request/response traffic.  Nor does
   a write on a connection that the write policy last found with
   C{TCP_NODELAY} set (it reads the option every few dozen decisions).

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

#: RFC 1122's smallest MSS (as in L{epollreactor._writing}): writes no
#: longer than this are Nagle's to coalesce.
SMALLEST_SEGMENT = 536

#: Where C{SIOCOUTQNSD} writes its answer; the reactor's thread is its only
#: user.
_answer = array("i", [0])


def pushHeldTail(transport: Any, written: int, continued: bool) -> bool:
    """
    Right after C{transport.doWrite()}, which found C{written} bytes to send
    and did not fail: if that ended the burst and the kernel holds some of
    what it was given, push it out, as the module's docstring says.

    @param transport: a Twisted TCP connection over IP.
    @param written: the bytes its buffer held before that C{doWrite}.
    @param continued: whether that C{doWrite} went on with a burst that an
        earlier one cut (L{epollreactor._writing}, "Whole segments").
    @return: whether the kernel was told to push.
    """
    if written <= SMALLEST_SEGMENT and not continued:
        return False
    if len(transport.dataBuffer) - transport.offset + transport._tempDataLen:
        # The burst goes on: its end is what may be held.
        return False
    sock = transport.socket
    try:
        ioctl(sock.fileno(), SIOCOUTQNSD, _answer, True)
        if not _answer[0]:
            return False
        if sock.getsockopt(IPPROTO_TCP, TCP_NODELAY):
            # The application's own choice: nothing is Nagle's to hold.
            return False
        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        # Cleared at once: the push mark stays for what is held (fact 5).
        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 0)
    except OSError:
        return False
    return True
