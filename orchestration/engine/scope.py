"""Variables of a running (sub)workflow, and how assignments write them.

Google's "Variables" page: assigning creates the variable in the current scope; variables created inside
a ``for`` loop or an ``except`` block live only there, while variables of the enclosing scope that the
loop or block assigns keep their new value. Values are passed by value ("Passing by value": ``b: ${a}``
copies), so every store deep-copies. Targets may be ``name``, ``name.key``, ``name[expression]`` and
chains of them ("Maps" and "Lists" pages); a missing map key on the way is created as an empty map.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from orchestration.engine.errors import index_error, key_error, type_error
from orchestration.engine.values import is_int, type_name


class Frame:
    """One scope: a (sub)workflow call, or a ``for``/``except`` block inside one (``parent`` set).

    It is the ``Scope`` the expression language evaluates against: ``lookup`` for variables, ``call``
    for subworkflows called from inside an expression.
    """

    def __init__(self, call: Callable[[str, list[Any]], Any], parent: Frame | None = None) -> None:
        self.variables: dict[str, Any] = {}
        self.parent = parent
        self._call = call

    def child(self) -> Frame:
        """A nested scope whose new variables vanish when it ends."""
        return Frame(self._call, self)

    def owner(self, name: str) -> Frame | None:
        frame: Frame | None = self
        while frame is not None:
            if name in frame.variables:
                return frame
            frame = frame.parent
        return None

    def lookup(self, name: str) -> Any:
        frame = self.owner(name)
        if frame is None:
            raise key_error(f"variable '{name}' is not defined")
        return frame.variables[name]

    def call(self, name: str, args: list[Any]) -> Any:
        return self._call(name, args)

    def define(self, name: str, value: Any) -> None:
        """A variable of this very scope (a parameter, a loop variable, an ``except`` error)."""
        self.variables[name] = copy.deepcopy(value)

    def set(self, name: str, value: Any) -> None:
        """Assign ``name``: where it already lives, else in this scope."""
        frame = self.owner(name) or self
        frame.variables[name] = copy.deepcopy(value)

    def set_path(self, name: str, keys: list[Any], value: Any) -> None:
        """Assign ``name.k1[k2]...``: the variable must exist; missing map keys on the way are created."""
        frame = self.owner(name)
        if frame is None:
            raise key_error(f"variable '{name}' is not defined")
        container = frame.variables[name]
        for key in keys[:-1]:
            container = _step_into(container, key)
        _store(container, keys[-1], copy.deepcopy(value))


def _step_into(container: Any, key: Any) -> Any:
    if isinstance(container, dict):
        _check_map_key(key)
        return container.setdefault(key, {})
    if isinstance(container, list):
        return container[_check_list_index(container, key)]
    raise type_error(f"cannot assign into a {type_name(container)}")


def _store(container: Any, key: Any, value: Any) -> None:
    if isinstance(container, dict):
        _check_map_key(key)
        container[key] = value
    elif isinstance(container, list):
        container[_check_list_index(container, key)] = value
    else:
        raise type_error(f"cannot assign into a {type_name(container)}")


def _check_map_key(key: Any) -> None:
    if not isinstance(key, str):
        raise type_error(f"map key must be a string, got {type_name(key)}")


def _check_list_index(container: list[Any], key: Any) -> int:
    if not is_int(key):
        raise type_error(f"list index must be an integer, got {type_name(key)}")
    if not 0 <= key < len(container):
        raise index_error(f"list index {key} out of range (list has {len(container)} elements)")
    return int(key)
