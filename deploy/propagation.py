"""IAM is eventually consistent: a grant made a moment ago may not be in effect yet, for minutes.

A deploy meets that in three places, each answered by an error that says so: a Cloud Run revision whose
secret the new grant should let it read ("Permission denied on secret"), an Eventarc trigger created
while Eventarc's own service agent is still receiving its role (400 "Permission denied while using the
Eventarc Service Agent ... may take a few minutes"), and a binding to a service account created moments
earlier ("Service account ... does not exist"). Those are tried again with bounded exponential backoff
(up to ``budget`` seconds, five minutes in real use); if the error outlasts it, errors.py says that the
grants may still be propagating and to run apply again in a minute. Nothing else is retried here.

``sleep`` and ``clock`` are injectable so tests run the whole backoff without waiting.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from google.api_core import exceptions as core_exceptions
from tenacity import RetryCallState, Retrying, retry_if_exception

R = TypeVar("R")

SECRET_NOT_YET_READABLE = "Permission denied on secret"  # noqa: S105 (an error message, not a secret)
EVENTARC_AGENT_NOT_READY = "Permission denied while using the Eventarc Service Agent"
UNKNOWN_ACCOUNT = re.compile(r"Service account \S+ does not exist")


def propagating(exc: BaseException) -> bool:
    """Whether ``exc`` is one of the answers IAM propagation gives (see the module docstring)."""
    if not isinstance(exc, core_exceptions.GoogleAPICallError):
        return False
    message = str(exc.message)
    if SECRET_NOT_YET_READABLE in message or EVENTARC_AGENT_NOT_READY in message:
        return True
    return isinstance(exc, core_exceptions.BadRequest) and bool(UNKNOWN_ACCOUNT.search(message))


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Propagation:
    """How long to keep trying while grants propagate: ``first`` seconds, doubling up to ``maximum``, and
    no attempt that would start after ``budget`` seconds."""

    first: float = 5.0
    maximum: float = 40.0
    budget: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.first * 2 ** (attempt - 1), self.maximum))

    def call(
        self,
        attempt: Callable[[], R],
        *,
        retry_if: Callable[[BaseException], bool] = propagating,
        say: Callable[[str], None] = _quiet,
        label: str = "",
    ) -> R:
        """``attempt()``, tried again while it fails with what ``retry_if`` calls propagation; each wait
        is announced through ``say``, naming ``label`` (the resource)."""
        started = self.clock()

        def stop(state: RetryCallState) -> bool:
            return self.clock() - started + self.delay(state.attempt_number) > self.budget

        def before_sleep(state: RetryCallState) -> None:
            seconds = self.delay(state.attempt_number)
            say(f"  … {label}: IAM grants may still be propagating; trying again in {seconds:.0f} s")

        retrying = Retrying(
            stop=stop,
            wait=lambda state: self.delay(state.attempt_number),
            retry=retry_if_exception(retry_if),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(attempt)
