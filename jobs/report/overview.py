"""The top of the report: what the run (a ticket's, a night's, or an onboarding's) was about and how
it ended, then the timeline of its phases."""

from __future__ import annotations

from jobs.models import PhaseResult
from jobs.onboard.body import percent
from jobs.onboard.records import OnboardResult
from jobs.phases.e2e.records import E2EResult
from jobs.phases.implement.records import ImplementResult
from jobs.phases.registry import get_phase
from jobs.phases.review.records import ReviewResult
from jobs.report.facts import RunFacts, phase_cost, phase_seconds, tone
from jobs.report.fmt import duration, money, short_sha, when, words
from jobs.report.markup import Html, el, join, link
from jobs.report.night import chain_report, night_facts
from jobs.report.parts import fact, pill, section

MAX_DETAIL = 600


def header(facts: RunFacts, toc: list[tuple[str, str]]) -> Html:
    """Ticket (or night), outcome, the run's figures and links, and a banner for what is missing or
    unreadable. A finding's chain names the night it came from, linked to that night's report."""
    title = facts.title or f"Run {facts.run_id}"
    night = facts.from_night
    eyebrow = el(
        "div",
        el("span", link(facts.subject or "?", facts.ticket_url), class_="id"),
        el("span", "·", class_="faint"),
        facts.job or "job unknown",
        el("span", "·", class_="faint"),
        join("run ", el("code", facts.run_id)),
        join(
            el("span", "·", class_="faint"),
            " a finding of ",
            link(f"night {night.night}", chain_report(night.run_id)),
        )
        if night is not None
        else "",
        class_="eyebrow",
    )
    facts_grid = el("div", night_facts(facts) if facts.is_night else _ticket_facts(facts), class_="facts")
    return el(
        "header",
        eyebrow,
        el("h1", title),
        facts_grid,
        _banners(facts),
        el("nav", [el("a", label, href=f"#{anchor}") for anchor, label in toc], class_="toc"),
        class_="top",
    )


def _ticket_facts(facts: RunFacts) -> list[Html]:
    manifest, onboard = facts.manifest, facts.onboard
    pr = facts.pull_request
    pr_cell = (
        join(link(f"#{pr.number}", pr.url), " ", pill("flagged", "flagged") if pr.flagged else "")
        if pr
        else el("span", "not opened yet" if "review" in facts.pending else "none", class_="muted")
    )
    ends = (manifest.branch, manifest.base_branch) if manifest else None
    if ends is None and onboard is not None and onboard.branch and onboard.mode != "eval-only":
        ends = (onboard.branch, onboard.base_branch)  # an onboarding writes no manifest
    branch = (
        join(el("code", ends[0]), el("span", " → ", class_="faint"), el("code", ends[1])) if ends else "-"
    )
    return [
        fact("Outcome", pill(facts.outcome, big=True)),
        fact("Started", when(facts.started_at), small=True),
        fact("Duration", duration(facts.seconds)),
        fact("Cost", money(facts.cost_usd)),
        fact("Pull request", pr_cell),
        fact("Branch", branch, small=True),
    ]


def _banners(facts: RunFacts) -> Html:
    out = []
    if facts.outcome == "unfinished" and facts.pending:
        out.append(
            el(
                "div",
                f"This run is unfinished: {', '.join(facts.pending)} "
                f"{'has' if len(facts.pending) == 1 else 'have'} not written a result yet. "
                "The page is written again at the end of each phase.",
                class_="banner pending",
            )
        )
    if facts.onboard is not None and facts.onboard.needs_human:
        out.append(
            el(
                "div",
                "The onboarding needs a human: ",
                "; ".join(facts.onboard.needs_human)[:MAX_DETAIL],
                class_="banner warn",
            )
        )
    if facts.review is not None and facts.review.needs_human:
        out.append(
            el(
                "div",
                "Flagged for a human: ",
                "; ".join(facts.review.needs_human)[:MAX_DETAIL],
                class_="banner warn",
            )
        )
    for problem in facts.problems:
        out.append(el("div", "Could not read a record: ", problem[:MAX_DETAIL], class_="banner bad"))
    return join(out)


def timeline(facts: RunFacts) -> Html:
    """Each phase as a bar on one time axis, then a card per phase with its steps, time and cost."""
    start, total = facts.started_at, facts.seconds or 0.0
    bars = []
    for name in facts.phases:
        result = facts.results.get(name)
        if result is None or start is None or total <= 0:
            continue
        width = max(phase_seconds(result) / total * 100, 0.8)
        left = (result.started_at - start).total_seconds() / total * 100
        bars.append(
            el(
                "div",
                _title(name),
                class_=f"seg k-{tone(result.status)}",
                style=f"left:{_inside(left, width)};width:{width:.2f}%",
                title=f"{_title(name)}: {words(result.status)}, {duration(phase_seconds(result))}",
            )
        )
    track = join(
        el("div", bars, class_="track"),
        el("div", el("span", "0 s"), el("span", duration(total) if total else ""), class_="axis"),
    )
    cards = el("div", [_card(name, facts.results.get(name)) for name in facts.phases], class_="phases")
    return section("timeline", "Timeline", track if bars else "", cards)


def _inside(left: float, width: float) -> str:
    """A bar's left edge, kept inside the track: a short last phase (a night's closing step) is at
    least its padding wide, more than its share of the axis."""
    return f"min({max(left, 0):.2f}%, calc(100% - max({width:.2f}%, 16px)))"


def _title(name: str) -> str:
    try:
        return get_phase(name).title
    except KeyError:
        return name


def _card(name: str, result: PhaseResult | None) -> Html:
    if result is None:
        return el(
            "div",
            el("div", el("span", _title(name)), pill(None), class_="name"),
            el("div", "No result yet.", class_="muted small"),
            class_="phase k-pending",
        )
    nums = el(
        "div",
        el("div", el("b", duration(phase_seconds(result))), el("span", "duration")),
        el("div", el("b", money(phase_cost(result))), el("span", "cost")),
        *[el("div", el("b", value), el("span", key)) for key, value in _figures(result)],
        class_="nums",
    )
    steps = [(step, seconds) for step, seconds in result.timings.items() if seconds > 0]
    spent = sum(seconds for _, seconds in steps) or 1.0
    bar = el(
        "div",
        [
            el("i", style=f"width:{seconds / spent * 100:.2f}%", title=f"{step} {duration(seconds)}")
            for step, seconds in steps
        ],
        class_="steps",
    )
    legend = el(
        "div", [el("span", f"{step} {duration(seconds)}") for step, seconds in steps], class_="legend"
    )
    # A failed phase's detail says what went wrong; another's (the triage's counts) is a plain note.
    note = "detail" if tone(result.status) in ("bad", "warn") else "muted small"
    detail = el("div", result.detail[:MAX_DETAIL], class_=note) if result.detail else ""
    return el(
        "div",
        el("div", el("span", _title(name)), pill(result.status), class_="name"),
        nums,
        bar if steps else "",
        legend if steps else "",
        el(
            "div",
            f"started {when(result.started_at)} · head ",
            el("code", short_sha(result.head_sha)),
            class_="faint small",
        ),
        detail,
        class_=f"phase k-{tone(result.status)}",
    )


def _figures(result: PhaseResult) -> list[tuple[str, str]]:
    """One or two numbers that say what the phase did."""
    if isinstance(result, ImplementResult):
        turns = str(result.agent.turns) if result.agent else "-"
        return [("turns", turns), ("commits", str(len(result.commits)))]
    if isinstance(result, ReviewResult):
        return [("rounds", str(len(result.rounds)))]
    if isinstance(result, E2EResult):
        return [("attempts", str(len(result.attempts)))]
    if isinstance(result, OnboardResult):
        score = result.final or result.baseline
        held = [("held-out", percent(score.held_out))] if score is not None else []
        return [("rounds", str(len(result.rounds))), *held]
    return []
