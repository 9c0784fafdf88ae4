"""Variables of a running (sub)workflow, and how assignments write them.

Google's "Variables" page: assigning creates the variable in the current scope; variables created inside
a ``for`` loop or an ``except`` block live only there, while variables of the enclosing scope that the
loop or block assigns keep their new value. Values are passed by value ("Passing by value": ``b: ${a}``
copies), so every store deep-copies. Targets may be ``name``, ``name.key``, ``name[expression]`` and
chains of them ("Maps" and "Lists" pages); a missing map key on the way is created as an empty map.

A parallel branch or iteration ("Parallel steps" page) runs in a frame of its own behind a ``Boundary``:
it reads the enclosing scope, creates its own variables locally, and writes through to the enclosing
scope only the variables its step lists in ``shared``. Google's own samples (``parallel_iteration``,
``parallel_aggregate``) add to a shared total from every iteration with ``total: ${total + n}``, which
is right only if each assignment is atomic: so the executor holds the boundary's lock while it computes
and stores an assignment of a shared variable, and the store replaces the value instead of changing it
in place (copy on write), so a branch reading a shared value never sees another's assignment half done.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from orchestration.engine.errors import index_error, key_error, type_error
from orchestration.engine.values import is_int, type_name


@dataclass(frozen=True)
class Boundary:
    """Where a parallel branch or iteration meets the enclosing scope: the variables it may assign there
    (``shared``) and the lock that makes each such assignment atomic. One per parallel step run."""

    shared: frozenset[str]
    lock: AbstractContextManager[Any] = field(default_factory=threading.RLock)


class Frame:
    """One scope: a (sub)workflow call, or a ``for``/``except`` block or parallel branch inside one.

    It is the ``Scope`` the expression language evaluates against: ``lookup`` for variables, ``call``
    for subworkflows called from inside an expression.
    """

    def __init__(
        self,
        call: Callable[[str, list[Any]], Any],
        parent: Frame | None = None,
        boundary: Boundary | None = None,
    ) -> None:
        self.variables: dict[str, Any] = {}
        self.parent = parent
        self.boundary = boundary
        self._call = call

    def child(self) -> Frame:
        """A nested scope whose new variables vanish when it ends."""
        return Frame(self._call, self)

    def branch(self, boundary: Boundary) -> Frame:
        """The scope of one parallel branch or iteration, behind ``boundary``."""
        return Frame(self._call, self, boundary)

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

    def guard(self, name: str) -> AbstractContextManager[Any]:
        """Hold this while computing and storing an assignment of ``name``: the lock of the parallel step
        that shares it when the assignment reaches outside a branch, so that ``n: ${n + 1}`` is atomic."""
        _, crossed = self._target(name)
        return crossed.lock if crossed else nullcontext()

    def set(self, name: str, value: Any) -> None:
        """Assign ``name``: where it already lives (within reach of this branch), else in this scope."""
        frame, crossed = self._target(name)
        with crossed.lock if crossed else nullcontext():
            (frame or self).variables[name] = copy.deepcopy(value)

    def set_path(self, name: str, keys: list[Any], value: Any) -> None:
        """Assign ``name.k1[k2]...``: the variable must exist; missing map keys on the way are created."""
        frame, crossed = self._target(name)
        with crossed.lock if crossed else nullcontext():
            if frame is None or crossed is not None:
                # A shared variable, or one only readable from here: change a copy, then store the copy.
                source = frame or self.owner(name)
                if source is None:
                    raise key_error(f"variable '{name}' is not defined")
                root = copy.deepcopy(source.variables[name])
                _store_path(root, keys, value)
                (frame or self).variables[name] = root
            else:
                _store_path(frame.variables[name], keys, value)

    def _target(self, name: str) -> tuple[Frame | None, Boundary | None]:
        """Where assigning ``name`` writes, and the outermost parallel boundary that write crosses.

        ``(None, None)`` when ``name`` is nowhere within reach: not defined, or defined only beyond a
        branch boundary that does not share it (then the branch gets a variable of its own).
        """
        frame: Frame | None = self
        crossed: Boundary | None = None
        while frame is not None:
            if name in frame.variables:
                return frame, crossed
            if frame.boundary is not None:
                if name not in frame.boundary.shared:
                    return None, None
                crossed = frame.boundary
            frame = frame.parent
        return None, None


def _store_path(root: Any, keys: list[Any], value: Any) -> None:
    container = root
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
