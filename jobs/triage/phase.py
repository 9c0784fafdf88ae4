"""The triage job: one night's failures from Sentry and Langfuse, each decided, the chosen ones handed on.

``python -m jobs triage`` (Cloud Run Job ``factory-triage``), started by the workflow for job
``solve-chatbot-issues``:

1. claims the night (``triage/nights/<night>.json``, create-if-absent): a second execution for the same
   night claims nothing, writes ``already-claimed`` and exits 0 (RELIABILITY F2);
2. reads the target's ``triage:`` section from its base branch (never running its code);
3. collects the window's failures from each configured source as findings (``jobs.triage.collect``);
4. ranks them, decides each against the ledger of earlier nights (``jobs.triage.decide``), and starts
   one attempt per finding to fix, up to the night's cap, each with its own identifier, branch and run;
5. writes ``runs/<run_id>/triage/findings.json`` (every finding and decision) and its result, whose
   ``selected`` list the workflow fans out into one implement → review → e2e chain per finding.

In report-only mode (the config's ``report_only`` or ``REPORT_ONLY``) it claims nothing, records
nothing, selects nothing: findings.json says what the night would have done.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from jobs.artifacts import ArtifactStore, read_model, write_model
from jobs.errors import ArtifactNotFound, ConfigError, FactoryError
from jobs.logs import get_logger
from jobs.models import run_key, utc_now
from jobs.phases.kit.steps import Stopwatch, log_failure, update_report
from jobs.phases.review.records import ReviewResult
from jobs.pulls import PullRequests
from jobs.services import Services
from jobs.settings import JobSettings
from jobs.target_config import CONFIG_FILE, parse_target_config
from jobs.triage.collect import Source, open_sources
from jobs.triage.config import TriageConfig
from jobs.triage.decide import Decision, decide, rank
from jobs.triage.findings import Finding, sanitized
from jobs.triage.ledger import Attempt, Ledger, NightTaken, evidence_key
from jobs.triage.records import Entry, NightFindings, Selected, TriageResult, started
from jobs.workspace.repo import read_base_file

PHASE = "triage"
PR_COMMENT_KEY = "factory-triage"

OpenSources = Callable[[JobSettings, TriageConfig], list[Source]]


def run_triage(
    settings: JobSettings, services: Services, run_id: str, sources: OpenSources = open_sources
) -> TriageResult:
    """Run the night and write its result, whatever happens; raises only if even that write fails."""
    clock = Stopwatch()
    night = settings.night or datetime.now(UTC).strftime("%Y-%m-%d")
    result = TriageResult.model_validate(started(run_id, settings.base_branch) | {"night": night})
    claimed: Ledger | None = None  # this run's claim, while nothing has been decided under it
    try:
        config = triage_config(settings, services, clock)
        report_only = config.report_only if settings.report_only is None else settings.report_only
        result = result.model_copy(update={"report_only": report_only})
        ledger = Ledger(services.store, config.id_prefix)
        if not report_only:
            with clock.step("claim"):
                ledger.claim_night(night, run_id)
            claimed = ledger
        with clock.step("collect"):
            found = [
                sanitized(finding, services.redact, config.max_evidence_bytes)
                for source in sources(settings, config)
                for finding in source.collect()
            ]
        claimed = None  # from here on records are written: a re-run must not decide the night again
        with clock.step("decide"):
            findings = _decide_all(found, ledger, config, services, settings, night, run_id, report_only)
        key = run_key(run_id, PHASE, "findings.json")
        write_model(services.store, key, findings)
        selected = [
            Selected(
                identifier=e.identifier or "",
                run_id=e.run_id or "",
                branch=e.branch or "",
                title=e.finding.title,
                regression=e.decision is Decision.REGRESSION,
            )
            for e in findings.entries
            if e.decision.fixes and e.identifier and not report_only
        ]
        result = result.model_copy(
            update={
                "status": "done",
                "selected": selected,
                "concurrency": config.concurrency,
                "counts": findings.tally(),
                "findings": services.store.url(key),
                "detail": _line(findings, report_only),
            }
        )
    except NightTaken as exc:
        get_logger().info("nothing to do: %s", exc)
        result = result.model_copy(update={"status": "already-claimed", "detail": str(exc)})
    except Exception as exc:
        log_failure(PHASE, exc)
        detail = services.redact(str(exc))[:2000]
        if claimed is not None and _released(claimed, night, run_id):
            detail += f" (the claim of night {night} was released: it can be run again)"
        result = result.model_copy(update={"detail": detail})
    result = result.model_copy(update={"timings": clock.timings, "finished_at": utc_now()})
    write_model(services.store, run_key(run_id, PHASE, "result.json"), result)
    update_report(services, run_id)
    return result


def _released(ledger: Ledger, night: str, run_id: str) -> bool:
    """Release the night this run claimed but decided nothing under (a source that failed to read):
    nothing half-claimed (RELIABILITY F4). A failure to release is logged; the run's own error stands."""
    try:
        return ledger.release_night(night, run_id)
    except FactoryError as exc:
        get_logger().warning("could not release the claim of night %s: %s", night, exc)
        return False


def triage_config(settings: JobSettings, services: Services, clock: Stopwatch) -> TriageConfig:
    with clock.step("config"):
        text = read_base_file(
            services.git, settings.repo_url or "", settings.base_branch, CONFIG_FILE, services.workdir
        )
    config = parse_target_config(text).triage
    if config is None:
        raise ConfigError(f"{CONFIG_FILE} on {settings.base_branch} has no triage: section")
    return config


def _decide_all(
    found: list[Finding],
    ledger: Ledger,
    config: TriageConfig,
    services: Services,
    settings: JobSettings,
    night: str,
    run_id: str,
    report_only: bool,
) -> NightFindings:
    pulls = _pulls_or_none(services)
    night_findings = NightFindings(
        night=night,
        run_id=run_id,
        window_hours=config.window_hours,
        report_only=report_only,
        sources={
            source: sum(1 for f in found if f.source == source)
            for source in sorted({f.source for f in found})
        },
    )
    fixing = 0
    for finding in rank(found):
        record = ledger.match(finding)
        verdict = decide(
            finding,
            record,
            min_events=config.min_events,
            room=fixing < config.max_prs_per_night,
            open_pull=lambda attempt: _open_pull(pulls, attempt, settings.base_branch),
            had_pull=lambda attempt: _had_pull(services.store, attempt),
        )
        entry = Entry(
            finding=finding,
            decision=verdict.decision,
            reason=verdict.reason,
            pull_request=verdict.pull_request,
        )
        if verdict.decision.fixes:
            fixing += 1
        if not report_only:
            record = ledger.remember(finding, night, verdict.decision.value)
            if verdict.decision.fixes:
                attempt = ledger.start_attempt(record, night, run_id, verdict.decision is Decision.REGRESSION)
                write_model(services.store, evidence_key(attempt.identifier), finding)
                entry = entry.model_copy(
                    update={
                        "identifier": attempt.identifier,
                        "run_id": attempt.run_id,
                        "branch": attempt.branch,
                    }
                )
            ledger.save(record)
            if verdict.decision is Decision.DUPLICATE and pulls is not None and verdict.pull_number:
                _tell_pull(pulls, verdict.pull_number, finding, night)
        night_findings.entries.append(entry)
    return night_findings


def _pulls_or_none(services: Services) -> PullRequests | None:
    try:
        return services.pulls
    except ConfigError as exc:
        get_logger().warning("no pull-request host: open fixes cannot be recognised (%s)", exc)
        return None


def _open_pull(pulls: PullRequests | None, attempt: Attempt, base: str) -> tuple[str, int] | None:
    if pulls is None:
        return None
    pull = pulls.find_open(attempt.branch, base)
    return (pull.url, pull.number) if pull is not None else None


def _had_pull(store: ArtifactStore, attempt: Attempt) -> bool:
    """Whether an attempt opened a pull request: the closing step's record, else its review's result."""
    if attempt.pull_request:
        return True
    try:
        review = read_model(store, run_key(attempt.run_id, "review", "result.json"), ReviewResult)
    except (ArtifactNotFound, FactoryError):
        return False
    return review.pull_request is not None


def _tell_pull(pulls: PullRequests, number: int, finding: Finding, night: str) -> None:
    body = (
        f"Still failing on night {night}: {finding.count} occurrence(s), {finding.users} user(s)"
        f"{', last seen ' + f'{finding.last_seen:%Y-%m-%d %H:%M}Z' if finding.last_seen else ''}. "
        "The nightly triage opened no second pull request for it."
    )
    try:
        pulls.upsert_comment(number, PR_COMMENT_KEY, body)
    except FactoryError as exc:
        get_logger().warning("could not comment on PR #%d: %s", number, exc)


def _line(findings: NightFindings, report_only: bool) -> str:
    counts = findings.tally()
    parts = [f"{counts['found']} found"] + [
        f"{counts[d.value]} {d.value}" for d in Decision if counts[d.value]
    ]
    return ("report only: " if report_only else "") + ", ".join(parts)


def window_start(config: TriageConfig, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(hours=config.window_hours)
