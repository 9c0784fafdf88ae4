"""Loading ``parallel`` steps, and which variables their branches and iterations may assign.

The form, from Google's "Parallel steps" reference and its JSON schema (``jsonschema/workflows.json`` in
GoogleCloudPlatform/workflows-samples, ``definitions.parallel``): a map of ``exception_policy``
(only ``continueAll``), ``shared`` (a list of distinct variable names), ``concurrency_limit`` (a positive
integer, literal or expression) and exactly one of ``branches`` (2 to 10 named steps, each with only
``steps``) and ``for`` (a ``for`` loop whose iterations run concurrently).

Variables, from the reference and its sample ``parallel_shared_variables``: a branch reads the
enclosing scope; what it assigns is its own, gone when the step ends, except the ``shared`` variables,
which must already exist in the enclosing scope. Assigning a variable of the enclosing scope that is
not shared is a deployment error there, and a load-time error here. "Already exists" is judged in
document order, the way ``VariableScope`` reads the file: the (sub)workflow's parameters and every
variable assigned above the parallel step, less the ones local to a loop or ``except`` block above it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from orchestration.engine.errors import WorkflowSyntaxError
from orchestration.engine.expressions import is_expression
from orchestration.engine.model import CONTINUE_ALL, Block, For, Parallel, Step
from orchestration.engine.nodes import IDENTIFIER, line_of, pairs
from orchestration.engine.parallel import MAX_BRANCHES, MIN_BRANCHES

PARALLEL_KEYS = ("exception_policy", "shared", "concurrency_limit", "branches", "for")
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"

ErrorAt = Callable[[str, Node | int], WorkflowSyntaxError]


@dataclass(frozen=True)
class _Open:
    """A parallel step being loaded: its name, the variables of its enclosing scope, its shared ones."""

    step: str
    outer: frozenset[str]
    shared: frozenset[str]


class VariableScope:
    """The variables a (sub)workflow has assigned so far while it is read top to bottom, and the parallel
    steps being read, to refuse a branch's assignment to an enclosing variable it does not share."""

    def __init__(self, error: ErrorAt) -> None:
        self.error = error
        self.known: set[str] = set()
        self.open: list[_Open] = []

    def start(self, params: list[str]) -> None:
        """A new (sub)workflow: only its parameters exist."""
        self.known, self.open = set(params), []

    def defined(self, name: str) -> None:
        """A variable of a new scope (a loop's ``value``/``index``, an ``except`` block's ``as``)."""
        self.known.add(name)

    def assigned(self, name: str, line: int, step: str) -> None:
        """``step`` assigns ``name`` (``assign`` or a call's ``result``)."""
        self._writable(name, line, step)
        self.known.add(name)

    @contextmanager
    def local(self) -> Iterator[None]:
        """A loop body or ``except`` block: the variables it creates are gone after it."""
        before = set(self.known)
        try:
            yield
        finally:
            self.known = before

    @contextmanager
    def parallel(self, step: str, shared: list[tuple[str, int]]) -> Iterator[None]:
        """The branches or iterations of parallel step ``step`` that shares ``(name, line)`` pairs."""
        for name, line in shared:
            if name not in self.known:
                raise self.error(
                    f"shared variable '{name}' of parallel step '{step}' is not assigned above it: a "
                    "shared variable belongs to the enclosing scope, so assign it before the step",
                    line,
                )
            self._writable(name, line, step)  # a nested parallel step shares through its own branch
        self.open.append(_Open(step, frozenset(self.known), frozenset(name for name, _ in shared)))
        try:
            with self.local():
                yield
        finally:
            self.open.pop()

    def _writable(self, name: str, line: int, step: str) -> None:
        for parallel in reversed(self.open):
            if name not in parallel.outer:
                return  # the branch's own variable
            if name not in parallel.shared:
                raise self.error(
                    f"step '{step}' assigns '{name}' inside parallel step '{parallel.step}', but '{name}' "
                    f"belongs to the enclosing scope and is not in the step's 'shared' list (Google "
                    "refuses to deploy this)",
                    line,
                )


class StepLoader(Protocol):
    """What loading a parallel step needs from the loader."""

    scope: VariableScope
    step_lines: dict[str, int]

    def error(self, message: str, node: Node | int) -> WorkflowSyntaxError: ...

    def parse(self, text: str, line: int) -> None: ...

    def value(self, node: Node) -> Any: ...

    def steps(self, node: Node) -> tuple[Step, ...]: ...

    def for_loop(self, step: str, node: Node) -> For: ...


def load_parallel(loader: StepLoader, step: str, node: Node) -> Parallel:
    if not isinstance(node, MappingNode):
        raise loader.error(f"'parallel' of step '{step}' must be a map", node)
    fields: dict[str, Node] = {}
    for k, key, value in pairs(node):
        if k not in PARALLEL_KEYS:
            raise loader.error(
                f"unknown key '{k}' in parallel step '{step}' (expected {', '.join(PARALLEL_KEYS)})", key
            )
        fields[k] = value
    if ("branches" in fields) == ("for" in fields):
        raise loader.error(f"parallel step '{step}' needs exactly one of 'branches' and 'for'", node)
    if "exception_policy" in fields:
        _policy(loader, step, fields["exception_policy"])
    shared = _shared(loader, step, fields["shared"]) if "shared" in fields else []
    limit = _limit(loader, step, fields["concurrency_limit"]) if "concurrency_limit" in fields else None
    with loader.scope.parallel(step, shared):
        branches = _branches(loader, step, fields["branches"]) if "branches" in fields else None
        loop = loader.for_loop(step, fields["for"]) if "for" in fields else None
    return Parallel(tuple(name for name, _ in shared), limit, branches, loop)


def _policy(loader: StepLoader, step: str, node: Node) -> None:
    if not (isinstance(node, ScalarNode) and node.value == CONTINUE_ALL):
        raise loader.error(
            f"exception_policy of parallel step '{step}' must be {CONTINUE_ALL}: it is the only policy "
            "Google supports, and the default",
            node,
        )


def _shared(loader: StepLoader, step: str, node: Node) -> list[tuple[str, int]]:
    if not isinstance(node, SequenceNode):
        raise loader.error(f"'shared' of parallel step '{step}' must be a list of variable names", node)
    names: list[tuple[str, int]] = []
    for item in node.value:
        name = str(item.value) if isinstance(item, ScalarNode) else ""
        if not IDENTIFIER.fullmatch(name):
            raise loader.error(f"'shared' of parallel step '{step}' lists an invalid variable name", item)
        if name in {seen for seen, _ in names}:
            raise loader.error(f"'shared' of parallel step '{step}' lists '{name}' twice", item)
        names.append((name, line_of(item)))
    return names


def _limit(loader: StepLoader, step: str, node: Node) -> Any:
    """A positive integer literal, or one expression that must evaluate to one."""
    if isinstance(node, ScalarNode) and node.tag == _INT_TAG and loader.value(node) >= 1:
        return loader.value(node)
    if isinstance(node, ScalarNode) and node.tag == _STR_TAG and is_expression(node.value):
        loader.parse(node.value, line_of(node))
        return str(node.value)
    raise loader.error(
        f"concurrency_limit of parallel step '{step}' must be a positive integer or an expression", node
    )


def _branches(loader: StepLoader, step: str, node: Node) -> tuple[Step, ...]:
    if not isinstance(node, SequenceNode) or not MIN_BRANCHES <= len(node.value) <= MAX_BRANCHES:
        count = f", got {len(node.value)}" if isinstance(node, SequenceNode) else ""
        raise loader.error(
            f"'branches' of parallel step '{step}' must be a list of {MIN_BRANCHES} to {MAX_BRANCHES} "
            f"branches (Google's limits){count}",
            node,
        )
    branches = []
    for item in node.value:
        if not isinstance(item, MappingNode) or len(item.value) != 1:
            raise loader.error("each branch is a map with exactly one key, the branch name", item)
        ((name, key, body),) = pairs(item)
        if name in loader.step_lines:
            raise loader.error(
                f"branch name '{name}' is already used on line {loader.step_lines[name]} "
                "(branch and step names are unique within a workflow or subworkflow)",
                key,
            )
        loader.step_lines[name] = line_of(key)
        fields = pairs(body) if isinstance(body, MappingNode) else []
        extra = next((k_node for k, k_node, _ in fields if k != "steps"), None)
        if extra is not None or len(fields) != 1:
            raise loader.error(
                f"branch '{name}' of parallel step '{step}' must be a map with only 'steps'", extra or body
            )
        with loader.scope.local():  # what one branch creates, its siblings do not see
            steps = loader.steps(fields[0][2])
        branches.append(Step(name, line_of(key), Block(steps)))
    return tuple(branches)
