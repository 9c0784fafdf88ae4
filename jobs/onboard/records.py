"""What the onboarding leaves in the artifacts: ``onboard/result.json`` and one file per eval run.

Every accuracy here was computed by our code from the target's eval command, run by our code
(``evaluate.py``); nothing an agent said is a figure.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jobs.agent.models import AgentOutcome
from jobs.models import PhaseResult
from jobs.onboard.evaluate import EvalRun, PartScore

Mode = Literal["full", "eval-only", "update-skills"]
OnboardStatus = Literal["done", "no_changes", "failed"]
Purpose = Literal["dataset", "skills", "tune", "update"]


class Score(BaseModel):
    """The two parts' figures of one eval run, and where the run is kept."""

    model_config = ConfigDict(extra="forbid")
    tuning: PartScore
    held_out: PartScore
    eval: str = ""  # the eval run's file in the artifacts

    @classmethod
    def of(cls, run: EvalRun, url: str) -> Score:
        return cls(tuning=run.tuning, held_out=run.held_out, eval=url)


class AgentRun(BaseModel):
    """One agent run of the onboarding, and what our code took from it."""

    model_config = ConfigDict(extra="forbid")
    purpose: Purpose
    agent: AgentOutcome | None = None
    transcript: str | None = None
    carried: list[str] = Field(default_factory=list)
    refused: dict[str, str] = Field(default_factory=dict)  # path -> why it was refused and undone
    # Files of the repository left out of its tree because they hold a case it must not see.
    hidden: list[str] = Field(default_factory=list)
    seconds: float = 0.0


class TuningRound(BaseModel):
    """One round: the agent's run, the eval after it, and whether the round was kept."""

    model_config = ConfigDict(extra="forbid")
    round: int
    run: AgentRun
    before: Score
    after: Score | None = None  # None: the eval could not run after it (the round is undone)
    kept: bool
    why: str = ""  # why it was undone, or what ended the loop after it


class DatasetInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    cases: int
    tuning: int
    held_out: int
    held_out_ids: list[str]  # ids only: the cases' text is never in the artifacts before the PR


class OnboardResult(PhaseResult):
    """``onboard/result.json``."""

    phase: Literal["onboard"] = "onboard"
    status: OnboardStatus
    client: str = ""
    mode: Mode = "full"
    # The ticket the review and e2e phases read for this onboarding (jobs.onboard.tickets).
    ticket: str = ""
    target_accuracy: float | None = None
    dataset: DatasetInfo | None = None
    writing: list[AgentRun] = Field(default_factory=list)  # full: the dataset's run and the skills' run
    baseline: Score | None = None
    rounds: list[TuningRound] = Field(default_factory=list)
    final: Score | None = None
    stopped: str = ""  # why the tuning stopped early, when the phase's time or money ran out
    since: str | None = None  # update-skills: the commit the knowledge base changed since
    knowledge_changes: list[str] = Field(default_factory=list)
    needs_human: list[str] = Field(default_factory=list)
    commits: list[str] = Field(default_factory=list)
    pushed: bool = False
    cost_usd: float = 0.0
    failures: list[str] = Field(default_factory=list)  # eval-only: the failing cases' ids
    # One line per eval figure the workflow tells Slack (baseline, each round): see summary.notices.
    notices: list[str] = Field(default_factory=list)
