"""
The public face of the reactor contract (L{epollreactor.contract}): the
command's verdicts and exit status, and the programs it prints, which do
what the machine did when pasted and run.
"""

import subprocess
import sys
from typing import Any

import pytest

from epollreactor import EPollReactor
from epollreactor.contract import RULES, RuleBroken, reactorMachine
from epollreactor.contract.__main__ import main
from epollreactor.contract.shrink import replay, shorten


def stockReactor() -> Any:
    """
    @return: Twisted's own C{EPollReactor}.
    """
    from twisted.internet.epollreactor import EPollReactor as Stock

    return Stock()


def test_theCommandSaysEveryRuleHeldForOurs(capsys: pytest.CaptureFixture[str]) -> None:
    """
    Against our reactor the command prints every rule as held and exits
    with status 0.
    """
    status = main(["epollreactor.EPollReactor", "--examples", "20"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "BROKE" not in out
    assert out.count(" held") == 14, out


@pytest.mark.requiresSelectEpoll
def test_aBrokenRulesProgramDoesWhatTheMachineDid() -> None:
    """
    The program that comes with a broken rule, run on its own, makes the
    reactor fail as it did in the machine: stock Twisted's C{removeReader}
    of a descriptor closed behind its back raises C{EBADF}.
    """
    machine = reactorMachine(stockReactor)()
    try:
        machine.openFirst("socketpair")
        machine.add(0, 0, 0)
        machine.closeBehindBack(0, 0, 0)  # type: ignore[attr-defined]
        machine.remove(0, 0, 0)
        with pytest.raises(RuleBroken) as caught:
            machine.judged()
    finally:
        machine.teardown()
    assert caught.value.key == "remove-never-raises/EBADF"
    done = subprocess.run(
        [sys.executable, "-c", caught.value.program], capture_output=True, text=True
    )
    assert done.returncode == 1, done
    assert "OSError: [Errno 9] Bad file descriptor" in done.stderr, done.stderr


@pytest.mark.requiresSelectEpoll
def test_aBrokenRulesExampleLosesTheStepsItCanDoWithout() -> None:
    """
    L{shorten} leaves out of an example every step the failure does not
    need (here idle iterations and readiness changes, which Hypothesis
    left in when a step cost more choices than it deletes at once): stock
    Twisted's C{removeReader} of a descriptor closed behind its back
    raises C{EBADF} in four steps, whose program says just that.
    """
    machine = reactorMachine(
        stockReactor,
        ignored=[rule.name for rule in RULES if rule.name != "remove-never-raises"],
    )
    idle = ("iterate", 0, 0, 0)
    failure = replay(
        machine,
        "socketpair",
        [idle, ("add", 0, 0, 0), idle, ("readiness", 1, 0, 0), idle]
        + [("closeBehindBack", 0, 0, 0), idle, idle, ("remove", 0, 0, 0)],
    )
    assert failure is not None and failure.steps == 10
    shortest = shorten(machine, failure)
    assert shortest.key == "remove-never-raises/EBADF"
    assert shortest.trace == (
        ("add", 0, 0, 0),
        ("closeBehindBack", 0, 0, 0),
        ("remove", 0, 0, 0),
    )
    assert shortest.steps == 4
    assert "s.iterate()" not in shortest.program
    assert "s.fill(" not in shortest.program


@pytest.mark.requiresSelectEpoll
def test_aProgramGoesOnPastACallThatRaisedAndBrokeNoRuleShown() -> None:
    """
    A call that raised without breaking the rule judged (stock Twisted's
    C{addWriter} under a number another file took, with that rule not
    judged) is written so that the program goes on past it, printing what
    it raised, and reaches the break it shows: the new file's reads never
    come.
    """
    machine = reactorMachine(
        stockReactor,
        ignored=[rule.name for rule in RULES if rule.name != "ready-gets-called"],
    )
    failure = replay(
        machine,
        "socketpair",
        [
            ("add", 0, 0, 0),
            ("closeBehindBack", 0, 0, 0),
            ("open", 0, 0, 0),
            ("add", 2, 0, 2),
            ("readiness", 2, 0, 0),
            ("iterate", 0, 0, 0),
        ],
    )
    assert failure is not None and failure.key == "ready-gets-called/read"
    assert "with s.tolerating(): s.reactor.addWriter(c2)" in failure.program
    done = subprocess.run(
        [sys.executable, "-c", failure.program], capture_output=True, text=True
    )
    assert done.returncode == 0, done
    assert "raised FileNotFoundError" in done.stdout, done.stdout
    assert "c2.doRead()" not in done.stdout, done.stdout


def test_theCommandStopsLookingWhenTheTimeIsUp(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """
    With C{--seconds}, the command stops looking once that time is up, and
    says that its verdicts are from a search cut short, and on how many
    examples.
    """
    status = main(["epollreactor.EPollReactor", "--seconds", "0.5"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "cut short by --seconds" in out, out
    assert " examples, in rounds of at most 2000" in out, out


@pytest.mark.requiresSelectEpoll
def test_theCommandPrintsEachBrokenRulesProgram(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """
    Against stock Twisted's epoll reactor the command prints the rules it
    found broken, each with its program, and exits with status 1.
    """
    status = main(
        ["twisted.internet.epollreactor.EPollReactor", "--examples", "50"]
        + ["--seconds", "5"]
    )
    out = capsys.readouterr().out
    assert status == 1, out
    assert "BROKE" in out, out
    assert "s = Session(EPollReactor())" in out, out


def test_theCommandNamesAnExpectedRuleThatHeld(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """
    With C{--expect}, the command exits with status 1, naming the rule,
    when a rule it was told would break held.  (C{make contract} runs it
    against stock Twisted, expecting the rules it breaks today.)
    """
    status = main(
        ["epollreactor.EPollReactor", "--examples", "5", "--expect=once-per-iteration"]
    )
    assert status == 1
    assert "expected to break, and held: once-per-iteration" in capsys.readouterr().out


def test_ourReactorIsNotImportedWithTheContract() -> None:
    """
    C{import epollreactor} imports neither the contract nor Hypothesis.
    """
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import sys, epollreactor; "
                "print([m for m in sys.modules if m.startswith(('hypothesis', "
                "'epollreactor.contract'))])"
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"
    assert EPollReactor is not None
