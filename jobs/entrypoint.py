"""The job entrypoint: what each Cloud Run Job runs (``python -m jobs implement``, ``... review``).

Settings are read once here, services built from them, and the phase run. Exit codes: 0 when the
phase did its job (including "no changes"), 1 when it could not, 2 on bad settings.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import typer

from jobs import logs
from jobs.errors import ConfigError, FactoryError
from jobs.models import ImplementResult
from jobs.phases.implement.phase import run_implement
from jobs.phases.kit.steps import phase_branch
from jobs.phases.review.phase import run_review
from jobs.phases.review.records import ReviewResult
from jobs.redact import Redactor
from jobs.services import Services, build_services
from jobs.settings import JobSettings, load_settings
from jobs.tickets.source import check_identifier
from jobs.workspace.repo import check_repo_url

if TYPE_CHECKING:
    from jobs.phases.e2e.records import E2EResult

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Factory phase jobs.")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
R = TypeVar("R")


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
    if settings.job != "solve-linear-ticket":
        raise ConfigError(
            f"invalid setting JOB: {settings.job} is not available yet (solve-linear-ticket is)"
        )
    if not settings.ticket_identifier:
        raise ConfigError(f"invalid setting TICKET_IDENTIFIER: required for the {phase} phase")
    if not settings.repo_url:
        raise ConfigError(f"invalid setting REPO_URL: required for the {phase} phase")
    # Checked here so that a bad value is a settings error (exit 2), not a failure halfway through.
    check_identifier(settings.ticket_identifier)
    check_repo_url(settings.repo_url)
    phase_branch(settings)
    run_id = settings.run_id or default_run_id(settings)
    redact = Redactor(settings.secrets())
    logs.configure(run_id, phase, redact, settings.log_format)
    return settings, build_services(settings, redact), run_id


def implement_from_env(environ: Mapping[str, str] | None = None) -> ImplementResult:
    """The implement job from an environment (default: this process's), as Cloud Run runs it."""
    return run_implement(*prepare(environ, "implement"))


def review_from_env(environ: Mapping[str, str] | None = None) -> ReviewResult:
    """The review job from an environment (default: this process's), as Cloud Run runs it."""
    return run_review(*prepare(environ, "review"))


class Terminated(FactoryError):
    """The job was told to stop (Cloud Run's task timeout or a cancel sends SIGTERM)."""


def _on_sigterm(signum: int, frame: object) -> None:
    # An exception, so the phase unwinds: agents, dev servers and databases are stopped by their
    # context managers, and the phase still writes its result.json saying why it ended.
    raise Terminated("the job received SIGTERM (its task timeout, or a cancel) and stopped")


def _exit_after(
    phase: str, run: Callable[[JobSettings, Services, str], R], did_its_job: Callable[[R], bool]
) -> None:
    """Run a phase as its job does and exit with the contract's code."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        settings, services, run_id = prepare(phase=phase)
    except ConfigError as exc:
        raise _fail(str(exc), EXIT_CONFIG) from None
    try:
        result = run(settings, services, run_id)
    except FactoryError as exc:
        raise _fail(services.redact(str(exc)), EXIT_FAILED) from None
    raise typer.Exit(EXIT_OK if did_its_job(result) else EXIT_FAILED)


@app.command()
def implement() -> None:
    """Implement TICKET_IDENTIFIER on its branch of REPO_URL and push it."""
    _exit_after("implement", run_implement, lambda result: result.status in ("done", "no_changes"))


@app.command()
def review() -> None:
    """Review the branch of TICKET_IDENTIFIER, loop the fixer, and open or update its pull request."""
    # A review that failed three times, or never parsed, still did its job: the PR is open and flagged.
    _exit_after("review", run_review, lambda result: result.status != "error")


def e2e_from_env(environ: Mapping[str, str] | None = None) -> E2EResult:
    """The e2e-verify job from an environment (default: this process's), as Cloud Run runs it."""
    # Here, not at the top: the e2e phase drives a browser through Playwright, which only the e2e
    # image installs; implement and review (and ``version``) must import without it.
    from jobs.phases.e2e.phase import run_e2e

    return run_e2e(*prepare(environ, "e2e"))


@app.command()
def e2e() -> None:
    """Verify the branch of TICKET_IDENTIFIER in a browser and post the report with screenshots."""
    # Verified, failed (the report says what) and skipped (the app could not be started) are all
    # answers; only an error means the phase could not do its job.
    from jobs.phases.e2e.phase import run_e2e

    _exit_after("e2e", run_e2e, lambda result: result.status != "error")


@app.command("version")
def version() -> None:
    """Print the versions of Factory and the bundled Claude Code CLI."""
    from claude_agent_sdk._cli_version import __cli_version__

    print(f"factory 0.1.0, claude code {__cli_version__}")


def main() -> None:
    app()
