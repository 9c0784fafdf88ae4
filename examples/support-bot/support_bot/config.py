"""Settings from the environment, read in one place so the three servers and the eval agree."""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path

from . import __version__

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE = REPO_ROOT / "instance" / "support_bot.db"
DEFAULT_CLIENTS_DIR = REPO_ROOT / "clients"

# libpq-style URLs (what hosts, docker-compose files and Factory's e2e phase hand out) name no driver;
# SQLAlchemy would then pick psycopg2, which we do not install. We use psycopg 3.
_DRIVERLESS_POSTGRES = ("postgresql://", "postgres://")


def database_url(raw: str | None = None) -> str:
    """The SQLAlchemy URL for ``raw`` (default: ``$DATABASE_URL``).

    ``postgresql://user@host:port/db`` (or ``postgres://``) becomes ``postgresql+psycopg://...``;
    an empty or unset value means a SQLite file under ``instance/`` for local development.
    """
    value = (os.environ.get("DATABASE_URL", "") if raw is None else raw).strip()
    if not value:
        DEFAULT_SQLITE.parent.mkdir(exist_ok=True)
        return f"sqlite:///{DEFAULT_SQLITE}"
    for prefix in _DRIVERLESS_POSTGRES:
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix) :]
    return value


def secret_key() -> str:
    """``$SECRET_KEY`` (the backoffice's session cookies); without it a random key per process."""
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    warnings.warn("SECRET_KEY is not set: using a random key for this process", stacklevel=2)
    return secrets.token_urlsafe(32)


def clients_dir() -> Path:
    """Where the per-client folders live: ``$SUPPORT_BOT_CLIENTS_DIR``, else ``clients/`` in the repo."""
    value = os.environ.get("SUPPORT_BOT_CLIENTS_DIR", "").strip()
    return Path(value) if value else DEFAULT_CLIENTS_DIR


def environment() -> str:
    """The deployment's name as Sentry and Langfuse show it (``$SUPPORT_BOT_ENVIRONMENT``)."""
    return os.environ.get("SUPPORT_BOT_ENVIRONMENT", "").strip() or "development"


def release() -> str:
    """The code's version as Sentry and Langfuse show it (``$SUPPORT_BOT_RELEASE``, e.g. a git sha)."""
    return os.environ.get("SUPPORT_BOT_RELEASE", "").strip() or f"support-bot@{__version__}"
