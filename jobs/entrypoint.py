"""The job entrypoint: what each Cloud Run Job runs (``python -m jobs implement``, ``... review``).

Settings are read once here, services built from them, and the phase run. Exit codes: 0 when the
phase did its job (including "no changes"), 1 when it could not, 2 on bad settings.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import typer

from jobs import logs
from jobs.errors import ConfigError, FactoryError
from jobs.models import PhaseResult
from jobs.phases.kit.steps import phase_branch
from jobs.phases.registry import JOBS, PHASES, Phase, get_phase
from jobs.redact import Redactor
from jobs.services import Services, build_services
from jobs.settings import JobSettings, load_settings
from jobs.tickets.source import check_identifier
from jobs.workspace.repo import check_repo_url

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Factory phase jobs.")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def default_run_id(settings: JobSettings) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{(settings.ticket_identifier or 'run').lower()}-{stamp}"


def _fail(message: str, code: int) -> typer.Exit:
    print(f"factory: {message}", file=sys.stderr)
    return typer.Exit(code)


def prepare(
    environ: Mapping[str, str] | None = None, phase: str = "implement"
) -> tuple[JobSettings, Services, str]:
    """Settings (read once), logging and services for a phase; ConfigError on bad input."""
    settings = load_settings(environ)
    if settings.job not in JOBS:
        raise ConfigError(f"invalid setting JOB: {settings.job} is not available yet ({', '.join(JOBS)} is)")
    if phase not in JOBS[settings.job]:
        raise ConfigError(f"invalid setting JOB: {settings.job} has no {phase} phase")
    needs = get_phase(phase)
    if needs.needs_ticket and not settings.ticket_identifier:
        raise ConfigError(f"invalid setting TICKET_IDENTIFIER: required for the {phase} phase")
    if not settings.repo_url:
        raise ConfigError(f"invalid setting REPO_URL: required for the {phase} phase")
    # Checked here so that a bad value is a settings error (exit 2), not a failure halfway through.
    if needs.needs_ticket:
        check_identifier(settings.ticket_identifier or "")
        phase_branch(settings)
    check_repo_url(settings.repo_url)
    run_id = settings.run_id or default_run_id(settings)
    redact = Redactor(settings.secrets())
    logs.configure(run_id, phase, redact, settings.log_format)
    return settings, build_services(settings, redact, agent=needs.needs_agent), run_id


def run_from_env(phase: str, environ: Mapping[str, str] | None = None) -> PhaseResult:
    """A phase's job from an environment (default: this process's), as Cloud Run runs it."""
    settings, services, run_id = prepare(environ, phase)
    with boxed(settings, services):
        return get_phase(phase).load_runner()(settings, services, run_id)


@contextlib.contextmanager
def boxed(settings: JobSettings, services: Services) -> Iterator[None]:
    """The phase's box is closed when it ends: its network goes, its trees are removed (or kept)."""
    try:
        yield
    finally:
        services.box.close(services.workdir if settings.keep_work else None)


class Terminated(FactoryError):
    """The job was told to stop (Cloud Run's task timeout or a cancel sends SIGTERM)."""


def _on_sigterm(signum: int, frame: object) -> None:
    # An exception, so the phase unwinds: agents, dev servers and databases are stopped by their
    # context managers, and the phase still writes its result.json saying why it ended.
    raise Terminated("the job received SIGTERM (its task timeout, or a cancel) and stopped")


def _exit_after(phase: Phase) -> None:
    """Run a phase as its job does and exit with the contract's code."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        settings, services, run_id = prepare(phase=phase.name)
    except ConfigError as exc:
        raise _fail(str(exc), EXIT_CONFIG) from None
    try:
        with boxed(settings, services):
            result = phase.load_runner()(settings, services, run_id)
    except FactoryError as exc:
        raise _fail(services.redact(str(exc)), EXIT_FAILED) from None
    raise typer.Exit(EXIT_FAILED if result.status in phase.failed else EXIT_OK)


def _add_command(phase: Phase) -> None:
    def command() -> None:
        _exit_after(phase)

    app.command(phase.name, help=phase.doc)(command)


for _phase in PHASES:
    _add_command(_phase)


@app.command("version")
def version() -> None:
    """Print the versions of Factory and the bundled Claude Code CLI."""
    from claude_agent_sdk._cli_version import __cli_version__

    print(f"factory 0.1.0, claude code {__cli_version__}")


def main() -> None:
    app()
