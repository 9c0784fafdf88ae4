"""The review's fix round: the reviewer's issues, fenced as data (they are its words about untrusted
code), become the fixer's prompt; the shared fixer (``jobs.phases.kit.fixer``) commits and pushes."""

from __future__ import annotations

from jobs import prompts
from jobs.agent.models import McpServer
from jobs.models import run_key
from jobs.phases.kit.budget import PhaseBudget
from jobs.phases.kit.fixer import FixJob, run_fixer
from jobs.phases.kit.records import FixRecord
from jobs.phases.kit.steps import ticket_text
from jobs.phases.review.evidence import CheckRun
from jobs.phases.review.reviewer import evidence_text
from jobs.phases.review.verdict import PASS_SCORE, Review
from jobs.services import Services
from jobs.target_config import TargetConfig
from jobs.tickets import Ticket
from jobs.workspace import Workspace


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
        finding=prompts.for_finding(ticket.labels),
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
    tools: dict[str, McpServer] | None = None,
) -> FixRecord:
    """Run the fixer on the review's issues in ``workspace`` (a clone of the branch); commit and push."""
    prompt = fix_prompt(ticket, workspace, review, checks, n, config.test)
    subject = f"address review round {n} ({', '.join(review.scores.failing())})"
    key = run_key(run_id, "review", "transcripts", f"fix-{n}.jsonl")
    return run_fixer(
        services,
        budget,
        workspace,
        ticket,
        FixJob(prompt, subject, key, n, run_id, config.models.fix, tools or {}),
    )
