"""
Make this interpreter one whose C{select} module has no epoll, as on
interpreters built without it, before anything can import it.

Python imports C{sitecustomize} at start-up (the C{site} module), before
the main script or C{-m} module runs, so with this folder first on
C{PYTHONPATH} nobody can take C{select.epoll} or the EPOLL* names: Twisted's
C{twisted.internet.epollreactor} fails to import (it does C{from select
import EPOLLERR, ...}) and C{twisted.internet.default} falls back to the
poll reactor; C{selectors.DefaultSelector} becomes C{PollSelector}.  Child
processes inherit C{PYTHONPATH}, so they lack epoll too.

C{make test-noepoll} runs the whole suite this way.  Any other
C{sitecustomize} further along C{sys.path} (a distribution's, a coverage
tool's) still runs, after ours.
"""

import importlib.machinery
import importlib.util
import os
import select
import sys
from typing import Any

for _name in [name for name in vars(select) if name.startswith("EPOLL")] + ["epoll"]:
    if hasattr(select, _name):
        delattr(select, _name)

# selectors decides at import time; if something imported it already, make it
# agree with select (it cannot be imported before us in a plain start-up).
_selectors: Any = sys.modules.get("selectors")
if _selectors is not None and hasattr(_selectors, "EpollSelector"):
    del _selectors.EpollSelector
    _selectors.DefaultSelector = _selectors.PollSelector

assert not hasattr(select, "epoll")


def _runNextSitecustomize() -> None:
    """
    Run the C{sitecustomize} that ours shadows, if there is one.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    path = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_runNextSitecustomize()
del _name, _selectors, _runNextSitecustomize
