"""
Stalls inside a proxied response: Twisted's C{portforward} proxy (the
C{proxy-100K} scenario of C{run.py}) between wrk (20 keep-alive
connections) and the C backend answering 100 KiB, run after run on each
peer, with C{tcpdump(8)} on loopback watching the proxy's connections
to wrk both ways.

A stall is a gap of more than C{--gap} milliseconds (20 by default)
between two data segments of the same response on one connection that
the client's first packet since the gap began ended, the proxy's next
segment following within a millisecond: the proxy's kernel held the
response's tail until the client's ACK (bench/README.md, "The proxy's
40 ms waits").  Other gaps, where the proxy sent late without waiting for
the client, are the process waiting for this shared machine's CPU, and
are shown apart.  Per peer it prints how many runs had a stall, how many
one over 35 ms (a delayed ACK takes 40), the worst stall, the median
requests per run and wrk's worst latency.  C{BENCH_BASELINE} adds
C{baseline}, another checkout of ours, as in C{run.py}.

    python bench/bench_proxy_stalls.py [--runs 18] [--seconds 2] [--peers ours,epoll]

Needs wrk and tcpdump (Debian's packages), and root for the capture.
"""

import argparse
import bisect
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run

#: A packet as tcpdump prints it (relative sequence numbers): the time,
#: the source and target ports and, for data, the first and end offsets.
_PACKET = re.compile(
    r"^(\d+\.\d+) IP 127\.0\.0\.1\.(\d+) > 127\.0\.0\.1\.(\d+):"
    r"(?: .*?seq (\d+):(\d+),)?"
)


def responseLength(port: int) -> int:
    """
    @return: the length, head included, of the backend's answer to one
        request on 127.0.0.1:C{port}.
    """
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head = data.index(b"\r\n\r\n") + 4
        match = re.search(rb"Content-Length: (\d+)", data[:head])
        assert match is not None, data[:head]
        return head + int(match.group(1))


def gaps(
    capture: str, proxy: int, length: int, threshold: float
) -> Tuple[List[float], List[float]]:
    """
    @param capture: tcpdump's lines, both ways between the proxy and wrk.
    @param proxy: the proxy's port.
    @param length: one response's length.
    @param threshold: the smallest gap counted, in seconds.
    @return: the gaps longer than C{threshold} between two segments of one
        response on one connection (in seconds): those that the client's
        first packet since the gap began ended, the proxy's next segment
        following it within a millisecond (the proxy's kernel held the rest
        until an ACK: TCP), and the others (the proxy sent it late: the
        process waited for this shared machine's CPU).
    """
    last: Dict[str, Tuple[float, int]] = {}
    spans: List[Tuple[str, float, float]] = []
    heard: Dict[str, List[float]] = {}
    for line in capture.splitlines():
        match = _PACKET.match(line)
        if match is None:
            continue
        stamp, source, target = float(match.group(1)), match.group(2), match.group(3)
        if int(target) == proxy:
            heard.setdefault(source, []).append(stamp)
            continue
        if match.group(4) is None:
            continue
        first, end = int(match.group(4)), int(match.group(5))
        previous = last.get(target)
        # Relative sequence numbers start at 1: a response ends where the
        # offset (end - 1) is a whole number of responses.
        if previous is not None and (previous[1] - 1) % length:
            if first == previous[1] and stamp - previous[0] > threshold:
                spans.append((target, previous[0], stamp))
        last[target] = (stamp, end)
    held: List[float] = []
    late: List[float] = []
    for client, began, ended in spans:
        packets = heard.get(client, [])
        index = bisect.bisect_right(packets, began)
        released = index < len(packets) and 0 <= ended - packets[index] <= 0.001
        (held if released else late).append(ended - began)
    return held, late


def oneRun(peer: str, seconds: float, threshold: float) -> Dict[str, float]:
    """
    One run on C{peer}: a fresh backend and proxy, wrk's warm-up, then the
    counted run under tcpdump.

    @return: C{requests}, wrk's C{max} latency (ms), C{stalls} (how many
        gaps) and C{worst} (the longest gap, ms; 0 without one).
    """
    serverCpu, clientCpu = run.cpus()
    backend = subprocess.Popen(
        run.loadgen("httpd", 0, run.LARGE, seconds + 300),
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=run.pinner(clientCpu),
    )
    assert backend.stdout is not None
    match = re.search(r"port=(\d+)", backend.stdout.readline())
    assert match is not None, "the backend did not start"
    backendPort = int(match.group(1))
    length = responseLength(backendPort)
    server = run.Server(peer, serverCpu, [], "proxy:{}".format(backendPort))
    url = "http://127.0.0.1:{}/".format(server.port)
    wrk = ["wrk", "-t1", "-c{}".format(run.HTTP_CONNECTIONS), "--latency"]
    captured = tempfile.TemporaryFile("w+")
    try:
        subprocess.run(
            wrk + ["-d1s", url],
            stdout=subprocess.DEVNULL,
            preexec_fn=run.pinner(clientCpu),
            check=True,
        )
        # Into a file, which tcpdump never waits for as it would for a pipe.
        dump = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-nn", "-tt", "-s", "96", "-B", "65536"]
            + ["port", str(server.port)],
            stdout=captured,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert dump.stderr is not None
        dump.stderr.readline()  # "listening on lo ...": capturing now.
        output = subprocess.run(
            wrk + ["-d{}s".format(max(1, round(seconds))), url],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=run.pinner(clientCpu),
            check=True,
        ).stdout
        time.sleep(0.2)
        dump.terminate()
        errors = dump.communicate(timeout=60)[1]
        captured.seek(0)
        capture = captured.read()
        if "dropped by kernel" in errors and not re.search(
            r"\b0 packets dropped by kernel", errors
        ):
            print("tcpdump dropped packets: " + errors.strip(), file=sys.stderr)
    finally:
        captured.close()
        server.stop()
        backend.kill()
        backend.wait()
    found, late = gaps(capture, server.port, length, threshold)
    if not capture.count("\n"):
        raise RuntimeError("tcpdump captured nothing: " + errors)
    # wrk's timeouts (a request unanswered for 2 s) are the machine's
    # load, not an error of the proxy: the run counts, with its worst.
    result = run.parseWrk(
        re.sub(
            r"\n\s*Socket errors: connect 0, read 0, write 0,"
            r" timeout \d+",
            "",
            output,
        ),
        0.0,
        0,
    )
    return {
        "requests": result["count"],
        "late": max(late, default=0.0) * 1e3,
        "max": result.get("max", 0.0) / 1e3,
        "stalls": float(len(found)),
        "long": float(sum(1 for gap in found if gap > 0.035)),
        "worst": max(found, default=0.0) * 1e3,
    }


def main() -> None:
    """
    Run the proxy C{--runs} times on each peer, alternating peers, and
    print the table.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=18)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--gap", type=float, default=20.0, help="ms")
    parser.add_argument("--peers", default="ours,epoll")
    options = parser.parse_args()
    for tool in ("wrk", "tcpdump"):
        if shutil.which(tool) is None:
            raise SystemExit(
                "{} is not installed (apt-get install {})".format(tool, tool)
            )
    run.buildLoadgen()
    peers = options.peers.split(",")
    results: Dict[str, List[Dict[str, float]]] = {peer: [] for peer in peers}
    for index in range(options.runs):
        order = peers if index % 2 == 0 else peers[::-1]
        for peer in order:
            result = oneRun(peer, options.seconds, options.gap / 1e3)
            results[peer].append(result)
            print(
                "run {:2} {:8} requests {:6.0f} stalls {:2.0f} (over 35 ms {:2.0f})"
                " worst {:5.1f} ms wrk max {:5.1f} ms, longest other gap"
                " {:5.1f} ms, load {:.1f}".format(
                    index + 1,
                    peer,
                    result["requests"],
                    result["stalls"],
                    result["long"],
                    result["worst"],
                    result["max"],
                    result["late"],
                    os.getloadavg()[0],
                ),
                flush=True,
            )
    print()
    print(
        "| peer | runs with a stall > {:g} ms | over 35 ms | worst stall |"
        " requests per run (median) | wrk max (median / worst) |".format(options.gap)
    )
    print("|---|---|---|---|---|---|")
    for peer in peers:
        runs = results[peer]
        print(
            "| {} | {} of {} | {} | {:.1f} ms | {:,.0f} | {:.1f} / {:.1f} ms |".format(
                peer,
                sum(1 for r in runs if r["stalls"]),
                len(runs),
                sum(1 for r in runs if r["long"]),
                max(r["worst"] for r in runs),
                statistics.median(r["requests"] for r in runs),
                statistics.median(r["max"] for r in runs),
                max(r["max"] for r in runs),
            )
        )


if __name__ == "__main__":
    main()
