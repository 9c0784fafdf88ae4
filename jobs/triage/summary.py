"""The triage's results as lines for people (the demo, ``factory runs``)."""

from __future__ import annotations

from jobs.triage.records import CloseResult, TriageResult


def triage_lines(result: TriageResult) -> list[str]:
    lines = [f"status      {result.status}{' - ' + result.detail if result.detail else ''}"]
    lines.append(f"night       {result.night}{' (report only)' if result.report_only else ''}")
    lines += [
        f"fix         {s.identifier} {s.branch}{' (regression)' if s.regression else ''}: {s.title}"
        for s in result.selected
    ]
    if result.findings:
        lines.append(f"findings    {result.findings}")
    return lines


def close_lines(result: CloseResult) -> list[str]:
    lines = [f"status      {result.status}{' - ' + result.detail if result.detail else ''}"]
    if result.line:
        lines.append(f"night       {result.line}")
    lines += [f"PR          {url}" for url in result.pull_requests]
    lines += [f"failed      {line}" for line in result.failed]
    return lines
