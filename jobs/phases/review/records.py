"""What each review round leaves in the artifacts (``review/review-{n}.json``, ``review/fix-{n}.json``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jobs.models import PhaseResult, Record
from jobs.phases.kit.records import Ask, FixRecord, agents_cost
from jobs.phases.review.evidence import CheckRun
from jobs.phases.review.verdict import Review

# passed/failed: a valid review; unparseable: no valid JSON after the re-asks; error: the reviewer
# could not be run to an answer at all (it timed out, crashed, ran out of turns).
RoundVerdict = Literal["passed", "failed", "unparseable", "error"]


class ReviewRound(Record):
    """One review of the branch at ``head_sha``, with the evidence it was given and the fix after it."""

    round: int
    head_sha: str
    verdict: RoundVerdict
    review: Review | None = None
    asks: list[Ask] = Field(default_factory=list)
    checks: list[CheckRun] = Field(default_factory=list)
    diff_chars: int = 0
    diff_truncated: bool = False
    fix: FixRecord | None = None

    @property
    def cost_usd(self) -> float:
        return agents_cost(self.asks, self.fix)


ReviewStatus = Literal["passed", "failed_after_max", "unparseable", "error"]


class PullRequestRef(Record):
    """Where the pull request is: a GitHub PR, or in local mode the record in the artifacts."""

    number: int
    url: str
    flagged: bool = False


class ReviewResult(PhaseResult):
    """``review/result.json``: what the review loop concluded and where the pull request is."""

    phase: Literal["review"] = "review"
    status: ReviewStatus
    rounds: list[ReviewRound] = Field(default_factory=list)
    pull_request: PullRequestRef | None = None
    needs_human: list[str] = Field(default_factory=list, description="why the PR is flagged, if it is")
    cost_usd: float = 0.0
