"""What the agent may do and see: its tools, its permissions, its environment.

The target repository is untrusted: its ``CLAUDE.md``, ``.claude/settings.json``, hooks and
``.mcp.json`` could widen permissions or carry instructions. So the CLI loads no settings source
(``--setting-sources ""``), no MCP server but ours (``--strict-mcp-config``), and only the settings
this module writes; the tools of our MCP servers are allowed by server (``mcp__<server>``). The
environment is an allowlist: the basics and the run's model auth (a per-run token for the harness's
model proxy, never the real key: see ``runner``), never a third-party token, whatever the parent
process holds.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# Built-in tools a coding phase needs; everything else (web access, sub-agents, cron, worktrees) is off.
CODING_TOOLS = ("Read", "Edit", "Write", "Bash", "Glob", "Grep")
# A reviewer reads; it neither edits nor runs anything (its evidence is gathered by our code).
READ_ONLY_TOOLS = ("Read", "Glob", "Grep")

# Defence in depth: the env allowlist keeps tokens away from the agent and our code does all pushes,
# but an agent should not even try to publish, fetch from the network or read secret files.
DENIED = (
    "Bash(git push:*)",
    "Bash(git remote:*)",
    "Bash(git config:*)",
    "Bash(git credential:*)",
    "Bash(curl:*)",
    "Bash(wget:*)",
    "Bash(ssh:*)",
    "Bash(env)",
    "Bash(printenv:*)",
    "Read(**/.env)",
    "Read(**/.env.*)",
    "Read(~/.ssh/**)",
    "Read(~/.config/gcloud/**)",
    "Read(//etc/factory/**)",
    "Read(//proc/**)",  # another process's environ or cmdline; the browser agent could screenshot it
    "WebFetch",
    "WebSearch",
)

# Variables passed through from the parent when present: locale and terminal basics, and model auth.
# Where the machine keeps the CA certificates to trust (paths, never secrets): a target's install
# reaches its package registries through a corporate proxy with them.
CA_FILE_VARIABLES = (
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
)
PASSTHROUGH = ("LANG", "LC_ALL", "TZ", "SSL_CERT_DIR", *CA_FILE_VARIABLES)
MODEL_AUTH = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL")


def mcp_rule(server: str) -> str:
    """The rule allowing every tool of one MCP server (the CLI names them ``mcp__<server>__<tool>``)."""
    return f"mcp__{server}"


def managed_settings(
    tools: tuple[str, ...] = CODING_TOOLS, mcp_servers: Iterable[str] = ()
) -> dict[str, Any]:
    """The only Claude Code settings in force for a run that may use ``tools`` and our ``mcp_servers``."""
    return {
        "permissions": {
            "allow": [*tools, *(mcp_rule(name) for name in mcp_servers)],
            "deny": list(DENIED),
            "defaultMode": "dontAsk",
            "disableBypassPermissionsMode": "disable",
        },
        "disableAllHooks": True,
        # The run's HOME is its own and goes with it: a memory the agent saved would be read by no one,
        # and the instructions for it cost every request of the run about 530 input tokens.
        "autoMemoryEnabled": False,
        "enableAllProjectMcpServers": False,
        "includeCoAuthoredBy": False,
        "cleanupPeriodDays": 1,
        "env": {},
    }


def write_settings(
    home: Path, tools: tuple[str, ...] = CODING_TOOLS, mcp_servers: Iterable[str] = ()
) -> Path:
    """Write the managed settings into the run's private HOME and return the file."""
    path = home / "factory-settings.json"
    path.write_text(json.dumps(managed_settings(tools, mcp_servers), indent=2), encoding="utf-8")
    return path


def agent_path(parent_path: str) -> str:
    """The parent's PATH without our own virtualenv, so the agent finds the target's tools, not ours."""
    ours = str(Path(sys.prefix) / "bin")
    return os.pathsep.join(p for p in parent_path.split(os.pathsep) if p and p != ours)


def agent_environment(parent: Mapping[str, str], home: Path, model_auth: Mapping[str, str]) -> dict[str, str]:
    """The agent's whole environment: an allowlist, built fresh (never a filtered copy of ``parent``)."""
    env = {
        "PATH": agent_path(parent.get("PATH", "/usr/local/bin:/usr/bin:/bin")),
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "TERM": "dumb",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "GIT_TERMINAL_PROMPT": "0",
        # In a box the workspace's .git is the harness's: the agent may read it (git diff, log).
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": "*",
        "USER": "factory",
        "LOGNAME": "factory",
    }
    env.update({k: parent[k] for k in PASSTHROUGH if k in parent})
    env.update({k: v for k, v in model_auth.items() if k in MODEL_AUTH and v})
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return env
