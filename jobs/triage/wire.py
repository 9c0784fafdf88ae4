"""What the Sentry and Langfuse clients share on the wire: the shape of their models, a response read
as a model, and an error body told in one line with the credentials masked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import httpx
import pydantic
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from jobs.errors import ServiceError
from jobs.redact import MASK

MAX_MESSAGE = 300
M = TypeVar("M", bound=BaseModel)


class ApiModel(BaseModel):
    """A provider's JSON object: camelCase on the wire, unknown fields ignored, frozen once read."""

    model_config = ConfigDict(extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True)


def shape(service: str, model: type[M], value: Any, what: str) -> M:
    """``value`` as ``model``; a ServiceError naming ``what`` when the provider answered another shape."""
    try:
        return model.model_validate(value)
    except pydantic.ValidationError:
        raise ServiceError(service, 200, f"unexpected response shape for {what}") from None


def error_text(response: httpx.Response, field: str, masked: Iterable[str]) -> str:
    """The error body's ``field`` (or the body), one line, every ``masked`` value masked before the cut."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        body = body.get(field) or body
    text = " ".join(str(body or response.reason_phrase or "error").split())
    for secret in masked:
        if secret:
            text = text.replace(secret, MASK)
    return text[:MAX_MESSAGE]


def more_pages(pages: int, limit: str | None) -> str:
    """Why a list read stopped: it still went on after ``pages`` pages (of ``limit`` each)."""
    each = f" of {limit}" if limit else ""
    return (
        f"still more after {pages} pages{each}: the night would miss what the rest holds; "
        "narrow the triage's query or window"
    )
