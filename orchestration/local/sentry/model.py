"""The Sentry stand-in's records: events as stored, issues (the events grouped under one fingerprint, with
status and notes), the per caller-endpoint-method rate limits, the API error carrying Sentry's body, and
the timestamps (ISO 8601 out; epoch seconds or ISO 8601 in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class RateLimit:
    """Sentry's per caller-endpoint-method limits: ``limit`` requests per fixed ``window`` seconds, and at
    most ``concurrent`` requests in progress at once."""

    limit: int = 40
    window: int = 1
    concurrent: int = 25


@dataclass
class StoredEvent:
    event_id: str
    issue_id: str
    received: float
    timestamp: float
    payload: Json
    hashes: list[str]
    title: str
    culprit: str
    location: str | None
    metadata: Json
    level: str
    type: str
    user_key: str | None
    tags: list[tuple[str, str]]


@dataclass
class Issue:
    id: str
    short_id: str
    hash: str
    title: str
    culprit: str
    metadata: Json
    level: str
    type: str
    platform: str | None
    logger: str | None
    first_seen: float
    last_seen: float
    status: str = "unresolved"
    substatus: str | None = "new"
    events: list[StoredEvent] = field(default_factory=list)
    notes: list[Json] = field(default_factory=list)


class ApiError(Exception):
    """An answer other than 200, with Sentry's body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> float | None:
    """An event or query timestamp: epoch seconds or ISO 8601 (naive means UTC)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
