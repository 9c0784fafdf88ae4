"""The E2E report as markdown: each checklist item, pass or fail, and its screenshot.

One renderer serves the report committed to the branch (images next to it), the one in the artifacts
and the sticky PR comment (images by URL). Agent-written text is redacted and flattened into table cells.
"""

from __future__ import annotations

from collections.abc import Callable

from jobs.phases.e2e.records import E2EAttempt
from jobs.phases.kit.text import code_span

MAX_CELL = 300


def _cell(text: str, redact: Callable[[str], str]) -> str:
    """Agent-written text as a code span: no link, image, HTML or @mention in it can render."""
    return code_span(text, redact, MAX_CELL).replace("|", "\\|")  # and no pipe ends the table cell


def render_report(
    identifier: str,
    attempts: list[E2EAttempt],
    image_url: Callable[[str], str],
    redact: Callable[[str], str],
) -> str:
    """Markdown for the last attempt (with a line per earlier one); ``image_url`` maps a file name."""
    last = attempts[-1]
    verdict = {
        "verified": "verified",
        "failed": "failed",
        "unparseable": "no usable report",
        "error": "error",
    }
    out = [f"# E2E verification: {identifier}", ""]
    out.append(f"**Result: {verdict[last.verdict]}** (attempt {last.attempt}, commit `{last.head_sha[:10]}`)")
    out.append("")
    for earlier in attempts[:-1]:
        fixed = ""
        if earlier.fix is not None:
            fixed = f"; the fixer then made {len(earlier.fix.commits)} commit(s) touching " + (
                ", ".join(f"`{f}`" for f in earlier.fix.files[:10]) or "nothing"
            )
        out.append(f"- Attempt {earlier.attempt}: {verdict[earlier.verdict]}{fixed}.")
    if attempts[:-1]:
        out.append("")
    if last.report is None:
        out += ["The browser agent gave no report our code could parse.", ""]
        return "\n".join(out)
    out += ["| # | Check | Page | Result | Observed | Screenshot |", "|--:|---|---|:-:|---|---|"]
    for n, item in enumerate(last.report.checklist, 1):
        shot = f"![{item.screenshot}]({image_url(item.screenshot)})" if item.screenshot else "-"
        result = "pass" if item.passed else "**fail**"
        out.append(
            f"| {n} | {_cell(item.check, redact)} | {_cell(item.page, redact)} | {result} "
            f"| {_cell(item.observed, redact)} | {shot} |"
        )
    out.append("")
    if last.evidence_problems:
        out += ["Evidence Factory could not confirm (these items do not count as passed):", ""]
        out += [f"- {problem}" for problem in last.evidence_problems]
        out.append("")
    out += [f"Agent's summary: {_cell(last.report.summary, redact)}", ""]
    out.append(
        "<sub>Factory's browser tool took the screenshots when asked; the verdicts are the agent's.</sub>"
    )
    return "\n".join(out)
