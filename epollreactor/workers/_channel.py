"""
The channel between the supervisor and one worker: a C{SOCK_SEQPACKET}
socket pair, one JSON object per message, with descriptors passed beside
it (C{SCM_RIGHTS}, unix(7)).

A sequenced-packet socket keeps message boundaries and order
(socket(2)), so no framing is needed, and a message is read whole or not
at all; descriptors ride with the message they belong to, so a listening
socket or an accepted connection can never be paired with the wrong
request.  C{socket.send_fds} and C{socket.recv_fds} (Python 3.9) do the
C{sendmsg(2)}; nothing here needs ctypes.
"""

import json
import socket
from typing import Any, Dict, Iterator, List, Sequence, Tuple

__all__ = [
    "MAX_MESSAGE",
    "MAX_DESCRIPTORS",
    "channelPair",
    "send",
    "receive",
    "waiting",
]

#: The largest message, in bytes: every message is a small JSON object.
MAX_MESSAGE = 65536

#: The most descriptors one message carries.
MAX_DESCRIPTORS = 16

Message = Dict[str, Any]


def channelPair() -> Tuple[socket.socket, socket.socket]:
    """
    @return: a connected C{AF_UNIX}, C{SOCK_SEQPACKET} pair: the
        supervisor's end and the worker's, both close-on-exec (the worker's
        end is handed to the child through C{childFDs}, which duplicates
        it).
    """
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(channel: socket.socket, message: Message, fds: Sequence[int] = ()) -> None:
    """
    Send C{message}, with C{fds} attached.

    @raise OSError: as C{sendmsg(2)} fails (EAGAIN when a non-blocking
        channel is full, EPIPE when the other end has gone).
    """
    data = json.dumps(message).encode("utf-8")
    if fds:
        socket.send_fds(channel, [data], list(fds))
    else:
        channel.send(data)


def receive(channel: socket.socket, flags: int = 0) -> Tuple[Message, List[int]]:
    """
    Receive one message and the descriptors it carries, which the caller
    owns (and must close).

    @param flags: for C{recvmsg(2)}: C{MSG_DONTWAIT} reads a blocking
        channel without blocking (and without making it non-blocking, which
        would change it for the other process that holds it too).

    @return: the message and the descriptors; C{({}, [])} when the other
        end has closed the channel.
    @raise OSError: as C{recvmsg(2)} fails (EAGAIN when a non-blocking
        channel is empty).
    @raise ValueError: when the message is not a JSON object (its
        descriptors are closed first).
    """
    data, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, MAX_DESCRIPTORS, flags)
    if not data and not fds:
        return {}, []
    try:
        message = json.loads(data.decode("utf-8"))
        if not isinstance(message, dict):
            raise ValueError("not a JSON object: {!r}".format(data[:80]))
    except ValueError:
        for fd in fds:
            socket.close(fd)
        raise
    return message, fds


def waiting(
    channel: socket.socket, flags: int = 0
) -> Iterator[Tuple[Message, List[int]]]:
    """
    Every message waiting on a non-blocking C{channel} (or, with
    C{MSG_DONTWAIT} in C{flags}, a blocking one), with its descriptors
    (L{receive}), until none is left; then, if the other end has closed or
    the channel failed, C{({}, [])}, once, as the last.
    """
    while True:
        try:
            message, fds = receive(channel, flags)
        except BlockingIOError:
            return
        except OSError:
            message, fds = {}, []
        yield message, fds
        if not message:
            return
