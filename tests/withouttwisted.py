"""
Child interpreters in which Twisted (and zope.interface, which comes with
it) cannot be imported, as where the binding is installed without the
C{twisted} extra.

The child's first code puts a finder at the head of C{sys.meta_path} that
answers every C{twisted} and C{zope} module with the L{ModuleNotFoundError}
the import system raises for a module that is not there.  A virtualenv
without Twisted would be realer, but the suite runs in one interpreter,
which needs Twisted for everything else.
"""

import subprocess
import sys

#: Python source that makes the rest of the program run as if Twisted and
#: zope.interface were not installed.
HIDE_TWISTED = """
import sys as _sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("twisted", "zope"):
            raise ModuleNotFoundError("No module named {!r}".format(name), name=name)
        return None

_sys.meta_path.insert(0, _NotInstalled())
"""


def runWithoutTwisted(source: str) -> "subprocess.CompletedProcess[str]":
    """
    Run C{source} in a child of this interpreter that cannot import Twisted.

    @return: the finished child, its output as text.
    """
    # The timeout only keeps a hung child from hanging the suite.
    return subprocess.run(
        [sys.executable, "-c", HIDE_TWISTED + source],
        capture_output=True,
        text=True,
        timeout=120,
    )
