"""Langfuse on ``127.0.0.1``: ``LangfuseStandIn`` (ingestion, the read API and a loopback HTTP server),
its request handler (basic auth with the project's public and secret key; bearer with the public key
for scores alone) and ``main``, which serves one until Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jobs.serving import LoopbackHTTPServer, LoopbackService
from orchestration.local.langfuse.api import _ROUTES, ReadApi
from orchestration.local.langfuse.ingestion import Ingestion, InvalidEvent
from orchestration.local.langfuse.query import invalid_request
from orchestration.local.langfuse.store import ApiError, Json

CONFIRM_HOST = ". Confirm that you've configured the correct host."


class LangfuseStandIn(Ingestion, ReadApi, LoopbackService):
    """Langfuse on ``127.0.0.1`` holding one project; use as a context manager or call start/stop."""

    def __init__(
        self,
        public_key: str | None = None,
        secret_key: str | None = None,
        project_id: str = "factory-local",
        port: int = 0,
        deprecation_signal: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.public_key = public_key or f"pk-lf-{uuid.uuid4()}"
        self.secret_key = secret_key or f"sk-lf-{uuid.uuid4()}"
        self.project_id = project_id
        self.deprecation_signal = deprecation_signal
        self.clock = clock
        self.traces: dict[str, Json] = {}
        self.observations: dict[str, Json] = {}
        self.scores: dict[str, Json] = {}
        self.event_ids: set[str] = set()
        self._lock = threading.Lock()
        LoopbackService.__init__(
            self, LoopbackHTTPServer(("127.0.0.1", port), _handler_for(self)), "langfuse-stand-in"
        )

    @property
    def host(self) -> str:
        """The host to give a Langfuse client (``LANGFUSE_HOST`` / ``LANGFUSE_BASE_URL``): its URL."""
        return self.url


def _handler_for(server: LangfuseStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read state, not logs
            return

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _read(self) -> None:
            """Read the body whatever the answer, so a kept-alive connection stays in step."""
            length = int(self.headers.get("Content-Length") or 0)
            self.raw_body = self.rfile.read(length) if length else b""

        def _body(self) -> Any:
            raw = self.raw_body
            try:
                return json.loads(raw) if raw else None
            except json.JSONDecodeError:
                raise invalid_request("Invalid JSON", "body") from None

        def _auth(self) -> str:
            """``project`` for the public and secret key (basic), ``scores`` for the public key alone
            (bearer); otherwise the 401 Langfuse's ``ApiAuthService`` answers."""
            header = self.headers.get("Authorization")
            if not header:
                raise ApiError(401, {"message": "No authorization header"})
            if header.startswith("Basic "):
                try:
                    decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    raise ApiError(401, {"message": "Invalid authorization header" + CONFIRM_HOST}) from None
                public, _, secret = decoded.partition(":")
                if not public or not secret:
                    raise ApiError(401, {"message": "Invalid authorization header" + CONFIRM_HOST})
                if not (
                    secrets.compare_digest(public, server.public_key)
                    and secrets.compare_digest(secret, server.secret_key)
                ):
                    raise ApiError(401, {"message": "Invalid credentials" + CONFIRM_HOST})
                return "project"
            if header.startswith("Bearer "):
                if not secrets.compare_digest(header[7:].strip(), server.public_key):
                    raise ApiError(401, {"message": "Invalid public key" + CONFIRM_HOST})
                return "scores"
            raise ApiError(401, {"message": "Invalid authorization header"})

        def do_POST(self) -> None:
            self._read()
            path = urlsplit(self.path).path.rstrip("/")
            try:
                if path == "/api/public/ingestion":
                    self._ingestion()
                    return
                if path != "/api/public/scores":
                    known = any(pattern.match(path) for _, pattern in _ROUTES)
                    if known:
                        raise ApiError(
                            405, {"message": "Method not allowed", "error": "MethodNotAllowedError"}
                        )
                    raise ApiError(404, {"message": "Not Found", "error": "NotFoundError"})
                self._auth()  # basic or bearer: the create-score route accepts both access levels
                body = self._body()
                if not isinstance(body, dict):
                    raise invalid_request("Expected object, received " + type(body).__name__, "body")
                source = body.get("source") or "API"
                if source not in ("API", "ANNOTATION"):
                    raise invalid_request("Invalid enum value. Expected 'API' | 'ANNOTATION'", "source")
                if (
                    source == "ANNOTATION"
                    and not body.get("configId")
                    and body.get("dataType") != "CORRECTION"
                ):
                    message = "configId is required when source is ANNOTATION (except for CORRECTION scores)."
                    raise invalid_request(message, "configId")
                try:
                    with server._lock:
                        score_id = server._create_score(body, server.clock(), str(source))
                except (InvalidEvent, ValueError) as exc:
                    raise ApiError(400, {"message": str(exc)}) from None
                self._json(200, {"id": score_id})
            except ApiError as error:
                self._json(error.status, error.body)

        def _ingestion(self) -> None:
            try:
                access = self._auth()
            except ApiError as error:
                self._json(401, {"error": "UnauthorizedError", "message": error.body["message"]})
                return
            try:
                body = self._body()
            except ApiError as error:
                self._json(error.status, error.body)
                return
            batch = body.get("batch") if isinstance(body, dict) else None
            if not isinstance(batch, list):
                self._json(400, {"message": "Invalid request data", "errors": ["batch: Required"]})
                return
            self._json(207, server.ingest(batch, scores_only=access == "scores"))

        def do_GET(self) -> None:
            self._read()
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            route, params = next(
                ((name, m.groupdict()) for name, pattern in _ROUTES if (m := pattern.match(parts.path))),
                (None, {}),
            )
            try:
                if parts.path.rstrip("/") in ("/api/public/ingestion", "/api/public/scores"):
                    raise ApiError(405, {"message": "Method not allowed", "error": "MethodNotAllowedError"})
                if route is None:
                    raise ApiError(404, {"message": "Not Found", "error": "NotFoundError"})
                if self._auth() != "project":
                    raise ApiError(
                        403, {"message": "Access denied - insufficient permissions for this endpoint"}
                    )
                item = unquote(params.get("id", ""))
                handlers: dict[str, Callable[[], Json]] = {
                    "traces": lambda: server.list_traces(query),
                    "trace": lambda: server.get_trace(item, query),
                    "observations": lambda: server.list_observations(query),
                    "observation": lambda: server.get_one("observations", item),
                    "observations-v2": lambda: server.list_observations_v2(query),
                    "scores-v2": lambda: server.list_scores_v2(query),
                    "score-v2": lambda: server.get_one("scores", item),
                    "scores-v3": lambda: server.list_scores_v3(query),
                }
                self._json(200, handlers[route]())
            except ApiError as error:
                self._json(error.status, error.body)

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve a Langfuse stand-in on loopback until Ctrl-C, printing its host and keys."""
    parser = argparse.ArgumentParser(prog="python -m orchestration.local.langfuse", description=main.__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--public-key", default=None, help="project public key (default: pk-lf-<random>)")
    parser.add_argument("--secret-key", default=None, help="project secret key (default: sk-lf-<random>)")
    parser.add_argument("--project-id", default="factory-local")
    args = parser.parse_args(argv)
    stand_in = LangfuseStandIn(
        public_key=args.public_key, secret_key=args.secret_key, project_id=args.project_id, port=args.port
    )
    print(f"LANGFUSE_HOST={stand_in.url}")
    print(f"LANGFUSE_BASE_URL={stand_in.url}")
    print(f"LANGFUSE_PUBLIC_KEY={stand_in.public_key}")
    print(f"LANGFUSE_SECRET_KEY={stand_in.secret_key}", flush=True)
    try:
        stand_in.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stand_in._httpd.server_close()
