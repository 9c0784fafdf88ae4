"""The pull request's body: ticket, scores of every round, what each fix changed, cost, time, security,
artifacts.

Everything written here comes from records in the artifacts, and every piece of model- or ticket-written
text is redacted, and flattened or block-quoted: the body is posted where many people (and bots) read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from jobs.onboard.body import accuracy_table, refused_lines
from jobs.onboard.records import OnboardResult
from jobs.phases.implement.records import ImplementResult
from jobs.phases.kit.security import SecurityRecord
from jobs.phases.kit.text import code_span, one_line
from jobs.phases.review.evidence import describe
from jobs.phases.review.records import ReviewResult, ReviewRound
from jobs.phases.review.verdict import CRITERIA
from jobs.tickets import Ticket

FLAG_LINE = (
    "> [!WARNING]\n> **Needs human review**: {reason} Factory opened this pull request anyway; "
    "please review it yourself before merging."
)
MAX_TEXT = 3_000
# The description of the change, carried from one run's body to the next: a re-run that finds nothing
# more to change keeps it, one that changes more adds its summary under it.
DESCRIPTION_START, DESCRIPTION_END = "<!-- factory:description -->", "<!-- /factory:description -->"
MAX_DESCRIPTION = 12_000


@dataclass
class BodyInputs:
    """What the body is written from."""

    ticket: Ticket
    result: ReviewResult
    implement: ImplementResult | None
    links: dict[str, str] = field(default_factory=dict)  # label -> artifact URL
    redact: Callable[[str], str] = str
    previous_body: str = ""  # the open PR's body, when there is one
    security: dict[str, tuple[SecurityRecord, str]] = field(default_factory=dict)  # phase -> (record, URL)
    onboarding: OnboardResult | None = None  # the run's onboard result, when the branch is a client's


def _flat(text: str, redact: Callable[[str], str], limit: int = MAX_TEXT) -> str:
    """One paragraph of untrusted text, redacted and clamped, that cannot break the markdown around it."""
    return one_line(text, redact, limit)


def _link_url(url: str, redact: Callable[[str], str]) -> str:
    """A URL from a tracker as a markdown link target: no space or parenthesis can end it early."""
    return _flat(url, redact, 500).replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _quoted(text: str, redact: Callable[[str], str], limit: int = MAX_TEXT) -> list[str]:
    """Multi-line untrusted text as a block quote: its lists stay readable, its headings stay inside."""
    text = redact(text).strip()
    text = text if len(text) <= limit else text[:limit] + " [...]"
    return [f"> {line}".rstrip() for line in text.splitlines()] or ["> (none)"]


def score_table(rounds: list[ReviewRound]) -> list[str]:
    if not rounds:
        return ["(no review round finished)"]
    head = "| Criterion | " + " | ".join(f"Round {r.round}" for r in rounds) + " |"
    lines = [head, "|---|" + ":-:|" * len(rounds)]
    for name in CRITERIA:
        cells = [str(getattr(r.review.scores, name)) if r.review else "-" for r in rounds]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **verdict** | " + " | ".join(r.verdict for r in rounds) + " |")
    return lines


def _fixes(rounds: list[ReviewRound], redact: Callable[[str], str]) -> list[str]:
    lines = []
    for r in rounds:
        fix = r.fix
        if fix is None:
            continue
        if fix.commits:
            shas = ", ".join(f"`{sha[:10]}`" for sha in fix.commits)
            files = ", ".join(f"`{f}`" for f in fix.files[:20]) or "no files"
            what = f"{len(fix.commits)} commit(s) {shas} touching {files}"
        else:
            what = "no change committed"
        status = (
            "" if fix.status != "failed" else f" (the fixer ended badly: {_flat(fix.detail, redact, 200)})"
        )
        lines += [
            f"- After round {fix.round}: {what}{status}. The fixer's summary:",
            "",
            *_quoted(fix.summary, redact, 1500),
            "",
        ]
    return lines or ["- No fixes were needed."]


def description_lines(
    previous_body: str, implement: ImplementResult | None, run_id: str, redact: Callable[[str], str]
) -> list[str]:
    """The change's description: what earlier runs' bodies said, plus this run's implementer summary
    when this run changed the branch (a run that found nothing more to change adds nothing)."""
    kept = _section(previous_body)
    summary = implement.agent.result_text if implement and implement.agent else None
    marker = f"<!-- factory:run {run_id} -->"
    entries = [kept] if kept else []
    changed = implement is not None and implement.pushed  # this run added commits
    if summary and marker not in kept and (changed or not kept):
        heading = [f"Run `{run_id}` changed the branch further:", ""] if kept else []
        entries.append("\n".join([marker, *heading, *_quoted(summary, redact)]))
    if not entries:
        return []
    text = "\n\n".join(entries)
    if len(text) > MAX_DESCRIPTION:  # keep the first description and the newest
        text = text[: MAX_DESCRIPTION // 2] + "\n\n> [...]\n\n" + text[-MAX_DESCRIPTION // 2 :]
    return [DESCRIPTION_START, text, DESCRIPTION_END]


def _section(body: str) -> str:
    start = body.find(DESCRIPTION_START)
    end = body.find(DESCRIPTION_END, start + 1)
    return body[start + len(DESCRIPTION_START) : end].strip() if start >= 0 and end > start else ""


def security_lines(records: dict[str, tuple[SecurityRecord, str]], redact: Callable[[str], str]) -> list[str]:
    """Per phase: the secrets it held (names only), what its agents were refused, what it flagged."""
    lines = []
    for phase, (record, url) in records.items():
        held = ", ".join(f"`{name}`" for name in record.secrets_held) or "no secret"
        where = f"the model key stayed in the {record.model_key.where}"
        lines.append(f"- **{phase}** held {held} (names only; {where}). [security.json]({url})")
        refused = record.refused
        items = [
            f"{code_span(t.tool, redact, 80)} {code_span(t.input, redact, 120)}" for t in refused.tools[:10]
        ]
        if len(refused.tools) > 10:
            items.append(f"{len(refused.tools) - 10} more tool uses")
        if refused.model_requests_over_budget:
            items.append(f"{refused.model_requests_over_budget} model request(s) over the budget")
        if refused.model_requests_unauthorized:
            items.append(f"{refused.model_requests_unauthorized} model request(s) without the run's token")
        box = record.containment
        if box is not None and box.contained:
            items.append(f"{box.unroutable_packets} packet(s) to addresses outside the box")
            items += [
                f"{code_span(host, redact, 80)} ({n}x)" for host, n in list(box.hosts_refused.items())[:10]
            ]
        lines.append(f"  - Refused: {'; '.join(items) or 'nothing'}.")
        lines.append(f"  - Hosts and paths: {record.refused.hosts_and_paths}.")
        flagged = record.flagged
        reasons = (*flagged.needs_human, *flagged.unsafe_paths, *flagged.commits)
        flags = [_flat(reason, redact, 300) for reason in reasons]
        lines.append(f"  - Flagged: {' '.join(flags) or 'nothing.'}")
    return lines


def _money(seconds: float, usd: float) -> str:
    return f"{seconds:.1f} s | ${usd:.4f}"


def render_body(inputs: BodyInputs) -> str:
    """The whole body as markdown (the caller clamps it to GitHub's limit)."""
    ticket, result, redact = inputs.ticket, inputs.result, inputs.redact
    out: list[str] = []
    if result.needs_human:
        out += [FLAG_LINE.format(reason=" ".join(_flat(r, redact, 300) for r in result.needs_human)), ""]
    link = f"[{ticket.identifier}]({ticket.url})" if ticket.url else f"`{ticket.identifier}`"
    out += [f"Ticket: {link} · branch `{result.branch}` → `{result.base_branch}` · run `{result.run_id}`", ""]
    if ticket.links:
        out += ["### Where it fails", ""]
        out += [
            f"- [{_flat(label, redact, 200)}]({_link_url(url, redact)})"
            for label, url in ticket.links.items()
            if url.startswith(("https://", "http://"))
        ]
        out.append("")
    if inputs.onboarding is not None:
        out += onboarding_lines(inputs.onboarding, redact)
    description = description_lines(inputs.previous_body, inputs.implement, result.run_id, redact)
    if description:
        out += ["### What changed (the implementer's summary)", "", *description, ""]
    out += [f"### Review: {result.status.replace('_', ' ')}", "", *score_table(result.rounds), ""]
    last = next((r.review for r in reversed(result.rounds) if r.review), None)
    if last is not None:
        out += ["The reviewer's summary:", "", *_quoted(last.summary, redact, 1000), ""]
        if not last.passed:
            out += ["Its open issues:", ""]
            for issue in last.issues[:20]:
                where = f"{issue.file}:{issue.line}" if issue.line else issue.file
                line = f"- {where} ({issue.criterion}): {issue.change}"
                out += _quoted(_flat(line, redact, 600), redact)
            out.append("")
    out += ["### Fixes after review", "", *_fixes(result.rounds, redact), ""]
    checks = [f"- Round {r.round}: {describe(c)}" for r in result.rounds for c in r.checks]
    out += ["### Checks run by Factory", "", *(checks or ["- No checks are configured."]), ""]
    out += ["### Cost and time", "", "| Phase | Time | Cost |", "|---|--:|--:|"]
    total_s, total_usd = 0.0, 0.0
    if inputs.implement is not None:
        seconds = sum(inputs.implement.timings.values())
        usd = inputs.implement.agent.usage.cost_usd if inputs.implement.agent else 0.0
        out.append(f"| implement | {_money(seconds, usd)} |")
        total_s, total_usd = total_s + seconds, total_usd + usd
    if inputs.onboarding is not None:
        seconds = sum(inputs.onboarding.timings.values())
        usd = inputs.onboarding.cost_usd
        out.append(f"| onboard | {_money(seconds, usd)} |")
        total_s, total_usd = total_s + seconds, total_usd + usd
    seconds = sum(result.timings.values())
    out.append(f"| review ({len(result.rounds)} round(s)) | {_money(seconds, result.cost_usd)} |")
    out += [f"| **total so far** | {_money(total_s + seconds, total_usd + result.cost_usd)} |", ""]
    if inputs.security:
        out += ["### Security", "", *security_lines(inputs.security, redact), ""]
    if inputs.links:
        out += ["### Artifacts", "", *(f"- [{label}]({url})" for label, url in inputs.links.items()), ""]
    out.append(
        "<sub>Written by Factory: scores from a model reviewing the diff, checks run by Factory.</sub>"
    )
    return "\n".join(out)


def onboarding_lines(onboarding: OnboardResult, redact: Callable[[str], str]) -> list[str]:
    """The onboarding's section: its accuracy table (every figure from the eval our code ran) and the
    changes it refused. The paths in them are the agent's file names, as code spans it cannot close
    (``jobs.onboard.body``); the reasons are ours."""
    out = [
        f"### Onboarding of `{onboarding.client}` ({onboarding.mode}): accuracy measured by Factory",
        "",
        *(redact(line) for line in accuracy_table(onboarding)),
        "",
    ]
    if onboarding.target_accuracy is not None:
        out += [
            f"Target: {onboarding.target_accuracy:.0%} on the tuning part; "
            "the held-out part is never shown to the agent.",
            "",
        ]
    refused = refused_lines(onboarding)
    if refused:
        out += [
            "Changes the agent tried that Factory refused and undid:",
            "",
            *(redact(line) for line in refused),
            "",
        ]
    return out
