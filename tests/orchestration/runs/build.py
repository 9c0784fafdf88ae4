"""Runs on disk as the phases leave them, built from the real result models (no agent, no git).

``build_run`` writes a manifest and the results of the phases asked for, with a review round carrying
the six scores and a check, and an e2e attempt carrying a checklist, so every view has real records to
read. The listing tests, the CLI tests and the listing benchmark share it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.agent.models import AgentOutcome, AgentStatus, Usage
from jobs.artifacts import ArtifactStore, write_model
from jobs.models import RunManifest, run_key
from jobs.phases.e2e.records import E2EAttempt, E2EResult
from jobs.phases.e2e.report import ChecklistItem, E2EReport
from jobs.phases.implement.records import ImplementResult
from jobs.phases.kit.records import Ask, FixRecord
from jobs.phases.review.evidence import CheckRun, RunCounts
from jobs.phases.review.records import PullRequestRef, ReviewResult, ReviewRound
from jobs.phases.review.verdict import Review, ReviewIssue, Scores

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def agent(cost: float, turns: int = 4) -> AgentOutcome:
    return AgentOutcome(
        status=AgentStatus.SUCCESS,
        turns=turns,
        usage=Usage(input_tokens=1000, output_tokens=100, cost_usd=cost),
        result_text="done",
        duration_seconds=1.5,
    )


def scores(documentation: int) -> Scores:
    return Scores(
        correctness=5, code_quality=5, test_coverage=4, type_safety=4, security=5, documentation=documentation
    )


def review_round(n: int, passed: bool, title: str = "") -> ReviewRound:
    review = Review(
        scores=scores(5 if passed else 2),
        summary=f"Round {n}: {'all good' if passed else 'the README says nothing'} {title}".strip(),
        issues=[]
        if passed
        else [
            ReviewIssue(file="README.md", line=3, criterion="documentation", change=f"Document it. {title}")
        ],
    )
    check = CheckRun(
        name="test",
        command="python3 -m unittest",
        exit_code=0 if passed else 1,
        seconds=0.4,
        counts=RunCounts(passed=3, failed=0 if passed else 1, errors=0, skipped=0),
        output_tail="Ran 3 tests in 0.01s\n\nOK\n"
        if passed
        else "Ran 3 tests in 0.01s\n\nFAILED (failures=1)\n",
    )
    fix = (
        None
        if passed
        else FixRecord(
            round=n, status="committed", commits=["b" * 40], files=["README.md"], summary="Documented."
        )
    )
    return ReviewRound(
        round=n,
        head_sha="a" * 40,
        verdict="passed" if passed else "failed",
        review=review,
        asks=[Ask(agent=agent(0.05, 2))],
        checks=[check],
        fix=fix,
    )


def build_run(
    store: ArtifactStore,
    run_id: str,
    *,
    ticket: str = "IX-101",
    title: str = "Add a word count to each note",
    job: str = "solve-linear-ticket",
    started: datetime = T0,
    implement: str | None = "done",
    review: str | None = "passed",
    e2e: str | None = "verified",
    manifest: bool = True,
) -> None:
    """One run's records under ``runs/<run_id>/``: each phase given a status gets a result, one
    minute after the other; None leaves that phase (and the ones after it) unwritten, and so does an
    implement that made no change or failed, as the workflow would."""
    branch = f"factory/{ticket.lower()}"
    common = {"run_id": run_id, "ticket_identifier": ticket, "branch": branch, "base_branch": "main"}
    if manifest:
        record = RunManifest(
            run_id=run_id,
            job=job,
            ticket_identifier=ticket,
            ticket_title=title,
            branch=branch,
            base_branch="main",
            repo="/srv/remote.git",
            created_at=started,
        )
        write_model(store, run_key(run_id, "manifest.json"), record)
    if implement is None:
        return
    done = ImplementResult.model_validate(
        {
            **common,
            **_times(started, 40),
            "status": implement,
            "timings": {"clone": 1.0, "agent": 35.0},
            "commits": ["a" * 40],
            "pushed": True,
            "agent": agent(0.10, 8),
            "head_sha": "a" * 40,
        }
    )
    write_model(store, run_key(run_id, "implement", "result.json"), done)
    if review is None or implement != "done":
        return  # the workflow ends a run whose implement made no change or failed
    rounds = [review_round(1, False, title), review_round(2, review == "passed", title)]
    pull = PullRequestRef(number=7, url="https://github.com/acme/app/pull/7", flagged=review != "passed")
    reviewed = ReviewResult.model_validate(
        {
            **common,
            **_times(started + timedelta(minutes=1), 50),
            "status": review,
            "rounds": rounds,
            "pull_request": pull,
            "cost_usd": round(sum(r.cost_usd for r in rounds), 6),
        }
    )
    write_model(store, run_key(run_id, "review", "result.json"), reviewed)
    if e2e is None or review == "error":
        return
    attempt = e2e_attempt(store, run_id, e2e == "verified", title)
    verified = E2EResult.model_validate(
        {
            **common,
            **_times(started + timedelta(minutes=2), 30),
            "status": e2e,
            "attempts": [attempt],
            "cost_usd": attempt.cost_usd,
        }
    )
    write_model(store, run_key(run_id, "e2e", "result.json"), verified)


def e2e_attempt(store: ArtifactStore, run_id: str, passed: bool, title: str) -> E2EAttempt:
    item = ChecklistItem(
        check=f"The list shows word counts {title}"[:300],
        page="notes",
        passed=passed,
        screenshot="01-notes.png",
        observed="Each note ends with (N words).",
    )
    return E2EAttempt(
        attempt=1,
        head_sha="c" * 40,
        verdict="verified" if passed else "failed",
        report=E2EReport(checklist=[item], summary="Seen in the browser."),
        screenshots=[store.url(run_key(run_id, "e2e", "attempt-1", "screenshots", "01-notes.png"))],
        asks=[Ask(agent=agent(0.08, 6))],
    )


def _times(start: datetime, seconds: float) -> dict[str, datetime]:
    return {"started_at": start, "finished_at": start + timedelta(seconds=seconds)}
