"""The Langfuse stand-in's read paths (basic auth: the project's public and secret key).

Current paths (Langfuse v4, what Cloud serves after the v3 sunset of 2026-11-16):

- ``GET /api/public/v2/observations``: cursor pagination, ``fields`` groups (``core`` and ``basic`` by
  default), filters ``traceId``, ``type``, ``level``, ``name``, ``userId``, ``sessionId``,
  ``parentObservationId``, ``environment``, ``version``, ``fromStartTime``/``toStartTime``.
- ``GET /api/public/v3/scores``: cursor pagination, typed ``value``, comma-list filters, ``value`` /
  ``valueMin`` / ``valueMax`` with a single ``dataType``, ``fields`` groups details/subject/annotation.

Legacy paths (Langfuse v3; self-hosted v3 still serves them, Cloud removed them on 2026-11-16; pass
``deprecation_signal=True`` to add the ``_deprecation`` object Cloud attached before the removal):

- ``GET /api/public/traces`` (``page``/``limit``, ``name``, ``userId``, ``sessionId``, ``tags``,
  ``environment``, ``version``, ``release``, ``fromTimestamp``/``toTimestamp``, ``orderBy``, ``fields``)
  and ``GET /api/public/traces/{traceId}`` with its observations and scores.
- ``GET /api/public/observations`` (and ``/{observationId}``), ``GET /api/public/v2/scores`` (and
  ``/{scoreId}``) with ``page``/``limit`` and ``meta``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from orchestration.local.langfuse.query import (
    bad_request,
    comma_list,
    decode_cursor,
    encode_cursor,
    field_groups,
    invalid_request,
    meta,
    page_and_limit,
    query_list,
    query_value,
    time_bound,
)
from orchestration.local.langfuse.shapes import OBSERVATION_V2_FIELDS, SCORE_V3_FIELDS, TRACE_FIELDS, Shapes
from orchestration.local.langfuse.store import (
    LEVELS,
    OBSERVATION_TYPES,
    SCORE_SOURCES,
    SCORE_TYPES,
    ApiError,
    Json,
    iso,
    parse_time,
)

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


class ReadApi(Shapes):
    """The read paths' answers, from the project's state."""

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
