"""Langfuse's public read API for the nightly triage: scores, observations and traces.

Facts this relies on (langfuse.com/docs: Public API, Scores API, Observations API, "Migration of
deprecated APIs"; the Fern definitions in langfuse/langfuse that generate its OpenAPI):

- HTTP basic auth, the project's public key as user and its secret key as password; paths under
  ``/api/public``.
- Scores: ``GET /api/public/v3/scores`` is current (cursor in ``meta.cursor``, absent on the last page;
  ``limit`` at most 100; one typed ``value``: number, boolean or string by ``dataType``; the ``subject``
  field group names the trace or observation scored). It answers 404 where it is not served (feature flag
  off, older self-hosted servers): there ``GET /api/public/v2/scores`` (``page``/``limit``, ``meta.
  totalPages``; ``value`` plus ``stringValue``) is read instead. Langfuse Cloud removed the v2 reads at
  its v4 cutover (2026-11-16); self-hosted v3 servers still serve them.
- Observations: ``GET /api/public/v2/observations`` is current (cursor; field groups, ``core`` and
  ``basic`` by default; input and output come back as strings); older servers answer 404 there and serve
  ``GET /api/public/observations`` (``page``/``limit``).
- Traces: ``GET /api/public/traces/{id}`` and ``GET /api/public/traces`` (``page``/``limit``, ``tags``
  repeated, all of them must match). Langfuse lists both as deprecated (the replacement is
  ``/v2/observations`` filtered by ``traceId``), so on a v4-only server they may answer 404.
- Rate limits answer 429 with ``Retry-After`` in seconds (Cloud; self-hosted has none of its own).

Which of a current and a legacy path a server serves is found once per client and remembered.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field, SecretStr, field_validator

from jobs.errors import ConfigError, FactoryError, ServiceError
from jobs.logs import get_logger
from jobs.retry import RetryPolicy, retry_after_header
from jobs.triage.wire import ApiModel, error_text, more_pages, shape

SERVICE = "langfuse"
DEFAULT_HOST = "https://cloud.langfuse.com"
MAX_LIMIT = 100  # the smallest page cap among the paths read here
MAX_PAGES = 50  # pages read before a list that still goes on fails the read (as sentry.MAX_PAGES)
MIN_WAIT = 1.0
SCORES_V3 = "/api/public/v3/scores"
SCORES_V2 = "/api/public/v2/scores"
OBSERVATIONS_V2 = "/api/public/v2/observations"
OBSERVATIONS_V1 = "/api/public/observations"
TRACES = "/api/public/traces"

M = TypeVar("M", bound=BaseModel)
Params = dict[str, str | list[str]]


class _Model(ApiModel):
    """A model of this provider's answers."""


class LangfuseScore(_Model):
    """A score with one typed ``value``: a number (NUMERIC), a boolean (BOOLEAN) or a string (others)."""

    id: str
    name: str
    value: bool | float | str | None = None
    data_type: str | None = None
    source: str | None = None
    timestamp: datetime | None = None
    trace_id: str | None = None
    observation_id: str | None = None
    session_id: str | None = None
    comment: str | None = None
    environment: str | None = None
    metadata: Any = None


class LangfuseObservation(_Model):
    """A span, generation or event; input and output as the server sent them (strings on the v2 path)."""

    id: str
    trace_id: str | None = None
    type: str | None = None
    name: str | None = None
    level: str | None = None
    status_message: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    parent_observation_id: str | None = None
    environment: str | None = None
    input: Any = None
    output: Any = None
    metadata: Any = None
    # The trace's own attributes on each row: ``basic`` (user, session) and ``trace_context`` fields.
    user_id: str | None = None
    session_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    trace_name: str | None = None
    release: str | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _no_tags(cls, value: Any) -> Any:
        return [] if value is None else value


class LangfuseTrace(_Model):
    """A trace: its input and output, where it ran and how long it took (``latency`` in seconds)."""

    id: str
    name: str | None = None
    timestamp: datetime | None = None
    input: Any = None
    output: Any = None
    tags: list[str] = Field(default_factory=list)
    metadata: Any = None
    user_id: str | None = None
    session_id: str | None = None
    environment: str | None = None
    release: str | None = None
    html_path: str | None = None
    latency: float | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("latency", mode="before")
    @classmethod
    def _latency(cls, value: Any) -> Any:
        return None if isinstance(value, int | float) and value < 0 else value  # -1: metrics not read


@dataclass(frozen=True)
class _Route(Generic[M]):
    """One list path: how it pages, what it is asked, and how its rows become a model."""

    path: str
    paging: Literal["cursor", "page"]
    params: Params
    parse: Callable[[Any], M]


class LangfuseClient:
    """Reads scores, observations and traces from one Langfuse project over an injected client."""

    def __init__(
        self,
        client: httpx.Client,
        public_key: str,
        secret_key: SecretStr,
        *,
        host: str = DEFAULT_HOST,
        policy: RetryPolicy | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        if not public_key.strip() or not secret_key.get_secret_value().strip():
            raise ConfigError("invalid settings LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY: empty")
        self._client = client
        self._auth = httpx.BasicAuth(public_key, secret_key.get_secret_value())
        credentials = f"{public_key}:{secret_key.get_secret_value()}".encode()
        # What an error message must never carry: the secret, and the basic credentials it is sent in.
        self._masked = (secret_key.get_secret_value(), base64.b64encode(credentials).decode())
        self._host = host.rstrip("/")
        self._policy = policy or RetryPolicy()
        self._max_pages = max_pages
        self._served: dict[str, str] = {}  # family -> the path this server answered

    def __repr__(self) -> str:
        return f"LangfuseClient(host={self._host!r})"

    def scores(
        self,
        name: str | None = None,
        *,
        from_ts: datetime,
        to_ts: datetime,
        trace_id: str | None = None,
        limit: int = MAX_LIMIT,
    ) -> Iterator[LangfuseScore]:
        """Scores given from ``from_ts`` (inclusive) to ``to_ts`` (exclusive), newest first."""
        params: Params = {"limit": _limit(limit), "fromTimestamp": _iso(from_ts), "toTimestamp": _iso(to_ts)}
        params.update({k: v for k, v in (("name", name), ("traceId", trace_id)) if v is not None})
        current = _Route(SCORES_V3, "cursor", {**params, "fields": "details,subject"}, _score_v3)
        legacy = _Route(SCORES_V2, "page", params, _score_v2)
        return self._rows("scores", current, legacy)

    def observations(
        self,
        trace_id: str | None = None,
        level: str | None = None,
        *,
        from_ts: datetime,
        to_ts: datetime,
        limit: int = MAX_LIMIT,
    ) -> Iterator[LangfuseObservation]:
        """Observations started from ``from_ts`` (inclusive) to ``to_ts`` (exclusive), with their IO."""
        params: Params = {"limit": _limit(limit), "fromStartTime": _iso(from_ts), "toStartTime": _iso(to_ts)}
        params.update({k: v for k, v in (("traceId", trace_id), ("level", level)) if v is not None})
        parse = _parser(LangfuseObservation)
        current = _Route(OBSERVATIONS_V2, "cursor", {**params, "fields": "core,basic,io,metadata"}, parse)
        legacy = _Route(OBSERVATIONS_V1, "page", params, parse)
        return self._rows("observations", current, legacy)

    def trace(self, trace_id: str, *, from_ts: datetime, to_ts: datetime) -> LangfuseTrace:
        """One trace that started in the window: its name, tags, user and session, and the input and output
        of its root observation, from the current observations path (Langfuse v4 keeps no trace-level
        input or output); from ``GET /traces/{id}`` where a server does not serve that path."""
        if not trace_id or trace_id in (".", ".."):
            raise ConfigError(f"malformed Langfuse trace id {trace_id[:100]!r}")
        if self._served.get("trace") != TRACES:
            params: Params = {
                "traceId": trace_id,
                "fields": "core,basic,io,trace_context",
                "fromStartTime": _iso(from_ts),
                "toStartTime": _iso(to_ts),
                "limit": _limit(MAX_LIMIT),
            }
            route = _Route(OBSERVATIONS_V2, "cursor", params, _parser(LangfuseObservation))
            try:
                rows = [route.parse(row) for page in self._pages(route) for row in page]
            except ServiceError as exc:
                if exc.status != 404 or self._served.get("trace") == OBSERVATIONS_V2:
                    raise
                get_logger().info("langfuse: %s is not served here; reading %s", OBSERVATIONS_V2, TRACES)
                self._served["trace"] = TRACES
            else:
                self._served["trace"] = OBSERVATIONS_V2
                if rows:
                    return _trace_of(trace_id, rows)
                # No observation (a trace written without spans): the trace itself, where it is served.
        body = self._policy.call(self._get, f"{TRACES}/{quote(trace_id, safe='')}", None)
        return _shape(LangfuseTrace, body, "trace")

    def traces(
        self,
        name: str | None = None,
        tags: list[str] | None = None,
        *,
        from_ts: datetime,
        to_ts: datetime,
        limit: int = MAX_LIMIT,
    ) -> Iterator[LangfuseTrace]:
        """Traces from ``from_ts`` (inclusive) to ``to_ts`` (exclusive) named ``name`` and carrying every
        one of ``tags``, newest first."""
        params: Params = {"limit": _limit(limit), "fromTimestamp": _iso(from_ts), "toTimestamp": _iso(to_ts)}
        if name is not None:
            params["name"] = name
        if tags:
            params["tags"] = list(tags)
        route = _Route(TRACES, "page", params, _parser(LangfuseTrace))
        return (route.parse(row) for rows in self._pages(route) for row in rows)

    # -- paging ---------------------------------------------------------------------------------------

    def _rows(self, family: str, current: _Route[M], legacy: _Route[M]) -> Iterator[M]:
        """The rows of ``current``, or of ``legacy`` where the server answers 404 for ``current``."""
        if self._served.get(family) != legacy.path:
            pages = self._pages(current)
            try:
                first = next(pages)
            except ServiceError as exc:
                if exc.status != 404 or self._served.get(family) == current.path:
                    raise
                get_logger().info("langfuse: %s is not served here; reading %s", current.path, legacy.path)
                self._served[family] = legacy.path
            else:
                self._served[family] = current.path
                yield from (current.parse(row) for row in first)
                for rows in pages:
                    yield from (current.parse(row) for row in rows)
                return
        for rows in self._pages(legacy):
            yield from (legacy.parse(row) for row in rows)

    def _pages(self, route: _Route[Any]) -> Iterator[list[Any]]:
        """Each page's rows, the first page always, the next while the server says there is one."""
        params = dict(route.params)
        for number in range(1, self._max_pages + 1):
            if route.paging == "page":
                params["page"] = str(number)
            body = self._policy.call(self._get, route.path, params)
            rows, meta = body.get("data"), body.get("meta")
            if not isinstance(rows, list) or not isinstance(meta, dict):
                raise ServiceError(SERVICE, 200, f"GET {route.path}: expected data and meta")
            yield rows
            if route.paging == "cursor":
                cursor = meta.get("cursor")
                if not isinstance(cursor, str) or not cursor or cursor == params.get("cursor"):
                    return
                params["cursor"] = cursor
            elif not rows or not isinstance(meta.get("totalPages"), int) or number >= meta["totalPages"]:
                return
        limit = params.get("limit")
        said = more_pages(self._max_pages, limit if isinstance(limit, str) else None)
        raise ServiceError(SERVICE, 200, f"GET {route.path}: {said}")

    # -- one request ----------------------------------------------------------------------------------

    def _get(self, path: str, params: Params | None) -> dict[str, Any]:
        """One GET; its JSON object if it succeeded, else the error it maps to."""
        try:
            response = self._client.get(f"{self._host}{path}", params=params, auth=self._auth)
        except httpx.TransportError as exc:
            raise FactoryError(f"{SERVICE}: no response ({type(exc).__name__})", retryable=True) from None
        what = f"GET {path}"
        if response.status_code == 429:
            now = self._policy.clock()
            wait = retry_after_header(response.headers.get("retry-after"), now)
            retry_after = None if wait is None else max(MIN_WAIT, wait)
            raise ServiceError(SERVICE, 429, f"rate limited: {what}", retry_after=retry_after)
        if not response.is_success:
            detail = self._describe(response)
            if response.status_code == 401:
                detail += " (check the Langfuse host and keys)"
            raise ServiceError(SERVICE, response.status_code, f"{what}: {detail}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ServiceError(SERVICE, response.status_code, f"{what}: expected a JSON object")
        return body

    def _describe(self, response: httpx.Response) -> str:
        return error_text(response, "message", self._masked)


def _trace_of(trace_id: str, rows: list[LangfuseObservation]) -> LangfuseTrace:
    """A trace from its observations: the root's input and output, the trace's own attributes."""
    root = next((row for row in rows if row.parent_observation_id is None), None) or min(
        rows, key=lambda row: row.start_time.timestamp() if row.start_time else 0.0
    )
    return LangfuseTrace(
        id=trace_id,
        name=root.trace_name,
        timestamp=root.start_time,
        input=_io(root.input),
        output=_io(root.output),
        tags=root.tags,
        user_id=root.user_id,
        session_id=root.session_id,
        environment=root.environment,
        release=root.release,
    )


def _io(value: Any) -> Any:
    """An observation's input or output: the v2 path sends JSON as a string; a plain string stays one."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _score_v3(row: Any) -> LangfuseScore:
    subject = row.get("subject") if isinstance(row, dict) else None
    if isinstance(row, dict) and isinstance(subject, dict):
        kind, item = subject.get("kind"), subject.get("id")
        row = {
            **row,
            "traceId": item if kind == "trace" else subject.get("traceId"),
            "observationId": item if kind == "observation" else None,
            "sessionId": item if kind == "session" else None,
        }
    return _shape(LangfuseScore, row, "score")


def _score_v2(row: Any) -> LangfuseScore:
    """A v2 score with its value typed as v3 types it (BOOLEAN 1/0 as true/false, categories as text)."""
    if isinstance(row, dict):
        data_type, number = row.get("dataType"), row.get("value")
        if data_type == "BOOLEAN" and isinstance(number, int | float):
            value: Any = number == 1
        elif data_type in (None, "NUMERIC"):
            value = number
        else:
            value = row.get("stringValue") or ""
        row = {**row, "value": value}
    return _shape(LangfuseScore, row, "score")


def _parser(model: type[M]) -> Callable[[Any], M]:
    what = model.__name__.removeprefix("Langfuse").lower()
    return lambda row: _shape(model, row, what)


def _shape(model: type[M], value: Any, what: str) -> M:
    return shape(SERVICE, model, value, what)


def _limit(limit: int) -> str:
    if not 1 <= limit <= MAX_LIMIT:
        raise ConfigError(f"Langfuse page limit must be 1..{MAX_LIMIT}, not {limit}")
    return str(limit)


def _iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; a naive datetime is taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
