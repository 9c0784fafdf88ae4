"""A loopback proxy to the Messages API, so the real model credential never enters the agent's reach.

The agent's environment holds a per-run random token as ``ANTHROPIC_API_KEY`` and this proxy's URL as
``ANTHROPIC_BASE_URL``; whatever it runs can read both, and neither opens anything once the run is
over. The proxy answers only a request carrying that token, drops what the agent sent for auth, adds
the real credential (``x-api-key`` for an API key; ``Authorization: Bearer`` plus the ``oauth`` beta
for an OAuth token, as Claude Code sends each) and forwards ``POST /v1/messages`` (query string kept)
and ``POST /v1/messages/count_tokens`` upstream; any other route is 404. Responses pass through chunk
by chunk, so server-sent events reach the CLI as the model writes them.

On the way through it reads the API's own usage fields (``message_start`` and ``message_delta`` of a
stream, ``usage`` of a JSON body), prices them, and holds the run's dollar budget: once the spend
reaches it, the next message request is refused with Anthropic's error shape and ``over_budget`` is
set for the runner.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from jobs.agent.models import Usage
from jobs.agent.stream import price_for
from jobs.serving import LoopbackHTTPServer, ServingThread, on_socket

DEFAULT_UPSTREAM = "https://api.anthropic.com"
MESSAGES = "/v1/messages"
ROUTES = frozenset({MESSAGES, "/v1/messages/count_tokens"})
# The Messages API refuses requests over 32 MB (Anthropic's request size limits); so does the proxy, before
# reading them.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
# Claude Code marks an OAuth (subscription) token with this beta; the agent, holding an API key, won't.
OAUTH_BETA = "oauth-2025-04-20"
# Connection-level headers (RFC 9110 7.6.1) are the hop's own, never forwarded.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
# What the agent sent for auth goes nowhere; identity encoding keeps the usage readable on the way back.
DROPPED_REQUEST = HOP_BY_HOP | {
    "host",
    "content-length",
    "x-api-key",
    "authorization",
    "proxy-authorization",
    "cookie",
    "accept-encoding",
}
DROPPED_RESPONSE = HOP_BY_HOP | {"content-length", "content-encoding"}
# Prompt caching is priced off the model's input rate (Anthropic's pricing page, "Prompt caching":
# https://platform.claude.com/docs/en/about-claude/pricing); input and output rates are stream.PRICES.
CACHE_WRITE_5M = 1.25
CACHE_WRITE_1H = 2.0
CACHE_READ = 0.1
MAX_JSON_BODY = 16 * 1024 * 1024  # a non-streaming reply read for its usage; a larger one is not metered
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


@dataclass(frozen=True)
class Credential:
    """The real model credential and how the Messages API wants it sent."""

    kind: Literal["api_key", "oauth"]
    value: str = field(repr=False)  # never in a repr, a log line or an assertion's message

    def apply(self, headers: dict[str, str]) -> None:
        if self.kind == "api_key":
            headers["x-api-key"] = self.value
            return
        headers["authorization"] = f"Bearer {self.value}"
        betas = [b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()]
        headers["anthropic-beta"] = ",".join([*betas, OAUTH_BETA] if OAUTH_BETA not in betas else betas)


def upstream_of(model_auth: Mapping[str, str]) -> tuple[str, Credential | None]:
    """The API base URL and the credential held in ``model_auth`` (an API key wins over an OAuth token)."""
    base = model_auth.get("ANTHROPIC_BASE_URL") or DEFAULT_UPSTREAM
    if model_auth.get("ANTHROPIC_API_KEY"):
        return base, Credential("api_key", model_auth["ANTHROPIC_API_KEY"])
    if model_auth.get("CLAUDE_CODE_OAUTH_TOKEN"):
        return base, Credential("oauth", model_auth["CLAUDE_CODE_OAUTH_TOKEN"])
    return base, None


def cost_usd(model: str, usage: Mapping[str, Any]) -> float:
    """List-price dollars of one response's ``usage`` (cache writes split by TTL when the API says)."""
    price_in, price_out = price_for(model)
    written = _count(usage, "cache_creation_input_tokens")
    split = usage.get("cache_creation")
    long_lived = _count(split, "ephemeral_1h_input_tokens") if isinstance(split, dict) else 0
    tokens = (
        _count(usage, "input_tokens") * price_in
        + _count(usage, "output_tokens") * price_out
        + _count(usage, "cache_read_input_tokens") * price_in * CACHE_READ
        + max(written - long_lived, 0) * price_in * CACHE_WRITE_5M
        + long_lived * price_in * CACHE_WRITE_1H
    )
    return tokens / 1_000_000


def _count(fields: Mapping[str, Any], key: str) -> int:
    value = fields.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def error_body(kind: str, message: str) -> bytes:
    """Anthropic's error JSON, so the CLI reports our refusals as it reports the API's."""
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


class ProxyTally(BaseModel):
    """What the proxy saw: requests forwarded, refused for the budget, refused for auth; tokens, dollars."""

    model_config = ConfigDict(extra="forbid")
    requests: int = 0
    refused: int = 0
    unauthorized: int = 0
    usage: Usage = Field(default_factory=Usage)


class UsageMeter:
    """The usage of one response, read from its body as the chunks pass (SSE or one JSON document)."""

    def __init__(self, content_type: str, model: str) -> None:
        self.streaming = content_type.startswith("text/event-stream")
        self.model = model
        self.fields: dict[str, Any] = {}
        self._buffer = b""
        self._skipped = False

    def feed(self, chunk: bytes) -> None:
        if self.streaming:
            # Events end with a blank line; CRLF is normalised after joining, so a split pair still matches.
            self._buffer = (self._buffer + chunk).replace(b"\r\n", b"\n")
            *events, self._buffer = self._buffer.split(b"\n\n")
            for event in events:
                self._event(event)
        elif not self._skipped:
            self._buffer += chunk
            if len(self._buffer) > MAX_JSON_BODY:
                self._buffer, self._skipped = b"", True

    def finish(self) -> dict[str, Any]:
        """The usage fields seen (for a stream, also those of a stream cut short)."""
        if not self.streaming and self._buffer:
            message = _json(self._buffer)
            if isinstance(message.get("usage"), dict):
                self.fields = dict(message["usage"])
                self.model = str(message.get("model") or self.model)
        return self.fields

    def _event(self, raw: bytes) -> None:
        data = b"\n".join(line[5:].lstrip() for line in raw.split(b"\n") if line.startswith(b"data:"))
        event = _json(data)
        if event.get("type") == "message_start" and isinstance(event.get("message"), dict):
            message = event["message"]
            self.fields = dict(message.get("usage") or {})
            self.model = str(message.get("model") or self.model)
        elif event.get("type") == "message_delta" and isinstance(event.get("usage"), dict):
            # The delta's counts are cumulative: they replace the start's (output_tokens, at least).
            self.fields.update({k: v for k, v in event["usage"].items() if v is not None})


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


class ModelProxy:
    """One run's proxy on ``127.0.0.1`` (an ephemeral port); a context manager, or start and stop."""

    def __init__(
        self,
        *,
        upstream: str,
        credential: Credential | None,
        client: httpx.Client,
        max_cost_usd: float | None = None,
        sock: socket.socket | None = None,
        failure_budget: float = 120.0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.credential = credential
        self.client = client
        self.max_cost_usd = max_cost_usd
        self.token = secrets.token_urlsafe(32)
        self.over_budget = threading.Event()
        # The API failing for longer than ``failure_budget`` seconds in a row: the run stops, saying why.
        self.unavailable = threading.Event()
        self.unavailable_reason = ""
        self.failure_budget = failure_budget
        # (monotonic time, what failed) since the last success
        self._failures: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._tally = ProxyTally()
        self._server = _Server(("127.0.0.1", 0), _Handler, bind_and_activate=sock is None)
        if sock is not None:
            on_socket(self._server, sock)  # a listening socket in the agent's box
        self._server.proxy = self
        self._serving = ServingThread(self._server, "model-proxy")

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def agent_auth(self) -> dict[str, str]:
        """The model auth the agent's environment gets: this run's token and this proxy, nothing real."""
        return {"ANTHROPIC_API_KEY": self.token, "ANTHROPIC_BASE_URL": self.base_url}

    def tally(self) -> ProxyTally:
        with self._lock:
            return self._tally.model_copy(deep=True)

    def start(self) -> ModelProxy:
        self._serving.start()
        return self

    def stop(self) -> None:
        self._serving.stop()

    def __enter__(self) -> ModelProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def authorized(self, headers: Mapping[str, str]) -> bool:
        """Whether the request carries this run's token (as an API key, or as a bearer token)."""
        offered = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        return secrets.compare_digest(offered.encode(), self.token.encode())

    def admit(self, path: str) -> bool:
        """Count one request in; False (and ``over_budget`` set) when the budget is spent."""
        with self._lock:
            spent = self._tally.usage.cost_usd
            if path == MESSAGES and self.max_cost_usd is not None and spent >= self.max_cost_usd:
                self._tally.refused += 1
                self.over_budget.set()
                return False
            self._tally.requests += 1
            return True

    def note_answer(self, status: int, retry_after: str | None) -> None:
        """Count an upstream answer: a retryable failure extends the failing streak, anything else ends it."""
        if status not in RETRYABLE:
            with self._lock:
                self._failures.clear()
            return
        wait = _seconds(retry_after)
        self.note_failure(f"{status}" + (f" with retry-after {wait:g}s" if wait else ""), wait)

    def note_failure(self, what: str, retry_after: float = 0.0) -> None:
        """One failure of the API (an error status, no connection, a stream that stalled)."""
        now = time.monotonic()
        with self._lock:
            self._failures.append((now, what))
            first = self._failures[0][0]
            failing = now - first
            if failing + retry_after <= self.failure_budget:
                return
            kinds = ", ".join(dict.fromkeys(w for _, w in self._failures))
            self.unavailable_reason = (
                f"the model API kept failing: {len(self._failures)} failed "
                f"request{'' if len(self._failures) == 1 else 's'} in {failing:.0f}s ({kinds})"
                + (f"; it asked to wait {retry_after:g}s" if retry_after else "")
                + f", past this run's {self.failure_budget:g}s failure budget"
            )
        self.unavailable.set()

    def count_unauthorized(self) -> None:
        with self._lock:
            self._tally.unauthorized += 1

    def record(self, model: str, fields: Mapping[str, Any]) -> None:
        with self._lock:
            now = self._tally.usage
            added = {k: getattr(now, k) + _count(fields, k) for k in TOKEN_FIELDS}
            self._tally.usage = Usage(**added, cost_usd=now.cost_usd + cost_usd(model, fields))

    def upstream_headers(self, incoming: Mapping[str, str]) -> dict[str, str]:
        headers = {k: v for k, v in incoming.items() if k not in DROPPED_REQUEST}
        headers["accept-encoding"] = "identity"
        if self.credential is not None:
            self.credential.apply(headers)
        return headers

    @contextlib.contextmanager
    def forward(self, path: str, headers: dict[str, str], body: bytes) -> Iterator[httpx.Response]:
        request = self.client.build_request("POST", self.upstream + path, headers=headers, content=body)
        response = self.client.send(request, stream=True)
        try:
            yield response
        finally:
            response.close()


# What the CLI retries (Anthropic's errors page: 429 rate_limit, 500 api_error, 529 overloaded, and the
# gateways' 502-504): a streak of these is the API failing.
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504, 529})


def _seconds(value: str | None) -> float:
    """``retry-after`` in seconds (Anthropic sends delta-seconds); 0 when absent or not a number."""
    try:
        seconds = float(value) if value else 0.0
    except ValueError:
        return 0.0
    return seconds if seconds == seconds and 0 < seconds < 86_400 else 0.0


class _Server(LoopbackHTTPServer):
    proxy: ModelProxy


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 120  # a client stalled this long mid-request (or idle between requests) is dropped

    def log_message(self, format: str, *args: object) -> None:  # quiet: the tally keeps the facts
        return

    def _dispatch(self) -> None:
        proxy = self.server.proxy
        headers = {k.lower(): v for k, v in self.headers.items()}
        route = self.path.split("?", 1)[0]
        # Token and route first: nothing is read from a caller who is not this run's agent.
        if not proxy.authorized(headers):
            proxy.count_unauthorized()
            self.close_connection = True  # its body, if any, stays unread
            self._error(401, "authentication_error", "invalid x-api-key: not this run's token")
            return
        if self.command != "POST" or route not in ROUTES:
            self.close_connection = True
            self._error(404, "not_found_error", f"the model proxy serves POST {MESSAGES} only")
            return
        body = self._read_body(headers)
        if body is None:
            return
        if not proxy.admit(route):
            self._error(
                400,
                "invalid_request_error",
                f"this run's budget of ${proxy.max_cost_usd:g} is spent: no further model requests",
            )
        else:
            self._forward(route, headers, body)

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _read_body(self, headers: Mapping[str, str]) -> bytes | None:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.close_connection = True
            self._error(411, "invalid_request_error", "send a Content-Length")
            return None
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self.close_connection = True
            self._error(413, "request_too_large", f"a request body is 0 to {MAX_REQUEST_BYTES} bytes")
            return None
        try:
            return self.rfile.read(length)
        except OSError:
            self.close_connection = True
            return None

    def _forward(self, route: str, headers: Mapping[str, str], body: bytes) -> None:
        proxy = self.server.proxy
        requested = str(_json(body).get("model") or "") if route == MESSAGES else ""
        try:
            with proxy.forward(self.path, proxy.upstream_headers(headers), body) as response:
                proxy.note_answer(response.status_code, response.headers.get("retry-after"))
                meter = UsageMeter(response.headers.get("content-type", ""), requested)
                try:
                    whole = self._relay(response, meter if route == MESSAGES else None)
                finally:
                    if route == MESSAGES:
                        proxy.record(meter.model, meter.finish())
        except httpx.HTTPError as exc:
            # Nothing was sent yet (send() failed); a 5xx is what the CLI retries.
            stalled = isinstance(exc, httpx.ReadTimeout)  # no answer at all within the read timeout
            proxy.note_failure("stalled stream" if stalled else f"unreachable: {type(exc).__name__}")
            self._error(502, "api_error", f"the model proxy could not reach the API: {type(exc).__name__}")
            return
        # The body ends only once its usage is counted: the next request is judged with this one's cost.
        if whole:
            try:
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True

    def _relay(self, response: httpx.Response, meter: UsageMeter | None) -> bool:
        """Status, headers and every chunk of the body (all but its end); False if either side broke off."""
        self.send_response(response.status_code)
        for key, value in response.headers.multi_items():
            if key.lower() not in DROPPED_RESPONSE:
                self.send_header(key, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            # Decoded bytes (we asked for identity; an upstream that compresses anyway is undone here).
            for chunk in response.iter_bytes():
                if not chunk:
                    continue  # an empty chunk would end the chunked body
                if meter is not None:
                    meter.feed(chunk)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        except httpx.ReadTimeout:
            # No byte (not even the API's pings) for the read timeout: a stalled stream. The CLI sees
            # the connection end and retries; the streak of failures counts it.
            self.server.proxy.note_failure("stalled stream")
            self.close_connection = True
            return False
        except (OSError, httpx.HTTPError):
            # The client left, or the upstream broke off mid-body: this connection is done either way.
            self.close_connection = True
            return False
        return True

    def _error(self, status: int, kind: str, message: str) -> None:
        data = error_body(kind, message)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            # Said, not only done: a client that keeps the connection would send its next request on a
            # socket we are closing, and get no answer ("server disconnected").
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
