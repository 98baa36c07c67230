"""
What every test module shares.

Interpreters without C{select.epoll}
====================================

This project exists for interpreters whose C{select} module has no epoll,
and C{make test-noepoll} runs the whole suite on one (see
C{tests/noepoll/sitecustomize.py}).  There, a test that compares our code
with C{select.epoll}, or with Twisted's stock C{EPollReactor} (which imports
its EPOLL* names from C{select}), has nothing to compare with.  Such tests
say so with one marker, and skip with one reason::

    pytestmark = pytest.mark.requiresSelectEpoll      # a whole module

    @pytest.mark.requiresSelectEpoll                  # a test or class
    def test_agreesWithSelectEpoll() -> None: ...

or take C{select.epoll} from the L{selectEpoll} fixture.  Everything else
must pass there.
"""

import os
import select
from typing import Any, Callable, Iterator, List

import pytest

from tests.contract import IMPLEMENTATIONS, Closer, FileNo

#: Whether this interpreter's C{select} module has C{epoll}.
HAVE_SELECT_EPOLL = hasattr(select, "epoll")

#: Why tests that need C{select.epoll} or the stock reactor are skipped.
NO_SELECT_EPOLL_REASON = (
    "select.epoll is missing on this interpreter (as under make test-noepoll): "
    "nothing to compare with"
)


def pytest_configure(config: pytest.Config) -> None:
    """
    Register the C{requiresSelectEpoll} marker.
    """
    config.addinivalue_line(
        "markers",
        "requiresSelectEpoll: compares with select.epoll or Twisted's stock "
        "epoll reactor; skipped where select.epoll is missing",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """
    Skip tests marked C{requiresSelectEpoll} where C{select.epoll} is missing.
    """
    if not HAVE_SELECT_EPOLL and item.get_closest_marker("requiresSelectEpoll"):
        pytest.skip(NO_SELECT_EPOLL_REASON)


@pytest.fixture
def selectEpoll() -> Callable[..., Any]:
    """
    C{select.epoll}, for tests that compare with it; skips the test where it
    is missing.
    """
    if not HAVE_SELECT_EPOLL:
        pytest.skip(NO_SELECT_EPOLL_REASON)
    return select.epoll


# Hypothesis profiles for the state machines (tests/test_statemachine_*.py).
#
#  - "ci", loaded by default: what make test runs; the machines' example
#    counts keep both within well under a minute together.  No deadline: one
#    example is dozens of system calls on a machine shared with other work,
#    and we assert no timings.
#  - "fuzz": make fuzz, FUZZ_EXAMPLES examples (20,000 unless told).
#    Failing examples are kept in .hypothesis/ (git-ignored) and replayed
#    first on the next run.
#
# Choose one with HYPOTHESIS_PROFILE=fuzz or pytest --hypothesis-profile=fuzz.
import os as _os  # noqa: E402

from hypothesis import HealthCheck as _HealthCheck  # noqa: E402
from hypothesis import settings as _settings  # noqa: E402

_settings.register_profile(
    "ci",
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    print_blob=True,
    suppress_health_check=[_HealthCheck.too_slow],
)
_settings.register_profile(
    "fuzz",
    _settings.get_profile("ci"),
    max_examples=int(_os.environ.get("FUZZ_EXAMPLES", "20000")),
)
_settings.load_profile(_os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def reactor() -> Iterator[Any]:
    """
    A new L{epollreactor.EPollReactor}, never run; afterwards whatever the
    test left registered is removed, its waker closed, its delayed calls
    cancelled and its epoll instance closed, as Twisted's C{ReactorBuilder}
    cleans up.
    """
    from epollreactor import EPollReactor

    reactor = EPollReactor()
    yield reactor
    reactor.removeAll()
    for reader in list(reactor._internalReaders):
        reactor.removeReader(reader)
        reader.connectionLost(None)
    for call in reactor.getDelayedCalls():
        call.cancel()
    reactor._poller.close()


@pytest.fixture
def descriptors() -> Iterator[List[int]]:
    """
    A list the test appends descriptor numbers to; all closed afterwards
    (those the test closed itself are skipped).
    """
    numbers: List[int] = []
    yield numbers
    for number in numbers:
        try:
            os.close(number)
        except OSError:
            pass


# The select.epoll contract's tests (tests/test_epoll*.py).


@pytest.fixture(params=IMPLEMENTATIONS)
def epoll(request: pytest.FixtureRequest) -> Any:
    """
    The implementation under test: L{epollreactor.epoll}, or C{select.epoll}
    to pin down what CPython does.
    """
    return request.param


@pytest.fixture(params=["number", "fileno()"])
def asArgument(request: pytest.FixtureRequest) -> Callable[[Any], Any]:
    """
    How a descriptor is handed to C{register}, C{modify} and C{unregister}:
    as its number, or as an object with a C{fileno()} method.
    """

    def convert(thing: Any) -> Any:
        """
        @param thing: a descriptor number or an object with C{fileno()}.
        """
        number = thing if isinstance(thing, int) else thing.fileno()
        return number if request.param == "number" else FileNo(number)

    return convert


@pytest.fixture
def closer() -> Iterator[Closer]:
    """
    A L{Closer} that runs when the test ends.
    """
    c = Closer()
    yield c
    c.closeAll()
