"""Settings from the environment: the database URL and the session secret."""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE = REPO_ROOT / "instance" / "taskboard.db"

# libpq-style URLs (what Heroku, docker-compose files and most hosting give you) name no driver;
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
    """``$SECRET_KEY``; without it a random key, so sessions end when the process does."""
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    warnings.warn("SECRET_KEY is not set: using a random key for this process", stacklevel=2)
    return secrets.token_urlsafe(32)
