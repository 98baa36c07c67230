"""
The driving side of each fault program in L{tests.faults}: start it in a
process of its own on the stock reactor or ours, load it from here over
loopback, and judge what happened.

Each function returns C{(ok, detail, results)}: whether the reactor held
up, one line saying what happened, and the numbers behind it.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

#: The repository's root, which the programs run from.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

Verdict = Tuple[bool, str, Dict[str, Any]]


def _start(module: str, stock: bool, *arguments: str) -> "subprocess.Popen[str]":
    command = [sys.executable, "-m", "tests.faults." + module]
    command += ["--stock"] if stock else []
    command += list(arguments)
    # The log goes to a file: a server that logs every request would fill
    # a pipe nobody reads until the end, and block.
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True
    )
    process.log = log  # type: ignore[attr-defined]
    return process


def _firstLine(process: "subprocess.Popen[str]", prefix: str) -> str:
    """
    @return: what follows C{prefix} on the first line C{process} prints.
    @raise RuntimeError: when it exits first.
    """
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith(prefix):
        process.kill()
        _, err = _communicate(process)
        raise RuntimeError("{!r} instead of {}: {}".format(line, prefix, err[-2000:]))
    return line[len(prefix) :].strip()


def _stop(process: "subprocess.Popen[str]") -> Tuple[str, str]:
    """
    Stop a server with SIGTERM, as an operator would.

    @return: its standard output and standard error.
    """
    process.send_signal(signal.SIGTERM)
    try:
        return _communicate(process)
    except subprocess.TimeoutExpired:
        process.kill()
        return _communicate(process)


def _communicate(
    process: "subprocess.Popen[str]", timeout: float = 30
) -> Tuple[str, str]:
    """
    Wait for C{process} to exit.

    @return: its standard output and its log.
    """
    out, _ = process.communicate(timeout=timeout)
    log = process.log  # type: ignore[attr-defined]
    log.seek(0)
    text = log.read()
    log.close()
    return out, text


def _lastJSON(out: str) -> Dict[str, Any]:
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def _tracebacks(log: str) -> int:
    return log.count("Traceback") + log.count("Unhandled Error")


def _get(port: int, timeout: float = 10) -> Optional[socket.socket]:
    client = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    client.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    return client


def _answered(client: socket.socket) -> bool:
    """
    @return: whether C{client} got the whole page before end-of-file.
    """
    response = b""
    try:
        while True:
            piece = client.recv(65536)
            if not piece:
                break
            response += piece
    except OSError:
        return False
    finally:
        client.close()
    return response.startswith(b"HTTP/1.1 200") and response.endswith(b"hello " * 100)


def abortStorm(stock: bool, clients: int = 3000, batch: int = 100) -> Verdict:
    """
    twisted.web on the reactor; C{clients} clients in batches of C{batch},
    every other one resetting (SO_LINGER 0, then close) right after it sent
    its request.  Every normal request must be answered, the log must hold
    no traceback, and the server must answer afterwards.
    """
    process = _start("webserver", stock)
    port = int(_firstLine(process, "PORT "))
    started = time.monotonic()
    answered = expected = 0
    linger = (1).to_bytes(4, "little") + (0).to_bytes(4, "little")
    for first in range(0, clients, batch):
        normal: List[socket.socket] = []
        for i in range(first, min(first + batch, clients)):
            client = _get(port)
            assert client is not None
            if i % 2:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                client.close()
            else:
                normal.append(client)
        expected += len(normal)
        answered += sum(_answered(client) for client in normal)
    seconds = time.monotonic() - started
    after = _get(port)
    afterwards = after is not None and _answered(after)
    _, log = _stop(process)
    tracebacks = _tracebacks(log)
    results = {
        "clients": clients,
        "reset": clients // 2,
        "expected": expected,
        "answered": answered,
        "afterwards": afterwards,
        "tracebacks": tracebacks,
        "seconds": round(seconds, 2),
        "log": log[-1500:] if tracebacks else "",
    }
    ok = answered == expected and afterwards and not tracebacks
    return (
        ok,
        "{}/{} answered, {} reset, {} tracebacks, answers after: {}".format(
            answered, expected, clients // 2, tracebacks, afterwards
        ),
        results,
    )


def signalStorm(stock: bool, seconds: int = 2) -> Verdict:
    """
    SIGUSR1 sent without pause from this process while the reactor runs a
    timer and streams data through a loopback echo connection for
    C{seconds}: nothing may escape C{doPoll}, the timer must tick, and every
    byte must come back intact.
    """
    process = _start("signalstorm", stock, "--seconds={}".format(seconds))
    pid = int(_firstLine(process, "PID "))
    done = threading.Event()
    sent = [0]

    def storm() -> None:
        while not done.is_set():
            try:
                os.kill(pid, signal.SIGUSR1)
            except ProcessLookupError:
                return
            sent[0] += 1
            time.sleep(0.0002)

    sender = threading.Thread(target=storm)
    sender.start()
    try:
        out, err = _communicate(process, 120)
    finally:
        done.set()
        sender.join()
    results = _lastJSON(out)
    results["sentSignals"] = sent[0]
    results["stderr"] = err[-1500:]
    ok = (
        process.returncode == 0
        and bool(results.get("match"))
        and results.get("errorCount") == 0
        and results.get("ticks", 0) > 0
        and results.get("signals", 0) > 100
    )
    return (
        ok,
        "{} signals handled, {} ticks, {} of {} bytes echoed intact: {}, {} errors".format(
            results.get("signals"),
            results.get("ticks"),
            results.get("echoed"),
            results.get("sent"),
            results.get("match"),
            results.get("errorCount"),
        ),
        results,
    )


def _echo(client: socket.socket, message: bytes, timeout: float) -> bool:
    client.settimeout(timeout)
    try:
        client.sendall(message)
        got = b""
        while len(got) < len(message):
            piece = client.recv(65536)
            if not piece:
                return False
            got += piece
        return got == message
    except OSError:
        return False


def exhaustion(stock: bool, clients: int = 40, spare: int = 8) -> Verdict:
    """
    An echo server that may open only C{spare} more descriptors: C{clients}
    clients connect, so that C{accept(2)} fails with EMFILE.  The server
    must keep serving the connections it has, log no traceback, and serve a
    new client once the others have gone.
    """
    process = _start("exhaustion", stock, "--spare={}".format(spare))
    port = int(_firstLine(process, "PORT "))
    held = [
        socket.create_connection(("127.0.0.1", port), timeout=10)
        for _ in range(clients)
    ]
    servedWhileFull = sum(_echo(c, b"ping", 1.0) for c in held)
    for c in held:
        c.close()
    servedAfter = False
    deadline = time.monotonic() + 30
    while not servedAfter and time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as late:
            servedAfter = _echo(late, b"again", 5.0)
    alive = process.poll() is None
    _, log = _stop(process)
    results = {
        "clients": clients,
        "servedWhileFull": servedWhileFull,
        "emfileLogged": "EMFILE" in log or "Too many open files" in log,
        "servedAfter": servedAfter,
        "aliveAtEnd": alive,
        "tracebacks": _tracebacks(log),
        "log": log[-1500:],
    }
    ok = (
        results["emfileLogged"]
        and 0 < servedWhileFull < clients
        and servedAfter
        and alive
        and not results["tracebacks"]
    )
    return (
        ok,
        "EMFILE hit: {}; {} of {} served while full; served after: {}; {} tracebacks".format(
            results["emfileLogged"],
            servedWhileFull,
            clients,
            servedAfter,
            results["tracebacks"],
        ),
        results,
    )


def forkServe(stock: bool) -> Verdict:
    """
    Parent and child of a C{fork()} each serve their own connections after
    the child drops what it inherited.
    """
    out = subprocess.run(
        [sys.executable, "-m", "tests.faults.forkserve"]
        + (["--stock"] if stock else []),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    results = _lastJSON(out.stdout)
    results["stderr"] = out.stderr[-1500:]
    child = results.get("child", {})
    ok = bool(
        results.get("parentBefore")
        and child.get("served")
        and results.get("parentAfter")
    )
    return (
        ok,
        "child served: {}; parent served after the child dropped its copies: {}".format(
            child.get("served", child.get("error")), results.get("parentAfter")
        ),
        results,
    )


def leaks(stock: bool, cycles: int = 100000, reactors: int = 1000) -> Verdict:
    """
    C{cycles} add/remove cycles leave no descriptor and no memory behind;
    C{reactors} reactors created, run, stopped and dropped leave no
    descriptor behind: no epoll instance, and no waker pipe (Twisted never
    closes those; the stock reactor leaves two descriptors per reactor).
    """
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.faults.leaks",
            "--cycles={}".format(cycles),
            "--reactors={}".format(reactors),
        ]
        + (["--stock"] if stock else []),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = _lastJSON(out.stdout)
    results["stderr"] = out.stderr[-1500:]
    ok = (
        results.get("fdsAfterCycles") == 0
        # 4 MiB over 100,000 cycles is 40 bytes a cycle, less than any
        # object a cycle could leave behind; PyPy's JIT grows by 1-2 MiB.
        and results.get("rssGrowthKiB", 1 << 30) < 4096
        and results.get("epollLeft") == 0
        and results.get("otherLeft") == 0
    )
    return (
        ok,
        "{} cycles: {} fds, {} KiB; {} reactors: {} epoll fds, {} other fds left".format(
            cycles,
            results.get("fdsAfterCycles"),
            results.get("rssGrowthKiB"),
            reactors,
            results.get("epollLeft"),
            results.get("otherLeft"),
        ),
        results,
    )


#: Every fault program, in the order the table lists them.
FAULTS = [
    ("abort storm (twisted.web, SO_LINGER 0)", abortStorm),
    ("signal storm", signalStorm),
    ("descriptor exhaustion (EMFILE)", exhaustion),
    ("fork: parent and child serve", forkServe),
    ("leaks", leaks),
]
