"""Builds the services a phase needs from settings: real or local, chosen by configuration."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import httpx

from jobs.agent import AgentRunner
from jobs.appenv import AppEnv, load_app_env
from jobs.artifacts import VersionedStore, open_store
from jobs.errors import ConfigError
from jobs.onboard.tickets import OnboardingTickets
from jobs.phases.kit.security import SecurityLog, held_secrets
from jobs.pulls import PullRequests, open_pulls
from jobs.redact import Redactor
from jobs.sandbox import Box, open_box
from jobs.settings import JobSettings
from jobs.tickets import LinearTickets, LocalTickets, TicketSource
from jobs.triage.tickets import FindingTickets
from jobs.workspace.git import Git


@dataclass
class Services:
    """What a phase works with; the pull-request host is opened on first use (only review needs it)."""

    store: VersionedStore
    tickets: TicketSource
    runner: AgentRunner
    git: Git
    redact: Redactor
    workdir: Path
    open_pulls: Callable[[], PullRequests] = field(repr=False, default=lambda: _no_pulls())
    # What the phase held, was refused and flagged: written beside its result as security.json.
    security: SecurityLog = field(default_factory=SecurityLog)
    # Where the agent and the target's commands run (jobs/sandbox); closed when the phase ends.
    box: Box = field(default_factory=Box)
    # The app's own configuration, for its servers and checks alone (jobs/appenv.py, APP_ENV_FILE).
    app_env: AppEnv | None = None

    def place(self, name: str) -> Path:
        """Where a tree the agent or the target's commands work in goes: in the box when there is one."""
        return self.box.place(name) if self.box.contained else self.workdir / name

    @cached_property
    def pulls(self) -> PullRequests:
        return self.open_pulls()


def _no_pulls() -> PullRequests:
    raise ConfigError("no pull-request host is configured for this phase")


def local_dir(prefix: str) -> Path | None:
    """The directory behind a local artifact prefix, or None for a remote one."""
    if prefix.startswith("gs://"):
        return None
    return Path(prefix.removeprefix("file://")).resolve()


def ticket_log_dir(settings: JobSettings, workdir: Path) -> Path:
    """Where local tickets' comments and state moves are written (ticket files are never written)."""
    return (local_dir(settings.artifacts_prefix) or workdir) / "tickets"


def build_services(settings: JobSettings, redact: Redactor, agent: bool = True) -> Services:
    """The services of a phase; ``agent=False`` for one that runs no agent (no model key, no box)."""
    workdir = settings.workdir or Path(tempfile.mkdtemp(prefix="factory-work-"))
    store = open_store(settings.artifacts_prefix)
    tickets: TicketSource
    if settings.job == "onboard-client":
        # An onboarding is a ticket: the one its onboard phase wrote, with the accuracy it measured.
        tickets = OnboardingTickets(store)
    elif settings.job == "solve-chatbot-issues":
        # A finding is a ticket: its evidence, as the night's triage kept it in the artifact store.
        tickets = FindingTickets(store)
    elif settings.ticket_source == "linear":
        if settings.linear_api_key is None:
            raise ConfigError("invalid setting LINEAR_API_KEY: required when TICKET_SOURCE=linear")
        tickets = LinearTickets(httpx.Client(timeout=30), settings.linear_api_key)
    else:
        tickets = LocalTickets(settings.tickets_dir.resolve(), ticket_log_dir(settings, workdir))
    if agent and not settings.model_auth().keys() & {"ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"}:
        raise ConfigError(
            "invalid setting ANTHROPIC_API_KEY: no model credentials (set it or CLAUDE_CODE_OAUTH_TOKEN)"
        )
    box = open_box(settings.containment) if agent else Box()
    app_env = load_app_env(settings.app_env_file, box.contained) if settings.app_env_file else None
    if app_env is not None:
        redact.add(*app_env.secret_values())  # what the app prints of them is masked wherever it goes
    runner = AgentRunner(model_auth=settings.model_auth(), grace_seconds=settings.kill_grace_seconds, box=box)
    git = Git(settings.github_token, (settings.git_author_name, settings.git_author_email))

    def pulls() -> PullRequests:
        return open_pulls(
            settings.repo_url or "",
            store,
            settings.github_token,
            settings.github_api_url,
            app_slug=settings.github_app_slug,
        )

    return Services(
        store=store,
        tickets=tickets,
        runner=runner,
        git=git,
        redact=redact,
        workdir=workdir,
        open_pulls=pulls,
        security=SecurityLog(held_secrets(settings), redact),
        box=box,
        app_env=app_env,
    )
