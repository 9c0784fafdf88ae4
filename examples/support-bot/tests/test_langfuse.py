"""Langfuse: off unless configured; traces and scores in the ingestion API's shape; never in the way."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from typing import Any

import httpx
from helpers import ACME, chat, make_backend, rate

from support_bot.observability.langfuse import ChatTurn, Langfuse, LangfuseSettings

SETTINGS = LangfuseSettings("https://langfuse.test", "pk-lf-test", "sk-lf-test")


class Recorder:
    """A stand-in for Langfuse's ingestion endpoint: keeps each request, answers like Langfuse (207)."""

    def __init__(self, status: int = 207, errors: list[dict[str, Any]] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status, self.errors = status, errors or []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        batch = json.loads(request.content)["batch"]
        successes = [{"id": e["id"], "status": 201} for e in batch]
        return httpx.Response(self.status, json={"successes": successes, "errors": self.errors})

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for r in self.requests for e in json.loads(r.content)["batch"]]


def sender(recorder: Recorder | httpx.MockTransport, **kw: Any) -> Langfuse:
    transport = recorder if isinstance(recorder, httpx.MockTransport) else httpx.MockTransport(recorder)
    return Langfuse(
        SETTINGS, transport=transport, flush_interval=0.01, environment="test", release="sb@1", **kw
    )


def turn(**kw: Any) -> ChatTurn:
    values: dict[str, Any] = {
        "answer_id": "a-1",
        "client": ACME,
        "session_id": "s-1",
        "question": "How much is shipping?",
        "answer": "Standard delivery costs $4.95.",
        "skill": "shipping",
        "sources": [{"doc": "shipping.md", "title": "Shipping", "section": "Costs"}],
        "started_at": datetime(2025, 3, 3, 9, 0, 0, tzinfo=UTC),
        "latency_ms": 12,
    }
    return ChatTurn(**(values | kw))


def test_settings_need_host_and_both_keys() -> None:
    full = {"LANGFUSE_HOST": "https://lf.test/", "LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk"}
    assert LangfuseSettings.from_env(full) == LangfuseSettings("https://lf.test", "pk", "sk")
    for missing in full:
        assert LangfuseSettings.from_env({k: v for k, v in full.items() if k != missing}) is None
    assert LangfuseSettings.from_env(full | {"LANGFUSE_SECRET_KEY": "  "}) is None


def test_off_when_unconfigured() -> None:
    off = Langfuse(None)
    off.trace_chat_turn(turn())
    off.score_feedback("a-1", ACME, True, None)
    assert not off.enabled and off.flush(0.1) and off._thread is None


def test_a_chat_turn_is_a_trace_and_a_timed_span() -> None:
    recorder = Recorder()
    langfuse = sender(recorder)
    langfuse.trace_chat_turn(turn())
    assert langfuse.flush(5)
    [request] = recorder.requests
    assert request.method == "POST" and str(request.url) == "https://langfuse.test/api/public/ingestion"
    expected_auth = "Basic " + base64.b64encode(b"pk-lf-test:sk-lf-test").decode()
    assert request.headers["Authorization"] == expected_auth
    trace, span = recorder.events
    assert {"id", "type", "timestamp", "body"} == set(trace) == set(span)
    assert trace["type"] == "trace-create" and span["type"] == "span-create"
    assert trace["body"] | {"metadata": None} == {
        "id": "a-1",
        "timestamp": "2025-03-03T09:00:00.000Z",
        "name": "chat-turn",
        "sessionId": f"{ACME}:s-1",
        "input": "How much is shipping?",
        "output": "Standard delivery costs $4.95.",
        "metadata": None,
        "tags": [f"client:{ACME}", "skill:shipping"],
        "release": "sb@1",
        "environment": "test",
    }
    assert trace["body"]["metadata"] == {
        "client": ACME,
        "skill": "shipping",
        "sources": turn().sources,
        "latency_ms": 12,
    }
    assert span["body"]["traceId"] == "a-1"
    assert (span["body"]["startTime"], span["body"]["endTime"]) == (
        "2025-03-03T09:00:00.000Z",
        "2025-03-03T09:00:00.012Z",
    )


def test_a_turn_s_trace_and_span_go_in_one_batch_however_short_the_interval() -> None:
    recorder = Recorder()
    langfuse = sender(recorder)
    langfuse._interval = 0.0  # the sender takes no more than the first item it finds
    for i in range(3):
        langfuse.trace_chat_turn(turn(answer_id=f"a-{i}"))
    assert langfuse.flush(5)
    for request in recorder.requests:
        batch = json.loads(request.content)["batch"]
        traces = [e["body"]["id"] for e in batch if e["type"] == "trace-create"]
        assert traces and traces == [e["body"]["traceId"] for e in batch if e["type"] == "span-create"]
    assert len(recorder.events) == 6


def test_feedback_is_a_boolean_score_on_the_answer_s_trace() -> None:
    recorder = Recorder()
    langfuse = sender(recorder)
    langfuse.score_feedback("a-1", ACME, False, "wrong topic")
    langfuse.score_feedback("a-1", ACME, True, None)
    assert langfuse.flush(5)
    down, up = (e["body"] for e in recorder.events)
    assert recorder.events[0]["type"] == "score-create"
    assert down == {
        "id": "a-1-user-feedback",
        "traceId": "a-1",
        "name": "user-feedback",
        "value": 0,
        "dataType": "BOOLEAN",
        "metadata": {"client": ACME},
        "environment": "test",
        "comment": "wrong topic",
    }
    assert up["id"] == down["id"] and up["value"] == 1 and "comment" not in up  # same score, updated


def test_events_are_sent_in_batches() -> None:
    recorder = Recorder()
    langfuse = sender(recorder, batch_size=50)
    langfuse._interval = 0.5  # long enough for the ten events to be queued before the first send
    for i in range(5):
        langfuse.trace_chat_turn(turn(answer_id=f"a-{i}"))
    assert langfuse.flush(5)
    assert len(recorder.events) == 10 and len(recorder.requests) < 10


def test_a_full_queue_drops_events_instead_of_blocking() -> None:
    release = threading.Event()

    def stuck(request: httpx.Request) -> httpx.Response:
        release.wait(5)
        return httpx.Response(207, json={"successes": [], "errors": []})

    langfuse = sender(httpx.MockTransport(stuck), max_queue=2, batch_size=1)
    for i in range(10):
        langfuse.score_feedback(f"a-{i}", ACME, True, None)  # returns at once, even with the sender stuck
    assert langfuse.dropped >= 7
    release.set()
    assert langfuse.flush(5)


def test_refused_and_failed_events_are_counted_not_raised() -> None:
    refused = sender(Recorder(errors=[{"id": "x", "status": 400, "message": "invalid"}]))
    refused.score_feedback("a-1", ACME, True, None)
    assert refused.flush(5) and refused.failed == 1

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    unreachable = sender(httpx.MockTransport(down))
    unreachable.score_feedback("a-1", ACME, True, None)
    unreachable.score_feedback("a-2", ACME, True, None)
    assert unreachable.flush(5) and unreachable.failed == 2
    unreachable.score_feedback("a-3", ACME, True, None)  # the sender thread survived
    assert unreachable.flush(5) and unreachable.failed == 3


def test_the_api_traces_each_turn_and_scores_each_rating(database_url: str) -> None:
    recorder = Recorder()
    langfuse = sender(recorder)
    api = make_backend(database_url, LANGFUSE=langfuse).test_client()
    answer = chat(api, "Do you offer express delivery?", session_id="web-1").get_json()
    rate(api, answer["answer_id"], "down", comment="too slow")
    assert langfuse.flush(5)
    kinds = [e["type"] for e in recorder.events]
    assert kinds == ["trace-create", "span-create", "score-create"]
    trace, _, score = (e["body"] for e in recorder.events)
    assert trace["id"] == answer["answer_id"] == score["traceId"]
    assert trace["metadata"]["skill"] == "shipping" and trace["metadata"]["client"] == ACME
    assert trace["sessionId"] == f"{ACME}:web-1" and trace["output"] == answer["answer"]
    assert (score["value"], score["comment"]) == (0, "too slow")


def test_a_chat_turn_succeeds_when_langfuse_is_down(database_url: str) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    langfuse = sender(httpx.MockTransport(down))
    api = make_backend(database_url, LANGFUSE=langfuse).test_client()
    assert chat(api, "Hello").status_code == 200
    assert langfuse.flush(5) and langfuse.failed == 2
