"""Whole-workflow checks that need every step loaded first: jump targets and call targets.

Jumps (Google's "Steps", "Conditions" and "Iteration" pages): ``next`` names ``end``, a step of the
same steps list or of an enclosing one (forward or backward), or ``break``/``continue`` inside a ``for``
loop. A loop body is its own world here: it is left through ``break``, ``end`` or ``return``, never by
jumping to an outer step, and nothing jumps into a nested list.

Calls: a built-in (``sys.log``, ``sys.sleep``, ``http.*``), a subworkflow of the file, a connector the
caller registered, or a standard-library function. Their ``args`` were checked while loading
(``call_args``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

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
    Step,
    Switch,
    Try,
    Workflow,
)

ErrorAt = Callable[[str, int], WorkflowSyntaxError]


def check_workflow(
    workflow: Workflow, connectors: Collection[str], functions: Collection[str], error: ErrorAt
) -> None:
    for sub in workflow.subworkflows.values():
        _check_jumps(sub.steps, frozenset(), False, error)
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


def _check_jumps(steps: tuple[Step, ...], outer: frozenset[str], in_loop: bool, error: ErrorAt) -> None:
    visible = outer | {s.name for s in steps if not s.synthetic}
    for step in steps:
        _check_target(step.next, step.next_line, visible, in_loop, error)
        _check_action(step.action, visible, in_loop, error)


def _check_action(action: Action | None, visible: frozenset[str], in_loop: bool, error: ErrorAt) -> None:
    if isinstance(action, Block):
        _check_jumps(action.steps, visible, in_loop, error)
    elif isinstance(action, Switch):
        for condition in action.conditions:
            _check_target(condition.next, condition.next_line, visible, in_loop, error)
            _check_action(condition.action, visible, in_loop, error)
    elif isinstance(action, For):
        _check_jumps(action.steps, frozenset(), True, error)
    elif isinstance(action, Try):
        _check_jumps(action.body, visible, in_loop, error)
        if action.except_:
            _check_jumps(action.except_.steps, visible, in_loop, error)


def _check_target(
    target: str | None, line: int, visible: frozenset[str], in_loop: bool, error: ErrorAt
) -> None:
    if target is None or target == END or target in visible:
        return
    if target in (BREAK, CONTINUE):
        if not in_loop:
            raise error(f"'next: {target}' is only allowed inside a for loop", line)
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
    if isinstance(action, Try):
        return _calls(action.body) + (_calls(action.except_.steps) if action.except_ else [])
    if isinstance(action, Switch):
        return [found for c in action.conditions for found in _action_calls(step, c.action)]
    return []
