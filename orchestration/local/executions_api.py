"""The Workflows Executions REST API (v1) served by the local engine, so the real ``gcloud`` works locally.

``ExecutionsServer`` answers Google's ``workflowexecutions.googleapis.com/v1`` shapes on 127.0.0.1:

- ``POST /v1/projects/{p}/locations/{l}/workflows/{w}/executions`` (body: an ``Execution`` whose
  ``argument`` is a JSON *string*) returns the new execution, ``state: ACTIVE``, and runs it in a thread;
- ``GET .../executions/{id}``: ``state`` ACTIVE | SUCCEEDED | FAILED | CANCELLED, ``result`` (the
  workflow's return value as a JSON string) when SUCCEEDED, ``error: {payload, context}`` when FAILED;
- ``GET .../executions``: newest first, ``pageSize`` / ``pageToken``, ``view`` BASIC (default) or FULL;
- ``POST .../executions/{id}:cancel``: an active execution becomes CANCELLED.

Cancellation is best-effort: the local engine cannot stop a running step, so the execution is marked
CANCELLED at once (and stays so) while the job already running finishes in the background; its result
is dropped. Only the workflow ``factory`` exists (any project and location are accepted); other names
get Google's 404 error JSON, a malformed argument a 400 ``INVALID_ARGUMENT``.

What runs an execution is injected: ``start(argument, execution_id) -> LocalRun``; ``factory serve``
passes ``run_workflow`` on orchestration/factory.yaml, tests pass a fast fake.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jobs.serving import LoopbackHTTPServer, ServingThread
from orchestration import FACTORY_YAML
from orchestration.engine.errors import WorkflowError
from orchestration.local.run import LocalRun

Start = Callable[[Any, str], LocalRun]

WORKFLOW = "factory"
BASIC_FIELDS = ("name", "startTime", "endTime", "state", "workflowRevisionId", "createTime", "duration")
_PARENT = r"/v1/(projects/[^/]+/locations/[^/]+/workflows/[^/:]+)"
_ROUTES = (
    ("POST", re.compile(_PARENT + r"/executions"), "create"),
    ("GET", re.compile(_PARENT + r"/executions"), "list"),
    ("GET", re.compile(_PARENT + r"/executions/([^/:]+)"), "get"),
    ("POST", re.compile(_PARENT + r"/executions/([^/:]+):cancel"), "cancel"),
)


class ApiError(Exception):
    """An error answered in Google's JSON shape: ``{"error": {"code", "message", "status"}}``."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


def revision_id() -> str:
    """A stable ``workflowRevisionId`` (Google's ``000001-abc`` shape) for the current factory.yaml."""
    return "000001-" + hashlib.sha256(FACTORY_YAML.read_bytes()).hexdigest()[:3]


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Execution:
    """One execution as the API shows it."""

    name: str
    argument: str | None
    created: datetime
    revision: str
    sequence: int
    call_log_level: str | None = None
    labels: dict[str, str] | None = None
    state: str = "ACTIVE"
    ended: datetime | None = None
    result: str | None = None
    error: dict[str, str] | None = None

    def resource(self, view: str = "FULL") -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "createTime": _timestamp(self.created),
            "startTime": _timestamp(self.created),
            "state": self.state,
            "workflowRevisionId": self.revision,
        }
        if self.argument is not None:
            body["argument"] = self.argument
        if self.call_log_level:
            body["callLogLevel"] = self.call_log_level
        if self.labels:
            body["labels"] = self.labels
        if self.ended is not None:
            body["endTime"] = _timestamp(self.ended)
            body["duration"] = f"{(self.ended - self.created).total_seconds():.6f}s"
        if self.result is not None:
            body["result"] = self.result
        if self.error is not None:
            body["error"] = self.error
        if view == "BASIC":
            body = {key: value for key, value in body.items() if key in BASIC_FIELDS}
        return body


def error_of(run: LocalRun) -> dict[str, str]:
    """``Execution.error`` for a failed run: the workflow's error map as a JSON string, and a context."""
    assert run.error is not None
    error: WorkflowError = run.error
    return {
        "payload": json.dumps(error.as_value()),
        "context": f"RuntimeError: {error} (execution {run.execution_id}, local engine)",
    }


class Executions:
    """The executions this server knows about, and their runs."""

    def __init__(self, start: Start, revision: str) -> None:
        self.start = start
        self.revision = revision
        self.lock = threading.Lock()
        self.items: dict[str, Execution] = {}
        self.threads: list[threading.Thread] = []

    def create(self, parent: str, body: Any) -> Execution:
        if not isinstance(body, dict):
            raise ApiError(400, "INVALID_ARGUMENT", "the request body must be an Execution object")
        raw = body.get("argument")
        argument: Any = None
        if raw is not None and raw != "":
            if not isinstance(raw, str):
                raise ApiError(400, "INVALID_ARGUMENT", "'argument' must be a JSON string")
            try:
                argument = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ApiError(400, "INVALID_ARGUMENT", f"'argument' is not valid JSON: {exc}") from exc
        execution_id = str(uuid.uuid4())
        with self.lock:
            execution = Execution(
                name=f"{parent}/executions/{execution_id}",
                argument=raw or None,
                created=datetime.now(UTC),
                revision=self.revision,
                sequence=len(self.items),
                call_log_level=_set_enum(body.get("callLogLevel")),
                labels=body.get("labels"),
            )
            self.items[execution.name] = execution
        thread = threading.Thread(
            target=self._run, args=(execution, argument, execution_id), name=f"execution-{execution_id}"
        )
        thread.daemon = True
        self.threads.append(thread)
        thread.start()
        return execution

    def _run(self, execution: Execution, argument: Any, execution_id: str) -> None:
        try:
            run = self.start(argument, execution_id)
        except Exception as exc:  # the runner itself broke: a FAILED execution, as the service reports
            run = LocalRun(execution_id, error=WorkflowError(["SystemError"], f"{type(exc).__name__}: {exc}"))
        with self.lock:
            if execution.state != "ACTIVE":  # cancelled meanwhile: the late outcome is dropped
                return
            execution.ended = datetime.now(UTC)
            if run.error is not None:
                execution.state, execution.error = "FAILED", error_of(run)
            else:
                execution.state, execution.result = "SUCCEEDED", json.dumps(run.result)

    def get(self, name: str) -> Execution:
        with self.lock:
            execution = self.items.get(name)
        if execution is None:
            raise ApiError(404, "NOT_FOUND", f"Resource '{name}' was not found")
        return execution

    def page(self, parent: str, size: int, token: str) -> tuple[list[Execution], str | None]:
        with self.lock:
            mine = [item for item in self.items.values() if item.name.startswith(parent + "/executions/")]
        mine.sort(key=lambda item: (item.created, item.sequence), reverse=True)
        offset = _decode_token(token) if token else 0
        chunk = mine[offset : offset + size]
        more = offset + size < len(mine)
        return chunk, _encode_token(offset + size) if more else None

    def cancel(self, name: str) -> Execution:
        execution = self.get(name)
        with self.lock:
            if execution.state != "ACTIVE":
                raise ApiError(
                    400, "FAILED_PRECONDITION", f"execution '{name}' is {execution.state}, not active"
                )
            execution.state, execution.ended = "CANCELLED", datetime.now(UTC)
        return execution


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str) -> int:
    try:
        kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset" and number.isdigit():
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError(400, "INVALID_ARGUMENT", "invalid page token")


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: gcloud polls
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        try:
            status, body = self._route(method, url.path, query)
        except ApiError as exc:
            status, body = exc.code, exc.body()
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            raise ApiError(400, "INVALID_ARGUMENT", f"Invalid JSON payload received: {exc}") from exc

    def _route(self, method: str, path: str, query: dict[str, str]) -> tuple[int, Any]:
        executions = self.server.executions
        for verb, pattern, action in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None or verb != method:
                continue
            parent = match.group(1)
            if parent.rsplit("/", 1)[-1] != WORKFLOW:
                raise ApiError(404, "NOT_FOUND", f"Resource '{parent}' was not found")
            if action == "create":
                return 200, executions.create(parent, self._body()).resource()
            if action == "list":
                view = query.get("view", "BASIC")
                if view not in ("BASIC", "FULL", "EXECUTION_VIEW_UNSPECIFIED"):
                    raise ApiError(400, "INVALID_ARGUMENT", f"invalid view {view!r}")
                view = "FULL" if view == "FULL" else "BASIC"
                size = _page_size(query.get("pageSize"), 100 if view == "FULL" else 1000)
                items, token = executions.page(parent, size, query.get("pageToken", ""))
                listing: dict[str, Any] = {"executions": [item.resource(view) for item in items]}
                if token:
                    listing["nextPageToken"] = token
                return 200, listing
            name = f"{parent}/executions/{match.group(2)}"
            if action == "cancel":
                self._body()
                return 200, executions.cancel(name).resource()
            return 200, executions.get(name).resource(query.get("view", "FULL"))
        raise ApiError(404, "NOT_FOUND", f"no such method: {method} {path}")


def _page_size(raw: str | None, most: int) -> int:
    if raw is None or raw == "" or raw == "0":
        return 100
    if not raw.isdigit():
        raise ApiError(400, "INVALID_ARGUMENT", f"invalid pageSize {raw!r}")
    return min(int(raw), most)


class _HttpServer(LoopbackHTTPServer):
    def __init__(self, port: int, executions: Executions) -> None:
        self.executions = executions
        super().__init__(("127.0.0.1", port), _Handler)


class ExecutionsServer:
    """The Executions API on ``127.0.0.1:port`` (0 picks a free port); ``with`` starts and stops it."""

    def __init__(self, start: Start, port: int = 0, *, revision: str | None = None) -> None:
        self.executions = Executions(start, revision or revision_id())
        self._http = _HttpServer(port, self.executions)
        self._serving = ServingThread(self._http, "executions-api")

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> ExecutionsServer:
        self._serving.start()
        return self

    def stop(self) -> None:
        self._serving.stop()

    def __enter__(self) -> ExecutionsServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def _set_enum(value: Any) -> str | None:
    """An enum field as proto3 JSON shows it: the ``*_UNSPECIFIED`` default is left out."""
    return value if isinstance(value, str) and not value.endswith("_UNSPECIFIED") else None
