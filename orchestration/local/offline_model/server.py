"""The HTTP side of the offline model: ``POST /v1/messages`` (SSE or JSON) on a loopback port."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from jobs.serving import LoopbackHTTPServer, LoopbackService
from orchestration.local.offline_model.scenarios import (
    NoScenarioError,
    ScenarioBook,
    Turn,
    assistant_turns,
    request_text,
    substitute,
    workspace_of,
)

# A rough but stable token count (about four characters a token), so budgets and benchmarks have a
# figure to read from the usage fields just as they would with the real API.
CHARS_PER_TOKEN = 4


class RecordedRequest(BaseModel):
    """One request the server answered, kept for token accounting and for tests to inspect."""

    path: str
    model: str
    stream: bool
    scenario: str | None
    turn: int
    input_tokens: int
    output_tokens: int
    status: int
    body: dict[str, Any]


def estimate_tokens(value: Any) -> int:
    """Token estimate for any JSON-able value."""
    return max(1, len(json.dumps(value, ensure_ascii=False)) // CHARS_PER_TOKEN)


def render_blocks(turn: Turn, variables: dict[str, str], ids: Iterator[str]) -> list[dict[str, Any]]:
    """Content blocks of a scripted turn, with placeholders filled in."""
    blocks: list[dict[str, Any]] = []
    if turn.text:
        blocks.append({"type": "text", "text": substitute(turn.text, variables)})
    for call in turn.tool_uses:
        blocks.append(
            {
                "type": "tool_use",
                "id": next(ids),
                "name": call.name,
                "input": substitute(call.input, variables),
            }
        )
    return blocks


def sse_events(message: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The Messages streaming events for a complete message, in the documented order."""
    start = dict(message, content=[], stop_reason=None, stop_sequence=None)
    start["usage"] = dict(message["usage"], output_tokens=1)
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": block["text"]},
                },
            )
        else:
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": {},
                    },
                },
            )
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
                },
            )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": message["usage"]["output_tokens"]},
        },
    )
    yield "message_stop", {"type": "message_stop"}


class OfflineModelServer(LoopbackService):
    """Serves scripted turns on ``127.0.0.1``; use as a context manager or call start/stop."""

    def __init__(self, book: ScenarioBook, port: int = 0, record_path: Path | None = None) -> None:
        self.book = book
        self.record_path = record_path
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._counter = 0
        super().__init__(LoopbackHTTPServer(("127.0.0.1", port), _handler_for(self)), "offline-model")

    @property
    def base_url(self) -> str:
        return self.url

    def record(self, entry: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(entry)
            if self.record_path is not None:
                with self.record_path.open("a", encoding="utf-8") as out:
                    out.write(entry.model_dump_json() + "\n")

    def next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}_offline_{self._counter:06d}"

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], Turn | None, str | None]:
        """Status, message (or error body), the turn played and the scenario name."""
        try:
            scenario = self.book.choose(body)
        except NoScenarioError as exc:
            return 400, _error_body("invalid_request_error", f"offline model: {exc}"), None, None
        index = assistant_turns(body)
        turn = scenario.turn(index)
        if turn.error is not None:
            return turn.error.status, _error_body(turn.error.type, turn.error.message), turn, scenario.name
        workspace = workspace_of(request_text(body))
        variables = {"workspace": workspace} if workspace else {}
        ids = iter(lambda: self.next_id("toolu"), None)
        content = render_blocks(turn, variables, ids)
        message = {
            "id": self.next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "offline"),
            "content": content,
            "stop_reason": "tool_use" if turn.tool_uses else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": estimate_tokens({k: body.get(k) for k in ("system", "messages", "tools")}),
                "output_tokens": estimate_tokens(content),
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
        return 200, message, turn, scenario.name


def _error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _handler_for(server: OfflineModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the recorder keeps the facts
            return

        def do_GET(self) -> None:
            self._json(404, _error_body("not_found_error", "offline model serves POST /v1/messages only"))

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._json(400, _error_body("invalid_request_error", "body is not JSON"))
                return
            if path == "/v1/messages/count_tokens":
                self._json(200, {"input_tokens": estimate_tokens(body)})
                return
            if path != "/v1/messages":
                self._json(404, _error_body("not_found_error", f"no route {path}"))
                return
            self._messages(path, body)

        def _messages(self, path: str, body: dict[str, Any]) -> None:
            status, message, turn, scenario = server.answer(body)
            if turn is not None and turn.delay_seconds:
                time.sleep(turn.delay_seconds)
            stream = bool(body.get("stream"))
            usage = message.get("usage", {})
            server.record(
                RecordedRequest(
                    path=path,
                    model=str(body.get("model", "")),
                    stream=stream,
                    scenario=scenario,
                    turn=assistant_turns(body),
                    input_tokens=int(usage.get("input_tokens", 0)),
                    output_tokens=int(usage.get("output_tokens", 0)),
                    status=status,
                    body=body,
                )
            )
            if status != 200:
                retry_after = turn.error.retry_after if turn is not None and turn.error else None
                extra = {"retry-after": str(retry_after)} if retry_after is not None else {}
                self._json(status, message, extra)
            elif stream:
                self._sse(message)
            else:
                self._json(200, message)

        def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("request-id", server.next_id("req"))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _sse(self, message: dict[str, Any]) -> None:
            chunks = b"".join(
                f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
                for event, data in sse_events(message)
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Length", str(len(chunks)))
            self.send_header("request-id", server.next_id("req"))
            self.end_headers()
            self.wfile.write(chunks)

    return Handler
