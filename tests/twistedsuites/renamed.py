"""
The reactors under names Twisted's own tests do not skip.

Twisted's C{test_lostFileDescriptor} (C{twisted.internet.test.test_fdset})
skips any reactor class named C{EPollReactor}, saying it "cannot detect
lost file descriptors".  Ours can (C{WATCH_PERIOD} in
L{epollreactor._registrations}), so the test runs on these subclasses,
which change nothing but the name.
"""

import select

import epollreactor


class CtypesEPollReactor(epollreactor.EPollReactor):
    """
    L{epollreactor.EPollReactor} by another name.
    """


if hasattr(select, "epoll"):
    from twisted.internet import epollreactor as stock

    class StockEPollReactorRenamed(stock.EPollReactor):
        """
        Twisted's stock C{EPollReactor} by another name.
        """
