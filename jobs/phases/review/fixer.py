"""The fixer: an agent addresses what a check found; our code commits and pushes what it changed.

The issues are the reviewer's words about untrusted code, so they reach the fixer fenced as data, like
the ticket. The commit goes through the same path as the implement phase's: the agent's working tree
is carried into a fresh clone, vetted for secrets, committed, and pushed fast-forward only.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs import prompts
from jobs.logs import get_logger
from jobs.models import run_key
from jobs.phases.kit.budget import PhaseBudget
from jobs.phases.kit.steps import run_agent
from jobs.phases.review.evidence import CheckRun
from jobs.phases.review.records import FixRecord, FixStatus
from jobs.phases.review.reviewer import evidence_text, ticket_text
from jobs.phases.review.verdict import PASS_SCORE, Review
from jobs.services import Services
from jobs.target_config import TargetConfig
from jobs.tickets import Ticket
from jobs.workspace import Workspace, safe_title

MAX_SUMMARY = 4_000


def issues_text(review: Review) -> str:
    lines = []
    for issue in review.issues:
        where = f"{issue.file}:{issue.line}" if issue.line else issue.file
        lines.append(f"- [{issue.criterion}] {where}: {issue.change}")
    return f"Reviewer's summary: {review.summary}\n\n" + "\n".join(lines)


def fix_prompt(
    ticket: Ticket, workspace: Workspace, review: Review, checks: list[CheckRun], n: int, test: str | None
) -> str:
    return prompts.render(
        "fix",
        identifier=ticket.identifier,
        round=str(n),
        workspace=str(workspace.path),
        branch=workspace.branch,
        test_command=prompts.fence("test-command", test) if test else "(none configured)",
        pass_score=str(PASS_SCORE),
        failing=", ".join(review.scores.failing()) or "none",
        issues=prompts.fence("review", issues_text(review)),
        evidence=prompts.fence("evidence", evidence_text(checks)),
        ticket=prompts.fence("ticket", ticket_text(ticket)),
    )


def fix_round(
    services: Services,
    budget: PhaseBudget,
    workspace: Workspace,
    ticket: Ticket,
    review: Review,
    checks: list[CheckRun],
    n: int,
    run_id: str,
    config: TargetConfig,
) -> FixRecord:
    """Run the fixer on the review's issues in ``workspace`` (a clone of the branch); commit and push."""
    prompt = fix_prompt(ticket, workspace, review, checks, n, config.test)
    subject = f"address review round {n} ({', '.join(review.scores.failing())})"
    key = run_key(run_id, "review", "transcripts", f"fix-{n}.jsonl")
    return run_fixer(
        services, budget, workspace, ticket, FixJob(prompt, subject, key, n, run_id, config.models.fix)
    )


@dataclass(frozen=True)
class FixJob:
    """One fixer run: its prompt, the commit subject for its change, where its transcript goes."""

    prompt: str
    subject: str
    transcript_key: str
    round: int
    run_id: str
    model: str


def run_fixer(
    services: Services, budget: PhaseBudget, workspace: Workspace, ticket: Ticket, job: FixJob
) -> FixRecord:
    """Run a fixer agent in ``workspace``, then commit and push what it changed (through a fresh clone)."""
    request = budget.request(job.prompt, workspace.path, job.model)
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
