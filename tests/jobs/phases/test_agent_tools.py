"""Which of our MCP tools each agent gets (jobs/phases/kit/tools.py), and the implement phase serving its
ticket tool to the real CLI: the scripted agent reads its ticket and comments on it through the tool."""

from __future__ import annotations

import json
from pathlib import Path

from jobs.phases.kit.tools import chosen_tools
from jobs.settings import load_settings
from jobs.target_config import parse_target_config
from orchestration.local.stack import local_job_env
from tests.conftest import TESTS
from tests.phase_jobs import implement_job

TRIAGE = "triage:\n  sentry: {organization: o, project: p}\n  langfuse: {}\n"


def test_the_defaults_per_agent_and_job() -> None:
    ticket = load_settings({"JOB": "solve-linear-ticket"})
    finding = load_settings({"JOB": "solve-chatbot-issues"})
    config = parse_target_config(TRIAGE)
    assert chosen_tools("implement", config, ticket, False) == ["linear"]
    assert chosen_tools("fix", config, ticket, False) == ["linear"]
    assert chosen_tools("implement", config, finding, False) == ["sentry", "langfuse"]
    assert chosen_tools("implement", parse_target_config("test: x\n"), finding, False) == []
    assert chosen_tools("e2e", config, ticket, True) == ["database"]
    assert chosen_tools("e2e", config, ticket, False) == []
    assert chosen_tools("review", config, ticket, True) == []


def test_the_target_chooses_and_can_turn_a_tool_off() -> None:
    ticket = load_settings({"JOB": "solve-linear-ticket"})
    config = parse_target_config("tools:\n  implement: []\n  review: [linear]\n  e2e: []\n")
    assert chosen_tools("implement", config, ticket, False) == []
    assert chosen_tools("review", config, ticket, False) == ["linear"]
    assert chosen_tools("e2e", config, ticket, True) == []


def test_the_implementer_reads_its_ticket_and_comments_through_the_tool(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    env = local_job_env(
        "IX-950",
        remote,
        tmp_path / "artifacts",
        "r1",
        workdir=tmp_path / "work",
        tickets_dir=TESTS / "tickets",
    )
    result = implement_job({**env, "KILL_GRACE_SECONDS": "2", **model_auth})
    assert result.status == "done", result.detail

    transcript = (tmp_path / "artifacts" / "runs" / "r1" / "implement" / "transcript.jsonl").read_text()
    results = [
        block
        for line in transcript.splitlines()
        if (event := json.loads(line)).get("type") == "user"
        for block in event["message"]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    answers = [json.dumps(block["content"]) for block in results]
    assert any("Say the ticket's comments in the README" in a and "untrusted" in a for a in answers), answers
    log = json.loads((tmp_path / "artifacts" / "tickets" / "IX-950.json").read_text())
    assert any("Starting on the README now." in comment["body"] for comment in log["comments"]), log
