"""``factory solve-linear-ticket --cloud``: start the deployed workflow and follow it to the end.

``ExecutionsClient`` is a small client of the Workflows Executions v1 REST API (create, get, cancel) over
an injected ``httpx.Client``. Google's shapes (cloud.google.com/workflows/docs/reference/executions/rest/v1):

- ``POST /v1/{parent=projects/*/locations/*/workflows/*}/executions``, body an Execution whose
  ``argument`` is a JSON *string*; ``GET /v1/{name}``; ``POST /v1/{name}:cancel`` with an empty message;
- an Execution is a JSON object: ``name``, ``state`` (QUEUED and ACTIVE before one of SUCCEEDED, FAILED,
  CANCELLED, UNAVAILABLE), ``result`` (a JSON string), ``error {payload, context}``,
  ``status.currentSteps[] {routine, step}``;
- errors come as ``{"error": {"code", "message", "status"}}``; they become ``CloudError``.

On Google's API the requests carry ``google.auth.default`` credentials as a bearer token; with
``--endpoint`` (``factory serve``, the tests' fake) they carry none.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from contextlib import ExitStack
from typing import Any, Protocol

import google.auth
import httpx
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request

from jobs.errors import ServiceError
from jobs.phases.registry import JOBS

GOOGLE_ENDPOINT = "https://workflowexecutions.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
INTERRUPTED = 130
# QUEUED (backlogged under the concurrency quota) and ACTIVE executions are still going; any other
# state but these four could be one Google adds later, so the loop keeps following it.
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "UNAVAILABLE"})
MAX_MESSAGE = 500


class CloudError(ServiceError):
    """The Executions API answered with an error (retryable when it is a 429 or a 5xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__("workflowexecutions", status, message)


class Credentials(Protocol):
    """What ``GoogleAuth`` needs of ``google.auth`` credentials (so tests can pass their own)."""

    @property
    def token(self) -> str | None: ...

    @property
    def valid(self) -> bool: ...

    def refresh(self, request: Any) -> None: ...


class GoogleAuth(httpx.Auth):
    """``Authorization: Bearer`` from Google credentials, refreshed when missing or expired."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._credentials.valid:
            try:
                self._credentials.refresh(Request())
            except RefreshError as exc:  # an expired gcloud login: one clear line, not a traceback
                raise CloudError(401, f"Google credentials could not be refreshed: {exc}") from exc
        request.headers["Authorization"] = f"Bearer {self._credentials.token}"
        yield request


class ExecutionsClient:
    """Executions v1 over ``http``: each method returns the Execution resource as Google's JSON."""

    def __init__(self, http: httpx.Client, endpoint: str = GOOGLE_ENDPOINT, auth: httpx.Auth | None = None):
        endpoint = endpoint.rstrip("/")
        self._base = endpoint if "://" in endpoint else f"https://{endpoint}"
        self._http = http
        # auth=None sends no credentials at all, even when the injected client has an auth of its own.
        self._auth = auth

    def create(self, parent: str, argument: str) -> dict[str, Any]:
        return self._call("POST", f"{parent}/executions", {"argument": argument})

    def get(self, name: str) -> dict[str, Any]:
        return self._call("GET", name)

    def cancel(self, name: str) -> dict[str, Any]:
        return self._call("POST", f"{name}:cancel", {})

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._http.request(method, f"{self._base}/v1/{path}", json=body, auth=self._auth)
        try:
            answer: Any = response.json()
        except ValueError:
            answer = None
        if response.is_error:
            error = answer.get("error") if isinstance(answer, dict) else None
            if isinstance(error, dict) and error.get("message"):
                message = f"{error.get('status') or response.reason_phrase}: {error['message']}"
            else:  # not Google's error JSON (a proxy, a wrong --endpoint): what it said, shortened
                message = response.text[:MAX_MESSAGE] or response.reason_phrase
            raise CloudError(response.status_code, message)
        if not isinstance(answer, dict):
            raise CloudError(
                response.status_code, f"expected an Execution, got {response.text[:MAX_MESSAGE]!r}"
            )
        return answer


def _state(execution: dict[str, Any]) -> str:
    return str(execution.get("state") or "STATE_UNSPECIFIED")


def _steps(execution: dict[str, Any]) -> str:
    steps = (execution.get("status") or {}).get("currentSteps") or []
    return " > ".join(f"{step.get('routine', '')}.{step.get('step', '')}" for step in steps)


def summarize(execution: dict[str, Any]) -> list[str]:
    """The final lines: the state, then the verdicts and the PR, or the error's message."""
    state = _state(execution)
    lines = [f"execution {execution.get('name', '')}: {state}"]
    if state == "SUCCEEDED":
        raw = execution.get("result") or ""
        try:
            result: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            result = raw
        if not isinstance(result, dict):
            return [*lines, f"  result: {result!r}"]
        for phase in JOBS["solve-linear-ticket"]:
            lines.append(f"  {phase}: {result.get(phase, 'not run')}")
        lines.append(f"  pull request: {result.get('pull_request') or 'none'}")
    elif state == "FAILED":
        failure = execution.get("error") or {}
        payload = failure.get("payload") or ""
        try:
            error: Any = json.loads(payload)
        except json.JSONDecodeError:
            error = payload
        message = error.get("message", payload) if isinstance(error, dict) else payload
        lines.append(f"  error: {message or failure.get('context', '')}")
    return lines


def start_and_follow(
    ticket: str,
    project: str,
    region: str,
    workflow: str = "factory",
    *,
    endpoint: str | None = None,
    client: httpx.Client | None = None,
    poll_seconds: float = 2,
    say: Callable[[str], None] = print,
) -> int:
    """Start ``workflow`` for ``ticket``, report each state or step change, and return the exit code:
    0 when it SUCCEEDED, 1 otherwise, 130 when interrupted (the execution is then cancelled)."""
    auth: httpx.Auth | None = None
    if endpoint is None:
        credentials, _ = google.auth.default(scopes=SCOPES)
        auth = GoogleAuth(credentials)
    with ExitStack() as owned:  # an injected client belongs to the caller; ours is closed here
        http = client if client is not None else owned.enter_context(httpx.Client(timeout=30))
        executions = ExecutionsClient(http, endpoint or GOOGLE_ENDPOINT, auth)
        parent = f"projects/{project}/locations/{region}/workflows/{workflow}"
        argument = json.dumps({"job": "solve-linear-ticket", "ticket": ticket})
        execution = executions.create(parent, argument)
        name = str(execution.get("name", ""))
        say(f"started {name}")
        seen = ("", "")
        try:
            while True:
                now = (_state(execution), _steps(execution))
                if now != seen:
                    say(f"  {now[0].lower()}" + (f": {now[1]}" if now[1] else ""))
                    seen = now
                if now[0] in FINAL_STATES:
                    break
                time.sleep(poll_seconds)
                execution = executions.get(name)
        except KeyboardInterrupt:
            say(f"interrupted: cancelling {name}")
            try:
                executions.cancel(name)
            except (CloudError, httpx.HTTPError) as exc:
                say(f"  cancel failed: {exc}")
            return INTERRUPTED
    for line in summarize(execution):
        say(line)
    return 0 if now[0] == "SUCCEEDED" else 1
