"""The pull request's description survives re-runs (issue 12, item 8).

A re-run resumes the branch: when its implementer finds nothing more to change, the PR must keep the
description of the change; when it changes more, its summary is added under the first one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jobs.agent.models import AgentOutcome, AgentStatus
from jobs.phases.implement.records import ImplementResult
from jobs.phases.review.body import DESCRIPTION_END, DESCRIPTION_START, description_lines
from tests.jobs.phases.test_review_phase import pull_record
from tests.phase_jobs import implement_job, job_env, review_job

FIRST = "Added a `word_count` field to every note the API returns (IX-101)."


def test_a_rerun_that_changes_nothing_keeps_the_description(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    first = job_env("IX-101", remote, tmp_path, model_auth, "r1")
    assert implement_job(first).status == "done"
    review_job(first)
    _, body = pull_record(tmp_path, "factory/ix-101")
    assert FIRST in body

    again = job_env("IX-101", remote, tmp_path, model_auth, "r2")
    resumed = implement_job(again)
    # The branch holds the work, so the run goes on to review; this run pushed nothing.
    assert resumed.status == "done" and not resumed.pushed and resumed.agent is not None
    assert "nothing more to change" in (resumed.agent.result_text or "")
    review_job(again)
    _, body = pull_record(tmp_path, "factory/ix-101")
    assert FIRST in body and "nothing more to change" not in body
    assert body.count(DESCRIPTION_START) == 1 and "run `r2`" in body  # the header names the new run


def _implemented(run_id: str, pushed: bool, summary: str) -> ImplementResult:
    agent = AgentOutcome(status=AgentStatus.SUCCESS, result_text=summary)
    return ImplementResult(
        run_id=run_id, ticket_identifier="IX-1", status="done", branch="b", base_branch="main",
        started_at=datetime(2026, 12, 4, tzinfo=UTC), agent=agent, pushed=pushed,
    )  # fmt: skip


def test_a_rerun_that_changes_more_adds_its_summary_once() -> None:
    first = "\n".join(description_lines("", _implemented("r1", True, "did A"), "r1", str))
    body = f"Ticket: x\n\n{first}\n\n### Review"
    second = "\n".join(description_lines(body, _implemented("r2", True, "did B"), "r2", str))
    assert "> did A" in second and "> did B" in second and second.index("did A") < second.index("did B")
    assert second.startswith(DESCRIPTION_START) and second.endswith(DESCRIPTION_END)
    again = "\n".join(description_lines(f"x\n{second}\ny", _implemented("r2", True, "did B"), "r2", str))
    assert again == second  # the same run re-running its review adds nothing twice
    nothing = description_lines(f"x\n{second}", _implemented("r3", False, "nothing more"), "r3", str)
    assert "\n".join(nothing) == second
