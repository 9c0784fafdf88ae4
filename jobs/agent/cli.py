"""Where the Claude Code CLI is and how it is invoked headless."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import claude_agent_sdk

from jobs.agent.models import AgentRequest
from jobs.errors import AgentError


def bundled_cli() -> Path:
    """The CLI shipped inside the pinned ``claude-agent-sdk`` wheel (falls back to ``claude`` on PATH)."""
    bundled = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    if bundled.is_file():
        return bundled
    found = shutil.which("claude")
    if found:
        return Path(found)
    raise AgentError("Claude Code CLI not found: reinstall claude-agent-sdk (its wheel bundles the CLI)")


def cli_arguments(request: AgentRequest, settings_file: Path) -> list[str]:
    """Flags for one headless run; the prompt goes last, after ``--``, so it is never read as a flag."""
    args = [
        "--print",
        "--output-format",
        "stream-json",
        "--verbose",
        "--model",
        request.model,
        "--max-turns",
        str(request.max_turns),
        "--settings",
        str(settings_file),
        "--setting-sources",
        "",
        "--strict-mcp-config",
        "--tools",
        ",".join(request.tools),
        "--permission-mode",
        "dontAsk",
        "--no-session-persistence",
    ]
    if request.max_cost_usd is not None:
        args += ["--max-budget-usd", f"{request.max_cost_usd:.2f}"]
    if request.append_system_prompt:
        args += ["--append-system-prompt", request.append_system_prompt]
    return [*args, "--", request.prompt]


def supervised(command: list[str], grace_seconds: float) -> list[str]:
    """Wrap ``command`` in the reaper, which owns and cleans up every process the agent starts.

    The reaper runs by file path in isolated mode (``-I``): the agent's working directory is an
    untrusted repository, and a ``jobs/`` package in it must not shadow ours.
    """
    reaper = Path(__file__).with_name("reaper.py")
    return [sys.executable, "-I", str(reaper), "--grace", str(grace_seconds), "--", *command]
