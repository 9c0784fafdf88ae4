"""What the Langfuse stand-in holds for its one project: traces, observations and scores by id, and the
ingestion event ids already applied; the enums they use, the API error and the timestamp helpers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]

OBSERVATION_TYPES = (
    "SPAN",
    "GENERATION",
    "EVENT",
    "AGENT",
    "TOOL",
    "CHAIN",
    "RETRIEVER",
    "EVALUATOR",
    "EMBEDDING",
    "GUARDRAIL",
)
LEVELS = ("DEBUG", "DEFAULT", "WARNING", "ERROR")
SCORE_TYPES = ("NUMERIC", "BOOLEAN", "CATEGORICAL", "CORRECTION", "TEXT")
SCORE_SOURCES = ("API", "EVAL", "ANNOTATION")


class ApiError(Exception):
    """An answer other than success, with Langfuse's body."""

    def __init__(self, status: int, body: Json) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: Any, name: str) -> float:
    """An ISO 8601 datetime (an offset or ``Z``; naive means UTC) as epoch seconds."""
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected an ISO 8601 datetime string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: invalid datetime {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class ProjectStore:
    """The project's state; ``LangfuseStandIn`` sets these attributes."""

    project_id: str
    deprecation_signal: bool
    clock: Callable[[], float]
    traces: dict[str, Json]
    observations: dict[str, Json]
    scores: dict[str, Json]
    event_ids: set[str]
    _lock: threading.Lock
