"""The Sentry tool's configuration (``jobs.mcp.sentry``): ``FACTORY_SENTRY_SCOPE`` (a ``SentryScope`` as
JSON), ``SENTRY_URL``, ``SENTRY_AUTH_TOKEN``, and the harness's network settings."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, SecretStr, StringConstraints, ValidationError

from jobs.errors import ConfigError
from jobs.mcp.config import network_env
from jobs.settings import JobSettings, load_settings
from jobs.triage.config import SentryTriage, Slug

SCOPE_ENV = "FACTORY_SENTRY_SCOPE"
URL_ENV = "SENTRY_URL"
TOKEN_ENV = "SENTRY_AUTH_TOKEN"  # noqa: S105 - the variable's name
ISSUE_ID_PATTERN = r"^\d{1,20}$"  # a numeric Sentry issue id: the scope's and the server's checks
IssueId = Annotated[str, StringConstraints(pattern=ISSUE_ID_PATTERN)]


class SentryScope(BaseModel):
    """What the server may read: one organization's project, and the finding's issue (the default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    organization: Slug
    project: Slug
    query: str = "is:unresolved"
    issue_id: IssueId | None = None


def command() -> list[str]:
    """How the harness starts this server: by module, nothing secret in argv."""
    return [sys.executable, "-m", "jobs.mcp.sentry"]


def sentry_env(settings: JobSettings, config: SentryTriage, issue_id: str | None) -> dict[str, str]:
    """The server's whole configuration, as its environment: the scope, where Sentry is, the token."""
    if settings.sentry_auth_token is None:
        raise ConfigError("invalid setting SENTRY_AUTH_TOKEN: the Sentry tool needs it")
    scope = SentryScope(
        organization=config.organization, project=config.project, query=config.query, issue_id=issue_id
    )
    return {
        **network_env(),
        SCOPE_ENV: scope.model_dump_json(),
        URL_ENV: settings.sentry_url,
        TOKEN_ENV: settings.sentry_auth_token.get_secret_value(),
    }


def from_env(env: Mapping[str, str]) -> tuple[SentryScope, str, SecretStr]:
    """The scope, Sentry's URL and the token this server was started with."""
    try:
        scope = SentryScope.model_validate_json(env.get(SCOPE_ENV) or "")
    except ValidationError as exc:
        raise ConfigError(f"invalid {SCOPE_ENV}: {exc.errors()[0]['msg']}") from None
    settings = load_settings({k: v for k, v in env.items() if k in (URL_ENV, TOKEN_ENV)})
    if settings.sentry_auth_token is None:
        raise ConfigError(f"invalid setting {TOKEN_ENV}: required")
    return scope, settings.sentry_url, settings.sentry_auth_token
