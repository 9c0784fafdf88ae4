"""Named parameters of the standard-library functions, for ``call`` steps.

A standard-library function called as a step takes its arguments by name (Google's JSON schema types a
step's ``args`` as a map), with the names of the "Arguments" table on its reference page
(``stdlib/<module>/<function>``). Google's quickstart sample does exactly this::

    - getLocation:
        call: sys.get_env
        args:
          name: GOOGLE_CLOUD_LOCATION
        result: location

Inside an expression the same function takes the same arguments by position, in the table's order,
which is the order below. Expression helpers (``len``, ``default``, ``keys``, ...) are not here: Google
documents them for expressions only, so the loader refuses them as call targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.engine.errors import type_error

# Function -> (its parameter names in the reference's order, how many of them are required).
PARAMETERS: dict[str, tuple[tuple[str, ...], int]] = {
    "base64.decode": (("data", "padding"), 1),
    "base64.encode": (("data", "padding"), 1),
    "json.decode": (("data",), 1),
    "json.encode": (("data", "indent"), 1),
    "json.encode_to_string": (("data", "indent"), 1),
    "list.concat": (("objs", "val"), 2),
    "list.prepend": (("objs", "val"), 2),
    "map.delete": (("map", "key"), 2),
    "map.get": (("map", "keys"), 2),
    "map.merge": (("first", "second"), 2),
    "math.abs": (("x",), 1),
    "math.max": (("x", "y"), 2),
    "math.min": (("x", "y"), 2),
    "sys.get_env": (("name", "default"), 1),
    "sys.now": ((), 0),
    "text.decode": (("data", "charset"), 1),
    "text.encode": (("text", "charset"), 1),
    "text.find_all": (("source", "substr"), 2),
    "text.replace_all": (("source", "substr", "repl"), 3),
    "text.split": (("source", "separator"), 2),
    "text.substring": (("source", "start", "end"), 3),
    "text.to_lower": (("source",), 1),
    "text.to_upper": (("source",), 1),
    "text.url_decode": (("source",), 1),
    "text.url_encode": (("source",), 1),
    "text.url_encode_plus": (("source",), 1),
    "time.format": (("seconds", "timezone"), 1),
    "time.parse": (("value",), 1),
    "uuid.generate": ((), 0),
}


def argument_problem(function: str, given: set[str]) -> str | None:
    """What is wrong with calling ``function`` with arguments named ``given``, or None if nothing is."""
    names, required = PARAMETERS[function]
    unknown = sorted(given - set(names))
    if unknown:
        expected = ", ".join(names) if names else "none"
        return f"unknown argument(s) {', '.join(unknown)} for {function} (it takes: {expected})"
    missing = [name for name in names[:required] if name not in given]
    if missing:
        return f"{function} needs argument(s) {', '.join(missing)}"
    return None


def positional(function: str, args: Mapping[str, Any]) -> list[Any]:
    """``args`` by name, as the positional list the function takes (``TypeError`` when they do not fit).

    Optional parameters come last and at most one per function is optional, so the named ones always
    form a prefix of the parameter list once the required ones are there.
    """
    problem = argument_problem(function, set(args))
    if problem:
        raise type_error(problem)
    names = PARAMETERS[function][0]
    given = [name for name in names if name in args]
    return [args[name] for name in names[: len(given)]]
