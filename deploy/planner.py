"""Plan: read every resource, compare with what the config wants, and say what apply would do.

Reads only; a plan never writes. Apply recomputes the same plan and then performs it (applier.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from deploy.diff import Change
from deploy.resources import Resource

Action = Literal["create", "update", "unchanged"]


@dataclass
class Step:
    """What happens to one resource, and why."""

    resource: Resource
    action: Action
    current: dict[str, Any] | None
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    waits_for: list[str] = field(default_factory=list)
    """Secrets that still need a value before this step can be done; apply skips it until then."""


@dataclass
class Plan:
    steps: list[Step]
    notes: list[str] = field(default_factory=list)
    """About the deployment as a whole (notes.py): APIs to enable, what the config leaves out."""

    def count(self, action: Action) -> int:
        return sum(1 for step in self.steps if step.action == action)

    @property
    def changed(self) -> bool:
        return any(step.action != "unchanged" for step in self.steps)

    @property
    def waiting(self) -> list[Step]:
        return [step for step in self.steps if step.waits_for]

    def summary(self) -> str:
        line = (
            f"{self.count('create')} to create, {self.count('update')} to update, "
            f"{self.count('unchanged')} unchanged"
        )
        waiting = len(self.waiting)
        return line + (f" ({waiting} of them waiting for secret values)" if waiting else "")


def step_for(resource: Resource) -> Step:
    current = resource.read()
    resource.exists = current is not None
    if current is None:
        return Step(resource, "create", None, notes=resource.notes(None))
    changes = resource.changes(current)
    return Step(resource, "update" if changes else "unchanged", current, changes, resource.notes(current))


def make_plan(resources: list[Resource], notes: list[str] | None = None) -> Plan:
    """Read each resource in order; a write that needs an empty secret, or a resource still waiting to
    be created, waits too."""
    steps: list[Step] = []
    waiting: dict[int, list[str]] = {}
    for resource in resources:
        step = step_for(resource)
        if step.action != "unchanged":
            needs = {s.name for s in resource.needs_values if not s.has_value}
            for dependency in resource.depends_on:
                needs.update(waiting.get(id(dependency), []))
            step.waits_for = sorted(needs)
            if step.waits_for and step.action == "create":
                waiting[id(resource)] = step.waits_for
        steps.append(step)
    return Plan(steps, list(notes or []))
