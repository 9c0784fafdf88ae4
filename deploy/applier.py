"""Apply: perform a plan's creates and updates in order, one progress line per resource.

Idempotent by construction: an unchanged resource issues no write at all, so a second apply reads
everything, writes nothing and says so. The first failing call stops the apply with one line naming the
resource and the fix; everything before it stays done, and the next apply picks up from there.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from deploy.planner import Plan, Step


def perform(step: Step) -> None:
    """Do one step; afterwards its notes reflect the new state (the receiver's URL, say)."""
    if step.action == "create":
        created = step.resource.create()
        step.notes = step.resource.notes(created)
    elif step.action == "update":
        step.resource.update(step.current or {}, step.changes)


def apply_plan(plan: Plan, say: Callable[[str], None]) -> bool:
    """Perform ``plan``; False when some steps still wait for secret values (run apply again after)."""
    waiting = plan.waiting
    if not plan.changed:
        say(f"No changes: {plan.summary()}.")
    else:
        say(f"Applying: {plan.summary()}.")
        for step in plan.steps:
            _perform_and_report(step, say)
        created, updated = (
            sum(1 for s in plan.steps if s.action == a and not s.waits_for) for a in ("create", "update")
        )
        done = f"{created} created, {updated} updated, {plan.count('unchanged')} unchanged"
        if waiting:
            say(f"Apply incomplete: {done}; {len(waiting)} skipped until their secrets hold values.")
        else:
            say(f"Apply complete: {done}.")
    notes = [(step.resource.label, note) for step in plan.steps for note in step.notes]
    if notes:
        say("")
        say("Notes:")
        for label, note in notes:
            say(f"  {label}: {note}")
    if waiting:
        say("Then run apply again to create what waited.")
    return not waiting


def _perform_and_report(step: Step, say: Callable[[str], None]) -> None:
    if step.action == "unchanged":
        say(f"  = unchanged {step.resource.label}")
        return
    if step.waits_for:
        say(f"  ! skipped {step.resource.label}: waits for a value in secret {', '.join(step.waits_for)}")
        return
    started = time.monotonic()
    perform(step)
    seconds = f"{time.monotonic() - started:.1f} s"
    if step.action == "create":
        say(f"  + created {step.resource.label} ({seconds})")
        return
    count = len(step.changes)
    say(f"  ~ updated {step.resource.label} ({count} change{'s' if count != 1 else ''}, {seconds})")
    for change in step.changes:
        say(f"      {change.describe()}")
