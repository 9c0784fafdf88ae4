"""The onboard section (job ``onboard-client``): the client and mode, the accuracy table our code
measured, what needs a human, what was refused, and the files behind it (transcripts, eval records).

The table and the refusals are the rows the ticket and the PR show as markdown
(``jobs.onboard.body``), rendered here through the escaping builders: a path the agent named, or a
reason, is text, whatever it holds.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from jobs.onboard.body import HEADER, NUMERIC, AccuracyRow, accuracy_rows, refusals
from jobs.onboard.records import AgentRun, OnboardResult
from jobs.onboard.summary import figures
from jobs.report.fmt import duration, money, short_sha
from jobs.report.markup import Html, el, join, link
from jobs.report.parts import pill, section
from jobs.report.phases import Rel

MAX_TEXT = 2_000
MAX_FAILURES = 200
_EVAL_FILE = re.compile(r"^onboard/eval-[^/]+\.json$")


def accuracy_table(rows: list[AccuracyRow]) -> Html:
    """The rows as an HTML table (figures right-aligned, the final ones bold)."""
    if not rows:
        return el("p", "No evaluation ran.", class_="muted")
    header = el("tr", [el("th", name, class_="num" if NUMERIC[i] else None) for i, name in enumerate(HEADER)])
    body = []
    for row in rows:
        cells: list[Html | str] = [
            el("b", row.label) if row.total else row.label,
            _changed(row) if row.kept is not None else "",
            el("b", row.tuning) if row.total else row.tuning,
            el("b", row.held_out) if row.total else row.held_out,
            _kept(row),
            money(row.cost_usd) if row.cost_usd is not None else "",
            duration(row.seconds) if row.seconds is not None else "",
        ]
        body.append(
            el("tr", [el("td", cell, class_="num" if NUMERIC[i] else None) for i, cell in enumerate(cells)])
        )
    return el("table", el("thead", header), el("tbody", body), class_="counts")


def _changed(row: AccuracyRow) -> Html:
    parts: list[Html | str] = []
    for i, name in enumerate(row.changed):
        parts += [", " if i else "", el("code", name)]
    if not row.changed:
        parts.append("nothing")
    if row.more:
        parts.append(f" and {row.more} more")
    if row.refused:
        parts.append(f"; refused: {row.refused}")
    return join(*parts)


def _kept(row: AccuracyRow) -> Html | str:
    if row.kept is None:
        return ""
    if row.kept:
        return el("span", "kept", class_="pill t-good")
    return join(el("span", "undone", class_="pill t-warn"), " ", row.why)


def onboard_section(result: OnboardResult, rel: Rel, transcript: Rel, keys: list[str]) -> Html:
    """The onboarding as its result records it; ``keys`` are the run's files (run-relative paths)."""
    facts = [
        ("status", pill(result.status)),
        ("client", el("code", result.client) if result.client else "-"),
        ("mode", result.mode),
        ("ticket", el("code", result.ticket) if result.ticket else el("span", "none", class_="muted")),
        (
            "branch",
            join(
                el("code", result.branch),
                "" if result.pushed else el("span", " · not pushed", class_="muted"),
            )
            if result.branch and result.mode != "eval-only"
            else el("span", "none", class_="muted"),
        ),
        (
            "commits",
            join(*[join(el("code", short_sha(sha)), " ") for sha in result.commits]) or "none",
        ),
        ("dataset", _dataset(result)),
        (
            "target",
            f"{result.target_accuracy:.0%} on the tuning part" if result.target_accuracy is not None else "-",
        ),
        ("cost", money(result.cost_usd)),
    ]
    if result.since:
        facts.append(("knowledge since", el("code", short_sha(result.since))))
    table = el("table", [el("tr", el("th", key), el("td", value)) for key, value in facts])
    body: list[Html] = []
    if result.detail and result.status == "failed":
        body.append(el("div", result.detail[:MAX_TEXT], class_="banner bad"))
    elif result.detail:
        body.append(el("p", result.detail[:MAX_TEXT], class_="muted"))
    body.append(el("div", table, class_="wrap"))
    body.append(el("div", "Accuracy, as our code measured it with the target's eval", class_="label"))
    body.append(el("div", accuracy_table(accuracy_rows(result)), class_="wrap"))
    if result.needs_human:
        body.append(el("div", f"Needs a human ({len(result.needs_human)})", class_="label"))
        body.append(el("ul", [el("li", flag[:MAX_TEXT]) for flag in result.needs_human], class_="issues"))
    refused = refusals(result)
    if refused:
        body.append(el("div", f"Changes refused and undone ({len(refused)})", class_="label"))
        items = [el("li", r.purpose, ": ", el("code", r.path), ": ", r.why) for r in refused]
        body.append(el("ul", items, class_="issues"))
    if result.failures:
        shown = result.failures[:MAX_FAILURES]
        more = len(result.failures) - len(shown)
        body.append(el("div", f"Failing cases ({len(result.failures)})", class_="label"))
        body.append(
            el(
                "p",
                join(*[join(el("code", case), " ") for case in shown]),
                f"and {more} more" if more else "",
                class_="small",
            )
        )
    if result.knowledge_changes:
        body.append(el("div", "Knowledge base changes", class_="label"))
        body.append(el("ul", [el("li", el("code", path)) for path in result.knowledge_changes]))
    runs = _runs(result, transcript)
    if runs is not None:
        body.append(el("div", "Agent runs", class_="label"))
        body.append(runs)
    body.append(_files(result, rel, keys))
    title = join(
        "Onboard ",
        pill(result.status),
        el("span", f"{result.client} ({result.mode}) · {money(result.cost_usd)}", class_="muted small"),
    )
    return section("onboard", title, *body)


def _dataset(result: OnboardResult) -> Html | str:
    info = result.dataset
    if info is None:
        return "-"
    return join(
        el("code", info.path),
        f" · {info.cases} cases: {info.tuning} tuning, {info.held_out} held out",
    )


def _runs(result: OnboardResult, transcript: Rel) -> Html | None:
    """Each agent run: its purpose, how it ended, what our code carried and refused, its transcript."""
    runs: list[tuple[str, AgentRun]] = [("", run) for run in result.writing]
    runs += [(f"round {r.round}", r.run) for r in result.rounds]
    if not runs:
        return None
    rows = []
    for when, run in runs:
        agent = run.agent
        target = transcript(run.transcript)
        rows.append(
            el(
                "tr",
                el("td", el("b", run.purpose), f" ({when})" if when else ""),
                el("td", pill(agent.status.value) if agent else el("span", "did not run", class_="faint")),
                el(
                    "td",
                    f"{agent.turns} turns · {money(agent.usage.cost_usd)}" if agent else "-",
                    class_="small",
                ),
                el("td", duration(run.seconds), class_="small"),
                el("td", f"{len(run.carried)} carried, {len(run.refused)} refused", class_="small"),
                el(
                    "td",
                    link("transcript ↓", f"#{target}")
                    if target
                    else el("span", "no transcript", class_="faint"),
                    class_="small",
                ),
            )
        )
    head = el("tr", *[el("th", name) for name in ("Run", "Agent", "Turns", "Time", "Files", "Transcript")])
    return el("div", el("table", el("thead", head), el("tbody", rows)), class_="wrap")


def _files(result: OnboardResult, rel: Rel, keys: list[str]) -> Html:
    """Links to each eval run's record: those the result names (with their figures), then any other
    there is (an eval that gave no figures). ``keys`` are the run's keys."""
    links: list[Html] = []
    shown: set[str] = set()
    scores = [("baseline", result.baseline), *[(f"round {r.round}", r.after) for r in result.rounds]]
    for label, score in scores:
        href = rel(score.eval) if score is not None and score.eval else None
        if score is None or href is None or href in shown:
            continue
        shown.add(href)
        links.append(join(link(f"eval {label}", href), el("span", f" ({figures(score)})", class_="muted")))
    for key in sorted(keys):
        href = rel(key)
        if href is None or href in shown or not _EVAL_FILE.match(unquote(href)):
            continue
        shown.add(href)
        links.append(link(unquote(href).removeprefix("onboard/"), href))
    if not links:
        return el("p", "No eval record in the artifacts.", class_="faint small")
    return el(
        "p", "Eval records: ", join(*[join(item, " · ") for item in links[:-1]]), links[-1], class_="small"
    )
