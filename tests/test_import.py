"""
The package imports and exposes its public names; importing the binding
loads nothing of Twisted, and the names that need it load it on first use.

Which modules an import loads is a property of a fresh interpreter, so
those tests run a child process; the suite's own process has loaded
Twisted long before.
"""

import json
import subprocess
import sys
from typing import Any, Dict, List

import pytest

import epollreactor
from epollreactor import _reactor, _selector
from tests.withouttwisted import runWithoutTwisted

#: The modules C{import epollreactor} must not load, beyond Twisted's: the
#: dear ones the binding once took (C{ctypes.util} brings C{subprocess},
#: C{shutil} and C{tempfile}), and C{typing} on CPython, which costs more
#: than the rest of the binding (bench/README.md, "Import time").  PyPy's
#: own C{ctypes} may import what it likes.
_NOT_ON_THE_IMPORT_PATH = ["ctypes.util", "subprocess", "platform"] + (
    ["typing"] if sys.implementation.name == "cpython" else []
)

#: Imports the binding and uses each part of it, then prints the modules it
#: loaded beyond what the interpreter had loaded before.
_USE_THE_BINDING = """
import json, os, sys
before = set(sys.modules)
import epollreactor
from epollreactor import EPOLLIN, EPOLLOUT, epoll
loaded = set(sys.modules) - before
r, w = os.pipe()
with epoll() as ep:
    ep.register(r, EPOLLIN)
    os.write(w, b"x")
    polled = ep.poll(1.0)
print(json.dumps({
    "loaded": sorted(loaded),
    "polled": polled,
    "expected": [[r, EPOLLIN]],
    "afterEpoll": sorted(set(sys.modules) - before),
}))
"""


def _childRun(source: str) -> Dict[str, Any]:
    """
    Run C{source} in a fresh child of this interpreter.

    @return: the JSON object it printed last.
    @raise AssertionError: when the child fails; its output is in the message.
    """
    child = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stdout + child.stderr
    result: Dict[str, Any] = json.loads(child.stdout.splitlines()[-1])
    return result


def _twistedModules(names: List[str]) -> List[str]:
    """
    @return: those of C{names} that belong to Twisted or zope.interface.
    """
    return [name for name in names if name.split(".")[0] in ("twisted", "zope")]


def test_publicNames() -> None:
    """
    L{epollreactor} exports the binding, the selector, the reactor and its
    installer.
    """
    assert callable(epollreactor.epoll)
    assert callable(epollreactor.EpollSelector)
    assert callable(epollreactor.EPollReactor)
    assert callable(epollreactor.install)
    assert epollreactor.PLUGIN_NAME == "ctypes-epoll"


def test_bindingImportsNoTwisted() -> None:
    """
    In a fresh interpreter, C{import epollreactor} and a poll on an
    L{epollreactor.epoll} load no module of Twisted or zope.interface, nor
    the dear modules of L{_NOT_ON_THE_IMPORT_PATH}, nor the selector or the
    reactor.
    """
    result = _childRun(_USE_THE_BINDING)
    assert result["polled"] == result["expected"]
    assert "epollreactor._epoll" in result["loaded"]
    for loaded in (result["loaded"], result["afterEpoll"]):
        assert _twistedModules(loaded) == []
        assert [name for name in _NOT_ON_THE_IMPORT_PATH if name in loaded] == []
        assert "epollreactor._selector" not in loaded
        assert "epollreactor._reactor" not in loaded


def test_selectorImportsNoTwisted() -> None:
    """
    L{epollreactor.EpollSelector}, loaded on first use, selects a ready pipe
    without loading any module of Twisted or zope.interface.
    """
    result = _childRun(
        """
import sys
start = set(sys.modules)
import json, os, selectors
import epollreactor
r, w = os.pipe()
os.write(w, b"x")
with epollreactor.EpollSelector() as selector:
    selector.register(r, selectors.EVENT_READ)
    ready = [(key.fd, events) for key, events in selector.select(1.0)]
print(json.dumps({"ready": ready, "expected": [[r, selectors.EVENT_READ]],
                  "modules": sorted(set(sys.modules) - start)}))
"""
    )
    assert result["ready"] == result["expected"]
    assert "epollreactor._selector" in result["modules"]
    assert _twistedModules(result["modules"]) == []


def test_reactorLoadsOnFirstUse() -> None:
    """
    In a fresh interpreter, Twisted is loaded by the first lookup of
    L{epollreactor.EPollReactor}, and not before.
    """
    result = _childRun(
        """
import sys
start = set(sys.modules)
import json
import epollreactor
before = sorted(set(sys.modules) - start)
reactorClass = epollreactor.EPollReactor
print(json.dumps({"before": before, "after": sorted(sys.modules),
                  "name": reactorClass.__module__ + "." + reactorClass.__name__}))
"""
    )
    assert _twistedModules(result["before"]) == []
    assert "twisted.internet.posixbase" in result["after"]
    assert result["name"] == "epollreactor._reactor.EPollReactor"


@pytest.mark.parametrize("name", ["EPollReactor", "install", "EpollSelector"])
def test_lazyNamesResolve(name: str) -> None:
    """
    Each name loaded on first use is the object its module defines, by
    attribute and by C{from epollreactor import}; it is kept as a module
    attribute; C{__all__} and C{dir()} list it.
    """
    defining = _selector if name == "EpollSelector" else _reactor
    assert getattr(epollreactor, name) is getattr(defining, name)
    namespace: Dict[str, Any] = {}
    exec("from epollreactor import {}".format(name), namespace)
    assert namespace[name] is getattr(defining, name)
    assert vars(epollreactor)[name] is getattr(defining, name)
    assert name in epollreactor.__all__
    assert name in dir(epollreactor)


def test_dirListsEveryPublicName() -> None:
    """
    C{dir(epollreactor)} lists every name of C{__all__}, and every one of
    them resolves.
    """
    assert set(epollreactor.__all__) <= set(dir(epollreactor))
    for name in epollreactor.__all__:
        getattr(epollreactor, name)


def test_unknownNameIsAttributeError() -> None:
    """
    A name the package does not have raises L{AttributeError}, as for any
    module, so that C{hasattr} and C{getattr} with a default work.
    """
    with pytest.raises(AttributeError) as raised:
        epollreactor.EPollReactorr  # type: ignore[attr-defined]
    assert str(raised.value) == (
        "module 'epollreactor' has no attribute 'EPollReactorr'"
    )
    assert not hasattr(epollreactor, "reactor")


def test_withoutTwistedBindingWorks() -> None:
    """
    Where Twisted is not installed, the binding imports and polls, and the
    selector selects.
    """
    child = runWithoutTwisted(
        _USE_THE_BINDING.replace(
            "print(json.dumps({",
            "from epollreactor import EpollSelector\n"
            "EpollSelector().close()\n"
            "print(json.dumps({",
        )
    )
    assert child.returncode == 0, child.stdout + child.stderr
    result = json.loads(child.stdout.splitlines()[-1])
    assert result["polled"] == result["expected"]


@pytest.mark.parametrize(
    "code, name",
    [
        ("epollreactor.EPollReactor", "EPollReactor"),
        ("from epollreactor import install", "install"),
        ("epollreactor.install()", "install"),
    ],
)
def test_withoutTwistedReactorSaysWhatToInstall(code: str, name: str) -> None:
    """
    Where Twisted is not installed, asking for the reactor or its installer
    raises an L{ImportError} that names the missing module and says how to
    install it: the C{twisted} extra.
    """
    child = runWithoutTwisted(
        "import json, epollreactor\n"
        "try:\n"
        "    {}\n"
        "except ImportError as e:\n"
        "    print(json.dumps([str(e), e.name]))\n".format(code)
    )
    assert child.returncode == 0, child.stdout + child.stderr
    message, missing = json.loads(child.stdout.splitlines()[-1])
    # The reactor imports zope.interface first, and Twisted brings it (a
    # Debian system may have the zope namespace without zope.interface).
    assert missing.split(".")[0] in ("zope", "twisted")
    assert message == (
        "epollreactor.{} needs Twisted, which is not installed here (no module "
        "named {!r}): pip install 'epollreactor[twisted]' (epoll, EpollSelector "
        "and the EPOLL* constants work without it)".format(name, missing)
    )
