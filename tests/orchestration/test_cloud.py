"""``--cloud``: our Executions v1 REST client, against the local Executions server or a MockTransport.

The server runs a fake ``start`` (a canned run after a short delay), so create, get and cancel go over
real HTTP to Google's v1 REST shapes. What the server cannot show (QUEUED, Google's auth, Google's own
error bodies) is answered by an ``httpx.MockTransport`` in the shapes of Google's reference pages.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import google.auth
import httpx
import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.cloud import INTERRUPTED, CloudError, ExecutionsClient, start_and_follow
from orchestration.engine.errors import WorkflowError
from orchestration.local.executions import ExecutionsServer
from tests.fakes.executions import FakeStart, serving

PR = "https://github.com/acme/shop/pull/7"
RESULT = {"run_id": "r", "implement": "done", "review": "passed", "pull_request": PR, "e2e": "verified"}
PARENT = "projects/p/locations/r/workflows/factory"
NAME = f"{PARENT}/executions/0b5a6f8e-0000-4000-8000-000000000001"


def kind(argument: Any) -> str:
    """Tickets ``FAIL-*`` fail their implement phase, ``HOLD-*`` wait for release, others succeed."""
    ticket = str(argument["ticket"])
    return "fail" if ticket.startswith("FAIL-") else "hold" if ticket.startswith("HOLD-") else "ok"


@pytest.fixture
def fake() -> FakeStart:
    error = WorkflowError(["PhaseFailed"], "implement ended failed: tests did not pass")
    return FakeStart(kind, lambda execution_id: {**RESULT, "run_id": execution_id}, error, delay=0.15)


@pytest.fixture
def server(fake: FakeStart) -> Iterator[ExecutionsServer]:
    with serving(fake) as running:
        yield running


def follow(server: ExecutionsServer, ticket: str, **kwargs: Any) -> tuple[int, list[str]]:
    lines: list[str] = []
    say = kwargs.pop("say", lines.append)
    code = start_and_follow(
        ticket, "local", "local", endpoint=server.base_url, poll_seconds=0.02, say=say, **kwargs
    )
    return code, lines


def mock_client(answers: list[tuple[int, dict[str, Any]]], seen: list[httpx.Request]) -> httpx.Client:
    """A client whose requests get ``answers`` in turn (status, JSON body) and are kept in ``seen``."""
    queue = iter(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = next(queue)
        return httpx.Response(status, json=body)

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_succeeded_prints_the_verdicts_and_the_pull_request(server: ExecutionsServer) -> None:
    code, lines = follow(server, "IX-1")
    assert code == 0
    assert lines[0].startswith("started projects/local/locations/local/workflows/factory/executions/")
    assert lines[1:3] == ["  active", "  succeeded"]
    assert lines[3].endswith(": SUCCEEDED")
    assert lines[4:] == ["  implement: done", "  review: passed", "  e2e: verified", f"  pull request: {PR}"]


def test_failed_prints_the_error_message(server: ExecutionsServer) -> None:
    code, lines = follow(server, "FAIL-1")
    assert code == 1
    assert "  failed" in lines and lines[-2].endswith(": FAILED")
    assert lines[-1] == "  error: implement ended failed: tests did not pass"


def test_the_request_is_google_rest_with_a_json_string_argument_and_no_credentials(
    server: ExecutionsServer, fake: FakeStart
) -> None:
    sent: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [sent.append]}) as http:
        assert follow(server, "IX-2", client=http)[0] == 0
    create = sent[0]
    assert create.method == "POST"
    assert create.url.path == "/v1/projects/local/locations/local/workflows/factory/executions"
    argument = json.dumps({"job": "solve-linear-ticket", "ticket": "IX-2"})
    assert json.loads(create.content) == {"argument": argument}
    assert all(request.method == "GET" for request in sent[1:]) and len(sent) > 1
    # --endpoint is our own server: nothing of the user's Google login goes there.
    assert not any("authorization" in request.headers for request in sent)
    [execution] = server.executions.items.values()
    assert execution.argument == argument
    assert [argument for argument, _ in fake.calls] == [{"job": "solve-linear-ticket", "ticket": "IX-2"}]


def test_ctrl_c_cancels_the_execution(server: ExecutionsServer) -> None:
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if line == "  active":
            raise KeyboardInterrupt

    code, _ = follow(server, "HOLD-1", say=say)
    assert code == INTERRUPTED and lines[-1].startswith("interrupted: cancelling ")
    [execution] = server.executions.items.values()
    assert execution.state == "CANCELLED"


def test_unknown_execution_is_googles_not_found(server: ExecutionsServer) -> None:
    with httpx.Client() as http:
        client = ExecutionsClient(http, server.base_url)
        with pytest.raises(CloudError) as raised:
            client.get("projects/local/locations/local/workflows/factory/executions/nope")
    assert raised.value.status == 404 and not raised.value.retryable
    assert "HTTP 404: NOT_FOUND: Resource " in str(raised.value) and "was not found" in str(raised.value)


def test_a_queued_execution_is_followed_until_it_ends() -> None:
    """QUEUED is not an end: Executions v1 backlogs an execution over the concurrency quota as QUEUED
    ("Request has been placed in the backlog for processing at a later time"), later ACTIVE. Shapes from
    https://cloud.google.com/workflows/docs/reference/executions/rest/v1/projects.locations.workflows.executions
    (Execution: name, state, argument, result as a JSON string, status.currentSteps[] {routine, step})."""
    argument = json.dumps({"job": "solve-linear-ticket", "ticket": "IX-3"})
    queued = {"name": NAME, "state": "QUEUED", "argument": argument, "workflowRevisionId": "000001-a4d"}
    active = {
        **queued,
        "state": "ACTIVE",
        "status": {"currentSteps": [{"routine": "main", "step": "implement"}]},
    }
    done = {**active, "state": "SUCCEEDED", "result": json.dumps(RESULT), "endTime": "2025-01-01T00:05:00Z"}
    seen: list[httpx.Request] = []
    lines: list[str] = []
    with mock_client([(200, queued), (200, queued), (200, active), (200, done)], seen) as http:
        code = start_and_follow(
            "IX-3",
            "p",
            "r",
            endpoint="https://executions.test",
            client=http,
            poll_seconds=0,
            say=lines.append,
        )
    assert code == 0
    assert [(request.method, request.url.path) for request in seen] == [
        ("POST", f"/v1/{PARENT}/executions"),
        *[("GET", f"/v1/{NAME}")] * 3,
    ]
    assert lines[:4] == [
        f"started {NAME}",
        "  queued",
        "  active: main.implement",
        "  succeeded: main.implement",
    ]
    assert lines[4:] == [
        f"execution {NAME}: SUCCEEDED",
        "  implement: done",
        "  review: passed",
        "  e2e: verified",
        f"  pull request: {PR}",
    ]


def test_a_google_error_body_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Google's error JSON (cloud.google.com/apis/design/errors): the CLI prints its status and message."""
    message = f"Permission 'workflows.executions.create' denied on resource '{PARENT}' (or it may not exist)."
    denied = {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}}
    seen: list[httpx.Request] = []
    http = mock_client([(403, denied)], seen)
    monkeypatch.setattr(
        "orchestration.cli.start_and_follow", functools.partial(start_and_follow, client=http)
    )
    args = ["solve-linear-ticket", "--ticket", "IX-4", "--cloud", "--project", "p", "--region", "r"]
    result = CliRunner().invoke(app, [*args, "--endpoint", "https://executions.test"])
    http.close()
    assert result.exit_code == 1 and len(seen) == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"factory: --cloud: workflowexecutions: HTTP 403: PERMISSION_DENIED: {message}"
    ]


class FakeCredentials:
    """google.auth credentials as ``GoogleAuth`` uses them: no token until refreshed."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.refreshed = 0

    @property
    def valid(self) -> bool:
        return self.token is not None

    def refresh(self, request: Any) -> None:
        self.refreshed += 1
        self.token = "ya29.fake-access-token"


def test_default_credentials_send_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = FakeCredentials()
    asked: list[Any] = []

    def default(scopes: Any = None, **_: Any) -> tuple[FakeCredentials, str]:
        asked.append(scopes)
        return credentials, "p"

    monkeypatch.setattr(google.auth, "default", default)
    seen: list[httpx.Request] = []
    lines: list[str] = []
    answers = [(200, {"name": NAME, "state": "ACTIVE"}), (200, {"name": NAME, "state": "FAILED"})]
    with mock_client(answers, seen) as http:
        code = start_and_follow("IX-5", "p", "r", client=http, poll_seconds=0, say=lines.append)
    assert code == 1
    assert asked == [["https://www.googleapis.com/auth/cloud-platform"]]
    assert [str(request.url) for request in seen] == [
        f"https://workflowexecutions.googleapis.com/v1/{PARENT}/executions",
        f"https://workflowexecutions.googleapis.com/v1/{NAME}",
    ]
    assert [request.headers["authorization"] for request in seen] == ["Bearer ya29.fake-access-token"] * 2
    assert credentials.refreshed == 1  # refreshed when missing, then reused while valid
    assert not any("ya29" in line for line in lines)


def test_the_cli_cloud_option(server: ExecutionsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    fast: Callable[..., int] = functools.partial(start_and_follow, poll_seconds=0.02)
    monkeypatch.setattr("orchestration.cli.start_and_follow", fast)
    # No --repo: the deployed jobs have theirs from the deploy.
    args = ["solve-linear-ticket", "--ticket", "IX-1", "--cloud"]
    local = ["--project", "local", "--region", "local", "--endpoint", server.base_url.rstrip("/")]
    result = CliRunner().invoke(app, [*args, *local])
    assert result.exit_code == 0, result.output
    assert "  review: passed" in result.output and f"  pull request: {PR}" in result.output

    failed = CliRunner().invoke(app, [*args[:2], "FAIL-9", *args[3:], *local])
    assert failed.exit_code == 1 and "error: implement ended failed" in failed.output

    other = CliRunner().invoke(app, [*args, *local, "--workflow", "other"])
    assert other.exit_code == 1 and "was not found" in other.output


def test_the_cli_cloud_option_needs_a_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    result = CliRunner().invoke(app, ["solve-linear-ticket", "--ticket", "IX-1", "--repo", "x", "--cloud"])
    assert result.exit_code == 2 and "--project" in result.output


def test_running_the_chain_here_needs_a_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPO_URL", raising=False)
    result = CliRunner().invoke(app, ["solve-linear-ticket", "--ticket", "IX-1"])
    assert result.exit_code == 2 and "--repo" in result.output
