"""Workflows values in Python, and the rules the expression language and the stdlib share.

Workflows' data types (Google's "Data types, functions, operators" page) map to Python as:
integer -> ``int``, double -> ``float``, string -> ``str``, boolean -> ``bool``, null -> ``None``,
list -> ``list``, map -> ``dict`` with ``str`` keys, bytes -> ``bytes``. Python's ``bytes`` is already a
type of its own, distinct from ``str`` and not JSON-encodable, exactly as Workflows' bytes are.

One trap drives most of this module: in Python ``bool`` is a subclass of ``int`` (``True == 1``), in
Workflows a boolean is never a number, so every numeric check here excludes ``bool`` explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestration.engine.errors import type_error, value_error

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """A function or subworkflow *named* but not called, e.g. ``${http.default_retry_predicate}``.

    Workflows lets a ``retry.predicate`` name a predicate instead of calling it; the executor resolves the
    name when it needs to call it.
    """

    name: str


def type_name(value: Any) -> str:
    """The Workflows name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, FunctionRef):
        return "function"
    return type(value).__name__


def is_int(value: Any) -> bool:
    """True for a Workflows integer (a Python ``int`` that is not a ``bool``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for a Workflows integer or double."""
    return is_int(value) or isinstance(value, float)


def check_int64(value: int, what: str = "integer") -> int:
    """Workflows integers are 64-bit signed; Python's are unbounded, so overflow is checked by hand."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise value_error(f"{what} overflow: {value} does not fit in a 64-bit signed integer")
    return value


def check_double(value: float, *operands: Any) -> float:
    """A finite result from finite operands that came out infinite has overflowed the 64-bit double."""
    if math.isinf(value) and all(not (isinstance(o, float) and math.isinf(o)) for o in operands):
        raise value_error("double overflow")
    return value


def format_double(value: float) -> str:
    """Shortest round-tripping text of a double (``1.7`` -> ``"1.7"``), as ``string()`` shows it."""
    return repr(value)


def to_string(value: Any) -> str:
    """The text ``string()`` and string concatenation give an integer, double, boolean or string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_int(value):
        return str(value)
    if isinstance(value, float):
        return format_double(value)
    raise type_error(f"cannot convert {type_name(value)} to string")


def equal(left: Any, right: Any) -> bool:
    """Workflows equality: numbers compare by value across int/double, lists and maps deeply.

    Values of unrelated types are simply unequal (``1 == "1"`` is false), and a boolean never equals a
    number, unlike Python's ``True == 1``.
    """
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    return type(left) is type(right) and bool(left == right)


def need(function: str, value: Any, kind: type | tuple[type, ...], what: str) -> None:
    """Check a stdlib argument's type; a ``bool`` never passes for an ``int`` (see the module doc)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise type_error(f"{function}: expected {what}, got {type_name(value)}")


def registrar(table: dict[str, Callable[..., Any]]) -> Callable[..., Callable[[Callable[..., Any]], Any]]:
    """A decorator factory that registers stdlib functions in ``table`` under their dotted names.

    ``@builtin("text.split", 2)`` registers a wrapper that checks the argument count first (``required``
    plus up to ``optional`` more), raising Workflows' ``TypeError`` like the service does.
    """

    def builtin(name: str, required: int, optional: int = 0) -> Callable[[Callable[..., Any]], Any]:
        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            table[name] = checked(name, required, optional, function)
            return function

        return register

    return builtin


def checked(name: str, required: int, optional: int, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` behind an argument-count check."""

    def call(*args: Any) -> Any:
        if not required <= len(args) <= required + optional:
            expected = f"{required} to {required + optional}" if optional else str(required)
            raise type_error(f"{name}() takes {expected} arguments, got {len(args)}")
        return function(*args)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = function.__doc__
    return call
