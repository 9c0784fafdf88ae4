"""What the implement phase leaves in the artifacts: ``implement/result.json``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jobs.agent.models import AgentOutcome
from jobs.models import PhaseResult

ImplementStatus = Literal["done", "no_changes", "failed", "timed_out"]


class ImplementResult(PhaseResult):
    """``implement/result.json``: what the implement phase did and what the workflow should say."""

    phase: Literal["implement"] = "implement"
    status: ImplementStatus
    commits: list[str] = Field(default_factory=list)
    resumed: bool = False
    pushed: bool = False
    agent: AgentOutcome | None = None
    transcript: str | None = None
