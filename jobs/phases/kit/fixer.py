"""The fixer: an agent addresses what a check found; our code commits and pushes what it changed.

What it is told comes from the phase (the review's issues, the browser report), fenced as data like the
ticket. The commit goes through the same path as the implement phase's: the agent's working tree is
carried into a fresh clone, vetted for secrets, committed, and pushed fast-forward only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobs.agent.models import McpServer
from jobs.logs import get_logger
from jobs.phases.kit.budget import PhaseBudget
from jobs.phases.kit.records import FixRecord, FixStatus
from jobs.phases.kit.steps import run_agent
from jobs.services import Services
from jobs.tickets import Ticket
from jobs.workspace import Workspace, safe_title

MAX_SUMMARY = 4_000


@dataclass(frozen=True)
class FixJob:
    """One fixer run: its prompt, the commit subject for its change, where its transcript goes."""

    prompt: str
    subject: str
    transcript_key: str
    round: int
    run_id: str
    model: str
    tools: dict[str, McpServer] = field(default_factory=dict)  # our MCP tools, served by the caller


def run_fixer(
    services: Services, budget: PhaseBudget, workspace: Workspace, ticket: Ticket, job: FixJob
) -> FixRecord:
    """Run a fixer agent in ``workspace``, then commit and push what it changed (through a fresh clone)."""
    request = budget.request(job.prompt, workspace.path, job.model).model_copy(
        update={"mcp_servers": job.tools}
    )
    outcome, transcript = run_agent(services, budget, request, job.transcript_key)
    get_logger().info("fixer: %s in %d turns, $%.4f", outcome.status, outcome.turns, outcome.usage.cost_usd)
    workspace.adopt_agent_tree()
    title = safe_title(ticket.title)
    message = f"{ticket.identifier}: {job.subject}\n\n{title}\nWritten by Factory run {job.run_id}."
    workspace.commit_all(message, services.redact.finds_secret)
    commits = workspace.new_commits()
    files = workspace.files_changed_since_start() if commits else []
    if commits and workspace.push():
        # Rebased onto a human's push: our commits have new ids, the last ones on the branch.
        commits = workspace.last_commits(len(commits))
    status: FixStatus = "failed" if not outcome.status.ok else "committed" if commits else "no_changes"
    return FixRecord(
        round=job.round,
        status=status,
        detail=outcome.detail,
        commits=commits,
        files=files,
        summary=(outcome.result_text or "")[:MAX_SUMMARY],
        agent=outcome,
        transcript=transcript,
    )
