"""The evidence our code gathers for the reviewer, and the PR body written from the records."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs.agent import AgentOutcome, AgentStatus
from jobs.phases.implement.records import ImplementResult
from jobs.phases.kit.records import FixRecord
from jobs.phases.review.body import BodyInputs, render_body
from jobs.phases.review.evidence import RunCounts, parse_counts, run_checks
from jobs.phases.review.records import ReviewResult, ReviewRound
from jobs.phases.review.verdict import parse_review
from jobs.pulls import clamp_body
from jobs.redact import Redactor
from jobs.target_config import TargetConfig
from jobs.tickets import Ticket
from tests.conftest import processes_matching

UNITTEST_OK = "test_a (t.T) ... ok\n\n" + "-" * 70 + "\nRan 12 tests in 0.004s\n\nOK (skipped=2)\n"
UNITTEST_FAILED = "Ran 5 tests in 0.1s\n\nFAILED (failures=2, errors=1)\n"
PYTEST = "....F.s\n=========== 1 failed, 5 passed, 1 skipped, 2 xfailed in 0.52s ===========\n"
PYTEST_Q = "..E.\n1 error, 3 passed in 0.10s\n"


def test_counts_are_read_from_unittest_and_pytest_summaries() -> None:
    assert parse_counts(UNITTEST_OK) == RunCounts(passed=10, failed=0, errors=0, skipped=2)
    assert parse_counts(UNITTEST_FAILED) == RunCounts(passed=2, failed=2, errors=1, skipped=0)
    assert parse_counts(PYTEST) == RunCounts(passed=5, failed=1, errors=0, skipped=3)
    assert parse_counts(PYTEST_Q) == RunCounts(passed=3, failed=0, errors=1, skipped=0)
    assert parse_counts("all good, trust me\n") == RunCounts()


def test_checks_report_failures_and_kill_a_hung_command_with_its_children(tmp_path: Path) -> None:
    marker = f"factory-hung-{time.monotonic_ns()}"
    config = TargetConfig(
        test="echo 'Ran 3 tests in 0.1s'; echo; echo 'FAILED (failures=1)'; exit 1",
        # A child in the same group, and one that left the session: both must go.
        lint=f"sh -c 'sleep 300 # {marker}' & setsid sleep 301 & sleep 300 # {marker}",
        check_timeout_seconds=1,
    )
    test, lint = run_checks(config, tmp_path, str)
    assert (test.exit_code, test.counts.failed, test.counts.passed) == (1, 1, 2)
    assert lint.timed_out and lint.exit_code is None and lint.seconds < 5
    time.sleep(0.2)
    assert processes_matching(marker) == [] and processes_matching("sleep 301") == []


def test_a_finished_check_is_not_held_up_by_a_background_child(tmp_path: Path) -> None:
    """The command's exit decides, not when its output closes; what it left running is stopped."""
    marker = f"factory-bg-{time.monotonic_ns()}"
    (check,) = run_checks(
        TargetConfig(test=f"sh -c 'sleep 30 # {marker}' & echo done", check_timeout_seconds=20), tmp_path, str
    )
    assert (check.exit_code, check.output_tail.strip()) == (0, "done") and check.seconds < 5
    time.sleep(0.2)
    assert processes_matching(marker) == []


def test_check_output_is_redacted_before_the_reviewer_sees_it(tmp_path: Path) -> None:
    secret = "ghp_evidenceCANARYevidenceCANARY00000009"
    (tmp_path / "leak.txt").write_text(secret)
    (check,) = run_checks(TargetConfig(test="cat leak.txt"), tmp_path, Redactor([secret]))
    assert secret not in check.output_tail and "[REDACTED]" in check.output_tail


PASSING = (
    '{"scores": {"correctness": 4, "code_quality": 4, "test_coverage": 4, "type_safety": 4, '
    '"security": 4, "documentation": 4}, "summary": "ok", "issues": []}'
)


def test_huge_agent_texts_are_cut_so_the_body_fits_and_keeps_the_flag_at_the_top() -> None:
    now = datetime.now(UTC)
    outcome = AgentOutcome(status=AgentStatus.SUCCESS, result_text="x\n" * 50_000)
    fix = FixRecord(
        round=1, status="committed", commits=["a" * 40], files=["f.py"], summary="y " * 40_000, agent=outcome
    )
    review = parse_review(PASSING)
    rounds = [ReviewRound(round=n, head_sha="b" * 40, verdict="unparseable", fix=fix) for n in (1, 2)]
    rounds.append(ReviewRound(round=3, head_sha="c" * 40, verdict="passed", review=review))
    run: dict[str, Any] = {
        "run_id": "r",
        "ticket_identifier": "IX-1",
        "branch": "factory/ix-1",
        "base_branch": "main",
        "started_at": now,
    }
    flags = ["the review still failed after 3 rounds."]
    result = ReviewResult(**run, status="failed_after_max", rounds=rounds, needs_human=flags)
    implement = ImplementResult(**run, status="done", agent=outcome)
    ticket = Ticket(identifier="IX-1", title="t", body="b")
    body = render_body(BodyInputs(ticket, result, implement, {"review 1": "file:///r"}, str))
    assert len(body) < 20_000 and clamp_body(body) == body
    assert body.count("[...]") == 3  # the implementer's summary and both fixers' summaries were cut
    assert body.startswith("> [!WARNING]\n> **Needs human review**: the review still failed after 3 rounds.")
    assert "| **verdict** | unparseable | unparseable | passed |" in body
