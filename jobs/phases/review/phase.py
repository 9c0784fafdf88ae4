"""The review phase: review → fix → review ... (at most three reviews) → the pull request.

Each round starts from a fresh clone of the pushed branch. The diff and head are taken at once, before
any target code runs; the target's install and checks (the evidence) run in a copy of that clone, so
they cannot change what the reviewer reads. The reviewer scores the diff; when a score is below 4 the
fixer works in the clone and our code commits and pushes its change. After a pass, the third failed
review, or a review that never came back as valid JSON, the PR is opened or updated; it is flagged for a
human unless the last review passed on the whole diff, at the branch's current head, and the branch
leaves agent and automation configuration alone (``sensitive.py``).

A re-run with the same run id resumes: rounds already complete in the artifacts are not repeated.
``review/result.json`` tells the workflow what happened, whatever happened.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field

from jobs.agent.models import McpServer
from jobs.artifacts import read_model, write_model
from jobs.errors import ArtifactNotFound, StepFailed
from jobs.faults import crash_point
from jobs.logs import get_logger
from jobs.models import run_key
from jobs.onboard.records import OnboardResult
from jobs.phases.implement.records import ImplementResult
from jobs.phases.kit.budget import PhaseBudget
from jobs.phases.kit.security import SecurityRecord, read_security, security_key
from jobs.phases.kit.steps import (
    Stopwatch,
    branch_workspace,
    log_failure,
    read_ticket,
    result_fields,
    tell_ticket,
    write_result,
)
from jobs.phases.kit.tools import served_tools, tool_scope
from jobs.phases.review.body import BodyInputs, render_body
from jobs.phases.review.evidence import run_checks
from jobs.phases.review.fixer import fix_round
from jobs.phases.review.records import PullRequestRef, ReviewResult, ReviewRound, ReviewStatus
from jobs.phases.review.reviewer import MAX_DIFF_CHARS, RoundInputs, review_round
from jobs.phases.review.sensitive import sensitive_changes, sensitive_reason
from jobs.pulls import PullRequestDraft, clamp_body, clamp_title
from jobs.sandbox.app import app_side
from jobs.services import Services
from jobs.settings import JobSettings
from jobs.target_config import TargetConfig, base_target_config
from jobs.tickets import Ticket
from jobs.workspace import Workspace, safe_title
from jobs.workspace.install import install, install_in

PHASE = "review"
MAX_ROUNDS = 3
STATUS_OF_LAST_ROUND: dict[str, ReviewStatus] = {
    "passed": "passed",
    "failed": "failed_after_max",
    "unparseable": "unparseable",
    "error": "error",
}


def run_review(settings: JobSettings, services: Services, run_id: str) -> ReviewResult:
    """Run the loop, open the PR, and write ``review/result.json`` whatever happens."""
    clock = Stopwatch()
    result = ReviewResult(**result_fields(settings, run_id), status="error")
    loop: ReviewLoop | None = None
    try:
        ticket = read_ticket(services, result.ticket_identifier, clock)
        onboarding = read_onboarding(services, run_id)
        loop = ReviewLoop(settings, services, run_id, ticket, clock)
        loop.run()
        result = _with_rounds(result, loop.rounds, STATUS_OF_LAST_ROUND[loop.rounds[-1].verdict])
        with clock.step("pull_request"):
            flags = _needs_human(result, loop) + _onboarding_flags(onboarding, result)
            services.security.flag(*flags)
            result = result.model_copy(update={"needs_human": flags, "timings": clock.timings})
            pull = _open_pull_request(services, ticket, result, onboarding)
        result = result.model_copy(update={"pull_request": pull})
    except Exception as exc:
        log_failure("review", exc)
        services.security.note_failure(exc)  # a fix's commit refused for a secret or its size
        rounds = loop.rounds if loop is not None else []
        result = _with_rounds(result, rounds, "error").model_copy(
            update={"detail": services.redact(str(exc))}
        )
    result = write_result(services, PHASE, result, clock)
    if loop is not None:
        tell_ticket(services, loop.ticket, _ticket_text(result))
    return result


@dataclass
class ReviewLoop:
    """The rounds of one run; ``rounds`` grows as they finish, so a failure keeps what was done."""

    settings: JobSettings
    services: Services
    run_id: str
    ticket: Ticket
    clock: Stopwatch
    rounds: list[ReviewRound] = field(default_factory=list)
    remote_head: str | None = None  # the branch's head on the remote after the last round
    _config: TargetConfig | None = None
    _budget: PhaseBudget | None = None

    def run(self) -> None:
        self.rounds = resumable_rounds(self.services, self.run_id)
        if self.rounds:
            get_logger().info("resuming after round %d of this run", len(self.rounds))
        while not self.rounds or _goes_on(self.rounds[-1]):
            self._round(len(self.rounds) + 1)
            record = self.rounds[-1]
            if record.verdict == "error":
                raise StepFailed(
                    f"review {record.round}: the reviewer gave no answer: {record.asks[-1].agent.detail}"
                )
        workspace = self._workspace(len(self.rounds))
        self.remote_head = workspace.remote_head(workspace.branch)

    def _workspace(self, n: int) -> Workspace:
        return branch_workspace(self.settings, self.services, f"round-{n}")

    def _round(self, n: int) -> None:
        """Review (and fix) once; the round joins ``rounds`` as soon as it is reviewed."""
        services, clock, log = self.services, self.clock, get_logger()
        workspace = self._workspace(n)
        with clock.step("clone"):
            workspace.clone()
        if not workspace.resumed:
            raise StepFailed(f"branch {workspace.branch} is not on the remote: there is nothing to review")
        if self._config is None:
            self._config = base_target_config(workspace)
            self._budget = PhaseBudget(self.settings, self._config)
        config, budget = self._config, self._budget
        assert budget is not None
        # Taken before any target code runs: nothing the checks do can change what is reviewed.
        head = workspace.head()
        diff = services.redact(workspace.diff_from_base())
        if not diff.strip():
            raise StepFailed(
                f"{workspace.branch} has no change against {workspace.base_branch}: nothing to review"
            )
        stat = services.redact(workspace.diff_from_base(stat=True))
        checks_dir = workspace.path.with_name(f"checks-{n}")
        shutil.rmtree(checks_dir, ignore_errors=True)
        services.box.sweep()  # nothing of the box may change the tree while we copy it
        shutil.copytree(workspace.path, checks_dir, symlinks=True)
        services.box.hand_over(checks_dir)
        with clock.step("install"):
            install(config, checks_dir, budget.command_seconds(config.install_timeout_seconds), services.box)
        with clock.step("checks"), app_side(services.box, checks_dir, services.app_env) as app:
            checks = run_checks(
                config, checks_dir, services.redact, budget.command_seconds, services.box, app
            )
        inputs = RoundInputs(self.ticket, workspace, checks, diff, stat, n, MAX_ROUNDS, config.models.review)
        with clock.step("review"):
            record = review_round(services, budget, inputs, self.run_id, head)
        key = run_key(self.run_id, PHASE, f"review-{n}.json")
        write_model(services.store, key, record)
        self.rounds.append(record)
        log.info(
            "review %d: %s %s", n, record.verdict, record.review.scores.model_dump() if record.review else ""
        )
        if record.verdict == "failed" and record.review is not None and n < MAX_ROUNDS:
            with clock.step("install"):  # the fixer runs the tests itself
                install_in(workspace, config, budget.command_seconds(config.install_timeout_seconds))
            with clock.step("fix"), self._tools(config) as tools:
                fix = fix_round(
                    services,
                    budget,
                    workspace,
                    self.ticket,
                    record.review,
                    checks,
                    n,
                    self.run_id,
                    config,
                    tools,
                )
            self.rounds[-1] = record.model_copy(update={"fix": fix})
            write_model(services.store, key, self.rounds[-1])  # the round's file now says what the fix did
            log.info("fix %d: %s, %d commit(s)", n, fix.status, len(fix.commits))

    def _tools(self, config: TargetConfig) -> contextlib.AbstractContextManager[dict[str, McpServer]]:
        """The fixer's tools, served for its run."""
        scope = tool_scope(self.services, self.ticket)
        return served_tools(
            self.services, self.settings, config, "fix", scope, self.services.workdir / "tools"
        )


def _goes_on(last: ReviewRound) -> bool:
    """Whether another review follows ``last``: it failed, was fixed, and rounds are left."""
    return last.verdict == "failed" and last.fix is not None and last.round < MAX_ROUNDS


def resumable_rounds(services: Services, run_id: str) -> list[ReviewRound]:
    """Rounds this run already finished (a re-run of the same run id picks up after them).

    A round counts when it ended the loop or its fix was recorded; a round cut short is done again.
    """
    done: list[ReviewRound] = []
    for n in range(1, MAX_ROUNDS + 1):
        try:
            record = read_model(services.store, run_key(run_id, PHASE, f"review-{n}.json"), ReviewRound)
        except ArtifactNotFound:
            break
        finished = record.verdict in ("passed", "unparseable") or (
            record.verdict == "failed" and n == MAX_ROUNDS
        )
        if not (finished or _goes_on(record)):
            break
        done.append(record)
        if finished:
            break
    return done


def _with_rounds(result: ReviewResult, rounds: list[ReviewRound], status: ReviewStatus) -> ReviewResult:
    head = None
    if rounds:
        fix = rounds[-1].fix
        head = fix.commits[-1] if fix is not None and fix.commits else rounds[-1].head_sha
    cost = round(sum(r.cost_usd for r in rounds), 6)
    return result.model_copy(update={"status": status, "rounds": rounds, "head_sha": head, "cost_usd": cost})


def _needs_human(result: ReviewResult, loop: ReviewLoop) -> list[str]:
    """Why a human must look before merging; empty only for a pass on the whole, current diff that
    leaves agent and automation configuration alone (``sensitive.py``)."""
    last = result.rounds[-1]
    reasons = []
    if result.status == "unparseable":
        reasons.append(
            "the reviewer's output could not be parsed, so the change was never scored as passing."
        )
    elif result.status == "failed_after_max":
        reasons.append(
            f"the review still failed after {len(result.rounds)} rounds (every score must be 4 or more)."
        )
    if last.diff_truncated:
        seen = f"the reviewer saw only the first {MAX_DIFF_CHARS:,}"
        reasons.append(f"the diff was too large to review whole: {last.diff_chars:,} characters; {seen}.")
    if loop.remote_head != last.head_sha:
        reasons.append("the branch changed after its last review; the newest commits were not reviewed.")
    # What the PR would merge (the branch as the remote holds it now), read in a clone of our own.
    workspace = branch_workspace(loop.settings, loop.services, "changed-paths")
    workspace.clone()
    sensitive = sensitive_changes(workspace)
    if sensitive:
        reasons.append(sensitive_reason(sensitive))
    return reasons


def read_onboarding(services: Services, run_id: str) -> OnboardResult | None:
    """The run's onboard result, when its branch is a client's onboarding (job onboard-client)."""
    try:
        return read_model(services.store, run_key(run_id, "onboard", "result.json"), OnboardResult)
    except ArtifactNotFound:
        return None


def _onboarding_flags(onboarding: OnboardResult | None, result: ReviewResult) -> list[str]:
    """The onboarding's own reasons for a human (target not met, held-out fell, refused changes), and
    its figures going stale when the fixer changed the client's files after they were measured."""
    if onboarding is None:
        return []
    flags = [f"onboarding: {flag}" for flag in onboarding.needs_human]
    if onboarding.head_sha and result.head_sha and result.head_sha != onboarding.head_sha:
        flags.append(
            f"the review's fixer changed the branch after the onboarding measured its accuracy: the table's "
            f"figures are of {onboarding.head_sha[:12]}, not of the head."
        )
    return flags


def _open_pull_request(
    services: Services, ticket: Ticket, result: ReviewResult, onboarding: OnboardResult | None = None
) -> PullRequestRef:
    store, run_id = services.store, result.run_id
    try:
        implement: ImplementResult | None = read_model(
            store, run_key(run_id, "implement", "result.json"), ImplementResult
        )
    except ArtifactNotFound:
        implement = None
    keys = {
        "run manifest": run_key(run_id, "manifest.json"),
        "implement result": run_key(run_id, "implement", "result.json"),
    }
    keys.update(
        {f"review {r.round}": run_key(run_id, PHASE, f"review-{r.round}.json") for r in result.rounds}
    )
    links = {label: store.url(key) for label, key in keys.items() if store.exists(key)}
    if implement is not None and implement.transcript:
        links["implement transcript"] = implement.transcript
    links["review result"] = store.url(run_key(run_id, PHASE, "result.json"))
    existing = services.pulls.find_open(result.branch, result.base_branch)
    previous = existing.body if existing is not None else ""
    security = _security_records(services, run_id)
    if onboarding is not None:
        links["onboard result"] = store.url(run_key(run_id, "onboard", "result.json"))
    inputs = BodyInputs(ticket, result, implement, links, services.redact, previous, security, onboarding)
    body = render_body(inputs)
    # The full body is kept in the artifacts: a clamped PR body says so and points here.
    store.write_bytes(run_key(run_id, PHASE, "pr-body.md"), body.encode())
    draft = PullRequestDraft(
        head=result.branch,
        base=result.base_branch,
        title=clamp_title(f"{ticket.identifier}: {safe_title(ticket.title)}"),
        body=clamp_body(body),
        flagged=bool(result.needs_human),
    )
    pull = services.pulls.upsert(draft)
    crash_point("review:pull_request")
    get_logger().info("pull request #%d: %s%s", pull.number, pull.url, " (flagged)" if pull.flagged else "")
    return PullRequestRef(number=pull.number, url=pull.url, flagged=pull.flagged)


def _security_records(services: Services, run_id: str) -> dict[str, tuple[SecurityRecord, str]]:
    """Each phase's security record of this run and where it is kept: this phase's as it stands now
    (written with the result), the others' as stored, for those that wrote one."""
    records: dict[str, tuple[SecurityRecord, str]] = {}
    for phase in ("implement", PHASE, "e2e"):
        if phase == PHASE:
            record: SecurityRecord | None = services.security.record(run_id, PHASE, services.box)
        else:
            record = read_security(services.store, run_id, phase)
        if record is not None:
            records[phase] = (record, services.store.url(security_key(run_id, phase)))
    return records


def _ticket_text(result: ReviewResult) -> str:
    rounds = len(result.rounds)
    pull = result.pull_request
    where = f" Pull request: {pull.url}" if pull else ""
    if result.status == "error":
        return f"Factory could not finish the review: {result.detail}"
    if not result.needs_human:
        return f"Factory review passed after {rounds} round(s).{where}"
    verdict = result.status.replace("_", " ")
    return f"Factory review: {verdict} after {rounds} round(s); the PR needs human review.{where}"
