"""
The stricter check C{lost-within-bound}, on a machine of its own: a
registration lost behind the reactor's back (its number closed, or naming
another file now, or its object's C{fileno()} -1) gets C{connectionLost}
within L{LOST_BOUND} seconds of the reactor's clock, idle or busy, and the
file its number names now is never read on its behalf meanwhile.

What is lost is judged by the world the machine keeps, which follows the
kernel: a channel is lost when its number no longer names the file it was
made for (L{Channel.intact<epollreactor.contract.channel.Channel.intact>}).
The time is the fake clock the machine gives the reactor's C{seconds()}
(a second per iteration, L{epollreactor.contract.target.FakeClock}), so
the rule costs no real waiting.  A reactor whose checks keep a clock of
their own, as L{epollreactor.EPollReactor}'s do
(C{_registrations.clock}), is given the same fake clock.

A machine made with C{beside} runs every program beside that many more
registrations (L{Ballast}), so that the bound is judged where checking
every registration within it costs the most: a reactor that checks a
fixed number a second, or only a part per iteration, breaks it there.
"""

import os
import socket
from typing import Any, Dict, Iterable, List, Set, Type

from epollreactor.contract.behind import AloneMachine
from epollreactor.contract.channel import Call, Channel
from epollreactor.contract.model import Iteration
from epollreactor.contract.target import Target
from epollreactor.contract.transcript import Step

__all__ = ["LOST_BOUND", "Ballast", "LostMachine", "lostMachine"]

#: Seconds of the reactor's clock within which a lost registration's
#: object must get C{connectionLost} (Twisted's poll and select reactors
#: tell at once).
LOST_BOUND = 1.0


class Ballast:
    """
    An idle reader beside the machine's channels: one end of a socket pair
    nothing is written to, so never ready and never lost while the machine
    runs; a reactor that reads it or loses it breaks C{lost-within-bound}.

    @ivar judge: the machine's judge.
    @ivar name: how C{removeAll} and the transcript tell it from channels.
    @ivar ended: set once the machine tears down, when losing it is due.
    """

    def __init__(self, fd: int, judge: Any) -> None:
        """
        @param fd: its socket's number, which it owns from now on.
        @param judge: the machine's judge.
        """
        self.fd = fd
        self.judge = judge
        self.name = "ballast-{}".format(fd)
        self.ended = False

    def fileno(self) -> int:
        """
        @return: its socket's number.
        """
        return self.fd

    def doRead(self) -> None:
        """
        Never due: nothing is written to its socket.
        """
        self.judge.broke("lost-within-bound", self.name, "doRead", "never ready")

    def connectionLost(self, reason: Any) -> None:
        """
        Due only once the machine has ended: its socket stays open.
        """
        if not self.ended:
            self.judge.broke("lost-within-bound", self.name, "lost", repr(reason))

    def logPrefix(self) -> str:
        """
        @return: its name, for the reactor's log.
        """
        return self.name


class LostMachine(AloneMachine):
    """
    L{AloneMachine}, judging C{lost-within-bound} too.

    @cvar beside: how many L{Ballast} registrations each program runs
        beside.
    @ivar registered: the channels seen listed and intact, whose loss is
        judged.
    @ivar lostSince: each of them lost since, while listed, by name, with
        the reactor's time of the step that lost it.
    @ivar ballast: the L{Ballast} readers, added to ours as its own
        (C{internal}), so that no listing or kernel view counts them.
    """

    beside = 0

    def __init__(self) -> None:
        """
        The machine, with the reactor's own check clock (if it has one)
        set to the machine's fake clock, and its L{Ballast} added.
        """
        super().__init__()
        self.registered: Set[str] = set()
        self.lostSince: Dict[str, float] = {}
        table = getattr(self.ours.reactor, "_registrations", None)
        if table is not None and hasattr(table, "clock"):
            table.clock = self.ours.clock.seconds
        self.ballast: List[Ballast] = []
        for _ in range(self.beside // 2):
            for end in socket.socketpair():
                self.ballast.append(Ballast(end.detach(), self.judge))
        for reader in self.ballast:
            self.ours.reactor.addReader(reader)
            self.ours.internal.add(reader)

    def teardown(self) -> None:
        """
        Tear down as L{AloneMachine} does, then close the ballast.
        """
        for reader in self.ballast:
            reader.ended = True
        try:
            super().teardown()
        finally:
            for reader in self.ballast:
                os.close(reader.fd)

    def takeStep(self, step: Step) -> None:
        """
        Take the step, then note the channels it made lost: those listed
        (not evicted, not polled) and intact before it, whose number no
        longer names their file.  One added after its file was replaced
        lost nothing: the reactor watches what its number names.
        """
        super().takeStep(step)
        contract = self.contract
        for name in self.channels:
            if not contract.owns(name) or name in contract.polled:
                self.registered.discard(name)
                self.lostSince.pop(name, None)
            elif self.ours.channels[name].intact():
                self.registered.add(name)
            elif name in self.registered and name not in self.lostSince:
                self.lostSince[name] = self.ours.clock.now

    def _add(self, name: str, event: int, inCallback: bool = False) -> None:
        """
        Judge an add as L{AloneMachine} does; but a channel added again
        after another took its number is a new addition
        (L{Contract.expectAdd<epollreactor.contract.model.Contract.expectAdd>}),
        which lost nothing, even when the eviction and the new addition
        fall in one step (one iteration's callbacks), which L{takeStep}
        alone would not see.
        """
        if name in self.contract.evicted:
            self.registered.discard(name)
            self.lostSince.pop(name, None)
        super()._add(name, event, inCallback)

    def _call(self, channel: Channel, method: str, atEnd: bool) -> None:
        """
        Judge a call as L{AloneMachine} does; and a C{doRead} of a lost
        channel whose number names another file now, which would read that
        file on its behalf, breaks C{lost-within-bound}.  (A C{doWrite} may
        come from the channel's own C{addWriter} since, as with any
        reactor.)
        """
        if method == "connectionLost":
            # Told: added again, it is judged as one added after its file
            # was replaced.
            self.registered.discard(channel.name)
            self.lostSince.pop(channel.name, None)
        elif (
            method == "doRead"
            and channel.name in self.lostSince
            and channel.number in self.world.files
        ):
            self.judge.brokeAs(
                "lost-within-bound", "newcomer", channel.name, method, "on another file"
            )
        super()._call(channel, method, atEnd)

    def _afterIteration(
        self, iteration: Iteration, got: List[Call], timeout: float
    ) -> None:
        """
        After the other judgements: every channel lost more than
        L{LOST_BOUND} ago, and listed still, breaks C{lost-within-bound}.
        """
        super()._afterIteration(iteration, got, timeout)
        now = self.ours.clock.now
        for name, since in sorted(self.lostSince.items()):
            if self.contract.owns(name) and now - since > LOST_BOUND:
                self.judge.broke(
                    "lost-within-bound",
                    name,
                    "lost {:.0f} s ago, still listed".format(now - since),
                )


def lostMachine(
    reactor: Any, ignored: Iterable[str] = (), beside: int = 0
) -> Type[LostMachine]:
    """
    The machine that judges C{lost-within-bound} for C{reactor}.

    @param reactor: a reactor class, any callable that returns a new
        reactor, or a L{Target}.
    @param ignored: names of rules not to judge.
    @param beside: how many idle registrations (L{Ballast}) each program
        runs beside.
    @return: a C{RuleBasedStateMachine} subclass; its C{TestCase} runs it.
    """
    target = reactor if isinstance(reactor, Target) else Target(reactor)
    machine: Type[LostMachine] = type(
        "LostMachine",
        (LostMachine,),
        {"target": target, "ignored": frozenset(ignored), "beside": beside},
    )
    return machine
