"""The JSON the Langfuse stand-in answers with: traces (``fields`` groups core, io, scores, observations,
metrics), observations (the legacy ``APIObservation`` and the ``GET /v2/observations`` groups), scores
(the v1, v2 and v3 shapes), and the ``_deprecation`` object Langfuse Cloud attached to v3 read paths
before their removal on 2026-11-16 (``deprecation_signal=True``).
"""

from __future__ import annotations

import json
from typing import Any

from orchestration.local.langfuse.store import Json, ProjectStore, iso

TRACE_FIELDS = ("core", "io", "scores", "observations", "metrics")
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


class Shapes(ProjectStore):
    """The JSON of the project's traces, observations and scores."""

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
                if value is not None and not isinstance(value, str):
                    # As Langfuse stores it (JSON.stringify): compact, non-ASCII kept (the docs' samples).
                    value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
                body[key] = value
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
