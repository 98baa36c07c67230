"""
C{python -m epollreactor.contract REACTOR [--examples N]}: run the reactor
machine against any importable reactor and print, rule by rule, what held
and what broke, each broken rule with its shrunk example as a program.

The machine runs in rounds: each round runs up to C{--examples} examples
and stops at the rules it found broken (Hypothesis shrinks each to its
shortest example); the next round ignores those, so that one broken rule
does not hide another.  Rounds end when one finds nothing new.  Exit status
0 when nothing broke (or, with C{--expect}, when every rule named broke),
1 otherwise.
"""

import argparse
import importlib
import sys
import time
import traceback
from typing import Any, Dict, List, Optional, Sequence, Set

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.stateful import run_state_machine_as_test

from epollreactor.contract.lost import lostMachine
from epollreactor.contract.reactor import reactorMachine
from epollreactor.contract.rules import RULES, RuleBroken
from epollreactor.contract.target import ReactorUnderTest, Target


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


def runRound(
    target: Target,
    examples: int,
    ignored: Set[str],
    reference: Optional[Target],
    several: bool = True,
) -> List[BaseException]:
    """
    Run one round.

    @param several: whether to look for several bugs, shrinking each with
        a share of the effort, or to stop at the first and shrink it alone.
    @return: the failures found, none when every judged rule held.
    """
    machine = (
        lostMachine(target, ignored)
        if reference is None
        else reactorMachine(target, reference, ignored)
    )
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=50,
                deadline=None,
                database=None,
                report_multiple_bugs=several,
                # Not the explain phase: it traces every line the machine
                # runs (sys.settrace before Python 3.12), minutes per bug.
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
                verbosity=Verbosity.quiet,
            ),
        )
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return failures(e)
    return []


def search(
    target: Target, examples: int, reference: Optional[Target], ignored: Set[str]
) -> Dict[str, RuleBroken]:
    """
    Run rounds until one finds no rule broken that was not found before.

    @return: each broken rule's shortest failure, by L{RuleBroken.key}
        (a rule that broke in two ways, with two errnos, twice).
    """
    broken: Dict[str, RuleBroken] = {}
    while True:
        began = time.monotonic()
        found = runRound(target, examples, ignored | set(broken), reference)
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
            return broken


def focus(
    target: Target,
    examples: int,
    reference: Optional[Target],
    ignored: Set[str],
    broken: Dict[str, RuleBroken],
) -> None:
    """
    Shrink each way of breaking a rule again, alone: a round that finds
    several bugs shares Hypothesis's shrinking between them, and may leave
    an example longer than it need be.  Each round here judges only that
    rule (its other known ways ignored) and keeps the shorter example.
    """
    for key, failure in sorted(broken.items()):
        others = {rule.name for rule in RULES if rule.name != failure.rule}
        otherWays = {
            k for k, f in broken.items() if f.rule == failure.rule and k != key
        }
        found = runRound(
            target, examples, ignored | others | otherWays, reference, False
        )
        for again in found:
            if isinstance(again, RuleBroken) and again.key == key:
                if again.steps < failure.steps:
                    broken[key] = again
        print("shrunk {} alone: {} steps".format(key, broken[key].steps), flush=True)


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
    target: Target, examples: int, broken: Dict[str, RuleBroken], ignored: Set[str]
) -> None:
    """
    Print each rule's verdict, then each way a rule broke, with its
    program.
    """
    print("{}, {} examples a round:\n".format(target.name, examples))
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


def main(argv: Sequence[str]) -> int:
    """
    Parse the command line and run.

    @return: the exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m epollreactor.contract", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "reactor", help="a reactor class, e.g. twisted.internet.pollreactor.PollReactor"
    )
    parser.add_argument(
        "--examples", type=int, default=1000, help="examples a round (1000)"
    )
    parser.add_argument(
        "--reference", help="a reactor to run beside it and compare with"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="do not shrink each broken rule again, alone",
    )
    parser.add_argument(
        "--twisted-only", action="store_true", help="judge only Twisted's rules"
    )
    parser.add_argument(
        "--expect",
        help="comma-separated rules expected to break: exit 0 when each of them did",
    )
    arguments = parser.parse_args(argv)
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
    broken = search(target, arguments.examples, reference, ignored)
    if not arguments.quick:
        focus(target, arguments.examples, reference, ignored, broken)
    report(target, arguments.examples, broken, ignored)
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
    sys.exit(main(sys.argv[1:]))
