"""A loopback stand-in for Sentry: the envelope ingestion the real ``sentry-sdk`` sends, and the read API
(plus notes) the triage job calls with an auth token, all in memory.

Ingestion (what Relay answers): ``POST /api/<project_id>/envelope/`` with the DSN's public key in the
``X-Sentry-Auth`` header, the ``sentry_key`` query parameter or the envelope header's ``dsn``; the body
may be gzip/deflate compressed (``Content-Encoding``), as the SDK sends it. ``event`` items become events,
grouped into issues by a fingerprint computed as Sentry's grouping docs describe (an explicit
``fingerprint`` first, ``{{ default }}`` expanded; else the exception types and the in-app frames'
module/function, all frames when none is in-app; else type and value; else the message). Other items
(sessions, client reports, attachments, transactions) are accepted and counted, not stored.

Read API (``Authorization: Bearer <token>``), shapes from Sentry's OpenAPI (getsentry/sentry-api-schema):

- ``GET /api/0/organizations/{org}/issues/``: ``query`` (default ``is:unresolved``; ``is:``, ``level:``,
  ``key:value`` tags, free text; ``!`` negates), ``project`` (id, slug or ``-1``), ``environment``,
  ``statsPeriod`` or ``start``/``end`` (default 14d), ``sort`` (date, new, freq, user), ``limit`` (max
  100), ``cursor``, ``groupStatsPeriod``; ``Link`` header cursor pagination exactly as Sentry formats it.
- ``GET|PUT /api/0/organizations/{org}/issues/{issue_id}/`` (id or short id; PUT sets ``status``).
- ``GET .../issues/{issue_id}/events/`` (``full``, ``per_page``, ``cursor``, date range) and
  ``GET .../issues/{issue_id}/events/{latest|oldest|recommended|event_id}/`` with ``entries``.
- ``GET|POST .../issues/{issue_id}/comments/`` (alias ``notes/``): the group notes endpoint.
- The same issue paths without ``organizations/{org}/`` (``/api/0/issues/{issue_id}/...``).

Every API answer carries ``X-Sentry-Rate-Limit-{Limit,Remaining,Reset,ConcurrentLimit,
ConcurrentRemaining}``; over a configured fixed-window or concurrent limit (per caller, endpoint and
method) the answer is Sentry's 429.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import secrets
import shlex
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from jobs.serving import LoopbackHTTPServer, ServingThread

Json = dict[str, Any]

NOT_FOUND = {"detail": "The requested resource does not exist"}
NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}
INVALID_TOKEN = {"detail": "Invalid token"}
NO_PERMISSION = {"detail": "You do not have permission to perform this action."}
RATE_LIMIT_MESSAGE = (
    "You are attempting to use this endpoint too frequently. Limit is {limit} requests in {window} seconds"
)
DEFAULT_STATS_PERIOD = timedelta(days=14)
MAX_LIMIT = 100
# Sentry's short-id alphabet (Crockford base32, no I, L, O, U).
_BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PERIOD = re.compile(r"^(\d+)([smhdw]?)$")
_PERIOD_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_STATUS_QUERIES = {
    "unresolved": ("unresolved", None),
    "resolved": ("resolved", None),
    "ignored": ("ignored", None),
    "archived": ("ignored", None),
    "new": ("unresolved", "new"),
    "ongoing": ("unresolved", "ongoing"),
    "regressed": ("unresolved", "regressed"),
    "escalating": ("unresolved", "escalating"),
}


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


class _LoopbackServer(LoopbackHTTPServer):
    """Polls for shutdown every 50 ms (socketserver's default is 500 ms), so ``stop`` is quick."""

    def serve_forever(self, poll_interval: float = 0.05) -> None:
        super().serve_forever(poll_interval)


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


def base32(number: int) -> str:
    digits = ""
    while True:
        number, rem = divmod(number, 32)
        digits = _BASE32[rem] + digits
        if number == 0:
            return digits


def exceptions_of(payload: Json) -> list[Json]:
    exc = payload.get("exception")
    values = exc.get("values") if isinstance(exc, dict) else exc
    return [v for v in values or [] if isinstance(v, dict)]


def frames_of(exception: Json) -> list[Json]:
    stacktrace = exception.get("stacktrace")
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return [f for f in frames or [] if isinstance(f, dict)]


def message_of(payload: Json) -> str | None:
    logentry = payload.get("logentry")
    if isinstance(logentry, dict):
        text = logentry.get("formatted") or logentry.get("message")
        if isinstance(text, str) and text:
            return text
    message = payload.get("message")
    if isinstance(message, dict):
        message = message.get("formatted") or message.get("message")
    return message if isinstance(message, str) and message else None


def grouping_frames(frames: list[Json]) -> list[Json]:
    """The frames grouping looks at: the in-app ones, or every frame when none is in-app."""
    in_app = [f for f in frames if f.get("in_app") is True]
    return in_app or frames


def default_grouping(payload: Json) -> list[str]:
    """Components of Sentry's default fingerprint: stack trace, then exception, then message."""
    components: list[str] = []
    for exception in exceptions_of(payload):
        components.append(str(exception.get("type") or "Error"))
        frames = grouping_frames(frames_of(exception))
        if frames:
            for frame in frames:
                where = frame.get("module") or frame.get("filename") or frame.get("abs_path") or "?"
                components.append(f"{where}:{frame.get('function') or '?'}")
        else:
            components.append(str(exception.get("value") or ""))
    if components:
        return components
    logentry = payload.get("logentry")
    template = logentry.get("message") if isinstance(logentry, dict) else None
    return [str(template or message_of(payload) or "<unlabeled event>")]


def fingerprint_hash(payload: Json) -> str:
    """The grouping hash: an explicit ``fingerprint`` (``{{ default }}`` expanded) or the default."""
    explicit = payload.get("fingerprint")
    if isinstance(explicit, list) and explicit:
        parts: list[str] = []
        for item in explicit:
            if re.fullmatch(r"\{\{\s*default\s*\}\}", str(item)):
                parts.extend(default_grouping(payload))
            else:
                parts.append(str(item))
        components = ["fingerprint", *parts]
    else:
        components = ["default", *default_grouping(payload)]
    return hashlib.md5("\x00".join(components).encode(), usedforsecurity=False).hexdigest()


def culprit_frame(payload: Json) -> Json | None:
    """The frame Sentry names as culprit: the last in-app frame of the last exception (else its last)."""
    exceptions = exceptions_of(payload)
    if not exceptions:
        return None
    frames = frames_of(exceptions[-1])
    in_app = [f for f in frames if f.get("in_app") is True]
    chosen = in_app or frames
    return chosen[-1] if chosen else None


def describe(payload: Json) -> tuple[str, str, str | None, Json, str]:
    """Title, culprit, location, metadata and type of an event, as Sentry derives them."""
    frame = culprit_frame(payload)
    culprit = ""
    location = None
    if frame is not None:
        where = frame.get("module") or frame.get("filename") or frame.get("abs_path") or "?"
        culprit = f"{where} in {frame.get('function') or '?'}"
        if frame.get("filename") and frame.get("lineno") is not None:
            location = f"{frame['filename']}:{frame['lineno']}"
    if isinstance(payload.get("transaction"), str) and payload["transaction"]:
        culprit = payload["transaction"]
    if isinstance(payload.get("culprit"), str) and payload["culprit"]:
        culprit = payload["culprit"]
    exceptions = exceptions_of(payload)
    if exceptions:
        last = exceptions[-1]
        kind = str(last.get("type") or "Error")
        value = str(last.get("value") or "")
        first_line = value.splitlines()[0] if value else ""
        title = f"{kind}: {first_line[:100]}" if first_line else kind
        frames = frames_of(last)
        in_app = [f.get("in_app") is True for f in frames]
        metadata: Json = {
            "type": kind,
            "value": value,
            "filename": frame.get("filename") if frame else None,
            "function": frame.get("function") if frame else None,
            "in_app_frame_mix": "in-app-only"
            if in_app and all(in_app)
            else "system-only"
            if not any(in_app)
            else "mixed",
        }
        return title, culprit, location, metadata, "error"
    message = message_of(payload) or "<unlabeled event>"
    title = message.splitlines()[0][:100]
    return title, culprit, location, {"title": title}, "default"


def user_key(payload: Json) -> str | None:
    user = payload.get("user")
    if not isinstance(user, dict):
        return None
    for key in ("id", "email", "username", "ip_address"):
        if user.get(key):
            return f"{key}:{user[key]}"
    return None


def event_tags(payload: Json) -> list[tuple[str, str]]:
    raw = payload.get("tags")
    tags: dict[str, str] = {}
    if isinstance(raw, dict):
        tags.update({str(k): str(v) for k, v in raw.items()})
    elif isinstance(raw, list):
        tags.update({str(p[0]): str(p[1]) for p in raw if isinstance(p, list | tuple) and len(p) == 2})
    tags["level"] = str(payload.get("level") or "error")
    for key in ("environment", "release", "server_name", "transaction", "dist"):
        if payload.get(key):
            tags[key] = str(payload[key])
    exceptions = exceptions_of(payload)
    mechanism = exceptions[-1].get("mechanism") if exceptions else None
    if isinstance(mechanism, dict):
        if "handled" in mechanism:
            tags["handled"] = "yes" if mechanism["handled"] else "no"
        if mechanism.get("type"):
            tags["mechanism"] = str(mechanism["type"])
    who = user_key(payload)
    if who:
        tags["user"] = who
    return sorted(tags.items())


def frame_context(frame: Json) -> list[list[Any]]:
    lineno = frame.get("lineno")
    line = frame.get("context_line")
    if not isinstance(lineno, int) or line is None:
        return []
    pre = [str(x) for x in frame.get("pre_context") or []]
    post = [str(x) for x in frame.get("post_context") or []]
    start = lineno - len(pre)
    lines = [*pre, str(line), *post]
    return [[start + i, text] for i, text in enumerate(lines)]


def api_frame(frame: Json) -> Json:
    """A frame in the read API's shape (camelCase; any field may be null)."""
    return {
        "filename": frame.get("filename"),
        "absPath": frame.get("abs_path"),
        "module": frame.get("module"),
        "package": frame.get("package"),
        "platform": frame.get("platform"),
        "instructionAddr": frame.get("instruction_addr"),
        "symbolAddr": frame.get("symbol_addr"),
        "function": frame.get("function"),
        "rawFunction": frame.get("raw_function"),
        "symbol": frame.get("symbol"),
        "context": frame_context(frame),
        "lineNo": frame.get("lineno"),
        "colNo": frame.get("colno"),
        "inApp": frame.get("in_app") is True,
        "trust": None,
        "errors": None,
        "lock": None,
        "sourceLink": None,
        "vars": frame.get("vars"),
    }


def exception_entry(payload: Json) -> Json | None:
    exceptions = exceptions_of(payload)
    if not exceptions:
        return None
    values = []
    has_system = False
    for exception in exceptions:
        frames = frames_of(exception)
        has_system = has_system or any(f.get("in_app") is not True for f in frames)
        stacktrace = (
            {
                "frames": [api_frame(f) for f in frames],
                "framesOmitted": None,
                "registers": None,
                "hasSystemFrames": any(f.get("in_app") is not True for f in frames),
            }
            if frames
            else None
        )
        values.append(
            {
                "type": exception.get("type"),
                "value": exception.get("value"),
                "module": exception.get("module"),
                "mechanism": exception.get("mechanism"),
                "threadId": exception.get("thread_id"),
                "stacktrace": stacktrace,
                "rawStacktrace": None,
            }
        )
    return {
        "type": "exception",
        "data": {"values": values, "excOmitted": None, "hasSystemFrames": has_system},
    }


def entries_of(payload: Json) -> list[Json]:
    entries: list[Json] = []
    exception = exception_entry(payload)
    if exception is not None:
        entries.append(exception)
    message = message_of(payload)
    if message is not None:
        logentry = payload.get("logentry") if isinstance(payload.get("logentry"), dict) else {}
        entries.append(
            {
                "type": "message",
                "data": {
                    "formatted": message,
                    "message": logentry.get("message") if isinstance(logentry, dict) else None,
                    "params": logentry.get("params") if isinstance(logentry, dict) else None,
                },
            }
        )
    crumbs = payload.get("breadcrumbs")
    crumb_values = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    if crumb_values:
        entries.append({"type": "breadcrumbs", "data": {"values": crumb_values}})
    if isinstance(payload.get("request"), dict):
        entries.append({"type": "request", "data": payload["request"]})
    return entries


class SentryStandIn:
    """Sentry on ``127.0.0.1``: one organization with one project, a DSN public key for ingestion and auth
    tokens for the API. Use as a context manager or call start/stop."""

    def __init__(
        self,
        token: str | list[str],
        public_key: str | None = None,
        project_id: int = 1,
        project_slug: str = "factory",
        org_slug: str = "factory",
        port: int = 0,
        rate_limit: RateLimit | None = None,
        rate_limits: dict[str, RateLimit] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tokens = [token] if isinstance(token, str) else list(token)
        self.public_key = public_key or uuid.uuid4().hex
        if not re.fullmatch(r"[0-9a-f]{32}", self.public_key):
            raise ValueError("a DSN public key is 32 lowercase hex characters, as Relay requires")
        self.project_id = project_id
        self.project_slug = project_slug
        self.org_slug = org_slug
        self.rate_limit = rate_limit or RateLimit()
        self.rate_limits = dict(rate_limits or {})
        self.clock = clock
        self.issues: list[Issue] = []
        self.items_received: dict[str, int] = {}
        self._lock = threading.Lock()
        self._next_issue = 1
        self._windows: dict[tuple[str, str, str, int], int] = {}
        self._in_flight: dict[tuple[str, str, str], int] = {}
        self._httpd = _LoopbackServer(("127.0.0.1", port), _handler_for(self))
        self._serving = ServingThread(self._httpd, "sentry-stand-in")

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def dsn(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{self.public_key}@{host!s}:{port}/{self.project_id}"

    def start(self) -> SentryStandIn:
        self._serving.start()
        return self

    def stop(self) -> None:
        self._serving.stop()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def __enter__(self) -> SentryStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state -------------------------------------------------------------------------------------

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

    # -- rate limits -------------------------------------------------------------------------------

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

    # -- serialization -----------------------------------------------------------------------------

    def project_json(self) -> Json:
        return {
            "id": str(self.project_id),
            "name": self.project_slug,
            "slug": self.project_slug,
            "platform": "python",
        }

    def permalink(self, issue: Issue) -> str:
        return f"{self.url}/organizations/{self.org_slug}/issues/{issue.id}/"

    def issue_json(
        self,
        issue: Issue,
        window: tuple[float, float] | None = None,
        group_stats: str | None = "24h",
    ) -> Json:
        def aggregate(events: list[StoredEvent]) -> Json:
            return {
                "count": str(len(events)),
                "userCount": len({e.user_key for e in events if e.user_key}),
                "firstSeen": iso(min(e.timestamp for e in events)) if events else None,
                "lastSeen": iso(max(e.timestamp for e in events)) if events else None,
            }

        lifetime = aggregate(issue.events)
        in_window = (
            [e for e in issue.events if window[0] <= e.timestamp <= window[1]]
            if window
            else list(issue.events)
        )
        current = aggregate(in_window)
        body: Json = {
            "id": issue.id,
            "shareId": None,
            "shortId": issue.short_id,
            "title": issue.title,
            "culprit": issue.culprit,
            "permalink": self.permalink(issue),
            "logger": issue.logger,
            "level": issue.level,
            "status": issue.status,
            "statusDetails": {},
            "substatus": issue.substatus,
            "isPublic": False,
            "platform": issue.platform,
            "priority": {"fatal": "high", "error": "high", "warning": "medium"}.get(issue.level, "low"),
            "priorityLockedAt": None,
            "seerFixabilityScore": None,
            "seerAutofixLastTriggered": None,
            "seerExplorerAutofixLastTriggered": None,
            "project": self.project_json(),
            "type": issue.type,
            "issueType": "error",
            "issueCategory": "error",
            "metadata": issue.metadata,
            "numComments": len(issue.notes),
            "assignedTo": None,
            "isBookmarked": False,
            "isSubscribed": False,
            "subscriptionDetails": None,
            "hasSeen": False,
            "annotations": [],
            "isUnhandled": any(("handled", "no") in e.tags for e in issue.events),
            **current,
            "lifetime": {**lifetime, "stats": None},
            "filtered": None,
            "inbox": None,
            "owners": None,
            "integrationIssues": [],
            "sentryAppIssues": [],
            "latestEventHasAttachments": False,
            "sessionCount": 0,
            "matchingEventId": None,
            "matchingEventEnvironment": None,
            "derivedData": None,
        }
        if group_stats:
            body["stats"] = {group_stats: self.stats(issue, group_stats)}
        return body

    def stats(self, issue: Issue, period: str) -> list[list[int]]:
        bucket, buckets = (86400, 14) if period == "14d" else (3600, 24)
        end = (int(self.clock()) // bucket + 1) * bucket
        start = end - bucket * buckets
        counts = [0] * buckets
        for event in issue.events:
            if start <= event.timestamp < end:
                counts[int(event.timestamp - start) // bucket] += 1
        return [[start + i * bucket, counts[i]] for i in range(buckets)]

    def simple_event_json(self, event: StoredEvent) -> Json:
        payload = event.payload
        user = payload.get("user") if isinstance(payload.get("user"), dict) else None
        return {
            "id": event.event_id,
            "eventID": event.event_id,
            "groupID": event.issue_id,
            "projectID": str(self.project_id),
            "event.type": event.type,
            "message": message_of(payload) or "",
            "title": event.title,
            "location": event.location,
            "culprit": event.culprit,
            "user": user,
            "tags": [{"key": k, "value": v} for k, v in event.tags],
            "platform": payload.get("platform"),
            "dateCreated": iso(event.timestamp),
            "crashFile": None,
            "metadata": event.metadata,
        }

    def event_json(self, event: StoredEvent, issue: Issue) -> Json:
        payload = event.payload
        ordered = sorted(issue.events, key=lambda e: (e.timestamp, e.received))
        index = ordered.index(event)
        release = payload.get("release")
        extra = payload.get("extra") if isinstance(payload.get("extra"), dict) else {}
        return {
            **self.simple_event_json(event),
            "type": event.type,
            "entries": entries_of(payload),
            "dateReceived": iso(event.received),
            "dist": payload.get("dist"),
            "errors": [],
            "fingerprints": event.hashes,
            "groupingConfig": {"id": "newstyle:2026-01-20", "enhancements": ""},
            "contexts": payload.get("contexts") or {},
            "context": extra,
            "packages": payload.get("modules") or {},
            "sdk": payload.get("sdk"),
            "release": {"version": release} if isinstance(release, str) else None,
            "size": len(json.dumps(payload)),
            "nextEventID": ordered[index + 1].event_id if index + 1 < len(ordered) else None,
            "previousEventID": ordered[index - 1].event_id if index > 0 else None,
            "occurrence": None,
            "resolvedWith": [],
            "sdkUpdates": [],
            "userReport": None,
            "_meta": {},
        }


# -- request parsing --------------------------------------------------------------------------------


def date_window(
    query: dict[str, list[str]], now: float, default: timedelta | None
) -> tuple[float, float] | None:
    """``statsPeriod`` (overrides) or ``start``/``end``; ``default`` when neither is given."""
    period = (query.get("statsPeriod") or [""])[-1]
    if period:
        match = _PERIOD.match(period)
        if not match:
            raise ApiError(400, {"detail": f"Invalid statsPeriod: {period!r}"})
        seconds = int(match.group(1)) * _PERIOD_UNITS[match.group(2)]
        return now - seconds, now
    start, end = (query.get("start") or [""])[-1], (query.get("end") or [""])[-1]
    if start or end:
        if not (start and end):
            raise ApiError(400, {"detail": "start and end are both required"})
        begin, finish = parse_time(start), parse_time(end)
        if begin is None or finish is None:
            raise ApiError(400, {"detail": "start and end must be ISO-8601 datetimes"})
        if begin > finish:
            raise ApiError(400, {"detail": "start must be before end"})
        return begin, finish
    if default is None:
        return None
    return now - default.total_seconds(), now


def parse_cursor(query: dict[str, list[str]]) -> tuple[int, bool]:
    raw = (query.get("cursor") or [""])[-1]
    if not raw:
        return 0, False
    parts = raw.split(":")
    try:
        if len(parts) != 3:
            raise ValueError(raw)
        _value, offset, is_prev = float(parts[0]), int(parts[1]), int(parts[2])
    except ValueError:
        raise ApiError(400, {"detail": "Invalid cursor parameter."}) from None
    if offset < 0:
        raise ApiError(400, {"detail": "Invalid cursor parameter."})
    return offset, bool(is_prev)


def parse_limit(query: dict[str, list[str]], name: str) -> int:
    raw = (query.get(name) or [""])[-1]
    if not raw:
        return MAX_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, {"detail": f"Invalid {name}"}) from None
    if value <= 0:
        raise ApiError(400, {"detail": f"Invalid {name}"})
    return min(value, MAX_LIMIT)


def cursor_links(
    base_url: str, path: str, query: dict[str, list[str]], offset: int, limit: int, total: int
) -> str:
    """Sentry's ``Link`` header (``build_cursor_link``): both cursors always, ``results`` says which has
    rows, the query string kept without ``cursor``."""
    pairs = [(k, v) for k, values in query.items() if k != "cursor" for v in values]
    uri = f"{base_url}{quote(path)}?{urlencode(pairs)}"

    def link(name: str, cursor: str, has_results: bool) -> str:
        flag = "true" if has_results else "false"
        return f'<{uri}&cursor={cursor}>; rel="{name}"; results="{flag}"; cursor="{cursor}"'

    prev = link("previous", f"0:{max(0, offset - limit)}:1", offset > 0)
    nxt = link("next", f"0:{offset + limit}:0", offset + limit < total)
    return f"{prev}, {nxt}"


def issue_matches(issue: Issue, tokens: list[str]) -> bool:
    for token in tokens:
        negate = token.startswith("!")
        term = token[1:] if negate else token
        key, sep, value = term.partition(":")
        if sep and key == "is":
            if value not in _STATUS_QUERIES:
                raise ApiError(400, {"detail": f'Invalid value for "is" search: {value!r}'})
            status, substatus = _STATUS_QUERIES[value]
            hit = issue.status == status and (substatus is None or issue.substatus == substatus)
        elif sep and key == "level":
            hit = issue.level == value
        elif sep and key in ("issue.id", "id"):
            hit = issue.id == value
        elif sep and key in ("issue", "shortId"):
            hit = issue.short_id.lower() == value.lower()
        elif sep:
            hit = any((key, value) in e.tags for e in issue.events)
        else:
            needle = term.lower()
            hit = needle in issue.title.lower() or needle in issue.culprit.lower()
        if hit == negate:
            return False
    return True


def _read_envelope(body: bytes) -> tuple[Json, list[tuple[Json, bytes]]]:
    """Parse an envelope: a JSON header line, then items (a JSON header line and a payload, of the
    header's ``length`` when given, else up to the next newline)."""
    header_line, _, rest = body.partition(b"\n")
    try:
        header = json.loads(header_line or b"{}")
    except json.JSONDecodeError as exc:
        causes = ["invalid envelope header", str(exc)]
        raise ApiError(400, {"detail": "invalid event envelope", "causes": causes}) from None
    if not isinstance(header, dict):
        raise ApiError(400, {"detail": "invalid event envelope", "causes": ["invalid envelope header"]})
    items: list[tuple[Json, bytes]] = []
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        if not line.strip():
            continue
        try:
            item_header = json.loads(line)
        except json.JSONDecodeError as exc:
            causes = ["invalid item header", str(exc)]
            raise ApiError(400, {"detail": "invalid event envelope", "causes": causes}) from None
        if not isinstance(item_header, dict) or "type" not in item_header:
            raise ApiError(400, {"detail": "invalid event envelope", "causes": ["missing item header"]})
        length = item_header.get("length")
        if isinstance(length, int):
            if len(rest) < length:
                raise ApiError(
                    400, {"detail": "invalid event envelope", "causes": ["unexpected end of file"]}
                )
            payload, rest = rest[:length], rest[length:]
            if rest.startswith(b"\n"):
                rest = rest[1:]
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item_header, payload))
    return header, items


def _sentry_auth_key(header: str) -> str | None:
    if not header.lower().startswith("sentry "):
        return None
    for part in header[7:].split(","):
        name, _, value = part.strip().partition("=")
        if name == "sentry_key":
            return value.strip()
    return None


def _decode_body(raw: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity"):
            return raw
        if encoding == "gzip":
            return gzip.decompress(raw)
        if encoding == "deflate":
            return zlib.decompress(raw)
        if encoding == "br":
            import brotli  # type: ignore[import-not-found]  # optional: only if the SDK chose br

            return bytes(brotli.decompress(raw))
    except ImportError:
        raise ApiError(
            400, {"detail": "invalid request body", "causes": ["brotli is not available"]}
        ) from None
    except (OSError, zlib.error, EOFError) as exc:
        raise ApiError(400, {"detail": "invalid request body", "causes": [str(exc)]}) from None
    raise ApiError(400, {"detail": "invalid request body", "causes": [f"unsupported encoding {encoding}"]})


_ISSUE_PREFIX = r"^/api/0/(?:organizations/(?P<org>[^/]+)/)?issues/(?P<issue>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("issues", re.compile(r"^/api/0/organizations/(?P<org>[^/]+)/issues/?$")),
    ("issue", re.compile(_ISSUE_PREFIX + r"/?$")),
    ("events", re.compile(_ISSUE_PREFIX + r"/events/?$")),
    (
        "event",
        re.compile(_ISSUE_PREFIX + r"/events/(?P<event>latest|oldest|recommended|[0-9a-fA-F-]{32,36})/?$"),
    ),
    ("notes", re.compile(_ISSUE_PREFIX + r"/(?:notes|comments)/?$")),
]
_ENVELOPE = re.compile(r"^/api/(?P<project>\d+)/envelope/?$")


def _handler_for(server: SentryStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read state, not logs
            return

        def do_GET(self) -> None:
            self._api("GET")

        def do_PUT(self) -> None:
            self._api("PUT")

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            match = _ENVELOPE.match(path)
            if match:
                self._envelope(int(match.group("project")))
            else:
                self._api("POST")

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        # -- ingestion (Relay) --------------------------------------------------------------------

        def _envelope(self, project_id: int) -> None:
            query = parse_qs(urlsplit(self.path).query)
            raw = self._body()
            try:
                body = _decode_body(raw, self.headers.get("Content-Encoding") or "")
                header, items = _read_envelope(body)
                keys = [k for k in (_sentry_auth_key(self.headers.get("X-Sentry-Auth") or ""),) if k]
                keys += query.get("sentry_key", [])
                dsn = header.get("dsn")
                if isinstance(dsn, str) and dsn:
                    keys.append(urlsplit(dsn).username or "")
                if not keys:
                    raise ApiError(401, {"detail": "missing authorization information"})
                if any(not re.fullmatch(r"[0-9a-fA-F]{32}", k) for k in keys):
                    raise ApiError(400, {"detail": "bad sentry DSN public key"})
                if any(k.lower() != server.public_key for k in keys) or project_id != server.project_id:
                    raise ApiError(403, {"detail": "event submission rejected with_reason: ProjectId"})
            except ApiError as error:
                self._json(error.status, error.body)
                return
            event_id: str | None = None
            for item_header, payload in items:
                kind = str(item_header["type"])
                with server._lock:
                    server.items_received[kind] = server.items_received.get(kind, 0) + 1
                if kind != "event":
                    continue
                try:
                    event = json.loads(payload)
                except json.JSONDecodeError:
                    self._json(400, {"detail": "invalid event envelope", "causes": ["invalid item payload"]})
                    return
                if isinstance(event, dict):
                    event_id = server.ingest_event(event, header.get("event_id"))
            event_id = event_id or (str(header["event_id"]) if header.get("event_id") else None)
            self._json(200, {"id": event_id} if event_id else {})

        # -- read API -----------------------------------------------------------------------------

        def _api(self, method: str) -> None:
            parts = urlsplit(self.path)
            # Read the body whatever the answer, so a kept-alive connection stays in step.
            self.request_body = self._body()
            route, params = next(
                ((name, m.groupdict()) for name, pattern in _ROUTES if (m := pattern.match(parts.path))),
                (None, {}),
            )
            allowed = {"issues": ("GET",), "issue": ("GET", "PUT"), "events": ("GET",), "event": ("GET",)}
            if route is None:
                self._json(404, NOT_FOUND)
                return
            if method not in allowed.get(route, ("GET", "POST")):
                self._json(405, {"detail": f'Method "{method}" not allowed.'})
                return
            auth = self.headers.get("Authorization") or ""
            scheme, _, credentials = auth.partition(" ")
            valid = scheme.lower() == "bearer" and credentials.strip() in server.tokens
            caller = f"user:{credentials.strip()}" if valid else f"ip:{self.client_address[0]}"
            try:
                with server.rate_limited(caller, route, method) as headers:
                    try:
                        if not auth:
                            raise ApiError(401, NO_CREDENTIALS)
                        if scheme.lower() == "bearer" and not credentials.strip():
                            raise ApiError(401, {"detail": "Invalid token header. No credentials provided."})
                        if not valid:
                            raise ApiError(401, INVALID_TOKEN)
                        org = params.get("org")
                        if org is not None and org != server.org_slug:
                            raise ApiError(404, NOT_FOUND)
                        query = parse_qs(parts.query, keep_blank_values=True)
                        status, payload, extra = self._route(route, method, params, query, parts.path)
                    except ApiError as error:
                        self._json(error.status, error.body, headers)
                        return
                    self._json(status, payload, {**headers, **extra})
            except ApiError as error:  # over a limit: Sentry's 429, a JSON string, with the headers
                self._json(error.status, error.body, error.headers)

        def _route(
            self, route: str, method: str, params: dict[str, str], query: dict[str, list[str]], path: str
        ) -> tuple[int, Any, dict[str, str]]:
            if route == "issues":
                return self._issues(query, path)
            issue = server.find_issue(params["issue"])
            if issue is None:
                raise ApiError(404, NOT_FOUND)
            if route == "issue":
                if method == "PUT":
                    return self._update(issue)
                return 200, server.issue_json(issue), {}
            if route == "events":
                return self._events(issue, query, path)
            if route == "event":
                return 200, self._event(issue, params["event"]), {}
            return self._notes(issue, method, query, path)

        def _issues(self, query: dict[str, list[str]], path: str) -> tuple[int, Any, dict[str, str]]:
            projects = [p for p in query.get("project", []) if p]
            accepted = {str(server.project_id), server.project_slug, "-1"}
            if any(p not in accepted for p in projects):
                raise ApiError(403, NO_PERMISSION)
            window = date_window(query, server.clock(), DEFAULT_STATS_PERIOD)
            assert window is not None
            text = query["query"][-1] if "query" in query else "is:unresolved"
            try:
                tokens = shlex.split(text)
            except ValueError:
                raise ApiError(400, {"detail": "Invalid search query"}) from None
            environments = set(query.get("environment", []))
            sort = (query.get("sort") or ["date"])[-1]
            if sort not in ("date", "new", "freq", "user", "trends", "inbox", "recommended", "priority"):
                raise ApiError(400, {"detail": f"Invalid sort: {sort!r}"})
            group_stats = (query.get("groupStatsPeriod") or ["24h"])[-1]
            if group_stats not in ("", "24h", "14d", "auto"):
                raise ApiError(400, {"detail": "Invalid groupStatsPeriod"})
            limit = parse_limit(query, "limit")
            offset, _ = parse_cursor(query)
            with server._lock:
                candidates = list(server.issues)
            matched = []
            for issue in candidates:
                events = [e for e in issue.events if window[0] <= e.timestamp <= window[1]]
                if environments:
                    events = [e for e in events if dict(e.tags).get("environment") in environments]
                if events and issue_matches(issue, tokens):
                    matched.append((issue, events))
            keys: dict[str, Callable[[tuple[Issue, list[StoredEvent]]], float]] = {
                "date": lambda pair: max(e.timestamp for e in pair[1]),
                "new": lambda pair: min(e.timestamp for e in pair[1]),
                "freq": lambda pair: len(pair[1]),
                "user": lambda pair: len({e.user_key for e in pair[1] if e.user_key}),
            }
            order = keys.get(sort, keys["date"])
            matched.sort(key=lambda pair: (order(pair), int(pair[0].id)), reverse=True)
            page = matched[offset : offset + limit]
            stats = "24h" if group_stats == "auto" else group_stats or None
            body = [server.issue_json(issue, window, stats) for issue, _ in page]
            headers = {
                "Link": cursor_links(server.url, path, query, offset, limit, len(matched)),
                "X-Hits": str(len(matched)),
                "X-Max-Hits": str(len(matched)),
            }
            return 200, body, headers

        def _update(self, issue: Issue) -> tuple[int, Any, dict[str, str]]:
            try:
                body = json.loads(self.request_body or b"{}")
            except json.JSONDecodeError:
                raise ApiError(400, {"detail": "JSON parse error"}) from None
            status = body.get("status") if isinstance(body, dict) else None
            if status not in ("resolved", "unresolved", "ignored", "resolvedInNextRelease"):
                raise ApiError(400, {"status": [f'"{status}" is not a valid choice.']})
            server.set_status(issue.id, "resolved" if status == "resolvedInNextRelease" else status)
            return 200, {"status": issue.status, "statusDetails": {}, "substatus": issue.substatus}, {}

        def _events(
            self, issue: Issue, query: dict[str, list[str]], path: str
        ) -> tuple[int, Any, dict[str, str]]:
            window = date_window(query, server.clock(), None)
            full = (query.get("full") or ["false"])[-1].lower() in ("1", "true", "yes")
            limit = parse_limit(query, "per_page")
            offset, _ = parse_cursor(query)
            environments = set(query.get("environment", []))
            with server._lock:
                events = list(issue.events)
            if window:
                events = [e for e in events if window[0] <= e.timestamp <= window[1]]
            if environments:
                events = [e for e in events if dict(e.tags).get("environment") in environments]
            events.sort(key=lambda e: (e.timestamp, e.received), reverse=True)
            page = events[offset : offset + limit]
            body = [server.event_json(e, issue) if full else server.simple_event_json(e) for e in page]
            return 200, body, {"Link": cursor_links(server.url, path, query, offset, limit, len(events))}

        def _event(self, issue: Issue, which: str) -> Json:
            with server._lock:
                events = sorted(issue.events, key=lambda e: (e.timestamp, e.received))
            if not events:
                raise ApiError(404, NOT_FOUND)
            if which in ("latest", "recommended"):
                chosen: StoredEvent | None = events[-1]
            elif which == "oldest":
                chosen = events[0]
            else:
                wanted = which.replace("-", "").lower()
                chosen = next((e for e in events if e.event_id == wanted), None)
            if chosen is None:
                raise ApiError(404, {"detail": "Event not found"})
            return server.event_json(chosen, issue)

        def _notes(
            self, issue: Issue, method: str, query: dict[str, list[str]], path: str
        ) -> tuple[int, Any, dict[str, str]]:
            if method == "GET":
                limit = parse_limit(query, "per_page")
                offset, _ = parse_cursor(query)
                with server._lock:
                    notes = sorted(issue.notes, key=lambda n: n["dateCreated"], reverse=True)
                page = [
                    {k: v for k, v in n.items() if not k.startswith("_")}
                    for n in notes[offset : offset + limit]
                ]
                return 200, page, {"Link": cursor_links(server.url, path, query, offset, limit, len(notes))}
            try:
                body = json.loads(self.request_body or b"{}")
            except json.JSONDecodeError:
                raise ApiError(400, {"detail": "JSON parse error"}) from None
            text = body.get("text") if isinstance(body, dict) else None
            if not isinstance(text, str) or not text.strip():
                raise ApiError(400, {"text": ["This field is required."]})
            now = server.clock()
            with server._lock:
                if any(n["data"]["text"] == text and now - n["_created"] < 3600 for n in issue.notes):
                    raise ApiError(400, {"detail": "You have already posted that comment."})
                note = {
                    "id": str(sum(len(i.notes) for i in server.issues) + 1),
                    "user": {"id": "1", "name": "factory", "username": "factory", "email": None},
                    "type": "note",
                    "data": {"text": text},
                    "dateCreated": iso(now),
                    "_created": now,
                }
                issue.notes.append(note)
            return 201, {k: v for k, v in note.items() if not k.startswith("_")}, {}

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve a Sentry stand-in on loopback until Ctrl-C, printing its DSN, API URL and token."""
    parser = argparse.ArgumentParser(prog="python -m orchestration.local.sentry", description=main.__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--token", default=None, help="API auth token (default: a random one)")
    parser.add_argument("--public-key", default=None, help="DSN public key, 32 hex (default: random)")
    parser.add_argument("--project-id", type=int, default=1)
    parser.add_argument("--project", default="factory", help="project slug")
    parser.add_argument("--org", default="factory", help="organization slug")
    args = parser.parse_args(argv)
    token = args.token or f"sntryu_{secrets.token_hex(32)}"
    stand_in = SentryStandIn(
        token=token,
        public_key=args.public_key,
        project_id=args.project_id,
        project_slug=args.project,
        org_slug=args.org,
        port=args.port,
    )
    print(f"SENTRY_DSN={stand_in.dsn}")
    print(f"SENTRY_URL={stand_in.url}")
    print(f"SENTRY_AUTH_TOKEN={token}")
    print(f"SENTRY_ORG={args.org}")
    print(f"SENTRY_PROJECT={args.project} (id {args.project_id})", flush=True)
    try:
        stand_in.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stand_in._httpd.server_close()


if __name__ == "__main__":
    main()
