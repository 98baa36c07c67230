"""
The tables Twisted's epoll reactor keeps, as read-only views of the
reactor's records (L{epollreactor._registrations}): C{_selectables}, which
maps each registered number to its selectable, and C{_reads} and
C{_writes}, the sets of numbers whose selectables want to read or to write.
Code in the wild and Twisted's own tests read them; nothing writes them, and
the reactor itself reads the records.
"""

from collections.abc import Mapping, Set
from typing import Any, Dict, Iterator, Optional

from epollreactor._libc import EPOLLIN
from epollreactor._registrations import Registration

__all__ = ["OwnersView", "InterestView"]


class OwnersView(Mapping):  # type: ignore[type-arg]
    """
    Each registered descriptor number's selectable: Twisted's
    C{_selectables}, read from the records.
    """

    def __init__(self, byNumber: Dict[int, Registration]) -> None:
        """
        @param byNumber: the records by number.
        """
        self._byNumber = byNumber

    def __getitem__(self, fd: int) -> Any:
        return self._byNumber[fd].owner

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._byNumber))

    def __len__(self) -> int:
        return len(self._byNumber)

    def __repr__(self) -> str:
        return repr(dict(self))


class InterestView(Set):  # type: ignore[type-arg]
    """
    The descriptor numbers whose selectables want one event: Twisted's
    C{_reads} (EPOLLIN) or C{_writes} (EPOLLOUT), read from the records.
    """

    def __init__(self, byNumber: Dict[int, Registration], event: int) -> None:
        """
        @param byNumber: the records by number.
        @param event: C{EPOLLIN} for the readers, C{EPOLLOUT} for the
            writers.
        """
        self._byNumber = byNumber
        self._reading = event == EPOLLIN

    def __contains__(self, fd: object) -> bool:
        record: Optional[Registration] = self._byNumber.get(fd)  # type: ignore[call-overload]
        if record is None:
            return False
        return record.reading if self._reading else record.writing

    def __iter__(self) -> Iterator[int]:
        reading = self._reading
        return iter(
            [
                fd
                for fd, record in self._byNumber.items()
                if (record.reading if reading else record.writing)
            ]
        )

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return repr(set(self))
