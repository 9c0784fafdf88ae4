"""A night's page (job ``solve-chatbot-issues``): what the triage found and decided, each fix's chain and
how it ended, and the night's closing line.

Finding titles, reasons, links and evidence come from production (error messages, end users' chat
turns) and are untrusted: they reach the page only through the escaping builders, as text. Each fix
links to its chain's own report, a sibling folder: ``../<chain run id>/index.html``.
"""

from __future__ import annotations

from urllib.parse import quote

from jobs.report.facts import RunFacts, Tone
from jobs.report.fmt import duration, money, when
from jobs.report.markup import Html, el, join, link
from jobs.report.parts import fact, folded, pill, section
from jobs.report.phases import Rel
from jobs.triage.decide import Decision
from jobs.triage.findings import Evidence, Finding
from jobs.triage.records import Entry

DECISION_TONES: dict[Decision, Tone] = {
    Decision.NEW: "info",
    Decision.REGRESSION: "warn",
    Decision.DUPLICATE: "pending",
    Decision.BELOW_THRESHOLD: "pending",
    Decision.OVER_CAP: "warn",
}
COUNTS = (
    ("found", "found"),
    ("new", "new"),
    ("regression", "regression"),
    ("duplicate", "duplicate"),
    ("below-threshold", "below threshold"),
    ("over-cap", "over cap"),
    ("prs", "PRs opened"),
    ("failed", "fixes failed"),
)
MAX_TEXT = 2_000
EVIDENCE_LINES = 12


def chain_report(run_id: str) -> str:
    """The relative link from one run's report to another's (they are sibling folders)."""
    return f"../{quote(run_id)}/index.html"


def night_facts(facts: RunFacts) -> list[Html]:
    """The header's figures for a night: how it ended, when, what it found, what its fixes opened."""
    findings = facts.findings
    fixed = [e for e in findings.entries if e.decision.fixes] if findings else []
    prs = sum(1 for e in fixed if _pull_request(facts, e))
    spent = sum(chain.cost_usd for chain in facts.chains.values())
    return [
        fact("Outcome", pill(facts.outcome, big=True)),
        fact("Started", when(facts.started_at), small=True),
        fact("Duration", duration(facts.seconds)),
        fact("Found", str(len(findings.entries)) if findings else "-"),
        fact("Pull requests", f"{prs} of {len(fixed)} fix(es)" if fixed else "none"),
        fact("Cost of the fixes", money(spent)),
    ]


def night_section(facts: RunFacts, rel: Rel) -> Html:
    """The night as a whole: its mode, what stopped it, its counts, its closing line."""
    triage, close, findings = facts.triage, facts.close, facts.findings
    body: list[Html] = []
    if triage is not None and triage.status == "error":
        body.append(el("div", "The triage could not finish: ", triage.detail[:MAX_TEXT], class_="banner bad"))
    elif triage is not None and triage.status == "already-claimed":
        body.append(el("div", "Nothing to do: ", triage.detail[:MAX_TEXT], class_="banner pending"))
    if triage is not None and triage.report_only:
        body.append(
            el(
                "div",
                "Report only: this night claimed, recorded and fixed nothing; "
                "the decisions say what it would have done.",
                class_="banner warn",
            )
        )
    if close is not None and close.status == "error":
        body.append(el("div", "The closing step failed: ", close.detail[:MAX_TEXT], class_="banner bad"))
    elif close is None and triage is not None and triage.status == "done":
        body.append(
            el(
                "div",
                "The night has not closed yet: its fixes may still be running. "
                "Their outcomes below are read from their own records.",
                class_="banner pending",
            )
        )
    counts = (close.counts if close is not None and close.counts else None) or (
        triage.counts if triage is not None else {}
    )
    if counts:
        head = el("tr", [el("th", label, class_="num") for key, label in COUNTS if key in counts])
        row = el("tr", [el("td", el("b", counts[key]), class_="num") for key, _ in COUNTS if key in counts])
        body.append(
            el("div", el("table", el("thead", head), el("tbody", row), class_="counts"), class_="wrap")
        )
    if close is not None and close.line:
        body.append(el("div", "The night's summary, as Slack got it", class_="label"))
        body.append(el("div", close.line, class_="quote"))
    elif close is not None and close.detail and close.status != "error":
        body.append(el("p", close.detail[:MAX_TEXT], class_="muted"))
    if findings is not None:
        sources = ", ".join(f"{name} {n}" for name, n in findings.sources.items()) or "none"
        concurrency = (
            f" · fixes run {triage.concurrency} at a time" if triage and not findings.report_only else ""
        )
        body.append(
            el(
                "p",
                f"window {findings.window_hours} h · findings by source: {sources}{concurrency} · ",
                link("findings.json", rel(f"runs/{facts.run_id}/triage/findings.json")),
                class_="small muted",
            )
        )
    title = join("Night ", facts.night or "?", " ", pill(facts.outcome))
    return section("night", title, *body)


def findings_section(facts: RunFacts) -> Html:
    """Every finding of the night, highest impact first, with its decision and, if fixed, its fix."""
    findings = facts.findings
    if findings is None:
        triage = facts.triage
        why = f": the triage ended {triage.status}" if triage is not None and triage.status != "done" else ""
        return section("findings", "Findings", el("p", f"No findings were written{why}.", class_="muted"))
    head = el(
        "tr",
        *[
            el("th", name, class_="num" if name in ("Events", "Users") else None)
            for name in ("Source", "Finding", "Events", "Users", "Decision", "Reason", "Fix")
        ],
    )
    rows = [_row(facts, entry) for entry in findings.entries]
    if not rows:
        rows = [el("tr", el("td", "The night found no failure.", colspan=7, class_="muted"))]
    table = el("table", el("thead", head), el("tbody", rows), class_="findings")
    title = join("Findings ", el("span", str(len(findings.entries)), class_="tag"))
    return section("findings", title, el("div", table, class_="wrap"))


def _row(facts: RunFacts, entry: Entry) -> Html:
    finding = entry.finding
    decision = entry.decision
    return el(
        "tr",
        el("td", finding.source),
        el("td", _finding(finding)),
        el("td", finding.count, class_="num"),
        el("td", finding.users, class_="num"),
        el("td", el("span", decision.value, class_=f"pill t-{DECISION_TONES[decision]}")),
        el("td", entry.reason[:MAX_TEXT], class_="small"),
        el("td", _fix(facts, entry), class_="small"),
    )


def _finding(finding: Finding) -> Html:
    seen = (
        f" · last seen {when(finding.last_seen).removesuffix(' UTC')}"
        if finding.last_seen is not None
        else ""
    )
    return join(
        el("div", finding.title, class_="check"),
        el(
            "div",
            el("code", finding.fingerprint),
            seen,
            el("span", " · regressed", class_="tag") if finding.regressed else "",
            class_="faint small",
        ),
        _evidence(finding),
    )


def _evidence(finding: Finding) -> Html:
    """The evidence as the triage kept it (redacted, capped), folded until someone opens it."""
    evidence: Evidence = finding.evidence
    body: list[Html] = []
    if evidence.error:
        body.append(join(el("div", "error", class_="label"), folded(evidence.error, EVIDENCE_LINES)))
    if evidence.frames:
        lines = [
            f"{f.file or f.module or '?'}:{f.line if f.line is not None else '?'} in {f.function or '?'}"
            + ("" if f.in_app else "  (library)")
            for f in evidence.frames
        ]
        body.append(join(el("div", "stack (innermost last)", class_="label"), folded("\n".join(lines), 8)))
    for example in evidence.examples:
        score = "" if example.score is None else f" · score {example.score:g}"
        body.append(
            join(
                el("div", link(f"trace {example.trace_id}", example.url), score, class_="faint small"),
                el("div", el("span", "asked: ", class_="faint"), example.input, class_="quote"),
                el("div", el("span", "answered: ", class_="faint"), example.output, class_="quote"),
                el("div", "comment: ", example.comment, class_="muted small") if example.comment else "",
            )
        )
    if evidence.truncated:
        body.append(el("p", "(evidence cut to size by Factory)", class_="faint small"))
    links = [link(item.label, item.url) for item in finding.links]
    if links:
        body.append(el("div", [join(item, " ") for item in links], class_="small"))
    if not body:
        return Html("")
    return el("details", el("summary", "evidence"), *body, class_="more")


def _fix(facts: RunFacts, entry: Entry) -> Html:
    if entry.decision is Decision.DUPLICATE:
        if entry.pull_request:
            return join("already in review: ", link("pull request", entry.pull_request))
        return el("span", "already in review", class_="muted")
    if not entry.decision.fixes:
        return el("span", "-", class_="faint")
    if not entry.identifier or not entry.run_id:
        return el(
            "span", "not fixed (report only)" if _report_only(facts) else "no fix started", class_="muted"
        )
    chain = facts.chains.get(entry.run_id)
    name = (
        link(entry.identifier, chain_report(entry.run_id))
        if entry.run_id in facts.reports
        else join(entry.identifier, el("span", " (no report yet)", class_="faint"))
    )
    if chain is not None and chain.results:
        state = pill(chain.outcome)
    elif facts.close is not None:
        state = pill("failed", "no result")
    else:
        state = pill(None, "not started")
    pull = _pull_request(facts, entry)
    number = chain.pull_request.number if chain is not None and chain.pull_request else None
    return join(
        el("div", el("b", name), " ", state),
        el("div", entry.outcome, class_="muted") if entry.outcome else "",
        el("div", link(f"PR #{number}" if number else "pull request", pull)) if pull else "",
    )


def _pull_request(facts: RunFacts, entry: Entry) -> str | None:
    """A fix's pull request: as the closing step recorded it, else as its chain's review opened it."""
    if entry.pull_request:
        return entry.pull_request
    chain = facts.chains.get(entry.run_id or "")
    pull = chain.pull_request if chain is not None else None
    return pull.url if pull is not None else None


def _report_only(facts: RunFacts) -> bool:
    return facts.findings is not None and facts.findings.report_only
