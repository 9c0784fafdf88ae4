"""Retry policies and predicates of Google's standard library (``http.default_retry*``, ``retry.*``).

From the reference pages ``http/default_retry``, ``http/default_retry_non_idempotent``,
``http/default_retry_predicate*``, ``retry/default_backoff``, ``retry/always`` and ``retry/never``:

- the idempotent predicate retries ``HttpError`` 429, 502, 503 and 504, and any ``ConnectionError``,
  ``ConnectionFailedError`` or ``TimeoutError``;
- the non-idempotent one retries only 429, 503 and ``ConnectionFailedError`` (the request never left);
- both default policies use ``max_retries: 5`` and ``retry.default_backoff``: initial delay 1 s,
  max delay 60 s, multiplier 1.25.

The delay before retry n+1 is the delay before retry n times the multiplier, capped at ``max_delay``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from orchestration.engine.model import Backoff

DEFAULT_BACKOFF = Backoff(initial_delay=1, max_delay=60, multiplier=1.25)
DEFAULT_MAX_RETRIES = 5

# Policy expression (the text inside ``${...}``) -> its predicate.
DEFAULT_POLICIES = {
    "http.default_retry": "http.default_retry_predicate",
    "http.default_retry_non_idempotent": "http.default_retry_predicate_non_idempotent",
}


def _tags(error: Any) -> list[Any]:
    tags = error.get("tags") if isinstance(error, dict) else None
    return tags if isinstance(tags, list) else []


def _http_code(error: Any) -> Any:
    return error.get("code") if isinstance(error, dict) and "HttpError" in _tags(error) else None


def default_retry_predicate(error: Any) -> bool:
    """``http.default_retry_predicate``: transient HTTP statuses and any network failure."""
    tags = _tags(error)
    if any(tag in tags for tag in ("ConnectionError", "ConnectionFailedError", "TimeoutError")):
        return True
    return _http_code(error) in (429, 502, 503, 504)


def default_retry_predicate_non_idempotent(error: Any) -> bool:
    """``http.default_retry_predicate_non_idempotent``: only what cannot have reached the server twice."""
    return "ConnectionFailedError" in _tags(error) or _http_code(error) in (429, 503)


STANDARD_PREDICATES: dict[str, Callable[[Any], bool]] = {
    "http.default_retry_predicate": default_retry_predicate,
    "http.default_retry_predicate_non_idempotent": default_retry_predicate_non_idempotent,
    "retry.always": lambda _error: True,
    "retry.never": lambda _error: False,
}


def delays(initial_delay: float, max_delay: float, multiplier: float) -> Iterator[float]:
    """The sleep before each successive retry: ``initial_delay``, then times ``multiplier``, capped."""
    delay = min(initial_delay, max_delay)
    while True:
        yield delay
        delay = min(delay * multiplier, max_delay)
