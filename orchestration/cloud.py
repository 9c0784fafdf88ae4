"""``factory solve-linear-ticket --cloud``: start the deployed workflow and follow it to the end.

The calls go through google-cloud-workflows' ``ExecutionsClient``. Its ``executions_v1`` package ships
gRPC transports only (no ``transport="rest"``), so ``RestTransport`` below speaks the Executions v1
REST API (create, get, cancel; not list) for it: Google's ``workflowexecutions.googleapis.com`` with
``google.auth.default`` credentials, or ``--endpoint`` (``factory serve``, the tests' fake) with
anonymous ones. Requests and responses are the client's own proto messages in proto3 JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import google.auth
from google.api_core import exceptions as core_exceptions
from google.api_core import gapic_v1
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud.workflows.executions_v1 import (
    CancelExecutionRequest,
    CreateExecutionRequest,
    Execution,
    ExecutionsClient,
    GetExecutionRequest,
)
from google.cloud.workflows.executions_v1.services.executions.transports import ExecutionsTransport

GOOGLE_ENDPOINT = "https://workflowexecutions.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
INTERRUPTED = 130


class RestTransport(ExecutionsTransport):
    """The Executions v1 REST API as an ``ExecutionsClient`` transport (create, get, cancel)."""

    def __init__(self, endpoint: str, credentials: Credentials) -> None:
        self._base = endpoint.rstrip("/") if "://" in endpoint else f"https://{endpoint.rstrip('/')}"
        super().__init__(host=self._base, credentials=credentials, scopes=SCOPES)
        self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        self._prep_wrapped_messages(gapic_v1.client_info.DEFAULT_CLIENT_INFO)  # type: ignore[no-untyped-call]

    @property
    def kind(self) -> str:
        return "rest"

    def close(self) -> None:
        self._session.close()  # type: ignore[no-untyped-call]

    def _call(self, method: str, path: str, timeout: float | None, body: str | None = None) -> Execution:
        response = self._session.request(  # type: ignore[no-untyped-call]
            method,
            f"{self._base}/v1/{path}",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=timeout if isinstance(timeout, int | float) else 30,
        )
        if response.status_code >= 400:
            raise core_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
        execution: Execution = Execution.from_json(response.content, ignore_unknown_fields=True)
        return execution

    def _create(self, request: CreateExecutionRequest, timeout: float | None = None, **_: Any) -> Execution:
        body = Execution.to_json(request.execution, use_integers_for_enums=False)
        return self._call("POST", f"{request.parent}/executions", timeout, body)

    def _get(self, request: GetExecutionRequest, timeout: float | None = None, **_: Any) -> Execution:
        return self._call("GET", request.name, timeout)

    def _cancel(self, request: CancelExecutionRequest, timeout: float | None = None, **_: Any) -> Execution:
        return self._call("POST", f"{request.name}:cancel", timeout, "{}")

    def _unsupported(self, *_: Any, **__: Any) -> Any:
        raise NotImplementedError("only create, get and cancel are needed by --cloud")

    @property
    def list_executions(self) -> Callable[..., Any]:
        return self._unsupported

    @property
    def create_execution(self) -> Callable[..., Execution]:
        return self._create

    @property
    def get_execution(self) -> Callable[..., Execution]:
        return self._get

    @property
    def cancel_execution(self) -> Callable[..., Execution]:
        return self._cancel


def executions_client(
    endpoint: str | None = None, credentials: Credentials | None = None
) -> ExecutionsClient:
    """A client on ``endpoint`` (anonymous) or on Google's API (``google.auth.default`` credentials)."""
    if credentials is None:
        if endpoint is not None:
            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        else:
            credentials, _ = google.auth.default(scopes=SCOPES)
    return ExecutionsClient(transport=RestTransport(endpoint or GOOGLE_ENDPOINT, credentials))


def _state(execution: Execution) -> str:
    return str(Execution.State(execution.state).name)


def _steps(execution: Execution) -> str:
    steps: Sequence[Any] = execution.status.current_steps if "status" in execution else []
    return " > ".join(f"{step.routine}.{step.step}" for step in steps)


def summarize(execution: Execution) -> list[str]:
    """The final lines: the state, then the verdicts and the PR, or the error's message."""
    state = _state(execution)
    lines = [f"execution {execution.name}: {state}"]
    if state == "SUCCEEDED":
        try:
            result: Any = json.loads(execution.result) if execution.result else None
        except json.JSONDecodeError:
            result = execution.result
        if not isinstance(result, dict):
            return [*lines, f"  result: {result!r}"]
        for phase in ("implement", "review", "e2e"):
            lines.append(f"  {phase}: {result.get(phase, 'not run')}")
        lines.append(f"  pull request: {result.get('pull_request') or 'none'}")
    elif state == "FAILED":
        payload = execution.error.payload
        try:
            error: Any = json.loads(payload)
        except json.JSONDecodeError:
            error = payload
        message = error.get("message", payload) if isinstance(error, dict) else payload
        lines.append(f"  error: {message or execution.error.context}")
    return lines


def start_and_follow(
    ticket: str,
    project: str,
    region: str,
    workflow: str = "factory",
    *,
    endpoint: str | None = None,
    credentials: Credentials | None = None,
    poll_seconds: float = 2,
    say: Callable[[str], None] = print,
) -> int:
    """Start ``workflow`` for ``ticket``, report each state or step change, and return the exit code:
    0 when it SUCCEEDED, 1 otherwise, 130 when interrupted (the execution is then cancelled)."""
    client = executions_client(endpoint, credentials)
    parent = client.workflow_path(project, region, workflow)
    argument = json.dumps({"job": "solve-linear-ticket", "ticket": ticket})
    execution = client.create_execution(parent=parent, execution=Execution(argument=argument))
    say(f"started {execution.name}")
    seen = ("", "")
    try:
        while True:
            now = (_state(execution), _steps(execution))
            if now != seen:
                say(f"  {now[0].lower()}" + (f": {now[1]}" if now[1] else ""))
                seen = now
            if now[0] != "ACTIVE":
                break
            time.sleep(poll_seconds)
            execution = client.get_execution(name=execution.name)
    except KeyboardInterrupt:
        say(f"interrupted: cancelling {execution.name}")
        try:
            client.cancel_execution(name=execution.name)
        except core_exceptions.GoogleAPICallError as exc:
            say(f"  cancel failed: {exc.message}")
        return INTERRUPTED
    for line in summarize(execution):
        say(line)
    return 0 if now[0] == "SUCCEEDED" else 1
