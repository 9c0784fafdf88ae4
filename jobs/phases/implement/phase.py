"""The implement phase: clone → install → agent → commit → push → ``implement/result.json``.

Idempotent: the branch comes from the ticket, so a re-run resumes it; the manifest is created once;
the result is rewritten by each attempt. Partial work from a failed or timed-out agent is still
committed and pushed (nothing lost), and the result says it failed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from jobs import prompts
from jobs.agent import AgentOutcome, AgentStatus
from jobs.artifacts import write_model
from jobs.errors import ArtifactExists
from jobs.faults import crash_point
from jobs.logs import get_logger
from jobs.models import RunManifest, run_key
from jobs.phases.implement.records import ImplementResult, ImplementStatus
from jobs.phases.kit.budget import PhaseBudget
from jobs.phases.kit.steps import (
    Stopwatch,
    log_failure,
    read_ticket,
    result_fields,
    run_agent,
    tell_ticket,
    ticket_text,
    write_result,
)
from jobs.phases.kit.tools import served_tools, tool_scope
from jobs.services import Services
from jobs.settings import JobSettings
from jobs.target_config import base_target_config
from jobs.tickets import Ticket
from jobs.workspace import Workspace, safe_title
from jobs.workspace.install import install_in

PHASE = "implement"


def run_implement(settings: JobSettings, services: Services, run_id: str) -> ImplementResult:
    """Run the phase and write its result, whatever happens; raises only if even that write fails."""
    log = get_logger()
    clock = Stopwatch()
    result = ImplementResult(**result_fields(settings, run_id), status="failed")
    ticket: Ticket | None = None
    workspace: Workspace | None = None
    outcome: AgentOutcome | None = None
    try:
        ticket = read_ticket(services, result.ticket_identifier, clock)
        _write_manifest(services, settings, run_id, ticket, result.branch)
        workspace = Workspace(
            services.git,
            settings.repo_url or "",
            services.place("repo"),
            result.branch,
            settings.base_branch,
            services.box,
        )
        with clock.step("clone"):
            workspace.clone()
        crash_point("implement:clone")
        log.info("branch %s (%s)", result.branch, "resumed" if workspace.resumed else "new")
        config = base_target_config(workspace)
        with clock.step("install"):
            install_log = install_in(workspace, config)
        services.store.write_bytes(
            run_key(run_id, PHASE, "install.log"), services.redact(install_log).encode()
        )
        budget = PhaseBudget(settings, config)
        request = budget.request(
            _prompt(ticket, workspace, config.test), workspace.path, config.models.implement
        )
        with clock.step("agent"):
            transcript_key = run_key(run_id, PHASE, "transcript.jsonl")
            scope = tool_scope(services, ticket)
            with served_tools(
                services, settings, config, "implement", scope, services.workdir / "tools"
            ) as tools:
                request = request.model_copy(update={"mcp_servers": tools})
                outcome, transcript = run_agent(services, budget, request, transcript_key)
        result = result.model_copy(update={"transcript": transcript, "agent": outcome})
        log.info("agent: %s in %d turns, $%.4f", outcome.status, outcome.turns, outcome.usage.cost_usd)
        with clock.step("commit_push"):
            workspace.adopt_agent_tree()
            status, pushed = _commit_and_push(
                workspace, ticket, outcome, run_id, services.redact.finds_secret
            )
        result = result.model_copy(
            update={
                "status": status,
                "detail": outcome.detail,
                "head_sha": workspace.head(),
                "commits": workspace.branch_commits(),
                "pushed": pushed,
            }
        )
    except Exception as exc:
        log_failure("implement", exc)
        services.security.note_failure(exc)  # a commit refused for a secret or its size
        timed_out = outcome is not None and outcome.status is AgentStatus.TIMED_OUT
        result = result.model_copy(
            update={"status": "timed_out" if timed_out else "failed", "detail": services.redact(str(exc))}
        )
    resumed = workspace.resumed if workspace is not None else False
    result = write_result(services, PHASE, result.model_copy(update={"resumed": resumed}), clock)
    if ticket is not None:
        _tell_ticket(services, ticket, result)
    return result


def _commit_and_push(
    workspace: Workspace,
    ticket: Ticket,
    outcome: AgentOutcome,
    run_id: str,
    holds_secret: Callable[[str], bool],
) -> tuple[ImplementStatus, bool]:
    """Commit and push what the agent left; returns the phase status and whether anything was pushed."""
    title = safe_title(ticket.title)
    note = "" if outcome.status.ok else f"\n\nPartial work: the agent ended with {outcome.status}."
    workspace.commit_all(
        f"{ticket.identifier}: {title}\n\nWritten by Factory run {run_id}.{note}", holds_secret
    )
    crash_point("implement:commit")
    changed = bool(workspace.new_commits())
    if changed:
        workspace.push()
        crash_point("implement:push")
    if outcome.status is AgentStatus.TIMED_OUT:
        return "timed_out", changed
    if not outcome.status.ok:
        return "failed", changed
    if not changed and not workspace.resumed:
        return "no_changes", changed
    return "done", changed


def _prompt(ticket: Ticket, workspace: Workspace, test_command: str | None) -> str:
    return prompts.render(
        PHASE,
        identifier=ticket.identifier,
        workspace=str(workspace.path),
        branch=workspace.branch,
        attempt="resumed" if workspace.resumed else "new",
        test_command=prompts.fence("test-command", test_command)
        if test_command
        else "(none configured: find and run the project's tests)",
        ticket=prompts.fence("ticket", ticket_text(ticket)),
        finding=prompts.for_finding(ticket.labels),
    )


def _write_manifest(
    services: Services, settings: JobSettings, run_id: str, ticket: Ticket, branch: str
) -> None:
    manifest = RunManifest(
        run_id=run_id,
        job=settings.job,
        ticket_identifier=ticket.identifier,
        ticket_title=safe_title(ticket.title),
        branch=branch,
        base_branch=settings.base_branch,
        repo=services.redact(settings.repo_url or ""),
    )
    with contextlib.suppress(ArtifactExists):  # a re-run of the same run: the first manifest stands
        write_model(services.store, run_key(run_id, "manifest.json"), manifest, if_absent=True)


def _tell_ticket(services: Services, ticket: Ticket, result: ImplementResult) -> None:
    lines = {
        "done": f"Factory pushed branch `{result.branch}` ({len(result.commits)} commit(s)).",
        "no_changes": "Factory's agent made no changes for this ticket. Its summary:\n\n"
        + services.redact((result.agent.result_text if result.agent else None) or "(none)"),
        "failed": f"Factory could not implement this ticket: {result.detail}",
        "timed_out": f"Factory's agent ran out of time: {result.detail}",
    }
    tell_ticket(services, ticket, lines[result.status])
