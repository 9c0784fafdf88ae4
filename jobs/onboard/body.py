"""The onboarding's accuracy table, as the ticket, the PR and the report show it."""

from __future__ import annotations

from jobs.onboard.evaluate import PartScore
from jobs.onboard.records import OnboardResult, Score, TuningRound

MAX_PATHS_SHOWN = 4


def percent(part: PartScore) -> str:
    return f"{part.accuracy:.0%} ({part.passed}/{part.cases})"


def _move(before: PartScore, after: PartScore | None) -> str:
    if after is None:
        return f"{percent(before)} → (no eval)"
    return f"{percent(before)} → {percent(after)}"


def _changed(round_: TuningRound, client_dir: str) -> str:
    names = [path.removeprefix(client_dir + "/") for path in round_.run.carried]
    shown = ", ".join(f"`{name}`" for name in names[:MAX_PATHS_SHOWN]) or "nothing"
    if len(names) > MAX_PATHS_SHOWN:
        shown += f" and {len(names) - MAX_PATHS_SHOWN} more"
    if round_.run.refused:
        shown += f"; refused: {len(round_.run.refused)}"
    return shown


def accuracy_table(result: OnboardResult, client_dir: str = "") -> list[str]:
    """Markdown: the baseline, then one row per round (tuning and held-out, before → after)."""
    if result.baseline is None:
        return ["No evaluation ran."]
    out = [
        "| Round | What changed | Tuning part | Held-out part | Kept | Cost | Time |",
        "|---|---|--:|--:|---|--:|--:|",
        f"| baseline | | {percent(result.baseline.tuning)} | {percent(result.baseline.held_out)} | | | |",
    ]
    for r in result.rounds:
        after: Score | None = r.after
        usd = r.run.agent.usage.cost_usd if r.run.agent else 0.0
        kept = "kept" if r.kept else f"undone: {r.why}"
        out.append(
            f"| {r.round} ({r.run.purpose}) | {_changed(r, client_dir)} "
            f"| {_move(r.before.tuning, after.tuning if after else None)} "
            f"| {_move(r.before.held_out, after.held_out if after else None)} "
            f"| {kept} | ${usd:.2f} | {r.run.seconds:.0f} s |"
        )
    if result.final is not None:
        final = result.final
        out.append(f"| **final** | | **{percent(final.tuning)}** | **{percent(final.held_out)}** | | | |")
    return out


def refused_lines(result: OnboardResult) -> list[str]:
    """Every change our code refused and undone, by run."""
    runs = [*result.writing, *(r.run for r in result.rounds)]
    return [f"- {run.purpose}: `{path}`: {why}" for run in runs for path, why in run.refused.items()]
