"""
What the running interpreter's C{select.epoll} does, where CPython
versions differ: L{epollreactor.epoll} follows the version it runs on, so
that it is a drop-in for that interpreter's own C{select.epoll}, not for
one version's.

Every such difference is one flag here, read once from
C{sys.version_info}; the code that behaves differently tests the flag.
PyPy reports the version of the language it implements, and its
C{select.epoll} follows CPython's of that version.

 - CPython 3.9 (before 3.10, bpo-37999): an argument taken as a C integer
   (C{sizehint}, C{flags}, C{fromfd}'s descriptor, an event mask,
   C{maxevents}, a timeout that is not a float) may also be an object
   with only C{__int__}, converted with a L{DeprecationWarning}; the
   C{TypeError} for anything else reads C{"an integer is required (got
   type ...)"}, and for a float C{"integer argument expected, got float"}.
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
    - so do the C{TypeError} and the L{DeprecationWarning} for an
      C{__index__} that returns no int or an int subclass;
    - an event mask outside C{[-2**31, 2**32)} gives a
      L{DeprecationWarning} before it is reduced modulo 2**32.
"""

from __future__ import annotations

import operator
import sys

# typing is for the type checker only, here and in every module that
# "import epollreactor" loads: importing it (with re, enum and collections)
# would cost more than the rest of the binding together (bench/README.md,
# "Import time").  Annotations are not evaluated (PEP 563), and mypy reads
# any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "IMPLICIT_INT_CONVERSION",
    "BOOL_DESCRIPTOR_WARNS",
    "EXPORTS_EPOLLWAKEUP",
    "CLOSE_RAISES",
    "REAL_TIMEOUTS",
    "FILENO_ERROR_NAMES_TYPES",
    "INDEX_ERROR_NAMES_TYPES",
    "MASK_RANGE_WARNS",
    "typeName",
    "typeSlotName",
]

#: Whether an integer argument may be an object with only C{__int__}
#: (CPython 3.9; "implicit conversion to integers using __int__", as its
#: warning calls it).
IMPLICIT_INT_CONVERSION = sys.version_info < (3, 10)

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

#: Whether the C{TypeError} and warning for what C{__index__} returned
#: name the object's type and the result's.
INDEX_ERROR_NAMES_TYPES = _SINCE_315

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


#: C{Py_TPFLAGS_HEAPTYPE}: the type was made at run time (a class
#: statement, or C{PyType_FromSpec}).
_HEAP_TYPE = 1 << 9

#: The end of C{PyNumber_Index}'s message for an object without
#: C{__index__}, which names the object's type by its C{tp_name}.
_NOT_AN_INTEGER = "' object cannot be interpreted as an integer"


def typeSlotName(obj: Any) -> str:
    """
    Name C{obj}'s type as CPython's messages that print the type's
    C{tp_name} do (C{"%.200s"}): a class statement's type by its bare
    name, a type written in C by its dotted name unless it is a builtin.

    Python cannot read C{tp_name}, and C{__flags__} cannot tell a class
    statement's type from a C type made at run time (C{decimal.Decimal}
    since CPython 3.13); but for an object without C{__index__},
    C{operator.index} fails at once, without calling into the object,
    with a message that names it by C{tp_name}.

    @return: for example C{"str"}, C{"decimal.Decimal"}, C{"Spam"}.
    """
    cls = type(obj)
    if not hasattr(cls, "__index__"):
        try:
            operator.index(obj)
        except TypeError as error:
            message = str(error)
            end = message.rfind(_NOT_AN_INTEGER)
            if message.startswith("'") and end > 0:
                return message[1:end]
    name = str(cls.__name__)
    module = getattr(cls, "__module__", None)
    if getattr(cls, "__flags__", _HEAP_TYPE) & _HEAP_TYPE or module in (
        None,
        "builtins",
    ):
        return name
    return "{}.{}".format(module, name)
