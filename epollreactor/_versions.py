"""
What the running interpreter's C{select.epoll} does, where CPython
versions differ: L{epollreactor.epoll} follows the version it runs on, so
that it is a drop-in for that interpreter's own C{select.epoll}, not for
one version's.

Every such difference is one flag here, read once from
C{sys.version_info}; the code that behaves differently tests the flag.
PyPy reports the version of the language it implements, and its
C{select.epoll} follows CPython's of that version.

 - CPython 3.12 warns (L{RuntimeWarning}) when a bool is used as a
   descriptor (CPython gh-82626).
 - CPython 3.14 exports C{select.EPOLLWAKEUP}.
 - CPython 3.15:
    - C{close()} raises the C{OSError} of a failing C{close(2)} (EBADF for
      a descriptor closed behind the object's back), after marking the
      object closed; before, it was ignored;
    - a timeout may be any real number (an object with C{__float__}, such
      as L{decimal.Decimal} or L{fractions.Fraction}), and the
      C{TypeError} for anything else names its type;
    - the C{TypeError} for a C{fileno()} that returns no int names the
      object's type and the result's;
    - an event mask outside C{[-2**31, 2**32)} gives a
      L{DeprecationWarning} before it is reduced modulo 2**32.
"""

import sys
from typing import Any

__all__ = [
    "BOOL_DESCRIPTOR_WARNS",
    "EXPORTS_EPOLLWAKEUP",
    "CLOSE_RAISES",
    "REAL_TIMEOUTS",
    "FILENO_ERROR_NAMES_TYPES",
    "MASK_RANGE_WARNS",
    "typeName",
]

#: Whether a bool given as a descriptor warns (CPython 3.12 and later).
BOOL_DESCRIPTOR_WARNS = sys.version_info >= (3, 12)

#: Whether C{select} exports C{EPOLLWAKEUP} (CPython 3.14 and later).
EXPORTS_EPOLLWAKEUP = sys.version_info >= (3, 14)

_SINCE_315 = sys.version_info >= (3, 15)

#: Whether C{close()} raises when C{close(2)} fails.
CLOSE_RAISES = _SINCE_315

#: Whether a timeout may be any object with C{__float__}.
REAL_TIMEOUTS = _SINCE_315

#: Whether the C{TypeError} for a bad C{fileno()} result names the types.
FILENO_ERROR_NAMES_TYPES = _SINCE_315

#: Whether an event mask outside C{[-2**31, 2**32)} warns.
MASK_RANGE_WARNS = _SINCE_315


def typeName(obj: Any) -> str:
    """
    Name C{obj}'s type as CPython's C{%T} format does in messages: its
    qualified name, after its module's name unless that is C{builtins} or
    C{__main__}.

    @return: for example C{"str"}, C{"decimal.Decimal"}.
    """
    cls = type(obj)
    module = getattr(cls, "__module__", None)
    if not isinstance(module, str) or module in ("builtins", "__main__"):
        return str(cls.__qualname__)
    return "{}.{}".format(module, cls.__qualname__)
