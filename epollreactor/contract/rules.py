"""
The rules the reactor machine judges, each with a name, whether Twisted
promises it or only this project's reactor does, and what a user sees when
it breaks; and the exception that says one broke.

The statements are the module docstring of L{epollreactor.contract}, one
paragraph each; here they are data, so that the machine, the command and
the README name them alike.
"""

from typing import Dict, NamedTuple, Tuple, Type


class Rule(NamedTuple):
    """
    One rule of the contract.

    @ivar name: what the command prints and a failure is raised as.
    @ivar twisted: C{True} for a rule of Twisted's C{IReactorFDSet}
        contract, C{False} for a stricter check that only this project's
        reactor promises.
    @ivar statement: the rule, in one sentence.
    @ivar seen: what a user sees when it breaks.
    """

    name: str
    twisted: bool
    statement: str
    seen: str


RULES: Tuple[Rule, ...] = (
    Rule(
        "only-while-wanted",
        True,
        "doRead/doWrite only for an object that wants to read/write at that "
        "moment: removeReader/removeWriter take effect at once, also for "
        "events already in the batch",
        "a connection dropped by another's callback is still read or written",
    ),
    Rule(
        "only-when-ready",
        True,
        "doRead only when the object's file was readable, hung up or in error "
        "at the wait; doWrite only when it was writable (or once, early, after "
        "addWriter); an event for a closed file never reaches the object now "
        "under its number",
        "a callback on a file that is not ready, or on the wrong object",
    ),
    Rule(
        "once-per-iteration",
        True,
        "at most one doRead and one doWrite per object per iteration",
        "a callback run twice for one event",
    ),
    Rule(
        "no-spurious-connection-lost",
        True,
        "connectionLost only for an object whose number names no socket or "
        "pipe (or another file than its own), whose fileno() is -1, whose "
        "file hung up or failed, or whose doRead saw end-of-file",
        "a healthy connection dropped",
    ),
    Rule(
        "ready-gets-called",
        True,
        "an object that wanted to read (write) at the wait, kept that interest, "
        "and whose file was readable or hung up (writable) then, gets doRead "
        "(doWrite) or connectionLost in that iteration",
        "a read that never comes: the connection hangs",
    ),
    Rule(
        "add-accepts-open-descriptor",
        True,
        "addReader/addWriter of an object whose fileno() names an open "
        "socket, pipe or regular file does not raise",
        "an exception from addReader/addWriter on a good descriptor",
    ),
    Rule(
        "remove-never-raises",
        True,
        "removeReader/removeWriter never raise",
        "an exception from removeReader/removeWriter (and from "
        "loseConnection, which calls them)",
    ),
    Rule(
        "lists-what-was-added",
        True,
        "getReaders()/getWriters() list exactly the objects that want to "
        "read/write, each once (one whose number a later-added object took "
        "may be listed or not); removeAll() returns them; none raises",
        "getReaders()/getWriters()/removeAll() wrong, or raising",
    ),
    Rule(
        "no-error-escapes",
        True,
        "an iteration neither raises nor logs an error",
        "a traceback in the log, or an exception out of the reactor's loop",
    ),
    Rule(
        "add-refuses-bad-descriptor",
        False,
        "addReader/addWriter raise ValueError for a negative fileno() and "
        "OSError for a closed number, unless the object is listed already; "
        "a regular file is polled continuously",
        "(stricter than Twisted) a bad object accepted and dropped later",
    ),
    Rule(
        "last-added-owns-number",
        False,
        "an object added under a number that a listed object reports takes "
        "it: the other is dropped from the lists with one warning and gets no "
        "doRead or doWrite",
        "(stricter than Twisted) two objects on one number",
    ),
    Rule(
        "kernel-agrees",
        False,
        "an epoll reactor's interest list (/proc/self/fdinfo) holds no entry "
        "no listed object reports, holds one for the right file for every "
        "intact listed object, and its masks follow the interest after a "
        "quiet iteration",
        "(stricter than Twisted) ghost events, a busy loop, or a lost read",
    ),
    Rule(
        "lost-within-bound",
        False,
        "an object whose registration was lost behind the reactor's back "
        "(its number closed or naming another file, or its fileno() -1) gets "
        "connectionLost within a second of the reactor's clock, and no "
        "doRead of the file its number names now",
        "(stricter than Twisted) a connection closed by a library never ends, "
        "or reads another connection's bytes",
    ),
    Rule(
        "short-timeout-sleeps",
        False,
        "doIteration with a timeout under a millisecond and nothing ready "
        "sleeps in the kernel",
        "(stricter than Twisted) a busy loop until a timer under 1 ms is due",
    ),
    Rule(
        "agrees-with-reference",
        False,
        "beside a reference reactor, without closes behind their backs: the "
        "same exceptions, readers and writers, and every call the reference "
        "makes (the reactor's own extra calls being early writes or reads of "
        "a hang-up)",
        "(stricter than Twisted) a difference from the reference reactor",
    ),
)

#: Each rule by name.
RULES_BY_NAME: Dict[str, Rule] = {rule.name: rule for rule in RULES}


class RuleBroken(AssertionError):
    """
    A rule broke.  Each rule has a subclass of its own (L{brokenError}), so
    that Hypothesis takes two rules' failures for two bugs and shrinks each.

    @ivar rule: the rule's name.
    @ivar variant: which way it broke, when a rule can break in several
        (the errno an exception carried), or C{""}.
    @ivar program: the example, as a program a person can run, or C{""}.
    @ivar steps: how many steps the example took.
    @ivar first: the kind of file its first step opened.
    @ivar trace: its other steps, as the machine took them (each the name
        of a step method and three numbers), so that it can be run again.
    """

    rule = ""
    variant = ""
    program = ""
    steps = 0
    first = ""
    trace: Tuple[Tuple[str, int, int, int], ...] = ()

    @property
    def key(self) -> str:
        """
        @return: C{rule/variant}, or the rule alone.
        """
        return "{}/{}".format(self.rule, self.variant) if self.variant else self.rule


_ERRORS: Dict[Tuple[str, str], Type[RuleBroken]] = {}


def brokenError(rule: str, variant: str = "") -> Type[RuleBroken]:
    """
    @param rule: a rule's name.
    @param variant: which way it broke (L{RuleBroken.variant}).
    @return: the exception class raised when C{rule} breaks that way, one
        for each.
    @raise KeyError: for a name that is no rule's.
    """
    RULES_BY_NAME[rule]
    key = (rule, variant)
    if key not in _ERRORS:
        name = "Broke_" + "_".join([rule] + [variant] * bool(variant)).replace("-", "_")
        _ERRORS[key] = type(name, (RuleBroken,), {"rule": rule, "variant": variant})
    return _ERRORS[key]
