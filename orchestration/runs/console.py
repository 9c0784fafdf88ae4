"""Runs on the console, as rich tables: the listing, and one run in full.

A night (job ``solve-chatbot-issues``) is listed by its date, with the outcome its triage and closing
step give it; shown, it is its findings and decisions, and each fix's chain with its outcome and PR.
An onboarding (job ``onboard-client``) is listed by its client and mode, its onboard phase where a
ticket's run has implement; shown, it is a ticket's run with the onboarding's own lines first.

Ticket titles, reviewer issues, check output, checklist items and findings (error messages, end users'
chat turns) are text written by tickets, models and production: they go into tables as
``rich.text.Text`` (never parsed as rich markup) with control characters removed, so no ``[bold]`` and
no terminal escape sequence in them can do anything.
"""

from __future__ import annotations

import re

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from jobs.onboard.summary import summary_lines
from jobs.phases.registry import get_phase
from jobs.phases.review.verdict import CRITERIA, PASS_SCORE
from jobs.report import RunFacts, phase_cost, phase_seconds, tone
from jobs.report.fmt import duration, money, short_sha, when, words
from jobs.report.night import DECISION_TONES
from orchestration.runs.catalog import RunPage

STYLES = {"good": "green", "bad": "red", "warn": "yellow", "info": "cyan", "pending": "dim"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
CELL = 160
LIST_COLUMNS = (
    *("run", "job", "ticket", "started", "duration"),
    *("implement", "review", "e2e", "cost", "outcome"),
)


def plain(text: str | None, limit: int = CELL) -> Text:
    """Untrusted text as a table cell: controls gone, one line, cut at ``limit``."""
    flat = " ".join(_CONTROL.sub("", text or "").split())
    return Text(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def block(text: str | None, limit: int = 2_000) -> Text:
    """Untrusted text keeping its lines (a summary, a check's output)."""
    clean = _CONTROL.sub("", (text or "").replace("\r\n", "\n"))
    return Text(clean if len(clean) <= limit else clean[: limit - 1] + "…")


def status(value: str | None, text: str | None = None) -> Text:
    """A status in its colour: green done, red failed, yellow flagged, dim not run yet."""
    return Text(text or words(value), style=STYLES[tone(value)])


def listing(page: RunPage, console: Console) -> None:
    """The page of runs as one table, and where the next page is."""
    if not page.runs:
        if not page.scanned:
            console.print("no runs under this prefix yet")
        else:
            console.print("no runs on this page" if page.page > 1 else "no runs match")
        return
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for name in LIST_COLUMNS:
        right = name in ("duration", "cost")
        table.add_column(name, justify="right" if right else "left", no_wrap=name in ("run", "started"))
    for facts in page.runs:
        # A night runs none of a ticket's phases: its outcome says how its triage and closing step ended.
        # An onboarding's onboard phase stands where a ticket's implement does.
        phases = (
            [Text("-", style="dim")] * 3
            if facts.is_night
            else [_listed_status(facts, name) for name in ("implement", "review", "e2e")]
        )
        table.add_row(
            plain(facts.run_id, 60),
            plain(facts.job or "-"),
            plain(_subject(facts) or "-"),
            when(facts.started_at).removesuffix(" UTC"),
            duration(facts.seconds),
            *phases,
            money(facts.cost_usd),
            status(facts.outcome),
        )
    console.print(table)
    last = page.first + len(page.runs) - 1
    of = f" of {page.total}" if page.total is not None else ""
    more = f" · next: --page {page.page + 1}" if page.more else ""
    console.print(Text(f"runs {page.first}-{last}{of} (times in UTC), newest first{more}", style="dim"))


def _listed_status(facts: RunFacts, name: str) -> Text:
    if name == "implement" and facts.is_onboarding:
        result = facts.status("onboard")
        return status(result, f"onboard: {words(result)}")
    if name not in facts.phases:
        return Text("-", style="dim")  # a phase the workflow does not run for this run
    return status(facts.status(name))


def _subject(facts: RunFacts) -> str:
    report_only = facts.triage is not None and facts.triage.report_only
    return facts.subject + (" (report only)" if report_only else "")


def show(facts: RunFacts, report: str, console: Console) -> None:
    """One run: what it was, its phases, review rounds, checks, browser checklist, and its links; a
    night's: its phases, its findings with their decisions and fixes, and its closing line."""
    console.print(
        Text.assemble((facts.subject or "?", "bold"), "  ", plain(facts.title or facts.run_id, 200))
    )
    console.print(_about(facts, report))
    for problem in facts.problems:
        console.print(Text.assemble(("could not read: ", "red"), plain(problem, 300)))
    parts = (
        (_phases(facts), _findings(facts), _closing(facts))
        if facts.is_night
        else (_onboarding(facts), _phases(facts), _review(facts), _checks(facts), _checklist(facts))
    )
    for part in parts:
        if part is not None:
            console.print()
            console.print(part)


def _about(facts: RunFacts, report: str) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    rows: list[tuple[str, RenderableType]] = [
        ("run", plain(facts.run_id, 100)),
        ("job", plain(facts.job or "-")),
        ("outcome", status(facts.outcome)),
        ("started", when(facts.started_at)),
        ("duration", duration(facts.seconds)),
    ]
    rows += _night_about(facts) if facts.is_night else _ticket_about(facts)
    rows.append(("report", plain(report, 400)))
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def _night_about(facts: RunFacts) -> list[tuple[str, RenderableType]]:
    triage, findings = facts.triage, facts.findings
    mode = "report only: nothing claimed, recorded or fixed" if triage and triage.report_only else "fix"
    if triage is not None and not triage.report_only and triage.selected:
        mode += f", {triage.concurrency} at a time"
    rows: list[tuple[str, RenderableType]] = [
        ("night", plain(facts.night or "-")),
        ("mode", Text(mode)),
        ("cost", money(facts.cost_usd)),
        ("fixes cost", money(sum(chain.cost_usd for chain in facts.chains.values()))),
    ]
    if findings is not None:
        sources = ", ".join(f"{name} {n}" for name, n in findings.sources.items()) or "none"
        rows.append(("window", plain(f"{findings.window_hours} h · findings by source: {sources}")))
    if triage is not None and triage.findings:
        rows.append(("findings", plain(triage.findings, 400)))
    return rows


def _ticket_about(facts: RunFacts) -> list[tuple[str, RenderableType]]:
    manifest, pr, onboard = facts.manifest, facts.pull_request, facts.onboard
    rows: list[tuple[str, RenderableType]] = [("cost", money(facts.cost_usd))]
    if manifest is not None:
        rows += [
            ("branch", plain(f"{manifest.branch} -> {manifest.base_branch}")),
            ("repository", plain(manifest.repo, 300)),
        ]
    if onboard is not None:
        rows += [("client", plain(onboard.client or "-")), ("mode", plain(onboard.mode))]
        if manifest is None and onboard.branch and onboard.mode != "eval-only":
            rows.append(("branch", plain(f"{onboard.branch} -> {onboard.base_branch}")))
    flag = " (flagged)" if pr is not None and pr.flagged else ""
    rows.append(("pull request", plain(f"#{pr.number} {pr.url}{flag}", 400) if pr else Text("-")))
    rows.append(("ticket", plain(facts.ticket_url or facts.ticket or "-", 400)))
    if facts.from_night is not None:
        night = facts.from_night
        rows.append(("night", plain(f"{night.night}, run {night.run_id} (a finding of that night)", 300)))
    return rows


def _phases(facts: RunFacts) -> Table:
    table = Table(title="Phases", title_justify="left", title_style="bold", show_edge=False)
    for name in ("phase", "status", "started", "duration", "cost", "figures", "detail"):
        table.add_column(name, justify="right" if name in ("duration", "cost") else "left")
    for name in facts.phases:
        result = facts.results.get(name)
        title = _title(name)
        if result is None:
            table.add_row(title, status(None), "-", "-", "-", "", "")
            continue
        table.add_row(
            title,
            status(result.status),
            when(result.started_at).removesuffix(" UTC"),
            duration(phase_seconds(result)),
            money(phase_cost(result)),
            _figures(facts, name),
            plain(result.detail, 120),
        )
    return table


def _title(name: str) -> str:
    try:
        return get_phase(name).title
    except KeyError:
        return name


def _figures(facts: RunFacts, phase: str) -> str:
    triage, close = facts.triage, facts.close
    if phase == "triage" and triage is not None and triage.status == "done":
        return f"{triage.counts.get('found', 0)} found, {len(triage.selected)} to fix"
    if phase == "triage-close" and close is not None and close.status == "done" and close.counts:
        return f"{len(close.pull_requests)} PR(s), {len(close.failed)} fix(es) failed"
    if phase == "onboard" and facts.onboard is not None:
        onboard = facts.onboard
        score = onboard.final or onboard.baseline
        held = f", held-out {score.held_out.passed}/{score.held_out.cases}" if score is not None else ""
        return f"{len(onboard.rounds)} round(s){held}"
    if phase == "implement" and facts.implement is not None:
        result = facts.implement
        turns = f"{result.agent.turns} turns, " if result.agent else ""
        return f"{turns}{len(result.commits)} commit(s), head {short_sha(result.head_sha)}"
    if phase == "review" and facts.review is not None:
        return f"{len(facts.review.rounds)} round(s)"
    if phase == "e2e" and facts.e2e is not None:
        return f"{len(facts.e2e.attempts)} attempt(s)"
    return ""


def _onboarding(facts: RunFacts) -> Text | None:
    """The onboarding as the onboard phase sums it up: the baseline, each round, what needs a human."""
    if facts.onboard is None:
        return None
    return Text.assemble(("Onboarding\n", "bold"), block("\n".join(summary_lines(facts.onboard)), 4_000))


def _review(facts: RunFacts) -> RenderableType | None:
    review = facts.review
    if review is None or not review.rounds:
        return None
    scores = Table(title="Review", title_justify="left", title_style="bold", show_edge=False)
    scores.add_column("criterion")
    for rnd in review.rounds:
        scores.add_column(f"round {rnd.round}", justify="center")
    for name in CRITERIA:
        cells: list[RenderableType] = []
        for rnd in review.rounds:
            score = getattr(rnd.review.scores, name) if rnd.review else None
            cells.append(_score(score))
        scores.add_row(name, *cells)
    scores.add_row(Text("verdict", style="bold"), *[status(rnd.verdict) for rnd in review.rounds])
    scores.add_row(Text("cost", style="dim"), *[money(rnd.cost_usd) for rnd in review.rounds])
    rounds = Table(show_edge=False, title="Issues and fixes", title_justify="left", title_style="bold")
    for name in ("round", "what", "text"):
        rounds.add_column(name, overflow="fold")
    for rnd in review.rounds:
        for issue in rnd.review.issues if rnd.review else []:
            where = f"{issue.file}:{issue.line}" if issue.line else issue.file
            rounds.add_row(
                str(rnd.round), plain(f"issue {where} ({issue.criterion})", 80), block(issue.change, 600)
            )
        if rnd.fix is not None:
            fix = rnd.fix
            files = ", ".join(fix.files) or "no files"
            what = f"fix: {words(fix.status)}, {len(fix.commits)} commit(s): {files}"
            rounds.add_row(str(rnd.round), plain(what, 120), block(fix.summary or fix.detail, 600))
    return Group(scores, rounds) if rounds.row_count else scores


def _score(score: int | None) -> Text:
    if score is None:
        return Text("-", style="dim")
    return Text(str(score), style="green" if score >= PASS_SCORE else "bold red")


def _checks(facts: RunFacts) -> Table | None:
    review = facts.review
    if review is None or not any(rnd.checks for rnd in review.rounds):
        return None
    table = Table(title="Checks", title_justify="left", title_style="bold", show_edge=False)
    for name in ("round", "check", "command", "exit", "counts", "time"):
        table.add_column(name, justify="right" if name == "time" else "left")
    for rnd in review.rounds:
        for check in rnd.checks:
            counts = check.counts
            figures = (
                f"{counts.passed} passed, {counts.failed} failed, {counts.errors} errors"
                if counts.passed is not None
                else ""
            )
            code = (
                Text("timed out", style="yellow")
                if check.timed_out
                else Text(str(check.exit_code), style="green" if check.ok else "bold red")
            )
            table.add_row(
                str(rnd.round), check.name, plain(check.command, 80), code, figures, duration(check.seconds)
            )
    return table


def _checklist(facts: RunFacts) -> Table | None:
    e2e = facts.e2e
    if e2e is None:
        return None
    title = f"Browser check: {words(e2e.status)}"
    table = Table(title=title, title_justify="left", title_style="bold", show_edge=False)
    for name in ("attempt", "#", "check", "page", "result", "observed", "screenshot"):
        table.add_column(name, overflow="fold")
    for attempt in e2e.attempts:
        if attempt.report is None:
            table.add_row(
                str(attempt.attempt),
                "",
                Text("no usable report", style="dim"),
                "",
                status(attempt.verdict),
                "",
                "",
            )
            continue
        for n, item in enumerate(attempt.report.checklist, 1):
            table.add_row(
                str(attempt.attempt),
                str(n),
                plain(item.check, 120),
                plain(item.page, 40),
                status("passed" if item.passed else "failed", "pass" if item.passed else "fail"),
                plain(item.observed, 160),
                plain(item.screenshot or "-", 80),
            )
    if e2e.detail and not e2e.attempts:
        table.add_row("", "", plain(e2e.detail, 200), "", status(e2e.status), "", "")
    return table


def _findings(facts: RunFacts) -> Table | None:
    """Every finding of the night with its decision, and each fix's chain, outcome and PR."""
    findings = facts.findings
    if findings is None:
        return None
    title = f"Findings ({len(findings.entries)})"
    table = Table(title=title, title_justify="left", title_style="bold", show_edge=False)
    for name in ("source", "finding", "events", "users", "decision", "reason", "fix", "outcome", "PR"):
        table.add_column(name, justify="right" if name in ("events", "users") else "left", overflow="fold")
    for entry in findings.entries:
        finding = entry.finding
        chain = facts.chains.get(entry.run_id or "")
        if entry.identifier and entry.run_id:
            fix: Text = Text.assemble(plain(entry.identifier, 30), ("\nrun ", "dim"), plain(entry.run_id, 80))
            state = (
                status(chain.outcome) if chain is not None and chain.results else status(None, "no result")
            )
            outcome = Text.assemble(state, "\n", plain(entry.outcome, 120)) if entry.outcome else state
        else:
            fix = Text("not fixed (report only)" if findings.report_only and entry.decision.fixes else "-")
            outcome = Text("")
        pull = entry.pull_request or (chain.pull_request.url if chain and chain.pull_request else None)
        table.add_row(
            plain(finding.source),
            plain(finding.title, 120),
            str(finding.count),
            str(finding.users),
            Text(entry.decision.value, style=STYLES[DECISION_TONES[entry.decision]]),
            plain(entry.reason, 160),
            fix,
            outcome,
            plain(pull or "-", 200),
        )
    return table


def _closing(facts: RunFacts) -> Text | None:
    close = facts.close
    if close is None:
        triage = facts.triage
        if triage is not None and triage.status == "done":
            return Text("the night has not closed yet: its fixes may still be running", style="dim")
        return None
    if close.status == "error":
        return Text.assemble(("the closing step failed: ", "red"), plain(close.detail, 300))
    return Text.assemble(("closed: ", "bold"), plain(close.line or close.detail, 300))
