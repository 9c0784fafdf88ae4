"""Evaluation of Workflows expressions (``${...}``), following Google's Workflows reference.

Public API, used by the step executor:

* ``is_expression(value)``: a string that starts with ``${`` and ends with ``}`` is an expression, as in
  Workflows. Text around an expression is *not* interpolated: ``"id-${x}"`` is a plain string.
* ``parse_expression(text)``: parse the text inside ``${...}`` (cached; syntax trees are immutable).
* ``evaluate(value, scope)``: evaluate a YAML value recursively: expression strings are evaluated, lists
  and maps element by element (map keys may be expressions too, per Google's "Maps" page), anything else
  is returned as it is.
* ``Scope``: what the executor provides: variable lookup and calls of user-defined subworkflows.

Semantics worth knowing (Google's "Data types, functions, operators" page): ``+`` with a string on
either side concatenates the other operand's text (``"n=" + 1`` is ``"n=1"``); ``/`` always yields a
double; ``and``/``or``/``not`` take booleans only and short-circuit; unknown names, keys and variables
raise ``KeyError``; a bad list index ``IndexError``; wrong operand types ``TypeError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Protocol

from orchestration.engine import expression_parser as ast
from orchestration.engine.errors import (
    WorkflowError,
    index_error,
    key_error,
    type_error,
    zero_division_error,
)
from orchestration.engine.expression_parser import Expr
from orchestration.engine.stdlib import FUNCTIONS, REFERENCE_NAMES
from orchestration.engine.values import (
    FunctionRef,
    check_double,
    check_int64,
    equal,
    is_int,
    is_number,
    to_string,
    type_name,
)

__all__ = ["Expr", "FunctionRef", "Scope", "evaluate", "function_names", "is_expression", "parse_expression"]


class Scope(Protocol):
    """The executor's side of evaluation: variables and user-defined subworkflows."""

    def lookup(self, name: str) -> Any:
        """The value of variable ``name``; raise ``key_error`` when it is not defined."""
        ...

    def call(self, name: str, args: list[Any]) -> Any:
        """Run subworkflow ``name`` with positional ``args`` (Workflows allows this inside expressions)."""
        ...


def is_expression(value: object) -> bool:
    """True for a string that is one Workflows expression: starts with ``${`` and ends with ``}``."""
    return isinstance(value, str) and len(value) >= 3 and value.startswith("${") and value.endswith("}")


@lru_cache(maxsize=4096)
def parse_expression(text: str) -> Expr:
    """Parse the text inside ``${...}``; raises ``WorkflowSyntaxError`` that names the column."""
    return ast.parse(text)


def function_names(expr: Expr) -> set[str]:
    """Every function or subworkflow name an expression calls, for load-time validation."""
    found: set[str] = set()
    stack: list[Any] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            found.add(node.name)
            stack.extend(node.args)
        elif isinstance(node, ast.Attr):
            stack.append(node.target)
        elif isinstance(node, ast.Unary):
            stack.append(node.operand)
        elif isinstance(node, ast.Index):
            stack.extend((node.target, node.index))
        elif isinstance(node, ast.Binary):
            stack.extend((node.left, node.right))
        elif isinstance(node, ast.ListLit):
            stack.extend(node.items)
        elif isinstance(node, ast.MapLit):
            stack.extend(part for entry in node.entries for part in entry)
    return found


def evaluate(value: Any, scope: Scope, *, functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """Evaluate a YAML value: expressions are computed, lists and maps recursively, the rest as is.

    ``functions`` is the standard library to use (``stdlib.make_functions(env, clock)``, so the engine can
    inject deploy-time environment variables and its clock); it defaults to ``stdlib.FUNCTIONS``.
    """
    evaluator = _Evaluator(scope, FUNCTIONS if functions is None else functions)
    return evaluator.value(value)


class _Evaluator:
    def __init__(self, scope: Scope, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.scope = scope
        self.functions = functions

    def value(self, value: Any) -> Any:
        """Evaluate one YAML value recursively."""
        if is_expression(value):
            return self.eval(parse_expression(value[2:-1]))
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            result: dict[Any, Any] = {}
            for key, item in value.items():
                # Only expression keys are computed (Google's "Maps" page: {"${dynamicKey}": ...});
                # other keys are kept exactly as the YAML loader produced them.
                new_key = key
                if is_expression(key):
                    new_key = self.value(key)
                    if not isinstance(new_key, str):
                        raise type_error(f"map keys must be strings, got {type_name(new_key)}")
                result[new_key] = self.value(item)
            return result
        return value

    def eval(self, node: Expr) -> Any:
        match node:
            case ast.Literal(value):
                return value
            case ast.Name(name):
                return self.scope.lookup(name)
            case ast.Attr(target, name):
                return self.attr(node, target, name)
            case ast.Index(target, index):
                return subscript(self.eval(target), self.eval(index))
            case ast.Call(name, args):
                values = [self.eval(arg) for arg in args]
                function = self.functions.get(name)
                return function(*values) if function is not None else self.scope.call(name, values)
            case ast.Unary(op, operand):
                return unary(op, self.eval(operand))
            case ast.Binary("and" | "or" as op, left, right):
                return self.logical(op, left, right)
            case ast.Binary(op, left, right):
                return binary(op, self.eval(left), self.eval(right))
            case ast.ListLit(items):
                return [self.eval(item) for item in items]
            case ast.MapLit(entries):
                return self.map_literal(entries)
        raise AssertionError(f"unknown syntax node {node!r}")  # pragma: no cover

    def attr(self, node: ast.Attr, target: Expr, name: str) -> Any:
        try:
            container = self.eval(target)
        except WorkflowError as error:
            # ``${http.default_retry_predicate}`` names a library function without calling it; it is
            # only a reference when no variable called ``http`` exists.
            dotted = _dotted(node)
            if "KeyError" in error.tags and dotted in REFERENCE_NAMES | self.functions.keys():
                return FunctionRef(dotted)
            raise
        if not isinstance(container, dict):
            raise type_error(f"cannot read key {name!r} of a {type_name(container)}")
        if name not in container:
            raise key_error(f"key not found: {name}")
        return container[name]

    def logical(self, op: str, left_node: Expr, right_node: Expr) -> bool:
        left = self.eval(left_node)
        if not isinstance(left, bool):
            raise type_error(f"operand of {op} must be a boolean, got {type_name(left)}")
        if left is (op == "or"):  # short-circuit: true or ..., false and ...
            return left
        right = self.eval(right_node)
        if not isinstance(right, bool):
            raise type_error(f"operand of {op} must be a boolean, got {type_name(right)}")
        return right

    def map_literal(self, entries: tuple[tuple[Expr, Expr], ...]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in entries:
            key = self.eval(key_node)
            if not isinstance(key, str):
                raise type_error(f"map keys must be strings, got {type_name(key)}")
            result[key] = self.eval(value_node)
        return result


def _dotted(node: Expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attr):
        parts.append(node.name)
        node = node.target
    return ".".join([node.name, *reversed(parts)]) if isinstance(node, ast.Name) else None


def subscript(container: Any, index: Any) -> Any:
    """``container[index]``: a map key (string) or a list position (non-negative integer)."""
    if isinstance(container, dict):
        if not isinstance(index, str):
            raise type_error(f"map key must be a string, got {type_name(index)}")
        if index not in container:
            raise key_error(f"key not found: {index}")
        return container[index]
    if isinstance(container, list):
        if not is_int(index):
            raise type_error(f"list index must be an integer, got {type_name(index)}")
        # Negative subscripts are not counted from the end: Workflows indexes lists from 0 only.
        if not 0 <= index < len(container):
            raise index_error(f"list index {index} out of range (list has {len(container)} elements)")
        return container[index]
    raise type_error(f"cannot subscript a {type_name(container)}")


def unary(op: str, operand: Any) -> Any:
    if op == "not":
        if not isinstance(operand, bool):
            raise type_error(f"operand of not must be a boolean, got {type_name(operand)}")
        return not operand
    if is_int(operand):
        return check_int64(-operand)
    if isinstance(operand, float):
        return -operand
    raise type_error(f"bad operand type for unary -: {type_name(operand)}")


def binary(op: str, left: Any, right: Any) -> Any:
    """Non-logical binary operators on already evaluated operands."""
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    if op == "in":
        return membership(left, right)
    if op in ("<", "<=", ">", ">="):
        return compare(op, left, right)
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        # Google's "+ operator" table: a string on either side gives a string, whatever the other type
        # (integer, double or boolean); only null, lists, maps and bytes are refused.
        return to_string(left) + to_string(right)
    if not (is_number(left) and is_number(right)):
        raise type_error(f"unsupported operand types for {op}: {type_name(left)} and {type_name(right)}")
    return arithmetic(op, left, right)


def arithmetic(op: str, left: int | float, right: int | float) -> int | float:
    both_int = is_int(left) and is_int(right)
    if op in ("/", "//", "%") and right == 0:
        raise zero_division_error(f"division by zero in {op}")
    if op == "/":  # Google: "/: float division", whatever the operand types
        return check_double(left / right, left, right)
    result: int | float
    if op == "+":
        result = left + right
    elif op == "-":
        result = left - right
    elif op == "*":
        result = left * right
    elif op == "//":
        result = left // right if both_int else float(math.floor(left / right))
    else:  # "%": the remainder that goes with floor division, so a == (a // b) * b + a % b
        result = left % right
    if both_int:
        return check_int64(int(result))
    return check_double(float(result), left, right)


def compare(op: str, left: Any, right: Any) -> bool:
    comparable = (is_number(left) and is_number(right)) or (isinstance(left, str) and isinstance(right, str))
    if not comparable:
        raise type_error(f"cannot compare {type_name(left)} and {type_name(right)} with {op}")
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def membership(item: Any, container: Any) -> bool:
    """Google's ``in``: "checks whether a given key is present in a list or map"."""
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    if isinstance(container, list):
        return any(equal(item, element) for element in container)
    raise type_error(f"right operand of in must be a list or a map, got {type_name(container)}")
