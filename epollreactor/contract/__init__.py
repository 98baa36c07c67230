"""
The reactor contract, for any reactor or epoll binding: Hypothesis state
machines that drive a Twisted reactor (or an C{epoll} object) one step at a
time on real descriptors, judge every call by Twisted's C{IReactorFDSet}
contract and the kernel's own view (C{/proc/self/fdinfo}), and shrink a
failure to a short program.

Needs Hypothesis: C{pip install epollreactor[contract]}.  C{import
epollreactor} does not import this package.

From a test suite (pytest or trial)::

    from twisted.internet.pollreactor import PollReactor
    from epollreactor.contract import reactorMachine, bindingMachine

    TestPollContract = reactorMachine(PollReactor).TestCase
    TestEpollBinding = bindingMachine(select.epoll).TestCase

From a shell: C{python -m epollreactor.contract
twisted.internet.pollreactor.PollReactor}, which looks for 20 seconds;
with C{--examples 2000 --seconds 0}, in rounds of 2,000 examples until one
finds nothing new.

The world
=========

The machine opens socket pairs, pipes (both ends) and a regular file, all
non-blocking, and hands the reactor one I{channel} per descriptor: a
C{FileDescriptor} whose C{doRead}, C{doWrite} and C{connectionLost} record
that they were called and do nothing else, so a file stays ready until the
machine drains, fills or closes it.  Like a transport, C{doRead} reports
end-of-file when a read would see it, and C{connectionLost} stops reading
and writing.  A channel may be given reactions: when its C{doRead} or
C{doWrite} runs it adds or removes another channel, loses its connection,
or closes it and opens a new socket pair in its place, as one connection's
data makes a protocol drop or start another.  Behind the reactor's back the
machine closes registered descriptors and C{dup2}s other files onto their
numbers.  Readiness is never modelled: before each wait the machine asks
C{poll(2)}, which calls the same kernel C{poll} method with the same bits
as C{epoll_wait(2)}.

Twisted's contract
==================

Each rule is judged as each call is made, against the interest at that
moment (the model knows only what a user of C{IReactorFDSet} knows: who
asked for what, and what the files are ready for):

 - C{only-while-wanted}: C{doRead} only for an object that wants to read
   at that moment, C{doWrite} only for one that wants to write:
   C{removeReader} and C{removeWriter} take effect at once, also for
   events already in the batch (Twisted issues 6796, 4759), and within one
   event (a C{doRead} that stops its own writing gets no C{doWrite}).
   Twisted's C{_ContinuousPolling}, which polls regular files, walks a copy
   of its sets: there, wanted when its pass began.
 - C{only-when-ready}: C{doRead} only when the file the object's number
   named at the wait was readable, hung up or in error; C{doWrite} only
   when it was writable, or as one early attempt after the first wait that
   follows C{addWriter} (a transport copes with EAGAIN; Twisted issue
   5303).  An event left in a batch for a closed file never reaches the
   object now under its number.
 - C{once-per-iteration}: at most one C{doRead} and one C{doWrite} per
   object per iteration.
 - C{no-spurious-connection-lost}: C{connectionLost} only for an object
   whose number names no socket or pipe (closed, or a regular file now)
   or another file than its own, whose C{fileno()} is -1, whose file was hung up or in error at the wait,
   or whose C{doRead} saw end-of-file.
 - C{ready-gets-called}: an intact object (its number still names the file
   it was made for) that wanted to read at the wait, kept that interest,
   and whose file was readable or hung up gets C{doRead} or
   C{connectionLost} in that iteration; the same for writing; an object
   polled continuously gets its call every iteration.
 - C{add-accepts-open-descriptor}: C{addReader}/C{addWriter} of an object
   whose C{fileno()} names an open socket, pipe or regular file does not
   raise.
 - C{remove-never-raises}: C{removeReader}/C{removeWriter} never raise
   (Twisted issue 11625).
 - C{lists-what-was-added}: C{getReaders()}/C{getWriters()} list exactly
   the objects that want to read or write, each once, and C{removeAll()}
   returns them; none of them raises.  An object whose number a later
   C{addReader}/C{addWriter} took may be listed or not.
 - C{no-error-escapes}: an iteration neither raises nor logs an error.

Stricter checks
===============

What this project's reactor promises beyond Twisted, each a named check of
its own, judged for every reactor and reported apart:

 - C{add-refuses-bad-descriptor}: C{addReader}/C{addWriter} raise
   C{ValueError} for a negative C{fileno()} and C{OSError} for a closed
   number, unless the object is listed already; a regular file is polled
   continuously (epoll_ctl(2): EPERM).
 - C{last-added-owns-number}: the last object added under a number owns
   it: a listed object reporting the same number is dropped from the lists
   with one warning and gets no C{doRead} or C{doWrite} (Twisted issues
   6373, 6346); its C{connectionLost} is judged as anyone's.
 - C{kernel-agrees}: for a reactor whose C{_poller} is an epoll instance
   (as Twisted's C{EPollReactor}'s is), the kernel's interest list holds no
   entry that no listed object reports (which nobody could remove), holds
   one for the right file for every intact object listed and not polled,
   and its masks equal the interest after an iteration in which the
   interest did not change (but for a new writer's early attempt).
 - C{lost-within-bound}: an object whose registration was lost behind
   the reactor's back (its number closed or naming another file, or its
   C{fileno()} -1) gets C{connectionLost} within a second of the reactor's
   clock, and no C{doRead} of the file its number names now
   (judged by its own machine, L{epollreactor.contract.lost}).
 - C{short-timeout-sleeps}: a wait of under a millisecond with nothing
   ready sleeps in the kernel rather than busy-polling.
 - C{agrees-with-reference}: beside a reference reactor, with nothing done
   behind their backs: the same exceptions, readers and writers, and every
   call the reference makes; the extra calls being early writes or reads
   of a hang-up.

What a reactor is judged through
================================

Its C{IReactorFDSet} methods, C{runUntilCurrent} and C{doIteration}, and
a C{seconds} the machine replaces with a fake clock (so the continuous
poller is due once per iteration); and, only when present, C{_poller}
(whose C{fileno()} names the epoll instance whose interest list is read).
Twisted's asyncio reactor is made on an event loop of its own and turned by
it.
"""

try:
    import hypothesis  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError(
        "epollreactor.contract needs Hypothesis: pip install 'epollreactor[contract]'"
    ) from e

from epollreactor.contract.binding import bindingMachine
from epollreactor.contract.reactor import reactorMachine
from epollreactor.contract.rules import RULES, Rule, RuleBroken
from epollreactor.contract.target import Target

__all__ = [
    "reactorMachine",
    "bindingMachine",
    "Target",
    "RULES",
    "Rule",
    "RuleBroken",
]
