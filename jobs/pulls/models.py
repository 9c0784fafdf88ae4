"""What a pull request is, whether GitHub holds it or the local artifact store does."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# The label a flagged PR carries: the review loop gave up, a human has to look before merging.
FLAG_LABEL = "factory:needs-human-review"

# Branch names end up in URLs, query strings and artifact keys: one line, no spaces, no control characters.
Branch = Annotated[str, StringConstraints(pattern=r"^[^\s\x00-\x1f\x7f~^:?*\[\\]{1,255}$")]


class PullRequestDraft(BaseModel):
    """What Factory wants the one open PR for ``head`` → ``base`` to say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    head: Branch
    base: Branch
    title: str
    body: str = ""
    flagged: bool = Field(default=False, description=f"carry the {FLAG_LABEL!r} label")


class PullRequest(BaseModel):
    """An open (or since closed) pull request, as its host reports it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int = Field(gt=0)
    url: str
    head: str
    base: str
    title: str
    body: str = ""
    state: Literal["open", "closed"] = "open"
    labels: list[str] = Field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """Whether the PR carries the needs-human-review label."""
        return FLAG_LABEL in self.labels
