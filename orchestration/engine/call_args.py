"""Load-time checks of a ``call`` step's ``args``, as Google's Workflows JSON schema and reference type them.

Sources: the schema ``jsonschema/workflows.json`` of GoogleCloudPlatform/workflows-samples (which its
README says SchemaStore hosts for ``*.workflows.yaml``), the stdlib reference pages, and the connectors
reference ("Invoke a connector call"). What they say, and what this module therefore refuses with the
line:

- ``args`` is a map (schema: ``"args": {"type": "object"}``). The one documented exception is
  ``sys.log``, whose reference shows ``args: [${myVar}, "ERROR"]`` (positional, in its table's order).
  A list or an expression anywhere else is refused.
- A standard-library function takes the argument names of its reference page (``signatures``); a
  built-in (``sys.log``, ``sys.sleep``, ``http.*``) those of ``calls.BUILTIN_ARGS``. Expression helpers
  (``len``, ``default``, ...) are documented for expressions only and are refused as call targets.
- ``connector_params`` (connectors reference; schema ``args.connector_params``): ``timeout`` an
  integer literal of at most 31536000 seconds, ``polling_policy`` a map of ``initial_delay``,
  ``multiplier`` and ``max_delay`` numbers, ``skip_polling`` a boolean, ``scopes`` a string or a list.
  The schema types these as literals, so an expression there is refused.
"""

from __future__ import annotations

from typing import Literal

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from orchestration.engine.calls import BUILTIN_ARGS, POSITIONAL_OK
from orchestration.engine.nodes import NodeReader, pairs
from orchestration.engine.signatures import PARAMETERS, argument_problem

Target = Literal["builtin", "subworkflow", "connector", "function", "unknown"]

MAX_CONNECTOR_TIMEOUT = 31_536_000  # one year: the connectors reference's maximum for long operations
POLLING_POLICY = ("initial_delay", "multiplier", "max_delay")
CONNECTOR_PARAMS = ("timeout", "polling_policy", "skip_polling", "scopes")

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_STR = "tag:yaml.org,2002:str"


def check_call_args(reader: NodeReader, function: str, target: Target, args: Node | None, call: Node) -> None:
    """Refuse ``args`` that Google's schema or the target's reference page would refuse.

    ``call`` is the ``call:`` value's node, for errors about arguments that are missing altogether.
    An unknown target is left to the whole-workflow checks, which name it.
    """
    if target == "unknown":
        return
    if target == "function" and function not in PARAMETERS:
        raise reader.error(
            f"'{function}' is an expression helper: use it inside an expression (${{{function}(...)}}), "
            "not as a call target",
            call,
        )
    if args is None:
        _check_names(reader, function, target, set(), call)
        return
    if isinstance(args, SequenceNode) and function in POSITIONAL_OK:
        names = BUILTIN_ARGS[function][0]
        if len(args.value) > len(names):
            raise reader.error(f"{function} takes at most {len(names)} arguments", args)
        return
    if not isinstance(args, MappingNode):
        listed = " (or, for sys.log only, a list)" if function in POSITIONAL_OK else ""
        raise reader.error(
            f"args of '{function}' must be a map of named arguments{listed}: Google's schema types a "
            "call's args as a map",
            args,
        )
    for name, key, _ in pairs(args):
        if target in ("builtin", "function") and name not in _names(function, target):
            raise reader.error(_unknown(function, target, name), key)
    _check_names(reader, function, target, {name for name, _, _ in pairs(args)}, args)
    if target == "connector":
        params = next((value for name, _, value in pairs(args) if name == "connector_params"), None)
        if params is not None:
            check_connector_params(reader, params)


def check_connector_params(reader: NodeReader, node: Node) -> None:
    """``connector_params`` as the connectors reference and the schema type it: literals, not expressions."""
    if not isinstance(node, MappingNode):
        raise reader.error("connector_params must be a map", node)
    for name, key, value in pairs(node):
        if name == "timeout":
            _integer_literal(reader, value, "connector_params.timeout", 1, MAX_CONNECTOR_TIMEOUT)
        elif name == "polling_policy":
            if not isinstance(value, MappingNode):
                raise reader.error("connector_params.polling_policy must be a map", value)
            for field, field_key, number in pairs(value):
                if field not in POLLING_POLICY:
                    raise reader.error(
                        f"unknown key '{field}' in connector_params.polling_policy "
                        f"(expected {', '.join(POLLING_POLICY)})",
                        field_key,
                    )
                _number_literal(reader, number, f"connector_params.polling_policy.{field}")
        elif name == "skip_polling":
            if not (isinstance(value, ScalarNode) and value.tag == _BOOL):
                raise reader.error("connector_params.skip_polling must be a boolean literal", value)
        elif name == "scopes":
            if not (_is_string(value) or isinstance(value, SequenceNode)):
                raise reader.error("connector_params.scopes must be a string or a list of strings", value)
        else:
            raise reader.error(
                f"unknown key '{name}' in connector_params (expected {', '.join(CONNECTOR_PARAMS)})", key
            )


def _names(function: str, target: Target) -> tuple[str, ...]:
    return BUILTIN_ARGS[function][0] if target == "builtin" else PARAMETERS[function][0]


def _unknown(function: str, target: Target, name: str) -> str:
    if target == "builtin":
        return f"unknown argument '{name}' for {function}"
    return argument_problem(function, {name}) or f"unknown argument '{name}' for {function}"


def _check_names(reader: NodeReader, function: str, target: Target, given: set[str], at: Node) -> None:
    if target == "builtin":
        missing = sorted(BUILTIN_ARGS[function][1] - given)
        if missing:
            raise reader.error(f"{function} needs argument(s) {', '.join(missing)}", at)
    elif target == "function":
        problem = argument_problem(function, given)
        if problem:
            raise reader.error(problem, at)


def _integer_literal(reader: NodeReader, node: Node, what: str, low: int, high: int) -> None:
    if not (isinstance(node, ScalarNode) and node.tag == _INT):
        found = "an expression" if _is_string(node) and str(node.value).startswith("${") else "not one"
        raise reader.error(
            f"{what} must be an integer literal (Google's schema types it as an integer; {found} given)",
            node,
        )
    value = reader.value(node)
    if not low <= value <= high:
        raise reader.error(f"{what} must be between {low} and {high} seconds, got {value}", node)


def _number_literal(reader: NodeReader, node: Node, what: str) -> None:
    if not (isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT)):
        raise reader.error(f"{what} must be a number literal (Google's schema types it as a number)", node)


def _is_string(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _STR
