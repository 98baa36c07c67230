"""
C{python -m epollreactor.contract REACTOR [--examples N] [--seconds S]}:
run the reactor machine against any importable reactor and print, rule by
rule, what held and what broke, each broken rule with its shortest example
as a program.

The machine runs in rounds: each round runs up to C{--examples} examples
and stops at the rules it found broken (Hypothesis shrinks each); the next
round ignores those, so that one broken rule does not hide another.
Rounds end when one finds nothing new, or when C{--seconds} have passed.
Then each example is shortened again, judged by its rule alone
(L{epollreactor.contract.shrink}).  Exit status 0 when nothing broke (or,
with C{--expect}, when every rule named broke), 1 otherwise.
"""

import argparse
import importlib
import sys
import time
import traceback
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Type

from hypothesis import HealthCheck, Phase, Verbosity, reject, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.internal.conjecture import engine
from hypothesis.stateful import run_state_machine_as_test
from twisted.logger import globalLogBeginner

from epollreactor.contract.lost import lostMachine
from epollreactor.contract.machine import ReactorMachine
from epollreactor.contract.reactor import reactorMachine
from epollreactor.contract.rules import RULES, RuleBroken
from epollreactor.contract.shrink import shorten
from epollreactor.contract.target import ReactorUnderTest, Target

#: How long the command looks for broken rules by default: with the
#: shortening and Python's start-up, a run takes under a minute.
DEFAULT_SECONDS = 20
#: How long Hypothesis's shrinking may go on after the time is up.
SHRINK_AFTER_SECONDS = 5
#: How long each broken rule's example is shortened at most (in all, when
#: the time is limited).
SHORTEN_SECONDS = 10


def load(name: str) -> Any:
    """
    @param name: a dotted name, C{package.module.Class}.
    @return: what it names.
    @raise SystemExit: when it names nothing.
    """
    module, _, attribute = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError) as e:
        raise SystemExit("cannot import {}: {}".format(name, e)) from e


def failures(error: BaseException) -> List[BaseException]:
    """
    @return: the failures in what Hypothesis raised (several when it found
        several bugs); for a failure Hypothesis could not replay (a rule
        judged by timing, as C{short-timeout-sleeps} is), the rule broken
        when it first failed.
    """
    inner = getattr(error, "exceptions", None)
    if inner is not None:
        return [leaf for e in inner for leaf in failures(e)]
    cause: Optional[BaseException] = error
    while cause is not None and not isinstance(cause, RuleBroken):
        cause = cause.__cause__ or cause.__context__
    return [cause or error]


class Budget:
    """
    When the command stops looking for broken rules.

    @ivar stopAt: the time, by L{time.monotonic}, after which no new example
        is run, or C{None} for no limit.
    @ivar examples: how many examples ran, Hypothesis's shrinking included:
        every rule that held, held in each of them.
    @ivar cut: whether the time ran out before a round found nothing new.
    """

    def __init__(self, seconds: float) -> None:
        """
        @param seconds: how long to look; 0 for no limit.
        """
        self.stopAt = time.monotonic() + seconds if seconds > 0 else None
        self.examples = 0
        self.cut = False

    def spent(self) -> bool:
        """
        @return: whether the time is up.
        """
        return self.stopAt is not None and time.monotonic() > self.stopAt


def timed(machine: Type[ReactorMachine], budget: Budget) -> Type[ReactorMachine]:
    """
    @return: C{machine}, made to count its examples and, once C{budget} is
        spent, to end Hypothesis's search: each new example is then
        rejected before it opens anything (C{hypothesis.reject}), so that
        Hypothesis stops generating.  Not once the round found a broken
        rule: Hypothesis then shrinks it, and an example it replays must
        do what it did the first time.
    """

    class Timed(machine):  # type: ignore[valid-type,misc]
        found = False

        def __init__(self) -> None:
            if not Timed.found and budget.examples and budget.spent():
                budget.cut = True
                reject()
            budget.examples += 1
            super().__init__()

        def _raise(
            self,
            rule: str,
            variant: str,
            detail: Tuple[Any, ...],
            end: Optional[int],
        ) -> None:
            Timed.found = True
            super()._raise(rule, variant, detail, end)

    return Timed


def runRound(
    target: Target,
    examples: int,
    ignored: Set[str],
    reference: Optional[Target],
    budget: Budget,
) -> List[BaseException]:
    """
    Run one round.

    @return: the failures found, none when every judged rule held (or the
        budget was spent before any example ran).
    """
    machine = timed(
        lostMachine(target, ignored)
        if reference is None
        else reactorMachine(target, reference, ignored),
        budget,
    )
    # Hypothesis's shrinking stops after MAX_SHRINKING_SECONDS (five
    # minutes), read when it begins, and left to be changed so: here it
    # stops soon after the time is up, and shorten() goes on from there.
    fiveMinutes = engine.MAX_SHRINKING_SECONDS
    if budget.stopAt is not None:
        left = budget.stopAt - time.monotonic() + SHRINK_AFTER_SECONDS
        engine.MAX_SHRINKING_SECONDS = max(int(left), 1)
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=50,
                deadline=None,
                database=None,
                # Not the explain phase: it traces every line the machine
                # runs (sys.settrace before Python 3.12), minutes per bug.
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
                verbosity=Verbosity.quiet,
            ),
        )
    except Unsatisfiable:
        return []
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return failures(e)
    finally:
        engine.MAX_SHRINKING_SECONDS = fiveMinutes
    return []


def search(
    target: Target,
    examples: int,
    reference: Optional[Target],
    ignored: Set[str],
    budget: Budget,
) -> Dict[str, RuleBroken]:
    """
    Run rounds until one finds no rule broken that was not found before,
    or the budget is spent (one round at least: a verdict needs examples).

    @return: each broken rule's shortest failure, by L{RuleBroken.key}
        (a rule that broke in two ways, with two errnos, twice).
    """
    broken: Dict[str, RuleBroken] = {}
    while True:
        began = time.monotonic()
        found = runRound(target, examples, ignored | set(broken), reference, budget)
        new = False
        for failure in found:
            if not isinstance(failure, RuleBroken):
                # Hypothesis could not replay an example (a rule judged by
                # timing, or a reactor that behaves differently the second
                # time): say so, and go on with what did replay.
                print("an example that could not be replayed:", flush=True)
                traceback.print_exception(type(failure), failure, None, limit=0)
                continue
            if failure.key not in broken:
                broken[failure.key] = failure
                new = True
        print(
            "round: {} ways of breaking a rule so far ({:.0f} s)".format(
                len(broken), time.monotonic() - began
            ),
            flush=True,
        )
        if not new:
            break
        if budget.spent():
            budget.cut = True
            break
    return broken


def shortenAll(
    target: Target,
    reference: Optional[Target],
    ignored: Set[str],
    broken: Dict[str, RuleBroken],
    budget: Budget,
) -> None:
    """
    Shorten each way of breaking a rule (L{shorten}), judging only that
    rule, with its other known ways ignored: for at most L{SHORTEN_SECONDS}
    each, or in all when the budget is limited.
    """
    deadline = time.monotonic() + SHORTEN_SECONDS
    for key, failure in sorted(broken.items(), key=lambda item: item[1].steps):
        if budget.stopAt is None:
            deadline = time.monotonic() + SHORTEN_SECONDS
        others = {rule.name for rule in RULES if rule.name != failure.rule}
        otherWays = {
            k for k, f in broken.items() if f.rule == failure.rule and k != key
        }
        machine = reactorMachine(target, reference, ignored | others | otherWays)
        broken[key] = shorten(machine, failure, deadline)


def notApplicable(target: Target) -> Set[str]:
    """
    @return: the rules that cannot be judged on C{target}'s reactor:
        C{kernel-agrees} without an epoll C{_poller}; C{short-timeout-sleeps}
        on Twisted's asyncio reactor, whose loop the machine turns without a
        timeout.
    """
    underTest = ReactorUnderTest(target)
    try:
        rules = set() if underTest.epfd is not None else {"kernel-agrees"}
    finally:
        underTest.close()
    if target.asyncio:
        rules.add("short-timeout-sleeps")
    return rules


def brokenRules(broken: Dict[str, RuleBroken]) -> Set[str]:
    """
    @return: the names of the rules among C{broken}'s failures.
    """
    return {failure.rule for failure in broken.values()}


def report(
    target: Target,
    examples: int,
    budget: Budget,
    broken: Dict[str, RuleBroken],
    ignored: Set[str],
) -> None:
    """
    Print how long it looked, each rule's verdict, then each way a rule
    broke, with its program.
    """
    print(
        "{}: {} examples, in rounds of at most {}, {}:\n".format(
            target.name,
            budget.examples,
            examples,
            "cut short by --seconds" if budget.cut else "until one found nothing new",
        )
    )
    for kind, twisted in (("Twisted's contract", True), ("Stricter checks", False)):
        print(kind)
        for rule in RULES:
            if rule.twisted != twisted:
                continue
            ways = sorted(
                "{} ({} steps)".format(f.variant or "broke", f.steps)
                for f in broken.values()
                if f.rule == rule.name
            )
            if rule.name in ignored:
                verdict = "not judged"
            elif ways:
                verdict = "BROKE: " + ", ".join(ways)
            else:
                verdict = "held"
            print("  {:30} {}".format(rule.name, verdict))
        print()
    for rule in RULES:
        for key, failure in sorted(broken.items()):
            if failure.rule != rule.name:
                continue
            print(
                "=== {}: {}\n    what a user sees: {}\n".format(
                    key, rule.statement, rule.seen
                )
            )
            print(failure.program)
            print()


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """
    @return: the command line's arguments.
    """
    parser = argparse.ArgumentParser(
        prog="python -m epollreactor.contract", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "reactor", help="a reactor class, e.g. twisted.internet.pollreactor.PollReactor"
    )
    parser.add_argument(
        "--examples", type=int, default=2000, help="examples a round at most (2000)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=DEFAULT_SECONDS,
        help="stop looking after this long ({}); 0: when a round finds nothing "
        "new".format(DEFAULT_SECONDS),
    )
    parser.add_argument(
        "--reference", help="a reactor to run beside it and compare with"
    )
    parser.add_argument(
        "--twisted-only", action="store_true", help="judge only Twisted's rules"
    )
    parser.add_argument(
        "--expect",
        help="comma-separated rules expected to break: exit 0 when each of them did",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    """
    Parse the command line and run.

    @return: the exit status.
    """
    arguments = parse(argv)
    target = Target(load(arguments.reactor), arguments.reactor)
    reference = (
        Target(load(arguments.reference), arguments.reference)
        if arguments.reference
        else None
    )
    ignored = {
        rule.name for rule in RULES if arguments.twisted_only and not rule.twisted
    }
    if reference is None:
        ignored.add("agrees-with-reference")
    else:
        # Judged alone only (epollreactor.contract.lost).
        ignored.add("lost-within-bound")
    ignored |= notApplicable(target)
    started = time.monotonic()
    budget = Budget(arguments.seconds)
    broken = search(target, arguments.examples, reference, ignored, budget)
    shortenAll(target, reference, ignored, broken, budget)
    report(target, arguments.examples, budget, broken, ignored)
    print("{:.0f} s".format(time.monotonic() - started))
    if arguments.expect is not None:
        expected = set(filter(None, arguments.expect.split(",")))
        missing = expected - brokenRules(broken)
        if missing:
            print("expected to break, and held: {}".format(", ".join(sorted(missing))))
            return 1
        return 0
    return 1 if broken else 0


if __name__ == "__main__":
    # Errors the reactor logs are judged (no-error-escapes) and printed
    # with the program that makes them, not on stderr as they happen
    # (which Twisted does until logging begins).
    globalLogBeginner.beginLoggingTo([], redirectStandardIO=False)
    sys.exit(main(sys.argv[1:]))
