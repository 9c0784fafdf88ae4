"""Ingestion into the Langfuse stand-in, validated and applied as Langfuse applies it.

- ``POST /api/public/ingestion`` (a legacy path: Langfuse v3; self-hosted v3 still serves it, Cloud
  removed it on 2026-11-16): a ``batch`` of ``trace-create``, ``span-create``/``-update``,
  ``generation-create``/``-update``, ``event-create``, ``score-create``, ``sdk-log`` (and the older
  ``observation-create``/``-update``) events, answered 207 with ``successes`` and ``errors``.
- ``POST /api/public/scores``: create a score (basic auth, or bearer with the public key).

Usage and cost are kept as Langfuse stores them (``usageDetails``/``costDetails``, or the older
``usage``); costs are only what was sent.
"""

from __future__ import annotations

import uuid
from typing import Any

from orchestration.local.langfuse.store import (
    LEVELS,
    OBSERVATION_TYPES,
    SCORE_TYPES,
    Json,
    ProjectStore,
    parse_time,
)

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


class InvalidEvent(Exception):
    """An ingestion event that fails validation: one ``errors`` entry, the batch goes on."""


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


class Ingestion(ProjectStore):
    """Ingestion batches and created scores, applied to the project's state."""

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
