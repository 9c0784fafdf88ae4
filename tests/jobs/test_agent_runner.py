"""The agent runner against the real Claude Code CLI (offline model) and against misbehaving stand-ins."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jobs.agent import AgentRequest, AgentRunner, AgentStatus
from jobs.agent.cli import bundled_cli, write_prompt
from jobs.agent.stream import classify
from orchestration.local.offline_model import OfflineModelServer
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


def test_real_cli_edits_the_repo_and_reports_usage(
    repo: Path, model_auth: dict[str, str], offline_model: OfflineModelServer
) -> None:
    asked = len(offline_model.requests)
    outcome = AgentRunner(model_auth=model_auth).run(request(repo, "RUN-WRITE", max_duration_seconds=60))
    assert outcome.status is AgentStatus.SUCCESS, outcome.detail
    assert (repo / "note.txt").read_text() == "written by the agent\n"
    assert outcome.turns == 2
    assert outcome.usage.input_tokens > 0 and outcome.usage.output_tokens > 0
    # The run's HOME goes with it: the CLI offers the model no memory to keep there (autoMemoryEnabled).
    sent = [r.body for r in offline_model.requests[asked:]]
    systems = [json.dumps(body.get("system")) for body in sent]
    assert len(sent) == 2 and all("Claude Agent SDK" in text for text in systems)
    assert not [text for text in systems if "/.claude/projects/" in text or "# Memory" in text]


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
    ask = request(repo, "X-1", max_duration_seconds=60)
    outcome = runner.run(ask)
    seconds = time.monotonic() - started
    print(f"\nC2 {mode} to finish: {seconds:.2f} s")
    assert seconds < 5
    assert outcome.status is AgentStatus.SUCCESS
    assert processes_matching(f"fake_cli.py {mode}") == []
    if mode == "reads-stdin":  # stdin is the prompt, whole, then EOF
        assert outcome.result_text == f"stdin gave {len(ask.prompt.encode())} bytes"


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
    print(f"\nC3 {mode} misclassified: {int(outcome.status is not status)} (classified {outcome.status})")
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
    # Model auth reaches the agent only as the run's model proxy: its token and URL, never the real ones.
    assert seen["ANTHROPIC_API_KEY"] and seen["ANTHROPIC_API_KEY"] != model_auth["ANTHROPIC_API_KEY"]
    assert seen["ANTHROPIC_BASE_URL"] != model_auth["ANTHROPIC_BASE_URL"]


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
    assert "--setting-sources" in argv and "--" not in argv
    assert not [a for a in argv if canary in a or "sk-ant-canary" in a]
    assert not [a for a in argv if "Ticket: X-1" in a]  # the prompt is on stdin, never in argv


def test_c3_the_first_result_stands() -> None:
    from jobs.agent.stream import StreamTally

    tally = StreamTally()
    tally.add({"type": "result", "subtype": "error_during_execution", "is_error": True})
    tally.add({"type": "result", "subtype": "success", "is_error": False})
    assert classify(tally.result)[0] is AgentStatus.ERROR


PROMPT_CANARY = "canary-PROMPT-in-argv-7c1f0e"
PROMPT_END = "RUN-BIG: the last line of the prompt"  # tests/scenarios/runner-big-prompt.yaml matches it


@contextmanager
def command_lines(marker: str, cwd: Path) -> Iterator[set[str]]:
    """Every command line seen, while the block runs, of processes in ``cwd`` whose argv holds ``marker``."""
    seen: set[str] = set()
    done = threading.Event()

    def scan() -> None:
        while not done.is_set():
            for proc in Path("/proc").iterdir():
                try:
                    if not proc.name.isdigit() or os.readlink(proc / "cwd") != str(cwd):
                        continue
                    cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if marker in cmdline:
                    seen.add(cmdline)
            time.sleep(0.05)

    scanner = threading.Thread(target=scan, name="cmdline-scan", daemon=True)
    scanner.start()
    try:
        yield seen
    finally:
        done.set()
        scanner.join()


def first_message_text(body: dict[str, object]) -> str:
    messages = body["messages"]
    assert isinstance(messages, list)
    content = messages[0]["content"]
    return content if isinstance(content, str) else "\n".join(part.get("text", "") for part in content)


@pytest.mark.parametrize("filler_kib", [0, 256], ids=["small", "past-the-argv-cap"])
def test_the_prompt_reaches_the_real_cli_on_stdin_and_never_argv(
    repo: Path, model_auth: dict[str, str], offline_model: OfflineModelServer, filler_kib: int
) -> None:
    """Issue 12: no 128 KiB cap on the prompt (E2BIG), and no ticket text in /proc/<pid>/cmdline."""
    line = "a diff line that only pads the prompt past the kernel's cap on a single argument\n"
    filler = line * (filler_kib * 1024 // len(line) + 1) if filler_kib else ""
    base = request(repo, "RUN-BIG", max_duration_seconds=60)
    prompt = f"{base.prompt}{PROMPT_CANARY}\n{filler}{PROMPT_END}\n"
    assert len(prompt.encode()) > filler_kib * 1024
    asked = len(offline_model.requests)
    cli = str(bundled_cli())
    with command_lines(cli, repo) as seen:  # the scenario holds its turn for a second: time to look
        outcome = AgentRunner(model_auth=model_auth).run(base.model_copy(update={"prompt": prompt}))
    assert outcome.status is AgentStatus.SUCCESS, outcome.detail
    assert outcome.result_text == "Read all of it."
    # The model was sent the whole prompt: its last line chose the scenario.
    (sent,) = [r for r in offline_model.requests[asked:] if r.scenario == "runner-big-prompt"]
    assert prompt.strip() in first_message_text(sent.body)
    # Both the reaper and the CLI were seen running, and neither command line held the prompt.
    assert any("reaper.py" in c for c in seen) and any(c.startswith(cli) for c in seen), seen
    assert not [c for c in seen if PROMPT_CANARY in c or "Ticket: RUN-BIG" in c]


def test_the_prompt_file_is_private_to_its_owner(tmp_path: Path) -> None:
    path = write_prompt(tmp_path, "Ticket: X-1\nuntrusted text\n")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text(encoding="utf-8") == "Ticket: X-1\nuntrusted text\n"


@pytest.mark.parametrize(
    ("ticket", "cause"),
    [
        ("RUN-API-529", "529"),
        ("RUN-API-500", "500"),
        ("RUN-API-429", "429 with retry-after 60s"),
        ("RUN-API-STALL", "stalled stream"),
    ],
)
def test_c5_a_model_api_that_keeps_failing_stops_the_run_within_its_failure_budget(
    repo: Path, model_auth: dict[str, str], offline_model: OfflineModelServer, ticket: str, cause: str
) -> None:
    """RELIABILITY C5: 529, 500, 429 with retry-after 60, and a stream that never sends a byte, forever.
    The real CLI retries on its own; the harness's model proxy counts the streak and stops the run once
    the API has failed for longer than the run's failure budget (here 6 s), or at once when asked to
    wait longer than that. Anthropic's errors page: 429 rate_limit_error, 500 api_error, 529
    overloaded_error, with retry-after on 429."""
    budget, stall = 6.0, 2.0
    runner = AgentRunner(model_auth=model_auth, grace_seconds=1.0, stall_seconds=stall)
    before = len(offline_model.requests)
    started = time.monotonic()
    outcome = runner.run(request(repo, ticket, max_duration_seconds=120, model_failure_seconds=budget))
    seconds = time.monotonic() - started
    attempts = len(offline_model.requests) - before
    print(f"\nC5 {ticket}: {attempts} attempts, stopped after {seconds:.1f}s: {outcome.detail}")
    assert outcome.status is AgentStatus.MODEL_UNAVAILABLE, outcome.detail
    assert "the model API kept failing" in outcome.detail and cause in outcome.detail
    # Bounded: the budget, plus one backoff or stall the CLI was in, plus stopping it.
    assert seconds < budget + max(stall, 8.0) + 5.0
    # (The offline model records a request once it has answered it: a stalled one is not in yet.)
    assert attempts >= 1 or ticket == "RUN-API-STALL"
