"""Sentry's read API for the nightly triage: issues, an issue's latest event with its stack frames, notes.

Facts this relies on (docs.sentry.io/api and Sentry's own routes, ``src/sentry/api/urls.py``):

- ``Authorization: Bearer <auth token>``; every path under ``/api/0/``.
- ``GET /api/0/organizations/{org}/issues/`` ("List an Organization's Issues"; the per-project
  ``/projects/{org}/{project}/issues/`` is deprecated): ``project`` takes numeric project ids only (a slug
  there is a 400, "Values must be numbers"), ``projectSlug`` takes slugs; ``query`` (``is:unresolved`` is
  also Sentry's default), ``statsPeriod``, ``limit`` (at most 100). ``count`` comes back as a string.
- Pagination is the ``Link`` header: both a ``previous`` and a ``next`` cursor always, and
  ``results="true"`` only when that page has rows (docs.sentry.io/api/pagination).
- ``GET .../issues/{id}/events/{latest|oldest|recommended}/`` ("Retrieve an Issue Event"; documented under
  ``/organizations/{org}/``, also routed without it); older servers lack ``recommended``: a 404 there
  falls back to ``latest``. Stack frames sit in the ``exception`` entry, and any of their fields may be null.
- ``POST .../issues/{id}/comments/`` (alias ``notes/``) with ``{"text": ...}``: 201; the same text from the
  same user within an hour is a 400 "You have already posted that comment.", which ``add_note`` takes as
  already there, so a retried note is never written twice.
- Rate limits answer 429; ``X-Sentry-Rate-Limit-Reset`` is the UTC epoch second the window resets
  (docs.sentry.io/api/ratelimits), ``Retry-After`` (seconds or a date) wins when present.

Not here: ``GET .../issues/{id}/hashes/``. The local stand-in does not serve it; the grouping hashes an
event was filed under come with the event itself (``SentryEvent.fingerprints``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from jobs.errors import ConfigError, FactoryError, ServiceError
from jobs.retry import RetryPolicy, parse_number, retry_after_header
from jobs.triage.wire import ApiModel, error_text, more_pages, shape

SERVICE = "sentry"
DEFAULT_URL = "https://sentry.io"
MAX_LIMIT = 100  # Sentry's cap on ``limit`` for the issues list
# A server that still offers a next page after this many fails the read: the night would miss what the
# rest holds (RELIABILITY F4), so it says so rather than triaging part of the list.
MAX_PAGES = 50
MIN_WAIT = 1.0  # a reset already past (clock skew) must not retry at once, in a loop
DUPLICATE_NOTE = "already posted that comment"
_ISSUE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")  # numeric ids and short ids (PROJECT-1A)
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

M = TypeVar("M", bound=BaseModel)


class _Model(ApiModel):
    """A model of this provider's answers."""


class StackFrame(_Model):
    """One frame of a stack trace, innermost last, as the read API shapes it; any field may be null."""

    filename: str | None = None
    abs_path: str | None = None
    function: str | None = None
    module: str | None = None
    line_no: int | None = None
    col_no: int | None = None
    context: list[tuple[int, str]] = Field(default_factory=list)  # (line number, source line)
    in_app: bool | None = None
    vars: dict[str, Any] | None = None

    @field_validator("context", mode="before")
    @classmethod
    def _context_lines(cls, value: Any) -> list[tuple[int, str]]:
        # Keep the well-formed [line, text] pairs: a minified or scrubbed frame has gaps and nulls.
        pairs = value if isinstance(value, list) else []
        return [
            (pair[0], pair[1] if isinstance(pair[1], str) else "")
            for pair in pairs
            if isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[0], int)
        ]


class SentryException(_Model):
    """One exception of an event (chained ones come first), with its frames."""

    type: str | None = None
    value: str | None = None
    module: str | None = None
    frames: list[StackFrame] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _frames_from_stacktrace(cls, data: Any) -> Any:
        if isinstance(data, dict) and "frames" not in data:
            stacktrace = data.get("stacktrace")
            frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
            return {**data, "frames": [f for f in _as_list(frames) if isinstance(f, dict)]}
        return data


class SentryIssue(_Model):
    """An issue (a group of events sharing a fingerprint) as the issues list returns it."""

    id: str
    short_id: str
    title: str
    culprit: str | None = None
    permalink: str | None = None
    level: str | None = None
    status: str | None = None
    count: int = 0  # Sentry sends a string ("12"): read as a number
    user_count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    project: str | None = None  # the project's slug
    metadata: dict[str, Any] = Field(default_factory=dict)
    num_comments: int = 0  # notes on the issue

    @field_validator("project", mode="before")
    @classmethod
    def _project_slug(cls, value: Any) -> Any:
        return value.get("slug") if isinstance(value, dict) else value

    @field_validator("count", "user_count", "num_comments", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return 0 if value is None else value

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {}


class SentryEvent(_Model):
    """An event of an issue with its exceptions (from the ``exception`` entry) and tags."""

    id: str = Field(alias="eventID")
    issue_id: str | None = Field(default=None, alias="groupID")
    title: str | None = None
    message: str | None = None
    culprit: str | None = None
    platform: str | None = None
    date_created: datetime | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    exceptions: list[SentryException] = Field(default_factory=list)
    fingerprints: list[str] = Field(default_factory=list)  # the grouping hashes the event was filed under

    @model_validator(mode="before")
    @classmethod
    def _from_entries(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        entries = [e for e in _as_list(data.get("entries")) if isinstance(e, dict)]
        exception = next((e.get("data") for e in entries if e.get("type") == "exception"), None)
        values = exception.get("values") if isinstance(exception, dict) else None
        return {
            **data,
            "exceptions": [v for v in _as_list(values) if isinstance(v, dict)],
            "tags": {
                str(t["key"]): str(t["value"])
                for t in _as_list(data.get("tags"))
                if isinstance(t, dict) and t.get("key") is not None and t.get("value") is not None
            },
            "fingerprints": [str(f) for f in _as_list(data.get("fingerprints"))],
        }

    @property
    def frames(self) -> list[StackFrame]:
        """The frames of the last (the raised) exception, innermost last."""
        return self.exceptions[-1].frames if self.exceptions else []


class SentryClient:
    """Reads issues and events from Sentry and adds notes, with an auth token, over an injected client."""

    def __init__(
        self,
        client: httpx.Client,
        token: SecretStr,
        *,
        base_url: str = DEFAULT_URL,
        policy: RetryPolicy | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        if not token.get_secret_value().strip():
            raise ConfigError("invalid setting SENTRY_AUTH_TOKEN: empty")
        self._client = client
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._policy = policy or RetryPolicy()
        self._max_pages = max_pages
        self._recommended = True  # until a server shows it lacks events/recommended/

    def __repr__(self) -> str:
        return f"SentryClient(base_url={self._base_url!r})"

    def issues(
        self,
        org: str,
        project: int | str,
        *,
        query: str = "is:unresolved",
        stats_period: str = "24h",
        limit: int = MAX_LIMIT,
    ) -> Iterator[SentryIssue]:
        """The project's issues matching ``query`` seen within ``stats_period``, ``limit`` per page, every
        page the ``Link`` header says has results (at most ``max_pages``). ``project`` is the numeric id
        (sent as ``project``) or the slug (sent as ``projectSlug``)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ConfigError(f"Sentry issues limit must be 1..{MAX_LIMIT}, not {limit}")
        key = "project" if isinstance(project, int) or str(project).isdecimal() else "projectSlug"
        params = {key: str(project), "query": query, "statsPeriod": stats_period, "limit": str(limit)}
        path = f"/api/0/organizations/{_slug(org)}/issues/"
        return (
            _shape(SentryIssue, item, "issue")
            for page in self._pages(path, params)
            for item in _list(page, path)
        )

    def latest_event(self, issue_id: str, *, org: str | None = None) -> SentryEvent:
        """The issue's recommended event (its latest where the server has no recommendation)."""
        prefix = self._issue_path(issue_id, org)
        if self._recommended:
            try:
                response = self._policy.call(self._send, "GET", f"{prefix}/events/recommended/", None)
            except ServiceError as exc:
                if exc.status != 404:
                    raise
            else:
                return _shape(SentryEvent, _json(response), "event")
        response = self._policy.call(self._send, "GET", f"{prefix}/events/latest/", None)
        self._recommended = False  # latest answered where recommended did not: the route is missing
        return _shape(SentryEvent, _json(response), "event")

    def add_note(self, issue_id: str, text: str, *, org: str | None = None) -> bool:
        """Add ``text`` as a note (comment) on the issue; False if that same note is already there."""
        if not text.strip():
            raise ConfigError("a Sentry note needs text")
        path = f"{self._issue_path(issue_id, org)}/comments/"
        return self._policy.call(self._post_note, path, text)

    # -- one attempt ----------------------------------------------------------------------------------

    def _pages(self, path: str, params: dict[str, str]) -> Iterator[httpx.Response]:
        """Each page, the first always, the next while its ``Link`` says it has results."""
        seen: set[str] = set()
        for _ in range(self._max_pages):
            response = self._policy.call(self._send, "GET", path, params)
            yield response
            nxt = response.links.get("next", {})
            cursor = nxt.get("cursor")
            if nxt.get("results") != "true" or not cursor or cursor in seen:
                return
            # Our own URL with the cursor, not the link's: a server must not steer the token elsewhere.
            seen.add(cursor)
            params = {**params, "cursor": cursor}
        raise ServiceError(SERVICE, 200, f"GET {path}: {more_pages(self._max_pages, params['limit'])}")

    def _post_note(self, path: str, text: str) -> bool:
        response = self._send("POST", path, None, json={"text": text}, allow=(400,))
        if response.status_code == 400:
            if DUPLICATE_NOTE in response.text:
                return False
            raise ServiceError(SERVICE, 400, f"POST {path}: {self._describe(response)}")
        return True

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        *,
        json: dict[str, Any] | None = None,
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One request; the response if it succeeded (or its status is in ``allow``), else the error."""
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        try:
            response = self._client.request(
                method, f"{self._base_url}{path}", params=params, json=json, headers=headers
            )
        except httpx.TransportError as exc:
            raise FactoryError(f"{SERVICE}: no response ({type(exc).__name__})", retryable=True) from None
        if response.is_success or response.status_code in allow:
            return response
        what = f"{method} {path}: {self._describe(response)}"
        if response.status_code == 429:
            wait = rate_limit_wait(response.headers, self._policy.clock())
            raise ServiceError(SERVICE, 429, f"rate limited: {what}", retry_after=wait)
        if response.status_code == 401:
            what += " (check the Sentry auth token)"
        raise ServiceError(SERVICE, response.status_code, what)

    def _issue_path(self, issue_id: str, org: str | None) -> str:
        if not _ISSUE_ID.fullmatch(issue_id):
            raise ConfigError(f"malformed Sentry issue id {issue_id[:100]!r}")
        scope = f"/organizations/{_slug(org)}" if org is not None else ""
        return f"/api/0{scope}/issues/{quote(issue_id, safe='')}"

    def _describe(self, response: httpx.Response) -> str:
        return error_text(response, "detail", (self._token.get_secret_value(),))


def rate_limit_wait(headers: httpx.Headers, now: float) -> float | None:
    """Seconds until Sentry's limit resets: ``Retry-After``, else ``X-Sentry-Rate-Limit-Reset`` (epoch
    seconds); at least ``MIN_WAIT``; None when neither says (the policy then backs off on its own)."""
    wait = retry_after_header(headers.get("retry-after"), now)
    if wait is None:
        reset = parse_number(headers.get("x-sentry-rate-limit-reset"))
        wait = reset - now if reset is not None else None
    return None if wait is None else max(MIN_WAIT, wait)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ConfigError(f"malformed Sentry organization {value[:100]!r}")
    return value


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _list(response: httpx.Response, path: str) -> list[Any]:
    body = _json(response)
    if not isinstance(body, list):
        raise ServiceError(SERVICE, response.status_code, f"GET {path}: expected a JSON list")
    return body


def _shape(model: type[M], value: Any, what: str) -> M:
    return shape(SERVICE, model, value, what)
