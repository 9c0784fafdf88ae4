"""``--cloud``: google-cloud-workflows' ExecutionsClient against the local Executions REST server.

The server runs a fake ``start`` (a canned run after a short delay), so the client's create, get and
cancel go over real HTTP to Google's v1 REST shapes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from google.api_core.exceptions import NotFound
from google.cloud.workflows.executions_v1 import ExecutionsClient
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.cloud import INTERRUPTED, RestTransport, executions_client, start_and_follow
from orchestration.engine.errors import WorkflowError
from orchestration.local.executions_api import ExecutionsServer
from tests.fakes.executions import FakeStart, serving

PR = "https://github.com/acme/shop/pull/7"
RESULT = {"run_id": "r", "implement": "done", "review": "passed", "pull_request": PR, "e2e": "verified"}


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


def test_the_request_goes_through_the_client_with_a_json_string_argument(
    server: ExecutionsServer, fake: FakeStart, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[Any] = []
    original = ExecutionsClient.create_execution

    def spy(self: ExecutionsClient, *args: Any, **kwargs: Any) -> Any:
        assert isinstance(self._transport, RestTransport)
        created.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ExecutionsClient, "create_execution", spy)
    assert follow(server, "IX-2")[0] == 0
    assert created[0]["parent"] == "projects/local/locations/local/workflows/factory"
    [execution] = server.executions.items.values()
    assert execution.argument == json.dumps({"job": "solve-linear-ticket", "ticket": "IX-2"})
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
    client = executions_client(server.base_url)
    with pytest.raises(NotFound):
        client.get_execution(name="projects/local/locations/local/workflows/factory/executions/nope")


def test_the_cli_cloud_option(server: ExecutionsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = functools.partial(start_and_follow, poll_seconds=0.02)
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
