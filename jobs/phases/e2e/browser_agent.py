"""The browser agent of one e2e attempt: it drives Chromium through our tool and answers with a report.

The agent gets read-only repository tools and the browser tool, fenced to the app's origins; the tool,
not the agent, takes every screenshot. A reply that is not a report, or whose cited screenshots the tool
did not take on the pages named, is re-asked once (``MAX_ASKS``).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from jobs import prompts
from jobs.agent.models import McpServer
from jobs.agent.policy import READ_ONLY_TOOLS
from jobs.mcp.config import database
from jobs.mcp.config.browser import BROWSER_START, DEFAULT_CHROMIUM, browser_command, browser_env
from jobs.mcp.serve import ServedTool
from jobs.phases.e2e.records import e2e_key
from jobs.phases.e2e.report import (
    E2EReport,
    evidence_problems,
    origin,
    parse_report,
    report_schema,
    screenshots_taken,
)
from jobs.phases.kit.budget import PhaseBudget
from jobs.phases.kit.records import Ask
from jobs.phases.kit.steps import run_agent, ticket_text
from jobs.replies import ReplyParseError
from jobs.services import Services
from jobs.target_config import TargetConfig
from jobs.tickets import Ticket
from jobs.workspace import Workspace

MAX_ASKS = 2  # the first request and one re-ask
MAX_DIFF_CHARS = 40_000


@dataclass(frozen=True)
class BrowserCheck:
    """What one attempt's browser agent is given."""

    services: Services
    budget: PhaseBudget
    ticket: Ticket
    run_id: str
    attempt: int
    max_attempts: int
    workspace: Workspace
    config: TargetConfig
    shots: Path  # where the browser tool writes its screenshots
    diff: str
    diff_stat: str
    required: list[str]  # checks that failed last time: asked for again
    chromium: str = DEFAULT_CHROMIUM  # the browser executable (settings: CHROMIUM)
    database_reader: str | None = None  # the seeded database, as a role that can only read


def ask_browser_agent(check: BrowserCheck) -> tuple[E2EReport | None, list[Ask], list[str]]:
    """Run the browser agent; a reply that is not a report, or whose evidence does not hold, is
    re-asked once. Returns the report (None if there is none), the asks, the evidence problems."""
    e2e = check.config.e2e
    pages = {page.name: page.url for page in e2e.pages}
    origins = sorted({f"http://127.0.0.1:{s.port}" for s in e2e.servers} | {origin(p.url) for p in e2e.pages})
    # Served by us, as our uid, in the box's network (where the app's servers are): see jobs.mcp.serve.
    env = browser_env(origins, check.shots, check.services.box.chromium(check.chromium))
    with contextlib.ExitStack() as stack:
        log = check.shots.parent / f"browser-tool-{check.attempt}.log"
        tools = {
            "browser": stack.enter_context(
                ServedTool(check.services.box, browser_command(), env, log)
            ).entry()
        }
        wanted = check.config.tools.e2e if check.config.tools.e2e is not None else ["database"]
        if check.database_reader and "database" in wanted:
            # In the box's network, where the database is; its DSN (the role's password) in its env only.
            log = check.shots.parent / f"database-tool-{check.attempt}.log"
            served = ServedTool(
                check.services.box, database.command(), database.database_env(check.database_reader), log
            )
            tools["database"] = stack.enter_context(served).entry()
        return _ask(check, pages, tools)


def _ask(
    check: BrowserCheck, pages: dict[str, str], tools: dict[str, McpServer]
) -> tuple[E2EReport | None, list[Ask], list[str]]:
    asks: list[Ask] = []
    rejected: str | None = None
    report: E2EReport | None = None
    problems: list[str] = []
    for ask_no in range(1, MAX_ASKS + 1):
        prompt = browser_prompt(check, rejected)
        request = check.budget.request(prompt, check.workspace.path, check.config.models.e2e, READ_ONLY_TOOLS)
        request = request.model_copy(update={"mcp_servers": tools})
        key = e2e_key(check.run_id, "transcripts", f"attempt-{check.attempt}-ask-{ask_no}.jsonl")
        outcome, transcript = run_agent(check.services, check.budget, request, key)
        ask = Ask(agent=outcome, transcript=transcript)
        if not outcome.status.ok:
            asks.append(ask)
            return None, asks, []
        try:
            report = parse_report(outcome.result_text or "")
        except ReplyParseError as exc:
            rejected = str(exc)
            asks.append(ask.model_copy(update={"parse_error": rejected}))
            continue
        problems = evidence_problems(report, screenshots_taken(check.shots), pages, check.required)
        if not problems:
            asks.append(ask)
            return report, asks, []
        rejected = "; ".join(problems)
        asks.append(ask.model_copy(update={"parse_error": rejected}))
    return report, asks, problems


def browser_prompt(check: BrowserCheck, rejected: str | None) -> str:
    e2e, workspace = check.config.e2e, check.workspace
    pages = "\n".join(
        f"- {p.name}: {p.url}" + (f" - {p.description}" if p.description else "") for p in e2e.pages
    )
    return prompts.render(
        "e2e",
        identifier=check.ticket.identifier,
        attempt=str(check.attempt),
        max_attempts=str(check.max_attempts),
        workspace=str(workspace.path),
        branch=workspace.branch,
        base=workspace.base_branch,
        pages=pages,
        schema=json.dumps(report_schema(), separators=(",", ":")),
        ticket=prompts.fence("ticket", ticket_text(check.ticket)),
        diff_stat=prompts.fence("diffstat", check.diff_stat),
        diff=prompts.fence("diff", check.diff, MAX_DIFF_CHARS),
        required=required_text(check.required),
        reask=prompts.reask(rejected),
    )


def required_text(required: list[str]) -> str:
    if not required:
        return ""
    lines = "\n".join(f"- {check}" for check in required)
    return (
        "\n## Checks that failed on the last attempt\n\nA fix was made for these. Each must be in your "
        f"checklist again, with the same wording, and be judged afresh:\n\n{prompts.fence('checks', lines)}\n"
    )


def browser_split(shots: Path, agent_seconds: float) -> dict[str, float]:
    """The browser agent's time split into Chromium's start (as the tool measured it) and the rest."""
    try:
        start = float(json.loads((shots / BROWSER_START).read_text())["start_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {"browser_start": start, "agent": round(max(agent_seconds - start, 0.0), 3)}
