"""Records every phase with agents shares: one ask of an agent, and one fixer run after a failed check."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jobs.agent.models import AgentOutcome
from jobs.models import Record


class Ask(Record):
    """One request to the reviewer: the first, or a re-ask after a reply that could not be used."""

    agent: AgentOutcome
    parse_error: str | None = None
    transcript: str | None = None


FixStatus = Literal["committed", "no_changes", "failed"]


class FixRecord(Record):
    """What the fixer did between two reviews."""

    round: int
    status: FixStatus
    detail: str = ""
    commits: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    summary: str = ""
    agent: AgentOutcome | None = None
    transcript: str | None = None


def agents_cost(asks: list[Ask], fix: FixRecord | None) -> float:
    """Dollars spent by the asks of a round (or attempt) and the fix after it."""
    agents = [ask.agent for ask in asks] + ([fix.agent] if fix and fix.agent else [])
    return round(sum(agent.usage.cost_usd for agent in agents), 6)
