"""
The C{epollreactor-workers} plugin of C{twist} and C{twistd}: a C{twist}
plugin (or an application's service) on several worker processes, each
with its own L{epollreactor.EPollReactor} (L{epollreactor.workers}).

A dropin module, as C{epollreactor_ctypes.py} beside it; it imports
nothing of ours until the plugin is used.
"""

from twisted.application.service import ServiceMaker

epollreactorWorkers = ServiceMaker(
    "epollreactor workers",
    "epollreactor.workers._tap",
    "Run a twist plugin on several processes, each with its own EPollReactor",
    "epollreactor-workers",
)
