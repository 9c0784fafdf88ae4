"""The executions and their runs, and ``ExecutionsServer``: the HTTP server that answers for them.

It routes Google's four calls (create, get, list, cancel; see the package docstring) for the workflow
``factory``. Every request gets an answer: an ``ApiError`` in Google's error JSON, and what fails
unexpectedly a 500 ``INTERNAL`` in the same shape, not a dropped connection.

Cancellation is best-effort: the local engine cannot stop a running step, so the execution is marked
CANCELLED at once (and stays so) while the job already running finishes in the background; its result
is dropped. Only the workflow ``factory`` exists (any project and location are accepted); other names
get Google's 404 error JSON.

What runs an execution is injected: ``start(argument, execution_id) -> LocalRun``; ``factory serve``
passes ``run_workflow`` on orchestration/factory.yaml, tests pass a fast fake.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jobs.serving import LoopbackHTTPServer, LoopbackService
from orchestration.engine.errors import WorkflowError
from orchestration.local.executions.arguments import check_labels, parse_argument, parse_body
from orchestration.local.executions.listing import Listing, _encode_token, _view, ordered
from orchestration.local.executions.model import (
    MAX_BODY,
    WORKFLOW,
    ApiError,
    Execution,
    cancelled_error,
    error_of,
    invalid,
    revision_id,
)
from orchestration.local.run import LocalRun

Start = Callable[[Any, str], LocalRun]

log = logging.getLogger("orchestration.local.executions")

_PARENT = r"/v1/(projects/[^/]+/locations/[^/]+/workflows/[^/:]+)"
_ROUTES = (
    ("POST", re.compile(_PARENT + r"/executions"), "create"),
    ("GET", re.compile(_PARENT + r"/executions"), "list"),
    ("GET", re.compile(_PARENT + r"/executions/([^/:]+)"), "get"),
    ("POST", re.compile(_PARENT + r"/executions/([^/:]+):cancel"), "cancel"),
)


# --- the executions --------------------------------------------------------------------------------


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
            raise invalid("the request body must be an Execution object")
        raw = body.get("argument")
        argument: Any = None
        if raw is not None and raw != "":
            if not isinstance(raw, str):
                raise invalid("'argument' must be a JSON string")
            argument = parse_argument(raw)
        execution_id = str(uuid.uuid4())
        with self.lock:
            execution = Execution(
                name=f"{parent}/executions/{execution_id}",
                argument=raw or None,
                created=datetime.now(UTC),
                revision=self.revision,
                sequence=len(self.items),
                call_log_level=_set_enum(body.get("callLogLevel")),
                labels=check_labels(body.get("labels")),
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

    def page(self, parent: str, listing: Listing) -> tuple[list[Execution], str | None]:
        """One page of ``parent``'s executions that ``listing`` keeps, in its order."""
        with self.lock:
            mine = [item for item in self.items.values() if item.name.startswith(parent + "/executions/")]
        kept = ordered([item for item in mine if listing.keep(item)], listing.order)
        end = listing.offset + listing.size
        more = end < len(kept)
        return kept[listing.offset : end], _encode_token(end, listing.fingerprint) if more else None

    def cancel(self, name: str) -> Execution:
        execution = self.get(name)
        with self.lock:
            if execution.state != "ACTIVE":
                raise ApiError(
                    400, "FAILED_PRECONDITION", f"execution '{name}' is {execution.state}, not active"
                )
            execution.state, execution.ended = "CANCELLED", datetime.now(UTC)
            execution.error = cancelled_error(execution.execution_id)
        return execution


# --- HTTP -------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    # A client that stops sending mid-body is dropped after this long rather than holding a thread.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # quiet: gcloud polls
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        """Route the request and always answer it: an ApiError in Google's shape, anything unexpected as
        a 500 ``INTERNAL`` in the same shape (a client must never wait on a dropped connection)."""
        try:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            status, body = self._route(method, url.path, query)
        except ApiError as exc:
            status, body = exc.code, exc.body()
        except Exception as exc:
            log.exception("executions API: %s %s failed", method, self.path)
            status, body = 500, ApiError(500, "INTERNAL", f"{type(exc).__name__}: {exc}").body()
        self._answer(status, body)

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        """The request body as JSON. Over ``MAX_BODY`` it is read and dropped in chunks (so the client,
        still sending, gets the answer rather than a reset) and refused."""
        header = (self.headers.get("Content-Length") or "0").strip()
        if not header.isdigit():
            raise invalid(f"invalid Content-Length {header!r}")
        length = int(header)
        if length > MAX_BODY:
            self._discard(length)
            raise invalid(
                f"the request body is {length} bytes; the local Executions API reads at most {MAX_BODY}"
                f" (an execution's argument is limited to 32KB)"
            )
        return parse_body(self.rfile.read(length) if length else b"")

    def _discard(self, length: int) -> None:
        while length > 0 and (chunk := self.rfile.read(min(length, 64 * 1024))):
            length -= len(chunk)

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
                return 200, self._list(parent, query)
            name = f"{parent}/executions/{match.group(2)}"
            if action == "cancel":
                self._body()
                return 200, executions.cancel(name).resource()
            return 200, executions.get(name).resource(_view(query, "FULL"))
        raise ApiError(404, "NOT_FOUND", f"no such method: {method} {path}")

    def _list(self, parent: str, query: dict[str, str]) -> dict[str, Any]:
        view = _view(query, "BASIC")
        items, token = self.server.executions.page(parent, Listing.of(query, view))
        listing: dict[str, Any] = {"executions": [item.resource(view) for item in items]}
        if token:
            listing["nextPageToken"] = token
        return listing


class _HttpServer(LoopbackHTTPServer):
    def __init__(self, port: int, executions: Executions) -> None:
        self.executions = executions
        super().__init__(("127.0.0.1", port), _Handler)


class ExecutionsServer(LoopbackService):
    """The Executions API on ``127.0.0.1:port`` (0 picks a free port); ``with`` starts and stops it."""

    def __init__(self, start: Start, port: int = 0, *, revision: str | None = None) -> None:
        self.executions = Executions(start, revision or revision_id())
        super().__init__(_HttpServer(port, self.executions), "executions-api")

    @property
    def base_url(self) -> str:
        return f"{self.url}/"


def _set_enum(value: Any) -> str | None:
    """An enum field as proto3 JSON shows it: the ``*_UNSPECIFIED`` default is left out."""
    return value if isinstance(value, str) and not value.endswith("_UNSPECIFIED") else None
