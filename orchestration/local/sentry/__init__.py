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

from orchestration.local.sentry.model import RateLimit
from orchestration.local.sentry.server import SentryStandIn, main

__all__ = ["RateLimit", "SentryStandIn", "main"]
