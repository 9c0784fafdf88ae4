"""The implement and review sections: what the coding agent did, and each review round with its fix."""

from __future__ import annotations

from collections.abc import Callable

from jobs.models import run_key
from jobs.phases.implement.records import ImplementResult
from jobs.phases.kit.records import FixRecord
from jobs.phases.review.evidence import CheckRun
from jobs.phases.review.records import ReviewResult, ReviewRound
from jobs.phases.review.verdict import CRITERIA, PASS_SCORE, Review
from jobs.report.facts import tone
from jobs.report.fmt import duration, money, short_sha
from jobs.report.markup import Html, el, join, link
from jobs.report.parts import folded, pill, section

# A run-relative path to a file of the run (or None); the anchor of a transcript's section (or None).
Rel = Callable[[str | None], str | None]
MAX_SUMMARY = 6_000
CHECK_TAIL_LINES = 15


def implement_section(result: ImplementResult, rel: Rel, transcript: Rel) -> Html:
    agent = result.agent
    facts = [
        ("status", pill(result.status)),
        (
            "agent",
            join(pill(agent.status.value), f" {agent.turns} turns · {duration(agent.duration_seconds)}")
            if agent
            else "did not run",
        ),
        (
            "tokens",
            f"{agent.usage.input_tokens:,} in / {agent.usage.output_tokens:,} out · "
            f"{money(agent.usage.cost_usd)}"
            if agent
            else "-",
        ),
        (
            "branch",
            join(
                el("code", result.branch),
                " (resumed)" if result.resumed else " (new)",
                "" if result.pushed else el("span", " · not pushed", class_="muted"),
            ),
        ),
        ("commits", join(*[join(el("code", short_sha(sha)), " ") for sha in result.commits]) or "none"),
    ]
    table = el("table", [el("tr", el("th", key), el("td", value)) for key, value in facts])
    summary = (
        join(
            el("h3", "What the implementer says it did"),
            el("div", agent.result_text[:MAX_SUMMARY], class_="quote"),
        )
        if agent and agent.result_text
        else ""
    )
    links = el(
        "p",
        _see_transcript(result.transcript, transcript),
        " · ",
        link("install log", rel(run_key(result.run_id, "implement", "install.log"))),
        class_="small",
    )
    detail = el("div", result.detail[:MAX_SUMMARY], class_="banner bad") if result.detail else ""
    title = join("Implement ", pill(result.status))
    return section("implement", title, detail, el("div", table, class_="wrap"), summary, links)


def review_section(result: ReviewResult, rel: Rel, transcript: Rel) -> Html:
    body: list[Html] = [el("div", _scores(result.rounds), class_="wrap")] if result.rounds else []
    if not result.rounds:
        body.append(el("p", "No review round finished.", class_="muted"))
    for rnd in result.rounds:
        body.append(_round(rnd, transcript))
    if result.detail:
        body.append(el("div", result.detail[:MAX_SUMMARY], class_="banner bad"))
    return section(
        "review",
        join(
            "Review ",
            pill(result.status),
            el("span", f"{len(result.rounds)} round(s) · {money(result.cost_usd)}", class_="muted small"),
        ),
        *body,
    )


def _scores(rounds: list[ReviewRound]) -> Html:
    head = el("tr", el("th", "Criterion"), [el("th", f"Round {r.round}", class_="num") for r in rounds])
    rows = []
    for name in CRITERIA:
        cells = []
        for rnd in rounds:
            score = getattr(rnd.review.scores, name) if rnd.review else None
            if score is None:
                cells.append(el("td", "-", class_="num faint"))
            else:
                cells.append(
                    el(
                        "td",
                        el("span", score, class_="score ok" if score >= PASS_SCORE else "score low"),
                        class_="num",
                    )
                )
        rows.append(el("tr", el("td", name.replace("_", " ")), cells))
    rows.append(
        el("tr", el("td", el("b", "verdict")), [el("td", pill(r.verdict), class_="num") for r in rounds])
    )
    rows.append(
        el(
            "tr",
            el("td", "cost", class_="muted"),
            [el("td", money(r.cost_usd), class_="num muted small") for r in rounds],
        )
    )
    return el("table", el("thead", head), el("tbody", rows), class_="scores")


def _round(rnd: ReviewRound, transcript: Rel) -> Html:
    parts: list[Html] = [
        el(
            "h3",
            f"Round {rnd.round}",
            pill(rnd.verdict),
            el(
                "span",
                "commit ",
                el("code", short_sha(rnd.head_sha)),
                f" · diff {rnd.diff_chars:,} chars"
                + (" (cut for the reviewer)" if rnd.diff_truncated else ""),
                class_="muted small",
            ),
        )
    ]
    if rnd.review is not None:
        parts.append(_review(rnd.review))
    for n, ask in enumerate(rnd.asks, 1):
        if ask.parse_error:
            parts.append(
                el(
                    "p",
                    f"Ask {n}: the reply could not be used: ",
                    el("code", ask.parse_error[:500]),
                    class_="small",
                )
            )
    if rnd.checks:
        parts.append(el("div", "Checks our code ran on this commit", class_="label"))
        parts.append(checks_table(rnd.checks))
    asks = [
        _see_transcript(
            ask.transcript, transcript, f"reviewer transcript{f' (ask {n})' if len(rnd.asks) > 1 else ''}"
        )
        for n, ask in enumerate(rnd.asks, 1)
    ]
    if asks:
        parts.append(el("p", join(*[join(a, " ") for a in asks]), class_="small"))
    if rnd.fix is not None:
        parts.append(fix_block(rnd.fix, transcript, "after this round"))
    return el("div", parts, class_=f"round k-{tone(rnd.verdict)}", id=f"round-{rnd.round}")


def _review(review: Review) -> Html:
    issues = el(
        "ul",
        [
            el(
                "li",
                el("span", f"{issue.file}:{issue.line}" if issue.line else issue.file, class_="where"),
                " ",
                el("span", issue.criterion.replace("_", " "), class_="tag"),
                el("div", issue.change),
            )
            for issue in review.issues
        ],
        class_="issues",
    )
    return join(
        el("div", "The reviewer's summary", class_="label"),
        el("div", review.summary, class_="quote"),
        join(el("div", f"Issues ({len(review.issues)})", class_="label"), issues) if review.issues else "",
    )


def checks_table(checks: list[CheckRun]) -> Html:
    """Each check: the command, its exit code, the counts, and the end of its output (folded)."""
    rows = []
    for check in checks:
        counts = check.counts
        figures = (
            f"{counts.passed} passed, {counts.failed} failed, {counts.errors} errors"
            + (f", {counts.skipped} skipped" if counts.skipped else "")
            if counts.passed is not None
            else ""
        )
        status = "timed_out" if check.timed_out else ("passed" if check.ok else "failed")
        code = "timed out" if check.timed_out else f"exit {check.exit_code}"
        output = (
            el(
                "details",
                el("summary", "output"),
                folded(check.output_tail, CHECK_TAIL_LINES, tail=True),
                class_="more",
            )
            if check.output_tail.strip()
            else el("span", "no output", class_="faint")
        )
        rows.append(
            el(
                "tr",
                el("td", el("b", check.name)),
                el("td", check.command, class_="cmd"),
                el("td", pill(status, code)),
                el("td", figures, class_="small"),
                el("td", duration(check.seconds), class_="small"),
                el("td", output),
            )
        )
    head = el("tr", *[el("th", name) for name in ("Check", "Command", "Exit", "Counts", "Time", "Output")])
    return el("div", el("table", el("thead", head), el("tbody", rows), class_="checks"), class_="wrap")


def fix_block(fix: FixRecord, transcript: Rel, when: str) -> Html:
    """What the fixer changed (its commits and files) and its own account of it."""
    files = (
        join(*[join(el("code", name), " ") for name in fix.files])
        if fix.files
        else el("span", "no files", class_="muted")
    )
    commits = ", ".join(short_sha(sha) for sha in fix.commits)
    agent = fix.agent
    return el(
        "div",
        el(
            "div",
            f"Fix {when}",
            pill(fix.status),
            el(
                "span", f"{len(fix.commits)} commit(s) {commits}" if fix.commits else "", class_="muted small"
            ),
            el(
                "span",
                f"· {agent.turns} turns · {money(agent.usage.cost_usd)}" if agent else "",
                class_="muted small",
            ),
            class_="head",
        ),
        el("div", el("span", "files: ", class_="muted small"), files, class_="small"),
        el("div", fix.summary[:MAX_SUMMARY], class_="quote") if fix.summary else "",
        el("div", fix.detail[:MAX_SUMMARY], class_="detail") if fix.detail else "",
        el("p", _see_transcript(fix.transcript, transcript, "fixer transcript"), class_="small"),
        class_="fix",
    )


def _see_transcript(url: str | None, transcript: Rel, text: str = "transcript") -> Html:
    target = transcript(url)
    return link(f"{text} ↓", f"#{target}") if target else el("span", f"no {text}", class_="faint")
