"""The Workflows standard library functions that may appear inside expressions.

Each function follows its page in Google's Workflows reference ("Expression helpers" and the
``stdlib/<module>/<function>`` pages): same argument order, same defaults, same error tags. Only
non-blocking functions belong here: Google forbids HTTP calls, ``sys.sleep`` and ``sys.log`` inside
expressions, so the executor handles those as ``call`` steps.

``make_functions(env, clock)`` builds the table; ``env`` is what ``sys.get_env`` reads (the deploy-time
environment variables plus the ``GOOGLE_CLOUD_*`` built-ins the engine fills in) and ``clock`` is what
``sys.now`` returns (seconds since the epoch), both injected so the engine and the tests control them.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestration.engine.errors import type_error, value_error
from orchestration.engine.stdlib_codecs import CODEC_FUNCTIONS
from orchestration.engine.values import (
    INT64_MIN,
    check_int64,
    checked,
    is_int,
    is_number,
    registrar,
    to_string,
    type_name,
)
from orchestration.engine.values import need as _need

Function = Callable[..., Any]

# Names that a workflow may *reference* without calling them (``retry: ${http.default_retry}``); the
# evaluator turns them into ``FunctionRef`` values for the executor to resolve.
REFERENCE_NAMES = frozenset(
    {
        "http.default_retry",
        "http.default_retry_non_idempotent",
        "http.default_retry_predicate",
        "http.default_retry_predicate_non_idempotent",
        "retry.always",
        "retry.never",
        "retry.default_backoff",
    }
)

_PURE: dict[str, Function] = {}
_builtin = registrar(_PURE)


# --- Expression helpers (Google: "Expression helpers") ---------------------------------------------


@_builtin("default", 2)
def _default(value: Any, fallback: Any) -> Any:
    """``value`` if it is not null, else ``fallback``."""
    return fallback if value is None else value


@_builtin("if", 3)
def _if(condition: Any, if_true: Any, if_false: Any) -> Any:
    """``if_true`` when ``condition`` is true, ``if_false`` when it is false or null."""
    if condition is not None and not isinstance(condition, bool):
        raise type_error(f"if: condition must be a boolean, got {type_name(condition)}")
    return if_true if condition else if_false


@_builtin("keys", 1)
def _keys(value: Any) -> list[str]:
    """The keys of a map, as a list."""
    _need("keys", value, dict, "a map")
    return list(value)


@_builtin("len", 1)
def _len(value: Any) -> int:
    """Elements of a list, entries of a map, characters of a string."""
    _need("len", value, (str, list, dict), "a string, list or map")
    return len(value)


_INT_TEXT = re.compile(r"[+-]?\d+")
_DOUBLE_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@_builtin("int", 1)
def _int(value: Any) -> int:
    """An integer from a string or a double (a double is truncated toward zero)."""
    if is_int(value):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise value_error(f"int: cannot convert {value} to an integer")
        return check_int64(int(value))
    _need("int", value, str, "a string or double")
    if not _INT_TEXT.fullmatch(value.strip()):
        raise value_error(f"int: invalid integer {value!r}")
    return check_int64(int(value))


@_builtin("double", 1)
def _double(value: Any) -> float:
    """A double from a string or an integer."""
    if is_number(value):
        return float(value)
    _need("double", value, str, "a string or integer")
    if not _DOUBLE_TEXT.fullmatch(value.strip()):
        raise value_error(f"double: invalid number {value!r}")
    return float(value)


@_builtin("string", 1)
def _string(value: Any) -> str:
    """The text of an integer, double or boolean."""
    return to_string(value)


# --- map, list -------------------------------------------------------------------------------------


@_builtin("map.get", 2)
def _map_get(value: Any, keys: Any) -> Any:
    """Safe lookup: null when the input is not a map or lacks the key; a list of keys drills down."""
    path = [keys] if isinstance(keys, str) else keys
    if not isinstance(path, list) or not all(isinstance(key, str) for key in path):
        raise type_error(f"map.get: key must be a string or a list of strings, got {type_name(keys)}")
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


@_builtin("map.merge", 2)
def _map_merge(first: Any, second: Any) -> dict[str, Any]:
    """A new map with the entries of both; on a shared key the second map wins."""
    _need("map.merge", first, dict, "a map")
    _need("map.merge", second, dict, "a map")
    return {**first, **second}


@_builtin("map.delete", 2)
def _map_delete(value: Any, key: Any) -> dict[str, Any]:
    """A copy of the map without ``key``."""
    _need("map.delete", value, dict, "a map")
    _need("map.delete", key, str, "a string key")
    return {k: v for k, v in value.items() if k != key}


@_builtin("list.concat", 2)
def _list_concat(objs: Any, val: Any) -> list[Any]:
    """A copy of ``objs`` with ``val`` appended (the source list is not modified)."""
    _need("list.concat", objs, list, "a list")
    return [*objs, val]


@_builtin("list.prepend", 2)
def _list_prepend(objs: Any, val: Any) -> list[Any]:
    """A copy of ``objs`` with ``val`` in front."""
    _need("list.prepend", objs, list, "a list")
    return [val, *objs]


# --- math, uuid, time ------------------------------------------------------------------------------


@_builtin("math.abs", 1)
def _abs(x: Any) -> Any:
    """The absolute value; ``abs(MinInt64)`` does not fit, a ValueError."""
    if not is_number(x):
        raise type_error(f"math.abs: expected an integer or double, got {type_name(x)}")
    if x == INT64_MIN and is_int(x):
        raise value_error("math.abs: the absolute value of MinInt64 overflows")
    return abs(x)


def _numbers(name: str, x: Any, y: Any) -> None:
    if not (is_number(x) and is_number(y)):
        raise type_error(f"{name}: expected integers or doubles, got {type_name(x)} and {type_name(y)}")


@_builtin("math.max", 2)
def _max(x: Any, y: Any) -> Any:
    _numbers("math.max", x, y)
    return x if x >= y else y


@_builtin("math.min", 2)
def _min(x: Any, y: Any) -> Any:
    _numbers("math.min", x, y)
    return x if x <= y else y


@_builtin("uuid.generate", 0)
def _uuid() -> str:
    """A random 128-bit UUID in string form."""
    return str(uuid.uuid4())


def _zone(name: str) -> tzinfo:
    if name == "":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise value_error(f"time.format: unknown timezone {name!r}") from None


@_builtin("time.format", 1, 1)
def _time_format(seconds: Any, timezone: Any = "") -> str:
    """ISO 8601 with microseconds: ``2024-07-12T12:50:33.000000Z`` or ``...+02:00``."""
    if not is_number(seconds):
        raise type_error(f"time.format: seconds must be an integer or double, got {type_name(seconds)}")
    _need("time.format", timezone, str, "a timezone name")
    moment = datetime.fromtimestamp(seconds, tz=_zone(timezone))
    text = moment.isoformat(timespec="microseconds")
    # A zero offset is written "Z" (Google's examples for UTC and GMT).
    return text[:-6] + "Z" if moment.utcoffset() == timedelta(0) else text


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$")


@_builtin("time.parse", 1, 1)
def _time_parse(value: Any) -> float:
    """An RFC 3339 (section 5.6) timestamp, up to microseconds, as seconds since the epoch (a double).

    Google's reference: TypeError if not a string, ValueError if not RFC 3339 section 5.6."""
    _need("time.parse", value, str, "a string")
    if not _RFC3339.match(value):
        raise value_error(f"time.parse: {value[:60]!r} is not an RFC 3339 timestamp")
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise value_error(f"time.parse: {value[:60]!r} is not an RFC 3339 timestamp") from None
    return moment.timestamp()


# --- The table -------------------------------------------------------------------------------------


def make_functions(env: Mapping[str, str], clock: Callable[[], float]) -> dict[str, Function]:
    """The function table for one engine: the pure functions plus ``sys.get_env`` and ``sys.now``."""
    environment = dict(env)

    def get_env(name: Any, default: Any = None) -> Any:
        """An environment variable, or ``default`` (null when omitted) if it is not set."""
        _need("sys.get_env", name, str, "a string name")
        if default is not None:
            _need("sys.get_env", default, str, "a string default")
        return environment.get(name, default)

    def now() -> float:
        """Unix time as a floating-point number of seconds."""
        return float(clock())

    return {
        **_PURE,
        **CODEC_FUNCTIONS,
        "sys.get_env": checked("sys.get_env", 1, 1, get_env),
        "sys.now": checked("sys.now", 0, 0, now),
    }


# A table with no environment variables and the real clock, for callers that need neither.
FUNCTIONS: dict[str, Function] = make_functions({}, time.time)
