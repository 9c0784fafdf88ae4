"""The one retry policy every service client shares: tenacity underneath, rate limits honoured.

Only ``FactoryError``s that say they are ``retryable`` are tried again. A ``ServiceError`` carrying a
``retry_after`` (the server told us when its limit resets) is waited out exactly, never retried early,
and one that resets later than ``max_wait`` is not waited for at all: the error goes back to the caller
at once. Anything else retryable (5xx, a lost connection) backs off exponentially, capped at ``max_wait``.

Clients wrap whole operations, not single requests, so that a retried write first looks again for what
an earlier attempt may already have written (its answer lost) instead of writing it twice.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception

from jobs.errors import FactoryError, ServiceError
from jobs.logs import get_logger

R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to try an operation again.

    ``sleep`` and ``clock`` are injectable so tests run rate limits and backoff without waiting; a client
    should read the time through ``clock`` too, so that the waits it computes agree with the sleeps.
    """

    attempts: int = 4
    backoff: float = 1.0
    max_wait: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def call(self, operation: Callable[..., R], *args: Any) -> R:
        """``operation(*args)``, tried again on retryable FactoryErrors as this policy allows."""
        retrying = Retrying(
            stop=self._should_stop,
            wait=self._wait_seconds,
            retry=retry_if_exception(lambda exc: isinstance(exc, FactoryError) and exc.retryable),
            sleep=self.sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        return retrying(operation, *args)

    def _should_stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= max(1, self.attempts):
            return True
        retry_after = _retry_after_of(state)
        # Waiting less than the server asked would only send a request while still limited.
        return retry_after is not None and retry_after > self.max_wait

    def _wait_seconds(self, state: RetryCallState) -> float:
        retry_after = _retry_after_of(state)
        if retry_after is not None:
            return min(retry_after, self.max_wait)
        return float(min(self.backoff * 2 ** (state.attempt_number - 1), self.max_wait))


def retry_after_header(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number, or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    seconds = parse_number(value)
    if seconds is None:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds)


def parse_number(value: str | None) -> float | None:
    """A header's value as a finite float, or None."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _retry_after_of(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome is not None else None
    return exc.retry_after if isinstance(exc, ServiceError) else None


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    get_logger().warning("%s; trying again in %.1f s (attempt %d)", exc, wait, state.attempt_number + 1)
