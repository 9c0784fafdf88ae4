"""The review phase's result as lines for people: the score table, the fixes, the pull request."""

from __future__ import annotations

from jobs.phases.review.body import score_table
from jobs.phases.review.records import ReviewResult


def summary_lines(result: ReviewResult) -> list[str]:
    lines = [f"status      {result.status}{' - ' + result.detail if result.detail else ''}"]
    lines += [f"  {line}" for line in score_table(result.rounds)]
    for review_round in result.rounds:
        fix = review_round.fix
        if fix is not None:
            files = ", ".join(fix.files) or "-"
            lines.append(f"fix {fix.round}       {fix.status}: {len(fix.commits)} commit(s), files {files}")
    lines.append(f"cost        ${result.cost_usd:.4f} (list price), {sum(result.timings.values()):.2f}s")
    pull = result.pull_request
    if pull is not None:
        flagged = " (flagged for human review)" if pull.flagged else ""
        lines.append(f"pull req.   #{pull.number}{flagged}: {pull.url}")
    return lines
