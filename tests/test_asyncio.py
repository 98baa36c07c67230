"""
asyncio on L{epollreactor.EpollSelector}:
C{asyncio.SelectorEventLoop(EpollSelector())} runs servers, clients,
subprocesses and signal handlers.

Every test runs on the stock C{selectors.EpollSelector} as well (when the
interpreter has C{select.epoll}), so a failure that both share is asyncio's
or the test's, and one that only ours shows is ours.
"""

import asyncio
import os
import selectors
import signal
import socket
import sys
import tempfile
import threading
from typing import Callable, Iterator, List, Tuple

import pytest

from epollreactor import EpollSelector

_SELECTORS = [
    pytest.param(EpollSelector, id="epollreactor"),
    pytest.param(
        getattr(selectors, "EpollSelector", None),
        id="stock",
        marks=pytest.mark.skipif(
            not hasattr(selectors, "EpollSelector"),
            reason="this interpreter's select module has no epoll",
        ),
    ),
]


@pytest.fixture(params=_SELECTORS)
def loop(
    request: pytest.FixtureRequest,
) -> Iterator[asyncio.AbstractEventLoop]:
    """
    A new C{SelectorEventLoop} on each selector under test, set as the
    current loop for the test and closed after it.
    """
    selector = request.param()
    eventLoop = asyncio.SelectorEventLoop(selector)
    asyncio.set_event_loop(eventLoop)
    try:
        yield eventLoop
    finally:
        asyncio.set_event_loop(None)
        eventLoop.close()
    assert selector.get_map() is None, "closing the loop closes its selector"


def _run(
    loop: asyncio.AbstractEventLoop, coroutine: "asyncio.Future[object]"
) -> object:
    """
    Run C{coroutine} on C{loop}, failing after 30 seconds instead of
    hanging the test run.
    """
    return loop.run_until_complete(asyncio.wait_for(coroutine, 30))


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """
    A stream server's connection handler: send back everything received,
    then close.
    """
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def _talk(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes
) -> bytes:
    """
    Send C{message}, half-close, and read the reply to the end.
    """
    writer.write(message)
    await writer.drain()
    writer.write_eof()
    reply = await reader.read()
    writer.close()
    await writer.wait_closed()
    return reply


def test_loopUsesTheSelector() -> None:
    """
    C{SelectorEventLoop} takes an L{EpollSelector} and waits on it.
    """
    selector = EpollSelector()
    eventLoop = asyncio.SelectorEventLoop(selector)
    try:
        eventLoop.run_until_complete(asyncio.sleep(0.001))
        # The loop's self-pipe is registered with our selector.
        assert len(selector.get_map()) == 1
    finally:
        eventLoop.close()


def test_tcpEcho(loop: asyncio.AbstractEventLoop) -> None:
    """
    A TCP echo server and client on the loopback interface exchange a
    message larger than a socket buffer, so both sides wait for writability.
    """
    message = os.urandom(4 * 1024 * 1024)

    async def main() -> bytes:
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            return await _talk(reader, writer, message)

    assert _run(loop, main()) == message


def test_manyTcpClients(loop: asyncio.AbstractEventLoop) -> None:
    """
    Fifty clients connected at once each get their own message back.
    """

    async def main() -> List[bytes]:
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        async def client(number: int) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            return await _talk(reader, writer, b"client %d" % (number,))

        async with server:
            return await asyncio.gather(*[client(n) for n in range(50)])

    assert _run(loop, main()) == [b"client %d" % (n,) for n in range(50)]


def test_unixEcho(loop: asyncio.AbstractEventLoop) -> None:
    """
    A UNIX-socket echo server and client exchange a message.
    """

    async def main(path: str) -> bytes:
        server = await asyncio.start_unix_server(_echo, path)
        async with server:
            reader, writer = await asyncio.open_unix_connection(path)
            return await _talk(reader, writer, b"over a unix socket")

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "echo.sock")
        assert _run(loop, main(path)) == b"over a unix socket"


def test_udpEcho(loop: asyncio.AbstractEventLoop) -> None:
    """
    A datagram endpoint echoes a datagram back to its sender.
    """

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: Tuple[str, int]) -> None:
            self.transport.sendto(data, addr)  # type: ignore[attr-defined]

    class Client(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.received: asyncio.Future[bytes] = loop.create_future()

        def datagram_received(self, data: bytes, addr: Tuple[str, int]) -> None:
            self.received.set_result(data)

    async def main() -> bytes:
        serverTransport, _ = await loop.create_datagram_endpoint(
            Echo, local_addr=("127.0.0.1", 0)
        )
        address = serverTransport.get_extra_info("sockname")
        client = Client()
        clientTransport, _ = await loop.create_datagram_endpoint(
            lambda: client, remote_addr=address
        )
        clientTransport.sendto(b"datagram")
        try:
            return await client.received
        finally:
            clientTransport.close()
            serverTransport.close()

    assert _run(loop, main()) == b"datagram"


def test_socketMethods(loop: asyncio.AbstractEventLoop) -> None:
    """
    The loop's low-level C{sock_sendall} and C{sock_recv} move a message
    through a non-blocking socket pair.
    """
    rd, wr = socket.socketpair()
    rd.setblocking(False)
    wr.setblocking(False)
    message = os.urandom(1024 * 1024)

    async def main() -> bytes:
        sending = loop.create_task(loop.sock_sendall(wr, message))
        received = b""
        while len(received) < len(message):
            received += await loop.sock_recv(rd, 65536)
        await sending
        return received

    try:
        assert _run(loop, main()) == message
    finally:
        rd.close()
        wr.close()


def test_subprocess(loop: asyncio.AbstractEventLoop) -> None:
    """
    A child process's stdin, stdout and stderr pipes work through the loop,
    and its exit status comes back.
    """
    child = (
        "import sys; data = sys.stdin.buffer.read(); "
        "sys.stdout.buffer.write(data.upper()); sys.stderr.write('done'); "
        "sys.exit(3)"
    )

    async def main() -> Tuple[bytes, bytes, int]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            child,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate(b"through a pipe")
        return out, err, await process.wait()

    assert _run(loop, main()) == (b"THROUGH A PIPE", b"done", 3)


def test_signalHandler(loop: asyncio.AbstractEventLoop) -> None:
    """
    C{add_signal_handler} wakes the loop through its self-pipe when a signal
    arrives.
    """

    async def main() -> int:
        received: asyncio.Future[int] = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1, received.set_result, signal.SIGUSR1)
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
            return await received
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    assert _run(loop, main()) == signal.SIGUSR1


def test_callSoonThreadsafe(loop: asyncio.AbstractEventLoop) -> None:
    """
    C{call_soon_threadsafe} from another thread wakes a loop that is waiting
    with nothing else to do.
    """

    async def main() -> str:
        woken: asyncio.Future[str] = loop.create_future()
        setResult: Callable[[str], None] = woken.set_result
        thread = threading.Thread(
            target=loop.call_soon_threadsafe, args=(setResult, "woken")
        )
        thread.start()
        try:
            return await woken
        finally:
            thread.join()

    assert _run(loop, main()) == "woken"
