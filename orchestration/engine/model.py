"""The loaded form of a workflow file: what ``loader`` builds and ``executor`` runs.

Every node remembers its line so that runtime events and load-time errors can point at the source.
Values that the workflow evaluates at run time (``args``, ``assign`` right-hand sides, ``return``,
``raise``, conditions, ...) are kept as plain YAML data: strings of the form ``${...}`` inside them are
expressions that the expression language evaluates; everything else is a literal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Special ``next`` targets of Google's syntax reference ("Jumps"): ``end`` stops the current
# (sub)workflow with null; ``break`` and ``continue`` act on the innermost ``for`` loop.
END = "end"
BREAK = "break"
CONTINUE = "continue"


@dataclass(frozen=True)
class Attr:
    """``.name`` in an assignment target (``my_map.key: value``)."""

    name: str


@dataclass(frozen=True)
class Index:
    """``[expression]`` in an assignment target (``my_list[idx + 1]: value``); kept as ``${...}`` text."""

    expression: str


@dataclass(frozen=True)
class AssignItem:
    """One ``- target: value`` entry of an ``assign`` list."""

    variable: str
    path: tuple[Attr | Index, ...]
    value: Any
    line: int
    target_text: str


@dataclass(frozen=True)
class Assign:
    items: tuple[AssignItem, ...]


@dataclass(frozen=True)
class Call:
    """``call`` + optional ``args`` and ``result``; ``args`` is None when the step gives none."""

    function: str
    args: dict[str, Any] | None
    result: str | None


@dataclass(frozen=True)
class Raise:
    value: Any


@dataclass(frozen=True)
class Return:
    value: Any


@dataclass(frozen=True)
class Block:
    """A nested ``steps`` list."""

    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Condition:
    """One ``- condition: ...`` entry of a ``switch``: what runs when it is the first true one."""

    condition: Any
    line: int
    action: Action | None
    next: str | None
    next_line: int = 0


@dataclass(frozen=True)
class Switch:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class For:
    """``for`` over a list (``in``) or an inclusive numeric ``range`` (exactly one of the two is set).

    ``range`` is the YAML list ``[start, end]`` of two numbers, or the text of one expression that
    evaluates to such a list (``${[start, end]}``); ``None`` for a loop over ``in``.
    """

    value: str
    index: str | None
    items: Any
    range: Any
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Backoff:
    initial_delay: Any
    max_delay: Any
    multiplier: Any


@dataclass(frozen=True)
class Retry:
    """A ``retry`` block, either a named default policy or ``predicate`` + ``max_retries`` + ``backoff``.

    ``predicate`` is the dotted name inside ``${...}``: a standard predicate
    (``http.default_retry_predicate``, ``retry.always``, ...) or the name of a subworkflow of the file.
    """

    predicate: str
    max_retries: Any
    backoff: Backoff
    line: int


@dataclass(frozen=True)
class Except:
    name: str | None
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Try:
    body: tuple[Step, ...]
    retry: Retry | None
    except_: Except | None


@dataclass(frozen=True)
class Jump:
    """A step that only says ``next``."""


# Google's only exception policy, and the default: the other branches go on ("Parallel steps").
CONTINUE_ALL = "continueAll"


@dataclass(frozen=True)
class Parallel:
    """A ``parallel`` step: named ``branches`` or a ``loop`` whose iterations run concurrently.

    Exactly one of ``branches`` (each a named step whose action is a ``Block``) and ``loop`` is set.
    ``shared`` names the variables of the enclosing scope that branches may assign; ``concurrency_limit``
    is None, a positive integer, or the text of one expression that evaluates to one.
    """

    shared: tuple[str, ...]
    concurrency_limit: Any
    branches: tuple[Step, ...] | None
    loop: For | None
    exception_policy: str = CONTINUE_ALL


Action = Assign | Call | Switch | For | Parallel | Try | Raise | Return | Block | Jump


@dataclass(frozen=True)
class Step:
    """A named step. ``synthetic`` marks the unnamed single step of ``try: call: ...`` or of a switch
    condition's inline ``assign``/``call``/``raise``/``return``: it reports no events of its own."""

    name: str
    line: int
    action: Action
    next: str | None = None
    next_line: int = 0
    synthetic: bool = False


@dataclass(frozen=True)
class Param:
    name: str
    has_default: bool = False
    default: Any = None


@dataclass(frozen=True)
class Subworkflow:
    """``main`` or a subworkflow: its parameters (in order) and its steps."""

    name: str
    params: tuple[Param, ...]
    steps: tuple[Step, ...]
    line: int


@dataclass(frozen=True)
class Workflow:
    """A loaded workflow file: ``main`` plus the subworkflows, by name."""

    file: str
    subworkflows: dict[str, Subworkflow] = field(default_factory=dict)

    @property
    def main(self) -> Subworkflow:
        return self.subworkflows["main"]
