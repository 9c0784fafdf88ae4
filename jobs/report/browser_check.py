"""The e2e-verify section: each attempt's checklist, with the screenshots inline, and the fix between."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from jobs.phases.e2e.records import E2EAttempt, E2EResult
from jobs.phases.e2e.report import ChecklistItem
from jobs.report.facts import tone
from jobs.report.fmt import money, short_sha
from jobs.report.markup import Html, el, join, link
from jobs.report.parts import pill, section
from jobs.report.phases import Rel, fix_block


def e2e_section(result: E2EResult, rel: Rel, transcript: Rel) -> Html:
    body: list[Html] = []
    if result.status == "skipped" or (result.detail and not result.attempts):
        body.append(el("div", result.detail or "The browser check did not run.", class_="banner warn"))
    elif result.detail:
        body.append(el("div", result.detail, class_="banner bad"))
    # The last attempt first: it is the one that decided the result.
    for attempt in reversed(result.attempts):
        body.append(_attempt(attempt, rel, transcript, last=attempt is result.attempts[-1]))
    links = [link("report (markdown)", rel(result.report)) if result.report else ""]
    if result.report_in_branch:
        links.append(join(" · in the branch: ", el("code", result.report_in_branch)))
    body.append(el("p", *links, class_="small"))
    title = join(
        "Browser check ",
        pill(result.status),
        el("span", f"{len(result.attempts)} attempt(s) · {money(result.cost_usd)}", class_="muted small"),
    )
    return section("e2e", title, *body)


def _attempt(attempt: E2EAttempt, rel: Rel, transcript: Rel, *, last: bool) -> Html:
    shots = {_name(url): rel(url) for url in attempt.screenshots}
    parts: list[Html] = [
        el(
            "h3",
            f"Attempt {attempt.attempt}",
            pill(attempt.verdict),
            el(
                "span",
                "commit ",
                el("code", short_sha(attempt.head_sha)),
                f" · {money(attempt.cost_usd)}",
                class_="muted small",
            ),
            el("span", "(the deciding one)", class_="faint small") if last else "",
        )
    ]
    report = attempt.report
    if report is None:
        parts.append(el("p", "The browser agent gave no report Factory could read.", class_="muted"))
    else:
        parts.append(el("div", "The agent's summary", class_="label"))
        parts.append(el("div", report.summary, class_="quote"))
        figures = [
            _figure(n, item, shots.get(item.screenshot) if item.screenshot else None)
            for n, item in enumerate(report.checklist, 1)
        ]
        parts.append(el("div", "Checklist", class_="label"))
        parts.append(el("div", figures, class_="shots"))
    if attempt.evidence_problems:
        parts.append(
            el(
                "div",
                "Evidence Factory could not confirm (these items do not count as passed)",
                class_="label",
            )
        )
        parts.append(el("ul", [el("li", problem) for problem in attempt.evidence_problems], class_="small"))
    for n, ask in enumerate(attempt.asks, 1):
        if ask.parse_error:
            parts.append(
                el(
                    "p",
                    f"Ask {n}: the reply could not be used: ",
                    el("code", ask.parse_error[:500]),
                    class_="small",
                )
            )
    extra = [
        _transcript_link(ask.transcript, transcript, f"browser agent transcript (ask {n})")
        for n, ask in enumerate(attempt.asks, 1)
    ]
    extra += [link(f"{name} server log", rel(url)) for name, url in attempt.server_logs.items()]
    if extra:
        parts.append(el("p", [join(item, " · ") for item in extra[:-1]], extra[-1], class_="small"))
    if attempt.fix is not None:
        parts.append(fix_block(attempt.fix, transcript, "after this attempt"))
    return el("div", parts, class_=f"round k-{tone(attempt.verdict)}", id=f"attempt-{attempt.attempt}")


def _figure(n: int, item: ChecklistItem, src: str | None) -> Html:
    """One checklist item: its screenshot (a link to the full image), what was checked, what was seen."""
    if src:
        image = el("a", el("img", src=src, alt=f"Screenshot {item.screenshot}: {item.check}"), href=src)
    else:
        missing = f"{item.screenshot} was not kept" if item.screenshot else "no screenshot"
        image = el("div", missing, class_="faint small", style="padding:14px")
    verdict = pill("passed" if item.passed else "failed", "pass" if item.passed else "fail")
    caption = el(
        "figcaption",
        el("div", f"{n}. ", verdict, " ", el("span", item.check, class_="check")),
        el(
            "div",
            el("span", "page ", class_="faint"),
            el("code", item.page),
            el("span", f" · {item.screenshot}" if item.screenshot else "", class_="faint"),
        ),
        el("div", item.observed, class_="muted"),
    )
    return el("figure", image, caption, class_=None if item.passed else "fail")


def _name(url: str) -> str:
    return PurePosixPath(unquote(urlsplit(url).path)).name


def _transcript_link(url: str | None, transcript: Rel, text: str) -> Html:
    target = transcript(url)
    return link(f"{text} ↓", f"#{target}") if target else el("span", f"no {text}", class_="faint")
