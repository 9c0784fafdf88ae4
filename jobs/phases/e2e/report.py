"""The browser agent's report: a checklist of what must be seen, each item judged with a screenshot.

The agent maps the branch's changes to what a user must see on which page (the checklist), checks each
item in the browser, and asks the browser tool for a screenshot as evidence. Its final message must be
one JSON object (parsed by ``jobs.replies``). Our code then checks the evidence: an item that cites a
screenshot the tool never took, or claims a pass without one, does not pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from jobs.replies import ReplyParseError, parse_reply

SHOT_NAME = r"^\d{2}-[a-z0-9][a-z0-9._-]{0,70}\.png$"
INDEX = "index.jsonl"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ChecklistItem(_Strict):
    """One thing a user must see, where, whether it was seen, and the screenshot that shows it."""

    check: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    page: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    passed: bool
    screenshot: Annotated[str, StringConstraints(pattern=SHOT_NAME)] | None = None
    observed: Text


class E2EReport(_Strict):
    """The agent's final reply."""

    checklist: list[ChecklistItem] = Field(min_length=1, max_length=30)
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


def parse_report(text: str) -> E2EReport:
    """The agent's reply as a report; ReplyParseError (for a re-ask) when it is not exactly one."""
    return parse_reply(text, E2EReport, "report", "use true or false")


def report_schema() -> dict[str, Any]:
    return E2EReport.model_json_schema()


def screenshots_taken(shots_dir: Path) -> dict[str, dict[str, str]]:
    """What the browser tool recorded as taken, by file name (only files that exist count)."""
    index = shots_dir / INDEX
    taken: dict[str, dict[str, str]] = {}
    if not index.is_file():
        return taken
    for line in index.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        name = entry.get("file") if isinstance(entry, dict) else None
        if isinstance(name, str) and (shots_dir / name).is_file() and "/" not in name:
            taken[name] = {k: str(v) for k, v in entry.items()}
    return taken


def evidence_problems(
    report: E2EReport,
    taken: dict[str, dict[str, str]],
    pages: dict[str, str],
    required: list[str] | None = None,
) -> list[str]:
    """What our code cannot back in the report: each problem keeps its item from counting as passed.

    ``pages`` maps the configured page names to their URLs: an item must name one, and the screenshot
    it cites must have been taken by the tool on that page's origin (not on a browser error page).
    ``required`` are checks that failed last time: each must be in the checklist again.
    """
    problems = []
    for n, item in enumerate(report.checklist, 1):
        if item.page not in pages:
            problems.append(f"item {n} names page {item.page!r}, which is not one of {sorted(pages)}")
        elif item.passed and item.screenshot is None:
            problems.append(f"item {n} claims a pass without a screenshot")
        elif item.screenshot is not None and item.screenshot not in taken:
            problems.append(f"item {n} cites {item.screenshot}, which the browser tool never took")
        elif item.screenshot is not None and origin(taken[item.screenshot].get("url", "")) != origin(
            pages[item.page]
        ):
            where = taken[item.screenshot].get("url", "?")[:80]
            problems.append(f"item {n} cites {item.screenshot}, taken at {where}, not on page {item.page!r}")
    listed = {" ".join(item.check.casefold().split()) for item in report.checklist}
    for check in required or []:
        if " ".join(check.casefold().split()) not in listed:
            problems.append(f"the checklist leaves out {check[:80]!r}, which failed last time")
    return problems


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL ('' for one without a host, e.g. ``chrome-error://``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


__all__ = [
    "ChecklistItem",
    "E2EReport",
    "ReplyParseError",
    "evidence_problems",
    "origin",
    "parse_report",
    "report_schema",
    "screenshots_taken",
]
