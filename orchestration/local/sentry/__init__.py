"""A loopback stand-in for Sentry: the envelope ingestion the real ``sentry-sdk`` sends, and the read API
(plus notes) the triage job calls with an auth token, all in memory.

- ``envelopes``: ingestion as Relay answers it (auth key, compression, envelope items).
- ``grouping``: the fingerprint that groups events into issues, and an event's title, culprit and tags.
- ``model``: the stored events and issues, the rate limits, the API error.
- ``store``: the in-memory state: issues, ingested events, rate-limit counters.
- ``api``: the read API's routes and request parsing (search query, statsPeriod, cursors, ``Link``).
- ``shapes``: the JSON the read API answers with (issues, events, frames).
- ``server``: the HTTP server and handler, ``SentryStandIn`` and ``main``
  (``python -m orchestration.local.sentry``).
"""

from __future__ import annotations

from orchestration.local.sentry.api import (
    DEFAULT_STATS_PERIOD,
    INVALID_TOKEN,
    MAX_LIMIT,
    NO_CREDENTIALS,
    NO_PERMISSION,
    NOT_FOUND,
    cursor_links,
    date_window,
    issue_matches,
    parse_cursor,
    parse_limit,
)
from orchestration.local.sentry.grouping import (
    culprit_frame,
    default_grouping,
    describe,
    event_tags,
    exceptions_of,
    fingerprint_hash,
    frames_of,
    grouping_frames,
    message_of,
    user_key,
)
from orchestration.local.sentry.model import ApiError, Issue, Json, RateLimit, StoredEvent, iso, parse_time
from orchestration.local.sentry.server import SentryStandIn, main
from orchestration.local.sentry.shapes import api_frame, entries_of, exception_entry, frame_context
from orchestration.local.sentry.store import RATE_LIMIT_MESSAGE, base32

__all__ = [
    "DEFAULT_STATS_PERIOD",
    "INVALID_TOKEN",
    "MAX_LIMIT",
    "NOT_FOUND",
    "NO_CREDENTIALS",
    "NO_PERMISSION",
    "RATE_LIMIT_MESSAGE",
    "ApiError",
    "Issue",
    "Json",
    "RateLimit",
    "SentryStandIn",
    "StoredEvent",
    "api_frame",
    "base32",
    "culprit_frame",
    "cursor_links",
    "date_window",
    "default_grouping",
    "describe",
    "entries_of",
    "event_tags",
    "exception_entry",
    "exceptions_of",
    "fingerprint_hash",
    "frame_context",
    "frames_of",
    "grouping_frames",
    "iso",
    "issue_matches",
    "main",
    "message_of",
    "parse_cursor",
    "parse_limit",
    "parse_time",
    "user_key",
]
