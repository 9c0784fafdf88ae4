"""The Langfuse tool's configuration (``jobs.mcp.langfuse``): ``FACTORY_LANGFUSE_SCOPE`` (a
``LangfuseScope`` as JSON), ``LANGFUSE_HOST``, ``LANGFUSE_PUBLIC_KEY``, ``LANGFUSE_SECRET_KEY``, and the
harness's network settings."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError

from jobs.errors import ConfigError
from jobs.mcp.config import network_env
from jobs.settings import JobSettings, load_settings
from jobs.triage.config import FailedScore, LangfuseTriage
from jobs.triage.langfuse import LangfuseTrace

SCOPE_ENV = "FACTORY_LANGFUSE_SCOPE"
HOST_ENV = "LANGFUSE_HOST"
PUBLIC_KEY_ENV = "LANGFUSE_PUBLIC_KEY"
SECRET_KEY_ENV = "LANGFUSE_SECRET_KEY"  # noqa: S105 - the variable's name
# A trace scored in the window may have started before it (as the triage allows: jobs.triage.collect).
TRACE_MARGIN = timedelta(days=1)
TRACE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$"  # the scope's and the server's checks of a trace id
TraceId = Annotated[str, StringConstraints(pattern=TRACE_ID_PATTERN)]


class LangfuseScope(BaseModel):
    """What the server may read: the triage's filters, its window, and the finding's traces (the first
    is ``get_trace``'s default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    trace_name: str | None = None
    tags: list[str] = Field(default_factory=list)
    scores: list[FailedScore] = Field(min_length=1)
    since: datetime
    until: datetime
    trace_ids: list[TraceId] = Field(default_factory=list, max_length=200)

    def holds(self, trace: LangfuseTrace) -> bool:
        """Whether ``trace`` is within the filters and (with the margin) the window."""
        if self.trace_name is not None and trace.name != self.trace_name:
            return False
        if not set(self.tags) <= set(trace.tags) or trace.timestamp is None:
            return False
        return self.since - TRACE_MARGIN <= trace.timestamp <= self.until


def command() -> list[str]:
    """How the harness starts this server: by module, nothing secret in argv."""
    return [sys.executable, "-m", "jobs.mcp.langfuse"]


def langfuse_env(
    settings: JobSettings,
    config: LangfuseTriage,
    trace_ids: list[str],
    *,
    window_hours: int = 24,
    until: datetime | None = None,
) -> dict[str, str]:
    """The server's whole configuration, as its environment: the scope (the filters, the window of
    ``window_hours`` up to ``until``, default now, and the finding's traces), where Langfuse is, the keys."""
    if settings.langfuse_public_key is None or settings.langfuse_secret_key is None:
        raise ConfigError(
            f"invalid settings {PUBLIC_KEY_ENV} and {SECRET_KEY_ENV}: the Langfuse tool needs them"
        )
    end = (until or datetime.now(UTC)).astimezone(UTC)
    scope = LangfuseScope(
        trace_name=config.trace_name,
        tags=config.tags,
        scores=config.scores,
        since=end - timedelta(hours=window_hours),
        until=end,
        trace_ids=trace_ids,
    )
    return {
        **network_env(),
        SCOPE_ENV: scope.model_dump_json(),
        HOST_ENV: settings.langfuse_host,
        PUBLIC_KEY_ENV: settings.langfuse_public_key.get_secret_value(),
        SECRET_KEY_ENV: settings.langfuse_secret_key.get_secret_value(),
    }


def from_env(env: Mapping[str, str]) -> tuple[LangfuseScope, str, str, SecretStr]:
    """The scope, Langfuse's host, and the public and secret keys this server was started with."""
    try:
        scope = LangfuseScope.model_validate_json(env.get(SCOPE_ENV) or "")
    except ValidationError as exc:
        raise ConfigError(f"invalid {SCOPE_ENV}: {exc.errors()[0]['msg']}") from None
    settings = load_settings(
        {k: v for k, v in env.items() if k in (HOST_ENV, PUBLIC_KEY_ENV, SECRET_KEY_ENV)}
    )
    if settings.langfuse_public_key is None or settings.langfuse_secret_key is None:
        raise ConfigError(f"invalid settings {PUBLIC_KEY_ENV} and {SECRET_KEY_ENV}: required")
    public = settings.langfuse_public_key.get_secret_value()
    return scope, settings.langfuse_host, public, settings.langfuse_secret_key
