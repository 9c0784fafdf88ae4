"""The offline model speaks the Messages API wire format: SSE events, JSON, errors, turn selection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestration.local.offline_model import OfflineModelServer, Scenario, ScenarioBook

SCENARIO = Scenario.model_validate(
    {
        "name": "wire",
        "match": ["Ticket: W-1"],
        "turns": [
            {
                "text": "Reading.",
                "tool_uses": [{"name": "Read", "input": {"file_path": "{{workspace}}/a.py"}}],
            },
            {"error": {"status": 529, "type": "overloaded_error", "retry_after": 3}},
            {"text": "Done."},
        ],
    }
)


@pytest.fixture
def server() -> Iterator[OfflineModelServer]:
    with OfflineModelServer(ScenarioBook([SCENARIO])) as s:
        yield s


def body(assistant_turns: int, stream: bool) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Ticket: W-1\nRepository root: /work/x"}]
    for _ in range(assistant_turns):
        messages += [{"role": "assistant", "content": "..."}, {"role": "user", "content": "ok"}]
    return {"model": "claude-sonnet", "max_tokens": 100, "stream": stream, "messages": messages}


def sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_streaming_turn_is_well_formed_sse(server: OfflineModelServer) -> None:
    r = httpx.post(f"{server.base_url}/v1/messages?beta=true", json=body(0, stream=True))
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    events = sse(r.text)
    kinds = [e for e, _ in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert all(e == d["type"] for e, d in events)
    tool_start = next(
        d for e, d in events if e == "content_block_start" and d["content_block"]["type"] == "tool_use"
    )
    partial = next(d for e, d in events if e == "content_block_delta" and d["index"] == tool_start["index"])
    assert json.loads(partial["delta"]["partial_json"]) == {"file_path": "/work/x/a.py"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[0][1]["message"]["usage"]["input_tokens"] > 0


def test_plain_json_and_turn_from_history(server: OfflineModelServer) -> None:
    r = httpx.post(f"{server.base_url}/v1/messages", json=body(2, stream=False))
    message = r.json()
    assert message["type"] == "message" and message["stop_reason"] == "end_turn"
    assert message["content"] == [{"type": "text", "text": "Done."}]
    assert [(q.scenario, q.turn) for q in server.requests] == [("wire", 2)]


def test_scripted_error_with_retry_after(server: OfflineModelServer) -> None:
    r = httpx.post(f"{server.base_url}/v1/messages", json=body(1, stream=True))
    assert r.status_code == 529 and r.headers["retry-after"] == "3.0"
    assert r.json()["error"]["type"] == "overloaded_error"


def test_no_matching_scenario_is_a_clear_400(server: OfflineModelServer) -> None:
    r = httpx.post(f"{server.base_url}/v1/messages", json={"messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 400 and "no offline-model scenario" in r.json()["error"]["message"]


def test_past_the_script_the_model_closes_the_conversation(server: OfflineModelServer) -> None:
    message = httpx.post(f"{server.base_url}/v1/messages", json=body(7, stream=False)).json()
    assert message["stop_reason"] == "end_turn" and message["content"][0]["text"] == SCENARIO.final_text


def test_count_tokens_and_unknown_routes(server: OfflineModelServer) -> None:
    assert (
        httpx.post(f"{server.base_url}/v1/messages/count_tokens", json=body(0, False)).json()["input_tokens"]
        > 0
    )
    assert httpx.post(f"{server.base_url}/v1/other", json={}).status_code == 404
    assert httpx.post(f"{server.base_url}/v1/messages", content=b"{nope").status_code == 400
