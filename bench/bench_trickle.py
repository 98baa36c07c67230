"""
A burst, then a trickle: how long small updates that follow a large write
wait on their way to the client, on our reactor and on stock epoll (and on
C{baseline}, another checkout of ours, where C{BENCH_BASELINE} names one).

The server writes a 200,000-byte snapshot, then one 600-byte update on
every tick of a C{LoopingCall(0)} whose work takes 1 ms (or 5 ms), stamped
with the time it was written; a client in another process reads them and
records each one's delay.  The patterns:

 - C{timer}: the updates are the server's own (nothing comes from the
   client);
 - C{asked}: the client sends a byte every 0.5 ms besides, so input keeps
   arriving while the server writes;
 - C{nodelay}: as C{asked}, with C{TCP_NODELAY} set on the server's
   connection.

It prints, per pattern and peer, the median of the rounds of: updates
received, C{send()} calls per update written, and the delay's p50, p99 and
maximum, with the ratio of p50 and max to stock's.

    python bench/bench_trickle.py [--rounds 3] [--seconds 2]
"""

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List

SNAPSHOT = 200_000
UPDATE = 600
PATTERNS = {
    "timer 1 ms": {"work": 0.001, "asked": False, "nodelay": False},
    "timer 5 ms": {"work": 0.005, "asked": False, "nodelay": False},
    "asked 1 ms": {"work": 0.001, "asked": True, "nodelay": False},
    "nodelay 1 ms": {"work": 0.001, "asked": True, "nodelay": True},
}


def client(port: int, asked: bool, results: Any) -> None:
    """
    Read the snapshot and the updates; put each update's delay (seconds)
    on C{results}.
    """
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def ask() -> None:
        try:
            while True:
                sock.send(b"?")
                time.sleep(0.0005)
        except OSError:
            pass

    if asked:
        threading.Thread(target=ask, daemon=True).start()
    pending = b""
    snapshot = SNAPSHOT
    delays: List[float] = []
    while True:
        data = sock.recv(1 << 20)
        if not data:
            break
        now = time.monotonic()
        pending += data
        if snapshot:
            taken = min(snapshot, len(pending))
            pending, snapshot = pending[taken:], snapshot - taken
        while len(pending) >= UPDATE:
            (stamp,) = struct.unpack("d", pending[:8])
            pending = pending[UPDATE:]
            delays.append(now - stamp)
    results.put(delays)


def serve(peer: str, pattern: str, seconds: float) -> Dict[str, float]:
    """
    Run the server on C{peer} in this process (a fresh one per run).

    @return: what the client measured and the server counted.
    """
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from echo_server import REACTORS

    REACTORS[peer]()
    from twisted.internet import reactor, task
    from twisted.internet.protocol import Factory, Protocol

    spec = PATTERNS[pattern]
    sends = [0]
    writes = [0]

    class Counting:
        def __init__(self, real: socket.socket) -> None:
            self._real = real

        def send(self, data: bytes) -> int:
            sends[0] += 1
            sent: int = self._real.send(data)
            return sent

        def __getattr__(self, name: str) -> Any:
            return getattr(self._real, name)

    class Publisher(Protocol):
        def connectionMade(self) -> None:
            self.transport.socket = Counting(self.transport.socket)
            if spec["nodelay"]:
                self.transport.setTcpNoDelay(True)
            self.transport.write(b"s" * SNAPSHOT)
            self.ticks = task.LoopingCall(self.tick)
            self.ticks.start(0)
            reactor.callLater(seconds, self.done)

        def tick(self) -> None:
            end = time.monotonic() + spec["work"]
            while time.monotonic() < end:
                pass
            stamp = struct.pack("d", time.monotonic())
            self.transport.write(stamp + b"u" * (UPDATE - len(stamp)))
            writes[0] += 1

        def done(self) -> None:
            self.ticks.stop()
            self.transport.loseConnection()
            reactor.callLater(0.2, reactor.stop)

    port = reactor.listenTCP(0, Factory.forProtocol(Publisher), interface="127.0.0.1")
    results: Any = multiprocessing.Queue()
    reader = multiprocessing.Process(
        target=client, args=(port.getHost().port, spec["asked"], results)
    )
    reader.start()
    reactor.run()
    delays = sorted(d * 1000 for d in results.get())
    reader.join()
    return {
        "updates": len(delays),
        "sendsPerWrite": sends[0] / max(writes[0], 1),
        "p50": delays[len(delays) // 2],
        "p99": delays[int(len(delays) * 0.99)],
        "max": delays[-1],
    }


def main() -> None:
    """
    Run every pattern on every peer, alternating peers within each round,
    and print the table.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        peer, pattern = arguments.serve
        print(json.dumps(serve(peer, pattern, arguments.seconds)))
        return
    peers = ["ours", "epoll"]
    if os.environ.get("BENCH_BASELINE"):
        peers.insert(1, "baseline")
    samples: Dict[str, Dict[str, List[Dict[str, float]]]] = {}
    for round in range(arguments.rounds):
        for pattern in PATTERNS:
            order = peers if round % 2 == 0 else list(reversed(peers))
            for peer in order:
                output = subprocess.run(
                    [sys.executable, __file__, "--seconds", str(arguments.seconds)]
                    + ["--serve", peer, pattern],
                    stdout=subprocess.PIPE,
                    text=True,
                    check=True,
                ).stdout
                result = json.loads(output.strip().splitlines()[-1])
                samples.setdefault(pattern, {}).setdefault(peer, []).append(result)
    print(
        "| pattern | peer | updates | sends/write | p50 ms | p99 ms | max ms "
        "| p50 vs stock | max vs stock |"
    )
    print("|---" * 9 + "|")
    for pattern, byPeer in samples.items():
        median = {
            peer: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            for peer, runs in byPeer.items()
        }
        stock = median["epoll"]
        for peer in peers:
            row = median[peer]
            print(
                "| {} | {} | {:.0f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | "
                "{:.2f}x | {:.2f}x |".format(
                    pattern,
                    peer,
                    row["updates"],
                    row["sendsPerWrite"],
                    row["p50"],
                    row["p99"],
                    row["max"],
                    row["p50"] / stock["p50"],
                    row["max"] / stock["max"],
                )
            )


if __name__ == "__main__":
    main()
