"""The receiver service's settings: read once from the environment at start, a bad value fails in one line.

On Cloud Run the service gets ``PORT`` and listens on all interfaces; the signing secret comes from Secret
Manager as an environment reference and stays a ``SecretStr``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.errors import ConfigError
from orchestration.receiver.locks import DEFAULT_MAX_AGE_MS
from orchestration.receiver.publishing import DEFAULT_DEADLINE
from orchestration.receiver.triggers import TriggerConfig

TOPIC = re.compile(r"^projects/[^/\s]+/topics/[^/\s]+$")
TEAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MIN_LOCK_MAX_AGE_SECONDS = 3600  # below an hour, a lock could go stale while its run is still going
MAX_DRAIN_SECONDS = 9.0  # Cloud Run sends SIGKILL 10 s after SIGTERM: the drain must end before that


class ReceiverSettings(BaseSettings):
    """Everything the webhook receiver reads from its environment."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_file=None)

    linear_webhook_secret: SecretStr
    """The webhook's signing secret (Linear shows it when the webhook is created)."""
    factory_trigger_label: str
    """The trigger label's id, or its name."""
    factory_linear_team: str
    """Only this team's issues start runs: its key (``IX``) or id."""
    factory_agent_user_id: str | None = None
    """Assigning or delegating an issue to this Linear user starts a run; its own events never do."""
    factory_own_actor_ids: str = ""
    """Comma-separated Linear user ids whose events never start a run (Factory's own users)."""
    factory_pubsub_topic: str = ""
    """``projects/P/topics/T``; empty: messages are appended to a file under a directory ARTIFACTS_PREFIX."""
    artifacts_prefix: str = ".factory"
    port: int = Field(default=8080, ge=0, le=65535)
    """Cloud Run sets it; 0 picks a free port (the log line says which)."""
    host: str = "0.0.0.0"  # noqa: S104 - a service: Cloud Run and containers route to all interfaces
    factory_lock_max_age_seconds: int = DEFAULT_MAX_AGE_MS // 1000
    """A ticket lock older than this is stale and taken over; keep it above a whole run's length."""
    factory_publish_deadline_seconds: float = Field(default=DEFAULT_DEADLINE, ge=0, le=4)
    """How long a request waits for Pub/Sub before queueing the publish (0: always queue)."""
    factory_drain_seconds: float = Field(default=5.0, ge=0, le=MAX_DRAIN_SECONDS)
    """At SIGTERM, the wait for in-flight requests and queued publishes (Cloud Run kills 10 s after it)."""
    log_format: Literal["auto", "text", "json"] = "auto"

    @field_validator("linear_webhook_secret")
    @classmethod
    def _secret_is_set(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("factory_trigger_label")
    @classmethod
    def _label_is_set(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty (a label id or name)")
        return value.strip()

    @field_validator("factory_linear_team")
    @classmethod
    def _team_is_a_key_or_id(cls, value: str) -> str:
        if not TEAM.match(value.strip()):
            raise ValueError("must be a Linear team key such as IX, or a team id")
        return value.strip()

    @field_validator("factory_lock_max_age_seconds")
    @classmethod
    def _lock_outlives_a_run(cls, value: int) -> int:
        if value < MIN_LOCK_MAX_AGE_SECONDS:
            raise ValueError(
                f"must be at least {MIN_LOCK_MAX_AGE_SECONDS} s: a shorter maximum lets a second run take "
                "the ticket over while the first is still going (the default is 8 h)"
            )
        return value

    @field_validator("factory_pubsub_topic")
    @classmethod
    def _topic_is_a_resource_name(cls, value: str) -> str:
        if value.strip() and not TOPIC.match(value.strip()):
            raise ValueError("must be projects/PROJECT/topics/TOPIC (or empty for the local file)")
        return value.strip()

    def own_actor_ids(self) -> frozenset[str]:
        """The configured ids plus the agent user: what Factory itself does never triggers it."""
        ids = {part.strip() for part in self.factory_own_actor_ids.split(",") if part.strip()}
        return frozenset(ids | ({self.factory_agent_user_id} if self.factory_agent_user_id else set()))

    def triggers(self) -> TriggerConfig:
        return TriggerConfig(
            label=self.factory_trigger_label,
            agent_user_id=self.factory_agent_user_id or None,
            own_actor_ids=self.own_actor_ids(),
            team=self.factory_linear_team,
        )


def load_receiver_settings(environ: Mapping[str, str] | None = None) -> ReceiverSettings:
    """Read settings from ``environ`` (default: the process environment); ConfigError naming the variable."""
    try:
        if environ is None:
            return ReceiverSettings()  # type: ignore[call-arg]  # required fields come from the environment
        fields = ReceiverSettings.model_fields
        lowered = {k.lower(): v for k, v in environ.items() if k.lower() in fields}
        return ReceiverSettings.model_validate(lowered)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(f"invalid setting {name}: {first['msg']}") from None
