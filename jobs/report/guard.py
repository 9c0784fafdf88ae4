"""The security section: per phase, what fenced its agents, what they were refused, what was flagged."""

from __future__ import annotations

from jobs.phases.kit.security import SecurityRecord
from jobs.report.markup import Html, el, join
from jobs.report.parts import pill, section

MAX_LISTED = 20


def security_section(records: dict[str, SecurityRecord]) -> Html:
    head = el(
        "tr",
        *[
            el("th", name)
            for name in ("Phase", "Fenced", "Secrets held", "Model requests", "Refused", "Flagged")
        ],
    )
    rows = [_row(phase, record) for phase, record in records.items()]
    details = [_refusals(phase, record) for phase, record in records.items()]
    return section(
        "security",
        "Security",
        el("div", el("table", el("thead", head), el("tbody", rows)), class_="wrap"),
        join(*details),
    )


def _row(phase: str, record: SecurityRecord) -> Html:
    box = record.containment
    if box is None:
        fenced = el("span", "not recorded", class_="faint")
    elif box.contained:
        fenced = join(
            pill("done", "contained"),
            el("span", f" uid {box.uid} · {box.unroutable_packets} packets refused", class_="muted small"),
        )
    else:
        fenced = join(pill("failed_after_max", "open"), el("div", box.why_open, class_="muted small"))
    refused = record.refused
    refusals = len(refused.tools) + refused.model_requests_over_budget + refused.model_requests_unauthorized
    flagged = record.flagged
    flags = len(flagged.needs_human) + len(flagged.unsafe_paths) + len(flagged.commits)
    return el(
        "tr",
        el("td", el("b", phase)),
        el("td", fenced),
        el("td", ", ".join(record.secrets_held) or "none", class_="small"),
        el(
            "td", f"{record.model_key.requests} in {record.model_key.agent_runs} agent run(s)", class_="small"
        ),
        el("td", pill("failed", str(refusals)) if refusals else el("span", "none", class_="muted")),
        el("td", pill("failed_after_max", str(flags)) if flags else el("span", "none", class_="muted")),
    )


def _refusals(phase: str, record: SecurityRecord) -> Html:
    items: list[str | Html] = [
        join(el("code", t.tool), " ", t.input) for t in record.refused.tools[:MAX_LISTED]
    ]
    if record.refused.model_requests_over_budget:
        items.append(f"{record.refused.model_requests_over_budget} model request(s) over the budget")
    if record.refused.model_requests_unauthorized:
        items.append(f"{record.refused.model_requests_unauthorized} model request(s) without the run's token")
    items += [f"needs a human: {reason}" for reason in record.flagged.needs_human[:MAX_LISTED]]
    items += [f"unsafe path: {reason}" for reason in record.flagged.unsafe_paths[:MAX_LISTED]]
    items += [f"commit refused: {reason}" for reason in record.flagged.commits[:MAX_LISTED]]
    if not items:
        return Html("")
    return join(el("h3", phase), el("ul", [el("li", item) for item in items], class_="small"))
