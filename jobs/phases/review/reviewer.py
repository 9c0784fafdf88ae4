"""One review round: the reviewer agent scores the branch's diff, with a bounded re-ask on bad output.

The reviewer sees the ticket, the diff against the base, and the evidence our code gathered; never the
implementer's transcript or summary (it should judge the change, not the author's account of it). It
runs with read-only tools. Its final message must parse as a ``Review``; anything else is re-asked at
most ``MAX_ASKS - 1`` times, then the round is "unparseable", which is never a pass (RELIABILITY C4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from jobs import prompts
from jobs.agent.policy import READ_ONLY_TOOLS
from jobs.logs import get_logger
from jobs.models import run_key
from jobs.phases.kit.budget import PhaseBudget
from jobs.phases.kit.records import Ask
from jobs.phases.kit.steps import run_agent, ticket_text
from jobs.phases.review.evidence import CheckRun, describe
from jobs.phases.review.records import ReviewRound
from jobs.phases.review.verdict import PASS_SCORE, ReviewParseError, parse_review, review_schema
from jobs.services import Services
from jobs.tickets import Ticket
from jobs.workspace import Workspace

MAX_ASKS = 2  # the first request and one re-ask
MAX_DIFF_CHARS = 100_000
RUBRIC = Path(__file__).with_name("rubric.md")


@dataclass(frozen=True)
class RoundInputs:
    """Everything one review round is given."""

    ticket: Ticket
    workspace: Workspace
    checks: list[CheckRun]
    diff: str
    diff_stat: str
    round: int
    max_rounds: int
    model: str


def evidence_text(checks: list[CheckRun]) -> str:
    if not checks:
        return "No test, lint or type-check command is configured for this repository."
    parts = []
    for check in checks:
        parts.append(f"{describe(check)}\nLast output:\n{check.output_tail.strip() or '(none)'}")
    return "\n\n".join(parts)


def review_prompt(inputs: RoundInputs, rejected: str | None) -> str:
    ws = inputs.workspace
    return prompts.render(
        "review",
        identifier=inputs.ticket.identifier,
        round=str(inputs.round),
        max_rounds=str(inputs.max_rounds),
        workspace=str(ws.path),
        branch=ws.branch,
        base=ws.base_branch,
        pass_score=str(PASS_SCORE),
        rubric=RUBRIC.read_text(encoding="utf-8").strip(),
        schema=json.dumps(review_schema(), separators=(",", ":")),
        ticket=prompts.fence("ticket", ticket_text(inputs.ticket)),
        evidence=prompts.fence("evidence", evidence_text(inputs.checks)),
        diff_stat=prompts.fence("diffstat", inputs.diff_stat),
        diff=prompts.fence("diff", inputs.diff, MAX_DIFF_CHARS),
        reask=prompts.reask(rejected),
        finding=prompts.for_finding(inputs.ticket.labels, "finding-review"),
    )


def review_round(
    services: Services, budget: PhaseBudget, inputs: RoundInputs, run_id: str, head_sha: str
) -> ReviewRound:
    """Ask the reviewer (re-asking on a malformed reply) and return the round's verdict."""
    log = get_logger()
    record = ReviewRound(
        round=inputs.round,
        head_sha=head_sha,
        verdict="unparseable",
        checks=inputs.checks,
        diff_chars=len(inputs.diff),
        diff_truncated=len(inputs.diff) > MAX_DIFF_CHARS,
    )
    rejected: str | None = None
    for attempt in range(1, MAX_ASKS + 1):
        request = budget.request(
            review_prompt(inputs, rejected), inputs.workspace.path, inputs.model, READ_ONLY_TOOLS
        )
        key = run_key(run_id, "review", "transcripts", f"review-{inputs.round}-ask-{attempt}.jsonl")
        outcome, transcript = run_agent(services, budget, request, key)
        ask = Ask(agent=outcome, transcript=transcript)
        if not outcome.status.ok:
            log.error("reviewer run failed: %s %s", outcome.status, outcome.detail)
            record.asks.append(ask)
            return record.model_copy(update={"verdict": "error"})
        try:
            review = parse_review(outcome.result_text or "")
        except ReviewParseError as exc:
            rejected = str(exc)
            log.warning("review %d, ask %d: unusable reply: %s", inputs.round, attempt, rejected)
            record.asks.append(ask.model_copy(update={"parse_error": rejected}))
            continue
        record.asks.append(ask)
        verdict = "passed" if review.passed else "failed"
        return record.model_copy(update={"verdict": verdict, "review": review})
    return record
