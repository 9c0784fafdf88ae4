"""An execution's ``argument`` (and labels, and the request body), checked before anything runs.

An ``argument`` is a JSON *string*. Over Google's 32KB, nested deeper than ``MAX_NESTING``, holding a
number Workflows cannot hold (its integers are 64-bit signed, its doubles 64-bit floats) or not JSON, it
is a 400 ``INVALID_ARGUMENT`` that says which. ``labels`` are held to Google's documented rules, and a
body Python's parser cannot take is the same 400 as malformed JSON, never an unanswered request.
"""

from __future__ import annotations

import json
import math
from typing import Any

from orchestration.local.executions.model import ARGUMENT_LIMIT, INT64_MAX, INT64_MIN, MAX_NESTING, invalid


def parse_argument(raw: str) -> Any:
    """The value of an ``argument`` JSON string, or a 400 saying why Workflows would not take it: over
    32KB, nested deeper than ``MAX_NESTING``, a number Workflows cannot hold, or not JSON. The size and
    depth are checked before parsing, so nothing deep or huge reaches Python's recursive parser."""
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > ARGUMENT_LIMIT:
        raise invalid(f"'argument' is {size} bytes; the size limit is 32KB ({ARGUMENT_LIMIT} bytes)")
    if nesting(raw) > MAX_NESTING:
        raise invalid(f"'argument' is nested deeper than {MAX_NESTING} levels of lists and maps")
    try:
        return json.loads(raw, parse_int=_int64, parse_float=_double, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise invalid(f"'argument' is not valid JSON: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # not expected after the checks above; still a 400
        raise invalid(f"'argument' cannot be read: {type(exc).__name__}: {exc}") from exc


def nesting(text: str) -> int:
    """How deep lists and maps nest in JSON ``text`` (brackets inside strings do not count); one linear
    pass that stops once past ``MAX_NESTING``."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def _int64(text: str) -> int:
    """A JSON integer that fits Workflows' 64-bit signed Integer; the length is checked before ``int``,
    which refuses over 4300 digits with a ValueError of its own."""
    if len(text.lstrip("-")) <= 19 and INT64_MIN <= (value := int(text)) <= INT64_MAX:
        return value
    raise invalid(f"'argument' holds the integer {_shown(text)}, outside Workflows' 64-bit signed Integer")


def _double(text: str) -> float:
    """A JSON number with a fraction or exponent that fits a 64-bit double (``1e400`` does not)."""
    value = float(text)
    if math.isfinite(value):
        return value
    raise invalid(f"'argument' holds the number {_shown(text)}, too large for Workflows' 64-bit Double")


def _shown(text: str, most: int = 40) -> str:
    """``text`` for an error message, cut if long (a 5000-digit number, a filter of 10000 parentheses)."""
    return text if len(text) <= most else f"{text[: most // 2]}...({len(text)} characters)"


def _not_json(name: str) -> Any:
    """``NaN`` and ``Infinity``, which Python's parser takes but JSON (and Workflows) do not."""
    raise invalid(f"'argument' holds {name}, which is not JSON")


def check_labels(labels: Any) -> dict[str, str] | None:
    """``Execution.labels`` as Google documents them: "at most 64 entries. Keys and values can be no
    longer than 63 characters and can only contain lowercase letters, numeric characters, underscores,
    and dashes. Label keys must start with a letter. International characters are allowed."""
    if labels is None:
        return None
    if not isinstance(labels, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in labels.items()
    ):
        raise invalid("'labels' must be a map of strings to strings")
    if len(labels) > 64:
        raise invalid(f"'labels' has {len(labels)} entries; at most 64")
    for key, value in labels.items():
        if not (key[:1].isalpha() and _label_text(key) and _label_text(value)):
            raise invalid(
                f"label {key!r}: {value!r}: keys and values are at most 63 lowercase letters, digits, "
                "underscores and dashes, and keys start with a letter"
            )
    return labels or None


def _label_text(text: str) -> bool:
    return len(text) <= 63 and all(
        char.isdigit() or char in "_-" or (char.isalpha() and not char.isupper()) for char in text
    )


def parse_body(raw: bytes) -> Any:
    """A request body as JSON; anything Python's parser cannot take (bad UTF-8, a 5000-digit integer,
    nesting past the recursion limit) is the same 400 as malformed JSON, never an unanswered request."""
    try:
        return json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:
        raise invalid(f"Invalid JSON payload received. {type(exc).__name__}: {exc}") from exc
