"""What our provider tools (``sentry``, ``langfuse``) share: a provider's errors as tool errors, and an
answer as capped JSON text with every quoted string scrubbed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal
from urllib.parse import urlsplit

from mcp.server.mcpserver.exceptions import ToolError

from jobs.errors import FactoryError, ServiceError
from jobs.prompts import scrub

MAX_ANSWER = 24_000  # one answer, as JSON text
MAX_TEXT = 1_000  # one quoted string


@contextmanager
def service_errors(provider: str, action: str) -> Iterator[None]:
    """The provider's errors become tool errors the model reads (the clients mask the keys in them)."""
    try:
        yield
    except ServiceError as exc:
        raise ToolError(f"{action} failed: {exc}") from None
    except FactoryError as exc:
        raise ToolError(f"{action} failed: {provider} did not answer ({exc})") from None


def fitted(answer: dict[str, Any], key: str, keep: Literal["first", "last"] = "first") -> str:
    """``answer`` as JSON text under ``MAX_ANSWER``: entries of ``answer[key]`` dropped from the end it
    does not ``keep`` (for frames, the outermost) until it fits, their number in ``{key}_omitted``."""
    items: list[Any] = answer[key]
    text = as_json(answer)
    while len(text) > MAX_ANSWER and items:
        items.pop(0 if keep == "last" else -1)
        answer[f"{key}_omitted"] = int(answer.get(f"{key}_omitted") or 0) + 1
        text = as_json(answer)
    return text


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def quote(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """Quoted text without control or invisible characters, at most ``limit`` characters."""
    return None if text is None else scrub(text, limit)


def quoted_value(value: Any, limit: int) -> Any:
    """A JSON value with every string scrubbed; as clipped JSON text when it is longer than ``limit``."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > limit:
        return scrub(value if isinstance(value, str) else text, limit)
    if isinstance(value, str):
        return scrub(value, limit)
    if isinstance(value, dict):
        return {scrub(str(k), 200): quoted_value(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [quoted_value(v, limit) for v in value]
    return value


def loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"
