"""Load and validate a Cloud Workflows YAML file, refusing at load time what the engine cannot run.

Both forms of Google's syntax reference are accepted: a top-level list of steps (that is ``main``), or a
map of ``main`` and subworkflows, each with optional ``params`` (names, or ``name: default``) and
``steps``. The YAML is composed (``yaml.compose``) rather than loaded so every node keeps its line:
each error is a ``WorkflowSyntaxError`` naming the file, the line and the construct.

What is checked, following the reference ("Steps", "Conditions", "Iteration", "Retry steps",
"Catching errors", "Raise errors", "Subworkflows", "Variables"): one action per step among those the
engine supports, known keys only, step names unique within a (sub)workflow, ``next`` targets that exist
(or ``end``, and ``break``/``continue`` inside a ``for``), every ``${...}`` expression parses, ``for``
has ``value`` and exactly one of ``in``/``range`` (``range`` is ``[start, end]`` with two numbers or one
expression ``${[start, end]}``), ``retry`` is a documented default policy or
``predicate`` + ``max_retries`` + ``backoff``, ``call`` names a built-in, a subworkflow of the file, a
standard-library function or a connector the caller registered, with ``args`` as ``call_args`` checks
them; no blocking call (HTTP, ``sys.log``, ``sys.sleep``, ``events.await_callback``, connectors)
inside an expression; at most 50 assignments per ``assign`` and 50 conditions per ``switch``.
``parallel`` steps are read by ``parallel_loader`` (which also refuses a branch's assignment to an
enclosing variable it does not share) and checked by ``checks``; anything else unknown is refused.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from orchestration.engine.call_args import Target, check_call_args
from orchestration.engine.calls import BUILTIN_ARGS
from orchestration.engine.checks import check_workflow
from orchestration.engine.errors import WorkflowSyntaxError
from orchestration.engine.expression_parser import ListLit
from orchestration.engine.expressions import is_expression, parse_expression
from orchestration.engine.model import (
    Action,
    Assign,
    AssignItem,
    Backoff,
    Block,
    Call,
    Condition,
    Except,
    For,
    Jump,
    Param,
    Raise,
    Retry,
    Return,
    Step,
    Subworkflow,
    Switch,
    Try,
    Workflow,
)
from orchestration.engine.nodes import DOTTED_NAME, IDENTIFIER, NodeReader, line_of, pairs
from orchestration.engine.parallel_loader import VariableScope, load_parallel
from orchestration.engine.retry import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_RETRIES,
    DEFAULT_POLICIES,
    STANDARD_PREDICATES,
)
from orchestration.engine.stdlib import FUNCTIONS

MAX_ASSIGNMENTS = 50
MAX_CONDITIONS = 50
# Google's "Blocking calls" (Expressions page): these may be called from call steps only. Connector
# calls (googleapis.*) are HTTP requests to Google APIs, made with call and args (connectors reference).
BLOCKING_PREFIXES = ("http.", "googleapis.")
BLOCKING = frozenset({"sys.log", "sys.sleep", "sys.sleep_until", "events.await_callback"})
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"

# Keys that may accompany each action in a step (``next`` is handled separately).
ACTIONS: dict[str, frozenset[str]] = {
    "assign": frozenset(),
    "call": frozenset({"args", "result"}),
    "switch": frozenset(),
    "for": frozenset(),
    "parallel": frozenset(),
    "try": frozenset({"retry", "except"}),
    "raise": frozenset(),
    "return": frozenset(),
    "steps": frozenset(),
}
NO_NEXT = frozenset({"raise", "return"})  # they never fall through, so a ``next`` would be dead
CONDITION_ACTIONS = frozenset({"steps", "assign", "call", "raise", "return"})
UNSUPPORTED = {"branches": "'branches' belongs inside a 'parallel' step"}

# libyaml's parser where PyYAML has it (about ten times faster; the same nodes and line numbers), else
# the pure-Python one, as jobs.yaml_load does for files of ours (the engine imports nothing of the jobs):
# the workflows it loads are ours and the operator's.
_PARSER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_workflow(
    text: str,
    file: str,
    *,
    connectors: Collection[str] = (),
    functions: Collection[str] = FUNCTIONS.keys(),
) -> Workflow:
    """Parse and validate ``text`` (the content of ``file``).

    ``connectors`` are the connector call targets the caller can answer; ``functions`` the
    standard-library names (``text.split``, ...) that expressions and ``call`` steps may use.
    """
    try:
        root = yaml.compose(text, Loader=_PARSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise WorkflowSyntaxError(f"invalid YAML: {exc.problem or exc}", file=file, line=line) from exc
    except yaml.YAMLError as exc:
        raise WorkflowSyntaxError(f"invalid YAML: {exc}", file=file) from exc
    if root is None:
        raise WorkflowSyntaxError("the workflow is empty", file=file, line=1)
    return _Loader(file, frozenset(connectors), frozenset(functions)).load(root)


class _Loader(NodeReader):
    """One file's loading: builds the model top-down, then runs the whole-workflow checks."""

    def __init__(self, file: str, connectors: frozenset[str], functions: frozenset[str]) -> None:
        super().__init__(file)
        self.connectors = connectors
        self.functions = functions
        self.subworkflow_names: set[str] = set()
        self.step_lines: dict[str, int] = {}  # step names of the (sub)workflow being loaded
        self.scope = VariableScope(self.error)  # its variables so far, for the parallel steps' rules

    # --- top level ---------------------------------------------------------------------------------

    def load(self, root: Node) -> Workflow:
        entries: list[tuple[str, Node, Node, MappingNode | None]]
        if isinstance(root, SequenceNode):
            entries = [("main", root, root, None)]
        elif isinstance(root, MappingNode):
            entries = []
            for name, key, value in pairs(root):
                if not isinstance(value, MappingNode):
                    raise self.error(f"subworkflow '{name}' must be a map with 'params' and 'steps'", value)
                if name in {entry[0] for entry in entries}:
                    raise self.error(f"subworkflow '{name}' is defined twice", key)
                entries.append((name, key, value, value))
            if "main" not in {entry[0] for entry in entries}:
                raise self.error("a workflow with subworkflows must have a 'main' block", root)
        else:
            raise self.error("a workflow is a list of steps or a map of subworkflows", root)
        self.subworkflow_names = {entry[0] for entry in entries}
        workflow = Workflow(file=self.file)
        for name, key, node, body in entries:
            if not DOTTED_NAME.fullmatch(name):
                raise self.error(f"invalid subworkflow name '{name}'", key)
            workflow.subworkflows[name] = self.subworkflow(name, key, node, body)
        check_workflow(workflow, self.connectors, self.functions, self.error)
        for function, line in self.function_calls:
            if function in BLOCKING or function in self.connectors or function.startswith(BLOCKING_PREFIXES):
                raise self.error(
                    f"'{function}' cannot be called inside an expression: it is a blocking call (HTTP, "
                    "sys.log, sys.sleep, callbacks, connectors), which Google allows in call steps only",
                    line,
                )
            if function not in self.functions and function not in workflow.subworkflows:
                raise self.error(f"unknown function '{function}' in an expression", line)
        return workflow

    def subworkflow(self, name: str, key: Node, node: Node, body: MappingNode | None) -> Subworkflow:
        self.step_lines = {}
        if body is None:  # the list form: the whole file is main's steps
            self.scope.start([])
            return Subworkflow(name, (), self.steps(node), line_of(key))
        fields = {k: v for k, _, v in pairs(body)}
        for k, key_node, _ in pairs(body):
            if k not in ("params", "steps"):
                raise self.error(
                    f"unknown key '{k}' in subworkflow '{name}' (expected params, steps)", key_node
                )
        if "steps" not in fields:
            raise self.error(f"subworkflow '{name}' has no 'steps'", body)
        params = self.params(name, fields["params"]) if "params" in fields else ()
        if name == "main" and len(params) > 1:
            raise self.error("main takes at most one parameter (the execution argument)", fields["params"])
        self.scope.start([param.name for param in params])
        return Subworkflow(name, params, self.steps(fields["steps"]), line_of(key))

    def params(self, owner: str, node: Node) -> tuple[Param, ...]:
        if not isinstance(node, SequenceNode):
            raise self.error(f"params of '{owner}' must be a list", node)
        params: list[Param] = []
        for item in node.value:
            if isinstance(item, ScalarNode):
                param = Param(str(item.value))
            elif isinstance(item, MappingNode) and len(item.value) == 1:
                ((name, _, value),) = pairs(item)
                self.check_expressions(value)
                param = Param(name, has_default=True, default=self.value(value))
            else:
                raise self.error("a parameter is a name or 'name: default'", item)
            if not IDENTIFIER.fullmatch(param.name):
                raise self.error(f"invalid parameter name '{param.name}'", item)
            if param.name in {p.name for p in params}:
                raise self.error(f"parameter '{param.name}' is listed twice", item)
            params.append(param)
        return tuple(params)

    # --- steps -------------------------------------------------------------------------------------

    def steps(self, node: Node) -> tuple[Step, ...]:
        if not isinstance(node, SequenceNode):
            raise self.error("'steps' must be a list of steps", node)
        if not node.value:
            raise self.error("a steps list needs at least one step", node)
        steps = []
        for item in node.value:
            if not isinstance(item, MappingNode) or len(item.value) != 1:
                raise self.error("each step is a map with exactly one key, the step name", item)
            ((name, key, body),) = pairs(item)
            if name in self.step_lines:
                raise self.error(
                    f"step name '{name}' is already used on line {self.step_lines[name]} "
                    "(step names are unique within a workflow or subworkflow)",
                    key,
                )
            self.step_lines[name] = line_of(key)
            if not isinstance(body, MappingNode):
                raise self.error(f"step '{name}' must be a map", body)
            steps.append(self.step(name, line_of(key), body))
        return tuple(steps)

    def step(self, name: str, line: int, body: MappingNode, *, synthetic: bool = False) -> Step:
        fields = {k: (key, v) for k, key, v in pairs(body)}
        if len(fields) != len(body.value):
            raise self.error(f"step '{name}' repeats a key", line)
        for k, (key, _) in fields.items():
            if k in UNSUPPORTED:
                raise self.error(f"{UNSUPPORTED[k]} (step '{name}')", key)
        actions = [k for k in fields if k in ACTIONS]
        if len(actions) > 1:
            raise self.error(f"step '{name}' has more than one action: {', '.join(actions)}", line)
        action = actions[0] if actions else None
        allowed = {"next"} | ({action} | ACTIONS[action] if action else set())
        for k, (key, _) in fields.items():
            if k not in allowed:
                raise self.error(f"unknown key '{k}' in step '{name}'", key)
        if action in NO_NEXT and "next" in fields:
            raise self.error(f"step '{name}': 'next' cannot follow '{action}'", fields["next"][0])
        if action is None and "next" not in fields:
            raise self.error(f"step '{name}' has no action", line)
        next_target, next_line = None, 0
        if "next" in fields:
            next_node = fields["next"][1]
            next_target, next_line = self.scalar(next_node, "next"), line_of(next_node)
        built = self.action(name, action, {k: v for k, (_, v) in fields.items()}) if action else Jump()
        return Step(name, line, built, next_target, next_line, synthetic)

    def action(self, step: str, kind: str, fields: dict[str, Node]) -> Action:
        node = fields[kind]
        if kind == "assign":
            return self.assign(step, node)
        if kind == "call":
            return self.call(step, node, fields.get("args"), fields.get("result"))
        if kind == "switch":
            return self.switch(step, node)
        if kind == "for":
            return self.for_loop(step, node)
        if kind == "parallel":
            return load_parallel(self, step, node)
        if kind == "try":
            return self.try_step(step, node, fields.get("retry"), fields.get("except"))
        if kind == "steps":
            return Block(self.steps(node))
        self.check_expressions(node)
        return Raise(self.value(node)) if kind == "raise" else Return(self.value(node))

    def assign(self, step: str, node: Node) -> Assign:
        if not isinstance(node, SequenceNode) or not node.value:
            raise self.error(f"'assign' of step '{step}' must be a non-empty list of 'name: value'", node)
        if len(node.value) > MAX_ASSIGNMENTS:
            raise self.error(f"step '{step}' has more than {MAX_ASSIGNMENTS} assignments", node)
        items = []
        for item in node.value:
            if not isinstance(item, MappingNode) or len(item.value) != 1:
                raise self.error("each assignment is a map with exactly one 'target: value'", item)
            ((target, key, value),) = pairs(item)
            variable, path = self.assignment_target(target, key)
            self.check_expressions(value)
            self.scope.assigned(variable, line_of(key), step)
            items.append(AssignItem(variable, path, self.value(value), line_of(key), target))
        return Assign(tuple(items))

    def call(self, step: str, node: Node, args: Node | None, result: Node | None) -> Call:
        function = self.scalar(node, "call")
        if result is not None and not IDENTIFIER.fullmatch(self.scalar(result, "result")):
            raise self.error(f"invalid result variable name '{result.value}'", result)
        if args is not None:
            self.check_expressions(args)
        check_call_args(self, function, self.call_target(function), args, node)
        value = self.value(args) if args is not None else None
        if result is not None:
            self.scope.assigned(str(result.value), line_of(result), step)
        return Call(function, value, self.scalar(result, "result") if result is not None else None)

    def call_target(self, function: str) -> Target:
        """What ``function`` names, in the order the executor resolves it."""
        if function in BUILTIN_ARGS:
            return "builtin"
        if function in self.subworkflow_names:
            return "subworkflow"
        if function in self.connectors:
            return "connector"
        return "function" if function in self.functions else "unknown"

    def switch(self, step: str, node: Node) -> Switch:
        if not isinstance(node, SequenceNode) or not node.value:
            raise self.error(f"'switch' of step '{step}' must be a non-empty list of conditions", node)
        if len(node.value) > MAX_CONDITIONS:
            raise self.error(f"step '{step}' has more than {MAX_CONDITIONS} conditions", node)
        conditions = []
        for item in node.value:
            if not isinstance(item, MappingNode):
                raise self.error("each switch entry is a map with 'condition'", item)
            fields = {k: (key, v) for k, key, v in pairs(item)}
            if "condition" not in fields:
                raise self.error("a switch entry needs a 'condition'", item)
            for k, (key, _) in fields.items():
                if k not in CONDITION_ACTIONS | {"condition", "next", "args", "result"}:
                    raise self.error(f"unknown key '{k}' in a condition of step '{step}'", key)
            condition = fields.pop("condition")[1]
            self.check_expressions(condition)
            body = MappingNode(item.tag, [(k, v) for k, v in item.value if k.value != "condition"])
            body.start_mark = item.start_mark
            inline = self.step(step, line_of(item), body, synthetic=True) if body.value else None
            action = inline.action if inline else None
            conditions.append(
                Condition(
                    self.value(condition),
                    line_of(condition),
                    None if isinstance(action, Jump) else action,
                    inline.next if inline else None,
                    inline.next_line if inline else 0,
                )
            )
        return Switch(tuple(conditions))

    def for_loop(self, step: str, node: Node) -> For:
        if not isinstance(node, MappingNode):
            raise self.error(f"'for' of step '{step}' must be a map", node)
        fields = {k: (key, v) for k, key, v in pairs(node)}
        for k, (key, _) in fields.items():
            if k not in ("value", "index", "in", "range", "steps"):
                raise self.error(f"unknown key '{k}' in the for loop of step '{step}'", key)
        for required in ("value", "steps"):
            if required not in fields:
                raise self.error(f"the for loop of step '{step}' needs '{required}'", node)
        if ("in" in fields) == ("range" in fields):
            raise self.error(f"the for loop of step '{step}' needs exactly one of 'in' and 'range'", node)
        value = self.variable(fields["value"][1], "value")
        index = self.variable(fields["index"][1], "index") if "index" in fields else None
        bounds: Any = None
        items = None
        if "range" in fields:
            bounds = self.range_bounds(step, fields["range"][1])
        else:
            self.check_expressions(fields["in"][1])
            items = self.value(fields["in"][1])
        with self.scope.local():  # the loop's own variables are gone after it
            for name in (value, index):
                if name:
                    self.scope.defined(name)
            steps = self.steps(fields["steps"][1])
        return For(value, index, items, bounds, steps)

    def range_bounds(self, step: str, node: Node) -> Any:
        """``[start, end]`` with two number literals, or one expression ``${[start, end]}``.

        These are the two forms of Google's schema (``for.range``) and reference; the schema's note
        warns against ``[${start}, ${end}]``, a list of expressions, so that form is refused.
        """
        if isinstance(node, SequenceNode) and len(node.value) == 2:
            for bound in node.value:
                if isinstance(bound, ScalarNode) and is_expression(bound.value):
                    raise self.error(
                        f"'range' of step '{step}' puts expressions inside a list: write the whole range as "
                        "one expression, ${[start, end]}",
                        bound,
                    )
                if not (isinstance(bound, ScalarNode) and bound.tag in (_INT_TAG, _FLOAT_TAG)):
                    raise self.error(f"'range' bounds of step '{step}' must be numbers", bound)
            return self.value(node)
        if isinstance(node, ScalarNode) and node.tag == _STR_TAG and is_expression(node.value):
            self.parse(node.value, line_of(node))
            parsed = parse_expression(node.value[2:-1])
            if isinstance(parsed, ListLit) and len(parsed.items) == 2:
                return node.value
        raise self.error(
            f"'range' of step '{step}' is [start, end] with two numbers, or one expression ${{[start, end]}} "
            "(both ends inclusive)",
            node,
        )

    def try_step(self, step: str, node: Node, retry: Node | None, except_: Node | None) -> Try:
        if not isinstance(node, MappingNode):
            raise self.error(f"'try' of step '{step}' must be a step body (a call, steps, ...)", node)
        inline = self.step(step, line_of(node), node, synthetic=True)
        body = inline.action.steps if isinstance(inline.action, Block) and inline.next is None else (inline,)
        return Try(
            body,
            self.retry(retry) if retry is not None else None,
            self.except_block(step, except_) if except_ is not None else None,
        )

    def retry(self, node: Node) -> Retry:
        if isinstance(node, ScalarNode):
            policy = self.named_expression(node)
            if policy not in DEFAULT_POLICIES:
                raise self.error(
                    f"unsupported retry policy '{node.value}' (use ${{http.default_retry}}, "
                    "${http.default_retry_non_idempotent}, or predicate/max_retries/backoff)",
                    node,
                )
            return Retry(DEFAULT_POLICIES[policy], DEFAULT_MAX_RETRIES, DEFAULT_BACKOFF, line_of(node))
        if not isinstance(node, MappingNode):
            raise self.error("'retry' is a policy expression or a map", node)
        fields = self.fields(node, "retry", ("predicate", "max_retries", "backoff"))
        predicate = self.named_expression(fields["predicate"])
        if predicate not in STANDARD_PREDICATES and predicate not in self.subworkflow_names:
            raise self.error(f"unknown retry predicate '{predicate}'", fields["predicate"])
        backoff = self.fields(fields["backoff"], "backoff", ("initial_delay", "max_delay", "multiplier"))
        for value in (fields["max_retries"], *backoff.values()):
            self.check_expressions(value)
        return Retry(
            predicate,
            self.value(fields["max_retries"]),
            Backoff(*(self.value(backoff[k]) for k in ("initial_delay", "max_delay", "multiplier"))),
            line_of(node),
        )

    def except_block(self, step: str, node: Node) -> Except:
        if not isinstance(node, MappingNode):
            raise self.error(f"'except' of step '{step}' must be a map with 'as' and 'steps'", node)
        fields = {k: (key, v) for k, key, v in pairs(node)}
        for k, (key, _) in fields.items():
            if k not in ("as", "steps"):
                raise self.error(f"unknown key '{k}' in the except block of step '{step}'", key)
        name = self.variable(fields["as"][1], "as") if "as" in fields else None
        with self.scope.local():  # the error variable, and what the block creates, are gone after it
            if name:
                self.scope.defined(name)
            steps = self.steps(fields["steps"][1]) if "steps" in fields else ()
        return Except(name, steps)

    # --- helpers -----------------------------------------------------------------------------------
