"""LangfuseClient: end to end against the Langfuse stand-in fed through the public ingestion API (batches
shaped as the support-bot example sends them), then the documented edge cases with ``httpx.MockTransport``:
the fallback from the current read paths to the legacy ones, paging, rate limits and errors.

https://langfuse.com/docs/api-and-data-platform/features/scores-api
https://langfuse.com/docs/api-and-data-platform/features/observations-api
https://langfuse.com/faq/all/deprecated-api-migration
https://langfuse.com/faq/all/api-limits
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

import httpx
import pytest
from pydantic import SecretStr

from jobs.errors import FactoryError, ServiceError
from jobs.retry import RetryPolicy
from jobs.triage import LangfuseClient
from orchestration.local.langfuse import LangfuseStandIn

PUBLIC_KEY = "pk-lf-1234567890"
SECRET_KEY = "sk-lf-CANARYcanaryCANARY0123"
HOST = "https://langfuse.test"
NIGHT = datetime(2026, 12, 1, tzinfo=UTC)


class Window(TypedDict):
    from_ts: datetime
    to_ts: datetime


WINDOW: Window = {"from_ts": NIGHT, "to_ts": NIGHT + timedelta(days=1)}
T0 = 1_900_000_000.0


class FakeTime:
    """The policy's clock, advanced by its sleeps."""

    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime()


# -- end to end: the ingestion API in, our client out -------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(kind: str, at: datetime, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": kind, "timestamp": iso(at), "body": body}


def chat_turn(answer_id: str, hour: int, question: str, answer: str, up: bool) -> list[dict[str, Any]]:
    """A turn as the support bot reports it: a trace, a span timing the answer, the user's thumbs."""
    start = NIGHT + timedelta(hours=hour)
    metadata = {"client": "acme-shop.example", "skill": "shipping"}
    return [
        event(
            "trace-create",
            start,
            {
                "id": answer_id,
                "timestamp": iso(start),
                "name": "chat-turn",
                "sessionId": "acme-shop.example:s-1",
                "input": question,
                "output": answer,
                "metadata": metadata,
                "tags": ["client:acme-shop.example", "skill:shipping"],
                "release": "1.4.0",
                "environment": "production",
            },
        ),
        event(
            "span-create",
            start,
            {
                "id": f"{answer_id}-span",
                "traceId": answer_id,
                "name": "answer",
                "startTime": iso(start),
                "endTime": iso(start + timedelta(milliseconds=1500)),
                "input": question,
                "output": {"skill": "shipping", "sources": [{"title": "Delivery times"}]},
                "metadata": metadata,
                "environment": "production",
            },
        ),
        event(
            "score-create",
            start + timedelta(minutes=1),
            {
                "id": f"{answer_id}-user-feedback",
                "traceId": answer_id,
                "name": "user-feedback",
                "value": 1 if up else 0,
                "dataType": "BOOLEAN",
                "metadata": {"client": "acme-shop.example"},
                "comment": None if up else "wrong topic",
                "environment": "production",
            },
        ),
    ]


@pytest.fixture
def langfuse() -> Iterator[LangfuseStandIn]:
    with LangfuseStandIn(public_key=PUBLIC_KEY, secret_key=SECRET_KEY, project_id="support-bot") as stand_in:
        batch = [
            *chat_turn("a-1", 9, "Can I get a refund?", "Parcels ship in 2 days.", up=False),
            *chat_turn("a-2", 10, "When does my parcel arrive?", "Parcels ship in 2 days.", up=True),
            *chat_turn("a-3", 11, "I want my money back", "Parcels ship in 2 days.", up=False),
        ]
        answer = httpx.post(
            f"{stand_in.url}/api/public/ingestion", json={"batch": batch}, auth=(PUBLIC_KEY, SECRET_KEY)
        )
        assert answer.status_code == 207 and answer.json()["errors"] == []
        yield stand_in


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture
def client(langfuse: LangfuseStandIn, sent: list[httpx.Request]) -> Iterator[LangfuseClient]:
    with httpx.Client(timeout=10, event_hooks={"request": [sent.append]}) as http:
        yield LangfuseClient(http, PUBLIC_KEY, SecretStr(SECRET_KEY), host=langfuse.url)


def test_thumbs_down_read_back_as_scores_of_zero(client: LangfuseClient, sent: list[httpx.Request]) -> None:
    scores = list(client.scores("user-feedback", **WINDOW, limit=2))
    assert [s.trace_id for s in scores] == ["a-3", "a-2", "a-1"]  # newest first, across two pages
    downs = [s for s in scores if s.value == 0]
    assert [(s.trace_id, s.value, s.data_type, s.comment) for s in downs] == [
        ("a-3", False, "BOOLEAN", "wrong topic"),
        ("a-1", False, "BOOLEAN", "wrong topic"),
    ]
    assert all(s.value is False for s in downs) and scores[1].value is True
    assert downs[0].metadata == {"client": "acme-shop.example"} and downs[0].environment == "production"
    assert {r.url.path for r in sent} == {"/api/public/v3/scores"} and len(sent) == 2
    assert (
        list(
            client.scores("user-feedback", from_ts=NIGHT + timedelta(days=1), to_ts=NIGHT + timedelta(days=2))
        )
        == []
    )


def test_a_traces_observations_and_its_input_and_output(client: LangfuseClient) -> None:
    [span] = client.observations(trace_id="a-1", **WINDOW)
    assert (span.id, span.name, span.type, span.level) == ("a-1-span", "answer", "SPAN", "DEFAULT")
    assert span.input == "Can I get a refund?"
    assert json.loads(span.output) == {"skill": "shipping", "sources": [{"title": "Delivery times"}]}
    assert span.start_time == NIGHT + timedelta(hours=9)
    assert span.end_time == NIGHT + timedelta(hours=9, milliseconds=1500)
    assert [o.trace_id for o in client.observations(**WINDOW, limit=1)] == ["a-3", "a-2", "a-1"]

    # The current path: the trace's attributes on its observations, input and output from its root
    # observation (Langfuse v4 keeps no trace-level input or output).
    trace = client.trace("a-1", **WINDOW)
    assert trace.input == "Can I get a refund?"
    assert trace.output == {"skill": "shipping", "sources": [{"title": "Delivery times"}]}
    assert trace.name == "chat-turn" and trace.session_id == "acme-shop.example:s-1"
    assert trace.tags == ["client:acme-shop.example", "skill:shipping"]
    assert trace.timestamp == NIGHT + timedelta(hours=9)


def test_a_trace_from_a_server_without_the_current_path_is_read_the_old_way(time_: FakeTime) -> None:
    old = {"id": "t1", "name": "chat-turn", "input": "Hi", "output": "Hello", "tags": ["skill:greeting"]}
    fake = Fake({"/api/public/traces/t1": [httpx.Response(200, json=old)]})
    client = langfuse_client(fake, time_)
    for _ in range(2):
        trace = client.trace("t1", **WINDOW)
        assert (trace.input, trace.output, trace.tags) == ("Hi", "Hello", ["skill:greeting"])
    paths = [r.url.path for r in fake.requests]
    assert paths == ["/api/public/v2/observations", "/api/public/traces/t1", "/api/public/traces/t1"]


def test_traces_by_name_and_tags_across_pages(client: LangfuseClient, sent: list[httpx.Request]) -> None:
    traces = list(
        client.traces("chat-turn", ["skill:shipping", "client:acme-shop.example"], **WINDOW, limit=2)
    )
    assert [t.id for t in traces] == ["a-3", "a-2", "a-1"]
    assert [r.url.params["page"] for r in sent] == ["1", "2"]
    assert sent[0].url.params.get_list("tags") == ["skill:shipping", "client:acme-shop.example"]
    assert list(client.traces("chat-turn", ["skill:refunds"], **WINDOW)) == []


def test_an_unknown_trace_is_a_404(client: LangfuseClient) -> None:
    with pytest.raises(ServiceError, match="Trace nope not found") as caught:
        client.trace("nope", **WINDOW)
    assert caught.value.status == 404 and not caught.value.retryable


def test_wrong_keys_are_a_401_that_names_no_secret(langfuse: LangfuseStandIn) -> None:
    with httpx.Client() as http:
        wrong = LangfuseClient(http, PUBLIC_KEY, SecretStr("sk-lf-wrong"), host=langfuse.url)
        with pytest.raises(ServiceError, match="Invalid credentials") as caught:
            wrong.trace("a-1", **WINDOW)
    assert caught.value.status == 401 and "sk-lf-wrong" not in str(caught.value)


# -- documented edge cases, faked with MockTransport --------------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


class Fake:
    """A server routing by path; each route's answers are returned in order (the last one repeats)."""

    def __init__(self, routes: dict[str, list[httpx.Response | Handler]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answers = self.routes.get(request.url.path)
        if answers is None:
            return httpx.Response(404, json={"message": "Not Found", "error": "NotFoundError"})
        seen = sum(1 for r in self.requests if r.url.path == request.url.path)
        answer = answers[min(seen, len(answers)) - 1]
        return answer(request) if callable(answer) else answer

    @property
    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


def langfuse_client(fake: Fake, time_: FakeTime, **kwargs: Any) -> LangfuseClient:
    http = httpx.Client(transport=httpx.MockTransport(fake))
    policy = RetryPolicy(sleep=time_.sleep, clock=time_.clock)
    return LangfuseClient(http, PUBLIC_KEY, SecretStr(SECRET_KEY), host=HOST, policy=policy, **kwargs)


def v2_score(
    score_id: str, value: float | None, data_type: str, string_value: str | None = None
) -> dict[str, Any]:
    return {
        "id": score_id,
        "name": "user-feedback",
        "value": value,
        "stringValue": string_value,
        "dataType": data_type,
        "source": "API",
        "timestamp": "2026-12-01T09:01:00.000Z",
        "traceId": f"trace-{score_id}",
        "observationId": None,
        "environment": "production",
    }


def paged(rows: list[dict[str, Any]], page: int, total_pages: int) -> httpx.Response:
    meta = {"page": page, "limit": 50, "totalItems": len(rows), "totalPages": total_pages}
    return httpx.Response(200, json={"data": rows, "meta": meta})


def test_scores_fall_back_to_v2_on_a_404_and_remember(time_: FakeTime) -> None:
    """A server without ``/v3/scores`` (flag off, older self-hosted) answers 404: ``/v2/scores`` is read,
    its values typed as v3 types them, and this client asks v2 straight away from then on."""
    rows = [
        v2_score("s1", 0, "BOOLEAN", "False"),
        v2_score("s2", 0.25, "NUMERIC"),
        v2_score("s3", None, "CATEGORICAL", "bug"),
    ]
    fake = Fake({"/api/public/v2/scores": [paged(rows, 1, 1)]})
    client = langfuse_client(fake, time_)
    scores = list(client.scores("user-feedback", **WINDOW))
    assert [(s.value, s.trace_id) for s in scores] == [
        (False, "trace-s1"),
        (0.25, "trace-s2"),
        ("bug", "trace-s3"),
    ]
    assert scores[0].value is False  # BOOLEAN 0 typed as v3 types it, not the number
    assert fake.paths == ["/api/public/v3/scores", "/api/public/v2/scores"]
    assert fake.requests[1].url.params["fromTimestamp"] == "2026-12-01T00:00:00.000Z"
    assert (
        fake.requests[1].url.params["name"] == "user-feedback" and "fields" not in fake.requests[1].url.params
    )

    list(client.scores("user-feedback", **WINDOW))
    assert fake.paths[2:] == ["/api/public/v2/scores"]


def test_once_v3_scores_answered_a_later_404_is_an_error(time_: FakeTime) -> None:
    v3 = httpx.Response(200, json={"data": [], "meta": {"limit": 100}})
    gone = httpx.Response(404, json={"message": "Not Found"})
    fake = Fake({"/api/public/v3/scores": [v3, gone], "/api/public/v2/scores": [paged([], 1, 0)]})
    client = langfuse_client(fake, time_)
    assert list(client.scores(**WINDOW)) == []
    with pytest.raises(ServiceError) as caught:
        list(client.scores(**WINDOW))
    assert caught.value.status == 404 and "/api/public/v2/scores" not in fake.paths


def test_v3_scores_follow_the_cursor_and_read_the_subject(time_: FakeTime) -> None:
    def row(score_id: str, subject: dict[str, Any]) -> dict[str, Any]:
        return {"id": score_id, "name": "quality", "value": 0, "dataType": "NUMERIC", "subject": subject}

    first = {"data": [row("s1", {"kind": "trace", "id": "t1"})], "meta": {"limit": 1, "cursor": "c2"}}
    observation = {"kind": "observation", "id": "o2", "traceId": "t2"}
    last = {"data": [row("s2", observation), row("s3", {"kind": "session", "id": "x"})], "meta": {"limit": 1}}
    fake = Fake({"/api/public/v3/scores": [httpx.Response(200, json=first), httpx.Response(200, json=last)]})
    scores = list(langfuse_client(fake, time_).scores("quality", **WINDOW, limit=1))
    assert [(s.trace_id, s.observation_id, s.session_id) for s in scores] == [
        ("t1", None, None),
        ("t2", "o2", None),
        (None, None, "x"),
    ]
    assert scores[0].value == 0 and scores[0].value is not False
    assert "cursor" not in fake.requests[0].url.params and fake.requests[1].url.params["cursor"] == "c2"
    assert fake.requests[0].url.params["fields"] == "details,subject"


def test_observations_fall_back_to_the_legacy_path(time_: FakeTime) -> None:
    legacy = {
        "id": "o1",
        "traceId": "t1",
        "type": "SPAN",
        "level": "ERROR",
        "input": {"q": 1},
        "output": None,
    }
    fake = Fake({"/api/public/observations": [paged([legacy], 1, 1)]})
    client = langfuse_client(fake, time_)
    [observation] = client.observations(level="ERROR", **WINDOW)
    assert observation.input == {"q": 1} and observation.level == "ERROR"
    assert fake.paths == ["/api/public/v2/observations", "/api/public/observations"]
    params = fake.requests[1].url.params
    assert (
        params["level"] == "ERROR"
        and params["page"] == "1"
        and params["toStartTime"] == "2026-12-02T00:00:00.000Z"
    )
    list(client.observations(**WINDOW))
    assert fake.paths[2:] == ["/api/public/observations"]


def test_a_cursor_still_going_at_the_page_cap_fails_the_read_rather_than_stop_short(time_: FakeTime) -> None:
    """RELIABILITY F4: every page read, or a clear error; never a night triaged on part of the list."""

    def endless(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor", "0")
        row = {"id": f"o{cursor}", "traceId": "t"}
        return httpx.Response(200, json={"data": [row], "meta": {"cursor": str(int(cursor) + 1)}})

    fake = Fake({"/api/public/v2/observations": [endless]})
    with pytest.raises(ServiceError, match=r"still more after 4 pages of 1"):
        list(langfuse_client(fake, time_, max_pages=4).observations(**WINDOW, limit=1))
    assert len(fake.requests) == 4


def test_pages_still_going_at_the_cap_fail_the_read(time_: FakeTime) -> None:
    fake = Fake({"/api/public/traces": [paged([{"id": "t"}], 1, 1_000_000)]})
    with pytest.raises(ServiceError, match=r"GET /api/public/traces: still more after 3 pages"):
        list(langfuse_client(fake, time_, max_pages=3).traces(**WINDOW))
    assert [r.url.params["page"] for r in fake.requests] == ["1", "2", "3"]


def test_an_empty_page_ends_paging(time_: FakeTime) -> None:
    fake = Fake({"/api/public/traces": [paged([{"id": "t"}], 1, 5), paged([], 2, 5)]})
    assert len(list(langfuse_client(fake, time_).traces(**WINDOW))) == 1 and len(fake.requests) == 2


def test_429_waits_as_retry_after_says(time_: FakeTime) -> None:
    limited = httpx.Response(429, text="429 - rate limit exceeded", headers={"Retry-After": "5"})
    fake = Fake({"/api/public/traces/t1": [limited, httpx.Response(200, json={"id": "t1", "tags": None})]})
    trace = langfuse_client(fake, time_).trace("t1", **WINDOW)
    assert trace.tags == [] and time_.sleeps == [5.0] and len(fake.requests) == 3  # 404, 429, 200


def test_5xx_and_lost_connections_are_retried(time_: FakeTime) -> None:
    answers: list[httpx.Response | Handler] = [httpx.Response(502, text="Bad Gateway")]

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    answers += [refuse, httpx.Response(200, json={"id": "t1", "latency": -1})]
    fake = Fake({"/api/public/traces/t1": answers})
    assert langfuse_client(fake, time_).trace("t1", **WINDOW).latency is None  # -1: metrics not included
    assert time_.sleeps == [1.0, 2.0] and len(fake.requests) == 4  # the current path's 404 first


@pytest.mark.parametrize("status", [400, 401, 403])
def test_client_errors_are_not_retried_and_never_carry_the_keys(time_: FakeTime, status: int) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        # A server echoing what it got must not get the secret, or the basic credentials, into our error.
        return httpx.Response(
            status, json={"message": f"bad {SECRET_KEY} {request.headers['Authorization']}"}
        )

    fake = Fake({"/api/public/v3/scores": [echo]})
    with pytest.raises(ServiceError) as caught:
        list(langfuse_client(fake, time_).scores(**WINDOW))
    message = str(caught.value)
    assert len(fake.requests) == 1 and time_.sleeps == [] and not caught.value.retryable
    assert SECRET_KEY not in message and fake.requests[0].headers["Authorization"][6:] not in message
    assert f"HTTP {status}" in message and "/api/public/v3/scores" in message
    assert fake.requests[0].headers["Authorization"].startswith("Basic ")


def test_bad_arguments_send_nothing(time_: FakeTime) -> None:
    fake = Fake({})
    client = langfuse_client(fake, time_)
    with pytest.raises(FactoryError):
        client.trace("..", **WINDOW)
    with pytest.raises(FactoryError):
        list(client.scores(**WINDOW, limit=101))
    assert fake.requests == []
