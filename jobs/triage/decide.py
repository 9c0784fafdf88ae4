"""What to do with each finding tonight: fix it, or say why not.

Findings are ranked by impact, then each is decided in that order:

- fewer events than the threshold → ``below-threshold``;
- the same failure's last fix still has an open pull request → ``duplicate`` (that PR hears the new
  counts);
- the same failure was fixed before (its fix opened a PR, now merged or closed) and is back →
  ``regression``, fixed again on a new branch;
- otherwise ``new`` (a failure never seen, or one whose earlier attempt opened no PR);
- ``new`` and ``regression`` are fixed up to the night's cap; past it → ``over-cap``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from jobs.triage.findings import Finding
from jobs.triage.ledger import Attempt, FindingRecord


class Decision(StrEnum):
    NEW = "new"
    REGRESSION = "regression"
    DUPLICATE = "duplicate"
    BELOW_THRESHOLD = "below-threshold"
    OVER_CAP = "over-cap"

    @property
    def fixes(self) -> bool:
        return self in (Decision.NEW, Decision.REGRESSION)


class Verdict(BaseModel):
    """One finding's decision and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    decision: Decision
    reason: str
    pull_request: str | None = None  # the open PR of a duplicate
    pull_number: int | None = None


# What the PR host says of an earlier attempt: its open PR (url, number), or None; and whether it ever
# opened one.
OpenPull = Callable[[Attempt], tuple[str, int] | None]
HadPull = Callable[[Attempt], bool]


def rank(findings: list[Finding]) -> list[Finding]:
    """Highest impact first; ties by the most recent, then by fingerprint so the order is stable."""
    by_fingerprint = sorted(findings, key=lambda f: f.fingerprint)
    by_recency = sorted(
        by_fingerprint, key=lambda f: f.last_seen.timestamp() if f.last_seen else 0.0, reverse=True
    )
    return sorted(by_recency, key=lambda f: f.impact, reverse=True)


def decide(
    finding: Finding,
    record: FindingRecord | None,
    *,
    min_events: int,
    room: bool,
    open_pull: OpenPull,
    had_pull: HadPull,
) -> Verdict:
    """The decision for one finding, given its record (None: never seen) and whether the cap has room."""
    if finding.count < min_events:
        return Verdict(
            decision=Decision.BELOW_THRESHOLD,
            reason=f"{finding.count} event(s) in the window, under the threshold of {min_events}",
        )
    last = record.last_attempt if record else None
    decision, reason = Decision.NEW, "not seen before"
    if last is not None:
        pull = open_pull(last)
        if pull is not None:
            url, number = pull
            return Verdict(
                decision=Decision.DUPLICATE,
                reason=f"its fix from night {last.night} is still open as {url}",
                pull_request=url,
                pull_number=number,
            )
        if had_pull(last):
            decision = Decision.REGRESSION
            reason = f"fixed on night {last.night} ({last.pull_request or last.branch}) and back"
        else:
            reason = f"the attempt of night {last.night} ({last.identifier}) opened no pull request"
    elif finding.regressed:
        decision, reason = Decision.REGRESSION, "the source marks it resolved before and back"
    if not room:
        return Verdict(decision=Decision.OVER_CAP, reason=f"{decision.value}, but the night's cap is reached")
    return Verdict(decision=decision, reason=reason)
