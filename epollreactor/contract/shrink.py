"""
L{shorten}: a broken rule's example made as short as leaving steps out
can make it, by running the machine again without Hypothesis.

Hypothesis shrinks an example by changing the choices it drew, within a
budget (500 successful shrinks, five minutes), and shares that budget among
the bugs one run found.  Its passes that delete steps delete a step's
choices together with the choice that the run goes on; but a step of this
machine is read through the channels and files that exist when it runs
(its numbers pick among them, modulo their count), so that deleting an
early step changes what every later one does, and such a deletion is
often refused as no longer failing while leaving out the same step with
the later ones adjusted would do.  What is left are steps that only set
the stage for the failure (idle iterations, a readiness change nobody
waits for, a file opened and never used), 11 to 15 steps where 4 to 7 do.

Here the example is a list of steps, each taken by the machine's own
method with its own numbers (L{ReactorMachine.takeStep}), and a run of
steps is left out whenever the example without it still breaks the same
rule the same way (delta debugging: halves, then quarters, down to single
steps, until no single step can go).  Each attempt is a new machine on a
new reactor, a few milliseconds; the printed program is the last attempt
that broke the rule, so it is what that run wrote down.
"""

import time
from typing import Callable, Optional, Sequence, Type

from epollreactor.contract.machine import ReactorMachine
from epollreactor.contract.rules import RuleBroken
from epollreactor.contract.transcript import Step


def replay(
    machine: Type[ReactorMachine], first: str, trace: Sequence[Step]
) -> Optional[RuleBroken]:
    """
    Run an example again, judging after every step as Hypothesis does.

    @param machine: the machine class
        (L{epollreactor.contract.reactorMachine}'s), which says what
        is judged.
    @param first: the kind of file the first step opens.
    @param trace: the other steps.
    @return: the rule the example broke (with the steps taken up to
        there, L{RuleBroken.trace}), or C{None} when every step passed.
    """
    run = machine()
    try:
        run.openFirst(first)
        run.judged()
        for step in trace:
            run.takeStep(step)
            run.judged()
    except RuleBroken as e:
        return e
    finally:
        run.teardown()
    return None


def shorten(
    machine: Type[ReactorMachine],
    failure: RuleBroken,
    deadline: Optional[float] = None,
    clock: Callable[[], float] = time.monotonic,
) -> RuleBroken:
    """
    Leave out every run of steps that C{failure}'s example can do without.

    @param machine: the machine class that found C{failure}, best one that
        judges only C{failure}'s rule, so that another rule broken on the
        way does not hide it.
    @param failure: a broken rule, with its L{RuleBroken.trace}.
    @param deadline: when, by C{clock}, to stop and return the shortest so
        far; C{None} for no limit.
    @param clock: what C{deadline} is measured by.
    @return: the failure of the shortest example found that breaks the
        same rule the same way (L{RuleBroken.key}); C{failure} itself when
        its example does not break it again (a rule judged by timing).
    """

    def same(trace: Sequence[Step]) -> Optional[RuleBroken]:
        again = replay(machine, failure.first, trace)
        if again is not None and again.key == failure.key:
            return again
        return None

    best = same(failure.trace)
    if best is None:
        return failure

    def expired() -> bool:
        return deadline is not None and clock() > deadline

    chunk = max(len(best.trace) // 2, 1)
    while not expired():
        before = len(best.trace)
        # From the end: the first steps open the files the others use.
        start = len(best.trace) - chunk
        while start > -chunk and not expired():
            shorter = same(best.trace[: max(start, 0)] + best.trace[start + chunk :])
            if shorter is not None:
                best = shorter
            start -= chunk
        if chunk == 1 and len(best.trace) == before:
            break
        chunk = max(chunk // 2, 1)
    return best
