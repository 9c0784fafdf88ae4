"""Cross-phase records written under ``{ARTIFACTS_PREFIX}/runs/{run_id}/``.

The branch carries code; these carry facts. Every model forbids unknown fields and has a schema
version, so a phase reading another's output fails loudly on drift.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class Record(BaseModel):
    """Base of artifact records."""

    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1] = 1


class RunManifest(Record):
    """What a run is about; written once by the first phase, read by the rest."""

    run_id: str
    job: str
    ticket_identifier: str
    ticket_title: str
    branch: str
    base_branch: str
    repo: str = Field(description="the repository, with any credentials removed")
    created_at: datetime = Field(default_factory=utc_now)


class PhaseResult(Record):
    """What every phase's ``result.json`` holds: which run, which branch, how long each step took."""

    run_id: str
    ticket_identifier: str
    status: str  # each phase narrows it to its own statuses
    detail: str = ""
    branch: str
    base_branch: str
    head_sha: str | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    started_at: datetime
    finished_at: datetime = Field(default_factory=utc_now)


def run_key(run_id: str, *parts: str) -> str:
    """The artifact key of a file in a run: ``runs/{run_id}/{parts...}``."""
    return "/".join(("runs", run_id, *parts))
