"""What the e2e-verify phase leaves in the artifacts: one record per attempt and ``e2e/result.json``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jobs.models import PhaseResult, Record, run_key
from jobs.phases.e2e.report import E2EReport
from jobs.phases.kit.records import Ask, FixRecord, agents_cost

AttemptVerdict = Literal["verified", "failed", "unparseable", "error"]
E2EStatus = Literal["verified", "failed", "skipped", "error"]
PHASE = "e2e"


def e2e_key(run_id: str, *parts: str) -> str:
    """Where the e2e phase keeps ``parts`` of run ``run_id`` under the artifact prefix."""
    return run_key(run_id, PHASE, *parts)


class E2EAttempt(Record):
    """One verification: the report, what our code made of its evidence, and the fix after it."""

    attempt: int
    head_sha: str
    verdict: AttemptVerdict
    report: E2EReport | None = None
    evidence_problems: list[str] = Field(default_factory=list)
    screenshots: list[str] = Field(default_factory=list, description="artifact URLs, in the order taken")
    asks: list[Ask] = Field(default_factory=list)
    server_logs: dict[str, str] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    fix: FixRecord | None = None

    @property
    def cost_usd(self) -> float:
        return agents_cost(self.asks, self.fix)


class E2EResult(PhaseResult):
    """``e2e/result.json``: verified, failed (after the fix attempts), skipped (and why), or error."""

    phase: Literal["e2e"] = "e2e"
    status: E2EStatus
    attempts: list[E2EAttempt] = Field(default_factory=list)
    report: str | None = Field(default=None, description="the report's URL in the artifacts")
    report_in_branch: str | None = Field(default=None, description="the report's path in the branch")
    pull_request_comment: str | None = None
    cost_usd: float = 0.0
