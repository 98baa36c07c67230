"""
A C{trial} suite with tests that hang, for the tests that show the watchdog
of L{tests.twistedsuites.runtrial} ends them and the comparison goes on
without them.

C{HANGING_TESTS=SIDE} in the environment makes L{Hanging.test_hangs} and
L{Hanging.test_hangsToo} block forever where the global reactor is SIDE's
(C{ours}: L{epollreactor.EPollReactor}; C{stock}: Twisted's
C{EPollReactor}); C{HANGING_TESTS=both} makes them hang on either.  Without
it every test passes at once, so collecting C{tests} with C{trial} runs
them harmlessly.  They block outside the reactor, where C{trial}'s own
timeout cannot reach them, as a test stuck in C{waitpid} does.
"""

import os
import threading

from twisted.trial import unittest

#: The environment variable that says where the tests hang.
VARIABLE = "HANGING_TESTS"


def hangHere() -> None:
    """
    Block forever if L{VARIABLE} names the side whose reactor is installed.
    """
    from twisted.internet import reactor

    side = os.environ.get(VARIABLE, "")
    ours = type(reactor).__module__.startswith("epollreactor")
    if side == "both" or side == ("ours" if ours else "stock"):
        threading.Event().wait()


class Hanging(unittest.TestCase):
    """
    Two tests that may hang, between tests that pass.
    """

    def test_beforeHanging(self) -> None:
        """
        Passes, before the hanging tests (C{trial} runs a class's tests in
        the order of their names).
        """
        self.assertTrue(True)

    def test_hangs(self) -> None:
        """
        Hangs where L{VARIABLE} says; passes elsewhere.
        """
        hangHere()

    def test_hangsToo(self) -> None:
        """
        Hangs where L{VARIABLE} says, after L{test_hangs}; passes elsewhere.
        """
        hangHere()

    def test_runsAfterHanging(self) -> None:
        """
        Passes, after the hanging tests.
        """
        self.assertTrue(True)
