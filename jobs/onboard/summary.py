"""The onboard phase's result as lines for people (the CLI, the run listing)."""

from __future__ import annotations

from jobs.onboard.body import percent
from jobs.onboard.records import OnboardResult


def summary_lines(result: OnboardResult) -> list[str]:
    lines = [
        f"onboard {result.client} ({result.mode}): {result.status}"
        + (f" - {result.detail}" if result.detail else "")
    ]
    if result.baseline is not None:
        b = result.baseline
        lines.append(f"  baseline: tuning {percent(b.tuning)}, held-out {percent(b.held_out)}")
    for r in result.rounds:
        after = r.after
        figures = (
            f"tuning {percent(after.tuning)}, held-out {percent(after.held_out)}" if after else "no eval"
        )
        lines.append(
            f"  round {r.round} ({r.run.purpose}): {figures}, {'kept' if r.kept else 'undone: ' + r.why}"
        )
    if result.final is not None and result.rounds:
        f = result.final
        lines.append(f"  final: tuning {percent(f.tuning)}, held-out {percent(f.held_out)}")
    lines += [f"  needs a human: {flag}" for flag in result.needs_human]
    if result.pushed:
        lines.append(f"  pushed {result.branch} ({len(result.commits)} commit(s)), ticket {result.ticket}")
    return lines


def notices(result: OnboardResult) -> list[str]:
    """The accuracy notices of an onboarding, one per eval our code ran: the baseline, then each round."""
    if result.baseline is None:
        return []
    b = result.baseline
    lines = [f"baseline: tuning {percent(b.tuning)}, held-out {percent(b.held_out)}"]
    if result.mode == "eval-only":
        return [f"eval-only: tuning {percent(b.tuning)}, held-out {percent(b.held_out)}"]
    for r in result.rounds:
        after = r.after
        figures = (
            f"tuning {percent(after.tuning)}, held-out {percent(after.held_out)}" if after else "no eval"
        )
        what = "kept" if r.kept else f"undone ({r.why})"
        lines.append(f"round {r.round} of {result.client}: {figures}, {what}")
    return lines
