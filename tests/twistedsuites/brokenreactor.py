"""
A deliberately broken L{epollreactor.EPollReactor}, for the test that shows
the comparison notices when a reactor breaks.
"""

from typing import Any, List

import epollreactor


class EPollReactor(epollreactor.EPollReactor):
    """
    L{epollreactor.EPollReactor} whose C{getWriters} forgets every writer,
    which Twisted's C{ReactorFDSetTestsBuilder.test_getWriters} notices.
    """

    def getWriters(self) -> List[Any]:
        """
        @return: nothing, wrongly.
        """
        return []
