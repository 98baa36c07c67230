"""
The package imports and exposes its public names.
"""

import epollreactor


def test_publicNames() -> None:
    """
    L{epollreactor} exports the binding, the reactor and its installer.
    """
    assert callable(epollreactor.epoll)
    assert callable(epollreactor.EPollReactor)
    assert callable(epollreactor.install)
    assert epollreactor.PLUGIN_NAME == "ctypes-epoll"
