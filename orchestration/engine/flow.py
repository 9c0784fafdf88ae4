"""How steps end and what the executor reports: ``Flow``, ``StepEvent``, ``RaisedError``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from orchestration.engine.errors import WorkflowError, type_error
from orchestration.engine.model import BREAK, CONTINUE, END
from orchestration.engine.values import type_name


@dataclass(frozen=True)
class StepEvent:
    """A step starting (``kind="start"``) or finishing (``"finish"``, with timings and any error)."""

    kind: Literal["start", "finish"]
    step: str
    workflow: str
    line: int
    elapsed: float = 0.0
    external: float = 0.0
    error: WorkflowError | None = None

    @property
    def overhead(self) -> float:
        """Seconds the engine itself spent on this step (wall time minus external work)."""
        return max(0.0, self.elapsed - self.external)


@dataclass(frozen=True)
class Flow:
    """How a step or block ended: ``next`` (fall through), ``jump``, ``break``, ``continue``, ``end``,
    ``return`` (with ``value``)."""

    kind: Literal["next", "jump", "break", "continue", "end", "return"]
    target: str | None = None
    value: Any = None


NEXT = Flow("next")


class RaisedError(WorkflowError):
    """What a ``raise`` step throws: ``except`` sees exactly the raised string or map ("Raise errors")."""

    def __init__(self, value: Any) -> None:
        if isinstance(value, dict):
            tags = value.get("tags")
            message = value.get("message")
            extra = {k: v for k, v in value.items() if k not in ("tags", "message")}
            super().__init__(
                [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
                message if isinstance(message, str) else "",
                **extra,
            )
        elif isinstance(value, str):
            super().__init__([], value)
        else:
            raise type_error(f"raise takes a string or a map, got {type_name(value)}")
        self.value = value

    def as_value(self) -> Any:  # a raised string stays a string
        return self.value


def jump(target: str | None) -> Flow:
    """The flow a ``next: target`` produces (``end``, ``break`` and ``continue`` are not steps)."""
    if target == END:
        return Flow("end")
    if target == BREAK:
        return Flow("break")
    if target == CONTINUE:
        return Flow("continue")
    return Flow("jump", target)
