"""What goes into an agent run and what comes out of it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from jobs.agent.policy import CODING_TOOLS

MAX_SYSTEM_PROMPT_CHARS = 8_000


class AgentStatus(StrEnum):
    """How an agent run ended, as the harness judges it (not as the CLI's subtype claims)."""

    SUCCESS = "success"
    ERROR = "error"  # the CLI reported an error result (is_error, or an error subtype)
    MAX_TURNS = "max_turns"
    OVER_BUDGET = "over_budget"
    TIMED_OUT = "timed_out"
    NO_RESULT = "no_result"  # the process ended without a result event
    MODEL_UNAVAILABLE = "model_unavailable"  # the model API kept failing past the run's failure budget

    @property
    def ok(self) -> bool:
        return self is AgentStatus.SUCCESS


# Claude Code names an MCP tool ``mcp__<server>__<tool>``: a server name outside this set would be rewritten,
# and the permission rule ``mcp__<server>`` we write would no longer match it.
McpServerName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]


class McpServer(BaseModel):
    """An MCP server for the run: a stdio one the CLI starts (``command``, with the agent's environment
    plus ``env``), or one the harness serves over HTTP (``url``, with ``headers``: the run's bearer)."""

    model_config = ConfigDict(extra="forbid")
    command: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if bool(self.command) == (self.url is not None):
            raise ValueError("an MCP server is either a command (stdio) or a url (http)")
        return self


class AgentRequest(BaseModel):
    """One headless Claude Code run."""

    model_config = ConfigDict(extra="forbid")
    prompt: str
    cwd: Path
    model: str = "sonnet"
    max_turns: int = Field(default=100, gt=0)
    max_duration_seconds: float = Field(default=7200, gt=0)
    max_cost_usd: float | None = Field(default=None, gt=0)
    # How long the model API may keep failing (429, 5xx, 529, a stalled stream) before the run stops
    # with MODEL_UNAVAILABLE; None: 5% of the wall clock, within 30-120 s.
    model_failure_seconds: float | None = Field(default=None, gt=0)

    def failure_budget(self) -> float:
        if self.model_failure_seconds is not None:
            return self.model_failure_seconds
        return min(max(0.05 * self.max_duration_seconds, 30.0), 120.0)

    # Ours (never untrusted text), and the one free text still passed in argv: kept far below the
    # kernel's 128 KiB cap on one argument. The prompt itself goes through a file on stdin.
    append_system_prompt: str | None = Field(default=None, max_length=MAX_SYSTEM_PROMPT_CHARS)
    tools: tuple[str, ...] = Field(default=CODING_TOOLS, min_length=1)
    # Ours only (``--strict-mcp-config``); every tool of each server is allowed as ``mcp__<name>``.
    mcp_servers: dict[McpServerName, McpServer] = Field(default_factory=dict)


class Usage(BaseModel):
    """Tokens and dollars, as read from the stream."""

    model_config = ConfigDict(extra="forbid")
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: float = 0.0


class PermissionDenial(BaseModel):
    """One tool use the CLI's permission rules refused, as its ``result`` event lists it.

    The input is the agent's (untrusted) text as compact JSON: whoever keeps it redacts and clamps it."""

    model_config = ConfigDict(extra="forbid")
    tool_name: str
    tool_use_id: str = ""
    tool_input: str = ""


class AgentOutcome(BaseModel):
    """The harness's verdict on one run, plus the figures a summary or PR body needs."""

    model_config = ConfigDict(extra="forbid")
    status: AgentStatus
    detail: str = ""
    turns: int = 0
    usage: Usage = Field(default_factory=Usage)
    result_text: str | None = None
    session_id: str | None = None
    exit_code: int | None = None
    duration_seconds: float = 0.0
    permission_denials: int = 0
