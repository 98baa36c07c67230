"""
The reactor machine's steps behind the reactor's back: closing a
registered descriptor, C{dup2}ing another file onto its number, and giving
channels reactions that change each other's interest during dispatch.  Run
alone only: a reference reactor beside it would share the files.
"""

from hypothesis.stateful import rule

from epollreactor.contract.machine import (
    ACTIONS,
    ALONE_STEPS,
    KINDS,
    MAX_OPEN,
    ReactorMachine,
    _note,
    fillFile,
    steps,
)
from epollreactor.contract.model import READ, WRITE
from epollreactor.contract.transcript import Step


class AloneMachine(ReactorMachine):
    """
    L{ReactorMachine} on one reactor, with four more steps: closing a
    descriptor and C{dup2}ing a new one onto its number behind the
    reactor's back, giving a channel a reaction, and entangling two.
    """

    def _registered(self, index: int) -> str:
        """
        @return: a channel registered (not polled) whose number is open, if
            any.
        """
        contract = self.contract
        return self._pick(
            index,
            lambda channel: (
                contract.owns(channel.name)
                and channel.name not in contract.polled
                and channel.number in self.world.files
            ),
        )

    def closeBehindBack(self, index: int, other: int, variant: int) -> None:
        """
        Close a registered channel's descriptor without telling the reactor
        or the channel.
        """
        openFile = self._fileOf(self._registered(index))
        if openFile is not None:
            assert openFile.number is not None
            _note("close {}".format(openFile))
            self.world.close(openFile.number)
            self.tampered = True
            self.transcript.say(
                's.close("{}")'.format(openFile.name), "behind its back"
            )

    def dup2Onto(self, index: int, other: int, variant: int) -> None:
        """
        Open a new descriptor and C{dup2} it onto a registered channel's
        number, without telling the reactor; the moved file gets a new
        channel, which shares the number with the channels already on it.
        """
        name = self._registered(index)
        target = self._fileOf(name)
        if target is None or len(self.world.files) >= MAX_OPEN:
            return
        number = target.number
        assert number is not None
        kind = KINDS[variant % len(KINDS)]
        previous = list(self.world.allFiles)
        opened = self.world.open(kind)
        _note("dup2 {} onto {}".format(opened[0], target))
        pins = self.transcript.pins(opened, previous)
        self.world.dup2(opened[0], number)
        self.tampered = True
        names = [self._newChannel(openFile) for openFile in opened]
        self.transcript.opened(
            names,
            'dup2Onto("{}", {}.fileno()'.format(kind, self.transcript.ref(name)),
            pins,
            opened,
        )

    def react(self, index: int, other: int, variant: int) -> None:
        """
        From now on, when a registered channel's C{doRead} or C{doWrite}
        runs, it acts on another registered channel (or itself).
        """
        method = ("doRead", "doWrite")[variant % 2]
        action = ACTIONS[other % len(ACTIONS)]
        listed = self.contract.listed
        name = self._pick(index, lambda channel: listed(channel.name))
        target = self._pick(
            other // len(ACTIONS),
            lambda channel: listed(channel.name) and channel.name != name,
        )
        self._setReaction(name, method, action, target)

    def _setReaction(self, name: str, method: str, action: str, target: str) -> None:
        _note("{}.{} -> {}({})".format(name, method, action, target))
        self.reactions[(name, method)] = (action, target)
        ref = self.transcript.ref
        self.transcript.say(
            '{}.react("{}", "{}", {})'.format(ref(name), method, action, ref(target))
        )

    def entangle(self, index: int, other: int, variant: int) -> None:
        """
        Two intact channels on sockets (a new pair if there are not two),
        both reading and writing, both readable, the first given a reaction
        that acts on the second: their events come in one batch, and the
        second's may come after the first changed its interest.
        """

        def onSocket(name: str) -> bool:
            channel = self.ours.channels[name]
            return (
                channel.intact()
                and channel.file is not None
                and channel.file.kind == "socket"
            )

        candidates = [name for name in self.channels if onSocket(name)]
        if len(candidates) < 2:
            if len(self.world.files) >= MAX_OPEN:
                return
            candidates += self._open("socketpair")
        source = candidates[index % len(candidates)]
        others = [name for name in candidates if name != source]
        target = others[other % len(others)]
        for name in (source, target):
            for event in (READ, WRITE):
                self._add(name, event)
            openFile = self._fileOf(name)
            if openFile is not None:
                fillFile(self.transcript, openFile.peer, 1)
        method = ("doRead", "doWrite")[variant % 2]
        action = ACTIONS[variant // 2 % len(ACTIONS)]
        self._setReaction(source, method, action, target)

    @rule(step=steps(ALONE_STEPS))
    def step(self, step: Step) -> None:
        """
        One step of the program (L{ALONE_STEPS}).
        """
        self.takeStep(step)
