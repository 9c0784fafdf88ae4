"""Runs on disk as the phases leave them, built from the real result models (no agent, no git).

``build_run`` writes a manifest and the results of the phases asked for, with a review round carrying
the six scores and a check, and an e2e attempt carrying a checklist, so every view has real records to
read. ``build_onboarding`` writes a client's onboarding (no manifest, as the onboard phase writes
none): a baseline and two tuning rounds, one kept and one undone, their eval records and transcripts.
The listing tests, the CLI tests, the report tests and the listing benchmark share them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from jobs.agent.models import AgentOutcome, AgentStatus, Usage
from jobs.artifacts import ArtifactStore, write_model
from jobs.models import RunManifest, run_key
from jobs.onboard.evaluate import EvalRun, PartScore
from jobs.onboard.records import AgentRun, DatasetInfo, Mode, OnboardResult, Score, TuningRound
from jobs.onboard.tickets import branch_for_onboarding, identifier_for
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


def _score(store: ArtifactStore, run_id: str, label: str, tuning: int, held_out: int) -> Score:
    """An eval run out of 25 tuning and 11 held-out cases, kept in the artifacts as the phase keeps it."""
    run = EvalRun(
        command="python3 eval.py --cases cases.jsonl",
        exit_code=0,
        seconds=2.0,
        tuning=PartScore(cases=25, passed=tuning),
        held_out=PartScore(cases=11, passed=held_out),
    )
    key = run_key(run_id, "onboard", f"eval-{label}.json")
    write_model(store, key, run)
    return Score.of(run, store.url(key))


def _tuning_run(
    store: ArtifactStore, run_id: str, n: int, carried: list[str], refused: dict[str, str]
) -> AgentRun:
    key = run_key(run_id, "onboard", f"transcript-{n}-tune.jsonl")
    ending = {"type": "result", "subtype": "success", "num_turns": 5, "total_cost_usd": 0.2, "result": "ok"}
    store.write_bytes(key, (json.dumps(ending) + "\n").encode())
    return AgentRun(
        purpose="tune",
        agent=agent(0.20, 5),
        transcript=store.url(key),
        carried=carried,
        refused=refused,
        seconds=42.0,
    )


def build_onboarding(
    store: ArtifactStore,
    run_id: str,
    *,
    client: str = "acme-shop.example",
    mode: Mode = "full",
    started: datetime = T0,
    review: str | None = "passed",
    e2e: str | None = "verified",
    carried: str = "clients/acme-shop.example/skills/returns.md",
    refused: str = "the dataset is frozen: tuning may never change it",
    needs_human: tuple[str, ...] = (),
) -> OnboardResult:
    """An onboarding's records: the onboard result (baseline 64% tuning, round 1 kept at 80%, round 2
    undone at 72%), then, unless it is eval-only, the review and e2e of its branch."""
    identifier, branch = identifier_for(client, mode), branch_for_onboarding(client, mode)
    baseline = _score(store, run_id, "baseline", 16, 7)
    first = _score(store, run_id, "round-1", 20, 8)
    second = _score(store, run_id, "round-2", 18, 9)
    dataset = f"clients/{client}/eval.jsonl"
    rounds = [
        TuningRound(
            round=1, run=_tuning_run(store, run_id, 3, [carried], {}), before=baseline, after=first, kept=True
        ),
        TuningRound(
            round=2,
            run=_tuning_run(store, run_id, 4, [], {dataset: refused}),
            before=first,
            after=second,
            kept=False,
            why="the tuning accuracy fell",
        ),
    ]
    eval_only = mode == "eval-only"
    result = OnboardResult.model_validate(
        {
            "run_id": run_id,
            "ticket_identifier": identifier,
            "ticket": "" if eval_only else identifier,
            "branch": branch,
            "base_branch": "main",
            **_times(started, 300),
            "status": "done",
            "client": client,
            "mode": mode,
            "target_accuracy": 0.9,
            "dataset": DatasetInfo(path=dataset, cases=36, tuning=25, held_out=11, held_out_ids=["c-30"]),
            "baseline": baseline,
            "rounds": [] if eval_only else rounds,
            "final": baseline if eval_only else first,
            "needs_human": list(needs_human),
            "commits": [] if eval_only else ["d" * 40],
            "pushed": not eval_only,
            "cost_usd": 0.0 if eval_only else 0.4,
            "failures": ["c-01", "c-02"] if eval_only else [],
            "head_sha": None if eval_only else "d" * 40,
        }
    )
    write_model(store, run_key(run_id, "onboard", "result.json"), result)
    if eval_only or review is None:
        return result
    common = {"run_id": run_id, "ticket_identifier": identifier, "branch": branch, "base_branch": "main"}
    reviewed = ReviewResult.model_validate(
        {
            **common,
            **_times(started + timedelta(minutes=6), 50),
            "status": review,
            "rounds": [review_round(1, review == "passed")],
            "pull_request": PullRequestRef(number=9, url="https://github.com/acme/app/pull/9"),
            "cost_usd": 0.05,
        }
    )
    write_model(store, run_key(run_id, "review", "result.json"), reviewed)
    if e2e is None:
        return result
    attempt = e2e_attempt(store, run_id, e2e == "verified", "")
    verified = E2EResult.model_validate(
        {
            **common,
            **_times(started + timedelta(minutes=7), 30),
            "status": e2e,
            "attempts": [attempt],
            "cost_usd": attempt.cost_usd,
        }
    )
    write_model(store, run_key(run_id, "e2e", "result.json"), verified)
    return result
