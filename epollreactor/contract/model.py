"""
The model the reactor machine judges by: what a user of C{IReactorFDSet}
can know (L{Contract}: which channel asked for what), and what one iteration
is judged by (L{Iteration}: the interest and the readiness at the wait, and
the calls seen).
"""

from typing import Dict, Optional, Set, Tuple

from epollreactor.contract.channel import Call, Channel
from epollreactor.contract.world import READABLE, WRITABLE, World

#: The interests, by the C{poll(2)} bit they wait for.
READ = READABLE
WRITE = WRITABLE


class Contract:
    """
    Which channel wants what.

    @ivar reading: names of the channels that want C{doRead}.
    @ivar writing: names of the channels that want C{doWrite}.
    @ivar polled: names of the channels whose file was a regular file when
        added (polled continuously by an epoll reactor); a subset of
        C{reading | writing}, or left behind by C{removeAll} and harmless.
    @ivar evicted: names of listed channels whose number a channel added
        later took: Twisted's contract lets a reactor list them or not;
        the stricter rule drops them (C{last-added-owns-number}).
    @ivar gained: name -> the wait counts when the channel began writing
        (the last two at most); it may get an early C{doWrite} after the
        next wait, even if it stopped and began again since.
    @ivar evictions: how many channels were evicted, each owed a warning.
    @ivar touched: names whose interest changed since the last wait.
    @ivar lost: C{(name, event)} interests lost since the last wait.
    """

    def __init__(self) -> None:
        """
        Nothing wanted yet.
        """
        self.channels: Dict[str, Channel] = {}
        self.reading: Set[str] = set()
        self.writing: Set[str] = set()
        self.polled: Set[str] = set()
        self.evicted: Set[str] = set()
        self.gained: Dict[str, Set[int]] = {}
        self.evictions = 0
        self.waits = 0
        self.touched: Set[str] = set()
        self.lost: Set[Tuple[str, int]] = set()

    def listed(self, name: str) -> bool:
        """
        @return: whether the channel wants anything (evicted or not).
        """
        return name in self.reading or name in self.writing

    def owns(self, name: str) -> bool:
        """
        @return: whether the channel wants something and was not evicted.
        """
        return self.listed(name) and name not in self.evicted

    def interest(self, event: int) -> Set[str]:
        """
        @return: L{reading} for C{READ}, L{writing} for C{WRITE}.
        """
        return self.reading if event == READ else self.writing

    def expectAdd(self, channel: Channel, world: World, event: int) -> Optional[type]:
        """
        Before C{addReader} (C{READ}) or C{addWriter} (C{WRITE}) of
        C{channel}: evict the channels its number is taken from, and say
        what the stricter rule wants raised.

        @return: C{ValueError}, C{OSError}, or C{None}
            (C{add-refuses-bad-descriptor}).
        """
        name = channel.name
        if self.owns(name):
            return None
        if name in self.evicted:
            # Added again after its number was taken: a new addition.
            self.unlist(name)
        number = channel.number
        if number < 0:
            return ValueError
        for other in list(self.reading | self.writing):
            if (
                other != name
                and other not in self.polled
                and other not in self.evicted
                and self.channels[other].number == number
            ):
                self.evicted.add(other)
                self.evictions += 1
        openFile = world.files.get(number)
        if openFile is None:
            return OSError
        if openFile.kind == "regular":
            self.polled.add(name)
        else:
            self.polled.discard(name)
        return None

    def added(self, name: str, event: int) -> None:
        """
        C{addReader}/C{addWriter} returned: the channel wants C{event}.
        """
        interest = self.interest(event)
        if name not in interest:
            interest.add(name)
            self.touched.add(name)
            if event == WRITE:
                waits = self.waits
                self.gained[name] = {
                    w for w in self.gained.get(name, ()) if w >= waits - 1
                } | {waits}

    def remove(self, name: str, event: int) -> None:
        """
        C{removeReader} (C{READ}) or C{removeWriter} (C{WRITE}).
        """
        interest = self.interest(event)
        if name in interest:
            interest.discard(name)
            self.touched.add(name)
            self.lost.add((name, event))
        if not self.listed(name):
            self.evicted.discard(name)

    def unlist(self, name: str) -> None:
        """
        Take away both interests.
        """
        self.remove(name, READ)
        self.remove(name, WRITE)

    def removeAll(self) -> Set[str]:
        """
        @return: the names C{removeAll()} must return (evicted ones may be
            among them); none is listed after.
        """
        removed = self.reading | self.writing
        for name in removed:
            self.unlist(name)
        return removed

    def wanted(self, name: str) -> int:
        """
        @return: the mask the channel's interest stands for.
        """
        return (READ if name in self.reading else 0) | (
            WRITE if name in self.writing else 0
        )

    def earlyWriteAllowed(self, name: str) -> bool:
        """
        @return: whether the channel began writing between the last wait
            and the one before it, so that it may get one early C{doWrite}
            in this iteration (C{only-when-ready}).
        """
        return self.waits - 1 in self.gained.get(name, ())


class Iteration:
    """
    What one iteration must be judged by: the interest and readiness at
    the wait, and the calls seen.

    @ivar phase: C{"polling"} while C{runUntilCurrent} runs the continuous
        poller, C{"batch"} from the wait on.
    @ivar ready: name -> what the file its number named was ready for at
        the wait (0 for a channel opened since).
    @ivar intact: names of the channels intact at the wait.
    @ivar counts: C{(name, method)} -> how often it was called.
    @ivar renewed: C{(name, method)} whose interest was taken away and given
        again since the channel's last such call in this iteration: it may
        be called once more (a continuously polled reader, removed and
        added again by another's C{doRead} once its number names a socket,
        is read by the poller and then by the batch).
    @ivar atEnd: names whose C{doRead} saw end-of-file.
    @ivar writersPass: the continuous poller's writers when its writers'
        pass began, once it has: Twisted's poller copies its writers after
        its readers' pass and calls every writer in the copy, also one
        removed meanwhile.
    """

    def __init__(self, contract: Contract) -> None:
        """
        @param contract: the interest as the iteration begins.
        """
        self.phase = "polling"
        self.polledReading = contract.reading & contract.polled
        self.polledWriting = contract.writing & contract.polled
        self.writersPass: Optional[Set[str]] = None
        self.reading: Set[str] = set()
        self.writing: Set[str] = set()
        self.ready: Dict[str, int] = {}
        self.intact: Set[str] = set()
        self.unwatchable: Set[str] = set()
        self.counts: Dict[Call, int] = {}
        self.batchCalls: Dict[Call, int] = {}
        self.renewed: Set[Call] = set()
        self.atEnd: Set[str] = set()
        self.lostPolling: Set[Tuple[str, int]] = set()

    def wait(self, contract: Contract, world: World) -> None:
        """
        Just before the wait: take the interest and readiness.
        """
        self.phase = "batch"
        self.reading = set(contract.reading - contract.polled)
        self.writing = set(contract.writing - contract.polled)
        readiness = world.readiness()
        for name, channel in contract.channels.items():
            self.ready[name] = readiness.get(channel.number, 0)
            if channel.intact():
                self.intact.add(name)
            openFile = world.files.get(channel.number)
            if openFile is None or openFile.kind == "regular":
                self.unwatchable.add(name)
