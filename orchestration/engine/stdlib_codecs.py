"""Standard library, part 2: the ``text``, ``json`` and ``base64`` modules (strings and bytes).

Each function follows its page under ``stdlib/`` in Google's Workflows reference. Bytes are Python
``bytes``; ``text.encode``, ``json.encode`` and ``base64.decode`` produce them, ``text.decode``,
``json.decode`` and ``base64.encode`` consume them.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from orchestration.engine.errors import type_error, value_error
from orchestration.engine.values import is_int, registrar, type_name
from orchestration.engine.values import need as _need

CODEC_FUNCTIONS: dict[str, Any] = {}
_builtin = registrar(CODEC_FUNCTIONS)


# --- text ------------------------------------------------------------------------------------------


@_builtin("text.split", 2)
def _split(source: Any, separator: Any) -> list[str]:
    """All substrings between separators, empty ones included; leftmost match wins on overlaps."""
    _need("text.split", source, str, "a string source")
    _need("text.split", separator, str, "a string separator")
    if separator == "":
        raise value_error("text.split: separator must not be empty")
    return str(source).split(separator)


@_builtin("text.replace_all", 3)
def _replace_all(source: Any, substr: Any, repl: Any) -> str:
    """Every instance of ``substr`` replaced; an empty ``substr`` matches around each code point."""
    for value in (source, substr, repl):
        _need("text.replace_all", value, str, "strings")
    return str(source.replace(substr, repl))


@_builtin("text.to_lower", 1)
def _to_lower(source: Any) -> str:
    _need("text.to_lower", source, str, "a string")
    return str(source.lower())


@_builtin("text.to_upper", 1)
def _to_upper(source: Any) -> str:
    _need("text.to_upper", source, str, "a string")
    return str(source.upper())


@_builtin("text.find_all", 2)
def _find_all(source: Any, substr: Any) -> list[int]:
    """Code-point indexes of the non-overlapping matches of ``substr``, leftmost first."""
    _need("text.find_all", source, str, "a string source")
    _need("text.find_all", substr, str, "a string substring")
    if substr == "":
        return list(range(len(source) + 1))
    found, start = [], source.find(substr)
    while start != -1:
        found.append(start)
        start = source.find(substr, start + len(substr))
    return found


@_builtin("text.substring", 3)
def _substring(source: Any, start: Any, end: Any) -> str:
    """Characters ``[start, end)``; negative indexes count from the end, out-of-range ones clamp."""
    _need("text.substring", source, str, "a string source")
    if not (is_int(start) and is_int(end)):
        raise type_error("text.substring: start and end must be integers")
    size = len(source)

    def clamp(index: int) -> int:
        return min(max(index + size if index < 0 else index, 0), size)

    return str(source[clamp(start) : clamp(end)])


def _charset(name: str, charset: Any) -> str:
    _need(name, charset, str, "a charset name")
    try:
        return codecs.lookup(charset).name
    except LookupError:
        raise value_error(f"{name}: unsupported charset {charset!r}") from None


@_builtin("text.decode", 1, 1)
def _text_decode(data: Any, charset: Any = "UTF-8") -> str:
    """Bytes to text; undecodable bytes become U+FFFD."""
    _need("text.decode", data, bytes, "bytes")
    return bytes(data).decode(_charset("text.decode", charset), errors="replace")


@_builtin("text.encode", 1, 1)
def _text_encode(text: Any, charset: Any = "UTF-8") -> bytes:
    """Text to bytes; a code point the charset cannot represent is a ValueError."""
    _need("text.encode", text, str, "a string")
    try:
        return str(text).encode(_charset("text.encode", charset))
    except UnicodeEncodeError as error:
        raise value_error(f"text.encode: {error.reason} for {text[error.start : error.end]!r}") from None


@_builtin("text.url_encode", 1)
def _url_encode(source: Any) -> str:
    """Percent-encodes everything but RFC 3986's unreserved characters (``/`` included)."""
    _need("text.url_encode", source, str, "a string")
    return quote(source, safe="")


@_builtin("text.url_encode_plus", 1)
def _url_encode_plus(source: Any) -> str:
    _need("text.url_encode_plus", source, str, "a string")
    return quote_plus(source, safe="")


@_builtin("text.url_decode", 1)
def _url_decode(source: Any) -> str:
    _need("text.url_decode", source, str, "a string")
    return unquote(source)


# --- json, base64 ----------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise value_error(f"json.decode: {name} is not valid JSON")


@_builtin("json.decode", 1)
def _json_decode(data: Any) -> Any:
    """JSON bytes (UTF-8) or a string to a value."""
    _need("json.decode", data, (str, bytes), "bytes or a string")
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise value_error(f"json.decode: invalid JSON: {error.msg} at position {error.pos}") from None


def _json_text(name: str, data: Any, indent: Any) -> str:
    prefix, step = "", None
    if isinstance(indent, bool):
        step = "    " if indent else None
    elif isinstance(indent, dict):
        prefix, step = indent.get("prefix", ""), indent.get("indent", "    ")
        if not (isinstance(prefix, str) and isinstance(step, str)):
            raise type_error(f"{name}: indent prefix and indent must be strings")
    elif indent is not None:
        raise type_error(f"{name}: indent must be a boolean or a map, got {type_name(indent)}")
    try:
        if step is None:
            return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, indent=step)
    except (TypeError, ValueError) as error:  # bytes, function references, NaN...
        raise value_error(f"{name}: value cannot be JSON-encoded: {error}") from None
    # Every line after the first starts with the prefix, as Google describes (Go's MarshalIndent).
    return text.replace("\n", "\n" + prefix)


@_builtin("json.encode", 1, 1)
def _json_encode(data: Any, indent: Any = None) -> bytes:
    """A value to JSON bytes (UTF-8)."""
    return _json_text("json.encode", data, indent).encode("utf-8")


@_builtin("json.encode_to_string", 1, 1)
def _json_encode_to_string(data: Any, indent: Any = None) -> str:
    """A value to a JSON string."""
    return _json_text("json.encode_to_string", data, indent)


_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]*={0,2}")


@_builtin("base64.decode", 1, 1)
def _base64_decode(data: Any, padding: Any = True) -> bytes:
    """Base64 text to bytes; ``\\r`` and ``\\n`` are ignored."""
    _need("base64.decode", data, str, "a string")
    _need("base64.decode", padding, bool, "a boolean padding flag")
    text = data.replace("\r", "").replace("\n", "")
    if not _BASE64_TEXT.fullmatch(text):
        raise value_error("base64.decode: characters outside of the Base64 alphabet")
    if padding and len(text) % 4:
        raise value_error("base64.decode: input is not padded to a multiple of 4 bytes")
    text = text.rstrip("=")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as error:
        raise value_error(f"base64.decode: {error}") from None


@_builtin("base64.encode", 1, 1)
def _base64_encode(data: Any, padding: Any = True) -> str:
    """Bytes to Base64 text."""
    _need("base64.encode", data, bytes, "bytes")
    _need("base64.encode", padding, bool, "a boolean padding flag")
    text = base64.b64encode(data).decode("ascii")
    return text if padding else text.rstrip("=")
