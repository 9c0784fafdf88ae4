"""The e2e-verify phase's result as lines for people: each attempt, the report, where it was posted."""

from __future__ import annotations

from pathlib import Path

from jobs.phases.e2e.records import E2EResult


def summary_lines(result: E2EResult) -> list[str]:
    lines = [f"status      {result.status}{' - ' + result.detail if result.detail else ''}"]
    for attempt in result.attempts:
        fix = attempt.fix
        then = f", then fix: {fix.status} ({', '.join(fix.files) or '-'})" if fix else ""
        shots = len(attempt.screenshots)
        lines.append(f"attempt {attempt.attempt}   {attempt.verdict}, {shots} screenshot(s){then}")
    if result.report:
        lines.append(f"report      {result.report}")
        lines.append(f"screenshots {Path(result.report.removeprefix('file://')).parent / 'screenshots'}")
    if result.report_in_branch:
        lines.append(f"in branch   {result.report_in_branch} (with its screenshots)")
    if result.pull_request_comment:
        lines.append(f"PR comment  {result.pull_request_comment}")
    return lines
