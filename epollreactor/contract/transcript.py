"""
L{Transcript}: an example of the reactor machine, written down as it runs
as a program a person can paste and run (on L{epollreactor.contract.program}),
so that a broken rule comes with its shrunk example in plain Python.
"""

from typing import Dict, List, Optional, Tuple

from epollreactor.contract.target import Target
from epollreactor.contract.world import OpenFile

#: One step of the reactor machine, as Hypothesis drew it: the name of a
#: step method and three numbers that pick its channels and variant.
Step = Tuple[str, int, int, int]


class Transcript:
    """
    The program so far.

    @ivar lines: its statements, one per line.
    @ivar steps: how many steps the machine took.
    @ivar first: the kind of file the machine opened first.
    @ivar trace: every step after that, so that the example can be run
        again without Hypothesis (L{epollreactor.contract.shrink}).
    @ivar ends: for a rule broken by a call to the reactor, by the index
        of the violation the judge recorded, how many lines the program
        had after that call: it ends there, as the program stops there.
    @ivar quiet: whether calls are not written down (they are made by a
        channel's reactions, which the program sets up once).
    @ivar topLevel: names of the channels the program binds to variables;
        the others (opened inside a reaction) are looked up in the session.
    """

    def __init__(self) -> None:
        """
        An empty program.
        """
        self.lines: List[str] = []
        self.steps = 0
        self.first = ""
        self.trace: List[Step] = []
        self.ends: Dict[int, int] = {}
        self.quiet = False
        self.topLevel: Dict[str, None] = {}

    def say(self, line: str, comment: str = "") -> None:
        """
        Add a statement, unless L{quiet}.
        """
        if not self.quiet:
            self.lines.append(line + ("  # " + comment if comment else ""))

    def call(self, line: str, raised: str, broke: bool) -> None:
        """
        Write down a call to the reactor, unless L{quiet}.

        @param raised: what it raised, or C{""}.
        @param broke: whether what it did broke a rule.  A call that
            raised and broke no rule is written so that the program goes
            on, printing what was raised (L{epollreactor.contract.program.Session.tolerating}), as the
            machine went on; one that broke a rule stops the program.
        """
        comment = "raises " + raised if raised else ""
        if raised and not broke:
            line = "with s.tolerating(): " + line
        self.say(line, comment)

    def ref(self, name: str) -> str:
        """
        @return: how the program names channel C{name}.
        """
        if name in self.topLevel:
            return name
        return 's.channels["{}"]'.format(name)

    @staticmethod
    def pins(files: List[OpenFile], previous: List[OpenFile]) -> List[Optional[str]]:
        """
        @return: for each of C{files} just opened, the name of the closed
            file among C{previous} whose number the kernel gave it, or
            C{None}: the program's kernel must reuse the same numbers.
        """
        pins: List[Optional[str]] = []
        for openFile in files:
            earlier = [
                f.name
                for f in previous
                if f.lastNumber == openFile.number and f.number is None
            ]
            pins.append(earlier[-1] if earlier else None)
        return pins

    def opened(
        self,
        names: List[str],
        call: str,
        pins: List[Optional[str]],
        files: List[OpenFile],
    ) -> None:
        """
        Write down the opening of C{files}, whose channels are C{names}:
        C{call} is the session's method and its first arguments, C{pins}
        what L{pins} said.
        """
        onto = ""
        if any(pins):
            onto = ", onto=[{}]".format(", ".join(repr(pin) for pin in pins))
        if not self.quiet:
            for name in names:
                self.topLevel[name] = None
        where = ", ".join("{} ({})".format(f.name, f.kind) for f in files)
        self.say("[{}] = s.{}{})".format(", ".join(names), call, onto), "on " + where)

    def program(self, target: Target, broken: str, end: Optional[int] = None) -> str:
        """
        @param end: how many lines to keep, or C{None} for all.
        @return: the program, ending with the comment C{broken}.
        """
        body = target.programHeader() + self.lines[:end]
        return "\n".join(body + ["# ^ " + broken])
