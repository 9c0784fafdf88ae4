"""The Langfuse stand-in over real HTTP (httpx, basic auth with the project keys): an ingestion batch as
the documented API takes it, then the read API as a client calls it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestration.local.langfuse import LangfuseStandIn

PUBLIC_KEY = "pk-lf-1234567890"
SECRET_KEY = "sk-lf-abcdefghij"
AUTH = (PUBLIC_KEY, SECRET_KEY)


def event(kind: str, timestamp: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": kind, "timestamp": timestamp, "body": body}


def triage_run(trace_id: str, hour: int, user: str, quality: float) -> list[dict[str, Any]]:
    """One traced triage run: a trace, a span, a generation inside it and two scores."""
    t = f"2026-12-01T{hour:02d}:00:00.000Z"
    span_id, generation_id = f"{trace_id}-span", f"{trace_id}-gen"
    return [
        event(
            "trace-create",
            t,
            {
                "id": trace_id,
                "timestamp": t,
                "name": "sentry-triage",
                "userId": user,
                "sessionId": "nightly-2026-12-01",
                "tags": ["factory", "triage"],
                "input": {"issue": "PUMP-STATION-1"},
                "environment": "production",
                "release": "1.4.0",
            },
        ),
        event(
            "span-create",
            t,
            {
                "id": span_id,
                "traceId": trace_id,
                "name": "read-issue",
                "startTime": t,
                "endTime": f"2026-12-01T{hour:02d}:00:02.000Z",
            },
        ),
        event(
            "generation-create",
            t,
            {
                "id": generation_id,
                "traceId": trace_id,
                "parentObservationId": span_id,
                "name": "classify",
                "startTime": f"2026-12-01T{hour:02d}:00:00.500Z",
                "completionStartTime": f"2026-12-01T{hour:02d}:00:00.900Z",
                "endTime": f"2026-12-01T{hour:02d}:00:01.500Z",
                "model": "claude-sonnet",
                "modelParameters": {"temperature": 0},
                "input": [{"role": "user", "content": "Classify PUMP-STATION-1"}],
                "output": {"role": "assistant", "content": "bug"},
                "usageDetails": {"input": 1200, "output": 40},
                "costDetails": {"input": 0.0036, "output": 0.0006},
            },
        ),
        event(
            "score-create",
            f"2026-12-01T{hour:02d}:00:03.000Z",
            {"id": f"{trace_id}-quality", "traceId": trace_id, "name": "quality", "value": quality},
        ),
        event(
            "score-create",
            f"2026-12-01T{hour:02d}:00:03.000Z",
            {
                "id": f"{trace_id}-verdict",
                "traceId": trace_id,
                "observationId": generation_id,
                "name": "verdict",
                "value": "bug",
                "dataType": "CATEGORICAL",
            },
        ),
    ]


@pytest.fixture
def langfuse() -> Iterator[LangfuseStandIn]:
    with LangfuseStandIn(public_key=PUBLIC_KEY, secret_key=SECRET_KEY, project_id="factory") as stand_in:
        yield stand_in


@pytest.fixture
def client(langfuse: LangfuseStandIn) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=langfuse.url, auth=AUTH) as http:
        yield http


@pytest.fixture
def ingested(client: httpx.Client) -> None:
    batch = [
        *triage_run("trace-a", 9, "triage-bot", 0.9),
        *triage_run("trace-b", 10, "triage-bot", 0.4),
        *triage_run("trace-c", 11, "oncall", 0.7),
    ]
    r = client.post("/api/public/ingestion", json={"batch": batch})
    assert r.status_code == 207 and r.json()["errors"] == []


def test_ingestion_answers_207_with_successes_and_errors(client: httpx.Client) -> None:
    """The batch is taken event by event: good ones are successes (201), a bad one is an error entry,
    and the request is 207 either way.

    https://api.reference.langfuse.com (/api/public/ingestion)
    (https://cloud.langfuse.com/generated/api/openapi.yml: IngestionRequest, IngestionResponse)
    """
    batch = triage_run("trace-z", 8, "triage-bot", 1.0)
    bad_score = event("score-create", "2026-12-01T08:00:04.000Z", {"traceId": "trace-z", "value": 1})
    wrong_type = event("trace-delete", "2026-12-01T08:00:04.000Z", {"id": "trace-z"})
    r = client.post("/api/public/ingestion", json={"batch": [*batch, bad_score, wrong_type]})
    assert r.status_code == 207
    answer = r.json()
    assert answer["successes"] == [{"id": e["id"], "status": 201} for e in batch]
    errors = {e["id"]: e for e in answer["errors"]}
    assert {(i, e["status"], e["message"]) for i, e in errors.items()} == {
        (bad_score["id"], 400, "Invalid request data"),
        (wrong_type["id"], 400, "Invalid request data"),
    }
    assert "name" in errors[bad_score["id"]]["error"]


def test_traces_page_limit_and_meta(client: httpx.Client, ingested: None) -> None:
    """``GET /api/public/traces`` pages with ``page``/``limit`` and reports ``meta``; filters narrow it.

    https://api.reference.langfuse.com (/api/public/traces)
    https://langfuse.com/faq/all/deprecated-api-migration (a Langfuse v3 path; Cloud removed it 2026-11-16)
    """
    first = client.get("/api/public/traces", params={"page": 1, "limit": 2}).json()
    assert first["meta"] == {"page": 1, "limit": 2, "totalItems": 3, "totalPages": 2}
    assert [t["id"] for t in first["data"]] == ["trace-c", "trace-b"]  # timestamp.desc by default
    second = client.get("/api/public/traces", params={"page": 2, "limit": 2}).json()
    assert [t["id"] for t in second["data"]] == ["trace-a"]

    trace = first["data"][0]
    assert trace["observations"] == ["trace-c-span", "trace-c-gen"]
    assert sorted(trace["scores"]) == ["trace-c-quality", "trace-c-verdict"]
    assert trace["htmlPath"] == "/project/factory/traces/trace-c"
    assert trace["latency"] == 2.0 and trace["totalCost"] == pytest.approx(0.0042)

    mine = client.get(
        "/api/public/traces",
        params={"userId": "triage-bot", "tags": ["factory", "triage"], "orderBy": "timestamp.asc"},
    ).json()
    assert [t["id"] for t in mine["data"]] == ["trace-a", "trace-b"]
    late = client.get("/api/public/traces", params={"fromTimestamp": "2026-12-01T10:00:00Z"}).json()
    assert late["meta"]["totalItems"] == 2
    assert client.get("/api/public/traces", params={"limit": 101}).status_code == 400


def test_trace_by_id_with_observations_and_scores(client: httpx.Client, ingested: None) -> None:
    """``GET /api/public/traces/{traceId}`` carries full observations and the trace's scores.

    https://api.reference.langfuse.com (/api/public/traces/{traceId})
    (TraceWithFullDetails, ObservationsView, ScoreV1)
    """
    trace = client.get("/api/public/traces/trace-a").json()
    assert trace["name"] == "sentry-triage" and trace["input"] == {"issue": "PUMP-STATION-1"}
    generation = next(o for o in trace["observations"] if o["type"] == "GENERATION")
    assert generation["parentObservationId"] == "trace-a-span"
    assert generation["usageDetails"] == {"input": 1200, "output": 40, "total": 1240}
    assert generation["calculatedTotalCost"] == pytest.approx(0.0042)
    assert generation["latency"] == 1.0 and generation["timeToFirstToken"] == 0.4
    scores = {s["name"]: s for s in trace["scores"]}
    assert scores["quality"]["value"] == 0.9 and scores["quality"]["dataType"] == "NUMERIC"
    assert scores["verdict"]["stringValue"] == "bug" and scores["verdict"]["dataType"] == "CATEGORICAL"
    assert scores["verdict"]["observationId"] == "trace-a-gen"

    missing = client.get("/api/public/traces/nope")
    assert missing.status_code == 404 and missing.json()["error"] == "LangfuseNotFoundError"


def test_scores_filtered_by_name_and_value(client: httpx.Client, ingested: None) -> None:
    """Scores by name and value: ``/v2/scores`` with ``operator``/``value`` (Langfuse v3) and
    ``/v3/scores`` with ``valueMin`` and its cursor (current).

    https://api.reference.langfuse.com (/api/public/v2/scores)
    https://langfuse.com/docs/api-and-data-platform/features/scores-api
    """
    good = client.get(
        "/api/public/v2/scores", params={"name": "quality", "operator": ">=", "value": 0.7}
    ).json()
    assert sorted(s["id"] for s in good["data"]) == ["trace-a-quality", "trace-c-quality"]
    assert good["meta"]["totalItems"] == 2
    assert good["data"][0]["trace"] == {
        "userId": "oncall",
        "tags": ["factory", "triage"],
        "environment": "production",
        "sessionId": "nightly-2026-12-01",
    }
    bad = client.get(
        "/api/public/v2/scores", params={"name": "quality", "operator": "<", "value": 0.5}
    ).json()
    assert [s["traceId"] for s in bad["data"]] == ["trace-b"]

    page = client.get(
        "/api/public/v3/scores",
        params={"name": "quality", "dataType": "NUMERIC", "valueMin": 0.5, "limit": 1, "fields": "subject"},
    ).json()
    assert [(s["id"], s["value"]) for s in page["data"]] == [("trace-c-quality", 0.7)]
    assert page["data"][0]["subject"] == {"kind": "trace", "id": "trace-c"}
    rest = client.get(
        "/api/public/v3/scores",
        params={"name": "quality", "dataType": "NUMERIC", "valueMin": 0.5, "cursor": page["meta"]["cursor"]},
    ).json()
    assert [s["id"] for s in rest["data"]] == ["trace-a-quality"] and "cursor" not in rest["meta"]
    assert client.get("/api/public/v3/scores", params={"valueMin": 0.5}).status_code == 400


def test_observations_filters_and_v2_cursor(client: httpx.Client, ingested: None) -> None:
    """Observations by ``traceId``/``type``/``level`` (v1, page-based) and ``/v2/observations`` (cursor).

    https://api.reference.langfuse.com (/api/public/observations)
    https://langfuse.com/docs/api-and-data-platform/features/observations-api
    """
    generations = client.get("/api/public/observations", params={"traceId": "trace-b", "type": "GENERATION"})
    assert [o["id"] for o in generations.json()["data"]] == ["trace-b-gen"]
    assert client.get("/api/public/observations", params={"level": "ERROR"}).json()["data"] == []

    seen: list[str] = []
    params: dict[str, Any] = {"type": "GENERATION", "limit": 2, "fields": "basic,usage"}
    while True:
        page = client.get("/api/public/v2/observations", params=params).json()
        seen += [o["id"] for o in page["data"]]
        if "cursor" not in page["meta"]:
            break
        params["cursor"] = page["meta"]["cursor"]
    assert seen == ["trace-c-gen", "trace-b-gen", "trace-a-gen"]
    first = client.get("/api/public/v2/observations", params={"traceId": "trace-a", "fields": "basic"}).json()
    assert {o["name"] for o in first["data"]} == {"read-issue", "classify"}
    assert "usageDetails" not in first["data"][0]


def test_a_trace_read_as_its_documented_replacement_reads_it(client: httpx.Client) -> None:
    """``GET /traces/{id}`` is deprecated; Langfuse documents its replacement as ``GET /v2/observations``
    with ``traceId`` and ``fields=core,basic,io,trace_context``: observation rows, the trace's ``tags``,
    ``traceName`` and ``release`` on each, and, v4 having no trace-level input/output, the trace's input
    and output on its root observation (``parentObservationId`` null), as strings.

    https://langfuse.com/faq/all/deprecated-api-migration (Traces: parameter mapping, semantic differences)
    https://langfuse.com/changelog/2026-05-15-v2-observations-trace-context
    """
    t = "2026-12-02T08:00:00.000Z"
    trace = {
        "id": "turn-1",
        "timestamp": t,
        "name": "chat-turn",
        "sessionId": "acme:s-1",
        "tags": ["client:acme", "skill:shipping"],
        "input": "How long do refunds take?",
        "output": "Delivery takes 3 days.",
        "release": "2.0.1",
        "environment": "production",
    }
    answer = {
        "id": "turn-1-answer",
        "traceId": "turn-1",
        "name": "answer",
        "startTime": t,
        "endTime": "2026-12-02T08:00:00.200Z",
        "input": "How long do refunds take?",
        "output": {"skill": "shipping", "sources": []},
        "environment": "production",
    }
    lookup = {
        "id": "turn-1-route",
        "traceId": "turn-1",
        "parentObservationId": "turn-1-answer",
        "startTime": t,
    }
    batch = [
        event("trace-create", t, trace),
        event("span-create", t, answer),
        event("span-create", t, lookup),
    ]
    assert client.post("/api/public/ingestion", json={"batch": batch}).json()["errors"] == []

    params = {
        "traceId": "turn-1",
        "fields": "core,basic,io,trace_context",
        "fromStartTime": "2026-12-02T00:00:00Z",
        "toStartTime": "2026-12-03T00:00:00Z",
    }
    rows = client.get("/api/public/v2/observations", params=params).json()["data"]
    assert sorted(row["id"] for row in rows) == ["turn-1-answer", "turn-1-route"]
    for row in rows:
        assert row["traceId"] == "turn-1" and row["traceName"] == "chat-turn" and row["release"] == "2.0.1"
        assert row["tags"] == ["client:acme", "skill:shipping"] and row["sessionId"] == "acme:s-1"
    [root] = [row for row in rows if row["parentObservationId"] is None]
    assert root["input"] == "How long do refunds take?"
    assert root["output"] == '{"skill":"shipping","sources":[]}'  # IO comes back as (compact) strings
    plain = client.get("/api/public/v2/observations", params={**params, "fields": "io"}).json()["data"]
    assert all("tags" not in row and "traceName" not in row for row in plain)  # absent, not null


def test_auth_refusals(langfuse: LangfuseStandIn) -> None:
    """Wrong keys are Langfuse's 401 (its body differs on the ingestion route); the public key alone
    (bearer) may create scores but not read.

    https://langfuse.com/docs/api-and-data-platform/features/public-api (basic auth: public:secret key)
    """
    url = langfuse.url
    r = httpx.get(f"{url}/api/public/traces", auth=(PUBLIC_KEY, "sk-lf-wrong"))
    assert r.status_code == 401
    assert r.json() == {"message": "Invalid credentials. Confirm that you've configured the correct host."}
    assert httpx.get(f"{url}/api/public/traces").json() == {"message": "No authorization header"}
    with httpx.Client(base_url=url) as kept_alive:  # a refused body must not desync the connection
        r = kept_alive.post("/api/public/ingestion", json={"batch": []}, auth=("pk-lf-other", SECRET_KEY))
        assert r.status_code == 401 and r.json()["error"] == "UnauthorizedError"
        assert kept_alive.get("/api/public/traces", auth=AUTH).status_code == 200

    bearer = {"Authorization": f"Bearer {PUBLIC_KEY}"}
    assert httpx.get(f"{url}/api/public/traces", headers=bearer).status_code == 403
    score = {"traceId": "t-1", "name": "helpful", "value": 1, "dataType": "BOOLEAN"}
    r = httpx.post(f"{url}/api/public/scores", json=score, headers=bearer)
    assert r.status_code == 200 and langfuse.scores[r.json()["id"]]["stringValue"] == "True"


def test_deprecation_signal_on_legacy_reads() -> None:
    """Optionally, legacy reads carry Cloud's ``_deprecation`` object pointing at the replacement.

    https://langfuse.com/faq/all/upgrade-to-langfuse-v4 (v3 endpoints removed on Cloud 2026-11-16)
    """
    with LangfuseStandIn(public_key=PUBLIC_KEY, secret_key=SECRET_KEY, deprecation_signal=True) as langfuse:
        body = httpx.get(f"{langfuse.url}/api/public/v2/scores", auth=AUTH).json()
    assert body["_deprecation"]["replacement"] == "GET /api/public/v3/scores"
    assert body["_deprecation"]["sunsetAt"] == "2026-11-16"
