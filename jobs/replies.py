"""Strict parsing of a model's structured reply: exactly one JSON object, validated by a pydantic model.

Used for every reply our code acts on (the reviewer's verdict, the E2E report). Anything malformed raises
``ReplyParseError`` with a short message that is fed back to the model in a re-ask. The reply must be
exactly one JSON object once surrounding whitespace (``str.strip``) is removed: no prose, no code
fences, no NaN/Infinity, no duplicate keys. Invisible format characters (a byte-order mark, zero-width
spaces) are not whitespace and are rejected like any other stray text.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from jobs.errors import FactoryError

MAX_REPLY_CHARS = 200_000
MAX_MESSAGE_CHARS = 300
M = TypeVar("M", bound=BaseModel)


class ReplyParseError(FactoryError):
    """The reply is not a valid instance of what was asked; the message says why, briefly, for a re-ask."""

    def __init__(self, message: str) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 3] + "..."
        super().__init__(message)


class _Rejected(ValueError):
    """Raised from json.loads hooks; carries the whole message."""


def _snippet(text: str, limit: int = 40) -> str:
    # repr escapes newlines, control characters and surrogates, so the message stays one clean line.
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last duplicate, so a low score could hide behind a later high one.
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Rejected(f"duplicate key {_snippet(key)}: each key may appear only once")
        seen.add(key)
    return dict(pairs)


def _json_error(text: str, err: json.JSONDecodeError) -> str:
    if err.pos == 0 and unicodedata.category(text[0]) == "Cf":
        return f"reply starts with an invisible character U+{ord(text[0]):04X}; send plain JSON only"
    if text.startswith(("```", "~~~")):
        return "remove the markdown code fence: reply with the bare JSON object only"
    if err.pos == 0:
        return f"reply must be only a JSON object, no text before it; it starts with {_snippet(text)}"
    if err.msg == "Extra data":
        return f"reply must be exactly one JSON object, nothing after it; found {_snippet(text[err.pos :])}"
    near = _snippet(text[max(0, err.pos - 20) : err.pos + 20])
    return f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}; near {near}"


def _validation_error(err: ValidationError, what: str) -> str:
    first = err.errors(include_url=False, include_input=False)[0]
    path = ".".join(_snippet(str(part)) if len(str(part)) > 40 else str(part) for part in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")  # pydantic's wrapper around our own messages
    extra = err.error_count() - 1
    more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
    return f"{path or what}: {msg}{more}"


def parse_reply(text: str, model: type[M], what: str, constant_hint: str = "use numbers") -> M:
    """Parse ``text`` as exactly one JSON object valid for ``model``; ReplyParseError otherwise.

    ``what`` names the thing in messages ("review"); ``constant_hint`` follows "NaN is not valid JSON".
    """
    if not isinstance(text, str):
        raise ReplyParseError(f"reply must be text, got {type(text).__name__}")
    if len(text) > MAX_REPLY_CHARS:
        raise ReplyParseError(f"reply is {len(text)} characters; the limit is {MAX_REPLY_CHARS}")
    text = text.strip()
    if not text:
        raise ReplyParseError(f"reply is empty; send the {what} as one JSON object")

    def reject_constant(name: str) -> Any:
        raise _Rejected(f"{name} is not valid JSON; {constant_hint}")

    try:
        data = json.loads(text, parse_constant=reject_constant, object_pairs_hook=_unique_keys)
    except _Rejected as err:
        raise ReplyParseError(str(err)) from None
    except json.JSONDecodeError as err:
        raise ReplyParseError(_json_error(text, err)) from None
    except RecursionError:
        raise ReplyParseError(f"JSON is nested too deeply to be a {what}") from None
    except ValueError:  # not a JSONDecodeError: an integer longer than Python's int conversion limit
        raise ReplyParseError("invalid JSON: a number has too many digits") from None
    if not isinstance(data, dict):
        kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(data), "number")
        raise ReplyParseError(f"top level must be a JSON object, got {kind}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ReplyParseError(_validation_error(err, what)) from None
    except RecursionError:
        raise ReplyParseError(f"JSON is nested too deeply to be a {what}") from None
