"""The target's ``triage:`` section: where its chatbot's failures are, and how many to fix a night.

Only names and thresholds live here. Where the services are and the credentials come from the triage
job's settings and secrets (``SENTRY_URL``, ``SENTRY_AUTH_TOKEN``, ``LANGFUSE_HOST``,
``LANGFUSE_PUBLIC_KEY``, ``LANGFUSE_SECRET_KEY``), never from the file.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Slug = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
TagName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class SentryTriage(BaseModel):
    """The Sentry project whose unresolved issues count as failures."""

    model_config = ConfigDict(extra="forbid")
    organization: Slug
    project: Slug
    query: str = Field(default="is:unresolved", max_length=500)


class FailedScore(BaseModel):
    """A Langfuse score meaning "this answer failed" when its value is at most ``at_most``."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    at_most: float = 0.0


class LangfuseTriage(BaseModel):
    """Which Langfuse traces count as failed, and how failed traces are grouped into one finding.

    A finding is the failed traces that share a score name and the values of the ``group_by`` tags
    (tags written ``key:value``, as ``skill:shipping``): the route that answered them.
    """

    model_config = ConfigDict(extra="forbid")
    scores: list[FailedScore] = Field(default_factory=lambda: [FailedScore(name="user-feedback")])
    error_observations: bool = True
    trace_name: str | None = Field(default=None, max_length=200)
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(default_factory=list)
    group_by: list[TagName] = Field(default_factory=lambda: ["skill"])


class TriageConfig(BaseModel):
    """The nightly triage of the target's chatbot failures (job ``solve-chatbot-issues``)."""

    model_config = ConfigDict(extra="forbid")
    sentry: SentryTriage | None = None
    langfuse: LangfuseTriage | None = None
    window_hours: int = Field(default=24, gt=0, le=24 * 14)
    min_events: int = Field(default=2, gt=0)
    max_prs_per_night: int = Field(default=3, ge=0, le=20)
    # How many findings' chains run at once: Workflows' parallel for allows at most 20.
    concurrency: int = Field(default=2, gt=0, le=20)
    report_only: bool = False
    # The ticket-like identifiers findings get (PREFIX-1234567): they name branches and runs.
    id_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{0,9}$")] = "BUG"
    max_evidence_bytes: int = Field(default=16_000, ge=1_000, le=200_000)

    @model_validator(mode="after")
    def _some_source(self) -> Self:
        if self.sentry is None and self.langfuse is None:
            raise ValueError("names no source: give sentry, langfuse or both")
        return self
