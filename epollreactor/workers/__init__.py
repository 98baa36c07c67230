"""
Every core: one Twisted server on several worker processes, each with its
own L{EPollReactor<epollreactor.EPollReactor>}, serving the ports its
application opens, balanced, and restartable without losing a connection.

 - C{python -m epollreactor.workers [--workers N] [--strategy S] PLUGIN
   ARGS...} runs any C{twist} plugin, unchanged, on N workers (by default
   one per core this process may run on, C{os.sched_getaffinity}).
 - L{WorkersService} is the same as a Twisted service, for an application
   that builds its own (C{target=["service", "pkg.module.makeService"]},
   a callable each worker calls for its service), and for C{twistd}
   (the C{epollreactor-workers} plugin).

Facts about accepting in several processes
==========================================

 1. Processes that inherit one listening socket share one accept queue.
    Each waits in C{epoll_wait(2)}; a connection wakes every process whose
    epoll instance watches the socket (the thundering herd), unless they
    registered it with C{EPOLLEXCLUSIVE} (Linux 4.5), which wakes one
    waiting instance (epoll_ctl(2)).  Without it, blocking C{accept(2)}
    callers are woken last-in first-out, so one process takes most
    connections (gunicorn's 1,058 of 5,000 requests on one of 12 workers,
    pull request 2938).
 2. C{EPOLLEXCLUSIVE} wakes the first idle instance in the socket's wait
    queue, in the order the registrations were added, so the first
    worker takes more than its share; nginx (1.11.3) removes and adds the
    registration again every 16 accepted connections to move to the end.
    An exclusive registration cannot be modified: C{EPOLL_CTL_MOD} fails
    with EINVAL, so a change is a C{DEL} and an C{ADD}
    (L{Registrations<epollreactor._registrations.Registrations>} does it).
 3. C{SO_REUSEPORT} (Linux 3.9) gives each process a socket and a queue
    of its own, and the kernel picks the queue by a hash of the
    connection's addresses: even over many connections, blind to how busy
    a process is (Cloudflare measured the worst latency twice the shared
    queue's under a CPU-heavy load).  Closing one socket of the group
    resets the connections queued on it, unless C{net.ipv4.tcp_migrate_req}
    (Linux 5.14) is set.
 4. A listening socket lives while any process holds it open: a queue
    whose socket is still open elsewhere loses nothing when one holder
    closes its copy or dies.
 5. A connected socket can be sent to another process over a unix socket
    (C{SCM_RIGHTS}, unix(7)): one process accepts and chooses who serves,
    at the cost of a system call and a wake-up of that process per
    connection (Node's cluster does it; Twisted issue 4387 proposes it).

What this means for us
======================

 - The supervisor opens every listening socket, on a worker's first
   request for an address (the worker's C{listenTCP}, whatever endpoint
   the plugin used), and keeps it open until it stops (fact 4).  Workers
   come and go beside it; no queue goes with them, so a restart refuses
   and resets nothing, under every strategy, C{SO_REUSEPORT} included
   (each slot's socket stays in the supervisor, and passes to the slot's
   next worker: fact 3 without C{tcp_migrate_req}).
 - The strategies (L{STRATEGIES}): C{reuseport}, one C{SO_REUSEPORT}
   socket per worker slot (fact 3); C{exclusive}, one shared socket
   registered with C{EPOLLEXCLUSIVE} and re-added every 16 accepts (facts
   1, 2); C{handoff}, the supervisor accepts and hands connections over in
   turn (fact 5); C{shared}, one shared socket without C{EPOLLEXCLUSIVE},
   the stock arrangement on our reactor.  On a shared queue each wake-up
   accepts one connection (nginx's C{multi_accept off}), so that a burst is
   spread instead of taken by the first worker woken.
 - The default is C{reuseport}, by measurement (bench/README.md, "Every
   core"): the fewest wake-ups per connection, each worker within 1.14 of
   a fair share under steady load, and no lock shared between workers;
   its hazard (fact 3) is gone since the supervisor keeps every slot's
   socket open.  C{exclusive} suits handlers whose costs vary widely (it
   wakes only an idle worker, where a hash keeps feeding a busy one),
   C{handoff} few long connections.
 - A rolling restart (C{SIGHUP}, L{WorkersService.restart}) replaces one
   worker at a time: the new one serves before the old one is asked to
   stop; the old one stops listening, has each HTTP connection answer
   its next request with C{Connection: close} and close after it (so a
   keep-alive client opens its next connection to a serving worker,
   and sees no error), lets its connections finish (for C{--grace}
   seconds at most), and exits.
 - A worker that dies is replaced in its slot, and the log says which,
   how it ended, and which worker replaces it; every line a worker writes
   reaches the supervisor's log under the worker's name.
"""

import os
from typing import TYPE_CHECKING, Any, List

__all__ = [
    "STRATEGIES",
    "DEFAULT_STRATEGY",
    "WorkersService",
    "allowedCores",
    "defaultWorkers",
]

#: The balance strategies, by name.
STRATEGIES = ("reuseport", "exclusive", "handoff", "shared")

#: The strategy used unless another is named: bench/README.md, "Every core".
DEFAULT_STRATEGY = "reuseport"

if TYPE_CHECKING:
    from epollreactor.workers._supervisor import WorkersService


def defaultWorkers() -> int:
    """
    @return: how many cores this process may run on
        (C{os.sched_getaffinity}), one worker each.  PyPy 3.9's C{os} has
        no C{sched_getaffinity}: there the same set is read from
        C{Cpus_allowed_list} in C{/proc/self/status} (proc(5)).
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return len(allowedCores())


def allowedCores() -> List[int]:
    """
    @return: the cores this process may run on, from C{Cpus_allowed_list}
        in C{/proc/self/status} (proc(5): ranges such as C{0-3,8}).
    @raise OSError: when C{/proc} cannot be read.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Cpus_allowed_list:"):
                cores: List[int] = []
                for part in line.split(":", 1)[1].strip().split(","):
                    first, _, last = part.partition("-")
                    cores.extend(range(int(first), int(last or first) + 1))
                return cores
    raise OSError("no Cpus_allowed_list in /proc/self/status")


def __getattr__(name: str) -> Any:
    """
    Load L{WorkersService}, which needs Twisted, on first use (PEP 562).

    @raise AttributeError: for any other name.
    """
    if name == "WorkersService":
        from epollreactor.workers._supervisor import WorkersService

        return WorkersService
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
