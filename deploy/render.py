"""The plan as text: grouped by resource type, one symbol per action, each changed field on its own line."""

from __future__ import annotations

from deploy.planner import Plan, Step

SYMBOLS = {"create": "+ create   ", "update": "~ update   ", "unchanged": "= unchanged"}


def step_lines(step: Step) -> list[str]:
    lines = [f"  {SYMBOLS[step.action]} {step.resource.label}"]
    lines += [f"      {change.describe()}" for change in step.changes]
    lines += [f"      note: {note}" for note in step.notes]
    if step.waits_for:
        lines.append(
            f"      waits for a value in secret {', '.join(step.waits_for)} (apply skips it until then)"
        )
    return lines


def render_plan(plan: Plan) -> list[str]:
    lines: list[str] = []
    group = ""
    for step in plan.steps:
        if step.resource.group != group:
            group = step.resource.group
            lines += ["", group] if lines else [group]
        lines += step_lines(step)
    if plan.notes:
        lines += ["", "Notes:"] + [f"  - {note}" for note in plan.notes]
    lines += ["", f"Plan: {plan.summary()}."]
    return lines
