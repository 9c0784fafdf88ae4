"""A loopback stand-in for Langfuse's public API (``/api/public``), in memory, authenticated as Langfuse
authenticates: HTTP basic auth with the project's public key (user) and secret key (password).

Shapes come from Langfuse's Fern definitions (``fern/apis/server/definition`` in langfuse/langfuse, the
source of https://cloud.langfuse.com/generated/api/openapi.yml) and its route handlers.

Current paths (Langfuse v4, what Cloud serves after the v3 sunset of 2026-11-16):

- ``GET /api/public/v2/observations``: cursor pagination, ``fields`` groups (``core`` and ``basic`` by
  default), filters ``traceId``, ``type``, ``level``, ``name``, ``userId``, ``sessionId``,
  ``parentObservationId``, ``environment``, ``version``, ``fromStartTime``/``toStartTime``.
- ``GET /api/public/v3/scores``: cursor pagination, typed ``value``, comma-list filters, ``value`` /
  ``valueMin`` / ``valueMax`` with a single ``dataType``, ``fields`` groups details/subject/annotation.
- ``POST /api/public/scores``: create a score (basic auth, or bearer with the public key).

Legacy paths (Langfuse v3; self-hosted v3 still serves them, Cloud removed them on 2026-11-16; pass
``deprecation_signal=True`` to add the ``_deprecation`` object Cloud attached before the removal):

- ``POST /api/public/ingestion``: a ``batch`` of ``trace-create``, ``span-create``/``-update``,
  ``generation-create``/``-update``, ``event-create``, ``score-create``, ``sdk-log`` (and the older
  ``observation-create``/``-update``) events, answered 207 with ``successes`` and ``errors``.
- ``GET /api/public/traces`` (``page``/``limit``, ``name``, ``userId``, ``sessionId``, ``tags``,
  ``environment``, ``version``, ``release``, ``fromTimestamp``/``toTimestamp``, ``orderBy``, ``fields``)
  and ``GET /api/public/traces/{traceId}`` with its observations and scores.
- ``GET /api/public/observations`` (and ``/{observationId}``), ``GET /api/public/v2/scores`` (and
  ``/{scoreId}``) with ``page``/``limit`` and ``meta``.

Not modelled: OpenTelemetry ingestion (``/api/public/otel/v1/traces``), sessions, datasets, prompts,
metrics, the JSON ``filter`` parameter, rate limits, model price matching (costs are only what was sent).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jobs.serving import LoopbackHTTPServer, ServingThread

Json = dict[str, Any]

CONFIRM_HOST = ". Confirm that you've configured the correct host."
OBSERVATION_TYPES = (
    "SPAN",
    "GENERATION",
    "EVENT",
    "AGENT",
    "TOOL",
    "CHAIN",
    "RETRIEVER",
    "EVALUATOR",
    "EMBEDDING",
    "GUARDRAIL",
)
LEVELS = ("DEBUG", "DEFAULT", "WARNING", "ERROR")
SCORE_TYPES = ("NUMERIC", "BOOLEAN", "CATEGORICAL", "CORRECTION", "TEXT")
SCORE_SOURCES = ("API", "EVAL", "ANNOTATION")
EVENT_TYPES = {
    "trace-create": None,
    "span-create": "SPAN",
    "span-update": "SPAN",
    "generation-create": "GENERATION",
    "generation-update": "GENERATION",
    "event-create": "EVENT",
    "observation-create": None,
    "observation-update": None,
    "score-create": None,
    "sdk-log": None,
}
TRACE_FIELDS = ("core", "io", "scores", "observations", "metrics")
TRACE_ORDER_FIELDS = (
    "id",
    "timestamp",
    "name",
    "userId",
    "release",
    "version",
    "public",
    "bookmarked",
    "sessionId",
)
OBSERVATION_V2_FIELDS = (
    "core",
    "basic",
    "time",
    "io",
    "metadata",
    "model",
    "usage",
    "prompt",
    "metrics",
    "trace_context",
)
SCORE_V3_FIELDS = ("details", "subject", "annotation")
SUNSET = "2026-11-16"
_OBSERVATIONS_V2 = "GET /api/public/v2/observations?fromStartTime=<from>&toStartTime=<to>"
_V3_NOTICE = (
    "On Langfuse Cloud, Langfuse v3 is deprecated and this endpoint will be removed on November 16, 2026."
)
DEPRECATIONS: dict[str, Json] = {
    "traces": {
        "message": f"{_V3_NOTICE} In Langfuse v4, read span and trace data via {_OBSERVATIONS_V2}.",
        "replacement": _OBSERVATIONS_V2,
        "docsUrl": "https://langfuse.com/docs/api-and-data-platform/features/observations-api",
        "sunsetAt": SUNSET,
    },
    "observations": {
        "message": f"{_V3_NOTICE} Use {_OBSERVATIONS_V2} instead.",
        "replacement": _OBSERVATIONS_V2,
        "docsUrl": "https://langfuse.com/docs/api-and-data-platform/features/observations-api",
        "sunsetAt": SUNSET,
    },
    "scores": {
        "message": f"{_V3_NOTICE} Use GET /api/public/v3/scores instead.",
        "replacement": "GET /api/public/v3/scores",
        "docsUrl": "https://langfuse.com/docs/api-and-data-platform/features/scores-api",
        "sunsetAt": SUNSET,
    },
}


class _LoopbackServer(LoopbackHTTPServer):
    """Polls for shutdown every 50 ms (socketserver's default is 500 ms), so ``stop`` is quick."""

    def serve_forever(self, poll_interval: float = 0.05) -> None:
        super().serve_forever(poll_interval)


class ApiError(Exception):
    """An answer other than success, with Langfuse's body."""

    def __init__(self, status: int, body: Json) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class InvalidEvent(Exception):
    """An ingestion event that fails validation: one ``errors`` entry, the batch goes on."""


def invalid_request(problem: str, path: str) -> ApiError:
    """Langfuse's answer to a query that fails its zod schema."""
    issue = {"code": "custom", "path": [path], "message": problem}
    return ApiError(400, {"message": "Invalid request data", "error": [issue]})


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"message": message, "error": "InvalidRequestError"})


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: Any, name: str) -> float:
    """An ISO 8601 datetime (an offset or ``Z``; naive means UTC) as epoch seconds."""
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected an ISO 8601 datetime string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: invalid datetime {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def optional_time(body: Json, name: str) -> float | None:
    value = body.get(name)
    return None if value is None else parse_time(value, name)


def optional_str(body: Json, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected string, received {type(value).__name__}")
    return value


def normalize_usage(body: Json) -> dict[str, int]:
    """``usageDetails`` (a map or OpenAI's shapes) or the older ``usage``, as Langfuse stores it."""
    details = body.get("usageDetails")
    usage: dict[str, int] = {}
    if isinstance(details, dict):
        if "prompt_tokens" in details or "completion_tokens" in details:
            usage["input"] = int(details.get("prompt_tokens") or 0)
            usage["output"] = int(details.get("completion_tokens") or 0)
            if details.get("total_tokens") is not None:
                usage["total"] = int(details["total_tokens"])
        elif "input_tokens" in details or "output_tokens" in details:
            usage["input"] = int(details.get("input_tokens") or 0)
            usage["output"] = int(details.get("output_tokens") or 0)
            if details.get("total_tokens") is not None:
                usage["total"] = int(details["total_tokens"])
        else:
            usage.update({str(k): int(v) for k, v in details.items() if isinstance(v, int | float)})
    elif isinstance(body.get("usage"), dict):
        legacy = body["usage"]
        pairs = (("input", "promptTokens"), ("output", "completionTokens"), ("total", "totalTokens"))
        for key, openai_key in pairs:
            value = legacy.get(key, legacy.get(openai_key))
            if isinstance(value, int | float):
                usage[key] = int(value)
    if usage and "total" not in usage:
        usage["total"] = sum(v for k, v in usage.items() if k != "total")
    return usage


def normalize_cost(body: Json) -> dict[str, float]:
    details = body.get("costDetails")
    cost: dict[str, float] = {}
    if isinstance(details, dict):
        cost.update({str(k): float(v) for k, v in details.items() if isinstance(v, int | float)})
    elif isinstance(body.get("usage"), dict):
        legacy = body["usage"]
        for key in ("input", "output", "total"):
            value = legacy.get(f"{key}Cost")
            if isinstance(value, int | float):
                cost[key] = float(value)
    if cost and "total" not in cost:
        cost["total"] = sum(v for k, v in cost.items() if k != "total")
    return cost


def query_value(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values and values[-1] != "" else None


def query_list(query: dict[str, list[str]], name: str) -> list[str]:
    """A parameter given repeatedly (``tags=a&tags=b``)."""
    return [v for v in query.get(name, []) if v != ""]


def comma_list(query: dict[str, list[str]], name: str) -> list[str]:
    value = query_value(query, name)
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def page_and_limit(query: dict[str, list[str]]) -> tuple[int, int]:
    page_raw, limit_raw = query_value(query, "page"), query_value(query, "limit")
    try:
        page = int(page_raw) if page_raw is not None else 1
    except ValueError:
        raise invalid_request("Expected number, received nan", "page") from None
    if page < 1:
        raise invalid_request("Number must be greater than 0", "page")
    try:
        limit = int(limit_raw) if limit_raw is not None else 50
    except ValueError:
        raise invalid_request("Expected number, received nan", "limit") from None
    if limit < 1:
        raise invalid_request("Number must be greater than or equal to 1", "limit")
    if limit > 100:
        raise invalid_request("Number must be less than or equal to 100", "limit")
    return page, limit


def time_bound(query: dict[str, list[str]], name: str) -> float | None:
    raw = query_value(query, name)
    if raw is None:
        return None
    try:
        return parse_time(raw, name)
    except ValueError:
        raise invalid_request("Invalid datetime", name) from None


def meta(page: int, limit: int, total: int) -> Json:
    return {"page": page, "limit": limit, "totalItems": total, "totalPages": -(-total // limit)}


def encode_cursor(position: Json, urlsafe: bool = False) -> str:
    raw = json.dumps(position).encode()
    return (base64.urlsafe_b64encode(raw).rstrip(b"=") if urlsafe else base64.b64encode(raw)).decode()


def decode_cursor(raw: str, urlsafe: bool = False) -> Json:
    try:
        padded = raw + "=" * (-len(raw) % 4)
        data = base64.urlsafe_b64decode(padded) if urlsafe else base64.b64decode(padded)
        position = json.loads(data)
    except (binascii.Error, ValueError):
        raise bad_request("Invalid cursor format") from None
    if not isinstance(position, dict):
        raise bad_request("Invalid cursor format")
    return position


def field_groups(query: dict[str, list[str]], allowed: tuple[str, ...], strict: bool) -> list[str] | None:
    """A ``fields`` parameter: ``None`` when absent; unknown names are dropped, or a 400 when ``strict``."""
    names = comma_list(query, "fields")
    if not names:
        return None
    unknown = [n for n in names if n not in allowed]
    if unknown and strict:
        raise bad_request(f"Unknown field group(s): {', '.join(unknown)}. Allowed: {', '.join(allowed)}")
    return [n for n in names if n in allowed]


class LangfuseStandIn:
    """Langfuse on ``127.0.0.1`` holding one project; use as a context manager or call start/stop."""

    def __init__(
        self,
        public_key: str | None = None,
        secret_key: str | None = None,
        project_id: str = "factory-local",
        port: int = 0,
        deprecation_signal: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.public_key = public_key or f"pk-lf-{uuid.uuid4()}"
        self.secret_key = secret_key or f"sk-lf-{uuid.uuid4()}"
        self.project_id = project_id
        self.deprecation_signal = deprecation_signal
        self.clock = clock
        self.traces: dict[str, Json] = {}
        self.observations: dict[str, Json] = {}
        self.scores: dict[str, Json] = {}
        self.event_ids: set[str] = set()
        self._lock = threading.Lock()
        self._httpd = _LoopbackServer(("127.0.0.1", port), _handler_for(self))
        self._serving = ServingThread(self._httpd, "langfuse-stand-in")

    @property
    def url(self) -> str:
        """The host to give a Langfuse client (``LANGFUSE_HOST`` / ``LANGFUSE_BASE_URL``)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    host = url

    def start(self) -> LangfuseStandIn:
        self._serving.start()
        return self

    def stop(self) -> None:
        self._serving.stop()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def __enter__(self) -> LangfuseStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- ingestion ---------------------------------------------------------------------------------

    def ingest(self, batch: list[Any], scores_only: bool = False) -> Json:
        """Apply a batch as Langfuse's ``processEventBatch`` does: validate each event (a bad one is an
        ``errors`` entry, the rest go on), creates before updates, upsert by body id."""
        successes: list[Json] = []
        errors: list[Json] = []
        valid: list[Json] = []
        for event in batch:
            event_id = (
                event.get("id") if isinstance(event, dict) and isinstance(event.get("id"), str) else None
            )
            try:
                if not isinstance(event, dict) or event_id is None:
                    raise InvalidEvent("id: Required")
                kind = event.get("type")
                if kind not in EVENT_TYPES:
                    raise InvalidEvent(f"type: Invalid discriminator value {kind!r}")
                if not isinstance(event.get("timestamp"), str):
                    raise InvalidEvent("timestamp: Required")
                if not isinstance(event.get("body"), dict):
                    raise InvalidEvent("body: Required")
            except InvalidEvent as exc:
                errors.append(
                    {
                        "id": event_id or "unknown",
                        "status": 400,
                        "message": "Invalid request data",
                        "error": str(exc),
                    }
                )
                continue
            if scores_only and kind != "score-create":
                errors.append(
                    {
                        "id": event_id,
                        "status": 401,
                        "message": "Authentication error",
                        "error": "Access Scope Denied",
                    }
                )
                continue
            valid.append(event)
        valid.sort(key=lambda e: (str(e["type"]).endswith("-update"), str(e["timestamp"])))
        for event in valid:
            try:
                with self._lock:
                    if event["id"] not in self.event_ids:
                        self._apply(event)
                        self.event_ids.add(event["id"])
            except (InvalidEvent, ValueError, TypeError) as exc:
                errors.append(
                    {"id": event["id"], "status": 400, "message": "Invalid request data", "error": str(exc)}
                )
                continue
            successes.append({"id": event["id"], "status": 201})
        return {"successes": successes, "errors": errors}

    def _apply(self, event: Json) -> None:
        kind, body = str(event["type"]), dict(event["body"])
        now = self.clock()
        if kind == "trace-create":
            self._upsert_trace(body, parse_time(event["timestamp"], "timestamp"), now)
        elif kind == "score-create":
            self._create_score(body, now, timestamp=parse_time(event["timestamp"], "timestamp"))
        elif kind != "sdk-log":
            observation_type = EVENT_TYPES[kind] or body.get("type")
            if observation_type not in OBSERVATION_TYPES:
                raise InvalidEvent(f"type: Invalid enum value {observation_type!r}")
            self._upsert_observation(
                str(observation_type), body, parse_time(event["timestamp"], "timestamp"), now
            )

    def _upsert_trace(self, body: Json, event_time: float, now: float) -> None:
        trace_id = optional_str(body, "id") or str(uuid.uuid4())
        tags = body.get("tags")
        if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
            raise InvalidEvent("tags: Expected array of strings")
        public = body.get("public")
        if public is not None and not isinstance(public, bool):
            raise InvalidEvent("public: Expected boolean")
        fields = {
            "timestamp": optional_time(body, "timestamp"),
            "name": optional_str(body, "name"),
            "userId": optional_str(body, "userId"),
            "sessionId": optional_str(body, "sessionId"),
            "release": optional_str(body, "release"),
            "version": optional_str(body, "version"),
            "environment": optional_str(body, "environment"),
            "input": body.get("input"),
            "output": body.get("output"),
            "metadata": body.get("metadata"),
            "public": public,
        }
        trace = self.traces.get(trace_id)
        if trace is None:
            trace = {
                "id": trace_id,
                "timestamp": event_time,
                "name": None,
                "userId": None,
                "sessionId": None,
                "release": None,
                "version": None,
                "environment": "default",
                "input": None,
                "output": None,
                "metadata": None,
                "public": False,
                "tags": [],
                "createdAt": now,
            }
            self.traces[trace_id] = trace
        trace.update({k: v for k, v in fields.items() if v is not None})
        if tags:
            trace["tags"] = sorted(set(trace["tags"]) | set(tags))
        trace["updatedAt"] = now

    def _upsert_observation(self, kind: str, body: Json, event_time: float, now: float) -> None:
        observation_id = optional_str(body, "id") or str(uuid.uuid4())
        level = body.get("level")
        if level is not None and level not in LEVELS:
            raise InvalidEvent(f"level: Invalid enum value {level!r}")
        prompt_version = body.get("promptVersion")
        if prompt_version is not None and not isinstance(prompt_version, int):
            raise InvalidEvent("promptVersion: Expected integer")
        fields = {
            "traceId": optional_str(body, "traceId"),
            "name": optional_str(body, "name"),
            "startTime": optional_time(body, "startTime"),
            "endTime": optional_time(body, "endTime"),
            "completionStartTime": optional_time(body, "completionStartTime"),
            "model": optional_str(body, "model"),
            "modelParameters": body.get("modelParameters"),
            "input": body.get("input"),
            "output": body.get("output"),
            "metadata": body.get("metadata"),
            "version": optional_str(body, "version"),
            "level": level,
            "statusMessage": optional_str(body, "statusMessage"),
            "parentObservationId": optional_str(body, "parentObservationId"),
            "environment": optional_str(body, "environment"),
            "promptName": optional_str(body, "promptName"),
            "promptVersion": prompt_version,
        }
        usage, cost = normalize_usage(body), normalize_cost(body)
        observation = self.observations.get(observation_id)
        if observation is None:
            observation = {
                "id": observation_id,
                "type": kind,
                "traceId": None,
                "name": None,
                "startTime": event_time,
                "endTime": None,
                "completionStartTime": None,
                "model": None,
                "modelParameters": None,
                "input": None,
                "output": None,
                "metadata": None,
                "version": None,
                "level": "DEFAULT",
                "statusMessage": None,
                "parentObservationId": None,
                "environment": "default",
                "promptName": None,
                "promptVersion": None,
                "usageDetails": {},
                "costDetails": {},
                "createdAt": now,
            }
            self.observations[observation_id] = observation
        observation.update({k: v for k, v in fields.items() if v is not None})
        if observation["traceId"] is None:
            # An observation without a trace gets one, as Langfuse's ingestion creates it.
            observation["traceId"] = str(uuid.uuid4())
            self._upsert_trace({"id": observation["traceId"]}, observation["startTime"], now)
        if usage:
            observation["usageDetails"] = usage
        if cost:
            observation["costDetails"] = cost
        observation["updatedAt"] = now

    def _create_score(
        self, body: Json, now: float, source: str = "API", timestamp: float | None = None
    ) -> str:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidEvent("name: Required")
        value = body.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidEvent("value: Expected number or string")
        data_type = body.get("dataType")
        if data_type is None:
            data_type = "CATEGORICAL" if isinstance(value, str) else "NUMERIC"
        if data_type not in SCORE_TYPES:
            raise InvalidEvent(f"dataType: Invalid enum value {data_type!r}")
        references = [optional_str(body, k) for k in ("traceId", "sessionId", "datasetRunId")]
        if not any(references):
            raise InvalidEvent("At least one of traceId, sessionId or datasetRunId must be provided")
        number: float | None
        string: str | None
        if data_type in ("NUMERIC", "BOOLEAN"):
            if isinstance(value, str):
                raise InvalidEvent(f"value: Expected number for data type {data_type}")
            number, string = float(value), None
            if data_type == "BOOLEAN":
                if number not in (0.0, 1.0):
                    raise InvalidEvent("Value must be a number equal to either 0 or 1 for data type BOOLEAN")
                string = "True" if number == 1.0 else "False"
        else:
            if not isinstance(value, str):
                raise InvalidEvent(f"value: Expected string for data type {data_type}")
            if data_type == "TEXT" and not 1 <= len(value) <= 500:
                raise InvalidEvent("value: Text score values must be between 1 and 500 characters")
            number, string = (None if data_type == "TEXT" else 0.0), value
            if data_type == "CORRECTION":
                name = "output"
        score_id = optional_str(body, "id") or str(uuid.uuid4())
        previous = self.scores.get(score_id)
        self.scores[score_id] = {
            "id": score_id,
            "traceId": references[0],
            "sessionId": references[1],
            "datasetRunId": references[2],
            "observationId": optional_str(body, "observationId"),
            "name": name,
            "value": number,
            "stringValue": string,
            "dataType": data_type,
            "source": source,
            "comment": optional_str(body, "comment"),
            "metadata": body.get("metadata"),
            "configId": optional_str(body, "configId"),
            "queueId": optional_str(body, "queueId"),
            "environment": optional_str(body, "environment") or "default",
            "authorUserId": None,
            "timestamp": timestamp if timestamp is not None else now,
            "createdAt": previous["createdAt"] if previous else now,
            "updatedAt": now,
        }
        return score_id

    # -- serialization -----------------------------------------------------------------------------

    def trace_observations(self, trace_id: str) -> list[Json]:
        found = [o for o in self.observations.values() if o["traceId"] == trace_id]
        return sorted(found, key=lambda o: o["startTime"])

    def trace_scores(self, trace_id: str) -> list[Json]:
        return sorted(
            (s for s in self.scores.values() if s["traceId"] == trace_id), key=lambda s: s["timestamp"]
        )

    def trace_json(self, trace: Json, fields: list[str] | None, full: bool) -> Json:
        groups = fields or list(TRACE_FIELDS)
        observations = self.trace_observations(trace["id"])
        scores = self.trace_scores(trace["id"])
        body: Json = {
            "id": trace["id"],
            "externalId": None,
            "timestamp": iso(trace["timestamp"]),
            "name": trace["name"],
            "userId": trace["userId"],
            "release": trace["release"],
            "version": trace["version"],
            "projectId": self.project_id,
            "environment": trace["environment"],
            "public": trace["public"],
            "bookmarked": False,
            "tags": trace["tags"],
            "sessionId": trace["sessionId"],
            "createdAt": iso(trace["createdAt"]),
            "updatedAt": iso(trace["updatedAt"]),
            "htmlPath": f"/project/{self.project_id}/traces/{trace['id']}",
        }
        if "io" in groups:
            body.update(input=trace["input"], output=trace["output"], metadata=trace["metadata"])
        if "metrics" in groups:
            ends = [o["endTime"] or o["startTime"] for o in observations]
            starts = [o["startTime"] for o in observations]
            body["latency"] = round(max(ends + starts) - min(starts), 3) if observations else 0.0
            body["totalCost"] = sum(o["costDetails"].get("total", 0.0) for o in observations)
        else:
            body["latency"], body["totalCost"] = -1, -1
        if full:
            body["observations"] = (
                [self.observation_json(o) for o in observations] if "observations" in groups else []
            )
            body["scores"] = [self.score_v1_json(s) for s in scores] if "scores" in groups else []
        else:
            body["observations"] = [o["id"] for o in observations] if "observations" in groups else []
            body["scores"] = [s["id"] for s in scores] if "scores" in groups else []
        return body

    def observation_json(self, observation: Json) -> Json:
        """An observation as the legacy API shapes it (``APIObservation``)."""
        usage, cost = observation["usageDetails"], observation["costDetails"]
        start, end, first = (
            observation["startTime"],
            observation["endTime"],
            observation["completionStartTime"],
        )
        prompt_tokens, completion_tokens, total_tokens = (
            usage.get("input", 0),
            usage.get("output", 0),
            usage.get("total", 0),
        )
        return {
            "id": observation["id"],
            "projectId": self.project_id,
            "traceId": observation["traceId"],
            "parentObservationId": observation["parentObservationId"],
            "name": observation["name"],
            "type": observation["type"],
            "environment": observation["environment"],
            "startTime": iso(start),
            "endTime": iso(end),
            "version": observation["version"],
            "createdAt": iso(observation["createdAt"]),
            "updatedAt": iso(observation["updatedAt"]),
            "input": observation["input"],
            "output": observation["output"],
            "metadata": observation["metadata"],
            "level": observation["level"],
            "statusMessage": observation["statusMessage"],
            "model": observation["model"],
            "modelParameters": observation["modelParameters"],
            "completionStartTime": iso(first),
            "promptId": None,
            "promptName": observation["promptName"],
            "promptVersion": observation["promptVersion"],
            "usageDetails": usage,
            "costDetails": cost,
            "usage": {
                "unit": "TOKENS",
                "input": prompt_tokens,
                "output": completion_tokens,
                "total": total_tokens,
            },
            "unit": "TOKENS",
            "promptTokens": prompt_tokens,
            "completionTokens": completion_tokens,
            "totalTokens": total_tokens,
            "usagePricingTierName": None,
            "usagePricingTierId": None,
            "modelId": None,
            "inputPrice": None,
            "outputPrice": None,
            "totalPrice": None,
            "calculatedInputCost": cost.get("input"),
            "calculatedOutputCost": cost.get("output"),
            "calculatedTotalCost": cost.get("total"),
            "latency": round(end - start, 3) if end is not None else None,
            "timeToFirstToken": round(first - start, 3) if first is not None else None,
        }

    def observation_v2_json(self, observation: Json, groups: list[str]) -> Json:
        """An observation as ``GET /v2/observations`` shapes it: core fields, then the groups asked for."""
        trace = self.traces.get(observation["traceId"] or "", {})
        full = self.observation_json(observation)
        body: Json = {
            key: full[key]
            for key in ("id", "traceId", "startTime", "endTime", "projectId", "parentObservationId", "type")
        }
        body.update(modelId=None, inputPrice=None, outputPrice=None, totalPrice=None)
        if "basic" in groups:
            body.update(
                name=observation["name"],
                level=observation["level"],
                statusMessage=observation["statusMessage"],
                version=observation["version"],
                environment=observation["environment"],
                bookmarked=False,
                public=bool(trace.get("public", False)),
                userId=trace.get("userId"),
                sessionId=trace.get("sessionId"),
                isRootObservation=observation["parentObservationId"] is None,
            )
        if "time" in groups:
            body.update({k: full[k] for k in ("completionStartTime", "createdAt", "updatedAt")})
        if "io" in groups:
            for key in ("input", "output"):
                value = observation[key]
                body[key] = value if value is None or isinstance(value, str) else json.dumps(value)
        if "metadata" in groups:
            body["metadata"] = observation["metadata"]
        if "model" in groups:
            body.update(
                providedModelName=observation["model"],
                internalModelId=None,
                modelParameters=observation["modelParameters"],
            )
        if "usage" in groups:
            body.update(
                usageDetails=full["usageDetails"],
                costDetails=full["costDetails"],
                totalCost=full["calculatedTotalCost"],
                usagePricingTierName=None,
            )
        if "prompt" in groups:
            body.update(promptId=None, promptName=full["promptName"], promptVersion=full["promptVersion"])
        if "metrics" in groups:
            body.update(latency=full["latency"], timeToFirstToken=full["timeToFirstToken"])
        if "trace_context" in groups:
            body.update(tags=trace.get("tags"), release=trace.get("release"), traceName=trace.get("name"))
        return body

    def score_base_json(self, score: Json) -> Json:
        body: Json = {
            "id": score["id"],
            "projectId": self.project_id,
            "name": score["name"],
            "source": score["source"],
            "timestamp": iso(score["timestamp"]),
            "createdAt": iso(score["createdAt"]),
            "updatedAt": iso(score["updatedAt"]),
            "authorUserId": score["authorUserId"],
            "comment": score["comment"],
            "metadata": score["metadata"],
            "configId": score["configId"],
            "queueId": score["queueId"],
            "environment": score["environment"],
            "dataType": score["dataType"],
        }
        if score["dataType"] != "TEXT":
            body["value"] = score["value"]
        if score["dataType"] != "NUMERIC":
            body["stringValue"] = score["stringValue"]
        return body

    def score_v1_json(self, score: Json) -> Json:
        return {
            **self.score_base_json(score),
            "traceId": score["traceId"],
            "observationId": score["observationId"],
        }

    def score_v2_json(self, score: Json, with_trace: bool) -> Json:
        body = {
            **self.score_base_json(score),
            "traceId": score["traceId"],
            "sessionId": score["sessionId"],
            "observationId": score["observationId"],
            "datasetRunId": score["datasetRunId"],
        }
        trace = self.traces.get(score["traceId"] or "")
        if with_trace and trace is not None:
            body["trace"] = {
                "userId": trace["userId"],
                "tags": trace["tags"],
                "environment": trace["environment"],
                "sessionId": trace["sessionId"],
            }
        return body

    def score_v3_json(self, score: Json, groups: list[str]) -> Json:
        value: Any = score["value"]
        if score["dataType"] == "BOOLEAN":
            value = score["value"] == 1.0
        elif score["dataType"] in ("CATEGORICAL", "TEXT", "CORRECTION"):
            value = score["stringValue"] or ""
        body: Json = {
            "id": score["id"],
            "projectId": self.project_id,
            "name": score["name"],
            "value": value,
            "dataType": score["dataType"],
            "source": score["source"],
            "timestamp": iso(score["timestamp"]),
            "environment": score["environment"],
            "createdAt": iso(score["createdAt"]),
            "updatedAt": iso(score["updatedAt"]),
        }
        if "details" in groups:
            body.update(
                comment=score["comment"], configId=score["configId"], metadata=score["metadata"] or {}
            )
        if "annotation" in groups:
            body.update(authorUserId=score["authorUserId"], queueId=score["queueId"])
        if "subject" in groups:
            if score["observationId"]:
                body["subject"] = {
                    "kind": "observation",
                    "id": score["observationId"],
                    "traceId": score["traceId"],
                }
            elif score["traceId"]:
                body["subject"] = {"kind": "trace", "id": score["traceId"]}
            elif score["sessionId"]:
                body["subject"] = {"kind": "session", "id": score["sessionId"]}
            else:
                body["subject"] = {"kind": "experiment", "id": score["datasetRunId"]}
        return body

    def with_deprecation(self, body: Json, family: str) -> Json:
        return {**body, "_deprecation": DEPRECATIONS[family]} if self.deprecation_signal else body

    # -- reads -------------------------------------------------------------------------------------

    def list_traces(self, query: dict[str, list[str]]) -> Json:
        page, limit = page_and_limit(query)
        order = query_value(query, "orderBy") or "timestamp.desc"
        column, _, direction = order.partition(".")
        if column not in TRACE_ORDER_FIELDS or direction.lower() not in ("asc", "desc"):
            raise invalid_request(f"Invalid orderBy {order!r}", "orderBy")
        start, end = time_bound(query, "fromTimestamp"), time_bound(query, "toTimestamp")
        tags, environments = query_list(query, "tags"), query_list(query, "environment")
        with self._lock:
            traces = list(self.traces.values())
        equal = {k: query_value(query, k) for k in ("name", "userId", "sessionId", "version", "release")}
        selected = [
            t
            for t in traces
            if all(v is None or t[k] == v for k, v in equal.items())
            and all(tag in t["tags"] for tag in tags)
            and (not environments or t["environment"] in environments)
            and (start is None or t["timestamp"] >= start)
            and (end is None or t["timestamp"] < end)
        ]
        selected.sort(key=lambda t: t["timestamp"], reverse=True)
        if column != "timestamp" or direction.lower() != "desc":
            present = [t for t in selected if t.get(column) is not None]
            absent = [t for t in selected if t.get(column) is None]
            present.sort(key=lambda t: t[column], reverse=direction.lower() == "desc")
            selected = present + absent
        fields = field_groups(query, TRACE_FIELDS, strict=False)
        window = selected[(page - 1) * limit : page * limit]
        with self._lock:
            data = [self.trace_json(t, fields, full=False) for t in window]
        return self.with_deprecation({"data": data, "meta": meta(page, limit, len(selected))}, "traces")

    def get_trace(self, trace_id: str, query: dict[str, list[str]]) -> Json:
        with self._lock:
            trace = self.traces.get(trace_id)
            if trace is None:
                raise ApiError(
                    404,
                    {
                        "message": f"Trace {trace_id} not found within authorized project",
                        "error": "LangfuseNotFoundError",
                    },
                )
            body = self.trace_json(trace, field_groups(query, TRACE_FIELDS, strict=False), full=True)
        return self.with_deprecation(body, "traces")

    def _filter_observations(self, query: dict[str, list[str]], start_name: str, end_name: str) -> list[Json]:
        kind, level = query_value(query, "type"), query_value(query, "level")
        if kind is not None and kind not in OBSERVATION_TYPES:
            raise invalid_request(f"Invalid enum value. Expected {' | '.join(OBSERVATION_TYPES)}", "type")
        if level is not None and level not in LEVELS:
            raise invalid_request(f"Invalid enum value. Expected {' | '.join(LEVELS)}", "level")
        start, end = time_bound(query, start_name), time_bound(query, end_name)
        environments = query_list(query, "environment")
        equal = {k: query_value(query, k) for k in ("name", "traceId", "version", "parentObservationId")}
        trace_equal = {k: query_value(query, k) for k in ("userId", "sessionId")}
        with self._lock:
            observations = list(self.observations.values())
            traces = dict(self.traces)
        return [
            o
            for o in observations
            if (kind is None or o["type"] == kind)
            and (level is None or o["level"] == level)
            and all(v is None or o[k] == v for k, v in equal.items())
            and all(v is None or traces.get(o["traceId"], {}).get(k) == v for k, v in trace_equal.items())
            and (not environments or o["environment"] in environments)
            and (start is None or o["startTime"] >= start)
            and (end is None or o["startTime"] < end)
        ]

    def list_observations(self, query: dict[str, list[str]]) -> Json:
        page, limit = page_and_limit(query)
        selected = self._filter_observations(query, "fromStartTime", "toStartTime")
        selected.sort(key=lambda o: o["startTime"], reverse=True)
        window = selected[(page - 1) * limit : page * limit]
        body = {"data": [self.observation_json(o) for o in window], "meta": meta(page, limit, len(selected))}
        return self.with_deprecation(body, "observations")

    def list_observations_v2(self, query: dict[str, list[str]]) -> Json:
        raw_limit = query_value(query, "limit")
        try:
            limit = int(raw_limit) if raw_limit is not None else 50
        except ValueError:
            raise invalid_request("Expected number, received nan", "limit") from None
        if not 0 <= limit <= 1000:
            raise invalid_request("Number must be less than or equal to 1000", "limit")
        if query_value(query, "parseIoAsJson") == "true":
            raise invalid_request("parseIoAsJson=true is no longer supported", "parseIoAsJson")
        groups = ["core", *(field_groups(query, OBSERVATION_V2_FIELDS, strict=False) or ["basic"])]
        selected = self._filter_observations(query, "fromStartTime", "toStartTime")
        root = query_value(query, "isRootObservation")
        if root is not None:
            selected = [o for o in selected if (o["parentObservationId"] is None) == (root == "true")]
        selected.sort(key=lambda o: (o["startTime"], o["traceId"] or "", o["id"]), reverse=True)
        cursor = query_value(query, "cursor")
        if cursor is not None:
            position = decode_cursor(cursor)
            try:
                last = (
                    parse_time(position["lastStartTimeTo"], "cursor"),
                    position["lastTraceId"],
                    position["lastId"],
                )
            except (KeyError, ValueError):
                raise bad_request("Invalid cursor format") from None
            selected = [o for o in selected if (o["startTime"], o["traceId"] or "", o["id"]) < last]
        window = selected[:limit]
        with self._lock:
            data = [self.observation_v2_json(o, groups) for o in window]
        body: Json = {"data": data, "meta": {}}
        if len(selected) > limit and window:
            tail = window[-1]
            position = {
                "lastStartTimeTo": iso(tail["startTime"]),
                "lastTraceId": tail["traceId"],
                "lastId": tail["id"],
            }
            body["meta"]["cursor"] = encode_cursor(position)
        return body

    def list_scores_v2(self, query: dict[str, list[str]]) -> Json:
        page, limit = page_and_limit(query)
        operator, raw_value = query_value(query, "operator"), query_value(query, "value")
        if operator is not None and operator not in ("<", ">", "<=", ">=", "!=", "="):
            raise invalid_request(
                "Invalid enum value. Expected '<' | '>' | '<=' | '>=' | '!=' | '='", "operator"
            )
        try:
            threshold = float(raw_value) if raw_value is not None else None
        except ValueError:
            raise invalid_request("Expected number, received nan", "value") from None
        data_type, source = query_value(query, "dataType"), query_value(query, "source")
        if data_type is not None and data_type not in SCORE_TYPES:
            raise invalid_request(f"Invalid enum value. Expected {' | '.join(SCORE_TYPES)}", "dataType")
        if source is not None and source not in SCORE_SOURCES:
            raise invalid_request(f"Invalid enum value. Expected {' | '.join(SCORE_SOURCES)}", "source")
        fields = field_groups(query, ("score", "trace"), strict=False) or ["score", "trace"]
        start, end = time_bound(query, "fromTimestamp"), time_bound(query, "toTimestamp")
        score_ids, observation_ids = comma_list(query, "scoreIds"), comma_list(query, "observationId")
        trace_tags, environments = query_list(query, "traceTags"), query_list(query, "environment")
        user_id = query_value(query, "userId")
        if (user_id is not None or trace_tags) and "trace" not in fields:
            raise bad_request("Cannot filter by trace properties without the 'trace' field group")
        equal = {
            k: query_value(query, k)
            for k in (
                "name",
                "configId",
                "queueId",
                "sessionId",
                "datasetRunId",
                "traceId",
                "dataType",
                "source",
            )
        }
        compare: dict[str, Callable[[float, float], bool]] = {
            "<": lambda a, b: a < b,
            ">": lambda a, b: a > b,
            "<=": lambda a, b: a <= b,
            ">=": lambda a, b: a >= b,
            "!=": lambda a, b: a != b,
            "=": lambda a, b: a == b,
        }
        with self._lock:
            scores = list(self.scores.values())
            traces = dict(self.traces)
        selected = []
        for score in scores:
            trace = traces.get(score["traceId"] or "")
            if not all(v is None or score[k] == v for k, v in equal.items()):
                continue
            if threshold is not None and (
                score["value"] is None or not compare[operator or "="](score["value"], threshold)
            ):
                continue
            if score_ids and score["id"] not in score_ids:
                continue
            if observation_ids and score["observationId"] not in observation_ids:
                continue
            if environments and score["environment"] not in environments:
                continue
            if start is not None and score["timestamp"] < start:
                continue
            if end is not None and score["timestamp"] >= end:
                continue
            if user_id is not None and (trace is None or trace["userId"] != user_id):
                continue
            if trace_tags and (trace is None or not all(t in trace["tags"] for t in trace_tags)):
                continue
            selected.append(score)
        selected.sort(key=lambda s: (s["timestamp"], s["id"]), reverse=True)
        window = selected[(page - 1) * limit : page * limit]
        with self._lock:
            data = [self.score_v2_json(s, with_trace="trace" in fields) for s in window]
        return self.with_deprecation({"data": data, "meta": meta(page, limit, len(selected))}, "scores")

    def list_scores_v3(self, query: dict[str, list[str]]) -> Json:
        raw_limit = query_value(query, "limit")
        try:
            limit = int(raw_limit) if raw_limit is not None else 50
        except ValueError:
            raise bad_request("limit must be an integer") from None
        if not 1 <= limit <= 100:
            raise bad_request("limit must be between 1 and 100")
        groups = field_groups(query, SCORE_V3_FIELDS, strict=True) or []
        lists = {
            k: comma_list(query, k)
            for k in ("id", "name", "environment", "configId", "queueId", "authorUserId", "sessionId")
        }
        sources = [s.upper() for s in comma_list(query, "source")]
        data_types = [d.upper() for d in comma_list(query, "dataType")]
        if any(d not in SCORE_TYPES for d in data_types):
            raise bad_request(f"dataType must be one of {', '.join(SCORE_TYPES)}")
        traces, observations = comma_list(query, "traceId"), comma_list(query, "observationId")
        experiments = comma_list(query, "experimentId")
        if observations and not traces:
            raise bad_request("observationId requires traceId")
        if sum(bool(x) for x in (traces, lists["sessionId"], experiments)) > 1:
            raise bad_request("traceId, sessionId and experimentId are mutually exclusive")
        values = comma_list(query, "value")
        bounds = [query_value(query, "valueMin"), query_value(query, "valueMax")]
        if values and (len(data_types) != 1 or data_types[0] not in ("NUMERIC", "BOOLEAN", "CATEGORICAL")):
            raise bad_request("value requires a single dataType of NUMERIC, BOOLEAN or CATEGORICAL")
        if any(b is not None for b in bounds) and data_types != ["NUMERIC"]:
            raise bad_request("valueMin and valueMax require dataType=NUMERIC")
        try:
            low, high = (float(b) if b is not None else None for b in bounds)
            wanted: list[Any] = [float(v) for v in values] if data_types == ["NUMERIC"] else values
        except ValueError:
            raise bad_request("value, valueMin and valueMax must be finite numbers") from None
        if data_types == ["BOOLEAN"] and any(v not in ("true", "false") for v in values):
            raise bad_request('BOOLEAN values must be "true" or "false"')
        start, end = time_bound(query, "fromTimestamp"), time_bound(query, "toTimestamp")
        with self._lock:
            scores = list(self.scores.values())
        selected = []
        for score in scores:
            if not all(not v or score[k] in v for k, v in lists.items()):
                continue
            if (sources and score["source"] not in sources) or (
                data_types and score["dataType"] not in data_types
            ):
                continue
            if (traces and score["traceId"] not in traces) or (
                experiments and score["datasetRunId"] not in experiments
            ):
                continue
            if observations and score["observationId"] not in observations:
                continue
            if wanted:
                typed = self.score_v3_json(score, [])["value"]
                typed = ("true" if typed else "false") if isinstance(typed, bool) else typed
                if typed not in wanted:
                    continue
            if low is not None and (score["value"] is None or score["value"] < low):
                continue
            if high is not None and (score["value"] is None or score["value"] > high):
                continue
            if (start is not None and score["timestamp"] < start) or (
                end is not None and score["timestamp"] >= end
            ):
                continue
            selected.append(score)
        selected.sort(key=lambda s: (s["timestamp"], s["id"]), reverse=True)
        cursor = query_value(query, "cursor")
        if cursor is not None:
            position = decode_cursor(cursor, urlsafe=True)
            try:
                last = (parse_time(position["timestamp"], "cursor"), str(position["id"]))
            except (KeyError, ValueError):
                raise bad_request("Invalid cursor format") from None
            selected = [s for s in selected if (s["timestamp"], s["id"]) < last]
        window = selected[:limit]
        response_meta: Json = {"limit": limit}
        if len(selected) > limit:
            tail = window[-1]
            response_meta["cursor"] = encode_cursor(
                {"timestamp": iso(tail["timestamp"]), "id": tail["id"]}, True
            )
        return {"data": [self.score_v3_json(s, groups) for s in window], "meta": response_meta}

    def get_one(self, family: str, item_id: str) -> Json:
        with self._lock:
            if family == "observations" and item_id in self.observations:
                return self.with_deprecation(self.observation_json(self.observations[item_id]), family)
            if family == "scores" and item_id in self.scores:
                return self.with_deprecation(self.score_v2_json(self.scores[item_id], True), family)
        noun = "Observation" if family == "observations" else "Score"
        raise ApiError(
            404, {"message": f"{noun} not found within authorized project", "error": "LangfuseNotFoundError"}
        )


_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("traces", re.compile(r"^/api/public/traces/?$")),
    ("trace", re.compile(r"^/api/public/traces/(?P<id>[^/]+)/?$")),
    ("observations", re.compile(r"^/api/public/observations/?$")),
    ("observation", re.compile(r"^/api/public/observations/(?P<id>[^/]+)/?$")),
    ("observations-v2", re.compile(r"^/api/public/v2/observations/?$")),
    ("scores-v2", re.compile(r"^/api/public/v2/scores/?$")),
    ("score-v2", re.compile(r"^/api/public/v2/scores/(?P<id>[^/]+)/?$")),
    ("scores-v3", re.compile(r"^/api/public/v3/scores/?$")),
]


def _handler_for(server: LangfuseStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read state, not logs
            return

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _read(self) -> None:
            """Read the body whatever the answer, so a kept-alive connection stays in step."""
            length = int(self.headers.get("Content-Length") or 0)
            self.raw_body = self.rfile.read(length) if length else b""

        def _body(self) -> Any:
            raw = self.raw_body
            try:
                return json.loads(raw) if raw else None
            except json.JSONDecodeError:
                raise invalid_request("Invalid JSON", "body") from None

        def _auth(self) -> str:
            """``project`` for the public and secret key (basic), ``scores`` for the public key alone
            (bearer); otherwise the 401 Langfuse's ``ApiAuthService`` answers."""
            header = self.headers.get("Authorization")
            if not header:
                raise ApiError(401, {"message": "No authorization header"})
            if header.startswith("Basic "):
                try:
                    decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    raise ApiError(401, {"message": "Invalid authorization header" + CONFIRM_HOST}) from None
                public, _, secret = decoded.partition(":")
                if not public or not secret:
                    raise ApiError(401, {"message": "Invalid authorization header" + CONFIRM_HOST})
                if not (
                    secrets.compare_digest(public, server.public_key)
                    and secrets.compare_digest(secret, server.secret_key)
                ):
                    raise ApiError(401, {"message": "Invalid credentials" + CONFIRM_HOST})
                return "project"
            if header.startswith("Bearer "):
                if not secrets.compare_digest(header[7:].strip(), server.public_key):
                    raise ApiError(401, {"message": "Invalid public key" + CONFIRM_HOST})
                return "scores"
            raise ApiError(401, {"message": "Invalid authorization header"})

        def do_POST(self) -> None:
            self._read()
            path = urlsplit(self.path).path.rstrip("/")
            try:
                if path == "/api/public/ingestion":
                    self._ingestion()
                    return
                if path != "/api/public/scores":
                    known = any(pattern.match(path) for _, pattern in _ROUTES)
                    if known:
                        raise ApiError(
                            405, {"message": "Method not allowed", "error": "MethodNotAllowedError"}
                        )
                    raise ApiError(404, {"message": "Not Found", "error": "NotFoundError"})
                self._auth()  # basic or bearer: the create-score route accepts both access levels
                body = self._body()
                if not isinstance(body, dict):
                    raise invalid_request("Expected object, received " + type(body).__name__, "body")
                source = body.get("source") or "API"
                if source not in ("API", "ANNOTATION"):
                    raise invalid_request("Invalid enum value. Expected 'API' | 'ANNOTATION'", "source")
                if (
                    source == "ANNOTATION"
                    and not body.get("configId")
                    and body.get("dataType") != "CORRECTION"
                ):
                    message = "configId is required when source is ANNOTATION (except for CORRECTION scores)."
                    raise invalid_request(message, "configId")
                try:
                    with server._lock:
                        score_id = server._create_score(body, server.clock(), str(source))
                except (InvalidEvent, ValueError) as exc:
                    raise ApiError(400, {"message": str(exc)}) from None
                self._json(200, {"id": score_id})
            except ApiError as error:
                self._json(error.status, error.body)

        def _ingestion(self) -> None:
            try:
                access = self._auth()
            except ApiError as error:
                self._json(401, {"error": "UnauthorizedError", "message": error.body["message"]})
                return
            try:
                body = self._body()
            except ApiError as error:
                self._json(error.status, error.body)
                return
            batch = body.get("batch") if isinstance(body, dict) else None
            if not isinstance(batch, list):
                self._json(400, {"message": "Invalid request data", "errors": ["batch: Required"]})
                return
            self._json(207, server.ingest(batch, scores_only=access == "scores"))

        def do_GET(self) -> None:
            self._read()
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            route, params = next(
                ((name, m.groupdict()) for name, pattern in _ROUTES if (m := pattern.match(parts.path))),
                (None, {}),
            )
            try:
                if parts.path.rstrip("/") in ("/api/public/ingestion", "/api/public/scores"):
                    raise ApiError(405, {"message": "Method not allowed", "error": "MethodNotAllowedError"})
                if route is None:
                    raise ApiError(404, {"message": "Not Found", "error": "NotFoundError"})
                if self._auth() != "project":
                    raise ApiError(
                        403, {"message": "Access denied - insufficient permissions for this endpoint"}
                    )
                item = unquote(params.get("id", ""))
                handlers: dict[str, Callable[[], Json]] = {
                    "traces": lambda: server.list_traces(query),
                    "trace": lambda: server.get_trace(item, query),
                    "observations": lambda: server.list_observations(query),
                    "observation": lambda: server.get_one("observations", item),
                    "observations-v2": lambda: server.list_observations_v2(query),
                    "scores-v2": lambda: server.list_scores_v2(query),
                    "score-v2": lambda: server.get_one("scores", item),
                    "scores-v3": lambda: server.list_scores_v3(query),
                }
                self._json(200, handlers[route]())
            except ApiError as error:
                self._json(error.status, error.body)

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve a Langfuse stand-in on loopback until Ctrl-C, printing its host and keys."""
    parser = argparse.ArgumentParser(prog="python -m orchestration.local.langfuse", description=main.__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--public-key", default=None, help="project public key (default: pk-lf-<random>)")
    parser.add_argument("--secret-key", default=None, help="project secret key (default: sk-lf-<random>)")
    parser.add_argument("--project-id", default="factory-local")
    args = parser.parse_args(argv)
    stand_in = LangfuseStandIn(
        public_key=args.public_key, secret_key=args.secret_key, project_id=args.project_id, port=args.port
    )
    print(f"LANGFUSE_HOST={stand_in.url}")
    print(f"LANGFUSE_BASE_URL={stand_in.url}")
    print(f"LANGFUSE_PUBLIC_KEY={stand_in.public_key}")
    print(f"LANGFUSE_SECRET_KEY={stand_in.secret_key}", flush=True)
    try:
        stand_in.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stand_in._httpd.server_close()


if __name__ == "__main__":
    main()
