"""
The reactor machine: a Hypothesis state machine that drives a reactor one
step at a time on real descriptors (L{epollreactor.contract.world}), judged
by L{epollreactor.contract.judge}, and writes each example down as a
program (L{epollreactor.contract.transcript}).

Make one for a reactor with L{reactorMachine}; run it from pytest or trial
as its C{TestCase}, or with Hypothesis's C{run_state_machine_as_test}.
"""

import errno
import shutil
import tempfile
from typing import Any, Dict, FrozenSet, List, Optional, Tuple, cast

from hypothesis import event as hypothesisEvent
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant
from twisted.logger import LogLevel, globalLogPublisher

from epollreactor.contract.channel import Call, Channel
from epollreactor.contract.judge import Judge
from epollreactor.contract.model import READ, WRITE, Contract, Iteration
from epollreactor.contract.rules import RULES, RULES_BY_NAME, RuleBroken, brokenError
from epollreactor.contract.target import ReactorUnderTest, Target
from epollreactor.contract.transcript import Step, Transcript
from epollreactor.contract.world import OpenFile, World, drain, fill

#: Socket pairs twice as often: they are the files that are both readable
#: and writable, and hang up.
KINDS = ("socketpair", "socketpair", "pipe", "regular")
#: How many descriptors the machine keeps open at most.
MAX_OPEN = 14
#: What a reaction does, by the step's variant: taking interest away
#: inside a batch is what the rules about dispatch are most about.
ACTIONS = (
    "removeReader",
    "removeReader",
    "removeWriter",
    "addReader",
    "addWriter",
    "loseConnection",
    "reopen",
)
#: A timeout shorter than epoll_wait(2)'s millisecond.
SHORT_TIMEOUT = 0.0004
#: What C{add} and C{remove} ask for, by the step's variant.
EVENTS = ((READ,), (WRITE,), (READ, WRITE))

#: How often each step comes, in parts.  One rule takes every step, so that
#: Hypothesis never draws a rule it must throw away; an iteration is about
#: a quarter of the steps.
ALONE_STEPS = {
    "iterate": 8,
    "add": 6,
    "readiness": 4,
    "remove": 3,
    "react": 2,
    "entangle": 3,
    "closeBehindBack": 2,
    "dup2Onto": 2,
    "open": 2,
    "loseConnection": 1,
    "hangUp": 1,
    "removeAll": 1,
}
#: The same beside a reference reactor: nothing behind the reactors' backs,
#: no reactions.
BESIDE_STEPS = {
    "iterate": 8,
    "add": 6,
    "readiness": 4,
    "remove": 3,
    "open": 2,
    "loseConnection": 1,
    "hangUp": 1,
    "removeAll": 1,
}


#: The three numbers of a step range over C{0..255}, C{0..255} and
#: C{0..11}; they are drawn as one.
NUMBERS = 256 * 256 * 12


def steps(weights: Dict[str, int]) -> Any:
    """
    A strategy for one step: the name of a step method, drawn with
    C{weights}, and three numbers that pick its channels and variant.

    The three numbers are drawn as one integer and split, so that a step
    is four of Hypothesis's choices (the one that says a step follows, the
    rule, the name, the number): its shrinker deletes at most five
    adjacent choices at a time, and could delete no step of six or more,
    which it could only turn into the simplest step, an idle iteration,
    and leave in the example.

    @return: a strategy for a L{Step}.
    """
    names = [name for name, weight in weights.items() for _ in range(weight)]
    return st.tuples(st.sampled_from(names), st.integers(0, NUMBERS - 1)).map(_split)


def _split(drawn: Tuple[str, int]) -> Step:
    """
    @return: the step C{drawn} names, its number split into three.
    """
    name, number = drawn
    return (name, number % 256, number // 256 % 256, number // 65536)


def fillFile(transcript: Transcript, openFile: Optional[OpenFile], size: int) -> None:
    """
    Write C{size} bytes to a socket or a pipe's write end (with 0, until
    it is full), and write that down; anything else is left alone.
    """
    if openFile is not None and openFile.kind in ("socket", "pipe-write"):
        if openFile.number is not None:
            fill(openFile.number, size)
            transcript.say('s.fill("{}"{})'.format(openFile.name, ", 1" * size))


def drainFile(transcript: Transcript, openFile: Optional[OpenFile]) -> None:
    """
    Read everything a socket or a pipe's read end has buffered, and write
    that down; anything else is left alone.
    """
    if openFile is not None and openFile.kind in ("socket", "pipe-read"):
        if openFile.number is not None:
            drain(openFile.number)
            transcript.say('s.drain("{}")'.format(openFile.name))


def _note(text: str) -> None:
    if currently_in_test_context():
        note(text)


def _event(text: str) -> None:
    if currently_in_test_context():
        hypothesisEvent(text)


class ReactorMachine(RuleBasedStateMachine):
    """
    A reactor (L{target}) driven step by step and judged after every step;
    alone, with descriptors closed and C{dup2}'d over behind its back and
    channels that react to their calls, or beside a L{reference} reactor.

    @cvar target: the reactor under test.
    @cvar reference: the reactor it is compared with, or C{None}.
    @cvar ignored: names of rules not judged.
    """

    target: Target
    reference: Optional[Target] = None
    ignored: FrozenSet[str] = frozenset()

    def __init__(self) -> None:
        """
        A new reactor (and reference), and no files yet.
        """
        super().__init__()
        # The continuous poller's LoopingCall imports twisted.internet.reactor,
        # which installs the default reactor the first time: its descriptors
        # would take numbers the machine thinks closed.  Have that happen now.
        from twisted.internet import reactor  # noqa: F401

        self.directory = tempfile.mkdtemp(prefix="contract-")
        self.world = World(self.directory)
        self.contract = Contract()
        self.transcript = Transcript()
        self.ours = ReactorUnderTest(self.target)
        self.reactors = [self.ours]
        self.other: Optional[ReactorUnderTest] = None
        if self.reference is not None:
            self.other = ReactorUnderTest(self.reference)
            self.reactors.append(self.other)
        ignored = set(self.ignored)
        if self.reference is None:
            ignored.add("agrees-with-reference")
        self.judge = Judge(self.contract, self.world, self.ours, self.other, ignored)
        self.channels: List[str] = []
        self.reactions: Dict[Call, Tuple[str, str]] = {}
        self.warnings = 0
        #: The errno name of what the last add raised.
        self.raisedErrno = ""
        #: Whether a file was closed or moved behind the reactor's back.
        self.tampered = False
        globalLogPublisher.addObserver(cast(Any, self._observe))

    def _observe(self, event: Dict[str, Any]) -> None:
        if "log_failure" in event or event.get("isError"):
            self.judge.broke("no-error-escapes", "logged", _describe(event))
        elif event.get("log_level") == LogLevel.warn:
            self.warnings += 1

    def teardown(self) -> None:
        """
        Close everything, even after a failure.
        """
        globalLogPublisher.removeObserver(cast(Any, self._observe))
        try:
            for reactor in self.reactors:
                try:
                    reactor.close()
                except Exception:
                    pass
        finally:
            self.world.closeAll()
            shutil.rmtree(self.directory, ignore_errors=True)

    # Channels and files.

    def _newChannel(self, openFile: OpenFile) -> str:
        assert openFile.number is not None
        name = "c{}".format(len(self.channels))
        self.channels.append(name)
        for reactor in self.reactors:
            channel = Channel(reactor.reactor, name, openFile.number, reactor.calls)
            channel.file = openFile
            reactor.channels[name] = channel
        ours = self.ours.channels[name]
        ours.observe = self._call
        self.contract.channels[name] = ours
        _note("{} on {}".format(name, openFile))
        return name

    def _pick(self, index: int, among: Any) -> str:
        names = [n for n in self.channels if among(self.ours.channels[n])]
        return (names or self.channels)[index % len(names or self.channels)]

    def _live(self, index: int) -> str:
        return self._pick(index, lambda channel: channel.number >= 0)

    def _setNumber(self, name: str, number: int) -> None:
        for reactor in self.reactors:
            reactor.channels[name].number = number

    def _open(self, kind: str) -> List[str]:
        previous = list(self.world.allFiles)
        opened = self.world.open(kind)
        pins = self.transcript.pins(opened, previous)
        names = [self._newChannel(openFile) for openFile in opened]
        self.transcript.opened(names, 'open("{}"'.format(kind), pins, opened)
        return names

    def _fileOf(self, name: str) -> Optional[OpenFile]:
        return self.world.files.get(self.ours.channels[name].number)

    # Calls into channels.

    def _call(self, channel: Channel, method: str, atEnd: bool) -> None:
        if self.judge.call(channel, method, atEnd):
            reaction = self.reactions.get((channel.name, method))
            if reaction is not None:
                self._react(*reaction)

    def _react(self, action: str, target: str) -> None:
        """
        Run one reaction, as a protocol's callback would, inside dispatch.
        """
        self.judge.happenings.add("reaction: " + action)
        iteration = self.judge.iteration
        if iteration is not None and iteration.phase == "batch":
            self.judge.happenings.add("interest changed inside a batch")
        if action.startswith("add"):
            self._add(target, READ if action == "addReader" else WRITE, True)
        elif action.startswith("remove"):
            self._remove(target, READ if action == "removeReader" else WRITE)
        elif action == "loseConnection":
            self._loseConnection(target)
        elif len(self.world.files) < MAX_OPEN:
            # Close and open again: the new files take the freed numbers,
            # while the batch may still hold an event for the old one.
            self._loseConnection(target)
            self._add(self._open("socketpair")[0], READ, True)

    # The reactor's methods, judged.

    def _add(self, name: str, event: int, inCallback: bool = False) -> None:
        method = "addReader" if event == READ else "addWriter"
        contract = self.contract
        wasListed = name in contract.interest(event) and contract.owns(name)
        channel = self.ours.channels[name]
        expected = contract.expectAdd(channel, self.world, event)
        before = len(self.judge.violations)
        raised = self._addTo(self.ours, method, name)
        openFile = self.world.files.get(channel.number)
        if raised is not expected and not wasListed:
            self.judge.broke(
                "add-refuses-bad-descriptor", method, name, raised, "not", expected
            )
        if raised is not None and openFile is not None:
            self.judge.brokeAs(
                "add-accepts-open-descriptor", self.raisedErrno, method, name, raised
            )
        if raised is None:
            if self.judge.iteration is not None and not wasListed:
                self.judge.iteration.renewed.add(
                    (name, "doRead" if event == READ else "doWrite")
                )
            contract.added(name, event)
        if self.other is not None and not inCallback:
            theirs = self._addTo(self.other, method, name)
            if theirs is not raised:
                self.judge.broke("agrees-with-reference", method, name, raised, theirs)
        self._said(
            before,
            "s.reactor.{}({})".format(method, self.transcript.ref(name)),
            raised.__name__ if raised else "",
        )

    def _said(self, before: int, line: str, raised: str) -> None:
        """
        Write down a call to the reactor (L{Transcript.call}): it broke a
        rule when the judge recorded a violation since it had C{before};
        the program of such a violation ends with this call.

        @param raised: what the call raised, or C{""}.
        """
        violations = len(self.judge.violations)
        self.transcript.call(line, raised, violations > before)
        if not self.transcript.quiet:
            for index in range(before, violations):
                self.transcript.ends.setdefault(index, len(self.transcript.lines))

    def _addTo(
        self, reactor: ReactorUnderTest, method: str, name: str
    ) -> Optional[type]:
        try:
            getattr(reactor.reactor, method)(reactor.channels[name])
        except Exception as e:
            self.raisedErrno = _errnoName(e)
            return type(e)
        return None

    def _remove(self, name: str, event: int) -> str:
        """
        @return: what C{removeReader} or C{removeWriter} raised, or C{""}.
        """
        method = "removeReader" if event == READ else "removeWriter"
        self.contract.remove(name, event)
        raised = ""
        before = len(self.judge.violations)
        for reactor in self.reactors:
            try:
                getattr(reactor.reactor, method)(reactor.channels[name])
            except Exception as e:
                raised = repr(e)
                self.judge.brokeAs(
                    "remove-never-raises",
                    _errnoName(e),
                    method,
                    name,
                    "raised",
                    repr(e),
                )
        self._said(
            before,
            "s.reactor.{}({})".format(method, self.transcript.ref(name)),
            raised,
        )
        return raised

    def _loseConnection(self, name: str) -> None:
        """
        Close a channel as a transport does: remove it, close its
        descriptor, and make C{fileno()} return -1.
        """
        before = len(self.judge.violations)
        quiet, self.transcript.quiet = self.transcript.quiet, True
        try:
            raised = [self._remove(name, READ), self._remove(name, WRITE)]
        finally:
            self.transcript.quiet = quiet
        number = self.ours.channels[name].number
        if number in self.world.files:
            self.world.close(number)
        self._setNumber(name, -1)
        self._said(
            before,
            "s.loseConnection({})".format(self.transcript.ref(name)),
            raised[0] or raised[1],
        )

    # Steps.

    @initialize(kind=st.sampled_from(KINDS))
    def openFirst(self, kind: str) -> None:
        """
        Start with one socket pair, pipe or regular file.
        """
        self.transcript.steps += 1
        self.transcript.first = kind
        self._open(kind)

    def takeStep(self, step: Step) -> None:
        """
        Take one step: call the step method C{step} names with its three
        numbers, and write it down (L{Transcript.trace}).
        """
        what, index, other, variant = step
        self.transcript.steps += 1
        self.transcript.trace.append(step)
        getattr(self, what)(index, other, variant)

    def open(self, index: int, other: int, variant: int) -> None:
        """
        Open a socket pair, a pipe or the regular file, with a channel for
        each descriptor (nothing when the machine has enough open).
        """
        if len(self.world.files) < MAX_OPEN:
            self._open(KINDS[variant % len(KINDS)])

    def readiness(self, index: int, other: int, variant: int) -> None:
        """
        Change what a live channel's file is ready for: its peer writes to
        it, or it is drained, or its send buffer is filled, or its peer
        reads everything.
        """
        change = ("readable", "readable", "drain", "unwritable", "writable")[
            variant % 5
        ]
        openFile = self._fileOf(self._live(index))
        if openFile is None:
            return
        if change == "readable":
            fillFile(self.transcript, openFile.peer, 1)
        elif change == "drain":
            drainFile(self.transcript, openFile)
        elif change == "unwritable":
            fillFile(self.transcript, openFile, 0)
        else:
            drainFile(self.transcript, openFile.peer)

    def hangUp(self, index: int, other: int, variant: int) -> None:
        """
        The peer of a channel's descriptor closes, as a transport does:
        every channel on the peer's number is removed and gets -1 from
        C{fileno()}; the channel sees a hang-up (or, for a pipe's write end,
        an error).
        """
        openFile = self._fileOf(self._live(index))
        if openFile is None or openFile.peer is None:
            return
        peer = openFile.peer
        number = peer.number
        if number is None:
            return
        for name in self.channels:
            if self.ours.channels[name].number == number:
                self._remove(name, READ)
                self._remove(name, WRITE)
                self._setNumber(name, -1)
                self.transcript.say("{}.number = -1".format(self.transcript.ref(name)))
        self.world.close(number)
        self.transcript.say('s.close("{}")'.format(peer.name), "the peer hangs up")

    def add(self, index: int, other: int, variant: int) -> None:
        """
        C{addReader}, C{addWriter} or both.
        """
        name = self._live(index)
        for event in EVENTS[variant % len(EVENTS)]:
            self._add(name, event)

    def remove(self, index: int, other: int, variant: int) -> None:
        """
        C{removeReader}, C{removeWriter} or both.
        """
        name = self._pick(index, lambda channel: self.contract.listed(channel.name))
        for event in EVENTS[variant % len(EVENTS)]:
            self._remove(name, event)

    def removeAll(self, index: int, other: int, variant: int) -> None:
        """
        C{removeAll} returns every channel that was registered.
        """
        evicted = set(self.contract.evicted)
        expected = self.contract.removeAll()
        before = len(self.judge.violations)
        raised = ""
        for reactor in self.reactors:
            try:
                removed = {r.name for r in reactor.reactor.removeAll()} - {
                    getattr(r, "name", None) for r in reactor.internal
                }
            except Exception as e:
                raised = repr(e)
                self.judge.broke("lists-what-was-added", "removeAll raised", raised)
                continue
            if not expected - evicted <= removed <= expected:
                self.judge.broke("lists-what-was-added", "removeAll", removed, expected)
        self._said(before, "s.reactor.removeAll()", raised)

    def loseConnection(self, index: int, other: int, variant: int) -> None:
        """
        Close a channel as a transport does.
        """
        self._loseConnection(self._live(index))

    def iterate(self, index: int, other: int, variant: int) -> None:
        """
        One iteration: every call is judged as it is made, and what had to
        be called was.
        """
        contract = self.contract
        iteration = self.judge.iteration = Iteration(contract)
        contract.lost.clear()

        def beforeWait() -> None:
            contract.waits += 1
            iteration.lostPolling = set(contract.lost)
            contract.touched.clear()
            contract.lost.clear()
            iteration.wait(contract, self.world)

        # A wait under a millisecond, but not once a repair may be under way
        # (a reactor may then wait without a timeout to finish it).
        timeout = SHORT_TIMEOUT if variant % 3 == 2 and not self.tampered else 0
        if self.target.asyncio:
            # Its loop is turned without a timeout (Target.wait).
            timeout = 0
        self.transcript.say("s.iterate({})".format(timeout or ""))
        self.transcript.quiet = True
        try:
            got = self.ours.iterate(beforeWait, timeout)
        except Exception as e:
            self.judge.broke("no-error-escapes", "the iteration raised", repr(e))
            return
        finally:
            self.judge.iteration = None
            self.transcript.quiet = False
        self._afterIteration(iteration, got, timeout)

    def _afterIteration(
        self, iteration: Iteration, got: List[Call], timeout: float
    ) -> None:
        self.judge.shortWait(timeout, got)
        count = len({name for name, _ in iteration.batchCalls})
        _event("iteration: batch dispatched to {} channels".format(min(count, 3)))
        self.judge.mustHaveCalled(iteration)
        if self.other is not None:
            self.judge.compareWithReference(iteration, got)
        self.judge.masksAfter()

    # Invariants.

    @invariant()
    def judged(self) -> None:
        """
        After every step: the lists, the kernel's view, the warnings; then
        raise the first rule the step broke, with the program so far.
        """
        self.judge.lists()
        self.judge.kernelView()
        if self.warnings > self.contract.evictions:
            self.judge.broke(
                "last-added-owns-number",
                self.warnings,
                "warnings",
                self.contract.evictions,
            )
        for happening in sorted(self.judge.happenings):
            _event(happening)
        self.judge.happenings.clear()
        if self.judge.violations:
            # Twisted's rules first: a stricter check broken by the same
            # step is the lesser news.
            order = [rule.name for rule in RULES]
            first = min(
                range(len(self.judge.violations)),
                key=lambda i: order.index(self.judge.violations[i][0]),
            )
            self._raise(*self.judge.violations[first], self.transcript.ends.get(first))

    def _raise(
        self, rule: str, variant: str, detail: Tuple[Any, ...], end: Optional[int]
    ) -> None:
        raise broken(self.transcript, self.target, rule, variant, detail, end)


def broken(
    transcript: Transcript,
    target: Target,
    rule: str,
    variant: str,
    detail: Tuple[Any, ...],
    end: Optional[int] = None,
) -> RuleBroken:
    """
    @param end: how many of the program's lines to keep, when the rule
        broke in a call whose step went on (L{Transcript.ends}).
    @return: the exception that says C{rule} broke (in the way C{variant}
        names), with the example so far as a program.
    """
    what = "broke {}{} ({}): {}".format(
        rule,
        " ({})".format(variant) * bool(variant),
        RULES_BY_NAME[rule].seen,
        " ".join(str(d) for d in detail),
    )
    program = transcript.program(target, what, end)
    error = brokenError(rule, variant)(
        "{}\n\n{} steps; the example as a program:\n\n{}".format(
            what, transcript.steps, program
        )
    )
    error.program = program
    error.steps = transcript.steps
    error.first = transcript.first
    error.trace = tuple(transcript.trace)
    return error


def _errnoName(error: BaseException) -> str:
    """
    @return: the name of the errno C{error} carries (C{EBADF}), or its
        type's name.
    """
    number = getattr(error, "errno", None)
    if number:
        return errno.errorcode.get(number, type(error).__name__)
    return type(error).__name__


def _describe(event: Dict[str, Any]) -> str:
    failure = event.get("log_failure")
    if failure is not None:
        return "{}: {}".format(failure.type.__name__, failure.value)
    return str(event.get("log_format") or event.get("message"))
