"""Where the Claude Code CLI is and how it is invoked headless.

The prompt never goes on the command line: it is written to a file in the run's private HOME and is
the CLI's stdin (``--print`` with no prompt argument reads it from there). Linux caps one argument at
128 KiB, so a big diff in argv failed the run, and every process on the machine can read another's
argv in ``/proc/<pid>/cmdline``, where ticket and diff text has no business.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobs.agent.models import AgentRequest, McpServer
from jobs.errors import AgentError


def bundled_cli() -> Path:
    """The CLI shipped inside the pinned ``claude-agent-sdk`` wheel (falls back to ``claude`` on PATH)."""
    # Found, not imported: the SDK's package pulls in the MCP library, a second of CPU for every job
    # process, and only its bundled binary is used.
    spec = importlib.util.find_spec("claude_agent_sdk")
    origin = spec.origin if spec is not None else None
    bundled = Path(origin).parent / "_bundled" / "claude" if origin else None
    if bundled is not None and bundled.is_file():
        return bundled
    found = shutil.which("claude")
    if found:
        return Path(found)
    raise AgentError("Claude Code CLI not found: reinstall claude-agent-sdk (its wheel bundles the CLI)")


def mcp_config(servers: Mapping[str, McpServer]) -> dict[str, Any]:
    """The ``--mcp-config`` document: servers keyed by name (the shape of a ``.mcp.json``)."""
    return {"mcpServers": {name: _entry(server) for name, server in servers.items()}}


def _entry(server: McpServer) -> dict[str, Any]:
    if server.url is not None:
        return {"type": "http", "url": server.url, "headers": server.headers}
    return {"type": "stdio", "command": server.command[0], "args": server.command[1:], "env": server.env}


def write_mcp_config(home: Path, servers: Mapping[str, McpServer]) -> Path | None:
    """Write the run's MCP config into its private HOME (None when the run has no MCP server)."""
    if not servers:
        return None
    path = home / "factory-mcp.json"
    path.write_text(json.dumps(mcp_config(servers), indent=2), encoding="utf-8")
    return path


def write_prompt(home: Path, prompt: str) -> Path:
    """Write the prompt into the run's private HOME, readable by its owner only, for the CLI's stdin."""
    path = home / "factory-prompt.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(prompt)
    return path


def cli_arguments(
    request: AgentRequest, settings_file: Path, mcp_config_file: Path | None = None
) -> list[str]:
    """Flags for one headless run; no prompt among them (it is read from stdin, see ``write_prompt``)."""
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
        # --mcp-config takes several values: it is always followed by another flag, never by a value.
        *(["--mcp-config", str(mcp_config_file)] if mcp_config_file else []),
        "--strict-mcp-config",
        "--tools",
        ",".join(request.tools),
        "--permission-mode",
        "dontAsk",
        "--no-session-persistence",
        # Not --bare, though it would spare 0.08 of a run's 0.64 CPU-s (CLI 2.1.330): it also cuts the
        # tools to Bash, Edit and Read whatever --tools names, so a scripted Write fails.
    ]
    if request.max_cost_usd is not None:
        args += ["--max-budget-usd", f"{request.max_cost_usd:.2f}"]
    if request.append_system_prompt:
        # Ours, never untrusted text, and bounded by AgentRequest: the one free text left in argv.
        args += ["--append-system-prompt", request.append_system_prompt]
    return args


def supervised(command: list[str], grace_seconds: float) -> list[str]:
    """Wrap ``command`` in the reaper, which owns and cleans up every process the agent starts.

    The reaper runs by file path in isolated mode (``-I``): the agent's working directory is an
    untrusted repository, and a ``jobs/`` package in it must not shadow ours. It needs only the standard
    library, so ``-S`` skips the ``site`` module too: 40 ms of CPU for each agent run, target command and
    dev server it wraps.
    """
    reaper = Path(__file__).with_name("reaper.py")
    return [sys.executable, "-I", "-S", str(reaper), "--grace", str(grace_seconds), "--", *command]
