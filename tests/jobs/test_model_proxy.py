"""The model proxy: the real model credential stays in the harness, usage is metered, the budget holds.

Upstream is the offline model (a scenario book of this module's own), behind a relay that records the
headers each request arrived with: the offline model keeps bodies, not headers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs.agent import AgentRequest, AgentRunner, AgentStatus
from jobs.agent.model_proxy import MAX_REQUEST_BYTES, OAUTH_BETA, Credential, ModelProxy, cost_usd
from jobs.serving import ServingThread
from orchestration.local.offline_model import OfflineModelServer, ScenarioBook
from orchestration.local.offline_model.scenarios import Scenario, ToolUse, Turn
from tests.conftest import git

CANARY = "sk-ant-canary-REAL-model-key-13-2"
OAUTH_CANARY = "sk-ant-oat01-canary-REAL-oauth-13-2"
VERSION = {"anthropic-version": "2023-06-01", "content-type": "application/json"}
ENV_DUMP = "python3 -c 'import json, os; print(json.dumps(dict(os.environ)))'"
SCENARIOS = [
    # The agent prints its whole environment: the tool's output lands in the transcript.
    Scenario(
        name="proxy-env",
        match=["Ticket: PROXY-ENV"],
        turns=[Turn(tool_uses=[ToolUse(name="Bash", input={"command": ENV_DUMP, "description": "env"})])],
        final_text="Printed.",
    ),
    # Two model requests: one tool call, then the closing text.
    Scenario(
        name="proxy-two",
        match=["Ticket: PROXY-TWO"],
        turns=[
            Turn(
                tool_uses=[
                    ToolUse(name="Write", input={"file_path": "{{workspace}}/a.txt", "content": "a\n"})
                ]
            ),
            Turn(text="Wrote a.txt."),
        ],
    ),
]


class Relay:
    """Forwards to ``target`` and keeps (path, headers) of every request: what "upstream" was sent."""

    def __init__(self, target: str) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                relay.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                answer = httpx.post(target + self.path, content=body, headers=VERSION)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers["content-type"])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._serving = ServingThread(self._httpd, "test-relay")
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> Relay:
        self._serving.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._serving.stop()


@pytest.fixture(scope="module")
def model() -> Iterator[OfflineModelServer]:
    with OfflineModelServer(ScenarioBook(SCENARIOS)) as server:
        yield server


@pytest.fixture
def relay(model: OfflineModelServer) -> Iterator[Relay]:
    with Relay(model.base_url) as relay:
        yield relay


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = tmp_path / "repo"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    return work


def message(ticket: str, *, stream: bool = False) -> dict[str, Any]:
    return {
        "model": "claude-haiku-test",
        "max_tokens": 100,
        "stream": stream,
        "messages": [{"role": "user", "content": f"Ticket: {ticket}\nRepository root: /tmp/x\n"}],
    }


def agent_request(repo: Path, ticket: str, **kw: Any) -> AgentRequest:
    prompt = f"Phase: test\nTicket: {ticket}\nRepository root: {repo}\n{kw.pop('filler', '')}"
    return AgentRequest(prompt=prompt, cwd=repo, max_duration_seconds=60, **kw)


def test_the_agent_sees_only_its_run_token_and_upstream_only_the_real_key(
    repo: Path, model: OfflineModelServer, relay: Relay
) -> None:
    lines: list[str] = []
    runner = AgentRunner(model_auth={"ANTHROPIC_API_KEY": CANARY, "ANTHROPIC_BASE_URL": relay.url})
    outcome = runner.run(agent_request(repo, "PROXY-ENV"), lines.append)
    assert outcome.status is AgentStatus.SUCCESS, outcome.detail
    transcript = "".join(lines)
    assert CANARY not in transcript and relay.url not in transcript
    (printed,) = [
        json.loads(block["content"] if isinstance(block["content"], str) else block["content"][0]["text"])
        for line in lines
        if (event := json.loads(line)).get("type") == "user"
        for block in event["message"]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    token, proxy_url = printed["ANTHROPIC_API_KEY"], printed["ANTHROPIC_BASE_URL"]
    assert len(token) >= 40 and proxy_url.startswith("http://127.0.0.1:") and proxy_url != relay.url
    assert CANARY not in json.dumps(printed) and "CLAUDE_CODE_OAUTH_TOKEN" not in printed
    # Every request reached upstream with the real key, none with the agent's token.
    assert len(relay.seen) == 2
    for path, headers in relay.seen:
        assert path == "/v1/messages?beta=true"
        assert headers["x-api-key"] == CANARY and "authorization" not in headers
        assert token not in json.dumps(headers)
    # The token died with the run: the proxy is gone.
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{proxy_url}/v1/messages", headers={"x-api-key": token, **VERSION}, content=b"{}")


def test_the_tally_is_the_usage_the_api_reported(repo: Path, model: OfflineModelServer, relay: Relay) -> None:
    asked = len(model.requests)
    runner = AgentRunner(model_auth={"ANTHROPIC_API_KEY": CANARY, "ANTHROPIC_BASE_URL": relay.url})
    outcome = runner.run(agent_request(repo, "PROXY-TWO", model="haiku"))
    assert outcome.status is AgentStatus.SUCCESS, outcome.detail
    answered = model.requests[asked:]
    assert len(answered) == 2 and all(r.stream for r in answered)
    tally = runner.last_model_tally
    assert tally is not None and tally.requests == 2 and tally.refused == 0
    assert tally.usage.input_tokens == sum(r.input_tokens for r in answered)
    assert tally.usage.output_tokens == sum(r.output_tokens for r in answered)
    # Haiku's list price, $1 in and $5 out per million tokens.
    dollars = sum(r.input_tokens * 1.0 + r.output_tokens * 5.0 for r in answered) / 1_000_000
    assert tally.usage.cost_usd == pytest.approx(dollars)
    assert outcome.usage == tally.usage


def test_a_spent_budget_refuses_the_next_request_and_the_run_is_over_budget(
    repo: Path, model: OfflineModelServer, relay: Relay
) -> None:
    # A long prompt makes the first request cost about $0.015 at our Haiku price; the budget is $0.006.
    # The CLI (rounding the budget to $0.01, pricing Haiku lower still) would ask a second time.
    filler = "padding that only makes the prompt longer, and the request dearer\n" * 600
    runner = AgentRunner(model_auth={"ANTHROPIC_API_KEY": CANARY, "ANTHROPIC_BASE_URL": relay.url})
    outcome = runner.run(agent_request(repo, "PROXY-TWO", model="haiku", max_cost_usd=0.006, filler=filler))
    tally = runner.last_model_tally
    assert tally is not None
    print(f"first request ${tally.usage.cost_usd:.4f} against a $0.006 budget")
    assert tally.usage.cost_usd > 0.006
    assert outcome.status is AgentStatus.OVER_BUDGET
    assert "model proxy refused" in outcome.detail
    # The CLI may ask again at once before it is stopped; none of it is forwarded.
    assert tally.requests == 1 and tally.refused >= 1
    assert len(relay.seen) == 1  # the refused requests never left the harness


def test_the_proxy_refuses_a_wrong_or_missing_token_and_unknown_routes(
    relay: Relay, http: httpx.Client
) -> None:
    body = json.dumps(message("PROXY-TWO")).encode()
    with ModelProxy(upstream=relay.url, credential=Credential("api_key", CANARY), client=http) as proxy:
        url = f"{proxy.base_url}/v1/messages"
        wrong = http.post(url, headers={"x-api-key": "not-the-token", **VERSION}, content=body)
        missing = http.post(url, headers=VERSION, content=body)
        bearer = http.post(url, headers={"authorization": f"Bearer {CANARY}", **VERSION}, content=body)
        other = http.get(f"{proxy.base_url}/v1/models", headers={"x-api-key": proxy.token})
        tally = proxy.tally()
    for refused in (wrong, missing, bearer):
        assert refused.status_code == 401
        assert refused.json()["type"] == "error"
        assert refused.json()["error"]["type"] == "authentication_error"
    assert other.status_code == 404 and other.json()["error"]["type"] == "not_found_error"
    assert relay.seen == [] and tally.unauthorized == 3 and tally.requests == 0


def test_no_body_is_read_from_a_caller_without_the_token_nor_past_the_size_limit(
    relay: Relay, http: httpx.Client
) -> None:
    """Any local process can reach the loopback port: it must not make the harness read (and hold)
    what it sends. A caller without the token is answered from the headers alone; the token's holder
    cannot declare a body beyond the API's own 32 MB limit, nor a negative one."""
    with ModelProxy(upstream=relay.url, credential=Credential("api_key", CANARY), client=http) as proxy:
        host, port = proxy.base_url.removeprefix("http://").split(":")
        for key, length in (("not-the-token", "1000000000"), (proxy.token, str(MAX_REQUEST_BYTES + 1)),
                            (proxy.token, "-1")):  # fmt: skip
            with socket.create_connection((host, int(port)), timeout=5) as raw:
                raw.sendall(
                    f"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\n"
                    f"Content-Length: {length}\r\n\r\n".encode()
                )  # and no body: an answer must come without waiting for it
                status = raw.recv(64).split(b" ")[1]
            assert status == (b"401" if key != proxy.token else b"413"), (key, length)
    assert relay.seen == []


def test_the_proxy_forwards_json_replies_count_tokens_and_the_query_string(
    model: OfflineModelServer, relay: Relay, http: httpx.Client
) -> None:
    asked = len(model.requests)
    with ModelProxy(upstream=relay.url, credential=Credential("api_key", CANARY), client=http) as proxy:
        auth = {"x-api-key": proxy.token, **VERSION}
        reply = http.post(f"{proxy.base_url}/v1/messages?beta=true", headers=auth, json=message("PROXY-TWO"))
        counted = http.post(f"{proxy.base_url}/v1/messages/count_tokens", headers=auth, json=message("X"))
        tally = proxy.tally()
    assert reply.status_code == 200 and reply.json()["content"][0]["type"] == "tool_use"
    assert counted.status_code == 200 and counted.json()["input_tokens"] > 0
    assert [path for path, _ in relay.seen] == ["/v1/messages?beta=true", "/v1/messages/count_tokens"]
    assert all(headers["x-api-key"] == CANARY for _, headers in relay.seen)
    (answered,) = model.requests[asked:]
    assert reply.json()["usage"]["input_tokens"] == answered.input_tokens
    assert (tally.usage.input_tokens, tally.usage.output_tokens) == (
        answered.input_tokens,
        answered.output_tokens,
    )
    assert tally.requests == 2


def test_the_budget_refuses_direct_requests_once_spent(relay: Relay, http: httpx.Client) -> None:
    credential = Credential("api_key", CANARY)
    with ModelProxy(upstream=relay.url, credential=credential, client=http, max_cost_usd=1e-6) as proxy:
        auth = {"x-api-key": proxy.token, **VERSION}
        first = http.post(f"{proxy.base_url}/v1/messages", headers=auth, json=message("PROXY-TWO"))
        second = http.post(f"{proxy.base_url}/v1/messages", headers=auth, json=message("PROXY-TWO"))
        tally = proxy.tally()
    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["error"]["type"] == "invalid_request_error"
    assert "budget" in second.json()["error"]["message"] and "spent" in second.json()["error"]["message"]
    assert proxy.over_budget.is_set() and (tally.requests, tally.refused) == (1, 1)
    assert len(relay.seen) == 1


def test_an_oauth_token_goes_upstream_as_a_bearer_with_the_oauth_beta(
    relay: Relay, http: httpx.Client
) -> None:
    with ModelProxy(upstream=relay.url, credential=Credential("oauth", OAUTH_CANARY), client=http) as proxy:
        headers = {"x-api-key": proxy.token, "anthropic-beta": "claude-code-20250219", **VERSION}
        reply = http.post(f"{proxy.base_url}/v1/messages", headers=headers, json=message("PROXY-TWO"))
    assert reply.status_code == 200
    ((_, seen),) = relay.seen
    assert seen["authorization"] == f"Bearer {OAUTH_CANARY}" and "x-api-key" not in seen
    assert seen["anthropic-beta"].split(",") == ["claude-code-20250219", OAUTH_BETA]


class SlowStream:
    """An upstream that sends ``message_start``, then waits for the client to have it before going on."""

    def __init__(self) -> None:
        self.client_has_first = threading.Event()
        self.finished_at: float | None = None
        slow = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                start = {
                    "type": "message_start",
                    "message": {
                        "model": "claude-opus-test",
                        "usage": {"input_tokens": 1000, "output_tokens": 1},
                    },
                }
                self._event("message_start", start)
                slow.client_has_first.wait(timeout=5)  # a buffering proxy never lets the client see it
                time.sleep(0.2)
                self._event("message_delta", {"type": "message_delta", "usage": {"output_tokens": 400}})
                self._event("message_stop", {"type": "message_stop"})
                slow.finished_at = time.monotonic()
                self.wfile.write(b"0\r\n\r\n")

            def _event(self, name: str, data: dict[str, Any]) -> None:
                chunk = f"event: {name}\r\ndata: {json.dumps(data)}\r\n\r\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._serving = ServingThread(self._httpd, "test-slow-stream")
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> SlowStream:
        self._serving.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._serving.stop()


def test_the_proxy_streams_events_as_they_come(http: httpx.Client) -> None:
    with (
        SlowStream() as upstream,
        ModelProxy(upstream=upstream.url, credential=Credential("api_key", CANARY), client=http) as proxy,
    ):
        headers = {"x-api-key": proxy.token, **VERSION}
        started = time.monotonic()
        with http.stream(
            "POST", f"{proxy.base_url}/v1/messages", headers=headers, json={"stream": True}
        ) as reply:
            assert reply.headers["content-type"] == "text/event-stream"
            lines = reply.iter_lines()
            first = next(lines)
            first_at = time.monotonic()
            upstream.client_has_first.set()
            rest = list(lines)
        tally = proxy.tally()
    assert first == "event: message_start"
    assert upstream.finished_at is not None and first_at < upstream.finished_at
    done = upstream.finished_at - started
    print(f"first event after {first_at - started:.3f}s, upstream done after {done:.3f}s")
    assert "event: message_stop" in rest
    # message_start's input and message_delta's cumulative output, at Opus's $5 / $25 per million.
    assert (tally.usage.input_tokens, tally.usage.output_tokens) == (1000, 400)
    assert tally.usage.cost_usd == pytest.approx((1000 * 5 + 400 * 25) / 1_000_000)


@pytest.mark.parametrize(
    ("usage", "dollars"),
    [
        ({"input_tokens": 1_000_000}, 3.0),
        ({"output_tokens": 1_000_000}, 15.0),
        ({"cache_read_input_tokens": 1_000_000}, 0.3),
        ({"cache_creation_input_tokens": 1_000_000}, 3.75),
        (
            {
                "cache_creation_input_tokens": 1_000_000,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1_000_000},
            },
            6.0,
        ),
        ({"input_tokens": None, "output_tokens": -5}, 0.0),
    ],
)
def test_prices_per_million_tokens(usage: dict[str, Any], dollars: float) -> None:
    assert cost_usd("claude-sonnet-4-5", usage) == pytest.approx(dollars)


def test_prices_by_model_family() -> None:
    one_each = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
    assert cost_usd("claude-opus-4-5", one_each) == pytest.approx(30.0)
    assert cost_usd("claude-haiku-4-5", one_each) == pytest.approx(6.0)
    assert cost_usd("some-unknown-model", one_each) == pytest.approx(18.0)  # priced as Sonnet
