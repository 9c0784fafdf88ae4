"""Small pieces the report's sections share: status pills, facts, sections, folded text."""

from __future__ import annotations

from jobs.report.facts import tone
from jobs.report.fmt import words
from jobs.report.markup import Html, el, join

PREVIEW_LINES = 12


def pill(status: str | None, text: str | None = None, *, big: bool = False) -> Html:
    """A status as a coloured pill: green done, red failed, amber flagged, grey not run yet."""
    return el("span", text or words(status), class_=f"pill t-{tone(status)}{' big' if big else ''}")


def fact(key: str, value: object, *, small: bool = False) -> Html:
    return el(
        "div", el("div", key, class_="k"), el("div", value, class_="v small" if small else "v"), class_="fact"
    )


def section(anchor: str, title: object, *body: object) -> Html:
    return el("section", el("h2", title), *body, class_="card", id=anchor)


def folded(text: str, lines: int = PREVIEW_LINES, *, tail: bool = False) -> Html:
    """Preformatted text; past ``lines`` lines, the rest is behind a "more lines" fold.

    ``tail`` shows the last lines first (a test run's summary is at its end) and folds the start."""
    rows = text.rstrip("\n").split("\n")
    if len(rows) <= lines + 2:
        return el("pre", "\n".join(rows))
    if tail:
        hidden, shown = rows[:-lines], rows[-lines:]
        return join(
            el(
                "details",
                el("summary", f"{len(hidden)} earlier lines"),
                el("pre", "\n".join(hidden)),
                class_="more",
            ),
            el("pre", "\n".join(shown)),
        )
    shown, hidden = rows[:lines], rows[lines:]
    return join(
        el("pre", "\n".join(shown)),
        el(
            "details", el("summary", f"{len(hidden)} more lines"), el("pre", "\n".join(hidden)), class_="more"
        ),
    )
