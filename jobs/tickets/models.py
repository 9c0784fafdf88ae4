"""What a ticket is, whichever tracker it comes from.

Ticket text is untrusted input. Only the identifier is ever used to build names (files, branches), so it
is the one field held to a strict pattern; title and body are carried as data and sanitised where used.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Team key (letters and digits, starting with a letter) + issue number: "IX-101", "ENG2-7".
IDENTIFIER_PATTERN = r"^[A-Z][A-Z0-9]{0,9}-[0-9]{1,7}$"
IDENTIFIER_RE = re.compile(IDENTIFIER_PATTERN)

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]


class Ticket(BaseModel):
    """One ticket: a Linear issue or a local ticket file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    identifier: Identifier
    title: str
    body: str = Field(default="", description="markdown; may be empty")
    labels: list[str] = Field(default_factory=list)
    state: str | None = None
    url: str | None = None
    source_id: str | None = Field(default=None, description="the tracker's internal id (Linear's issue UUID)")
    # Pages about it elsewhere, label -> URL: for a finding, its Sentry issue and Langfuse traces.
    links: dict[str, str] = Field(default_factory=dict)


class TicketComment(BaseModel):
    """A comment on a ticket, as the tracker holds it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    body: str
    author_id: str | None = None


def is_identifier(text: str) -> bool:
    """Whether ``text`` is a well-formed ticket identifier (safe in file and branch names)."""
    return IDENTIFIER_RE.fullmatch(text) is not None
