"""
Reactors that end their C{trial} process part-way, for the tests that show
the comparison fails when either run ends abnormally.

C{DYING_REACTOR=HOW:N} in the environment makes the C{N}th instance built in
the process end it as C{HOW} says: C{exit3} and C{exit1} call C{os._exit}
with that status (the second looks like "some tests failed"), C{kill} sends
the process C{SIGKILL}.  Without it they are the reactors they extend.
"""

import os
import select
import signal
from typing import Any

import epollreactor

#: The environment variable that says how and when to end the process.
VARIABLE = "DYING_REACTOR"


class Dying:
    """
    Counts the instances built in this process, and ends the process at the
    one L{VARIABLE} names.
    """

    built = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """
        Count this instance; end the process if it is the one; else build
        the reactor.
        """
        Dying.built += 1
        how, _, when = os.environ.get(VARIABLE, "").partition(":")
        if how and Dying.built == int(when):
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(int(how[len("exit") :]))
        super().__init__(*args, **kwargs)


class EPollReactor(Dying, epollreactor.EPollReactor):
    """
    L{epollreactor.EPollReactor} that ends the process at its instance
    named by L{VARIABLE}.
    """


if hasattr(select, "epoll"):
    from twisted.internet import epollreactor as stock

    class StockEPollReactor(Dying, stock.EPollReactor):
        """
        Twisted's stock C{EPollReactor} that ends the process at its
        instance named by L{VARIABLE}.
        """
