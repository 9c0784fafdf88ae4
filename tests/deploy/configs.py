"""The deploy tests' config: the fakes' valid config (tests/fakes/gcp/deploy.py, triage enabled) with the
triage's Sentry and Langfuse secrets named, as ``triage.enabled`` needs, and every secret filled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.fakes.gcp import FakeGcp
from tests.fakes.gcp import deploy as base

TRIAGE_SECRETS = {
    "sentry_auth_token": "factory-sentry-auth-token",
    "langfuse_public_key": "factory-langfuse-public-key",
    "langfuse_secret_key": "factory-langfuse-secret-key",
}
TRIAGE_SECRET_NAMES = tuple(TRIAGE_SECRETS.values())
SECRETS = (*base.SECRETS, *TRIAGE_SECRET_NAMES)
MODEL_SECRETS = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")
TRIAGE_ONLY_SECRETS = ("SENTRY_AUTH_TOKEN", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY")


def settings(**changes: Any) -> dict[str, Any]:
    """The config as data, with dotted-path changes (None deletes the key), as ``base.settings``."""
    named: dict[str, Any] = {f"secrets.{field}": name for field, name in TRIAGE_SECRETS.items()}
    return base.settings(**(named | changes))


def write_config(folder: Path, **changes: Any) -> Path:
    path = folder / "factory.yaml"
    path.write_text(yaml.safe_dump(settings(**changes)), encoding="utf-8")
    return path


def fill_secrets(fake: FakeGcp) -> None:
    """A value in every secret the config names (a canary, which must never be printed)."""
    for secret in SECRETS:
        fake.secrets.add_version(secret, f"{base.CANARY}-{secret}")
