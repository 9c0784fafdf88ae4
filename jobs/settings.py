"""Job settings: the original system's environment variables plus what the split design needs.

One class, read once at the entrypoint and passed down. A bad value fails at start with one line
naming the variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.errors import ConfigError

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class JobSettings(BaseSettings):
    """Everything a phase job reads from its environment."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_file=None)

    # --- The original system's variables (names and defaults kept) ---
    job: Literal["solve-linear-ticket", "onboard-client", "solve-chatbot-issues"] = "solve-linear-ticket"
    ticket_id: str | None = None
    ticket_identifier: str | None = None
    branch: str | None = None
    client_domain: str | None = None
    # The onboarding (job onboard-client): which client, and which of its three modes.
    mode: Literal["full", "eval-only", "update-skills"] = "full"
    max_turns: int = Field(default=100, gt=0, le=10_000)
    max_duration_seconds: int = Field(default=7200, gt=0, le=86_400)
    # Our cap on one agent run's list-price cost; a target repo's config can only lower it.
    max_cost_usd: float = Field(default=25.0, gt=0, le=10_000)

    # --- What the split design adds ---
    run_id: str | None = None
    artifacts_prefix: str = ".factory"
    repo_url: str | None = None
    base_branch: str = "main"
    ticket_source: Literal["local", "linear"] = "local"
    tickets_dir: Path = Path("tickets")
    workdir: Path | None = None
    kill_grace_seconds: float = Field(default=10.0, ge=0, le=300)
    git_author_name: str = "Factory"
    git_author_email: str = "factory@localhost"
    log_format: Literal["auto", "text", "json"] = "auto"
    anthropic_base_url: str | None = None
    github_api_url: str = "https://api.github.com"
    # With a GitHub App's installation token (which cannot ask GET /user who it is): the App's slug,
    # so Factory knows its own comments ("<slug>[bot]") and edits no one else's.
    github_app_slug: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    # The box the agent and the target's commands run in (jobs/sandbox): auto (where root allows),
    # require (fail without it) or off.
    containment: Literal["auto", "require", "off"] = "auto"
    # Keep the working trees in WORKDIR when the phase ends (the local --keep-work), box or not.
    keep_work: bool = False
    # The browser the e2e phase checks the app with (Debian's Chromium).
    chromium: str = "/usr/bin/chromium"
    # The target app's own .env, for its dev servers (e2e) and checks (review), never the agent's
    # (jobs/appenv.py): deployed, a Secret Manager secret Cloud Run mounts; locally, any file.
    app_env_file: Path | None = None
    # How long the model API may keep failing before an agent run stops (default: 5% of its wall
    # clock, within 30-120 s).
    model_failure_seconds: float | None = Field(default=None, gt=0, le=3600)
    # The nightly triage (job solve-chatbot-issues): the night it runs for (YYYY-MM-DD, default today
    # in UTC), whether it only reports, and where Sentry and Langfuse are.
    night: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    report_only: bool | None = None
    sentry_url: str = Field(default="https://sentry.io", pattern=r"^https?://[^\s/]+/?$")
    langfuse_host: str = Field(default="https://cloud.langfuse.com", pattern=r"^https?://[^\s/]+/?$")

    # --- Secrets: SecretStr, so they never print; only model auth ever reaches the agent ---
    anthropic_api_key: SecretStr | None = None
    claude_code_oauth_token: SecretStr | None = None
    github_token: SecretStr | None = None
    linear_api_key: SecretStr | None = None
    slack_webhook_url: SecretStr | None = None
    # The triage's read access; only the triage job is given them.
    sentry_auth_token: SecretStr | None = None
    langfuse_public_key: SecretStr | None = None
    langfuse_secret_key: SecretStr | None = None

    @field_validator("night", "report_only", "client_domain", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # The workflow passes every job the same variables: "" where a run has no such value.
        return None if value == "" else value

    @field_validator("mode", mode="before")
    @classmethod
    def _empty_is_full(cls, value: object) -> object:
        return "full" if value == "" else value  # the workflow passes "" to the jobs of other runs

    @field_validator("run_id")
    @classmethod
    def _run_id_is_a_path_segment(cls, value: str | None) -> str | None:
        if value is not None and not RUN_ID_PATTERN.match(value):
            raise ValueError("must be 1-100 of A-Z a-z 0-9 . _ - (it names a folder)")
        return value

    def secrets(self) -> list[SecretStr]:
        """Every secret value held, for the redactor."""
        held = (
            self.anthropic_api_key,
            self.claude_code_oauth_token,
            self.github_token,
            self.linear_api_key,
            self.slack_webhook_url,
            self.sentry_auth_token,
            self.langfuse_public_key,
            self.langfuse_secret_key,
        )
        return [s for s in held if s is not None]

    def model_auth(self) -> dict[str, str]:
        """The only credentials the agent's environment may hold."""
        auth: dict[str, str] = {}
        if self.anthropic_api_key:
            auth["ANTHROPIC_API_KEY"] = self.anthropic_api_key.get_secret_value()
        if self.claude_code_oauth_token:
            auth["CLAUDE_CODE_OAUTH_TOKEN"] = self.claude_code_oauth_token.get_secret_value()
        if self.anthropic_base_url:
            auth["ANTHROPIC_BASE_URL"] = self.anthropic_base_url
        return auth


def load_settings(environ: Mapping[str, str] | None = None) -> JobSettings:
    """Read settings from ``environ`` (default: the process environment); ConfigError on a bad value."""
    try:
        if environ is None:
            return JobSettings()
        lowered = {k.lower(): v for k, v in environ.items() if k.lower() in JobSettings.model_fields}
        return JobSettings.model_validate(lowered)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(f"invalid setting {name}: {first['msg']}") from None
