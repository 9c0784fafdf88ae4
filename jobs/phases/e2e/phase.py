"""The e2e-verify phase: seed a database, start the dev servers, let an agent check the change in Chromium.

Each attempt clones the pushed branch, installs it, loads the configured seed scenarios into a fresh
PostgreSQL, starts the servers (health-checked, logs kept, always stopped) and runs the browser agent
with read-only repository tools and our browser tool, which takes every screenshot itself. The report
is checked against what the tool really took. A failed check goes to a fixer, then one more attempt.
Servers or a database that cannot come up end the phase "skipped" with the reason, never "failed".
The report and its screenshots are committed to the branch under ``.factory/screenshots/{ticket}/``,
kept in the artifacts, posted to the PR as one sticky comment and summarised on the ticket.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from jobs import prompts
from jobs.agent.policy import READ_ONLY_TOOLS
from jobs.artifacts import write_model
from jobs.errors import StepFailed
from jobs.logs import get_logger
from jobs.mcp.browser import BROWSER_START, browser_mcp
from jobs.models import run_key
from jobs.phases.e2e.database import DatabaseUnavailable, TempPostgres, load_seeds
from jobs.phases.e2e.records import AttemptVerdict, E2EAttempt, E2EResult, E2EStatus
from jobs.phases.e2e.render import render_report
from jobs.phases.e2e.report import (
    E2EReport,
    evidence_problems,
    origin,
    parse_report,
    report_schema,
    screenshots_taken,
)
from jobs.phases.e2e.servers import DevServers, ServersUnavailable
from jobs.phases.kit.budget import PhaseBudget
from jobs.phases.kit.steps import (
    Stopwatch,
    log_failure,
    phase_branch,
    read_ticket,
    result_fields,
    run_agent,
    tell_ticket,
    write_result,
)
from jobs.phases.review.fixer import FixJob, run_fixer
from jobs.phases.review.records import Ask, FixRecord
from jobs.phases.review.reviewer import ticket_text
from jobs.pulls import repo_from_url
from jobs.replies import ReplyParseError
from jobs.services import Services
from jobs.settings import JobSettings
from jobs.target_config import E2EConfig, TargetConfig, base_target_config
from jobs.tickets import Ticket
from jobs.workspace import Workspace
from jobs.workspace.install import install

PHASE = "e2e"
MAX_ATTEMPTS = 2  # a failed check gets one fix and one more check
MAX_ASKS = 2
MAX_DIFF_CHARS = 40_000
SEEDS_DIR = Path(__file__).resolve().parents[3] / "seeds"
PR_COMMENT_KEY = "factory-e2e"


class Skipped(Exception):
    """The app could not be brought up here; not the change's fault."""


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
        log_failure("e2e", exc)
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
                if self.attempts:  # the fixer's change is what stopped the app from starting
                    return "failed", f"after the fix, the app would not start: {exc}"
                return "skipped", str(exc)
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
        workspace = self._workspace(name)
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
            install(config, workspace.path, self.budget.command_seconds(config.install_timeout_seconds))
        shots = self.services.workdir / f"shots-{n}"
        shutil.rmtree(shots, ignore_errors=True)
        shots.mkdir(parents=True)
        logs_dir = self.services.workdir / f"server-logs-{n}"
        servers = DevServers(config.e2e.servers, workspace.path, logs_dir, {})
        try:
            with contextlib.ExitStack() as stack:
                with self.clock.step("seeding"), steps.step("seeding"):
                    database_url = self._database(stack, config.e2e)
                servers = DevServers(
                    config.e2e.servers, workspace.path, logs_dir, self._variables(config.e2e, database_url)
                )
                with self.clock.step("server_start"), steps.step("server_start"):
                    try:
                        stack.enter_context(servers)
                    except ServersUnavailable as exc:
                        where = self.services.store.url(self._key(f"attempt-{n}", "logs"))
                        raise Skipped(f"{self.services.redact(exc.reason)} (server logs: {where})") from None
                with self.clock.step("browser_agent"), steps.step("browser_agent"):
                    report, asks, problems = self._ask(n, workspace, config, shots, diff, stat)
        finally:
            server_logs = self._keep_logs(n, servers.log_paths)  # kept whatever happened, for a human
        steps.timings.update(_browser_split(shots, steps.timings.get("browser_agent", 0.0)))
        with steps.step("evidence"):
            urls = self._keep_screenshots(n, shots, screenshots_taken(shots))
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

    def _database(self, stack: contextlib.ExitStack, e2e: E2EConfig) -> str:
        """A fresh database with the seed scenarios loaded; its URL ('' when no seeds are configured)."""
        if not e2e.seeds:
            return ""
        try:
            database = stack.enter_context(TempPostgres())
        except DatabaseUnavailable as exc:
            raise Skipped(f"no database: {exc}") from None
        load_seeds(database.dsn, e2e.seeds, SEEDS_DIR)
        return database.dsn

    def _variables(self, e2e: E2EConfig, database_url: str) -> dict[str, str]:
        """What the servers' env values may name: the database, each server's URL, the run's API key."""
        variables = {"database_url": database_url, "api_key": self.api_key}
        for spec in e2e.servers:
            variables[f"{spec.name.replace('-', '_')}_url"] = f"http://127.0.0.1:{spec.port}"
        return variables

    def _ask(
        self, n: int, workspace: Workspace, config: TargetConfig, shots: Path, diff: str, stat: str
    ) -> tuple[E2EReport | None, list[Ask], list[str]]:
        """Run the browser agent; a reply that is not a report, or whose evidence does not hold, is
        re-asked once. Returns the report (None if there is none), the asks, the evidence problems."""
        e2e = config.e2e
        pages = {page.name: page.url for page in e2e.pages}
        origins = sorted(
            {f"http://127.0.0.1:{s.port}" for s in e2e.servers} | {origin(p.url) for p in e2e.pages}
        )
        browser = browser_mcp(origins, shots)
        asks: list[Ask] = []
        rejected: str | None = None
        report: E2EReport | None = None
        problems: list[str] = []
        for ask_no in range(1, MAX_ASKS + 1):
            prompt = self._prompt(n, workspace, e2e, diff, stat, rejected)
            request = self.budget.request(prompt, workspace.path, config.models.e2e, READ_ONLY_TOOLS)
            request = request.model_copy(update={"mcp_servers": {"browser": browser}})
            key = self._key("transcripts", f"attempt-{n}-ask-{ask_no}.jsonl")
            outcome, transcript = run_agent(self.services, self.budget, request, key)
            ask = Ask(agent=outcome, transcript=transcript)
            if not outcome.status.ok:
                asks.append(ask)
                return None, asks, []
            try:
                report = parse_report(outcome.result_text or "")
            except ReplyParseError as exc:
                rejected = str(exc)
                asks.append(ask.model_copy(update={"parse_error": rejected}))
                continue
            problems = evidence_problems(report, screenshots_taken(shots), pages, self.required)
            if not problems:
                asks.append(ask)
                return report, asks, []
            rejected = "; ".join(problems)
            asks.append(ask.model_copy(update={"parse_error": rejected}))
        return report, asks, problems

    def _prompt(
        self, n: int, workspace: Workspace, e2e: E2EConfig, diff: str, stat: str, rejected: str | None
    ) -> str:
        pages = "\n".join(
            f"- {p.name}: {p.url}" + (f" - {p.description}" if p.description else "") for p in e2e.pages
        )
        return prompts.render(
            "e2e",
            identifier=self.ticket.identifier,
            attempt=str(n),
            max_attempts=str(MAX_ATTEMPTS),
            workspace=str(workspace.path),
            branch=workspace.branch,
            base=workspace.base_branch,
            pages=pages,
            schema=json.dumps(report_schema(), separators=(",", ":")),
            ticket=prompts.fence("ticket", ticket_text(self.ticket)),
            diff_stat=prompts.fence("diffstat", stat),
            diff=prompts.fence("diff", diff, MAX_DIFF_CHARS),
            required=_required_text(self.required),
            reask=prompts.reask(rejected),
        )

    def _fix(self, n: int, config: TargetConfig, attempt: E2EAttempt) -> FixRecord:
        """The fixer works in a fresh clone: nothing the install or the servers wrote gets committed."""
        workspace = self._clone(f"e2e-fix-{n}")
        with self.clock.step("install"):
            install(config, workspace.path, self.budget.command_seconds(config.install_timeout_seconds))
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
        job = FixJob(prompt, subject, key, n, self.run_id, config.models.fix)
        return run_fixer(self.services, self.budget, workspace, self.ticket, job)

    # -- evidence and publishing ----------------------------------------------------------------------

    def _keep_screenshots(self, n: int, shots: Path, taken: dict[str, dict[str, str]]) -> list[str]:
        urls = []
        for name in taken:
            key = self._key(f"attempt-{n}", "screenshots", name)
            self.services.store.write_bytes(key, (shots / name).read_bytes())
            urls.append(self.services.store.url(key))
        return urls

    def _keep_logs(self, n: int, log_paths: dict[str, Path]) -> dict[str, str]:
        kept = {}
        for name, path in log_paths.items():
            if path.is_file():
                key = self._key(f"attempt-{n}", "logs", f"{name}.log")
                self.services.store.write_bytes(
                    key, self.services.redact(path.read_text(errors="replace")).encode()
                )
                kept[name] = self.services.store.url(key)
        return kept

    def publish(self, result: E2EResult) -> E2EResult:
        """Commit the report and screenshots to the branch, keep them in the artifacts, post to the PR."""
        last = self.attempts[-1]
        n = last.attempt
        shots = self.services.workdir / f"shots-{n}"
        taken = screenshots_taken(shots)
        folder = f".factory/screenshots/{self.ticket.identifier}"
        branch_report = render_report(
            self.ticket.identifier, self.attempts, lambda name: name, self.services.redact
        )
        for name in taken:
            self.services.store.write_bytes(self._key("screenshots", name), (shots / name).read_bytes())
        artifact_report = render_report(
            self.ticket.identifier,
            self.attempts,
            lambda name: self.services.store.url(self._key("screenshots", name)),
            self.services.redact,
        )
        report_key = self._key("report.md")
        self.services.store.write_bytes(report_key, artifact_report.encode())
        workspace = self._workspace("e2e-publish")
        workspace.clone()
        target = workspace.path / folder
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in taken:
            shutil.copy2(shots / name, target / name)
        (target / "report.md").write_text(branch_report + "\n", encoding="utf-8")
        subject = f"{self.ticket.identifier}: E2E report and screenshots ({last.verdict})"
        message = f"{subject}\n\nWritten by Factory run {self.run_id}."
        if workspace.commit_all(message, self.services.redact.finds_secret):
            workspace.push()
        self.shared_report = self._shared_report(folder)
        comment = self._comment(workspace, self.shared_report)
        return result.model_copy(
            update={
                "report": self.services.store.url(report_key),
                "report_in_branch": f"{folder}/report.md",
                "pull_request_comment": comment,
            }
        )

    def _shared_report(self, folder: str) -> str:
        """The report for people: images from the branch on GitHub, else from the artifacts."""
        repo = repo_from_url(self.settings.repo_url or "")
        branch = phase_branch(self.settings)

        def image_url(name: str) -> str:
            if repo is not None:
                return f"https://github.com/{repo}/blob/{branch}/{folder}/{name}?raw=true"
            return self.services.store.url(self._key("screenshots", name))

        return render_report(self.ticket.identifier, self.attempts, image_url, self.services.redact)

    def _comment(self, workspace: Workspace, report: str) -> str | None:
        """The report as the PR's one sticky E2E comment; None when the branch has no open PR yet."""
        pull = self.services.pulls.find_open(workspace.branch, workspace.base_branch)
        if pull is None:
            get_logger().info("no open pull request for %s: the report is not posted", workspace.branch)
            return None
        return self.services.pulls.upsert_comment(pull.number, PR_COMMENT_KEY, report)

    def _workspace(self, name: str) -> Workspace:
        path = self.services.workdir / name
        branch, base = phase_branch(self.settings), self.settings.base_branch
        return Workspace(self.services.git, self.settings.repo_url or "", path, branch, base)

    def _key(self, *parts: str) -> str:
        return run_key(self.run_id, PHASE, *parts)


def _browser_split(shots: Path, agent_seconds: float) -> dict[str, float]:
    """The browser agent's time split into Chromium's start (as the tool measured it) and the rest."""
    try:
        start = float(json.loads((shots / BROWSER_START).read_text())["start_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {"browser_start": start, "agent": round(max(agent_seconds - start, 0.0), 3)}


def _failed_checks(attempt: E2EAttempt) -> list[str]:
    """Checks the page really failed (what a fixer can act on); not problems with the report itself."""
    return [item.check for item in attempt.report.checklist if not item.passed] if attempt.report else []


def _required_text(required: list[str]) -> str:
    if not required:
        return ""
    lines = "\n".join(f"- {check}" for check in required)
    return (
        "\n## Checks that failed on the last attempt\n\nA fix was made for these. Each must be in your "
        f"checklist again, with the same wording, and be judged afresh:\n\n{prompts.fence('checks', lines)}\n"
    )


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
