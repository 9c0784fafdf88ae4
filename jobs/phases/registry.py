"""Every phase, declared once: what each job runs, what it writes, how it is built and sized.

Everything that needs the list of phases reads it here: the job entrypoint (one command per phase),
the local connectors and container runner, the image builder, deploy (one Cloud Run Job per phase),
the workflow's progress lines and the summaries people read. Adding a phase is a package under
``jobs/phases/``, an entry below, and its route in ``orchestration/factory.yaml``.

Entries name their code as ``module:attribute`` strings, imported only when used: this module stays
cheap to import (deploy and the image builder read it without the agent's dependencies), and the e2e
phase's Playwright is imported only where the e2e image has it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.models import PhaseResult
    from jobs.services import Services
    from jobs.settings import JobSettings

    PhaseRunner = Callable[[JobSettings, Services, str], PhaseResult]

JOB_PREFIX = "factory-"  # a phase's Cloud Run Job and image are named factory-<phase>


@dataclass(frozen=True)
class Phase:
    """One phase: a Cloud Run Job with its own image, run as ``python -m jobs <name>``."""

    name: str  # the job's command, its artifact folder (runs/<id>/<name>/) and its workflow step
    title: str  # what people call it
    doc: str  # one line: what the job does (its --help)
    runner: str  # "module:function" taking (settings, services, run_id), returning its result
    result: str  # "module:class": the model of its result.json
    summary: str  # "module:function": a result as lines for people
    failed: frozenset[str]  # result statuses meaning the phase could not do its job (exit 1)
    cpu: str  # Cloud Run's default size for its job
    memory: str
    # What its job needs: a ticket (TICKET_IDENTIFIER) and an agent (model credentials, a box).
    needs_ticket: bool = True
    needs_agent: bool = True
    shares_image: str | None = None  # the image of another phase whose job it is a second command of

    @property
    def job(self) -> str:
        """The Cloud Run Job's name, as factory.yaml calls it."""
        return f"{JOB_PREFIX}{self.name}"

    @property
    def image(self) -> str:
        """The image's name (and its target in images/Containerfile): each job has its own."""
        return self.shares_image or self.name

    def load_runner(self) -> PhaseRunner:
        runner: PhaseRunner = _load(self.runner)
        return runner

    def load_result(self) -> type[PhaseResult]:
        model: type[PhaseResult] = _load(self.result)
        return model

    def load_summary(self) -> Callable[[Any], list[str]]:
        summary: Callable[[Any], list[str]] = _load(self.summary)
        return summary


PHASES: tuple[Phase, ...] = (
    Phase(
        name="implement",
        title="implement",
        doc="Implement TICKET_IDENTIFIER on its branch of REPO_URL and push it.",
        runner="jobs.phases.implement.phase:run_implement",
        result="jobs.phases.implement.records:ImplementResult",
        summary="jobs.phases.implement.summary:summary_lines",
        failed=frozenset({"failed", "timed_out"}),
        cpu="2",
        memory="4Gi",
    ),
    Phase(
        name="review",
        title="review",
        doc="Review the branch of TICKET_IDENTIFIER, loop the fixer, and open or update its pull request.",
        runner="jobs.phases.review.phase:run_review",
        result="jobs.phases.review.records:ReviewResult",
        summary="jobs.phases.review.summary:summary_lines",
        # A review that failed three times, or never parsed, still did its job: the PR is open, flagged.
        failed=frozenset({"error"}),
        cpu="2",
        memory="4Gi",
    ),
    Phase(
        name="e2e",
        title="e2e-verify",
        doc="Verify the branch of TICKET_IDENTIFIER in a browser and post the report with screenshots.",
        runner="jobs.phases.e2e.phase:run_e2e",
        result="jobs.phases.e2e.records:E2EResult",
        summary="jobs.phases.e2e.summary:summary_lines",
        # Verified, failed (the report says what) and skipped (the app could not start) are answers.
        failed=frozenset({"error"}),
        # Chromium, PostgreSQL and the app's dev servers run next to the agent.
        cpu="4",
        memory="8Gi",
    ),
    Phase(
        name="triage",
        title="triage",
        doc="Claim the night, collect the chatbot's failures from Sentry and Langfuse, choose what to fix.",
        runner="jobs.triage.phase:run_triage",
        result="jobs.triage.records:TriageResult",
        summary="jobs.triage.summary:triage_lines",
        failed=frozenset({"error"}),  # a night another run claimed is an answer: nothing to do
        cpu="1",
        memory="1Gi",
        needs_ticket=False,
        needs_agent=False,
    ),
    Phase(
        name="triage-close",
        title="close the night",
        doc="Record what each finding's chain came to, note the PRs on Sentry, sum the night up.",
        runner="jobs.triage.close:run_close",
        result="jobs.triage.records:CloseResult",
        summary="jobs.triage.summary:close_lines",
        failed=frozenset({"error"}),
        cpu="1",
        memory="1Gi",
        needs_ticket=False,
        needs_agent=False,
        shares_image="triage",
    ),
    Phase(
        name="onboard",
        title="onboard",
        doc="Onboard CLIENT_DOMAIN in MODE: its dataset, config and skills, tuned against the target's eval.",
        runner="jobs.onboard.phase:run_onboard",
        result="jobs.onboard.records:OnboardResult",
        summary="jobs.onboard.summary:summary_lines",
        failed=frozenset({"failed"}),  # no changes (nothing to update) is an answer
        cpu="2",
        memory="4Gi",
        needs_ticket=False,
    ),
)

# The jobs of the workflow (JOB, its `job` argument) that are built, and the phases each one runs.
JOBS: dict[str, tuple[str, ...]] = {
    "solve-linear-ticket": ("implement", "review", "e2e"),
    # A night: triage, then per finding implement -> review -> e2e (a finding is a ticket), then close.
    "solve-chatbot-issues": ("triage", "implement", "review", "e2e", "triage-close"),
    # A client's onboarding: its files and tuning, then the same review and e2e as a ticket's branch.
    "onboard-client": ("onboard", "review", "e2e"),
}


def phase_names() -> tuple[str, ...]:
    return tuple(phase.name for phase in PHASES)


def get_phase(name: str) -> Phase:
    """The phase called ``name``; KeyError naming the phases there are."""
    for phase in PHASES:
        if phase.name == name:
            return phase
    raise KeyError(f"no phase {name!r} (the phases: {', '.join(phase_names())})")


def phase_of_job(job_name: str) -> Phase | None:
    """The phase whose Cloud Run Job is ``job_name`` (``factory-review``), or None."""
    for phase in PHASES:
        if phase.job == job_name:
            return phase
    return None


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)
