"""
L{reactorMachine}: the reactor machine for a given reactor, as a class that
pytest or trial runs as C{machine.TestCase} and Hypothesis runs with
C{run_state_machine_as_test}.
"""

from typing import Any, Callable, Iterable, Optional, Type, Union

from hypothesis.stateful import rule

from epollreactor.contract.behind import AloneMachine
from epollreactor.contract.machine import BESIDE_STEPS, ReactorMachine, steps
from epollreactor.contract.target import Target
from epollreactor.contract.transcript import Step


class BesideMachine(ReactorMachine):
    """
    L{ReactorMachine} on a reactor and a reference side by side, without
    closing behind their backs and without reactions.
    """

    @rule(step=steps(BESIDE_STEPS))
    def step(self, step: Step) -> None:
        """
        One step of the program (L{BESIDE_STEPS}).
        """
        self.takeStep(step)


def reactorMachine(
    reactor: Union[Target, Callable[[], Any]],
    reference: Optional[Union[Target, Callable[[], Any]]] = None,
    ignored: Iterable[str] = (),
) -> Type[ReactorMachine]:
    """
    The reactor machine for C{reactor}.

    @param reactor: a reactor class, or any callable that returns a new
        reactor, never run (or a L{Target}).
    @param reference: another such, to run beside it and compare with
        (C{agrees-with-reference}); without one, the machine closes and
        C{dup2}s descriptors behind the reactor's back and gives channels
        reactions.
    @param ignored: names of rules not to judge
        (L{epollreactor.contract.rules.RULES}).
    @return: a C{hypothesis.stateful.RuleBasedStateMachine} subclass; its
        C{TestCase} attribute is a C{unittest.TestCase} that runs it.
    """
    base: Type[ReactorMachine] = AloneMachine if reference is None else BesideMachine
    target = reactor if isinstance(reactor, Target) else Target(reactor)
    other = None
    if reference is not None:
        other = reference if isinstance(reference, Target) else Target(reference)
    machine: Type[ReactorMachine] = type(
        "ReactorMachine",
        (base,),
        {"target": target, "reference": other, "ignored": frozenset(ignored)},
    )
    return machine
