"""
A reactor that runs a timer and streams data through a loopback echo
connection while another process sends it SIGUSR1 without pause.

It prints C{PID <n>} once the handler is installed, so the sender can
start, streams data through the echo server for C{--seconds} (default 2),
checks every byte that comes back, and stops once all of it is back, or
after C{--limit} seconds (default 60) if it never is.  The last line of output is a JSON object:
signals handled, timer ticks, bytes sent and echoed, whether they match,
and how many errors were logged (an exception escaping C{doPoll} is logged
by the main loop as an error).

Usage: C{python -m tests.faults.signalstorm [--stock]}
"""

import hashlib
import os
import signal
import sys
import time
from typing import Any, Dict, List

from tests.faults import installReactor, report


def _option(name: str, default: int) -> int:
    for argument in sys.argv:
        if argument.startswith(name + "="):
            return int(argument.split("=", 1)[1])
    return default


def main() -> None:
    """
    Run the storm's receiving end and report.
    """
    reactor = installReactor(sys.argv)
    from twisted.internet import protocol, task
    from twisted.logger import LogLevel, globalLogPublisher

    seconds = _option("--seconds", 2)
    limit = _option("--limit", 60)
    streamEnds = time.monotonic() + seconds
    results: Dict[str, Any] = {"signals": 0, "ticks": 0, "sent": 0, "echoed": 0}
    errors: List[str] = []

    def observe(event: Dict[str, Any]) -> None:
        if event.get("log_level") in (LogLevel.error, LogLevel.critical) or (
            event.get("isError")
        ):
            errors.append(repr(event.get("log_failure") or event.get("log_format")))

    globalLogPublisher.addObserver(observe)

    def onSignal(number: int, frame: Any) -> None:
        results["signals"] += 1

    signal.signal(signal.SIGUSR1, onSignal)

    class Echo(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    chunk = hashlib.sha256(b"stream").digest() * 2048  # 64 KiB, known content
    sentHash = hashlib.sha256()
    echoedHash = hashlib.sha256()

    class Client(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.registerProducer(self, True)
            self.resumeProducing()

        def resumeProducing(self) -> None:
            while not self.paused():
                if time.monotonic() >= streamEnds:
                    results["streamDone"] = True
                    self.checkDone()
                    return
                sentHash.update(chunk)
                results["sent"] += len(chunk)
                self.transport.write(chunk)

        def paused(self) -> bool:
            return bool(self.transport.producerPaused)

        def pauseProducing(self) -> None:
            pass

        def stopProducing(self) -> None:
            pass

        def dataReceived(self, data: bytes) -> None:
            echoedHash.update(data)
            results["echoed"] += len(data)
            self.checkDone()

        def checkDone(self) -> None:
            if results.get("streamDone") and results["echoed"] >= results["sent"]:
                if reactor.running:
                    reactor.stop()

    serverFactory = protocol.Factory.forProtocol(Echo)
    port = reactor.listenTCP(0, serverFactory, interface="127.0.0.1")

    def tick() -> None:
        results["ticks"] += 1

    ticker = task.LoopingCall(tick)
    ticker.start(0.005)
    protocol.ClientCreator(reactor, Client).connectTCP("127.0.0.1", port.getHost().port)
    reactor.callLater(limit, reactor.stop)
    sys.stdout.write("PID {}\n".format(os.getpid()))
    sys.stdout.flush()
    reactor.run()
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    results["match"] = (
        results["echoed"] == results["sent"]
        and sentHash.digest() == echoedHash.digest()
    )
    results["errors"] = errors[:5]
    results["errorCount"] = len(errors)
    report(results)


if __name__ == "__main__":
    main()
