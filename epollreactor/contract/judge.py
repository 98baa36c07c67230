"""
L{Judge}: every call a reactor makes, and its state after every step,
judged by the rules of L{epollreactor.contract.rules} against the model
(L{epollreactor.contract.model}), the files' readiness and, for an epoll
reactor, the kernel's view of its interest list.  A broken rule is recorded
(L{Judge.violations}), not raised: the reactor may be calling into a channel,
and would catch and log an exception there.
"""

from typing import Any, Callable, List, Optional, Set, Tuple

from epollreactor.contract.channel import Call, Channel
from epollreactor.contract.kernel import DISCONNECTED
from epollreactor.contract.model import READ, WRITE, Contract, Iteration
from epollreactor.contract.target import ReactorUnderTest
from epollreactor.contract.world import World

#: A broken rule: its name, which way it broke, and what broke it.
Violation = Tuple[str, str, Tuple[Any, ...]]


class Judge:
    """
    The rules, applied.

    @ivar ignored: names of rules not judged, or C{rule/variant} for one
        way of breaking one (broken already, in the command's earlier
        rounds).
    @ivar violations: broken rules since the last step.
    @ivar happenings: what the step made happen, for Hypothesis's
        statistics.
    @ivar iteration: the iteration under way, or C{None}.
    """

    def __init__(
        self,
        contract: Contract,
        world: World,
        ours: ReactorUnderTest,
        reference: Optional[ReactorUnderTest],
        ignored: Set[str],
    ) -> None:
        """
        @param contract: the model.
        @param world: the files.
        @param ours: the reactor under test.
        @param reference: a reference reactor beside it, or C{None}.
        @param ignored: see L{ignored}.
        """
        self.contract = contract
        self.world = world
        self.ours = ours
        self.reference = reference
        self.ignored = ignored
        self.violations: List[Violation] = []
        self.happenings: Set[str] = set()
        self.iteration: Optional[Iteration] = None

    def broke(self, rule: str, *detail: Any) -> None:
        """
        Record that C{rule} broke, unless it is ignored.
        """
        self.brokeAs(rule, "", *detail)

    def brokeAs(self, rule: str, variant: str, *detail: Any) -> None:
        """
        Record that C{rule} broke in the way C{variant} names, unless it or
        that way is ignored.
        """
        if (
            rule not in self.ignored
            and "{}/{}".format(rule, variant) not in self.ignored
        ):
            self.violations.append((rule, variant, detail))

    # Calls (only-while-wanted, only-when-ready, once-per-iteration,
    # no-spurious-connection-lost).

    def call(self, channel: Channel, method: str, atEnd: bool) -> bool:
        """
        Judge a call the reactor under test just made, against the interest
        at this moment.

        @return: whether the channel's reactions are to run.
        """
        name = channel.name
        iteration = self.iteration
        if iteration is None:
            self.broke("only-when-ready", name, method, "outside an iteration")
            return False
        key = (name, method)
        iteration.counts[key] = iteration.counts.get(key, 0) + 1
        polling = iteration.phase == "polling"
        if polling:
            self.happenings.add("continuous polling: " + method)
        else:
            iteration.batchCalls[key] = iteration.counts[key]
        if name in self.contract.evicted and method != "connectionLost":
            # (Its connectionLost is judged as anyone's, below.)
            self.broke("last-added-owns-number", key, "called, though evicted")
        renewed = key in iteration.renewed
        iteration.renewed.discard(key)
        if iteration.counts[key] > 1 and method != "connectionLost":
            if renewed:
                self.happenings.add("called again after its interest was renewed")
            else:
                self.broke("once-per-iteration", key, "twice in one iteration")
        if method == "doRead":
            self._doRead(iteration, key, polling, atEnd)
        elif method == "doWrite":
            self._doWrite(iteration, key, polling)
        else:
            self._connectionLost(iteration, channel, polling)
            return False
        return True

    def _doRead(
        self, iteration: Iteration, key: Call, polling: bool, atEnd: bool
    ) -> None:
        name = key[0]
        ready = iteration.ready.get(name, 0)
        if polling:
            if name not in iteration.polledReading:
                self.broke("only-while-wanted", key, "not polled for reading")
        else:
            if name not in self.contract.reading:
                self.broke("only-while-wanted", key, "no read interest at that moment")
            if not ready & (READ | DISCONNECTED):
                self.broke("only-when-ready", key, "file not readable at the wait")
        if atEnd:
            iteration.atEnd.add(name)

    def _doWrite(self, iteration: Iteration, key: Call, polling: bool) -> None:
        name = key[0]
        contract = self.contract
        if polling:
            # Nothing runs between the poller's copy of its writers and
            # its first doWrite, which is judged before its reactions.
            if iteration.writersPass is None:
                iteration.writersPass = contract.writing & contract.polled
            if name not in iteration.writersPass:
                self.broke("only-while-wanted", key, "not polled for writing")
            return
        if name not in contract.writing:
            self.broke("only-while-wanted", key, "no write interest at that moment")
        if not iteration.ready.get(name, 0) & WRITE:
            if contract.earlyWriteAllowed(name):
                self.happenings.add("early doWrite, file not writable")
            else:
                self.broke("only-when-ready", key, "file not writable at the wait")

    def _connectionLost(
        self, iteration: Iteration, channel: Channel, polling: bool
    ) -> None:
        name = channel.name
        ready = iteration.ready.get(name, 0)
        openFile = self.world.files.get(channel.number)
        if name in self.contract.evicted:
            pass
        elif not (
            openFile is None
            or not channel.intact()
            or openFile.kind == "regular"
            or (not polling and name in iteration.unwatchable)
            or channel.number == -1
            or name in iteration.atEnd
            or (not polling and ready & DISCONNECTED)
        ):
            self.broke("no-spurious-connection-lost", name, "healthy, ready", ready)
        self.contract.unlist(name)

    # What an iteration must have called (ready-gets-called).

    def mustHaveCalled(self, iteration: Iteration) -> None:
        """
        Judge the calls of an iteration that ended.
        """
        contract = self.contract
        counts = iteration.counts
        for name, channel in contract.channels.items():
            lost = (name, "connectionLost") in counts
            if name in iteration.polledReading and name not in contract.evicted:
                if not ((name, "doRead") in counts or lost):
                    self.brokeAs("ready-gets-called", "polled", name, "not read")
            if (
                name in iteration.polledWriting
                and name not in contract.evicted
                and (name, WRITE) not in iteration.lostPolling
                and not ((name, "doWrite") in counts or lost)
            ):
                self.brokeAs("ready-gets-called", "polled", name, "not written")
            if (
                name not in iteration.intact
                or not channel.intact()
                or name in contract.evicted
            ):
                continue
            self._readyCalled(iteration, name, lost)

    def _readyCalled(self, iteration: Iteration, name: str, lost: bool) -> None:
        contract = self.contract
        counts = iteration.counts
        ready = iteration.ready[name]
        keptReading = name in iteration.reading and (name, READ) not in contract.lost
        keptWriting = name in iteration.writing and (name, WRITE) not in contract.lost
        if keptReading and ready & (READ | DISCONNECTED):
            if not ((name, "doRead") in counts or lost):
                self.brokeAs("ready-gets-called", "read", name, "readable, no doRead")
        if keptWriting and ready & WRITE and not ready & DISCONNECTED:
            if not ((name, "doWrite") in counts or lost):
                self.brokeAs("ready-gets-called", "write", name, "writable, no doWrite")
        if (
            keptWriting
            and name not in iteration.reading
            and name not in contract.touched
            and ready & DISCONNECTED
            and not lost
        ):
            # A writer that began reading inside the batch reads its
            # hang-up instead.
            self.brokeAs("ready-gets-called", "hang-up", name, "writer not lost", ready)
        if (
            name in iteration.reading
            and (name, READ) in contract.lost
            and name in contract.writing
            and ready & READ
        ):
            self.happenings.add(
                "read interest taken from a ready reader that still writes, "
                "inside the batch"
            )

    def shortWait(self, timeout: float, got: List[Call]) -> None:
        """
        A wait under a millisecond in which nothing was ready, nor a write
        owed, slept in the kernel rather than turn a timer due in under a
        millisecond into a busy poll (C{short-timeout-sleeps}).  A thread
        preempted meanwhile tells nothing (L{sleptIn
        <epollreactor.contract.kernel.sleptIn>} says C{None}).
        """
        contract = self.contract
        if (
            timeout
            and not got
            and not any(contract.earlyWriteAllowed(name) for name in contract.gained)
        ):
            self.happenings.add("short timeout, nothing ready")
            if self.ours.slept is False:
                self.broke("short-timeout-sleeps", "doIteration({})".format(timeout))

    def compareWithReference(self, iteration: Iteration, got: List[Call]) -> None:
        """
        The reference calls a subset of what the reactor under test calls;
        what only the latter calls is an early C{doWrite} or a read of a
        hang-up without C{EPOLLIN}.
        """
        assert self.reference is not None
        referenceGot = set(self.reference.iterate())
        if not referenceGot <= set(got):
            self.broke(
                "agrees-with-reference",
                sorted(referenceGot - set(got)),
                "reference only",
            )
        for name, method in set(got) - referenceGot:
            ready = iteration.ready.get(name, 0)
            early = method == "doWrite" and self.contract.earlyWriteAllowed(name)
            hangUp = method == "doRead" and ready & 0x010 and not ready & READ
            if hangUp:
                self.happenings.add("hang-up without EPOLLIN read")
            if not (early or hangUp):
                self.broke("agrees-with-reference", name, method, ready, "ours only")

    # State after a step (lists-what-was-added, kernel-agrees).

    def lists(self) -> None:
        """
        C{getReaders()} and C{getWriters()} list what the model says.
        """
        contract = self.contract
        for reactor in [self.ours] + ([self.reference] if self.reference else []):
            for listing, wanted in (
                (reactor.readers, contract.reading),
                (reactor.writers, contract.writing),
            ):
                self._listing(reactor, listing, wanted)

    def _listing(
        self,
        reactor: ReactorUnderTest,
        listing: Callable[[], List[str]],
        wanted: Set[str],
    ) -> None:
        rule = (
            "lists-what-was-added" if reactor is self.ours else "agrees-with-reference"
        )
        try:
            listed = listing()
        except Exception as e:
            self.broke(rule, listing.__name__, "raised", repr(e))
            return
        evicted = self.contract.evicted
        if len(listed) != len(set(listed)):
            self.broke(rule, listing.__name__, "lists one twice", listed)
        if not wanted - evicted <= set(listed) <= wanted:
            self.broke(rule, listing.__name__, sorted(listed), "wanted", sorted(wanted))
        if set(listed) & evicted:
            self.broke(
                "last-added-owns-number", "still listed", sorted(set(listed) & evicted)
            )

    def kernelView(self) -> None:
        """
        An epoll reactor's interest list holds no entry the application
        could not remove, and one for the right file for every intact
        channel listed and not polled.
        """
        view = self.ours.registrations()
        if view is None:
            return
        contract = self.contract
        listed = {
            name: self.ours.channels[name]
            for name in contract.reading | contract.writing
            if name not in contract.polled
        }
        reported = {channel.number for channel in listed.values()}
        for number in view:
            if number not in reported:
                self.broke("kernel-agrees", number, "registered, and no one reports it")
        for name, channel in listed.items():
            if channel.intact() and name not in contract.evicted:
                assert channel.file is not None
                if view.get(channel.number, (0, None))[1] != channel.file.inode:
                    self.broke(
                        "kernel-agrees", name, channel.number, "not watched", view
                    )

    def masksAfter(self) -> None:
        """
        After an iteration, an intact channel whose interest did not change
        since the wait has its interest as its mask, but for an EPOLLOUT
        that a new writer's early attempt stands in for.
        """
        view = self.ours.registrations()
        if view is None:
            return
        contract = self.contract
        for name, channel in self.ours.channels.items():
            if (
                name in contract.touched
                or name in contract.polled
                or name in contract.evicted
                or not contract.listed(name)
                or not channel.intact()
            ):
                continue
            want = contract.wanted(name)
            mask = view.get(channel.number, (None, None))[0]
            allowed = {want}
            if contract.earlyWriteAllowed(name):
                allowed.add(want & ~WRITE)
            if mask not in allowed:
                self.broke(
                    "kernel-agrees", name, channel.number, "mask", mask, "want", want
                )
