"""Errors of the local Workflows engine.

Two families, because Workflows itself has two: a ``WorkflowError`` is a *runtime* error that a
``try/except`` step can catch (it carries Google's tags, e.g. ``KeyError``), while a
``WorkflowSyntaxError`` is a *load-time* problem: the real service refuses to deploy such a file, so the
local engine refuses to start it, naming the file and line.
"""

from __future__ import annotations

from typing import Any


class WorkflowError(Exception):
    """A Workflows runtime error.

    ``tags`` are Google's error tags (``["KeyError"]``, ``["HttpError"]``, ...), ``message`` is the
    human-readable text and ``extra`` holds the other fields of the error map (``code``, ``body`` and
    ``headers`` for an ``HttpError``). ``as_value()`` is the map a ``try/except as: e`` step sees.
    """

    def __init__(self, tags: list[str], message: str, **extra: Any) -> None:
        super().__init__(message)
        self.tags = list(tags)
        self.message = message
        self.extra = dict(extra)

    def as_value(self) -> dict[str, Any]:
        """The error map of Google's "Workflow errors" page: ``{"message", "tags", **extra}``."""
        return {"message": self.message, "tags": list(self.tags), **self.extra}

    def __str__(self) -> str:
        return f"{'/'.join(self.tags) or 'Error'}: {self.message}"

    def __repr__(self) -> str:
        return f"WorkflowError(tags={self.tags!r}, message={self.message!r}, extra={self.extra!r})"


# Convenience constructors, one per tag of Google's error table that the expression language raises.
def key_error(message: str) -> WorkflowError:
    """A map key (or variable, or environment variable) was not found."""
    return WorkflowError(["KeyError"], message)


def type_error(message: str) -> WorkflowError:
    """An operation or function was applied to a value of the wrong type."""
    return WorkflowError(["TypeError"], message)


def value_error(message: str) -> WorkflowError:
    """An argument had the right type but a wrong value (bad JSON, bad Base64, ...)."""
    return WorkflowError(["ValueError"], message)


def index_error(message: str) -> WorkflowError:
    """A list subscript was out of range."""
    return WorkflowError(["IndexError"], message)


def zero_division_error(message: str) -> WorkflowError:
    """The second operand of ``/``, ``//`` or ``%`` was zero."""
    return WorkflowError(["ZeroDivisionError"], message)


def system_error(message: str) -> WorkflowError:
    """The interpreter (here: the local engine) hit an internal error."""
    return WorkflowError(["SystemError"], message)


class WorkflowSyntaxError(Exception):
    """A load-time problem: unparsable expression, unsupported construct, malformed step.

    ``str()`` is ``"file:line: message"`` (either part left out when unknown), the shape compilers use, so
    editors and humans can jump to the spot.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = ":".join(part for part in (self.file, None if self.line is None else str(self.line)) if part)
        return f"{where}: {self.message}" if where else self.message
