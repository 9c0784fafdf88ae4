"""The agent runner: Claude Code headless, supervised, budgeted and fenced in."""

from jobs.agent.models import AgentOutcome, AgentRequest, AgentStatus, Usage
from jobs.agent.runner import AgentRunner

__all__ = ["AgentOutcome", "AgentRequest", "AgentRunner", "AgentStatus", "Usage"]
