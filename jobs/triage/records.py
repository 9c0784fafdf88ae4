"""What the triage writes: its ``result.json`` (what the workflow fans out) and the night's findings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jobs.models import PhaseResult, Record, utc_now
from jobs.triage.decide import Decision
from jobs.triage.findings import Finding

TriageStatus = Literal["done", "already-claimed", "error"]


def started(run_id: str, base_branch: str) -> dict[str, Any]:
    """The fields a night's phase result has before anything can fail: it is about no ticket or branch."""
    return {
        "run_id": run_id,
        "ticket_identifier": "",
        "branch": "",
        "base_branch": base_branch,
        "started_at": utc_now(),
        "status": "error",
    }


class Selected(BaseModel):
    """One finding to fix tonight: the ids its chain runs with."""

    model_config = ConfigDict(extra="forbid")
    identifier: str
    run_id: str
    branch: str
    title: str
    regression: bool = False


class Entry(BaseModel):
    """One finding of the night with its decision, as findings.json lists it."""

    model_config = ConfigDict(extra="forbid")
    finding: Finding
    decision: Decision
    reason: str
    identifier: str | None = None
    run_id: str | None = None
    branch: str | None = None
    pull_request: str | None = None
    outcome: str | None = Field(default=None, description="what its chain ended as (written at close)")


class NightFindings(Record):
    """``runs/<run_id>/triage/findings.json``: every finding of the night and what was decided."""

    night: str
    run_id: str
    window_hours: int
    report_only: bool
    sources: dict[str, int] = Field(default_factory=dict)
    entries: list[Entry] = Field(default_factory=list)

    def tally(self) -> dict[str, int]:
        counts = {"found": len(self.entries)}
        for decision in Decision:
            counts[decision.value] = sum(1 for e in self.entries if e.decision is decision)
        return counts


class TriageResult(PhaseResult):
    """``triage/result.json``: the night's claim, counts, and the findings the workflow fans out."""

    phase: Literal["triage"] = "triage"
    status: TriageStatus
    night: str = ""
    report_only: bool = False
    selected: list[Selected] = Field(default_factory=list)
    concurrency: int = Field(default=1, description="how many findings' chains the workflow runs at once")
    counts: dict[str, int] = Field(default_factory=dict)
    findings: str = Field(default="", description="where findings.json is")


class CloseResult(PhaseResult):
    """What the night's closing step found of each chain, for the one Slack summary."""

    phase: Literal["triage-close"] = "triage-close"
    status: Literal["done", "error"]
    night: str = ""
    counts: dict[str, int] = Field(default_factory=dict)
    pull_requests: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    line: str = Field(default="", description="the night in one line, as Slack gets it")
