"""The Sentry stand-in's in-memory state: its issues (found by id or short id, their status set), events
ingested and grouped into issues, and the rate-limit counters.

Every API answer carries ``X-Sentry-Rate-Limit-{Limit,Remaining,Reset,ConcurrentLimit,
ConcurrentRemaining}``; over a configured fixed-window or concurrent limit (per caller, endpoint and
method) the answer is Sentry's 429.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from orchestration.local.sentry.grouping import describe, event_tags, fingerprint_hash, user_key
from orchestration.local.sentry.model import ApiError, Issue, Json, RateLimit, StoredEvent, parse_time

RATE_LIMIT_MESSAGE = (
    "You are attempting to use this endpoint too frequently. Limit is {limit} requests in {window} seconds"
)
# Sentry's short-id alphabet (Crockford base32, no I, L, O, U).
_BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def base32(number: int) -> str:
    digits = ""
    while True:
        number, rem = divmod(number, 32)
        digits = _BASE32[rem] + digits
        if number == 0:
            return digits


class IssueStore:
    """The issues, their events and the rate-limit counters; ``SentryStandIn`` sets these attributes."""

    project_slug: str
    rate_limit: RateLimit
    rate_limits: dict[str, RateLimit]
    clock: Callable[[], float]
    issues: list[Issue]
    _lock: threading.Lock
    _next_issue: int
    _windows: dict[tuple[str, str, str, int], int]
    _in_flight: dict[tuple[str, str, str], int]

    def find_issue(self, issue_id: str) -> Issue | None:
        with self._lock:
            for issue in self.issues:
                if issue.id == issue_id or issue.short_id.lower() == issue_id.lower():
                    return issue
        return None

    def set_status(self, issue_id: str, status: str) -> None:
        issue = self.find_issue(issue_id)
        if issue is None:
            raise KeyError(issue_id)
        with self._lock:
            issue.status = status
            issue.substatus = "ongoing" if status == "unresolved" else None

    def ingest_event(self, payload: Json, envelope_event_id: str | None = None) -> str:
        """Store an event as Relay and Sentry would, and return its id."""
        now = self.clock()
        event_id = str(payload.get("event_id") or envelope_event_id or uuid.uuid4().hex).replace("-", "")
        timestamp = parse_time(payload.get("timestamp")) or now
        level = str(payload.get("level") or "error")
        title, culprit, location, metadata, kind = describe(payload)
        group_hash = fingerprint_hash(payload)
        with self._lock:
            issue = next((i for i in self.issues if i.hash == group_hash), None)
            if issue is None:
                number = self._next_issue
                self._next_issue += 1
                issue = Issue(
                    id=str(number),
                    short_id=f"{self.project_slug.upper()}-{base32(number)}",
                    hash=group_hash,
                    title=title,
                    culprit=culprit,
                    metadata=metadata,
                    level=level,
                    type=kind,
                    platform=payload.get("platform"),
                    logger=payload.get("logger"),
                    first_seen=timestamp,
                    last_seen=timestamp,
                )
                self.issues.append(issue)
            else:
                if issue.status == "resolved":
                    issue.status, issue.substatus = "unresolved", "regressed"
                issue.first_seen = min(issue.first_seen, timestamp)
                issue.last_seen = max(issue.last_seen, timestamp)
                issue.title, issue.culprit, issue.metadata = title, culprit, metadata
            issue.events.append(
                StoredEvent(
                    event_id=event_id,
                    issue_id=issue.id,
                    received=now,
                    timestamp=timestamp,
                    payload=payload,
                    hashes=[group_hash],
                    title=title,
                    culprit=culprit,
                    location=location,
                    metadata=metadata,
                    level=level,
                    type=kind,
                    user_key=user_key(payload),
                    tags=event_tags(payload),
                )
            )
        return event_id

    @contextmanager
    def rate_limited(self, caller: str, route: str, method: str) -> Iterator[dict[str, str]]:
        """Count a request against its fixed window and the concurrent limit; yields the headers and raises
        ``ApiError(429)`` (carrying them) when over either limit."""
        limits = self.rate_limits.get(route, self.rate_limit)
        now = self.clock()
        window_start = int(now // limits.window) * limits.window
        key = (caller, route, method)
        with self._lock:
            count = self._windows.get((*key, window_start), 0) + 1
            self._windows[(*key, window_start)] = count
            in_flight = self._in_flight.get(key, 0) + 1
            self._in_flight[key] = in_flight
        headers = {
            "X-Sentry-Rate-Limit-Limit": str(limits.limit),
            "X-Sentry-Rate-Limit-Remaining": str(max(0, limits.limit - count)),
            "X-Sentry-Rate-Limit-Reset": str(window_start + limits.window),
            "X-Sentry-Rate-Limit-ConcurrentLimit": str(limits.concurrent),
            "X-Sentry-Rate-Limit-ConcurrentRemaining": str(max(0, limits.concurrent - in_flight)),
        }
        try:
            if count > limits.limit or in_flight > limits.concurrent:
                message = RATE_LIMIT_MESSAGE.format(limit=limits.limit, window=limits.window)
                raise ApiError(429, message, headers)
            yield headers
        finally:
            with self._lock:
                self._in_flight[key] -= 1
