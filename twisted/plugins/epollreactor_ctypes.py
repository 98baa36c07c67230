"""
Twisted reactor plugin: C{--reactor=ctypes-epoll} for C{twistd}, C{twist}
and C{trial} runs on L{epollreactor.EPollReactor}.

A dropin module: C{twisted/plugins} has no C{__init__.py} here, so that it
adds to Twisted's own plugin package instead of replacing it.
"""

from twisted.application.reactors import Reactor

ctypesEpoll = Reactor(
    "ctypes-epoll",
    "epollreactor",
    "epoll(7) through ctypes: works without select.epoll, survives "
    "closed and reused descriptors",
)
