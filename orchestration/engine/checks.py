"""Whole-workflow checks that need every step loaded first: jump targets and call targets.

Jumps (Google's "Steps", "Conditions" and "Iteration" pages): ``next`` names ``end``, a step of the
same steps list or of an enclosing one (forward or backward), or ``break``/``continue`` inside a ``for``
loop. A loop body is its own world here: it is left through ``break``, ``end`` or ``return``, never by
jumping to an outer step, and nothing jumps into a nested list.

Parallel steps (Google's "Parallel steps" page): each branch and each iteration of a parallel ``for`` is
a world of its own like a loop body, ended by running off its end or by an error. Google documents no
meaning for ``return``, ``next: end``, or ``break``/``continue`` of the parallel loop itself inside
one (a branch ends, it does not return), so the local engine refuses them rather than guess; a
sequential ``for`` inside a branch keeps its ``break``/``continue``.

Calls: a built-in (``sys.log``, ``sys.sleep``, ``http.*``), a subworkflow of the file, a connector the
caller registered, or a standard-library function. Their ``args`` were checked while loading
(``call_args``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from orchestration.engine.calls import BUILTIN_ARGS
from orchestration.engine.errors import WorkflowSyntaxError
from orchestration.engine.model import (
    BREAK,
    CONTINUE,
    END,
    Action,
    Block,
    Call,
    For,
    Parallel,
    Return,
    Step,
    Switch,
    Try,
    Workflow,
)

ErrorAt = Callable[[str, int], WorkflowSyntaxError]


@dataclass(frozen=True)
class _Place:
    """Where a steps list sits: the loop ``break``/``continue`` act on ("for", the parallel step's name
    for a parallel ``for``, None outside loops), and the parallel step whose branch it is in, if any."""

    loop: str | None = None
    branch_of: str | None = None


def check_workflow(
    workflow: Workflow, connectors: Collection[str], functions: Collection[str], error: ErrorAt
) -> None:
    for sub in workflow.subworkflows.values():
        _check_jumps(sub.steps, frozenset(), _Place(), error)
    known = set(BUILTIN_ARGS) | set(workflow.subworkflows) | set(connectors)
    for sub in workflow.subworkflows.values():
        for step, call in _calls(sub.steps):
            if call.function in known:
                continue
            if call.function not in functions:
                raise error(
                    f"unsupported call target '{call.function}' in step '{step.name}': not a built-in, a "
                    "subworkflow of this file, a standard-library function or a registered connector",
                    step.line,
                )


def _check_jumps(steps: tuple[Step, ...], outer: frozenset[str], place: _Place, error: ErrorAt) -> None:
    visible = outer | {s.name for s in steps if not s.synthetic}
    for step in steps:
        _check_target(step.next, step.next_line, visible, place, error)
        _check_action(step.name, step.line, step.action, visible, place, error)


def _check_action(
    name: str, line: int, action: Action | None, visible: frozenset[str], place: _Place, error: ErrorAt
) -> None:
    if isinstance(action, Block):
        _check_jumps(action.steps, visible, place, error)
    elif isinstance(action, Switch):
        for condition in action.conditions:
            _check_target(condition.next, condition.next_line, visible, place, error)
            _check_action(name, condition.line, condition.action, visible, place, error)
    elif isinstance(action, For):
        _check_jumps(action.steps, frozenset(), replace(place, loop="for"), error)
    elif isinstance(action, Parallel):
        for branch in action.branches or ():
            _check_action(branch.name, branch.line, branch.action, frozenset(), _Place(None, name), error)
        if action.loop:
            _check_jumps(action.loop.steps, frozenset(), _Place(name, name), error)
    elif isinstance(action, Try):
        _check_jumps(action.body, visible, place, error)
        if action.except_:
            _check_jumps(action.except_.steps, visible, place, error)
    elif isinstance(action, Return) and place.branch_of:
        raise error(
            f"step '{name}' returns inside parallel step '{place.branch_of}': a branch or iteration ends by "
            "running off its end (assign a shared variable instead); the local engine refuses 'return' there",
            line,
        )


def _check_target(
    target: str | None, line: int, visible: frozenset[str], place: _Place, error: ErrorAt
) -> None:
    if target == END and place.branch_of:
        raise error(
            f"'next: end' inside parallel step '{place.branch_of}' is not supported by the local engine "
            "(a branch or iteration ends by running off its end)",
            line,
        )
    if target is None or target == END or target in visible:
        return
    if target in (BREAK, CONTINUE):
        if place.loop is None:
            raise error(f"'next: {target}' is only allowed inside a for loop", line)
        if place.loop != "for":
            raise error(
                f"'next: {target}' cannot act on the iterations of parallel step '{place.loop}': they run "
                "concurrently; the local engine refuses it",
                line,
            )
        return
    raise error(f"'next: {target}' names no step reachable from here", line)


def _calls(steps: tuple[Step, ...]) -> list[tuple[Step, Call]]:
    """Every call under ``steps`` with the step it belongs to (nested and inline ones included)."""
    found: list[tuple[Step, Call]] = []
    for step in steps:
        found.extend(_action_calls(step, step.action))
    return found


def _action_calls(step: Step, action: Action | None) -> list[tuple[Step, Call]]:
    if isinstance(action, Call):
        return [(step, action)]
    if isinstance(action, Block | For):
        return _calls(action.steps)
    if isinstance(action, Parallel):
        return _calls(action.branches or ()) + (_calls(action.loop.steps) if action.loop else [])
    if isinstance(action, Try):
        return _calls(action.body) + (_calls(action.except_.steps) if action.except_ else [])
    if isinstance(action, Switch):
        return [found for c in action.conditions for found in _action_calls(step, c.action)]
    return []
