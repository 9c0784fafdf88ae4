"""One phase's budget, shared by all its agent runs: turns per run, and time and dollars for the phase.

A phase may run several agents (a reviewer and a fixer, three rounds over). ``MAX_DURATION_SECONDS``
and ``MAX_COST_USD`` bound the phase as a whole, so each run gets what is left, not a fresh allowance;
the target's ``.factory.yaml`` can only lower the operator's limits, never raise them.
"""

from __future__ import annotations

import time
from pathlib import Path

from jobs.agent import AgentOutcome, AgentRequest
from jobs.agent.policy import CODING_TOOLS
from jobs.errors import StepFailed
from jobs.settings import JobSettings
from jobs.target_config import TargetConfig

MIN_RUN_SECONDS = 10.0
MIN_RUN_USD = 0.01


class BudgetSpent(StepFailed):
    """The phase has no time or money left for what was asked: a phase that can stop early with what it
    has (the onboarding's tuning) catches this one."""


def _lower(limit: float, wish: float | None) -> float:
    return min(limit, wish) if wish is not None else limit


class PhaseBudget:
    """Hands out agent requests within what is left of the phase's time and money."""

    def __init__(self, settings: JobSettings, config: TargetConfig) -> None:
        self.max_turns = int(_lower(settings.max_turns, config.budgets.max_turns))
        seconds = _lower(settings.max_duration_seconds, config.budgets.max_duration_seconds)
        self.deadline = time.monotonic() + seconds
        self.cost_left = _lower(settings.max_cost_usd, config.budgets.max_cost_usd)
        self.spent_usd = 0.0
        self.model_failure_seconds = settings.model_failure_seconds

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()

    def command_seconds(self, limit: float) -> float:
        """A repository command's timeout: its own limit, cut to what is left of the phase."""
        left = self.seconds_left()
        if left < MIN_RUN_SECONDS:
            raise BudgetSpent("the phase's time budget (MAX_DURATION_SECONDS) is spent")
        return min(limit, left)

    def request(
        self, prompt: str, cwd: Path, model: str, tools: tuple[str, ...] = CODING_TOOLS, reserve: float = 0.0
    ) -> AgentRequest:
        """A request for the next run; BudgetSpent when the phase has no time or money left for one.
        ``reserve`` seconds are kept for what must follow the run (the onboarding's eval)."""
        seconds = self.seconds_left() - reserve
        if seconds < MIN_RUN_SECONDS:
            after = f" with {reserve:.0f} s kept for what follows the run" if reserve else ""
            raise BudgetSpent(f"the phase's time budget (MAX_DURATION_SECONDS) is spent{after}")
        if self.cost_left < MIN_RUN_USD:
            raise BudgetSpent(f"the phase's cost budget is spent (${self.spent_usd:.2f})")
        return AgentRequest(
            prompt=prompt,
            cwd=cwd,
            model=model,
            tools=tools,
            max_turns=self.max_turns,
            max_duration_seconds=seconds,
            max_cost_usd=self.cost_left,
            model_failure_seconds=self.model_failure_seconds,
        )

    def spend(self, outcome: AgentOutcome) -> AgentOutcome:
        self.spent_usd += outcome.usage.cost_usd
        self.cost_left -= outcome.usage.cost_usd
        return outcome
