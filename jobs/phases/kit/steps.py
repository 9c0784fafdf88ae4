"""Small pieces every phase uses: timed steps with progress lines, redacted transcripts, agent runs."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from jobs.agent import AgentOutcome, AgentRequest
from jobs.agent.stream import permission_denials
from jobs.artifacts import write_model
from jobs.errors import ArtifactError, FactoryError
from jobs.logs import get_logger
from jobs.models import PhaseResult, run_key, utc_now
from jobs.onboard.tickets import branch_for_onboarding
from jobs.phases.kit.budget import PhaseBudget
from jobs.phases.kit.security import security_key
from jobs.report import write_report
from jobs.services import Services
from jobs.settings import JobSettings
from jobs.tickets import Ticket
from jobs.workspace import Workspace, branch_for, check_branch

# Every phase reports on the ticket through this one comment, updated in place as the run goes on.
TICKET_STATUS_KEY = "factory-status"


class Stopwatch:
    """Times named steps and logs each one's start and end, so long work shows progress."""

    def __init__(self, quiet: bool = False) -> None:
        self.timings: dict[str, float] = {}
        self.quiet = quiet  # a second watch over the same steps (a split per attempt) logs nothing

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        log = get_logger()
        if not self.quiet:
            log.info("%s ...", name)
        started = time.monotonic()
        try:
            yield
        finally:
            took = round(time.monotonic() - started, 3)
            self.timings[name] = round(self.timings.get(name, 0.0) + took, 3)
            if not self.quiet:
                log.info("%s took %.2fs", name, took)


class Transcript:
    """The agent's stream, line by line, with secrets masked before anything is kept."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self.redact = redact
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(self.redact(line.rstrip("\n")))

    def data(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode() if self.lines else b""


def redacted_outcome(outcome: AgentOutcome, redact: Callable[[str], str]) -> AgentOutcome:
    """The outcome with agent-written text (its summary, stderr) masked before it is stored or posted."""
    text = redact(outcome.result_text) if outcome.result_text is not None else None
    return outcome.model_copy(update={"detail": redact(outcome.detail), "result_text": text})


def run_agent(
    services: Services, budget: PhaseBudget, request: AgentRequest, transcript_key: str
) -> tuple[AgentOutcome, str]:
    """Run one agent, charge it to the phase's budget, and keep its redacted transcript.

    Returns the outcome (agent-written text redacted) and the transcript's URL in the artifact store.
    The prompt is redacted too: untrusted text quoted in it (a ticket, a diff) could hold one of our
    secrets, and the model API is a sink like any other. What the agent was refused (tool uses, model
    requests) goes to the phase's security log.
    """
    request = request.model_copy(update={"prompt": services.redact(request.prompt)})
    transcript = Transcript(services.redact)
    tally_before = services.runner.last_model_tally
    try:
        outcome = budget.spend(services.runner.run(request, transcript))
    finally:
        keep_evidence(services, transcript_key, transcript.data())
    url = services.store.url(transcript_key)
    model = services.runner.last_model_tally
    fresh = model if model is not tally_before else None  # the runner keeps the tally of its last run
    services.security.agent_ran(outcome, permission_denials(transcript.lines), fresh, url)
    return redacted_outcome(outcome, services.redact), url


def keep_evidence(services: Services, key: str, data: bytes) -> bool:
    """Store a piece of evidence (a transcript); a store that cannot take it (a full disk) is reported
    in one line, never fatal: the agent's finished work is still committed and pushed."""
    try:
        services.store.write_bytes(key, data)
    except ArtifactError as exc:
        get_logger().warning("could not keep %s (the run goes on without it): %s", key, exc)
        return False
    return True


def ticket_text(ticket: Ticket) -> str:
    """The ticket as a prompt carries it (inside a fence: it is untrusted text)."""
    return f"Title: {ticket.title}\nLabels: {', '.join(ticket.labels)}\n\n{ticket.body}"


def tell_ticket(services: Services, ticket: Ticket, text: str) -> None:
    """Update the run's one status comment on the ticket; a failure here never fails the phase."""
    try:
        services.tickets.upsert_comment(ticket, TICKET_STATUS_KEY, text)
    except FactoryError as exc:
        get_logger().warning("could not update the ticket: %s", exc)


def phase_branch(settings: JobSettings) -> str:
    """The run's branch: the ticket's own (``factory/ix-101``), an onboarding's own
    (``factory/onboard/<client>-<mode>``), unless BRANCH overrides it."""
    if settings.branch:
        return check_branch(settings.branch)
    if settings.job == "onboard-client" and settings.client_domain:
        return branch_for_onboarding(settings.client_domain, settings.mode)
    return branch_for(settings.ticket_identifier or "")


def branch_workspace(settings: JobSettings, services: Services, name: str) -> Workspace:
    """A workspace for the run's branch, in the phase's box (cloned when asked)."""
    branch, base = phase_branch(settings), settings.base_branch
    return Workspace(services.git, settings.repo_url or "", services.place(name), branch, base, services.box)


def result_fields(settings: JobSettings, run_id: str) -> dict[str, Any]:
    """The PhaseResult fields known before anything can fail, so even a failure writes a full result."""
    return {
        "run_id": run_id,
        "ticket_identifier": settings.ticket_identifier or "",
        "branch": phase_branch(settings),
        "base_branch": settings.base_branch,
        "started_at": utc_now(),
    }


def read_ticket(services: Services, identifier: str, clock: Stopwatch) -> Ticket:
    """The ticket, with any of our secrets pasted into it masked once, here, before any use of it.

    Its text goes into prompts, commit messages, PR titles and the manifest.
    """
    with clock.step("ticket"):
        ticket = services.tickets.get(identifier)
    return ticket.model_copy(
        update={"title": services.redact(ticket.title), "body": services.redact(ticket.body)}
    )


EXPECTED_FAILURES = (FactoryError, OSError, subprocess.SubprocessError)


def log_failure(phase: str, exc: Exception) -> None:
    """Log why a phase ended early; a traceback only for what none of our error types explains (a bug)."""
    get_logger().error("%s failed: %s", phase, exc, exc_info=not isinstance(exc, EXPECTED_FAILURES))


P = TypeVar("P", bound=PhaseResult)


def write_result(services: Services, phase: str, result: P, clock: Stopwatch) -> P:
    """Write ``{phase}/security.json``, then ``{phase}/result.json`` last, with every step's time in it,
    then the run's HTML report (``index.html``) with this phase in it; returns the result as written."""
    result = result.model_copy(update={"timings": clock.timings, "finished_at": utc_now()})
    record = services.security.record(result.run_id, phase, services.box)
    write_model(services.store, security_key(result.run_id, phase), record)
    write_model(services.store, run_key(result.run_id, phase, "result.json"), result)
    update_report(services, result.run_id)
    return result


def update_report(services: Services, run_id: str) -> None:
    """Render the run's report again from its artifacts. The report is for people: whatever goes wrong
    here (a store error, a bug in the renderer) is one warning line, and the phase's result stands."""
    try:
        write_report(services.store, run_id)
    except Exception as exc:
        get_logger().warning("could not write the run's report (the phase's result stands): %s", exc)
