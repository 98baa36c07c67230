"""
The API pages (C{make docs}) as a user reads them: the reactor's page lists
what Twisted's own page for its stock C{EPollReactor} lists, its public
methods and its documented tables, and the package's page leads to the
binding, the reactor, the selector and the doctor.

Both reactor pages are made here by the same pydoctor, ours from the
package, Twisted's from the installed Twisted's
C{twisted/internet/epollreactor.py}, and read in a real headless browser
(Debian's chromium, C{--dump-dom}): what counts is the page as the browser
has it, one anchor per documented member, private ones included (pydoctor
hides those behind its "Show Private API" switch, on Twisted's pages as on
ours).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Iterator, Set

import pytest

import epollreactor

#: Set (to anything) where a missing browser or pydoctor must fail these
#: tests instead of skipping them: .ci/run installs both.
REQUIRED = "EPOLLREACTOR_REQUIRE_APIDOCS"

#: What Twisted's page lists, at the least, whatever its release: if these
#: are not found there, the page was not read, and the comparison would
#: prove nothing.
TWISTED_LISTS = {
    "addReader",
    "addWriter",
    "removeReader",
    "removeWriter",
    "removeAll",
    "getReaders",
    "getWriters",
    "doPoll",
    "_poller",
    "_selectables",
    "_reads",
    "_writes",
    "_continuousPolling",
    "_add",
}


def unavailable(reason: str) -> None:
    """
    Skip the test for C{reason}, or fail it where L{REQUIRED} is set.
    """
    if os.environ.get(REQUIRED):
        pytest.fail("{}, and {} is set".format(reason, REQUIRED))
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    """
    @return: the headless browser to read the pages with.
    """
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    unavailable("chromium is not installed (apt-get install chromium)")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    """
    Make our API pages and Twisted's page for its stock reactor, with the
    same pydoctor, in a temporary folder.

    @return: that folder; C{ours/} and C{twisted/} hold the pages.
    """
    try:
        import pydoctor  # noqa: F401
    except ImportError:
        unavailable("pydoctor is not installed (the docs extra: pip install .[docs])")
    import twisted

    folder = tempfile.mkdtemp(prefix="apidocs-")
    try:
        installed = os.path.dirname(twisted.__file__)
        tree = os.path.join(folder, "source", "twisted")
        os.makedirs(os.path.join(tree, "internet"))
        for name in ("__init__.py", "internet/__init__.py", "internet/epollreactor.py"):
            shutil.copy(os.path.join(installed, name), os.path.join(tree, name))
        for title, source, output in [
            ("epollreactor", os.path.dirname(epollreactor.__file__), "ours"),
            ("Twisted", tree, "twisted"),
        ]:
            # Run from the folder, away from any configuration file, and
            # without intersphinx: links outside do not change what a page
            # lists (make docs resolves them, and fails on any it cannot).
            subprocess.run(
                [sys.executable, "-m", "pydoctor", "-q", "--docformat=epytext"]
                + ["--project-name=" + title, "--html-output=" + output, source],
                cwd=folder,
                stdout=subprocess.DEVNULL,
                check=True,
                timeout=300,
            )
        yield folder
    finally:
        shutil.rmtree(folder)


def browse(chromium: str, page: str) -> str:
    """
    Open C{page} in headless chromium, with a profile of its own and nothing
    that reaches the network, and return the document as it then is.

    @param page: the path of an HTML file.
    """
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--user-data-dir=" + profile,
                "--dump-dom",
                "file://" + os.path.abspath(page),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    return result.stdout


def listed(document: str, fullName: str) -> Set[str]:
    """
    @return: the members of C{fullName} a pydoctor page shows, by the anchor
        it gives each (C{<a name="fullName.member">}).
    """
    return set(re.findall(r'name="{}\.(\w+)"'.format(re.escape(fullName)), document))


def test_reactorPageListsWhatTwistedsDoes(chromium: str, pages: str) -> None:
    """
    Every member Twisted's page for C{twisted.internet.epollreactor.
    EPollReactor} lists, our reactor's page lists too: the public methods
    (C{addReader} ... C{doPoll}) and the tables Twisted documents
    (C{_poller}, C{_selectables}, C{_reads}, C{_writes},
    C{_continuousPolling}, C{_POLL_DISCONNECTED}, C{_add}, C{_remove}).
    """
    theirs = listed(
        browse(
            chromium,
            os.path.join(
                pages, "twisted", "twisted.internet.epollreactor.EPollReactor.html"
            ),
        ),
        "twisted.internet.epollreactor.EPollReactor",
    )
    ours = listed(
        browse(
            chromium,
            os.path.join(pages, "ours", "epollreactor._reactor.EPollReactor.html"),
        ),
        "epollreactor._reactor.EPollReactor",
    )
    assert TWISTED_LISTS <= theirs
    assert sorted(theirs - ours) == []


def test_packagePageLeadsToEachPart(chromium: str, pages: str) -> None:
    """
    The package's page links to the pages of the binding (L{epollreactor.
    epoll}), the reactor, the selector and the command-line doctor, and
    each of those pages exists.
    """
    document = browse(chromium, os.path.join(pages, "ours", "epollreactor.html"))
    for page in [
        "epollreactor._epoll.epoll.html",
        "epollreactor._reactor.EPollReactor.html",
        "epollreactor._selector.EpollSelector.html",
        "epollreactor._doctor.html",
    ]:
        assert 'href="{}'.format(page) in document, page
        assert os.path.exists(os.path.join(pages, "ours", page)), page
