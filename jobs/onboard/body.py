"""The onboarding's accuracy table and refused changes: rows our code measured, which the ticket and the
PR show as markdown and the report as HTML (``jobs/report/onboarding.py``), each from the same rows.

A path in a row is the agent's choice of file name (within the tunable globs), so in markdown it is a
code span no backtick can close, and no cell can hold a ``|`` that would split the row.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.onboard.evaluate import PartScore
from jobs.onboard.records import OnboardResult
from jobs.phases.kit.text import code_span

MAX_PATHS_SHOWN = 4
MAX_PATH_CHARS = 200
HEADER = ("Round", "What changed", "Tuning part", "Held-out part", "Kept", "Cost", "Time")
NUMERIC = (False, False, True, True, False, True, True)


@dataclass(frozen=True)
class AccuracyRow:
    """One line of the table: the baseline, a round (before → after), or the final figures."""

    label: str
    tuning: str
    held_out: str
    changed: tuple[str, ...] = ()  # the paths shown, relative to the client's folder when it is given
    more: int = 0  # paths carried but not shown
    refused: int = 0
    kept: bool | None = None  # None: not a round
    why: str = ""  # why a round was undone
    cost_usd: float | None = None
    seconds: float | None = None
    total: bool = False  # the final row


@dataclass(frozen=True)
class Refusal:
    """A change our code refused and undid: which run, which path, why."""

    purpose: str
    path: str
    why: str


def percent(part: PartScore) -> str:
    return f"{part.accuracy:.0%} ({part.passed}/{part.cases})"


def _move(before: PartScore, after: PartScore | None) -> str:
    return f"{percent(before)} → {percent(after) if after is not None else '(no eval)'}"


def accuracy_rows(result: OnboardResult, client_dir: str = "") -> list[AccuracyRow]:
    """The baseline, one row per round, the final figures; none when no eval ran."""
    if result.baseline is None:
        return []
    rows = [AccuracyRow("baseline", percent(result.baseline.tuning), percent(result.baseline.held_out))]
    for r in result.rounds:
        names = [path.removeprefix(client_dir + "/") if client_dir else path for path in r.run.carried]
        rows.append(
            AccuracyRow(
                label=f"{r.round} ({r.run.purpose})",
                tuning=_move(r.before.tuning, r.after.tuning if r.after else None),
                held_out=_move(r.before.held_out, r.after.held_out if r.after else None),
                changed=tuple(names[:MAX_PATHS_SHOWN]),
                more=max(len(names) - MAX_PATHS_SHOWN, 0),
                refused=len(r.run.refused),
                kept=r.kept,
                why="" if r.kept else r.why,
                cost_usd=r.run.agent.usage.cost_usd if r.run.agent else 0.0,
                seconds=r.run.seconds,
            )
        )
    if result.final is not None:
        rows.append(
            AccuracyRow("final", percent(result.final.tuning), percent(result.final.held_out), total=True)
        )
    return rows


def refusals(result: OnboardResult) -> list[Refusal]:
    """Every change our code refused and undid, by run."""
    runs = [*result.writing, *(r.run for r in result.rounds)]
    return [Refusal(run.purpose, path, why) for run in runs for path, why in run.refused.items()]


# --- markdown (the ticket, the PR) --------------------------------------------------------------------


def _path(path: str) -> str:
    return code_span(path, str, MAX_PATH_CHARS)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # GitHub's tables take an escaped pipe, in code spans too


def _changed(row: AccuracyRow) -> str:
    shown = ", ".join(_path(name) for name in row.changed) or "nothing"
    if row.more:
        shown += f" and {row.more} more"
    if row.refused:
        shown += f"; refused: {row.refused}"
    return shown


def accuracy_table(result: OnboardResult, client_dir: str = "") -> list[str]:
    """Markdown: the baseline, then one row per round (tuning and held-out, before → after)."""
    rows = accuracy_rows(result, client_dir)
    if not rows:
        return ["No evaluation ran."]
    out = [
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("--:" if numeric else "---" for numeric in NUMERIC) + "|",
    ]
    for row in rows:
        if row.total:
            cells = [f"**{row.label}**", "", f"**{row.tuning}**", f"**{row.held_out}**", "", "", ""]
        elif row.kept is None:
            cells = [row.label, "", row.tuning, row.held_out, "", "", ""]
        else:
            cells = [
                row.label,
                _changed(row),
                row.tuning,
                row.held_out,
                "kept" if row.kept else f"undone: {row.why}",
                f"${row.cost_usd or 0.0:.2f}",
                f"{row.seconds or 0.0:.0f} s",
            ]
        out.append("|" + "|".join(f" {_cell(cell)} " if cell else " " for cell in cells) + "|")
    return out


def refused_lines(result: OnboardResult) -> list[str]:
    """Markdown: every change our code refused and undid, by run."""
    return [f"- {r.purpose}: {_path(r.path)}: {r.why}" for r in refusals(result)]
