"""
How a retiring worker lets its open connections end without an error
for their clients.

A connection closed while its client sends a request, or waits for an
answer, is an error for that client (a reset, or an end of file where a
response was due), and a keep-alive HTTP connection is never idle for
long under load: a client such as C{wrk} sends its next request as soon
as the last response has come.  HTTP/1.1 has a clean way to end one: a
response that says C{Connection: close}, after which both sides know the
connection ends, and the client opens another (RFC 9112, section 9.6),
which reaches a worker that still serves.  So a retiring worker has each
of its C{twisted.web} channels answer the request in flight, or else the
next one, with C{Connection: close}, and close after it.

A channel that stays idle for the whole grace period, and any other
protocol, is closed when the grace ends, as before: no other protocol
Twisted ships has a way to say "this is the last exchange".
"""

from typing import Any, List, Optional

from twisted.internet import tcp

__all__ = ["openConnections", "httpChannelOf", "closeAfterResponse", "retire"]


def openConnections(reactor: Any) -> List[tcp.Server]:
    """
    @return: the TCP connections C{reactor} serves, accepted or adopted.
    """
    return [
        r
        for r in reactor.getReaders() + reactor.getWriters()
        if isinstance(r, tcp.Server)
    ]


def httpChannelOf(protocol: Any) -> Optional[Any]:
    """
    @return: the C{twisted.web.http.HTTPChannel} that
        C{protocol} is or wraps (C{twisted.web}'s protocol that chooses
        between HTTP/1.1 and HTTP/2 holds it in C{_channel}, a
        C{twisted.protocols.policies.ProtocolWrapper} in
        C{wrappedProtocol}), or C{None}.
    """
    from twisted.web.http import HTTPChannel

    for _ in range(8):
        if isinstance(protocol, HTTPChannel):
            return protocol
        inner = getattr(protocol, "_channel", None) or getattr(
            protocol, "wrappedProtocol", None
        )
        if inner is None:
            return None
        protocol = inner
    return None


def closeAfterResponse(channel: Any) -> None:
    """
    Have C{channel} close after the response to the request in flight,
    if that response has not started yet, or else after the response to
    the next request, each response saying C{Connection: close}.

    C{HTTPChannel} decides whether a connection persists when a request's
    headers are complete (C{checkPersistence}, whose C{False} adds the
    header and closes after the response): this one now answers C{False}
    for every request; and the request whose headers came already gets
    the header and the decision now, unless its response has started
    (its headers are written: a close after it would surprise the
    client, so the next request is the last).
    """
    decide = channel.checkPersistence

    def closing(request: Any, version: bytes) -> bool:
        decide(request, version)
        request.responseHeaders.setRawHeaders(b"Connection", [b"close"])
        return False

    channel.checkPersistence = closing
    requests = channel.requests
    if requests and not requests[-1].startedWriting and channel.persistent:
        requests[-1].responseHeaders.setRawHeaders(b"Connection", [b"close"])
        channel.persistent = False


def retire(reactor: Any) -> int:
    """
    Ask every HTTP connection C{reactor} serves to close after a response
    (L{closeAfterResponse}).

    @return: how many were asked.
    """
    asked = 0
    for connection in openConnections(reactor):
        channel = httpChannelOf(connection.protocol)
        if channel is not None and not connection.disconnecting:
            closeAfterResponse(channel)
            asked += 1
    return asked
