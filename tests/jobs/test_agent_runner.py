"""The agent runner against the real Claude Code CLI (offline model) and against misbehaving stand-ins."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from jobs.agent import AgentRequest, AgentRunner, AgentStatus
from jobs.agent.stream import classify
from tests.conftest import TESTS, git, processes_matching

FAKE_CLI = [sys.executable, str(TESTS / "fake_cli.py")]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = tmp_path / "repo"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    return work


def request(repo: Path, ticket: str, **kw: object) -> AgentRequest:
    prompt = f"Phase: test\nTicket: {ticket}\nRepository root: {repo}\n"
    return AgentRequest(prompt=prompt, cwd=repo, **kw)  # type: ignore[arg-type]


def test_real_cli_edits_the_repo_and_reports_usage(repo: Path, model_auth: dict[str, str]) -> None:
    outcome = AgentRunner(model_auth=model_auth).run(request(repo, "RUN-WRITE", max_duration_seconds=60))
    assert outcome.status is AgentStatus.SUCCESS, outcome.detail
    assert (repo / "note.txt").read_text() == "written by the agent\n"
    assert outcome.turns == 2
    assert outcome.usage.input_tokens > 0 and outcome.usage.output_tokens > 0


def test_c1_wall_clock_kills_the_whole_tree(repo: Path, model_auth: dict[str, str]) -> None:
    runner = AgentRunner(model_auth=model_auth, grace_seconds=1.0)
    outcome = runner.run(request(repo, "RUN-HANG", max_duration_seconds=3))
    assert outcome.status is AgentStatus.TIMED_OUT
    assert runner.last_overshoot is not None and runner.last_overshoot <= 1.0 + 1.0
    time.sleep(0.2)
    assert processes_matching("factory-c1-") == []


def test_c1_stand_in_ignoring_sigterm_is_killed(repo: Path) -> None:
    runner = AgentRunner(model_auth={}, grace_seconds=0.5, cli=[*FAKE_CLI, "ignore-term"])
    started = time.monotonic()
    outcome = runner.run(request(repo, "X-1", max_duration_seconds=1))
    assert outcome.status is AgentStatus.TIMED_OUT
    assert time.monotonic() - started < 1 + 0.5 + 1.5
    assert processes_matching("fake_cli.py ignore-term") == []


@pytest.mark.parametrize("mode", ["result-then-hang", "reads-stdin"])
def test_c2_no_hang(repo: Path, mode: str) -> None:
    runner = AgentRunner(model_auth={}, grace_seconds=0.5, cli=[*FAKE_CLI, mode])
    started = time.monotonic()
    outcome = runner.run(request(repo, "X-1", max_duration_seconds=60))
    assert time.monotonic() - started < 5
    assert outcome.status is AgentStatus.SUCCESS
    assert processes_matching(f"fake_cli.py {mode}") == []


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        ("error-as-success", AgentStatus.ERROR),
        ("no-result", AgentStatus.NO_RESULT),
        ("turns-forever", AgentStatus.MAX_TURNS),
    ],
)
def test_c3_failures_are_failures(repo: Path, mode: str, status: AgentStatus) -> None:
    runner = AgentRunner(model_auth={}, grace_seconds=0.5, cli=[*FAKE_CLI, mode])
    outcome = runner.run(request(repo, "X-1", max_turns=5, max_duration_seconds=30))
    assert outcome.status is status
    assert not outcome.status.ok


def test_c3_real_cli_turn_cap(repo: Path, model_auth: dict[str, str]) -> None:
    outcome = AgentRunner(model_auth=model_auth).run(
        request(repo, "RUN-TURNS", max_turns=2, max_duration_seconds=60)
    )
    assert outcome.status is AgentStatus.MAX_TURNS, outcome.detail


@pytest.mark.parametrize(
    "result",
    [
        None,
        {"type": "result", "subtype": "success", "is_error": True},
        {"type": "result", "subtype": "success"},
        {"type": "result", "subtype": "success", "is_error": "false"},
        {"type": "result", "subtype": "error_during_execution", "is_error": False},
        {"type": "result", "subtype": "error_max_turns", "is_error": True},
        {"type": "result", "subtype": "weird", "is_error": False},
    ],
)
def test_classify_never_calls_a_failure_success(result: dict[str, object] | None) -> None:
    assert classify(result)[0] is not AgentStatus.SUCCESS


def test_classify_success() -> None:
    assert classify({"type": "result", "subtype": "success", "is_error": False})[0] is AgentStatus.SUCCESS


def test_e2_agent_sees_only_model_auth(repo: Path, model_auth: dict[str, str]) -> None:
    parent = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "GITHUB_TOKEN": "ghp_canaryCANARYcanaryCANARYcanary0001",
        "LINEAR_API_KEY": "lin_api_canaryCANARYcanaryCANARY0002",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/canary0003",
        "AWS_SECRET_ACCESS_KEY": "canary-aws-0004",
        "GOOGLE_APPLICATION_CREDENTIALS": "/secret/canary-0005.json",
    }
    outcome = AgentRunner(model_auth=model_auth, parent_env=parent).run(
        request(repo, "RUN-ENV", max_duration_seconds=60)
    )
    assert outcome.status is AgentStatus.SUCCESS, outcome.detail
    seen = json.loads((repo / "seen-env.json").read_text())
    assert not {k for k in seen if k in parent and k != "PATH"}
    assert "canary" not in json.dumps(seen)
    assert seen["ANTHROPIC_API_KEY"] == model_auth["ANTHROPIC_API_KEY"]


def test_policy_denies_publishing_and_network(repo: Path, model_auth: dict[str, str], tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git("init", "-q", "--bare", str(bare))
    git("remote", "add", "origin", str(bare), cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", "x", cwd=repo)
    lines: list[str] = []
    outcome = AgentRunner(model_auth=model_auth).run(
        request(repo, "RUN-DENIED", max_duration_seconds=60), lines.append
    )
    assert outcome.status is AgentStatus.SUCCESS, outcome.detail
    assert outcome.permission_denials == 2  # git push, curl
    results = [
        block
        for line in lines
        if (event := json.loads(line)).get("type") == "user"
        for block in event["message"]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert len(results) == 3 and all(r.get("is_error") for r in results)  # WebFetch is not even a tool
    assert git("--git-dir", str(bare), "for-each-ref") == ""


def test_e1_no_secret_in_the_agent_argv(repo: Path) -> None:
    canary = "ghp_canaryARGVcanaryARGVcanaryARGV000001"
    parent = {"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": canary}
    runner = AgentRunner(
        model_auth={"ANTHROPIC_API_KEY": "sk-ant-canary-model-key-000000"},
        parent_env=parent,
        cli=[*FAKE_CLI, "argv"],
    )
    outcome = runner.run(request(repo, "X-1", max_duration_seconds=30))
    argv = json.loads(outcome.result_text or "[]")
    assert "--setting-sources" in argv and argv[-2] == "--"
    assert not [a for a in argv if canary in a or "sk-ant-canary" in a]


def test_c3_the_first_result_stands() -> None:
    from jobs.agent.stream import StreamTally

    tally = StreamTally()
    tally.add({"type": "result", "subtype": "error_during_execution", "is_error": True})
    tally.add({"type": "result", "subtype": "success", "is_error": False})
    assert classify(tally.result)[0] is AgentStatus.ERROR
