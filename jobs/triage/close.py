"""The night's closing step: what each finding's chain came to, remembered, told to Sentry, summed up.

``python -m jobs triage-close`` (Cloud Run Job ``factory-triage-close``) runs after the workflow's
fan-out, whatever the chains ended as. For each finding the night selected it reads the chain's own
results (implement, review, e2e: figures our code wrote, never an agent's words), records the pull
request in the ledger (so a later night knows the failure has a fix in review), adds a note linking the
PR to the Sentry issue, writes the outcomes into findings.json, and leaves one line for Slack.
"""

from __future__ import annotations

from collections.abc import Callable

from jobs.artifacts import ArtifactStore, read_model, write_model
from jobs.errors import ArtifactNotFound, FactoryError
from jobs.logs import get_logger
from jobs.models import PhaseResult, run_key, utc_now
from jobs.phases.e2e.records import E2EResult
from jobs.phases.implement.records import ImplementResult
from jobs.phases.kit.steps import Stopwatch, log_failure, update_report
from jobs.phases.review.records import ReviewResult
from jobs.services import Services
from jobs.settings import JobSettings
from jobs.triage.collect import Source, open_sources
from jobs.triage.decide import Decision
from jobs.triage.ledger import Ledger
from jobs.triage.phase import PHASE as TRIAGE
from jobs.triage.phase import OpenSources, triage_config
from jobs.triage.records import CloseResult, Entry, NightFindings, TriageResult, started

PHASE = "triage-close"


def run_close(
    settings: JobSettings, services: Services, run_id: str, sources: OpenSources = open_sources
) -> CloseResult:
    clock = Stopwatch()
    result = CloseResult.model_validate(started(run_id, settings.base_branch))
    try:
        triage = read_model(services.store, run_key(run_id, TRIAGE, "result.json"), TriageResult)
        result = result.model_copy(update={"night": triage.night})
        if triage.status != "done":
            result = result.model_copy(
                update={"status": "done", "detail": f"the triage ended {triage.status}: nothing to close"}
            )
        else:
            key = run_key(run_id, TRIAGE, "findings.json")
            findings = read_model(services.store, key, NightFindings)
            with clock.step("outcomes"):
                findings.entries = [_with_outcome(services.store, entry) for entry in findings.entries]
            if not findings.report_only:
                config = triage_config(settings, services, clock)
                with clock.step("remember"):
                    _remember(Ledger(services.store, config.id_prefix), findings)
                with clock.step("notes"):
                    _note_sentry(sources(settings, config), findings, services.redact)
            write_model(services.store, key, findings)
            result = result.model_copy(update=_summary(findings) | {"status": "done"})
    except Exception as exc:
        log_failure(PHASE, exc)
        result = result.model_copy(update={"detail": services.redact(str(exc))[:2000]})
    result = result.model_copy(update={"timings": clock.timings, "finished_at": utc_now()})
    write_model(services.store, run_key(run_id, PHASE, "result.json"), result)
    update_report(services, run_id)
    return result


def _read(store: ArtifactStore, run_id: str, phase: str, model: type[PhaseResult]) -> PhaseResult | None:
    try:
        return read_model(store, run_key(run_id, phase, "result.json"), model)
    except (ArtifactNotFound, FactoryError):
        return None


def _with_outcome(store: ArtifactStore, entry: Entry) -> Entry:
    """The entry with what its chain ended as: the phase it stopped at, and its PR if it opened one."""
    if not entry.decision.fixes or not entry.run_id:
        return entry
    implement = _read(store, entry.run_id, "implement", ImplementResult)
    review = _read(store, entry.run_id, "review", ReviewResult)
    e2e = _read(store, entry.run_id, "e2e", E2EResult)
    pull = review.pull_request if isinstance(review, ReviewResult) else None
    if implement is None:
        outcome = "failed: implement did not run to a result"
    elif implement.status == "no_changes":
        outcome = "no changes (already fixed on the base branch?)"
    elif implement.status != "done":
        outcome = f"failed: implement ended {implement.status}"
    elif review is None or review.status == "error":
        outcome = "failed: review " + ("did not run to a result" if review is None else "ended in error")
    elif e2e is None or e2e.status == "error":
        outcome = f"review {review.status}; e2e " + (
            "did not run to a result" if e2e is None else "ended in error"
        )
    else:
        outcome = f"review {review.status}, e2e {e2e.status}"
    return entry.model_copy(update={"outcome": outcome, "pull_request": pull.url if pull else None})


def _remember(ledger: Ledger, findings: NightFindings) -> None:
    for entry in findings.entries:
        if not entry.identifier:
            continue
        try:
            record, attempt = ledger.find_identifier(entry.identifier)
        except ArtifactNotFound:
            get_logger().warning("no ledger record for %s: its outcome is not remembered", entry.identifier)
            continue
        attempt.outcome = entry.outcome
        if entry.pull_request:
            attempt.pull_request = entry.pull_request
        ledger.save(record)


def _note_sentry(sources: list[Source], findings: NightFindings, redact: Callable[[str], str]) -> None:
    for entry in findings.entries:
        issue = entry.finding.sentry_issue_id
        if not (issue and entry.pull_request and entry.identifier):
            continue
        text = (
            f"Factory opened a fix for this issue: {entry.pull_request} "
            f"({entry.identifier}, night {findings.night})."
        )
        for source in sources:
            try:
                source.note(issue, text)
            except FactoryError as exc:
                get_logger().warning("could not add a note to Sentry issue %s: %s", issue, redact(str(exc)))


def _summary(findings: NightFindings) -> dict[str, object]:
    counts = findings.tally()
    fixed = [e for e in findings.entries if e.decision.fixes and e.identifier]
    pulls = [e.pull_request for e in fixed if e.pull_request]
    failed = [f"{e.identifier}: {e.outcome}" for e in fixed if not e.pull_request]
    counts |= {"prs": len(pulls), "failed": len(failed)}
    line = (
        f"night {findings.night}: {counts['found']} found, {counts[Decision.NEW.value]} new, "
        f"{counts[Decision.DUPLICATE.value]} duplicate, {counts[Decision.REGRESSION.value]} regression, "
        f"{len(pulls)} PR(s) opened, {len(failed)} failed"
    )
    if findings.report_only:
        line = f"night {findings.night} (report only): {counts['found']} found, nothing fixed"
    return {"counts": counts, "pull_requests": pulls, "failed": failed, "line": line}
