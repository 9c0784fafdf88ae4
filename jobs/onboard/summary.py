"""The onboard phase's result as lines for people (the CLI, the run listing) and for Slack."""

from __future__ import annotations

from jobs.onboard.body import percent
from jobs.onboard.records import OnboardResult, Score


def figures(score: Score | None) -> str:
    """ "tuning 82% (14/17), held-out 86% (6/7)", or "no eval" for a round the eval did not measure."""
    if score is None:
        return "no eval"
    return f"tuning {percent(score.tuning)}, held-out {percent(score.held_out)}"


def summary_lines(result: OnboardResult) -> list[str]:
    lines = [
        f"onboard {result.client} ({result.mode}): {result.status}"
        + (f" - {result.detail}" if result.detail else "")
    ]
    if result.baseline is not None:
        lines.append(f"  baseline: {figures(result.baseline)}")
    lines += [
        f"  round {r.round} ({r.run.purpose}): {figures(r.after)}, {'kept' if r.kept else 'undone: ' + r.why}"
        for r in result.rounds
    ]
    if result.final is not None and result.rounds:
        lines.append(f"  final: {figures(result.final)}")
    lines += [f"  needs a human: {flag}" for flag in result.needs_human]
    if result.pushed:
        lines.append(f"  pushed {result.branch} ({len(result.commits)} commit(s)), ticket {result.ticket}")
    return lines


def notices(result: OnboardResult) -> list[str]:
    """The accuracy notices of an onboarding, one per eval our code ran: the baseline, then each round."""
    if result.baseline is None:
        return []
    if result.mode == "eval-only":
        return [f"eval-only: {figures(result.baseline)}"]
    return [f"baseline: {figures(result.baseline)}"] + [
        f"round {r.round} of {result.client}: {figures(r.after)}, {'kept' if r.kept else f'undone ({r.why})'}"
        for r in result.rounds
    ]
