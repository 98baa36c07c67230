"""
Programs that put a reactor under faults and load, each run in a process of
its own by L{tests.test_faults} (and by L{tests.scenarios.compare}, against
Twisted's stock reactor too).  Each installs the reactor named on its
command line, does its work within a bounded time, and prints one JSON
object of results as the last line of its standard output.
"""

import json
import sys
from typing import Any, Dict, List


def installReactor(argv: List[str]) -> Any:
    """
    Install the reactor C{argv} names as the global one: Twisted's stock
    C{EPollReactor} when C{--stock} is there, else ours.

    @return: the installed reactor.
    """
    if "--stock" in argv:
        from twisted.internet import epollreactor as module
    else:
        import epollreactor as module  # type: ignore[no-redef]
    module.install()
    from twisted.internet import reactor

    return reactor


def report(results: Dict[str, Any]) -> None:
    """
    Print C{results} as the last line of standard output.
    """
    sys.stdout.write(json.dumps(results) + "\n")
    sys.stdout.flush()
