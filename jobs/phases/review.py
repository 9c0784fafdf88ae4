"""The review phase: review → fix → review ... (at most three reviews) → the pull request.

Each round starts from a fresh clone of the pushed branch: our code installs and runs the target's
checks (the evidence), the reviewer scores the diff, and when a score is below 4 the fixer works in that
clone and our code commits and pushes its change. After a pass, or the third failed review, or a review
that never came back as valid JSON, the PR is opened or updated; anything but a pass flags it for a
human. ``review/result.json`` tells the workflow what happened.
"""

from __future__ import annotations

import subprocess
from typing import get_args

from jobs.artifacts import read_model, write_model
from jobs.errors import ArtifactNotFound, FactoryError, StepFailed
from jobs.logs import get_logger
from jobs.models import ImplementResult, run_key, utc_now
from jobs.phases.budget import PhaseBudget
from jobs.phases.steps import Stopwatch, start_phase, tell_ticket
from jobs.pulls import PullRequestDraft, clamp_body, clamp_title
from jobs.review.body import BodyInputs, render_body
from jobs.review.evidence import run_checks
from jobs.review.fixer import fix_round
from jobs.review.records import PullRequestRef, ReviewResult, ReviewRound, ReviewStatus
from jobs.review.reviewer import RoundInputs, review_round
from jobs.services import Services
from jobs.settings import JobSettings
from jobs.target_config import load_target_config
from jobs.tickets import Ticket
from jobs.workspace import Workspace, safe_title
from jobs.workspace.install import install

PHASE = "review"
MAX_ROUNDS = 3
STATUS_OF_LAST_ROUND: dict[str, ReviewStatus] = {
    "passed": "passed",
    "failed": "failed_after_max",
    "unparseable": "unparseable",
    "error": "error",
}
OPENS_PR = frozenset(s for s in get_args(ReviewStatus) if s != "error")


def run_review(settings: JobSettings, services: Services, run_id: str) -> ReviewResult:
    """Run the loop, open the PR, write ``review/result.json``; raises only if no result could be written."""
    clock = Stopwatch()
    start = start_phase(settings, services, run_id, clock)
    ticket, branch = start.ticket, start.branch
    result = ReviewResult(**start.fields, status="error")
    rounds: list[ReviewRound] = []
    try:
        rounds = _review_loop(settings, services, run_id, ticket, start.repo_url, branch, clock)
        result = _with_rounds(result, rounds, STATUS_OF_LAST_ROUND[rounds[-1].verdict])
        if result.status in OPENS_PR:
            with clock.step("pull_request"):
                pull = _open_pull_request(
                    services, ticket, result.model_copy(update={"timings": clock.timings})
                )
            result = result.model_copy(update={"pull_request": pull})
    except (FactoryError, OSError, subprocess.SubprocessError) as exc:
        get_logger().error("review failed: %s", exc)
        result = _with_rounds(result, rounds, "error").model_copy(
            update={"detail": services.redact(str(exc))}
        )
    result = result.model_copy(update={"timings": clock.timings, "finished_at": utc_now()})
    write_model(services.store, run_key(run_id, PHASE, "result.json"), result)
    tell_ticket(services, ticket, _ticket_text(result))
    return result


def _review_loop(
    settings: JobSettings,
    services: Services,
    run_id: str,
    ticket: Ticket,
    repo_url: str,
    branch: str,
    clock: Stopwatch,
) -> list[ReviewRound]:
    log = get_logger()
    rounds: list[ReviewRound] = []
    budget: PhaseBudget | None = None
    for n in range(1, MAX_ROUNDS + 1):
        workspace = Workspace(
            services.git, repo_url, services.workdir / f"round-{n}", branch, settings.base_branch
        )
        with clock.step("clone"):
            workspace.clone()
        if not workspace.resumed:
            raise StepFailed(f"branch {branch} is not on the remote: there is nothing to review")
        config = load_target_config(workspace.path)
        budget = budget or PhaseBudget(settings, config)
        with clock.step("install"):
            install(config, workspace.path)
        with clock.step("checks"):
            checks = run_checks(config, workspace.path, services.redact)
        diff = services.redact(workspace.diff_from_base())
        if not diff.strip():
            raise StepFailed(
                f"branch {branch} has no change against {settings.base_branch}: nothing to review"
            )
        stat = workspace.diff_from_base(stat=True)
        inputs = RoundInputs(ticket, workspace, checks, diff, stat, n, MAX_ROUNDS, config.models.review)
        with clock.step("review"):
            record = review_round(services, budget, inputs, run_id, workspace.head())
        key = run_key(run_id, PHASE, f"review-{n}.json")
        write_model(services.store, key, record)
        log.info(
            "review %d: %s %s", n, record.verdict, record.review.scores.model_dump() if record.review else ""
        )
        if record.verdict == "failed" and record.review is not None and n < MAX_ROUNDS:
            with clock.step("fix"):
                fix = fix_round(
                    services,
                    budget,
                    workspace,
                    ticket,
                    record.review,
                    checks,
                    n,
                    run_id,
                    config.models.fix,
                    config.test,
                )
            record = record.model_copy(update={"fix": fix})
            write_model(services.store, key, record)  # the round's file now says what the fix did
            log.info("fix %d: %s, %d commit(s)", n, fix.status, len(fix.commits))
        rounds.append(record)
        if record.verdict != "failed":
            break
    return rounds


def _with_rounds(result: ReviewResult, rounds: list[ReviewRound], status: ReviewStatus) -> ReviewResult:
    head = next((r.fix.commits[-1] for r in reversed(rounds) if r.fix and r.fix.commits), None)
    head = head or (rounds[-1].head_sha if rounds else None)
    cost = round(sum(r.cost_usd for r in rounds), 6)
    return result.model_copy(update={"status": status, "rounds": rounds, "head_sha": head, "cost_usd": cost})


def _open_pull_request(services: Services, ticket: Ticket, result: ReviewResult) -> PullRequestRef:
    store, run_id = services.store, result.run_id
    try:
        implement: ImplementResult | None = read_model(
            store, run_key(run_id, "implement", "result.json"), ImplementResult
        )
    except ArtifactNotFound:
        implement = None
    links = {"run manifest": store.url(run_key(run_id, "manifest.json"))}
    if implement is not None:
        links["implement result"] = store.url(run_key(run_id, "implement", "result.json"))
        if implement.transcript:
            links["implement transcript"] = implement.transcript
    for r in result.rounds:
        links[f"review {r.round}"] = store.url(run_key(run_id, PHASE, f"review-{r.round}.json"))
    links["review result"] = store.url(run_key(run_id, PHASE, "result.json"))
    body = render_body(BodyInputs(ticket, result, implement, links, services.redact))
    # The full body is kept in the artifacts: a clamped PR body says so and points here.
    store.write_bytes(run_key(run_id, PHASE, "pr-body.md"), body.encode())
    draft = PullRequestDraft(
        head=result.branch,
        base=result.base_branch,
        title=clamp_title(f"{ticket.identifier}: {safe_title(ticket.title)}"),
        body=clamp_body(body),
        flagged=result.status != "passed",
    )
    pull = services.pulls.upsert(draft)
    get_logger().info("pull request #%d: %s%s", pull.number, pull.url, " (flagged)" if pull.flagged else "")
    return PullRequestRef(number=pull.number, url=pull.url, flagged=pull.flagged)


def _ticket_text(result: ReviewResult) -> str:
    rounds = len(result.rounds)
    pull = result.pull_request
    where = f" Pull request: {pull.url}" if pull else ""
    if result.status == "passed":
        return f"Factory review passed after {rounds} round(s).{where}"
    if result.status == "failed_after_max":
        return f"Factory review still failed after {rounds} rounds; the PR needs human review.{where}"
    if result.status == "unparseable":
        return f"Factory's reviewer gave no usable verdict; the PR needs human review.{where}"
    return f"Factory could not finish the review: {result.detail}"
