"""What one run left under ``runs/<run_id>/``, read once, and the figures every view of it shares.

The HTML report, ``factory runs`` and ``factory runs show`` all read a run through ``load_run`` and
judge it through the functions here, so a run's outcome, duration and cost are the same wherever they
are shown. Reading is forgiving: a run is looked at mid-way, after a crash, or from an older version,
so a missing record is "not yet", and an unreadable one is a problem to show, never an exception.

A run is either a ticket's (implement, review, e2e: a Linear ticket, or a finding of a night, which is
a ticket by another name), a night's (triage, then its closing step, with no ticket and no manifest),
or a client's onboarding (onboard, then the same review and e2e on its branch, with no manifest: the
onboarding is the ticket). A night's phases are the ones only the nightly job runs (``NIGHT_PHASES``),
so each kind of run is judged on its own phases. A night also has its findings
(``triage/findings.json``) and the chains it started; a finding's chain knows the night it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar, get_args

from jobs.artifacts import ArtifactStore, check_key, read_model
from jobs.errors import ArtifactError, ArtifactNotFound
from jobs.models import PhaseResult, Record, RunManifest, run_key
from jobs.onboard.records import OnboardResult
from jobs.phases.e2e.records import E2EResult
from jobs.phases.implement.records import ImplementResult
from jobs.phases.kit.security import SecurityRecord, read_security
from jobs.phases.registry import JOBS, PHASES, get_phase
from jobs.phases.review.records import PullRequestRef, ReviewResult
from jobs.report.links import report_key
from jobs.triage.ledger import chain_run_id
from jobs.triage.records import CloseResult, NightFindings, TriageResult

NIGHT_JOB = "solve-chatbot-issues"
ONBOARD_JOB = "onboard-client"
# The phases only a night runs (triage, triage-close): its fixes' implement, review and e2e are a
# ticket's, and the onboarding's phases are its own.
NIGHT_PHASES = frozenset(
    name
    for name in JOBS[NIGHT_JOB]
    if not any(name in names for job, names in JOBS.items() if job != NIGHT_JOB)
)
M = TypeVar("M", bound=Record)
Tone = Literal["good", "info", "warn", "bad", "pending"]
# A ticket's run ends passed .. unfinished; a night ends done, flagged (a fix opened no PR), failed,
# unfinished (its fixes still running), or already-claimed (another run has the night); an onboarding
# as a ticket's, or done when it ends at its eval (eval-only).
Outcome = Literal[
    "passed", "flagged", "unverified", "no_changes", "failed", "unfinished", "done", "already-claimed"
]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)

# Statuses by how a person should read them; the registry says which ones mean "could not do its job".
# Phase statuses first; then an agent's (``AgentStatus``) and a fix's, which the report shows too.
GOOD = frozenset({"done", "passed", "verified", "success", "committed"})
WARN = frozenset({"failed_after_max", "unparseable", "skipped"})
INFO = frozenset({"no_changes"})
BAD = frozenset(
    {"failed", "timed_out", "error", "max_turns", "over_budget", "no_result", "model_unavailable"}
)

# The review phase's own PR body opens with "Ticket: [IX-101](url)": the one place a run keeps the
# ticket's link (the manifest has its identifier and title only).
_TICKET_LINE = re.compile(r"^Ticket: \[([A-Za-z0-9-]{1,30})\]\(([^)\s]{1,2000})\)", re.MULTILINE)


def tone(status: str | None) -> Tone:
    """How a phase status (or a run's outcome) reads: good, info, warn, bad, or pending (not run)."""
    if status is None or status == "unfinished":
        return "pending"
    if status in GOOD:
        return "good"
    if status in WARN or status in ("flagged", "unverified"):
        return "warn"
    if status in INFO:
        return "info"
    if status in BAD:
        return "bad"
    return "info"


def phase_cost(result: PhaseResult) -> float:
    """Dollars one phase's agents spent (list price, as the stream reports it)."""
    if isinstance(result, ImplementResult):
        return result.agent.usage.cost_usd if result.agent is not None else 0.0
    cost = getattr(result, "cost_usd", 0.0)
    return float(cost) if isinstance(cost, int | float) else 0.0


def phase_seconds(result: PhaseResult) -> float:
    return max((result.finished_at - result.started_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class NightLink:
    """The night a finding's chain was started by: its run and its date."""

    run_id: str
    night: str


@dataclass
class RunFacts:
    """Everything a view needs of one run; each record is None (or absent) until its phase wrote it."""

    run_id: str
    manifest: RunManifest | None = None
    results: dict[str, PhaseResult] = field(default_factory=dict)
    security: dict[str, SecurityRecord] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    pr_body: str | None = None
    problems: list[str] = field(default_factory=list)
    # A night's: its findings and decisions, and each fix's chain by run id (results only).
    findings: NightFindings | None = None
    chains: dict[str, RunFacts] = field(default_factory=dict)
    reports: set[str] = field(default_factory=set)  # the chains that have a report to link to
    # A finding's chain: the night that started it (None for a ticket's run, or when not confirmed).
    from_night: NightLink | None = None

    @property
    def implement(self) -> ImplementResult | None:
        result = self.results.get("implement")
        return result if isinstance(result, ImplementResult) else None

    @property
    def review(self) -> ReviewResult | None:
        result = self.results.get("review")
        return result if isinstance(result, ReviewResult) else None

    @property
    def e2e(self) -> E2EResult | None:
        result = self.results.get("e2e")
        return result if isinstance(result, E2EResult) else None

    @property
    def triage(self) -> TriageResult | None:
        result = self.results.get("triage")
        return result if isinstance(result, TriageResult) else None

    @property
    def close(self) -> CloseResult | None:
        result = self.results.get("triage-close")
        return result if isinstance(result, CloseResult) else None

    @property
    def onboard(self) -> OnboardResult | None:
        result = self.results.get("onboard")
        return result if isinstance(result, OnboardResult) else None

    @property
    def is_night(self) -> bool:
        """Whether this is a night's run: one of its results is of a phase only a night runs."""
        return any(phase in NIGHT_PHASES for phase in self.results)

    @property
    def is_onboarding(self) -> bool:
        """Whether this is a client's onboarding (job onboard-client)."""
        return self.onboard is not None or (self.manifest is not None and self.manifest.job == ONBOARD_JOB)

    @property
    def night(self) -> str:
        """A night's date (``2026-12-04``); empty for a ticket's run."""
        result = self.triage or self.close
        return result.night if result is not None else ""

    @property
    def job(self) -> str:
        if self.manifest is not None:
            return self.manifest.job
        if self.is_night:  # a night writes no manifest: its job is the one that runs its phases
            return next((job for job, names in JOBS.items() if set(self.results) <= set(names)), "")
        if self.onboard is not None:  # nor does an onboarding: its onboard phase names it
            return ONBOARD_JOB
        return ""

    @property
    def phases(self) -> tuple[str, ...]:
        """The phases of this kind of run (a night's or a ticket's) its job runs, in order (all of that
        kind when the job is unknown, but the onboarding's own: an onboarding names its job)."""
        known = self.job in JOBS
        names = JOBS[self.job] if known else tuple(phase.name for phase in PHASES if phase.name != "onboard")
        names = tuple(name for name in names if (name in NIGHT_PHASES) == self.is_night)
        if self.triage is not None and self.triage.status != "done" and "triage" in names:
            return names[: names.index("triage") + 1]  # the workflow ends such a night there
        if self.onboard is not None and self.onboard_ends and "onboard" in names:
            return names[: names.index("onboard") + 1]  # and an onboarding that pushed no branch
        return names

    @property
    def onboard_ends(self) -> bool:
        """Whether the workflow ends the onboarding at its onboard phase: eval-only (no branch), nothing
        to update, or failed."""
        onboard = self.onboard
        return onboard is not None and (onboard.mode == "eval-only" or onboard.status != "done")

    @property
    def ticket(self) -> str:
        if self.manifest is not None:
            return self.manifest.ticket_identifier
        return next((r.ticket_identifier for r in self.results.values() if r.ticket_identifier), "")

    @property
    def subject(self) -> str:
        """What the run is about, in a word: its ticket (or finding), or ``night 2026-12-04``."""
        if self.is_night:
            return f"night {self.night}" if self.night else "night"
        if self.onboard is not None and self.onboard.client:
            return f"{self.onboard.client} ({self.onboard.mode})"
        return self.ticket

    @property
    def title(self) -> str:
        if self.is_night:
            only = " (report only)" if self.triage is not None and self.triage.report_only else ""
            return f"Nightly triage of {self.night or 'an unknown night'}{only}"
        if self.onboard is not None:
            what = {"full": "Onboarding", "update-skills": "Skills update", "eval-only": "Evaluation"}
            return f"{what.get(self.onboard.mode, 'Onboarding')} of {self.onboard.client or 'a client'}"
        return self.manifest.ticket_title if self.manifest is not None else ""

    @property
    def started_at(self) -> datetime | None:
        times = [r.started_at for r in self.results.values()]
        if self.manifest is not None:
            times.append(self.manifest.created_at)
        return min(times) if times else None

    @property
    def finished_at(self) -> datetime | None:
        return max((r.finished_at for r in self.results.values()), default=None)

    @property
    def seconds(self) -> float | None:
        """From the run's first record to its last phase's end (so far, for an unfinished run)."""
        start, end = self.started_at, self.finished_at
        return max((end - start).total_seconds(), 0.0) if start and end else None

    @property
    def cost_usd(self) -> float:
        return round(sum(phase_cost(result) for result in self.results.values()), 6)

    def status(self, phase: str) -> str | None:
        result = self.results.get(phase)
        return result.status if result is not None else None

    @property
    def outcome(self) -> Outcome:
        """The run as a whole, as the workflow ends it (docs/design.md, "The flow")."""
        if self.is_night:
            return self._night_outcome()
        statuses = [self.status(phase) for phase in self.phases]
        for phase, status in zip(self.phases, statuses, strict=True):
            if status is not None and status in _failed(phase):
                return "failed"
        implement, review, e2e = self.status("implement"), self.status("review"), self.status("e2e")
        onboard = self.onboard
        if implement == "no_changes" or (onboard is not None and onboard.status == "no_changes"):
            return "no_changes"
        if onboard is not None and onboard.mode == "eval-only" and onboard.status == "done":
            return "flagged" if onboard.needs_human else "done"
        if e2e == "failed":
            return "failed"
        flagged = review in WARN or bool(onboard is not None and onboard.needs_human)
        if e2e == "verified":
            return "flagged" if flagged else "passed"
        if e2e == "skipped":
            return "flagged" if flagged else "unverified"
        return "unfinished"

    def _night_outcome(self) -> Outcome:
        triage, close = self.triage, self.close
        if triage is None:
            return "unfinished"
        if triage.status != "done":
            return "failed" if triage.status == "error" else "already-claimed"
        if close is None:
            return "unfinished"  # its fixes are running, or its closing step has not run yet
        if close.status == "error":
            return "failed"
        return "flagged" if close.failed else "done"  # flagged: a fix that opened no pull request

    def matches(self, status: str) -> bool:
        """Whether ``status`` is this run's outcome or any of its phases' statuses."""
        return status == self.outcome or status in {r.status for r in self.results.values()}

    @property
    def pull_request(self) -> PullRequestRef | None:
        return self.review.pull_request if self.review is not None else None

    @property
    def ticket_url(self) -> str | None:
        """The ticket's link, as the review phase put it in the PR body (None before review)."""
        if self.pr_body is None:
            return None
        found = _TICKET_LINE.search(self.pr_body)
        return found.group(2) if found else None

    @property
    def pending(self) -> list[str]:
        """The job's phases with no result yet, in order."""
        return [phase for phase in self.phases if phase not in self.results]


def _failed(phase: str) -> frozenset[str]:
    try:
        return get_phase(phase).failed
    except KeyError:
        return frozenset()


def read_manifest(store: ArtifactStore, run_id: str, problems: list[str]) -> RunManifest | None:
    """The run's manifest; None when there is none (the first phase failed before writing it)."""
    return _read(store, run_key(run_id, "manifest.json"), RunManifest, problems)


def read_results(store: ArtifactStore, run_id: str, problems: list[str]) -> dict[str, PhaseResult]:
    """Every phase's ``result.json`` there is, by phase, in the registry's order."""
    results: dict[str, PhaseResult] = {}
    for phase in PHASES:
        result = _read(store, run_key(run_id, phase.name, "result.json"), phase.load_result(), problems)
        if result is not None:
            results[phase.name] = result
    return results


def _read(store: ArtifactStore, key: str, model: type[M], problems: list[str]) -> M | None:
    try:
        return read_model(store, key, model)
    except ArtifactNotFound:
        return None
    except ArtifactError as exc:
        problems.append(str(exc))
        return None


def load_run(store: ArtifactStore, run_id: str, *, everything: bool = True) -> RunFacts:
    """The run's facts; ``everything`` adds its security records, its PR body and its list of keys
    (what the report and ``runs show`` need; a listing needs only the manifest and the results)."""
    facts = RunFacts(run_id)
    facts.manifest = read_manifest(store, run_id, facts.problems)
    facts.results = read_results(store, run_id, facts.problems)
    if not everything:
        return facts
    for phase in facts.results:
        try:
            record = read_security(store, run_id, phase)
        except ArtifactError as exc:
            facts.problems.append(str(exc))
            continue
        if record is not None:
            facts.security[phase] = record
    try:
        facts.pr_body = store.read_bytes(run_key(run_id, "review", "pr-body.md")).decode(errors="replace")
    except ArtifactNotFound:
        pass
    except ArtifactError as exc:
        facts.problems.append(str(exc))
    facts.keys = store.list(run_key(run_id) + "/")
    if facts.is_night:
        _read_night(store, facts)
    else:
        facts.from_night = _night_of(store, facts)
    return facts


def _read_night(store: ArtifactStore, facts: RunFacts) -> None:
    """A night's findings, and the records of each chain it started (a few: the night's cap)."""
    key = run_key(facts.run_id, "triage", "findings.json")
    facts.findings = _read(store, key, NightFindings, facts.problems)
    if facts.findings is None:
        return
    for entry in facts.findings.entries:
        chain = entry.run_id
        if not chain or chain in facts.chains or not valid_run_id(chain):
            continue
        facts.chains[chain] = RunFacts(chain, results=read_results(store, chain, facts.problems))
        try:
            if store.exists(report_key(chain)):
                facts.reports.add(chain)
        except ArtifactError as exc:
            facts.problems.append(str(exc))


def _night_of(store: ArtifactStore, facts: RunFacts) -> NightLink | None:
    """The night that started this run, when it is a finding's chain.

    A chain's run id is the night's with its finding's identifier after it (``chain_run_id``, which the
    workflow follows too): that names the one candidate. It is taken only when that night's own triage
    result lists this very run among the findings it selected, so a ticket's run whose id happens to end
    the same way, or a night whose records are gone, gets no link."""
    ticket = facts.ticket
    suffix = f"-{ticket.lower()}"
    if not ticket or facts.manifest is None or not facts.run_id.endswith(suffix):
        return None
    candidate = facts.run_id[: -len(suffix)]
    # Should the naming rule ever change, no link rather than a wrong one.
    if not valid_run_id(candidate) or chain_run_id(candidate, ticket) != facts.run_id:
        return None
    triage = _read(store, run_key(candidate, "triage", "result.json"), TriageResult, facts.problems)
    if triage is None or not any(s.run_id == facts.run_id for s in triage.selected):
        return None
    return NightLink(candidate, triage.night)


def valid_run_id(run_id: str) -> bool:
    """Whether ``run_id`` can name a run folder (one segment, a key the store accepts)."""
    if not run_id or "/" in run_id:
        return False
    try:
        check_key(run_key(run_id, "x"))
    except ArtifactError:
        return False
    return True
