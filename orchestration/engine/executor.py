"""Run a loaded workflow: steps, jumps, loops, errors, retries and subworkflow calls.

Semantics follow Google's syntax reference: steps run in order unless ``next`` jumps (``end`` stops
the current (sub)workflow with null, ``break``/``continue`` act on the innermost loop); the first true
``switch`` condition runs its ``steps``/``assign``/``call``/``raise``/``return`` or jumps, and the
step's own ``next`` applies when it falls through; ``for`` walks a list or an inclusive ``range``;
``try`` re-runs its whole body while the ``retry`` predicate says so (sleeping the backoff through the
injected ``sleep``) and then hands the error map to ``except``; ``raise`` throws a string or a map as
is; ``return`` ends the (sub)workflow; falling off the end returns null. Each subworkflow call gets its
own variables. ``parallel`` runs its branches or iterations on threads (``parallel`` module; shared
variables in ``scope``); the call depth is per thread and the step count per execution. Runtime errors
are ``WorkflowError`` with Google's tags.

``on_step(name, event)`` hears each named step start and finish. A finish event carries the step's
wall time and the part of it spent outside the engine (connectors, HTTP, sleeps, nested steps), so
``event.overhead`` is the engine's own cost of that step: what the benchmark reports. Events from
parallel branches come from their threads, one at a time.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from orchestration.engine import calls
from orchestration.engine.errors import WorkflowError, type_error
from orchestration.engine.expressions import evaluate
from orchestration.engine.flow import NEXT, Flow, RaisedError, StepEvent, jump
from orchestration.engine.model import (
    Action,
    Assign,
    Attr,
    Block,
    Call,
    For,
    Jump,
    Parallel,
    Raise,
    Return,
    Step,
    Subworkflow,
    Switch,
    Try,
    Workflow,
)
from orchestration.engine.parallel import MAX_NESTING, Task, concurrency, nesting_error, run_tasks
from orchestration.engine.retry import STANDARD_PREDICATES, delays
from orchestration.engine.scope import Boundary, Frame
from orchestration.engine.signatures import PARAMETERS, positional
from orchestration.engine.values import is_number, type_name

log = logging.getLogger("orchestration.engine")

Connector = Callable[[dict[str, Any]], Any]
MAX_CALL_DEPTH = 20  # Google's limit on nested subworkflow calls ("RecursionError")
MAX_STEPS = 100_000  # Google's limit on steps per execution ("ResourceLimitError")


def _default_log_sink(severity: str, payload: Any) -> None:
    level = {"DEBUG": logging.DEBUG, "WARNING": logging.WARNING, "ERROR": logging.ERROR}.get(
        severity, logging.INFO
    )
    log.log(level, "%s", payload)


class _ThreadState(threading.local):
    """What each thread of an execution keeps for itself: main's, and each parallel branch's."""

    def __init__(self) -> None:
        self.depth = 0  # subworkflow calls on this thread's call stack
        self.nesting = 0  # parallel steps this thread runs inside
        self.timers: list[list[float]] = []  # per running named step: [external seconds]


class Executor:
    """Runs one loaded ``Workflow``; ``run(argument)`` is one execution."""

    def __init__(
        self,
        workflow: Workflow,
        connectors: Mapping[str, Connector],
        functions: Mapping[str, Callable[..., Any]],
        sleep: Callable[[float], None] = time.sleep,
        log_sink: calls.LogSink = _default_log_sink,
        on_step: Callable[[str, StepEvent], None] | None = None,
        *,
        http: httpx.Client | None = None,
    ) -> None:
        self.workflow = workflow
        self.connectors = dict(connectors)
        self.functions = functions
        self.sleep = sleep
        self.log_sink = log_sink
        self.on_step = on_step
        self._http = http
        self._thread = _ThreadState()
        self._step_numbers = itertools.count(1)  # next() on it is atomic: branches count in one sequence
        self._lock = threading.Lock()  # one on_step call at a time; the lazily made HTTP client
        self._positions: dict[int, dict[str, int]] = {}

    def run(self, argument: Any = None) -> Any:
        """Execute ``main`` with the execution argument; its return value, or the uncaught error."""
        self._thread.depth, self._thread.nesting, self._thread.timers = 0, 0, []
        self._step_numbers = itertools.count(1)
        main = self.workflow.main
        args = {main.params[0].name: argument} if main.params else {}
        return self.call_subworkflow("main", args)

    # --- subworkflows ------------------------------------------------------------------------------

    def call_subworkflow(self, name: str, args: dict[str, Any]) -> Any:
        sub = self.workflow.subworkflows[name]
        if self._thread.depth >= MAX_CALL_DEPTH:
            raise WorkflowError(
                ["RecursionError"], f"maximum call depth {MAX_CALL_DEPTH} exceeded calling {name}"
            )
        frame = Frame(self._call_from_expression)
        self._bind(sub, args, frame)
        self._thread.depth += 1
        try:
            flow = self.run_steps(sub, sub.steps, frame)
        finally:
            self._thread.depth -= 1
        return flow.value if flow.kind == "return" else None

    def _bind(self, sub: Subworkflow, args: dict[str, Any], frame: Frame) -> None:
        names = {param.name for param in sub.params}
        unknown = sorted(set(args) - names)
        if unknown:
            raise type_error(f"subworkflow '{sub.name}' has no parameter(s) {', '.join(unknown)}")
        for param in sub.params:
            if param.name in args:
                frame.define(param.name, args[param.name])
            elif param.has_default:
                frame.define(param.name, self.evaluate(param.default, frame))
            elif sub.name == "main":
                frame.define(param.name, None)  # an execution without an argument
            else:
                raise type_error(f"subworkflow '{sub.name}' is missing required parameter '{param.name}'")

    def _call_from_expression(self, name: str, args: list[Any]) -> Any:
        """``Scope.call``: a subworkflow called inside an expression, arguments by position."""
        sub = self.workflow.subworkflows.get(name)
        if sub is None or name == "main":
            raise WorkflowError(["KeyError"], f"function '{name}' is not defined")
        if len(args) > len(sub.params):
            raise type_error(
                f"subworkflow '{name}' takes at most {len(sub.params)} arguments, got {len(args)}"
            )
        return self.call_subworkflow(name, {p.name: a for p, a in zip(sub.params, args, strict=False)})

    # --- steps -------------------------------------------------------------------------------------

    def run_steps(self, sub: Subworkflow, steps: tuple[Step, ...], frame: Frame) -> Flow:
        """Run a steps list; a jump to one of its own steps continues there, others go up."""
        positions = self._positions.get(id(steps))
        if positions is None:
            positions = self._positions[id(steps)] = {
                s.name: i for i, s in enumerate(steps) if not s.synthetic
            }
        index = 0
        while index < len(steps):
            flow = self.run_step(sub, steps[index], frame)
            if flow.kind == "next":
                index += 1
            elif flow.kind == "jump" and flow.target in positions:
                index = positions[flow.target]
            else:
                return flow
        return NEXT

    def run_step(self, sub: Subworkflow, step: Step, frame: Frame) -> Flow:
        if next(self._step_numbers) > MAX_STEPS:
            raise WorkflowError(["ResourceLimitError"], f"more than {MAX_STEPS} steps in one execution")
        if step.synthetic or self.on_step is None:
            flow = self.run_action(sub, step, step.action, frame)
        else:
            flow = self._observed(sub, step, frame)
        return jump(step.next) if flow.kind == "next" and step.next else flow

    def _observed(self, sub: Subworkflow, step: Step, frame: Frame) -> Flow:
        self._event(StepEvent("start", step.name, sub.name, step.line))
        timers = self._thread.timers
        timers.append([0.0])
        started = time.perf_counter()
        error: WorkflowError | None = None
        try:
            return self.run_action(sub, step, step.action, frame)
        except WorkflowError as exc:
            error = exc
            raise
        finally:
            elapsed = time.perf_counter() - started
            external = timers.pop()[0]
            if timers:  # the enclosing step does not count this one as its own work
                timers[-1][0] += elapsed
            self._event(StepEvent("finish", step.name, sub.name, step.line, elapsed, external, error))

    def _event(self, event: StepEvent) -> None:
        assert self.on_step is not None
        with self._lock:
            self.on_step(event.step, event)

    def run_action(self, sub: Subworkflow, step: Step, action: Action | None, frame: Frame) -> Flow:
        if isinstance(action, Assign):
            for item in action.items:
                with frame.guard(item.variable):  # a shared variable: read, compute and store atomically
                    value = self.evaluate(item.value, frame)
                    if item.path:
                        keys = [
                            k.name if isinstance(k, Attr) else self.evaluate(k.expression, frame)
                            for k in item.path
                        ]
                        frame.set_path(item.variable, keys, value)
                    else:
                        frame.set(item.variable, value)
            return NEXT
        if isinstance(action, Call):
            result = self.call_step(action, frame)
            if action.result:
                frame.set(action.result, result)
            return NEXT
        if isinstance(action, Switch):
            return self.run_switch(sub, step, action, frame)
        if isinstance(action, For):
            return self.run_for(sub, action, frame)
        if isinstance(action, Parallel):
            return self.run_parallel(sub, step, action, frame)
        if isinstance(action, Try):
            return self.run_try(sub, action, frame)
        if isinstance(action, Block):
            return self.run_steps(sub, action.steps, frame)
        if isinstance(action, Raise):
            raise RaisedError(self.evaluate(action.value, frame))
        if isinstance(action, Return):
            return Flow("return", value=self.evaluate(action.value, frame))
        if isinstance(action, Jump) or action is None:
            return NEXT
        raise AssertionError(f"unknown action {action!r}")  # pragma: no cover

    def run_switch(self, sub: Subworkflow, step: Step, switch: Switch, frame: Frame) -> Flow:
        for condition in switch.conditions:
            matched = self.evaluate(condition.condition, frame)
            if not isinstance(matched, bool):
                raise type_error(f"switch condition must be a boolean, got {type_name(matched)}")
            if matched:
                flow = self.run_action(sub, step, condition.action, frame)
                return jump(condition.next) if flow.kind == "next" and condition.next else flow
        return NEXT

    def run_for(self, sub: Subworkflow, loop: For, frame: Frame) -> Flow:
        inner = frame.child()
        for index, value in enumerate(self._iteration(loop, frame)):
            inner.define(loop.value, value)
            if loop.index:
                inner.define(loop.index, index)
            flow = self.run_steps(sub, loop.steps, inner)
            if flow.kind == "break":
                break
            if flow.kind not in ("next", "continue"):
                return flow
        return NEXT

    def run_parallel(self, sub: Subworkflow, step: Step, parallel: Parallel, frame: Frame) -> Flow:
        """Run the branches or iterations, each in its own frame behind one boundary, then go on."""
        if self._thread.nesting >= MAX_NESTING:
            raise nesting_error(step.name)
        for name in parallel.shared:
            frame.lookup(name)  # a shared variable belongs to the enclosing scope: it must exist
        limit = concurrency(self.evaluate(parallel.concurrency_limit, frame))
        boundary = Boundary(frozenset(parallel.shared))
        tasks: list[Task] = []
        if parallel.branches is not None:
            for branch in parallel.branches:
                tasks.append(
                    Task(branch.name, self._on_thread(self.run_step, sub, branch, frame.branch(boundary)))
                )
        else:
            assert parallel.loop is not None
            loop = parallel.loop
            for index, value in enumerate(self._iteration(loop, frame)):
                inner = frame.branch(boundary)
                inner.define(loop.value, value)
                if loop.index:
                    inner.define(loop.index, index)
                tasks.append(Task(str(index), self._on_thread(self.run_steps, sub, loop.steps, inner)))
        self._external(run_tasks, tasks, limit, step.name)  # waiting on the branches is not engine work
        return NEXT

    def _on_thread(self, function: Callable[..., Any], *args: Any) -> Callable[[], None]:
        """``function(*args)`` as a branch's work: on its thread, with the caller's call stack depth."""
        depth, nesting = self._thread.depth, self._thread.nesting + 1

        def work() -> None:
            state = self._thread
            state.depth, state.nesting, state.timers = depth, nesting, []
            function(*args)

        return work

    def _iteration(self, loop: For, frame: Frame) -> list[Any]:
        if loop.range is None:
            items = self.evaluate(loop.items, frame)
            if not isinstance(items, list):
                raise type_error(
                    f"for 'in' must be a list (iterate a map with keys()), got {type_name(items)}"
                )
            return items
        bounds = self.evaluate(loop.range, frame)
        if not (isinstance(bounds, list) and len(bounds) == 2 and all(is_number(b) for b in bounds)):
            raise type_error(f"for 'range' must be two numbers [start, end], got {type_name(bounds)}")
        start, end = bounds
        values, current = [], start
        while current <= end:  # both ends inclusive
            values.append(current)
            current += 1
        return values

    def run_try(self, sub: Subworkflow, block: Try, frame: Frame) -> Flow:
        retries = 0
        waits = None
        while True:
            try:
                return self.run_steps(sub, block.body, frame)
            except WorkflowError as error:
                retry = block.retry
                if retry is not None and self._should_retry(
                    retry.predicate, retry.max_retries, error, retries, frame
                ):
                    if waits is None:
                        backoff = retry.backoff
                        waits = delays(
                            *(
                                self._number(v, frame)
                                for v in (backoff.initial_delay, backoff.max_delay, backoff.multiplier)
                            )
                        )
                    self._external(self.sleep, next(waits))
                    retries += 1
                    continue
                if block.except_ is None:
                    raise
                inner = frame.child()
                if block.except_.name:
                    inner.define(block.except_.name, error.as_value())
                return self.run_steps(sub, block.except_.steps, inner) if block.except_.steps else NEXT

    def _should_retry(
        self, predicate: str, max_retries: Any, error: WorkflowError, done: int, frame: Frame
    ) -> bool:
        limit = self.evaluate(max_retries, frame)
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise type_error(f"max_retries must be an integer, got {type_name(limit)}")
        if done >= limit:
            return False
        standard = STANDARD_PREDICATES.get(predicate)
        verdict = (
            standard(error.as_value())
            if standard
            else self.call_subworkflow(
                predicate, _one_arg(self.workflow.subworkflows[predicate], error.as_value())
            )
        )
        if not isinstance(verdict, bool):
            raise type_error(f"retry predicate {predicate} must return a boolean, got {type_name(verdict)}")
        return verdict

    def _number(self, value: Any, frame: Frame) -> float:
        number = self.evaluate(value, frame)
        if not is_number(number):
            raise type_error(f"backoff values must be numbers, got {type_name(number)}")
        return float(number)

    # --- calls -------------------------------------------------------------------------------------

    def call_step(self, call: Call, frame: Frame) -> Any:
        args = self.evaluate(call.args, frame) if call.args is not None else None
        name = call.function
        if name in calls.BUILTIN_ARGS:
            return self._builtin(name, calls.named_args(name, args))
        if name in self.workflow.subworkflows:
            if args is not None and not isinstance(args, dict):
                raise type_error(f"args of subworkflow '{name}' must be a map")
            return self.call_subworkflow(name, args or {})
        if name in self.connectors:
            if args is not None and not isinstance(args, dict):
                raise type_error(f"args of connector '{name}' must be a map")
            return self._external(self.connectors[name], args or {})
        function = self.functions.get(name)
        if function is None or name not in PARAMETERS:
            raise WorkflowError(["KeyError"], f"call target '{name}' is not defined")
        if args is not None and not isinstance(args, dict):
            raise type_error(f"args of standard-library function '{name}' must be a map of named arguments")
        return function(*positional(name, args or {}))

    def _builtin(self, name: str, args: dict[str, Any]) -> Any:
        if name == "sys.log":
            calls.sys_log(args, self.log_sink)
            return None
        if name == "sys.sleep":
            self._external(calls.sys_sleep, args, self.sleep)
            return None
        with self._lock:
            if self._http is None:
                self._http = httpx.Client()
        return self._external(calls.http_call, name, args, self._http)

    def _external(self, function: Callable[..., Any], *args: Any) -> Any:
        """Call something outside the engine, charging its time to the running step as external."""
        started = time.perf_counter()
        try:
            return function(*args)
        finally:
            timers = self._thread.timers
            if timers:
                timers[-1][0] += time.perf_counter() - started

    def evaluate(self, value: Any, frame: Frame) -> Any:
        return evaluate(value, frame, functions=self.functions)


def _one_arg(sub: Subworkflow, value: Any) -> dict[str, Any]:
    """A custom retry predicate's single argument: the error map, bound to its first parameter."""
    if not sub.params:
        raise type_error(f"retry predicate '{sub.name}' must take one parameter (the error)")
    return {sub.params[0].name: value}
