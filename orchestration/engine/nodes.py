"""Reading the composed YAML of a workflow file: values, names and expressions, each with its line.

The loader works on ``yaml.compose`` nodes, not loaded data, because a node knows its line: every
problem becomes a ``WorkflowSyntaxError`` that names the file and the line.
"""

from __future__ import annotations

import re
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from orchestration.engine.errors import WorkflowSyntaxError
from orchestration.engine.expressions import function_names, is_expression, parse_expression
from orchestration.engine.model import Attr, Index

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class _ValueConstructor(SafeConstructor):
    """Plain JSON-like values; a date-like scalar stays a string (Workflows has no date type)."""


def _timestamp_as_text(constructor: _ValueConstructor, node: Node) -> str:
    return str(node.value)


# A class-level table of its own (what ``add_constructor`` would do, which the stubs type for loaders only).
_ValueConstructor.yaml_constructors = {
    **SafeConstructor.yaml_constructors,
    "tag:yaml.org,2002:timestamp": _timestamp_as_text,
}


def _string_keys(value: Any) -> Any:
    """Workflows map keys are strings: YAML's ``1: 10`` is the key ``"1"``."""
    if isinstance(value, dict):
        return {_key_text(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(item) for item in value]
    return value


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def pairs(node: MappingNode) -> list[tuple[str, Node, Node]]:
    """A mapping's ``(key, key_node, value_node)``; keys are scalars in every construct we accept."""
    return [(str(key.value), key, value) for key, value in node.value]


class NodeReader:
    """Typed access to YAML nodes of one file, raising errors that point at the node's line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.function_calls: list[tuple[str, int]] = []  # (name, line) of calls inside expressions

    def error(self, message: str, node: Node | int) -> WorkflowSyntaxError:
        return WorkflowSyntaxError(
            message, file=self.file, line=node if isinstance(node, int) else line_of(node)
        )

    def assignment_target(self, text: str, node: Node) -> tuple[str, tuple[Attr | Index, ...]]:
        """``name``, ``name.key``, ``name[expr]`` and chains of them, as the reference allows."""
        match = IDENTIFIER.match(text)
        if not match:
            raise self.error(f"invalid assignment target '{text}'", node)
        path: list[Attr | Index] = []
        pos = match.end()
        while pos < len(text):
            if text[pos] == ".":
                attr = IDENTIFIER.match(text, pos + 1)
                if not attr:
                    raise self.error(f"invalid assignment target '{text}'", node)
                path.append(Attr(attr.group()))
                pos = attr.end()
            elif text[pos] == "[":
                end = _closing_bracket(text, pos)
                if end is None or not text[pos + 1 : end].strip():
                    raise self.error(f"invalid assignment target '{text}'", node)
                expression = "${" + text[pos + 1 : end] + "}"
                self.parse(expression, line_of(node))
                path.append(Index(expression))
                pos = end + 1
            else:
                raise self.error(f"invalid assignment target '{text}'", node)
        return match.group(), tuple(path)

    def fields(self, node: Node, what: str, names: tuple[str, ...]) -> dict[str, Node]:
        """A map that must have exactly the keys ``names``."""
        if not isinstance(node, MappingNode):
            raise self.error(f"'{what}' must be a map with {', '.join(names)}", node)
        found = {}
        for k, key, value in pairs(node):
            if k not in names:
                raise self.error(f"unknown key '{k}' in '{what}' (expected {', '.join(names)})", key)
            found[k] = value
        missing = [n for n in names if n not in found]
        if missing:
            raise self.error(f"'{what}' needs {', '.join(missing)}", node)
        return found

    def scalar(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or not isinstance(node.value, str) or not node.value:
            raise self.error(f"'{what}' must be a name", node)
        return str(node.value)

    def variable(self, node: Node, what: str) -> str:
        name = self.scalar(node, what)
        if not IDENTIFIER.fullmatch(name):
            raise self.error(f"invalid variable name '{name}' in '{what}'", node)
        return name

    def named_expression(self, node: Node) -> str:
        """The dotted name inside ``${...}`` (a policy, a predicate): not evaluated, looked up."""
        text = str(node.value) if isinstance(node, ScalarNode) else ""
        inner = text[2:-1].strip() if text.startswith("${") and text.endswith("}") else ""
        if not DOTTED_NAME.fullmatch(inner):
            raise self.error(f"expected an expression naming a policy or predicate, got '{text}'", node)
        return inner

    def value(self, node: Node) -> Any:
        return _string_keys(_ValueConstructor().construct_document(node))

    def parse(self, text: str, line: int) -> None:
        """Parse ``${...}`` text; the parser's message names the column inside the braces."""
        try:
            expression = parse_expression(text[2:-1])
        except WorkflowSyntaxError as exc:
            raise self.error(exc.message, line) from exc
        self.function_calls.extend((name, line) for name in sorted(function_names(expression)))

    def check_expressions(self, node: Node) -> None:
        """Parse every ``${...}`` string (keys included) under ``node``."""
        if isinstance(node, ScalarNode):
            if (
                isinstance(node.value, str)
                and node.tag == "tag:yaml.org,2002:str"
                and is_expression(node.value)
            ):
                self.parse(node.value, line_of(node))
        elif isinstance(node, SequenceNode):
            for item in node.value:
                self.check_expressions(item)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                self.check_expressions(key)
                self.check_expressions(value)


def _closing_bracket(text: str, start: int) -> int | None:
    """The index of the ``]`` matching ``text[start] == "["``, skipping quoted strings."""
    depth, quote, pos = 0, "", start
    while pos < len(text):
        char = text[pos]
        if quote:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    return None
