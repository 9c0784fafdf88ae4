"""The e2e-verify phase: seed a database, start the dev servers, let an agent check the change in Chromium.

Each attempt clones the pushed branch, installs it, prepares a fresh PostgreSQL (the target's own setup
commands, such as its migrations, then the seeds it lists: its own SQL files or Factory's scenarios),
starts the servers (their ports checked free and held for this run alone, health-checked, logs kept,
always stopped) and runs the browser agent with read-only repository tools and our browser tool, which
takes every screenshot itself. The report is checked against what the tool really took. A failed check
goes to a fixer, then one more attempt. An app that cannot come up ends the phase "skipped" with its
own error; only after a fix, and only when the app itself failed (not a busy port or a missing
database), is it "failed".
The report and its screenshots are committed to the branch under ``.factory/screenshots/{ticket}/``,
kept in the artifacts, posted to the PR as one sticky comment and summarised on the ticket.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jobs import prompts
from jobs.artifacts import write_model
from jobs.errors import StepFailed
from jobs.logs import get_logger
from jobs.mcp.config.browser import BROWSER_FAILED
from jobs.phases.e2e.browser_agent import BrowserCheck, ask_browser_agent, browser_split
from jobs.phases.e2e.database import (
    SEEDS_DIR,
    DatabaseUnavailable,
    SeedLoad,
    SetupFailed,
    TempPostgres,
    load_seeds,
    reader_role,
    run_setup,
)
from jobs.phases.e2e.publish import Publisher
from jobs.phases.e2e.records import PHASE, AttemptVerdict, E2EAttempt, E2EResult, E2EStatus, e2e_key
from jobs.phases.e2e.render import render_report
from jobs.phases.e2e.report import screenshots_taken
from jobs.phases.e2e.servers import DevServers, ServersUnavailable
from jobs.phases.kit.budget import PhaseBudget
from jobs.phases.kit.fixer import FixJob, run_fixer
from jobs.phases.kit.records import FixRecord
from jobs.phases.kit.steps import (
    Stopwatch,
    branch_workspace,
    log_failure,
    read_ticket,
    result_fields,
    tell_ticket,
    ticket_text,
    write_result,
)
from jobs.phases.kit.text import one_line
from jobs.phases.kit.tools import served_tools, tool_scope
from jobs.sandbox import AppSide, Box
from jobs.sandbox.app import app_side
from jobs.services import Services
from jobs.settings import JobSettings
from jobs.target_config import E2EConfig, TargetConfig, base_target_config
from jobs.tickets import Ticket
from jobs.workspace import Workspace
from jobs.workspace.install import install, install_in

MAX_ATTEMPTS = 2  # a failed check gets one fix and one more check


class Skipped(Exception):
    """The app could not be brought up here; ``app_fault`` when the app itself failed, not the machine."""

    def __init__(self, reason: str, *, app_fault: bool = False) -> None:
        super().__init__(reason)
        self.app_fault = app_fault

    def verdict(self, after_fix: bool) -> tuple[E2EStatus, str]:
        """The phase's status and detail: a fix is blamed only when the app it changed failed to start."""
        if after_fix and self.app_fault:
            return "failed", f"after the fix, the app would not start: {self}"
        return "skipped", str(self)  # a busy port, no database: the machine's doing, whatever the change


def run_e2e(settings: JobSettings, services: Services, run_id: str) -> E2EResult:
    """Verify the branch in a browser and write ``e2e/result.json`` whatever happens."""
    clock = Stopwatch()
    result = E2EResult(**result_fields(settings, run_id), status="error")
    verifier: Verifier | None = None
    try:
        ticket = read_ticket(services, result.ticket_identifier, clock)
        verifier = Verifier(settings, services, run_id, ticket, clock)
        status, detail = verifier.run()
        result = _with_attempts(result, verifier.attempts, status, detail)
        if verifier.attempts:
            with clock.step("report"):
                result = verifier.publish(result)
    except Exception as exc:
        log_failure(PHASE, exc)
        services.security.note_failure(exc)  # a fix's commit refused, a screenshot planted as a link
        attempts = verifier.attempts if verifier is not None else []
        result = _with_attempts(result, attempts, "error", services.redact(str(exc)))
    result = write_result(services, PHASE, result, clock)
    if verifier is not None:
        report = f"\n\n{verifier.shared_report}" if verifier.shared_report else ""
        tell_ticket(services, verifier.ticket, _ticket_text(result) + report)
    return result


def _with_attempts(
    result: E2EResult, attempts: list[E2EAttempt], status: E2EStatus, detail: str
) -> E2EResult:
    cost = round(sum(a.cost_usd for a in attempts), 6)
    head = attempts[-1].head_sha if attempts else None
    update = {"status": status, "detail": detail, "attempts": attempts, "cost_usd": cost, "head_sha": head}
    return result.model_copy(update=update)


@dataclass
class Verifier:
    """The attempts of one run; ``attempts`` grows as they finish, so a failure keeps what was done."""

    settings: JobSettings
    services: Services
    run_id: str
    ticket: Ticket
    clock: Stopwatch
    attempts: list[E2EAttempt] = field(default_factory=list)
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    required: list[str] = field(default_factory=list)  # checks that failed last time: asked for again
    shared_report: str = ""  # the report as posted to the PR and the ticket
    reader_dsn: str | None = None  # the attempt's database as a role that can only read (its tool's)
    _config: TargetConfig | None = None
    _budget: PhaseBudget | None = None

    def run(self) -> tuple[E2EStatus, str]:
        log = get_logger()
        for n in range(1, MAX_ATTEMPTS + 1):
            workspace = self._clone(f"e2e-{n}")
            config = self._setup(workspace)
            if not config.e2e.pages or not config.e2e.servers:
                return "skipped", "the repository's .factory.yaml configures no e2e servers and pages"
            try:
                attempt = self._attempt(n, workspace, config)
            except Skipped as exc:
                log.warning("e2e could not start the app: %s", exc)
                return exc.verdict(after_fix=bool(self.attempts))
            self.attempts.append(attempt)
            write_model(self.services.store, self._key(f"attempt-{n}.json"), attempt)
            log.info("e2e attempt %d: %s", n, attempt.verdict)
            failed = _failed_checks(attempt)
            if attempt.verdict == "verified" or n == MAX_ATTEMPTS or not failed:
                break  # only checks the page really failed go to the fixer, not a bad report
            with self.clock.step("fix"):
                fix = self._fix(n, config, attempt)
            self.attempts[-1] = attempt.model_copy(update={"fix": fix})
            write_model(self.services.store, self._key(f"attempt-{n}.json"), self.attempts[-1])
            if fix.status != "committed":
                break  # the same code would only get a second chance at the same check
            self.required = failed
        return self._verdict()

    def _verdict(self) -> tuple[E2EStatus, str]:
        last = self.attempts[-1]
        if last.verdict == "verified":
            return "verified", ""
        if last.verdict == "error":
            if not any(a.report for a in self.attempts):
                raise StepFailed(f"e2e attempt {last.attempt}: the browser agent gave no answer")
            return "failed", f"the browser agent gave no answer on attempt {last.attempt}"
        return "failed", _failure(last)

    def _clone(self, name: str) -> Workspace:
        workspace = branch_workspace(self.settings, self.services, name)
        with self.clock.step("clone"):
            workspace.clone()
        if not workspace.resumed:
            raise StepFailed(f"branch {workspace.branch} is not on the remote: there is nothing to verify")
        return workspace

    # -- one attempt ----------------------------------------------------------------------------------

    def _setup(self, workspace: Workspace) -> TargetConfig:
        if self._config is None:
            self._config = base_target_config(workspace)
            self._budget = PhaseBudget(self.settings, self._config)
        return self._config

    @property
    def budget(self) -> PhaseBudget:
        assert self._budget is not None
        return self._budget

    def _attempt(self, n: int, workspace: Workspace, config: TargetConfig) -> E2EAttempt:
        steps = Stopwatch(quiet=True)
        head = workspace.head()
        diff = self.services.redact(workspace.diff_from_base())
        stat = self.services.redact(workspace.diff_from_base(stat=True))
        with self.clock.step("install"), steps.step("install"):
            install(
                config,
                workspace.path,
                self.budget.command_seconds(config.install_timeout_seconds),
                self.services.box,
            )
        shots = self.services.workdir / f"shots-{n}"
        shutil.rmtree(shots, ignore_errors=True)
        shots.mkdir(parents=True)
        logs_dir = self.services.workdir / f"server-logs-{n}"
        servers = DevServers(config.e2e.servers, workspace.path, logs_dir, {}, box=self.services.box)
        check = BrowserCheck(
            self.services,
            self.budget,
            self.ticket,
            self.run_id,
            n,
            MAX_ATTEMPTS,
            workspace,
            config,
            shots,
            diff,
            stat,
            self.required,
            self.settings.chromium,
        )
        try:
            with contextlib.ExitStack() as stack:
                # The app's setup and servers: its uid and its configuration, neither the agent's.
                app = stack.enter_context(app_side(self.services.box, workspace.path, self.services.app_env))
                with self.clock.step("seeding"), steps.step("seeding"):
                    database_url = self._database(stack, config.e2e, workspace.path, app)
                servers = DevServers(
                    config.e2e.servers,
                    workspace.path,
                    logs_dir,
                    self._variables(config.e2e, database_url),
                    lock_wait_seconds=self.budget.seconds_left(),  # another run's servers may hold the ports
                    box=self.services.box,
                    app=app,
                )
                with self.clock.step("server_start"), steps.step("server_start"):
                    try:
                        stack.enter_context(servers)
                    except ServersUnavailable as exc:
                        where = self.services.store.url(self._key(f"attempt-{n}", "logs"))
                        reason = f"{self.services.redact(exc.reason)} (server logs: {where})"
                        raise Skipped(reason, app_fault=exc.app_fault) from None
                with self.clock.step("browser_agent"), steps.step("browser_agent"):
                    browser_available(self.settings.chromium)
                    check = dataclasses.replace(check, database_reader=self.reader_dsn)
                    report, asks, problems = ask_browser_agent(check)
                    browser_started(shots, self.services.redact)
        finally:
            server_logs = self.publisher.keep_logs(
                n, servers.log_paths
            )  # kept whatever happened, for a human
        steps.timings.update(browser_split(shots, steps.timings.get("browser_agent", 0.0)))
        with steps.step("evidence"):
            urls = self.publisher.keep_screenshots(n, shots, screenshots_taken(shots))
        verdict: AttemptVerdict
        if report is None:
            verdict = "error" if asks and not asks[-1].agent.status.ok else "unparseable"
        else:
            all_passed = all(item.passed for item in report.checklist)
            verdict = "verified" if all_passed and not problems else "failed"
        return E2EAttempt(
            attempt=n,
            head_sha=head,
            verdict=verdict,
            report=report,
            evidence_problems=problems,
            screenshots=urls,
            asks=asks,
            server_logs=server_logs,
            timings=steps.timings,
        )

    def _database(self, stack: contextlib.ExitStack, e2e: E2EConfig, checkout: Path, app: AppSide) -> str:
        """A fresh database, the app's setup and seeds run in it; its URL ('' when neither is configured)."""
        self.reader_dsn = None
        if not e2e.needs_database:
            return ""
        try:
            database = stack.enter_context(TempPostgres(box=self.services.box))
        except DatabaseUnavailable as exc:
            raise Skipped(f"no database: {exc}") from None
        seconds = self.budget.command_seconds(e2e.setup_timeout_seconds) if e2e.setup else 0.0
        variables = self._variables(e2e, database.dsn)
        prepare_database(
            database.dsn, e2e, checkout, variables, seconds, self.services.redact, self.services.box, app
        )
        # The browser agent's database tool reads through a role of its own that can only read.
        self.reader_dsn = reader_role(database)
        return database.dsn

    def _variables(self, e2e: E2EConfig, database_url: str) -> dict[str, str]:
        """What the servers' env values may name: the database, each server's URL, the run's API key.

        Setup commands get the same, upper-cased, in their environment: ``DATABASE_URL``, ``API_KEY``...
        """
        variables = {"database_url": database_url, "api_key": self.api_key}
        for spec in e2e.servers:
            variables[f"{spec.name.replace('-', '_')}_url"] = f"http://127.0.0.1:{spec.port}"
        return variables

    def _fix(self, n: int, config: TargetConfig, attempt: E2EAttempt) -> FixRecord:
        """The fixer works in a fresh clone: nothing the install or the servers wrote gets committed."""
        workspace = self._clone(f"e2e-fix-{n}")
        with self.clock.step("install"):
            install_in(workspace, config, self.budget.command_seconds(config.install_timeout_seconds))
        report = render_report(self.ticket.identifier, [attempt], lambda name: name, self.services.redact)
        prompt = prompts.render(
            "e2e-fix",
            identifier=self.ticket.identifier,
            attempt=str(n),
            workspace=str(workspace.path),
            branch=workspace.branch,
            test_command=prompts.fence("test-command", config.test) if config.test else "(none configured)",
            report=prompts.fence("report", report),
            ticket=prompts.fence("ticket", ticket_text(self.ticket)),
        )
        subject = f"fix what the browser check found (attempt {n})"
        key = self._key("transcripts", f"fix-{n}.jsonl")
        scope = tool_scope(self.services, self.ticket)
        with served_tools(
            self.services, self.settings, config, "fix", scope, self.services.workdir / "tools"
        ) as tools:
            job = FixJob(prompt, subject, key, n, self.run_id, config.models.fix, tools)
            return run_fixer(self.services, self.budget, workspace, self.ticket, job)

    def publish(self, result: E2EResult) -> E2EResult:
        """Publish the report (branch, artifacts, PR); keep it as posted, for the ticket."""
        result, self.shared_report = self.publisher.publish(self.attempts, result)
        return result

    @property
    def publisher(self) -> Publisher:
        return Publisher(self.settings, self.services, self.run_id, self.ticket)

    def _key(self, *parts: str) -> str:
        return e2e_key(self.run_id, *parts)


def _failed_checks(attempt: E2EAttempt) -> list[str]:
    """Checks the page really failed (what a fixer can act on); not problems with the report itself."""
    return [item.check for item in attempt.report.checklist if not item.passed] if attempt.report else []


def _failure(attempt: E2EAttempt) -> str:
    if attempt.report is None:
        return "the browser agent gave no report that could be parsed"
    failed = [item.check for item in attempt.report.checklist if not item.passed]
    parts = [f"{len(failed)} of {len(attempt.report.checklist)} checks failed"] if failed else []
    parts += attempt.evidence_problems
    return "; ".join(parts) or "not verified"


def _ticket_text(result: E2EResult) -> str:
    where = f" Report: {result.report}" if result.report else ""
    if result.status == "verified":
        return f"Factory verified the change in a browser ({len(result.attempts)} attempt(s)).{where}"
    if result.status == "skipped":
        return f"Factory skipped the browser check: {result.detail}"
    if result.status == "failed":
        return (
            f"Factory's browser check failed after {len(result.attempts)} attempt(s): {result.detail}.{where}"
        )
    return f"Factory could not run the browser check: {result.detail}"


def browser_available(chromium: str) -> None:
    """Skipped, before any agent runs, when this machine has no browser to check with."""
    if not os.access(chromium, os.X_OK):
        raise Skipped(f"no browser on this machine: {chromium} is missing (apt-get install chromium)")


def browser_started(shots: Path, redact: Callable[[str], str]) -> None:
    """Skipped when the browser tool could not start Chromium during the attempt: the machine's
    failure, whatever the agent then reported about pages it never saw, and nothing for a fixer."""
    try:
        error = json.loads((shots / BROWSER_FAILED).read_text())["error"]
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError):
        error = "(its error could not be read)"
    raise Skipped(f"the browser could not start: {one_line(str(error), redact, 300)}")


def prepare_database(
    dsn: str,
    e2e: E2EConfig,
    checkout: Path,
    variables: Mapping[str, str],
    setup_seconds: float,
    redact: Callable[[str], str],
    box: Box | None = None,
    app: AppSide | None = None,
) -> list[SeedLoad]:
    """The app's ``e2e.setup`` commands against the fresh database, on the ``app``'s side of the box
    (its uid and configuration: jobs/sandbox/app.py), then its seeds in the order listed.

    A setup command that fails is the app's doing: Skipped, naming the command, with its output's tail
    (redacted: the app's output may echo what it was given).
    """
    try:
        run_setup(e2e.setup, checkout, variables, setup_seconds, box, app)
    except SetupFailed as exc:
        raise Skipped(redact(str(exc)), app_fault=True) from None
    return load_seeds(dsn, e2e.seeds, SEEDS_DIR, repo=checkout, box=box)
