"""The MCP tools of ours an agent gets (``jobs/mcp``), served by the harness for the length of its run.

Which agent gets which is the target's ``tools:`` section (``jobs.target_config.Tools``), with these
defaults: a ticket's implementer and fixer get ``linear``; a finding's get ``sentry`` and ``langfuse``
where the triage reads them; the e2e agent gets ``database`` when there is a database; the reviewer
none. Each tool is a server process of ours, as our uid, holding the provider's credentials in its own
environment; the CLI gets only its URL and the run's bearer (``jobs.mcp.serve``). The servers that call
a provider's API run in our network (``outside``) while listening on the box's loopback; the database
tool stays in the box's network, where the database is.

A tool that cannot be served here (no credentials for it, no triage section naming its source, a server
that does not start) is left out with one warning line: the agent works from its ticket as before, and
the phase goes on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from jobs.agent.models import McpServer
from jobs.artifacts import read_model
from jobs.errors import AgentError, ArtifactError, ArtifactNotFound, ConfigError
from jobs.logs import get_logger
from jobs.mcp.config import database, langfuse, linear, sentry
from jobs.mcp.serve import ServedTool
from jobs.prompts import FINDING_LABEL
from jobs.services import Services, ticket_log_dir
from jobs.settings import JobSettings
from jobs.target_config import TargetConfig, ToolName
from jobs.tickets import Ticket
from jobs.triage.findings import Finding
from jobs.triage.ledger import evidence_key

Agent = Literal["implement", "fix", "review", "e2e"]


@dataclass(frozen=True)
class ToolScope:
    """What the run's tools are scoped to: its ticket (or finding), and the e2e database if any."""

    ticket: str
    sentry_issue: str | None = None
    trace_ids: tuple[str, ...] = ()
    database_dsn: str | None = None


def chosen_tools(
    agent: Agent, config: TargetConfig, settings: JobSettings, has_database: bool
) -> list[ToolName]:
    """The tools ``agent`` gets: the target's choice, else the default for the run."""
    chosen = getattr(config.tools, agent)
    if chosen is not None:
        return list(chosen)
    if agent in ("implement", "fix"):
        if settings.job == "solve-chatbot-issues":
            triage = config.triage
            named: list[ToolName] = []
            if triage is not None and triage.sentry is not None:
                named.append("sentry")
            if triage is not None and triage.langfuse is not None:
                named.append("langfuse")
            return named
        return ["linear"]
    if agent == "e2e":
        return ["database"] if has_database else []
    return []


@contextlib.contextmanager
def served_tools(
    services: Services,
    settings: JobSettings,
    config: TargetConfig,
    agent: Agent,
    scope: ToolScope,
    logs: Path,
) -> Iterator[dict[str, McpServer]]:
    """The chosen tools, served while the block runs; their MCP entries by server name."""
    with contextlib.ExitStack() as stack:
        entries: dict[str, McpServer] = {}
        for name in chosen_tools(agent, config, settings, scope.database_dsn is not None):
            try:
                command, env, outside = _spec(name, services, settings, config, scope)
            except ConfigError as exc:
                get_logger().warning("the %s tool is left out for the %s agent: %s", name, agent, exc)
                continue
            log = logs / f"tool-{name}-{agent}.log"
            try:
                tool = stack.enter_context(ServedTool(services.box, command, env, log, outside=outside))
            except AgentError as exc:  # it did not start: the agent works without it, as before tools
                get_logger().warning("the %s tool could not be served to the %s agent: %s", name, agent, exc)
                continue
            entries[name] = tool.entry()
        yield entries


def _spec(
    name: ToolName, services: Services, settings: JobSettings, config: TargetConfig, scope: ToolScope
) -> tuple[list[str], dict[str, str], bool]:
    """The tool's command, its environment (credentials and scope) and whether it runs in our network."""
    if name == "linear":
        env = linear.linear_env(settings, scope.ticket, ticket_log_dir(settings, services.workdir))
        return linear.command(), env, settings.ticket_source == "linear"
    if name == "database":
        if scope.database_dsn is None:
            raise ConfigError("no database in this phase")
        return database.command(), database.database_env(scope.database_dsn), False
    triage = config.triage
    if name == "sentry":
        if triage is None or triage.sentry is None:
            raise ConfigError("the target's triage section names no Sentry project")
        return sentry.command(), sentry.sentry_env(settings, triage.sentry, scope.sentry_issue), True
    if triage is None or triage.langfuse is None:
        raise ConfigError("the target's triage section names no Langfuse filters")
    env = langfuse.langfuse_env(
        settings, triage.langfuse, list(scope.trace_ids), window_hours=triage.window_hours
    )
    return langfuse.command(), env, True


def tool_scope(services: Services, ticket: Ticket, database_dsn: str | None = None) -> ToolScope:
    """The run's scope: its ticket; for a finding, its Sentry issue and Langfuse traces as the triage
    kept them (``triage/evidence/<ID>.json``)."""
    finding: Finding | None = None
    if FINDING_LABEL in ticket.labels:
        with contextlib.suppress(ArtifactNotFound, ArtifactError):
            finding = read_model(services.store, evidence_key(ticket.identifier), Finding)
    if finding is None:
        return ToolScope(ticket.identifier, database_dsn=database_dsn)
    traces = tuple(example.trace_id for example in finding.evidence.examples)
    return ToolScope(ticket.identifier, finding.sentry_issue_id, traces, database_dsn)
